/**
 * `hivewall learn` on both cores: one plain Hubble file parsed by worker threads, a byte range at
 * a time (./ranges.ts), the results handed to the sink in file order, so whatever consumes them
 * (the Learner, which is order-sensitive: dedupe windows, replies, drops) sees exactly what the
 * single-thread reader (./reader.ts) would have given it. At most two ranges per thread are in
 * flight, so memory follows the range size, not the file.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ParseResult } from '../../domain/flow.js';
import type { ParseTask, ParseWorkerData } from './parse-worker.js';
import { tileRanges } from './ranges.js';

/** The parser thread's own bundle, defined by scripts/build-bundles.ts; absent when run from tsc output. */
declare const __HIVEWALL_PARSE_WORKER__: string | undefined;

export interface ParallelReadOptions {
  /** Parser threads (>= 1). */
  readonly workers: number;
  /** Bytes per range (default: the file split in 8 per thread, between 256 KiB and 8 MiB). */
  readonly rangeBytes?: number;
  readonly maxLineBytes?: number;
}

type Reply = { readonly id: number; readonly results: ParseResult[] } | { readonly id: number; readonly error: string };

const WORKER_SCRIPT = new URL('./parse-worker.js', import.meta.url);

/**
 * Whether parser threads can start: in the bundle (and binaries) and from tsc's JavaScript, not
 * from the TypeScript sources (tests load the commands in-process; they parse on their own thread).
 */
export function parallelAvailable(): boolean {
  return typeof __HIVEWALL_PARSE_WORKER__ === 'string' || existsSync(fileURLToPath(WORKER_SCRIPT));
}

function startWorker(data: ParseWorkerData): Worker {
  if (typeof __HIVEWALL_PARSE_WORKER__ === 'string') return new Worker(__HIVEWALL_PARSE_WORKER__, { eval: true, workerData: data });
  return new Worker(WORKER_SCRIPT, { workerData: data });
}

/**
 * The largest range: a file big enough uses this size whatever its length, so the ranges in flight
 * (and the memory they take) stay the same on longer inputs (bench: learn_whole_rss_growth).
 */
const RANGE_BYTES = 1024 * 1024;

export function defaultRangeBytes(size: number, workers: number): number {
  return Math.min(RANGE_BYTES, Math.max(256 * 1024, Math.ceil(size / (workers * 8))));
}

/** Reads `path` with `options.workers` parser threads; calls `sink` for every line in file order. Returns the line count. */
export async function readHubbleParallel(path: string, sink: (result: ParseResult) => void, options: ParallelReadOptions): Promise<number> {
  const { size } = await stat(path);
  const threads = Math.max(1, Math.floor(options.workers));
  const ranges = tileRanges(size, options.rangeBytes ?? defaultRangeBytes(size, threads));
  const data: ParseWorkerData = { path, ...(options.maxLineBytes !== undefined ? { maxLineBytes: options.maxLineBytes } : {}) };
  const pool = Array.from({ length: Math.min(threads, ranges.length) }, () => startWorker(data));
  const done = new Map<number, ParseResult[]>();
  let next = 0;
  let delivered = 0;
  let lines = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const outstanding = new Map<Worker, number>(pool.map((w) => [w, 0]));
      // Two ranges per thread (one parsed, one waiting), and never more than that many ranges
      // ahead of the one the sink needs next: memory follows the range size, not the file.
      const pump = () => {
        for (const worker of pool) {
          while (outstanding.get(worker)! < 2 && next < ranges.length && next - delivered < 2 * pool.length) {
            worker.postMessage({ id: next, range: ranges[next++]! } satisfies ParseTask);
            outstanding.set(worker, outstanding.get(worker)! + 1);
          }
        }
      };
      const drain = () => {
        for (let results = done.get(delivered); results !== undefined; results = done.get(delivered)) {
          done.delete(delivered++);
          lines += results.length;
          for (const result of results) sink(result);
        }
        if (delivered === ranges.length) resolve();
      };
      for (const worker of pool) {
        worker.on('message', (reply: Reply) => {
          if ('error' in reply) {
            reject(new Error(reply.error));
            return;
          }
          outstanding.set(worker, outstanding.get(worker)! - 1);
          done.set(reply.id, reply.results);
          try {
            drain();
            pump();
          } catch (error) {
            reject(error as Error);
          }
        });
        worker.on('error', reject);
        worker.on('exit', (code) => {
          if (delivered < ranges.length) reject(new Error(`a parser thread stopped (exit code ${code})`));
        });
      }
      pump();
      if (ranges.length === 0) resolve();
    });
  } finally {
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
  return lines;
}
