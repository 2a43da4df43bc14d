/**
 * gRPC ingest benchmark: flows per second through the real Hubble gRPC client (HubbleObserverSource
 * and its HTTP/2 reader, http2-stream.ts) into a Learner, against test/hubble-server streaming preloaded
 * flows (realistic Hubble flows, bench/hubble-ingest.ts's generator) over a real unix socket, and in
 * the same run a bare protobufjs decode-only loop over the very same message bytes (the least any
 * client does). The message bytes for that loop are read once beforehand with the same HTTP/2
 * reader, outside any timing. The two alternate, N times after one warm-up of each: two client runs,
 * then two decode-only runs, the faster of each pair counting (each side in the steady state of its
 * own kind of work), so each ratio compares runs made a moment apart.
 *
 *   grpc_flows_per_s=<messages/s through the client into the Learner, median of N runs>
 *   grpc_flows_per_cpu_s=<the same per CPU-second of the process, median>
 *   grpc_decode_only_baseline_per_s=<protobufjs Type.decode messages/s over the same bytes, median>
 *   grpc_vs_decode_only_ratio=<median over the N pairs of client ÷ decode-only>
 *
 * Needs Go for test/hubble-server (built once, cached); skipped with a reason otherwise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import protobuf from 'protobufjs';
import { IdentityResolver } from '../src/domain/identity.js';
import { emptyInventory } from '../src/domain/inventory.js';
import { Learner } from '../src/domain/learner.js';
import { GET_FLOWS_PATH, HubbleObserverSource, resolveProtoDir } from '../src/ingest/hubble-grpc/index.js';
import { GrpcCode, grpcCodeName, openServerStream } from '../src/ingest/hubble-grpc/http2-stream.js';
import { parseGrpcTarget } from '../src/ingest/hubble-grpc/target.js';
import { buildHubbleServer, startHubbleServer, type RunningHubbleServer } from '../src/ingest/hubble-grpc/test-support.js';
import { writeHubbleBenchFile } from './hubble-ingest.js';

export interface GrpcIngestBench {
  readonly messages: number;
  readonly flowsPerSecond: number;
  readonly flowsPerCpuSecond: number;
  readonly decodeOnlyPerSecond: number;
  readonly ratio: number;
  readonly learned: number;
}

/**
 * Every message of a non-following GetFlows from the start of the ring, as raw bytes (copied out of
 * the reader's chunks), read with the same HTTP/2 reader the client uses: the baseline decodes the
 * very bytes the server sent.
 */
function rawMessages(address: string): Promise<Buffer[]> {
  const messages: Buffer[] = [];
  return new Promise((resolve, reject) => {
    openServerStream(
      { target: parseGrpcTarget(address), path: GET_FLOWS_PATH, request: Buffer.from([0x3a, 0x00]) /* since: {} */ },
      {
        message: (buf, start, end) => messages.push(Buffer.from(buf.subarray(start, end))),
        end: (status) => (status.code === GrpcCode.OK ? resolve(messages) : reject(new Error(`GetFlows ended ${grpcCodeName(status.code)}: ${status.details}`))),
      },
    );
  });
}

/** protobufjs's decoder of GetFlowsResponse (what @grpc/proto-loader's deserializer starts with). */
function protobufjsType(): protobuf.Type {
  const root = new protobuf.Root();
  const dir = resolveProtoDir();
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : join(dir, target));
  root.loadSync('observer/observer.proto', { keepCase: true });
  return root.lookupType('observer.GetFlowsResponse');
}

/** One protobufjs decode of every message: messages per second. */
function decodeOnly(type: protobuf.Type, messages: readonly Buffer[]): number {
  let decoded = 0;
  const t0 = process.hrtime.bigint();
  for (const m of messages) decoded += type.decode(m) === null ? 0 : 1;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (decoded !== messages.length) throw new Error('decode failed');
  return messages.length / seconds;
}

const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** One following stream from the start of the ring into a fresh Learner, until `expected` results arrived. */
async function throughClient(address: string, expected: number): Promise<{ seconds: number; cpuSeconds: number; learned: number }> {
  const learner = new Learner(new IdentityResolver(emptyInventory));
  let results = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const source = new HubbleObserverSource({
    address,
    since: new Date(0),
    logger: pino({ level: 'silent' }),
    sink: (result) => {
      learner.ingest(result);
      if (++results === expected) done();
    },
  });
  const cpu = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  source.start();
  await finished;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const used = process.cpuUsage(cpu);
  await source.stop();
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6, learned: learner.stats.learned };
}

export async function runGrpcIngestBench(lines = 200_000, runs = 3): Promise<GrpcIngestBench | { skipped: string }> {
  const build = await buildHubbleServer();
  if (build.binary === undefined) return { skipped: build.reason ?? 'no hubble-server' };
  const dir = mkdtempSync(join(tmpdir(), 'hivewall-grpc-bench-'));
  let server: RunningHubbleServer | undefined;
  try {
    const scenario = join(dir, 'flows.jsonl');
    await writeHubbleBenchFile(scenario, lines);
    server = await startHubbleServer(build.binary, { scenario, preload: true, listen: `unix://${join(dir, 'hubble.sock')}` });
    const messages = await rawMessages(server.address);
    const type = protobufjsType();
    await throughClient(server.address, messages.length); // warm-up
    decodeOnly(type, messages);
    const client: number[] = [];
    const clientCpu: number[] = [];
    const baseline: number[] = [];
    const ratios: number[] = [];
    let learned = 0;
    // Each side runs twice in a row and its faster run counts: both are measured in the steady state
    // of their own kind of work (the young generation grown to their allocation rate), a moment apart.
    for (let r = 0; r < runs; r++) {
      const first = await throughClient(server.address, messages.length);
      const second = await throughClient(server.address, messages.length);
      const run = first.seconds < second.seconds ? first : second;
      const decodeRate = Math.max(decodeOnly(type, messages), decodeOnly(type, messages));
      client.push(messages.length / run.seconds);
      clientCpu.push(messages.length / run.cpuSeconds);
      baseline.push(decodeRate);
      ratios.push(messages.length / run.seconds / decodeRate);
      learned = run.learned;
    }
    return {
      messages: messages.length,
      flowsPerSecond: median(client),
      flowsPerCpuSecond: median(clientCpu),
      decodeOnlyPerSecond: median(baseline),
      ratio: median(ratios),
      learned,
    };
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `node dist/bench/grpc-ingest.js [--lines N] [--runs N]`: this benchmark alone (numbers as `npm run bench` prints them). */
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const r = await runGrpcIngestBench(arg('--lines', 100_000), arg('--runs', 3));
  if ('skipped' in r) console.log(`# grpc benchmark skipped: ${r.skipped}`);
  else {
    console.log(`grpc_flows_per_s=${Math.round(r.flowsPerSecond)}`);
    console.log(`grpc_flows_per_cpu_s=${Math.round(r.flowsPerCpuSecond)}`);
    console.log(`grpc_decode_only_baseline_per_s=${Math.round(r.decodeOnlyPerSecond)}`);
    console.log(`grpc_vs_decode_only_ratio=${r.ratio.toFixed(2)}`);
  }
}
