/**
 * Benchmark: how fast hivewall parses conntrack text.
 *
 * Generates ~1,000,000 realistic lines (deterministic, seeded): a mix of `/proc/net/nf_conntrack`,
 * `conntrack -L [-o extended]` and `conntrack -E [-o timestamp,extended]` lines; TCP, UDP, some
 * ICMP/SCTP; 15 % IPv6; Service DNAT and SNAT; `[UNREPLIED]`; accounting counters, zones and marks;
 * plus a few unsupported-protocol (GRE, UDP-Lite) and damaged lines. Then measures
 *
 * - `conntrack_lines_per_s`: `parseConntrackLine` over the lines already in memory,
 * - `conntrack_flow_lines_per_s`: the same plus `conntrackEntryToFlow`,
 * - `conntrack_reader_lines_per_s`: `readConntrackEntries` over the bytes (line splitting, decoding).
 *
 * Build and run: `npx tsc -p .` then `npm exec -- node dist/bench/conntrack-parse.js [--lines N]`.
 * Prints `name=value` lines.
 */
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { conntrackEntryToFlow } from '../src/ingest/conntrack/flow.js';
import { formatConntrackEntry, type ConntrackFormat } from '../src/ingest/conntrack/format.js';
import { parseIPv6 } from '../src/ingest/conntrack/ip.js';
import { parseConntrackLine } from '../src/ingest/conntrack/parse.js';
import { readConntrackEntries } from '../src/ingest/conntrack/read.js';
import type { ConntrackEntry, ConntrackTuple } from '../src/ingest/conntrack/types.js';
import { mulberry32 as prng } from '../scripts/example-shop/rand.js';

export interface ConntrackParseBenchOptions {
  /** Lines to generate. Default 1,000,000. */
  readonly lines?: number;
  /** PRNG seed for the generator. */
  readonly seed?: number;
  /** Timed passes per measurement; the best pass is reported. Default 5. */
  readonly rounds?: number;
}

export interface ConntrackParseBenchResult {
  readonly lines: number;
  readonly bytes: number;
  readonly entries: number;
  readonly skipped: number;
  /** Best pass of parseConntrackLine alone (wall clock). */
  readonly parseSeconds: number;
  readonly linesPerSecond: number;
  /** The same per CPU second (user + system of the process), less noisy on a shared machine. */
  readonly linesPerCpuSecond: number;
  readonly megabytesPerSecond: number;
  /** Parse + conntrackEntryToFlow. */
  readonly flowLinesPerSecond: number;
  /** readConntrackEntries over a byte stream (64 KiB chunks). */
  readonly readerLinesPerSecond: number;
}


const FORMATS: ReadonlyArray<[ConntrackFormat, number]> = [
  ['proc', 0.2],
  ['extended', 0.25],
  ['plain', 0.15],
  ['event-timestamp-extended', 0.2],
  ['event', 0.1],
  ['event-extended', 0.05],
  ['event-timestamp', 0.05],
];

