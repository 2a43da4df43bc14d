/**
 * Whole-process benchmarks of the commands a user runs (bin/hivewall.js, bin/kubectl-hivewall.js:
 * the esbuild bundles with Node's compile cache), each against a bare process started the same
 * way in the same run, alternating, median of the runs:
 *
 * cli_help_overhead_ms: wall time of `hivewall --help`, `hivewall learn --help` and
 *   `kubectl hivewall --help` minus `node -e 0` (the largest of the three; each is printed too).
 * cli_help_peak_rss_mb: the largest peak RSS of those three.
 * plugin_overhead_ms: from spawning `kubectl hivewall proposals` to its first request reaching a
 *   local API server, minus the whole of `node -e 0`.
 * learn_whole_ratio / learn_whole_ratio_1w: a bare `readline` + `JSON.parse` process over a
 *   600k-line Hubble file divided by `hivewall learn` over it (default parser threads / --workers 1).
 * learn_halves_at_once_ratio: the same bare process divided by two `learn --workers 1` processes
 *   run at once on the file's two halves: the ceiling of learn_whole_ratio on this machine for
 *   today's per-line work (a perfect split, with nothing to share or merge).
 * learn_whole_rss_growth: peak RSS of `hivewall learn` (default threads) on 600k lines over 60k
 *   lines with the same edges.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, createReadStream, createWriteStream, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/report/assets.js';
import { writeHubbleBenchFile } from './hubble-ingest.js';
import { shebangNodeFlags } from './node-flags.js';
import { repeatShifted } from './pipeline.js';

const root = packageRoot();
const HIVEWALL = join(root, 'bin', 'hivewall.js');
const HIVEWALL_NODE_FLAGS = shebangNodeFlags(HIVEWALL);
const PLUGIN = join(root, 'bin', 'kubectl-hivewall.js');

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Prints the peak RSS (VmHWM, threads included) of the process on stderr's last line at exit. */
const HWM_PRELOAD = `process.on('exit', () => { const m = /VmHWM:\\s+(\\d+) kB/.exec(require('fs').readFileSync('/proc/self/status', 'utf8')); const c = process.cpuUsage(); process.stderr.write('\\nhwm_kb=' + (m ? m[1] : 0) + ' cpu_us=' + (c.user + c.system) + '\\n'); });`;

interface Run {
  readonly ms: number;
  readonly rssKb: number;
  /** User + system CPU of the whole process (all threads): steadier than wall time on a busy machine. */
  readonly cpuMs: number;
}

function timed(args: readonly string[], dir: string): Run {
  const preload = join(dir, 'hwm.cjs');
  writeFileSync(preload, HWM_PRELOAD);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--require', preload, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, rssKb: Number(/hwm_kb=(\d+)/.exec(r.stderr)?.[1] ?? 0), cpuMs: Number(/cpu_us=(\d+)/.exec(r.stderr)?.[1] ?? 0) / 1000 };
}

