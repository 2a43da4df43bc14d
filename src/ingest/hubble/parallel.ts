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
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
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

type Reply = { readonly id: number } | { readonly id: number; readonly error: string };

const WORKER_SCRIPT = new URL('./parse-worker.js', import.meta.url);

/**
 * Whether parser threads can start: in the bundle (and binaries) and from tsc's JavaScript, not
 * from the TypeScript sources (tests load the commands in-process; they parse on their own thread).
 */
export function parallelAvailable(): boolean {
  return typeof __HIVEWALL_PARSE_WORKER__ === 'string' || existsSync(fileURLToPath(WORKER_SCRIPT));
}

/** A parser thread and the port its results arrive on. */
interface Parser {
  readonly worker: Worker;
  readonly results: MessagePort;
}

function startParser(data: Omit<ParseWorkerData, 'results'>): Parser {
  const { port1, port2 } = new MessageChannel();
  const workerData: ParseWorkerData = { ...data, results: port2 };
  const worker = typeof __HIVEWALL_PARSE_WORKER__ === 'string'
    ? new Worker(__HIVEWALL_PARSE_WORKER__, { eval: true, workerData, transferList: [port2] })
    : new Worker(WORKER_SCRIPT, { workerData, transferList: [port2] });
  return { worker, results: port1 };
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
  const data = { path, ...(options.maxLineBytes !== undefined ? { maxLineBytes: options.maxLineBytes } : {}) };
  const parsers = Array.from({ length: Math.min(threads, ranges.length) }, () => startParser(data));
  const pool = parsers.map((p) => p.worker);
  const resultsOf = new Map(parsers.map((p) => [p.worker, p.results]));
  /** The thread each range went to: its results are the next message on that thread's port. */
  const owner: Worker[] = [];
  const ready = new Set<number>();
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
            owner[next] = worker;
            worker.postMessage({ id: next, range: ranges[next++]! } satisfies ParseTask);
            outstanding.set(worker, outstanding.get(worker)! + 1);
          }
        }
      };
      // A range's results are taken off its thread's port (and deserialized) only when the sink
      // needs them: the objects die young instead of waiting in the heap for the ranges before
      // them, so the young generation does not grow with the input (bench: learn_whole_rss_growth).
      // Each thread parses its ranges in the order given, so its port holds them in that order.
      const drain = () => {
        while (ready.has(delivered)) {
          ready.delete(delivered);
          const received = receiveMessageOnPort(resultsOf.get(owner[delivered]!)!);
          if (received === undefined) throw new Error(`a parser thread announced range ${delivered} but sent no results`);
          delivered++;
          const results = received.message as ParseResult[];
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
          ready.add(reply.id);
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
    for (const parser of parsers) parser.results.close();
  }
  return lines;
}
