/**
 * Hubble file ingest benchmark: the hivewall reader (byte line splitter + fast scanner producing
 * `Flow`s) against a bare baseline (`readline` + `JSON.parse` per line, building nothing) over the
 * same realistic NDJSON file, in one process, best of N interleaved runs each.
 *
 * Prints `name=value` lines:
 *   hubble_ingest_ratio=<reader lines/s ÷ baseline lines/s>
 *   hubble_flows_per_s=<Flow objects per second through the reader>
 *
 * Run: `npx tsc -p . && node dist/bench/hubble-ingest.js [--lines N] [--runs N] [--file PATH]`,
 * or call {@link runHubbleIngestBench} (bench/run.ts).
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { readHubbleFile } from '../src/ingest/hubble/index.js';
import { mulberry32 as prng } from '../scripts/example-shop/rand.js';

export interface HubbleIngestBenchOptions {
  /** Lines in the generated file (default 200 000). */
  readonly lines?: number;
  /** Timed runs of each side; the best counts (default 3). */
  readonly runs?: number;
  /** Use (or create, when missing) this file instead of a temporary one. */
  readonly file?: string;
  /** PRNG seed of the generator (default 1). */
  readonly seed?: number;
  /** Progress and result lines (default: none). */
  readonly log?: (line: string) => void;
}

export interface HubbleIngestBenchResult {
  readonly lines: number;
  readonly bytes: number;
  readonly flows: number;
  /** Baseline: readline + JSON.parse, lines per second (best run). */
  readonly baselineLinesPerSecond: number;
  /** hivewall reader + fast path → Flow objects, lines per second (best run). */
  readonly linesPerSecond: number;
  readonly flowsPerSecond: number;
  /** linesPerSecond / baselineLinesPerSecond (wall clock). */
  readonly ratio: number;
  /** The same ratio on process CPU time (user + system), steadier on a shared machine. */
  readonly cpuRatio: number;
  /** Distinct (client, server, port, protocol) keys the sink saw, as a sanity check. */
  readonly edges: number;
}

// ---- a realistic Hubble export file -------------------------------------------------------------


interface Pod {
  readonly ns: string;
  readonly app: string;
  readonly kind: string;
  readonly name: string;
  readonly ip: string;
  readonly identity: number;
  readonly id: number;
  readonly node: string;
  readonly endpoint: Record<string, unknown>;
}

const NODES = ['prod-worker-a1', 'prod-worker-b2', 'prod-worker-c3'];
const SERVICES: readonly (readonly [string, string, string, number])[] = [
  // namespace, app, kind, port
  ['shop', 'frontend', 'Deployment', 8080],
  ['shop', 'cart', 'Deployment', 7070],
  ['shop', 'checkout', 'Deployment', 5050],
  ['shop', 'catalog', 'Deployment', 3550],
  ['shop', 'recommendation', 'Deployment', 8081],
  ['shop', 'payments', 'StatefulSet', 9090],
  ['shop', 'redis-cart', 'StatefulSet', 6379],
  ['billing', 'invoicer', 'Deployment', 8443],
  ['billing', 'ledger', 'StatefulSet', 5432],
  ['auth', 'keycloak', 'StatefulSet', 8443],
  ['monitoring', 'prometheus', 'StatefulSet', 9090],
  ['monitoring', 'node-exporter', 'DaemonSet', 9100],
  ['kube-system', 'coredns', 'Deployment', 53],
];

function hex(random: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(random() * 16).toString(16);
  return s;
}

function makePods(random: () => number): Pod[] {
  const pods: Pod[] = [];
  let octet = 10;
  for (const [ns, app, kind, _port] of SERVICES) {
    const replicas = kind === 'DaemonSet' ? 3 : 1 + Math.floor(random() * 3);
    const hash = hex(random, 10);
    for (let r = 0; r < replicas; r++) {
      const name = kind === 'StatefulSet' ? `${app}-${r}` : kind === 'DaemonSet' ? `${app}-${hex(random, 5)}` : `${app}-${hash}-${hex(random, 5)}`;
      const node = NODES[(pods.length + r) % NODES.length]!;
      const ip = `10.0.${1 + NODES.indexOf(node)}.${octet++}`;
      const identity = 10000 + Math.floor(random() * 50000);
      const id = 100 + Math.floor(random() * 3900);
      const labels = [
        `k8s:app=${app}`,
        kind === 'Deployment' ? `k8s:pod-template-hash=${hash}` : `k8s:controller-revision-hash=${app}-${hex(random, 10)}`,
        `k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=${ns}`,
        'k8s:io.cilium.k8s.policy.cluster=prod',
        `k8s:io.cilium.k8s.policy.serviceaccount=${app}`,
        `k8s:io.kubernetes.pod.namespace=${ns}`,
      ];
      if (kind === 'StatefulSet') labels.push(`k8s:statefulset.kubernetes.io/pod-name=${name}`);
      const endpoint = { ID: id, identity, namespace: ns, labels, pod_name: name, workloads: [{ name: app, kind }] };
      pods.push({ ns, app, kind, name, ip, identity, id, node, endpoint });
    }
  }
  return pods;
}

