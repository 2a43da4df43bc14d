/**
 * gRPC ingest benchmark: flows per second through the real Hubble gRPC client (HubbleObserverSource
 * and its HTTP/2 reader, http2-stream.ts) into a Learner, against test/hubble-server streaming preloaded
 * flows (realistic Hubble flows, bench/hubble-ingest.ts's generator) over a real unix socket, and in
 * the same run a bare protobufjs decode-only loop over the very same message bytes (the least any
 * client does). The message bytes for that loop are read once beforehand with the same HTTP/2
 * reader, outside any timing.
 *
 *   grpc_flows_per_s=<messages/s through the client into the Learner, best of N runs>
 *   grpc_decode_only_baseline_per_s=<protobufjs Type.decode messages/s over the same bytes>
 *   grpc_vs_decode_only_ratio=<the first ÷ the second>
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

/** protobufjs decode of every message (what @grpc/proto-loader's deserializer starts with), best of `runs`. */
function decodeOnly(messages: readonly Buffer[], runs: number): number {
  const root = new protobuf.Root();
  const dir = resolveProtoDir();
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : join(dir, target));
  root.loadSync('observer/observer.proto', { keepCase: true });
  const type = root.lookupType('observer.GetFlowsResponse');
  let best = Infinity;
  let sink = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    for (const m of messages) sink += type.decode(m) === null ? 0 : 1;
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  if (sink !== messages.length * runs) throw new Error('decode failed');
  return messages.length / best;
}

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
    let best = { seconds: Infinity, cpuSeconds: Infinity, learned: 0 };
    await throughClient(server.address, messages.length); // warm-up
    for (let r = 0; r < runs; r++) {
      const run = await throughClient(server.address, messages.length);
      if (run.seconds < best.seconds) best = run;
    }
    const decodeOnlyPerSecond = decodeOnly(messages, runs);
    const flowsPerSecond = messages.length / best.seconds;
    return {
      messages: messages.length,
      flowsPerSecond,
      flowsPerCpuSecond: messages.length / best.cpuSeconds,
      decodeOnlyPerSecond,
      ratio: flowsPerSecond / decodeOnlyPerSecond,
      learned: best.learned,
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
  const r = await runGrpcIngestBench(arg('--lines', 100_000), arg('--runs', 2));
  if ('skipped' in r) console.log(`# grpc benchmark skipped: ${r.skipped}`);
  else {
    console.log(`grpc_flows_per_s=${Math.round(r.flowsPerSecond)}`);
    console.log(`grpc_flows_per_cpu_s=${Math.round(r.flowsPerCpuSecond)}`);
    console.log(`grpc_decode_only_baseline_per_s=${Math.round(r.decodeOnlyPerSecond)}`);
    console.log(`grpc_vs_decode_only_ratio=${r.ratio.toFixed(2)}`);
  }
}
