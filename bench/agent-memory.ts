/**
 * Benchmark: the node agent's memory is bounded by distinct edges, not by conntrack entries.
 *
 * Feeds synthetic conntrack lines — in the real text formats (`conntrack -E -o timestamp,extended`
 * NEW / UPDATE / DESTROY events and `conntrack -L -o extended` dump lines), each connection with a
 * fresh 5-tuple, Service DNAT on some — through the real parser (`parseConntrackLine` →
 * `conntrackEntryToFlow`) into the agent's {@link EdgeAggregator}, shipping (drain, batch, ack)
 * every 50,000 lines as the agent does on its timer. Lines are generated one at a time, never
 * held, so the heap measured is the agent's state: the Learner's edge table and its bounded dedupe
 * table, and the delta buffer.
 *
 * Prints, for 1,000,000 and 100,000 entries over a few hundred distinct edges:
 *   agent_entries=1000000 agent_edges=<n> agent_heap_mb=<retained heap after GC>
 *   agent_entries_100k=100000 agent_edges_100k=<n> agent_heap_100k_mb=<…>
 *   agent_heap_growth=<heap(1M) / heap(100k)>   (10× the entries; ≈1 means bounded)
 *
 * Run: `npm run bench` (bench/run.ts imports {@link runAgentMemoryBench}), or alone:
 *   npx esbuild bench/agent-memory.ts --bundle --platform=node --format=esm --packages=external --outfile=.cache/bench/agent-memory.mjs
 *   node --expose-gc .cache/bench/agent-memory.mjs
 */
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { EdgeAggregator } from '../src/agent/aggregator.js';
import { IdentityResolver } from '../src/domain/identity.js';
import type { ClusterInventory, PodInfo } from '../src/domain/inventory.js';
import { conntrackEntryToFlow } from '../src/ingest/conntrack/flow.js';
import { parseConntrackLine } from '../src/ingest/conntrack/parse.js';
import { mulberry32 as prng } from '../scripts/example-shop/rand.js';

export interface AgentMemoryResult {
  readonly entries: number;
  /** Distinct edges learned. */
  readonly edges: number;
  /** Connections learned (deduplicated). */
  readonly connections: number;
  /** Heap retained by the agent state after a full GC, MiB. */
  readonly heapMb: number;
  readonly seconds: number;
}

export interface AgentMemoryBench {
  readonly large: AgentMemoryResult;
  readonly small: AgentMemoryResult;
  /** large.heapMb / small.heapMb. */
  readonly growth: number;
}

const CLIENT_WORKLOADS = 30;
const SERVER_WORKLOADS = 10;
const PODS_PER_WORKLOAD = 4;
/** Each client workload talks to 10 servers on 1 of 2 ports: 30 × 10 × … ≈ a few hundred edges. */
const T0 = 1_767_225_600_000;

function inventory(): ClusterInventory {
  const pods: PodInfo[] = [];
  const pod = (name: string, ip: string): PodInfo => ({
    namespace: 'bench', name: `${name}-5d8f7-${ip.replaceAll('.', '')}`, labels: { app: name, 'pod-template-hash': '5d8f7' }, ips: [ip],
    hostNetwork: false, owners: [{ kind: 'ReplicaSet', name: `${name}-5d8f7`, controller: true }], ports: [], createdAt: T0 - 86_400_000,
  });
  for (let c = 0; c < CLIENT_WORKLOADS; c++) for (let p = 0; p < PODS_PER_WORKLOAD; p++) pods.push(pod(`client${c}`, `10.244.${c}.${p + 10}`));
  for (let s = 0; s < SERVER_WORKLOADS; s++) for (let p = 0; p < PODS_PER_WORKLOAD; p++) pods.push(pod(`server${s}`, `10.245.${s}.${p + 10}`));
  return {
    namespaces: [], nodes: [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: ['10.244.0.0/15'] }], pods, controllers: [],
    services: [], endpointSlices: [],
  };
}


/**
 * Calls `emit` with `entries` conntrack lines: connections as NEW + UPDATE + DESTROY events (three
 * entries) or as a dump line (one entry), every connection a fresh 5-tuple.
 */