/** Generates `n` realistic conntrack lines. */
export function generateConntrackLines(n: number, seed = 1): string[] {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pods4 = Array.from({ length: 400 }, () => `10.244.${int(0, 40)}.${int(2, 254)}`);
  const svcs4 = Array.from({ length: 60 }, () => `10.96.${int(0, 255)}.${int(1, 254)}`);
  const nodes4 = Array.from({ length: 8 }, (_, i) => `192.168.10.${i + 11}`);
  const pods6 = Array.from({ length: 120 }, () => parseIPv6(`fd00:10:244:${int(0, 40).toString(16)}::${int(2, 0xfffe).toString(16)}`) as string);
  const svcs6 = Array.from({ length: 20 }, () => parseIPv6(`fd00:10:96::${int(1, 0xfff).toString(16)}`) as string);
  const servicePorts = [80, 443, 53, 8080, 5432, 6379, 9090, 3306, 50051];
  const lines: string[] = [];
  let now = 1_732_700_000_000;
  const cumulative = FORMATS.map(([, w], i) => FORMATS.slice(0, i + 1).reduce((s, [, x]) => s + x, 0) + w * 0);

  for (let k = 0; k < n; k++) {
    now += rnd() * 2;
    const roll = rnd();
    if (roll < 0.01) {
      lines.push(pick(['', 'garbage line', 'tcp      6 431999 ESTABLISHED src=10.244.0.5 dst=10.96.0.10 sport=40000', 'udp      17 29 src=999.1.1.1 dst=10.0.0.1 sport=1 dport=2 src=10.0.0.1 dst=999.1.1.1 sport=2 dport=1']));
      continue;
    }
    if (roll < 0.03) {
      const a = pick(pods4);
      const b = pick(pods4);
      lines.push(
        rnd() < 0.5
          ? `ipv4     2 gre      47 ${int(1, 180)} timeout=30, stream_timeout=180 src=${a} dst=${b} srckey=0x0 dstkey=0x0 src=${b} dst=${a} srckey=0x0 dstkey=0x0 mark=0 zone=0 use=2`
          : `udplite  136 ${int(1, 30)} src=${a} dst=${b} sport=${int(1024, 65535)} dport=7777 [UNREPLIED] src=${b} dst=${a} sport=7777 dport=${int(1024, 65535)} mark=0 use=1`,
      );
      continue;
    }
    const v6 = rnd() < 0.15;
    const pods = v6 ? pods6 : pods4;
    const proto = rnd();
    const protocol = proto < 0.6 ? 'TCP' : proto < 0.92 ? 'UDP' : proto < 0.99 ? (v6 ? 'ICMPv6' : 'ICMPv4') : 'SCTP';
    const client = rnd() < 0.05 && !v6 ? pick(nodes4) : pick(pods);
    const backend = pick(pods);
    const viaService = protocol !== 'ICMPv4' && protocol !== 'ICMPv6' && rnd() < 0.5;
    const snat = !v6 && rnd() < 0.1;
    const sport = int(32768, 60999);
    const svcPort = pick(servicePorts);
    const dport = viaService ? (svcPort === 80 ? 8080 : svcPort) : svcPort;
    const dialled = viaService ? pick(v6 ? svcs6 : svcs4) : backend;
    const translated = snat ? pick(nodes4) : client;
    let original: ConntrackTuple;
    let reply: ConntrackTuple;
    if (protocol === 'ICMPv4' || protocol === 'ICMPv6') {
      const id = int(1, 65535);
      const [req, rep] = protocol === 'ICMPv4' ? [8, 0] : [128, 129];
      original = { src: client, dst: backend, sport: 0, dport: 0, icmp: { type: req, code: 0, id } };
      reply = { src: backend, dst: client, sport: 0, dport: 0, icmp: { type: rep, code: 0, id } };
    } else {
      original = { src: client, dst: dialled, sport, dport: svcPort, icmp: undefined };
      reply = { src: backend, dst: translated, sport: dport, dport: sport, icmp: undefined };
    }
    const unreplied = rnd() < 0.08;
    const r = rnd();
    const format = FORMATS[cumulative.findIndex((c) => r < c)]?.[0] ?? 'extended';
    const acct = rnd() < 0.3;
    const entry: ConntrackEntry = {
      family: v6 ? 'ipv6' : 'ipv4',
      protocol,
      event: pick(['NEW', 'UPDATE', 'UPDATE', 'DESTROY'] as const),
      timestamp: Math.floor(now * 1000) / 1000,
      state: protocol === 'TCP' ? (unreplied ? 'SYN_SENT' : pick(['ESTABLISHED', 'ESTABLISHED', 'TIME_WAIT', 'FIN_WAIT', 'CLOSE_WAIT'])) : protocol === 'SCTP' ? 'ESTABLISHED' : undefined,
      timeout: protocol === 'TCP' ? int(1, 432000) : int(1, 180),
      original,
      reply,
      unreplied,
      assured: !unreplied && rnd() < 0.8,
      offload: undefined,
      zone: rnd() < 0.03 ? int(1, 10) : undefined,
      mark: rnd() < 0.05 ? int(1, 0xffff) : undefined,
      id: format.startsWith('event') && rnd() < 0.2 ? int(0, 0xffffffff) : undefined,
      counters: acct ? { original: { packets: int(1, 1e5), bytes: int(60, 1e8) }, reply: { packets: unreplied ? 0 : int(1, 1e5), bytes: unreplied ? 0 : int(60, 1e9) } } : undefined,
    };
    lines.push(formatConntrackEntry(entry, format));
  }
  return lines;
}

