/**
 * Loads hivewall's own subset of Cilium's Hubble API (`proto/`: observer.proto, flow.proto,
 * relay.proto, field numbers and enum values identical to Cilium's `api/v1`) at run time with
 * `@grpc/proto-loader`, and exposes what the client needs: the GetFlows method definition and a
 * per-message field table used to turn decoded messages into the protojson shape.
 *
 * The `.proto` files are not compiled: `tsc` does not copy them to `dist/`, so the directory is
 * resolved from this module's location, both when running from `src/` (vitest, `--import` loaders)
 * and from `dist/src/ingest/hubble-grpc/` (the compiled operator, which then reads the files from
 * the checkout's or image's `src/ingest/hubble-grpc/proto/`). `protoDir` overrides it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import type { MethodDefinition } from '@grpc/proto-loader';

/** The entry file, relative to the proto directory (it imports flow/flow.proto and relay/relay.proto). */
export const OBSERVER_PROTO = 'observer/observer.proto';

/** Full gRPC method path of `observer.Observer/GetFlows`. */
export const GET_FLOWS_PATH = '/observer.Observer/GetFlows';

/**
 * Decoding options: proto field names (`keepCase`, as protojson with `UseProtoNames`), enum
 * names (unknown numbers stay numbers), 64-bit integers as decimal strings (protojson's form),
 * and only fields present on the wire (`defaults: false`), so proto3 zero values are absent
 * exactly as protojson omits them.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  arrays: false,
  oneofs: false,
};

/**
 * Where the `.proto` files may be for a module at `moduleUrl`, in order: beside it (`src/` layout,
 * or a `dist/` that had them copied), then `<root>/src/ingest/hubble-grpc/proto/` seen from
 * `<root>/dist/src/ingest/hubble-grpc/` (the `tsc -p tsconfig.build.json` layout).
 */
export function protoDirCandidates(moduleUrl: string | URL = import.meta.url): string[] {
  return ['./proto/', '../../../../src/ingest/hubble-grpc/proto/'].map((relative) => fileURLToPath(new URL(relative, moduleUrl)));
}

/** The directory holding `observer/observer.proto`, or an error naming the places looked at. */
export function resolveProtoDir(override?: string): string {
  if (override !== undefined) {
    const dir = override.endsWith('/') ? override : `${override}/`;
    if (!existsSync(`${dir}${OBSERVER_PROTO}`)) throw new Error(`hubble proto directory ${override} has no ${OBSERVER_PROTO}`);
    return dir;
  }
  const candidates = protoDirCandidates();
  const found = candidates.find((dir) => existsSync(`${dir}${OBSERVER_PROTO}`));
  if (found === undefined) throw new Error(`cannot find the Hubble .proto files (${OBSERVER_PROTO}) in ${candidates.join(' or ')}`);
  return found;
}

/** How a field's decoded value becomes its protojson value. */
export type FieldKind =
  | { readonly kind: 'scalar' }
  | { readonly kind: 'timestamp' }
  | { readonly kind: 'wrapper'; readonly zero: unknown }
  | { readonly kind: 'drop' }
  | { readonly kind: 'message'; readonly type: string };

export interface FieldPlan {
  readonly kind: FieldKind;
  readonly repeated: boolean;
}

/** Message full name (`flow.Flow`) → field name → plan. */
export type MessagePlans = ReadonlyMap<string, ReadonlyMap<string, FieldPlan>>;

export interface HubbleDefinitions {
  readonly protoDir: string;
  readonly getFlows: MethodDefinition<object, object>;
  readonly plans: MessagePlans;
}

/** protojson's value for an unset wrapper's `value` field (wrappers are written as their bare value). */
const WRAPPER_ZERO: ReadonlyMap<string, unknown> = new Map<string, unknown>([
  ['google.protobuf.BoolValue', false],
  ['google.protobuf.Int32Value', 0],
  ['google.protobuf.UInt32Value', 0],
  ['google.protobuf.FloatValue', 0],
  ['google.protobuf.DoubleValue', 0],
  ['google.protobuf.Int64Value', '0'],
  ['google.protobuf.UInt64Value', '0'],
  ['google.protobuf.StringValue', ''],
  ['google.protobuf.BytesValue', ''],
]);

interface FieldDescriptor {
  readonly name: string;
  readonly label: string;
  readonly type: string;
  readonly typeName: string;
}

function isFieldDescriptor(value: unknown): value is FieldDescriptor {
  if (typeof value !== 'object' || value === null) return false;
  const f = value as Record<string, unknown>;
  return typeof f['name'] === 'string' && typeof f['label'] === 'string' && typeof f['type'] === 'string' && typeof f['typeName'] === 'string';
}

/** Resolves a (possibly package-relative) type name as protoc does, innermost scope first. */
function resolveTypeName(typeName: string, scope: string, known: ReadonlySet<string>): string {
  if (typeName.startsWith('.')) return typeName.slice(1);
  const parts = scope.split('.');
  for (let i = parts.length; i >= 0; i--) {
    const candidate = [...parts.slice(0, i), typeName].join('.');
    if (known.has(candidate)) return candidate;
  }
  return typeName;
}

function buildPlans(definition: protoLoader.PackageDefinition): MessagePlans {
  const known = new Set(Object.keys(definition));
  const plans = new Map<string, Map<string, FieldPlan>>();
  for (const [name, entry] of Object.entries(definition)) {
    if (!('format' in entry) || entry.format !== 'Protocol Buffer 3 DescriptorProto') continue;
    const fields = (entry.type as { field?: unknown }).field;
    if (!Array.isArray(fields)) continue;
    const scope = name.slice(0, Math.max(0, name.lastIndexOf('.')));
    const plan = new Map<string, FieldPlan>();
    for (const field of fields) {
      if (!isFieldDescriptor(field)) continue;
      const repeated = field.label === 'LABEL_REPEATED';
      let kind: FieldKind = { kind: 'scalar' };
      if (field.type === 'TYPE_MESSAGE') {
        const type = resolveTypeName(field.typeName, scope, known);
        if (type === 'google.protobuf.Timestamp') kind = { kind: 'timestamp' };
        else if (WRAPPER_ZERO.has(type)) kind = { kind: 'wrapper', zero: WRAPPER_ZERO.get(type) };
        else if (type.startsWith('google.protobuf.')) kind = { kind: 'drop' };
        else kind = { kind: 'message', type };
      }
      plan.set(field.name, { kind, repeated });
    }
    plans.set(name, plan);
  }
  return plans;
}

const cache = new Map<string, HubbleDefinitions>();

/** Loads (once per directory) the Hubble definitions. Throws when the files are missing or invalid. */
export function loadHubbleDefinitions(protoDir?: string): HubbleDefinitions {
  const dir = resolveProtoDir(protoDir);
  const cached = cache.get(dir);
  if (cached !== undefined) return cached;
  const definition = protoLoader.loadSync(OBSERVER_PROTO, { ...LOADER_OPTIONS, includeDirs: [dir] });
  const service = definition['observer.Observer'];
  const getFlows = service !== undefined && !('format' in service) ? service['GetFlows'] : undefined;
  if (getFlows === undefined || getFlows.path !== GET_FLOWS_PATH || !getFlows.responseStream) {
    throw new Error(`${dir}${OBSERVER_PROTO} does not define the server-streaming ${GET_FLOWS_PATH}`);
  }
  const loaded: HubbleDefinitions = { protoDir: dir, getFlows, plans: buildPlans(definition) };
  cache.set(dir, loaded);
  return loaded;
}