/** Runs the processes at once; wall time until the last one exits. */
async function timedTogether(argsList: readonly (readonly string[])[], cwd: string): Promise<number> {
  const t0 = performance.now();
  await Promise.all(argsList.map(async (args) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}: ${stderr}`);
  }));
  return performance.now() - t0;
}

/** Splits `path` at the first line start at or after its middle into `first` and `second`. */
async function splitInHalves(path: string, first: string, second: string): Promise<void> {
  const { size } = statSync(path);
  const fd = openSync(path, 'r');
  let cut = size;
  try {
    const probe = Buffer.alloc(64 * 1024);
    for (let at = Math.floor(size / 2); at < size; at += probe.length) {
      const n = readSync(fd, probe, 0, probe.length, at);
      const nl = probe.subarray(0, n).indexOf(0x0a);
      if (nl >= 0) {
        cut = at + nl + 1;
        break;
      }
    }
  } finally {
    closeSync(fd);
  }
  await pipeline(createReadStream(path, { end: cut - 1 }), createWriteStream(first));
  await pipeline(createReadStream(path, { start: cut }), createWriteStream(second));
}

export interface HelpBench {
  readonly overheadMs: number;
  /** The same on CPU time (the process's own, all threads). */
  readonly overheadCpuMs: number;
  readonly perCommand: Readonly<Record<string, number>>;
  readonly peakRssMb: number;
  readonly bareMs: number;
}

export function runHelpBench(runs = 7): HelpBench {
  const dir = mkdtempSync(join(tmpdir(), 'hivewall-cli-bench-'));
  try {
    const commands: Record<string, string[]> = {
      hivewall_help: [...HIVEWALL_NODE_FLAGS, HIVEWALL, '--help'],
      learn_help: [...HIVEWALL_NODE_FLAGS, HIVEWALL, 'learn', '--help'],
      kubectl_hivewall_help: [PLUGIN, '--help'],
    };
    for (const args of Object.values(commands)) timed(args, dir); // fill the compile cache
    const bare: Run[] = [];
    const times: Record<string, Run[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
    let rss = 0;
    for (let i = 0; i < runs; i++) {
      for (const [name, args] of Object.entries(commands)) {
        bare.push(timed(['-e', '0'], dir));
        const r = timed(args, dir);
        times[name]!.push(r);
        rss = Math.max(rss, r.rssKb);
      }
    }
    const bareMs = median(bare.map((r) => r.ms));
    const bareCpu = median(bare.map((r) => r.cpuMs));
    const perCommand = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v.map((r) => r.ms)) - bareMs]));
    const perCommandCpu = Object.values(times).map((v) => median(v.map((r) => r.cpuMs)) - bareCpu);
    return { overheadMs: Math.max(...Object.values(perCommand)), overheadCpuMs: Math.max(...perCommandCpu), perCommand, peakRssMb: rss / 1024, bareMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Spawn → first HTTP request at a local "API server", minus a whole `node -e 0`. */
export async function runPluginBench(runs = 7): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'hivewall-plugin-bench-'));
  let firstRequest: (() => void) | undefined;
  const server = createServer((req, res) => {
    firstRequest?.();
    firstRequest = undefined;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'hivewall.dev/v1alpha1', kind: 'PolicyProposalList', metadata: {}, items: [] }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'bench',
      clusters: [{ name: 'bench', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'bench', user: { token: 'bench' } }],
      contexts: [{ name: 'bench', context: { cluster: 'bench', user: 'bench', namespace: 'default' } }],
    }));
    const untilFirstRequest = async (): Promise<number> => {
      const seen = new Promise<void>((resolve) => (firstRequest = resolve));
      const t0 = performance.now();
      const child = spawn(process.execPath, [PLUGIN, 'proposals', '--kubeconfig', kubeconfig], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = once(child, 'exit').then(([code]) => code as number);
      await Promise.race([seen, exited.then((code) => {
        throw new Error(`kubectl hivewall proposals exited ${code} before any request: ${stderr}`);
      })]);
      const ms = performance.now() - t0;
      await exited;
      return ms;
    };
    const bareOnce = async (): Promise<number> => {
      const t0 = performance.now();
      await once(spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }), 'exit');
      return performance.now() - t0;
    };
    await untilFirstRequest(); // fill the compile cache
    const plugin: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < runs; i++) {
      bare.push(await bareOnce());
      plugin.push(await untilFirstRequest());
    }
    return median(plugin) - median(bare);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const BARE_PARSE = `const { createReadStream } = require('node:fs'); const { createInterface } = require('node:readline');
(async () => { let flows = 0; for await (const line of createInterface({ input: createReadStream(process.argv[1]), crlfDelay: Infinity })) { if (JSON.parse(line).flow !== undefined) flows++; } })();`;

export interface LearnWholeBench {
  readonly ratio: number;
  readonly ratio1w: number;
  /** The ratios on CPU time (all threads): what the work costs, whatever else the machine runs. */
  readonly cpuRatio: number;
  readonly cpuRatio1w: number;
  readonly bareS: number;
  readonly learnS: number;
  readonly learn1wS: number;
  /**
   * Two `learn --workers 1` processes at once, one per half of the file (nothing shared, nothing
   * merged): what a perfect two-way split of today's per-line work takes on this machine, so
   * bare / this is the most a two-core `learn` could reach without making the work itself cheaper.
   */
  readonly halvesS: number;
  readonly halvesRatio: number;
  readonly rssGrowth: number;
  readonly rss60kMb: number;
  readonly rss600kMb: number;
}

export async function runLearnWholeBench(smallLines = 60_000, factor = 10, runs = 3): Promise<LearnWholeBench> {
  const dir = mkdtempSync(join(tmpdir(), 'hivewall-learn-bench-'));
  try {
    const small = join(dir, 'small.jsonl');
    const large = join(dir, 'large.jsonl');
    await writeHubbleBenchFile(small, smallLines);
    await repeatShifted(small, large, factor);
    const halves = [join(dir, 'first.jsonl'), join(dir, 'second.jsonl')] as const;
    await splitInHalves(large, ...halves);
    const learnArgs = (file: string, out: string, workers?: number) =>
      [...HIVEWALL_NODE_FLAGS, HIVEWALL, 'learn', '-q', '--flows', file, '--out', out, ...(workers ? ['--workers', String(workers)] : [])];
    const learn = (file: string, workers?: number) => {
      const out = join(dir, 'out');
      rmSync(out, { recursive: true, force: true });
      return timed(learnArgs(file, out, workers), dir);
    };
    const learnHalvesAtOnce = () => {
      const outs = halves.map((_, i) => join(dir, `out-half-${i}`));
      for (const out of outs) rmSync(out, { recursive: true, force: true });
      return timedTogether(halves.map((file, i) => learnArgs(file, outs[i]!, 1)), dir);
    };
    const bareRun = () => timed(['-e', BARE_PARSE, large], dir);
    bareRun(); // warm the page cache
    const bareRuns: Run[] = [];
    const oneRuns: Run[] = [];
    const allRuns: Run[] = [];
    const halvesMs: number[] = [];
    let rssLarge = 0;
    for (let i = 0; i < runs; i++) {
      bareRuns.push(bareRun());
      oneRuns.push(learn(large, 1));
      const r = learn(large);
      allRuns.push(r);
      rssLarge = Math.max(rssLarge, r.rssKb);
      halvesMs.push(await learnHalvesAtOnce());
    }
    const [bare, one, all] = [bareRuns, oneRuns, allRuns].map((rs) => rs.map((r) => r.ms)) as [number[], number[], number[]];
    const cpu = (rs: readonly Run[]) => median(rs.map((r) => r.cpuMs));
    let rssSmall = 0;
    for (let i = 0; i < runs; i++) rssSmall = Math.max(rssSmall, learn(small).rssKb);
    return {
      ratio: median(bare) / median(all),
      ratio1w: median(bare) / median(one),
      cpuRatio: cpu(bareRuns) / cpu(allRuns),
      cpuRatio1w: cpu(bareRuns) / cpu(oneRuns),
      bareS: median(bare) / 1000,
      learnS: median(all) / 1000,
      learn1wS: median(one) / 1000,
      halvesS: median(halvesMs) / 1000,
      halvesRatio: median(bare) / median(halvesMs),
      rssGrowth: rssLarge / rssSmall,
      rss60kMb: rssSmall / 1024,
      rss600kMb: rssLarge / 1024,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const help = runHelpBench();
  console.log(`cli_help_overhead_ms=${help.overheadMs.toFixed(0)}`);
  console.log(`plugin_overhead_ms=${(await runPluginBench()).toFixed(0)}`);
  const learn = await runLearnWholeBench();
  console.log(`learn_whole_ratio=${learn.ratio.toFixed(2)} learn_whole_ratio_1w=${learn.ratio1w.toFixed(2)} rss_growth=${learn.rssGrowth.toFixed(2)}`);
}

