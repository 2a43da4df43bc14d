/**
 * Loads hivewall's own subset of Cilium's Hubble API (`proto/`: observer.proto, flow.proto,
 * relay.proto, field numbers and enum values identical to Cilium's `api/v1`) at run time with
 * `@grpc/proto-loader`, and exposes what the client needs: the GetFlows method definition, whose
 * request serializer encodes the (small, once per connection) GetFlowsRequest. Responses are not
 * decoded with it: decode.ts reads them straight from the wire.
 *
 * The `.proto` files are not compiled: `tsc` does not copy them to `dist/`, so the directory is
 * resolved from this module's location, both when running from `src/` (vitest, `--import` loaders)
 * and from `dist/src/ingest/hubble-grpc/` (the compiled operator, which then reads the files from
 * the checkout's or image's `src/ingest/hubble-grpc/proto/`). `protoDir` overrides it.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sea from 'node:sea';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import type { MethodDefinition } from '@grpc/proto-loader';

/** The entry file, relative to the proto directory (it imports flow/flow.proto and relay/relay.proto). */
export const OBSERVER_PROTO = 'observer/observer.proto';

/** Full gRPC method path of `observer.Observer/GetFlows`. */
export const GET_FLOWS_PATH = '/observer.Observer/GetFlows';

/**
 * Loader options: proto field names (`keepCase`: requests are written with `source_pod`, `reply`,
 * …), enum names, 64-bit integers as decimal strings (`since.seconds`).
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
  if (sea.isSea()) return extractSeaProtos();
  const candidates = protoDirCandidates();
  const found = candidates.find((dir) => existsSync(`${dir}${OBSERVER_PROTO}`));
  if (found === undefined) throw new Error(`cannot find the Hubble .proto files (${OBSERVER_PROTO}) in ${candidates.join(' or ')}`);
  return found;
}

/** The .proto files a single-executable binary carries as assets `proto/<path>` (scripts/build-binaries.ts). */
export const PROTO_FILES = [OBSERVER_PROTO, 'flow/flow.proto', 'relay/relay.proto'] as const;

/** proto-loader reads files: a binary writes its .proto assets to a private temporary folder once. */
let seaProtoDir: string | undefined;
function extractSeaProtos(): string {
  if (seaProtoDir !== undefined) return seaProtoDir;
  const dir = `${mkdtempSync(join(tmpdir(), 'hivewall-proto-'))}/`;
  for (const file of PROTO_FILES) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), sea.getAsset(`proto/${file}`, 'utf8'));
  }
  return (seaProtoDir = dir);
}

export interface HubbleDefinitions {
  readonly protoDir: string;
  readonly getFlows: MethodDefinition<object, object>;
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
  const loaded: HubbleDefinitions = { protoDir: dir, getFlows };
  cache.set(dir, loaded);
  return loaded;
}