const WORLD = { identity: 2, labels: ['reserved:world'] };
const DNS_NAMES = ['api.stripe.com', 'hooks.slack.com', 'sqs.eu-west-1.amazonaws.com', 'oauth2.googleapis.com', 'registry-1.docker.io'];

function timestamp(ms: number, nanos: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}.${String((ms % 1000) * 1_000_000 + nanos).padStart(9, '0')}Z`;
}

function mac(random: () => number): string {
  return Array.from({ length: 6 }, () => Math.floor(random() * 256).toString(16).padStart(2, '0')).join(':');
}

/** One connection's worth of lines, as `hubble observe -o json` / the exporter writes them. */
function connectionLines(random: () => number, pods: readonly Pod[], t: number): string[] {
  const out: string[] = [];
  const uuid = () => `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-a${hex(random, 3)}-${hex(random, 12)}`;
  const line = (flow: Record<string, unknown>, node: string, time: string) => JSON.stringify({ flow, node_name: node, time });
  const client = pods[Math.floor(random() * pods.length)]!;
  const roll = random();
  const sport = 32768 + Math.floor(random() * 28000);
  if (roll < 0.12) {
    // DNS: L7 request and response through the DNS proxy.
    const dns = pods.find((p) => p.app === 'coredns')!;
    const name = DNS_NAMES[Math.floor(random() * DNS_NAMES.length)]!;
    const ips = [`52.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}`, `3.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}`];
    const time = timestamp(t, Math.floor(random() * 1e6));
    out.push(line({
      time, uuid: uuid(), verdict: 'FORWARDED', IP: { source: dns.ip, destination: client.ip, ipVersion: 'IPv4' },
      l4: { UDP: { source_port: 53, destination_port: sport } }, source: dns.endpoint, destination: client.endpoint, Type: 'L7',
      node_name: client.node, l7: { type: 'RESPONSE', latency_ns: String(200000 + Math.floor(random() * 900000)), dns: { query: `${name}.`, ips, ttl: 30, observation_source: 'proxy', qtypes: ['A'], rrtypes: ['A'] } },
      event_type: { type: 129 }, traffic_direction: 'EGRESS', is_reply: true, Summary: `DNS Answer "${ips.join(',')}" TTL: 30 (Proxy ${name}. A)`,
    }, client.node, time));
    out.push(line({
      time, uuid: uuid(), verdict: 'FORWARDED', ethernet: { source: mac(random), destination: mac(random) }, IP: { source: client.ip, destination: dns.ip, ipVersion: 'IPv4' },
      l4: { UDP: { source_port: sport, destination_port: 53 } }, source: client.endpoint, destination: dns.endpoint, Type: 'L3_L4', node_name: client.node,
      event_type: { type: 4, sub_type: 3 }, traffic_direction: 'EGRESS', trace_observation_point: 'TO_PROXY', trace_reason: 'NEW', is_reply: false,
      interface: { index: 20 + Math.floor(random() * 40), name: `lxc${hex(random, 12)}` }, Summary: 'UDP',
    }, client.node, time));
    return out;
  }
  if (roll < 0.2) {
    // Egress to the world, named by the DNS cache.
    const name = DNS_NAMES[Math.floor(random() * DNS_NAMES.length)]!;
    const time = timestamp(t, Math.floor(random() * 1e6));
    const dst = `52.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}`;
    out.push(line({
      time, uuid: uuid(), verdict: 'FORWARDED', ethernet: { source: mac(random), destination: mac(random) }, IP: { source: client.ip, destination: dst, ipVersion: 'IPv4' },
      l4: { TCP: { source_port: sport, destination_port: 443, flags: { SYN: true } } }, source: client.endpoint,
      destination: { identity: 16777217 + Math.floor(random() * 100), labels: [`cidr:${dst}/32`, `fqdn:${name}`, 'reserved:world'] }, Type: 'L3_L4', node_name: client.node,
      destination_names: [name], event_type: { type: 4, sub_type: 11 }, traffic_direction: 'EGRESS', trace_observation_point: 'TO_NETWORK', trace_reason: 'NEW',
      is_reply: false, interface: { index: 2, name: 'ens5' }, Summary: 'TCP Flags: SYN',
    }, client.node, time));
    return out;
  }
  if (roll < 0.25) {
    // Ingress from the world.
    const server = pods.find((p) => p.app === 'frontend')!;
    const time = timestamp(t, Math.floor(random() * 1e6));
    out.push(line({
      time, uuid: uuid(), verdict: 'FORWARDED', IP: { source: `198.51.100.${Math.floor(random() * 255)}`, destination: server.ip, ipVersion: 'IPv4' },
      l4: { TCP: { source_port: sport, destination_port: 8080, flags: { SYN: true } } }, source: WORLD, destination: server.endpoint, Type: 'L3_L4',
      node_name: server.node, event_type: { type: 4 }, traffic_direction: 'INGRESS', trace_observation_point: 'TO_ENDPOINT', trace_reason: 'NEW', is_reply: false,
      interface: { index: 20 + Math.floor(random() * 40), name: `lxc${hex(random, 12)}` }, Summary: 'TCP Flags: SYN',
    }, server.node, time));
    return out;
  }
  // Pod to pod TCP: SYN at both observation points, the SYN-ACK reply at both, an ACK, sometimes a drop.
  let server = pods[Math.floor(random() * pods.length)]!;
  if (server === client) server = pods[(pods.indexOf(client) + 1) % pods.length]!;
  const port = SERVICES.find(([ns, app]) => ns === server.ns && app === server.app)![3];
  const proto = server.app === 'coredns' ? 'UDP' : 'TCP';
  const l4 = (s: number, d: number, flags: Record<string, boolean>) => (proto === 'UDP' ? { UDP: { source_port: s, destination_port: d } } : { TCP: { source_port: s, destination_port: d, flags } });
  const summary = (flags: Record<string, boolean>) => (proto === 'UDP' ? 'UDP' : `TCP Flags: ${Object.keys(flags).join(', ')}`);
  const dropped = random() < 0.03;
  const steps: [Pod, Pod, number, number, Record<string, boolean>, boolean][] = [[client, server, sport, port, { SYN: true }, false]];
  if (!dropped) steps.push([server, client, port, sport, { SYN: true, ACK: true }, true], [client, server, sport, port, { ACK: true }, false]);
  let ms = t;
  for (const [src, dst, s, d, flags, reply] of steps) {
    const sameNode = src.node === dst.node;
    for (const [node, point, direction] of [
      [src.node, sameNode ? 'TO_ENDPOINT' : 'TO_OVERLAY', reply ? 'INGRESS' : 'EGRESS'],
      ...(sameNode ? [] : [[dst.node, 'TO_ENDPOINT', reply ? 'EGRESS' : 'INGRESS']]),
    ] as const) {
      ms += random() < 0.5 ? 0 : 1;
      const time = timestamp(ms, Math.floor(random() * 1e6));
      const flow: Record<string, unknown> = {
        time, uuid: uuid(), verdict: dropped && node === dst.node ? 'DROPPED' : 'FORWARDED',
        ethernet: { source: mac(random), destination: mac(random) }, IP: { source: src.ip, destination: dst.ip, ipVersion: 'IPv4' },
        l4: l4(s, d, flags), source: src.endpoint, destination: dst.endpoint, Type: 'L3_L4', node_name: node,
        event_type: dropped && node === dst.node ? { type: 1, sub_type: 133 } : { type: 4, sub_type: point === 'TO_OVERLAY' ? 4 : 0 },
        traffic_direction: direction, trace_observation_point: point, trace_reason: reply ? 'REPLY' : flags.SYN ? 'NEW' : 'ESTABLISHED', is_reply: reply,
        interface: point === 'TO_OVERLAY' ? { index: 4, name: 'cilium_vxlan' } : { index: 20 + Math.floor(random() * 40), name: `lxc${hex(random, 12)}` },
        Summary: summary(flags),
      };
      if (dropped && node === dst.node) {
        flow.drop_reason = 133;
        flow.drop_reason_desc = 'POLICY_DENIED';
        delete flow.trace_observation_point;
      }
      out.push(line(flow, node, time));
    }
  }
  return out;
}

/** Writes `lines` realistic Hubble lines to `path`; returns its size in bytes. */
export async function writeHubbleBenchFile(path: string, lines: number, seed = 1): Promise<number> {
  const random = prng(seed);
  const pods = makePods(random);
  const out = createWriteStream(path);
  let written = 0;
  let t = Date.UTC(2024, 4, 2, 9, 0, 0);
  let batch: string[] = [];
  while (written < lines) {
    t += Math.floor(random() * 20);
    const more = random() < 0.0005
      ? [JSON.stringify({ lost_events: { source: 'PERF_EVENT_RING_BUFFER', num_events_lost: String(1 + Math.floor(random() * 500)), cpu: Math.floor(random() * 8) }, node_name: NODES[0], time: timestamp(t, 0) })]
      : connectionLines(random, pods, t);
    for (const l of more) {
      if (written >= lines) break;
      batch.push(l);
      written++;
    }
    if (batch.length >= 2000) {
      if (!out.write(`${batch.join('\n')}\n`)) await once(out, 'drain');
      batch = [];
    }
  }
  if (batch.length > 0) out.write(`${batch.join('\n')}\n`);
  out.end();
  await once(out, 'finish');
  return statSync(path).size;
}

// ---- the two sides ------------------------------------------------------------------------------

/** The bare baseline: readline + JSON.parse per line, counting flows (the least any reader does). */
async function baseline(path: string): Promise<number> {
  let flows = 0;
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  rl.on('line', (line) => {
    const value = JSON.parse(line) as { flow?: unknown };
    if (value.flow !== undefined) flows++;
  });
  await once(rl, 'close');
  return flows;
}

/** hivewall: reader + fast path → Flow objects into a cheap sink (a Map keyed by a small edge key). */
async function hivewall(path: string): Promise<{ flows: number; edges: number }> {
  const edges = new Map<string, number>();
  let flows = 0;
  await readHubbleFile(path, (result) => {
    if (result.kind !== 'flow') return;
    flows++;
    const f = result.flow;
    if (f.isReply) return;
    const key = `${f.source.ip}>${f.destination.ip}:${f.destination.port}/${f.protocol}`;
    edges.set(key, (edges.get(key) ?? 0) + 1);
  });
  return { flows, edges: edges.size };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; cpuSeconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const value = await fn();
  const used = process.cpuUsage(cpu);
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, cpuSeconds: (used.user + used.system) / 1e6, value };
}

export async function runHubbleIngestBench(options: HubbleIngestBenchOptions = {}): Promise<HubbleIngestBenchResult> {
  const lines = options.lines ?? 200_000;
  const runs = options.runs ?? 3;
  const log = options.log ?? (() => undefined);
  const dir = options.file === undefined ? mkdtempSync(join(tmpdir(), 'hivewall-bench-')) : undefined;
  const path = options.file ?? join(dir!, 'hubble-export.jsonl');
  try {
    const bytes = existsSync(path) ? statSync(path).size : await writeHubbleBenchFile(path, lines, options.seed ?? 1);
    log(`# ${path}: ${bytes} bytes, ${lines} lines, ${(bytes / lines).toFixed(0)} bytes/line`);
    // Warm up both (JIT, page cache), then interleave the timed runs.
    await baseline(path);
    await hivewall(path);
    let bestBaseline = Infinity;
    let bestHivewall = Infinity;
    let bestBaselineCpu = Infinity;
    let bestHivewallCpu = Infinity;
    let flows = 0;
    let edges = 0;
    for (let i = 0; i < runs; i++) {
      const a = await timed(() => baseline(path));
      const b = await timed(() => hivewall(path));
      bestBaseline = Math.min(bestBaseline, a.seconds);
      bestHivewall = Math.min(bestHivewall, b.seconds);
      bestBaselineCpu = Math.min(bestBaselineCpu, a.cpuSeconds);
      bestHivewallCpu = Math.min(bestHivewallCpu, b.cpuSeconds);
      flows = b.value.flows;
      edges = b.value.edges;
      if (a.value !== flows) throw new Error(`baseline saw ${a.value} flows, the reader ${flows}`);
      log(`# run ${i + 1}: baseline ${a.seconds.toFixed(3)} s (cpu ${a.cpuSeconds.toFixed(3)} s), hivewall ${b.seconds.toFixed(3)} s (cpu ${b.cpuSeconds.toFixed(3)} s)`);
    }
    const baselineLinesPerSecond = lines / bestBaseline;
    const linesPerSecond = lines / bestHivewall;
    return {
      lines,
      bytes,
      flows,
      baselineLinesPerSecond,
      linesPerSecond,
      flowsPerSecond: flows / bestHivewall,
      ratio: linesPerSecond / baselineLinesPerSecond,
      cpuRatio: bestBaselineCpu / bestHivewallCpu,
      edges,
    };
  } finally {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = flag('--file');
  const result = await runHubbleIngestBench({
    lines: Number(flag('--lines') ?? 200_000),
    runs: Number(flag('--runs') ?? 3),
    ...(file === undefined ? {} : { file }),
    log: (line) => console.log(line),
  });
  console.log(`hubble_ingest_ratio=${result.ratio.toFixed(2)}`);
  console.log(`hubble_flows_per_s=${Math.round(result.flowsPerSecond)}`);
  console.log(`hubble_ingest_cpu_ratio=${result.cpuRatio.toFixed(2)}`);
  console.log(`hubble_lines_per_s=${Math.round(result.linesPerSecond)}`);
  console.log(`hubble_baseline_lines_per_s=${Math.round(result.baselineLinesPerSecond)}`);
  console.log(`hubble_mb_per_s=${(result.bytes / 1e6 / (result.lines / result.linesPerSecond)).toFixed(1)}`);
}
