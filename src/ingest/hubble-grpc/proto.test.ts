/**
 * hivewall's .proto subset (proto/) against Cilium's own api/v1 .proto files, read from the Go
 * module cache (github.com/cilium/cilium at the version in test/hubble-server/go.mod): every
 * message field we declare has Cilium's number, type and cardinality, every enum value Cilium's
 * number, and we declare nothing Cilium does not have. Skips when the module is unavailable.
 */
import { existsSync } from 'node:fs';
import * as protoLoader from '@grpc/proto-loader';
import { beforeAll, describe, expect, it } from 'vitest';
import { OBSERVER_PROTO, protoDirCandidates, resolveProtoDir } from './definitions.js';
import { buildHubbleServer, type HubbleServerBuild } from './test-support.js';

interface Field {
  readonly name: string;
  readonly number: number;
  readonly label: string;
  readonly type: string;
  readonly typeName: string;
}

interface Definitions {
  readonly messages: Map<string, { fields: Field[]; oneofs: string[] }>;
  readonly enums: Map<string, Map<string, number>>;
  readonly definition: protoLoader.PackageDefinition;
}

/** Strips the package from a type name (`flow.Endpoint` / `.flow.Endpoint` / `Endpoint` → comparable full name). */
function qualify(typeName: string, pkg: string, known: Set<string>): string {
  const bare = typeName.startsWith('.') ? typeName.slice(1) : typeName;
  if (known.has(bare)) return bare;
  return known.has(`${pkg}.${bare}`) ? `${pkg}.${bare}` : bare;
}

function load(dir: string, files: string[]): Definitions {
  const definition = protoLoader.loadSync(files, { includeDirs: [dir], keepCase: true });
  const known = new Set(Object.keys(definition));
  const messages = new Map<string, { fields: Field[]; oneofs: string[] }>();
  const enums = new Map<string, Map<string, number>>();
  for (const [name, entry] of Object.entries(definition)) {
    if (!('format' in entry)) continue;
    const pkg = name.slice(0, name.lastIndexOf('.'));
    if (entry.format === 'Protocol Buffer 3 DescriptorProto') {
      const type = entry.type as { field: Field[]; oneofDecl?: { name: string }[] };
      messages.set(name, {
        fields: type.field.map((f) => ({ name: f.name, number: f.number, label: f.label, type: f.type, typeName: f.typeName ? qualify(f.typeName, pkg, known) : '' })),
        oneofs: (type.oneofDecl ?? []).map((o) => o.name),
      });
    } else if (entry.format === 'Protocol Buffer 3 EnumDescriptorProto') {
      const type = entry.type as { value: { name: string; number: number }[] };
      enums.set(name, new Map(type.value.map((v) => [v.name, v.number])));
    }
  }
  return { messages, enums, definition };
}

let build: HubbleServerBuild = { reason: 'not built yet' };
beforeAll(async () => {
  build = await buildHubbleServer();
}, 600_000);

describe('the bundled .proto files', () => {
  it('are found from src/ and from the dist/ layout of tsc -p tsconfig.build.json', () => {
    expect(existsSync(`${resolveProtoDir()}${OBSERVER_PROTO}`)).toBe(true);
    expect(protoDirCandidates('file:///repo/dist/src/ingest/hubble-grpc/definitions.js')).toEqual([
      '/repo/dist/src/ingest/hubble-grpc/proto/',
      '/repo/src/ingest/hubble-grpc/proto/',
    ]);
    expect(protoDirCandidates('file:///repo/src/ingest/hubble-grpc/definitions.ts')[0]).toBe('/repo/src/ingest/hubble-grpc/proto/');
  });

  it("declare a subset of Cilium's api/v1 with identical field numbers, types and enum values", ({ skip }) => {
    const cilium = build.ciliumApi;
    skip(cilium === undefined || !existsSync(`${cilium}/${OBSERVER_PROTO}`), `Cilium api/v1 protos unavailable: ${build.reason ?? 'no module directory'}`);
    const ours = load(resolveProtoDir(), [OBSERVER_PROTO]);
    const theirs = load(cilium ?? '', [OBSERVER_PROTO]);

    expect(ours.messages.size).toBeGreaterThan(20);
    for (const [name, message] of ours.messages) {
      if (name.startsWith('google.protobuf.')) continue;
      const reference = theirs.messages.get(name);
      expect(reference, `message ${name} exists in Cilium`).toBeDefined();
      const byName = new Map(reference?.fields.map((f) => [f.name, f]));
      for (const field of message.fields) {
        expect(byName.get(field.name), `${name}.${field.name}`).toEqual(field);
      }
      for (const oneof of message.oneofs) expect(reference?.oneofs, `${name} oneof ${oneof}`).toContain(oneof);
    }
    for (const [name, values] of ours.enums) {
      if (name.startsWith('google.protobuf.')) continue;
      const reference = theirs.enums.get(name);
      expect(reference, `enum ${name} exists in Cilium`).toBeDefined();
      for (const [value, number] of values) expect(reference?.get(value), `${name}.${value}`).toBe(number);
      // Every Cilium value is declared too, so names (not numbers) reach the parser.
      expect([...(reference ?? new Map<string, number>()).keys()].filter((v) => !values.has(v)), `${name} values missing`).toEqual([]);
    }
    const method = (d: protoLoader.PackageDefinition) => {
      const service = d['observer.Observer'];
      const m = service !== undefined && !('format' in service) ? service['GetFlows'] : undefined;
      return m && { path: m.path, requestStream: m.requestStream, responseStream: m.responseStream };
    };
    expect(method(ours.definition)).toEqual(method(theirs.definition));
    expect(method(ours.definition)).toEqual({ path: '/observer.Observer/GetFlows', requestStream: false, responseStream: true });
  });
});
