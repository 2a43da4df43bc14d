/**
 * Whole-pipeline benchmarks on realistic Hubble NDJSON (bench/hubble-ingest.ts writes it):
 *
 * hubble_ingest_ratio: bytes → graph (file reader, fast-path parser, identity, dedupe, edge store)
 *   throughput divided by a bare `readline` + `JSON.parse` loop over the same file, in the same
 *   process, best of N interleaved runs. ≥ 1.0 means the pipeline is faster than merely parsing.
 * learn_peak_rss: peak RSS of a child process learning a 60k-line file and a 600k-line file with the
 *   same edges (the 60k lines repeated ten times, an hour apart); memory must follow edges.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { emptyInventory } from '../src/domain/inventory.js';
import { IdentityResolver } from '../src/domain/identity.js';
import { Learner } from '../src/domain/learner.js';
import { readFlowInput } from '../src/ingest/flow-input.js';
import { writeHubbleBenchFile } from './hubble-ingest.js';

async function bareParse(path: string): Promise<number> {
  let flows = 0;
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of rl) {
    const value = JSON.parse(line) as { flow?: unknown };
    if (value.flow !== undefined) flows++;
  }
  return flows;
}

/** The real pipeline `hivewall learn` runs, up to the learned edge store. */
export async function learnFile(path: string): Promise<Learner> {
  const learner = new Learner(new IdentityResolver(emptyInventory));
  await readFlowInput({ path }, 'auto', (r) => learner.ingest(r));
  learner.finish();
  return learner;
}

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export interface PipelineBench {
  readonly lines: number;
  readonly bytes: number;
  readonly ratio: number;
  readonly flowsPerSecond: number;
  readonly baselineLinesPerSecond: number;
  readonly edges: number;
}

export async function runIngestRatio(lines = 200_000, runs = 3): Promise<PipelineBench> {
  const dir = mkdtempSync(join(tmpdir(), 'hivewall-pipeline-'));
  try {
    const path = join(dir, 'flows.jsonl');
    const bytes = await writeHubbleBenchFile(path, lines);
    let best = { base: Infinity, pipe: Infinity };
    let learner: Learner | undefined;
    await bareParse(path); // warm the page cache and the JIT for both sides
    for (let i = 0; i < runs; i++) {
      best = { ...best, base: Math.min(best.base, await seconds(() => bareParse(path))) };
      best = { ...best, pipe: Math.min(best.pipe, await seconds(async () => (learner = await learnFile(path)))) };
    }
    return {
      lines,
      bytes,
      ratio: best.base / best.pipe,
      flowsPerSecond: learner!.stats.flows / best.pipe,
      baselineLinesPerSecond: lines / best.base,
      edges: learner!.edges.size,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes `base` repeated `times` times, each copy shifted by one hour: more flows, the same edges. */
export async function repeatShifted(base: string, target: string, times: number): Promise<void> {
  const lines = readFileSync(base, 'utf8').split('\n').filter((l) => l.length > 0);
  const out = createWriteStream(target);
  for (let copy = 0; copy < times; copy++) {
    const shift = copy * 3_600_000;
    for (const line of lines) {
      const shifted = copy === 0 ? line : line.replace(/"time":"([^"]+)"/g, (_m, t: string) => `"time":"${shiftTime(t, shift)}"`);
      if (!out.write(`${shifted}\n`)) await once(out, 'drain');
    }
  }
  out.end();
  await once(out, 'finish');
}

function shiftTime(text: string, ms: number): string {
  const nanos = /\.(\d+)Z$/.exec(text)?.[1] ?? '';
  const shifted = new Date(Date.parse(text) + ms).toISOString().replace(/\.\d+Z$/, '');
  return nanos ? `${shifted}.${nanos}Z` : `${shifted}Z`;
}

export interface RssBench {
  readonly smallMb: number;
  readonly largeMb: number;
  readonly growth: number;
  readonly edgesSmall: number;
  readonly edgesLarge: number;
}

export async function runPeakRss(smallLines = 60_000, factor = 10, flags: readonly string[] = ['--max-semi-space-size=16']): Promise<RssBench> {
  const dir = mkdtempSync(join(tmpdir(), 'hivewall-rss-'));
  try {
    const small = join(dir, 'small.jsonl');
    const large = join(dir, 'large.jsonl');
    await writeHubbleBenchFile(small, smallLines);
    await repeatShifted(small, large, factor);
    const child = fileURLToPath(import.meta.url);
    const measure = (path: string) => {
      // The flags `hivewall` runs with (bin/hivewall.js shebang, the Deployment's NODE_OPTIONS).
      const r = spawnSync(process.execPath, [...flags, child, '--rss-child', path], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`rss child failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as { maxRssKb: number; edges: number };
    };
    const a = measure(small);
    const b = measure(large);
    return { smallMb: a.maxRssKb / 1024, largeMb: b.maxRssKb / 1024, growth: b.maxRssKb / a.maxRssKb, edgesSmall: a.edges, edgesLarge: b.edges };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--rss-child') {
  const learner = await learnFile(process.argv[3]!);
  // VmHWM (peak RSS of this process image) rather than getrusage: ru_maxrss survives fork+exec on
  // Linux, so a child would report its parent's peak.
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  process.stdout.write(JSON.stringify({ maxRssKb: hwm ? Number(hwm) : process.resourceUsage().maxRSS, edges: learner.edges.size }));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const ingest = await runIngestRatio();
  console.log(`hubble_ingest_ratio=${ingest.ratio.toFixed(2)}`);
  console.log(`hubble_flows_per_s=${Math.round(ingest.flowsPerSecond)}`);
  const rss = await runPeakRss();
  console.log(`learn_peak_rss_60k_mb=${rss.smallMb.toFixed(1)}`);
  console.log(`learn_peak_rss_600k_mb=${rss.largeMb.toFixed(1)}`);
  console.log(`learn_peak_rss_growth=${rss.growth.toFixed(2)}`);
}