export function generateAgentLines(entries: number, emit: (line: string) => void, seed = 7): void {
  const random = prng(seed);
  let emitted = 0;
  let connection = 0;
  while (emitted < entries) {
    const c = Math.floor(random() * CLIENT_WORKLOADS);
    const s = (c + Math.floor(random() * SERVER_WORKLOADS)) % SERVER_WORKLOADS;
    const src = `10.244.${c}.${10 + (connection % PODS_PER_WORKLOAD)}`;
    const dst = `10.245.${s}.${10 + ((connection >> 2) % PODS_PER_WORKLOAD)}`;
    const sport = 1024 + (connection % 60_000);
    const port = c % 2 === 0 ? 8080 : 9090;
    // Half of the connections go through a Service address (DNAT): the REPLY source is the pod.
    const viaService = connection % 2 === 0;
    const odst = viaService ? `10.96.${s}.1` : dst;
    const odport = viaService ? 80 : port;
    const tuple = `src=${src} dst=${odst} sport=${sport} dport=${odport}`;
    const reply = `src=${dst} dst=${src} sport=${port} dport=${sport}`;
    const ms = T0 + connection * 3;
    const ts = (at: number) => `[${Math.floor(at / 1000)}.${String((at % 1000) * 1000).padStart(6, '0')}]`;
    if (connection % 4 === 3) {
      emit(`ipv4     2 tcp      6 431999 ESTABLISHED ${tuple} ${reply} [ASSURED] mark=0 use=1`);
      emitted++;
    } else {
      emit(`${ts(ms)}\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT ${tuple} [UNREPLIED] ${reply}`);
      if (++emitted >= entries) break;
      emit(`${ts(ms + 1)}\t [UPDATE] ipv4     2 tcp      6 432000 ESTABLISHED ${tuple} ${reply} [ASSURED]`);
      if (++emitted >= entries) break;
      emit(`${ts(ms + 2)}\t[DESTROY] ipv4     2 tcp      6 ${tuple} ${reply} [ASSURED]`);
      emitted++;
    }
    connection++;
  }
}

function gcFunction(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function retainedHeap(gc: () => void): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/** Feeds `entries` lines through the parser and an aggregator; returns what stays on the heap. */
export function measureAgentMemory(entries: number): AgentMemoryResult {
  const gc = gcFunction();
  const identity = new IdentityResolver(inventory());
  const before = retainedHeap(gc);
  const started = process.hrtime.bigint();
  const aggregator = new EdgeAggregator({ identity });
  let lines = 0;
  const parseOpts = { now: T0 };
  generateAgentLines(entries, (line) => {
    const parsed = parseConntrackLine(line, parseOpts);
    aggregator.ingest(parsed.kind === 'entry' ? conntrackEntryToFlow(parsed.entry, T0 + lines) : parsed);
    if (++lines % 50_000 === 0) {
      aggregator.drain();
      for (let batch = aggregator.nextBatch(); batch; batch = aggregator.nextBatch()) aggregator.ack(batch.seq);
    }
  });
  aggregator.drain(); // the last deltas stay buffered, as between two ships
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const after = retainedHeap(gc);
  const result: AgentMemoryResult = {
    entries,
    edges: aggregator.learner.edges.size,
    connections: aggregator.learnedTotal,
    heapMb: Math.max(0, after - before) / (1024 * 1024),
    seconds,
  };
  // Keep the aggregator alive until after the measurement.
  if (aggregator.stats.batches < 0) console.log(aggregator);
  return result;
}

/** The benchmark: 1,000,000 and 100,000 entries. */
export function runAgentMemoryBench(opts: { readonly large?: number; readonly small?: number } = {}): AgentMemoryBench {
  const small = measureAgentMemory(opts.small ?? 100_000);
  const large = measureAgentMemory(opts.large ?? 1_000_000);
  return { large, small, growth: small.heapMb > 0 ? large.heapMb / small.heapMb : Number.NaN };
}

/** `name=value` lines for bench/run.ts. */
export function formatAgentMemoryBench(r: AgentMemoryBench): string[] {
  const mb = (n: number) => n.toFixed(2);
  return [
    `agent_entries=${r.large.entries}`,
    `agent_edges=${r.large.edges}`,
    `agent_heap_mb=${mb(r.large.heapMb)}`,
    `agent_entries_100k=${r.small.entries}`,
    `agent_edges_100k=${r.small.edges}`,
    `agent_heap_100k_mb=${mb(r.small.heapMb)}`,
    `agent_heap_growth=${r.growth.toFixed(2)}`,
  ];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = runAgentMemoryBench();
  for (const line of formatAgentMemoryBench(result)) console.log(line);
  console.error(`(connections learned: ${result.small.connections} / ${result.large.connections}; ${result.small.seconds.toFixed(1)} s / ${result.large.seconds.toFixed(1)} s)`);
}