interface Timing {
  /** Best wall-clock seconds over the rounds. */
  wall: number;
  /** Best process CPU seconds (user + system) over the rounds: steadier on a busy machine. */
  cpu: number;
}

async function best(rounds: number, run: () => void | Promise<void>): Promise<Timing> {
  const t: Timing = { wall: Infinity, cpu: Infinity };
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await run();
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    t.wall = Math.min(t.wall, wall);
    t.cpu = Math.min(t.cpu, (c.user + c.system) / 1e6);
  }
  return t;
}

/** Runs the benchmark and returns the numbers (printing is left to the caller). */
export async function runConntrackParseBench(opts: ConntrackParseBenchOptions = {}): Promise<ConntrackParseBenchResult> {
  const n = opts.lines ?? 1_000_000;
  const rounds = opts.rounds ?? 5;
  const lines = generateConntrackLines(n, opts.seed ?? 1);
  const text = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
  const time = 1_732_700_000_000;
  const parseOpts = { now: time };

  let entries = 0;
  let skipped = 0;
  // warm-up, and the entry / skip counts
  for (const line of lines) {
    if (parseConntrackLine(line, parseOpts).kind === 'entry') entries++;
    else skipped++;
  }

  let sink = 0;
  const parse = await best(rounds, () => {
    for (let k = 0; k < lines.length; k++) {
      const r = parseConntrackLine(lines[k] as string, parseOpts);
      if (r.kind === 'entry') sink += r.entry.original.sport;
    }
  });
  const flow = await best(rounds, () => {
    for (let k = 0; k < lines.length; k++) {
      const r = parseConntrackLine(lines[k] as string, parseOpts);
      if (r.kind === 'entry') {
        const f = conntrackEntryToFlow(r.entry, time);
        if (f.kind === 'flow') sink += f.flow.destination.port;
      }
    }
  });
  const chunks: Buffer[] = [];
  for (let i = 0; i < text.length; i += 65536) chunks.push(text.subarray(i, i + 65536));
  const reader = await best(rounds, async () => {
    await readConntrackEntries(Readable.from(chunks), (result) => {
      if (result.kind === 'entry') sink += 1;
    }, { time });
  });
  if (sink === -1) console.log('unreachable'); // keeps the loops from being optimised away

  return {
    lines: n,
    bytes: text.length,
    entries,
    skipped,
    parseSeconds: parse.wall,
    linesPerSecond: Math.round(n / parse.wall),
    linesPerCpuSecond: Math.round(n / parse.cpu),
    megabytesPerSecond: Math.round((text.length / 1e6 / parse.wall) * 10) / 10,
    flowLinesPerSecond: Math.round(n / flow.wall),
    readerLinesPerSecond: Math.round(n / reader.wall),
  };
}

function argValue(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) ? v : undefined;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const lines = argValue('--lines');
  const seed = argValue('--seed');
  const r = await runConntrackParseBench({ ...(lines !== undefined ? { lines } : {}), ...(seed !== undefined ? { seed } : {}) });
  console.log(`conntrack_lines=${r.lines}`);
  console.log(`conntrack_bytes=${r.bytes}`);
  console.log(`conntrack_entries=${r.entries}`);
  console.log(`conntrack_skipped=${r.skipped}`);
  console.log(`conntrack_parse_seconds=${r.parseSeconds.toFixed(3)}`);
  console.log(`conntrack_lines_per_s=${r.linesPerSecond}`);
  console.log(`conntrack_lines_per_cpu_s=${r.linesPerCpuSecond}`);
  console.log(`conntrack_mb_per_s=${r.megabytesPerSecond}`);
  console.log(`conntrack_flow_lines_per_s=${r.flowLinesPerSecond}`);
  console.log(`conntrack_reader_lines_per_s=${r.readerLinesPerSecond}`);
}
