/**
 * `hivewall learn` on both cores: one plain Hubble file parsed a byte range at a time (./ranges.ts)
 * by worker threads and by the calling thread itself, the results handed to the sink in file order,
 * so whatever consumes them (the Learner, which is order-sensitive: dedupe windows, replies, drops)
 * sees exactly what the single-thread reader (./reader.ts) would have given it.
 *
 * `workers` counts the calling thread: it starts `workers - 1` parser threads. A parser thread sends
 * each range's results compact (typed arrays transferred, each string and endpoint once per thread:
 * ./compact.ts), decoded here only when the sink needs them. The calling thread feeds the sink and,
 * whenever the range the sink needs next is not back yet, parses the next range nobody has taken
 * itself instead of waiting: the split between the threads follows their speeds, so the sink's
 * thread is never idle while there is parsing left. What it parses ahead waits compact too (its
 * own encoder), not as objects: objects that wait for the ranges before them outlive young-space
 * collections and pile up in old space, so memory would follow the input (bench: rss_growth). At
 * most {@link PER_THREAD} ranges per parser thread and {@link OWN_AHEAD} of the calling thread's
 * are in flight, so memory follows the range size, not the file.
 */
import { Buffer } from 'node:buffer';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { ParseResult } from '../../domain/flow.js';
import { CompactDecoder, CompactEncoder, type CompactBatch } from './compact.js';
import { parseHubbleLine } from './parse.js';
import type { ParseReply, ParseTask, ParseWorkerData } from './parse-worker.js';
import { DEFAULT_MAX_LINE_BYTES } from './line-limit.js';
import { BLOCK_BYTES, scanRange, tileRanges, type RangeSink } from './ranges.js';

/** The parser thread's own bundle, defined by scripts/build-bundles.ts; absent when run from tsc output. */
declare const __HIVEWALL_PARSE_WORKER__: string | undefined;

export interface ParallelReadOptions {
  /** Threads parsing, the calling one included (>= 1: 1 starts none). */
  readonly workers: number;
  /** Bytes per range (default: the file split in 8 per thread, between 256 KiB and 8 MiB). */
  readonly rangeBytes?: number;
  readonly maxLineBytes?: number;
}


const WORKER_SCRIPT = new URL('./parse-worker.js', import.meta.url);

/**
 * Whether parser threads can start: in the bundle (and binaries) and from tsc's JavaScript, not
 * from the TypeScript sources (tests load the commands in-process; they parse on their own thread).
 */
export function parallelAvailable(): boolean {
  return typeof __HIVEWALL_PARSE_WORKER__ === 'string' || existsSync(fileURLToPath(WORKER_SCRIPT));
}

/** A parser thread, the port its results arrive on and their decoder. */
interface Parser {
  readonly worker: Worker;
  readonly results: MessagePort;
  readonly decoder: CompactDecoder;
}

function startParser(data: Omit<ParseWorkerData, 'results'>, full: (line: Uint8Array) => ParseResult): Parser {
  const { port1, port2 } = new MessageChannel();
  const workerData: ParseWorkerData = { ...data, results: port2 };
  const worker = typeof __HIVEWALL_PARSE_WORKER__ === 'string'
    ? new Worker(__HIVEWALL_PARSE_WORKER__, { eval: true, workerData, transferList: [port2] })
    : new Worker(WORKER_SCRIPT, { workerData, transferList: [port2] });
  return { worker, results: port1, decoder: new CompactDecoder(full) };
}

/**
 * The largest range: a file big enough uses this size whatever its length, so the ranges in flight
 * (and the memory they take) stay the same on longer inputs (bench: learn_whole_rss_growth).
 */
const RANGE_BYTES = 1024 * 1024;

export function defaultRangeBytes(size: number, workers: number): number {
  return Math.min(RANGE_BYTES, Math.max(256 * 1024, Math.ceil(size / (workers * 8))));
}

/** The owner of a range the calling thread parses itself. */
const SELF = null;
/**
 * Ranges the calling thread may have parsed ahead of the sink (their results wait compact, a few
 * tens of KiB each). Enough that it rarely sits idle while a parser thread is late with the range
 * the sink needs (on a busy machine a thread loses its core for a while): at 4 the calling thread
 * waited 230-390 ms of a ~2.3 s run on 600k lines, at 16 about 10 ms.
 */
const OWN_AHEAD = 16;
/**
 * Ranges handed to a parser thread and not yet taken back: enough that it keeps parsing while the
 * calling thread is busy (a batch is a few tens of KiB: ./compact.ts).
 */
const PER_THREAD = 6;

/** Reads `path` with `options.workers` threads (the calling one included); calls `sink` for every line in file order. Returns the line count. */
export async function readHubbleParallel(path: string, sink: (result: ParseResult) => void, options: ParallelReadOptions): Promise<number> {
  const { size } = await stat(path);
  const threads = Math.max(1, Math.floor(options.workers));
  const ranges = tileRanges(size, options.rangeBytes ?? defaultRangeBytes(size, threads));
  const rangeOptions = { block: Buffer.allocUnsafe(BLOCK_BYTES), ...(options.maxLineBytes !== undefined ? { maxLineBytes: options.maxLineBytes } : {}) };
  const data = { path, ...(options.maxLineBytes !== undefined ? { maxLineBytes: options.maxLineBytes } : {}) };
  // The lines the scanner leaves to the full parser are parsed here, as the single-thread reader would.
  const full = (line: Uint8Array) => parseHubbleLine(line, { maxLineBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES });
  const parsers = Array.from({ length: Math.min(threads - 1, ranges.length) }, () => startParser(data, full));
  const fd = openSync(path, 'r');
  const read = (buffer: Buffer, position: number) => readSync(fd, buffer, 0, buffer.length, position);
  /** Who parses each range handed out so far: a parser thread (its results are the next message on its port) or {@link SELF}. */
  const owner: (Parser | typeof SELF)[] = [];
  const outstanding = new Map<Parser, number>(parsers.map((p) => [p, 0]));
  /** Parser threads that said they are up: until then this thread parses alone (a thread takes a while to start). */
  const started = new Set<Parser>();
  /** The results of the ranges this thread parsed ahead of the sink, compact (taken and decoded in range order). */
  const own = new Map<number, CompactBatch>();
  const ownEncoder = new CompactEncoder();
  const ownDecoder = new CompactDecoder(full);
  const encode: RangeSink = { result: (result) => ownEncoder.add(result), unscanned: (line) => ownEncoder.addUnscanned(line) };
  let next = 0;
  let delivered = 0;
  let lines = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      // A few ranges per parser thread, and never more than those and the calling thread's ahead
      // of the one the sink needs next: memory follows the range size, not the file.
      const window = PER_THREAD * parsers.length + OWN_AHEAD;
      const pump = () => {
        for (const parser of started) {
          while (outstanding.get(parser)! < PER_THREAD && next < ranges.length && next - delivered < window) {
            owner[next] = parser;
            parser.worker.postMessage({ id: next, range: ranges[next++]! } satisfies ParseTask);
            outstanding.set(parser, outstanding.get(parser)! + 1);
          }
        }
      };
      // Feeds the sink in order for as long as it can. A parser thread's results are taken off its
      // port (and decoded) only when the sink needs them: the objects die young instead of waiting
      // in the heap for the ranges before them, so the young generation does not grow with the
      // input (bench: learn_whole_rss_growth). Each thread parses its ranges in the order given, so
      // its port holds them (and its decoder's tables grow) in that order.
      const step = () => {
        for (;;) {
          pump();
          if (delivered === ranges.length) {
            resolve();
            return;
          }
          const from = owner[delivered];
          if (from === SELF) {
            const batch = own.get(delivered)!;
            own.delete(delivered);
            lines += ownDecoder.decode(batch, sink);
            delivered++;
            continue;
          }
          if (from !== undefined && from !== SELF) {
            const received = receiveMessageOnPort(from.results);
            if (received !== undefined) {
              outstanding.set(from, outstanding.get(from)! - 1);
              lines += from.decoder.decode(received.message as CompactBatch, sink);
              delivered++;
              continue;
            }
          }
          // The range needed next is still being parsed elsewhere: parse the next free one here.
          if (own.size >= OWN_AHEAD || next >= ranges.length) return;
          owner[next] = SELF;
          scanRange(read, ranges[next]!, encode, rangeOptions);
          own.set(next++, ownEncoder.take().batch);
          // Back to the event loop between ranges parsed here, so a thread that has started is seen.
          if (!later) {
            later = true;
            setImmediate(run);
          }
          return;
        }
      };
      let later = false;
      const run = () => {
        later = false;
        try {
          step();
        } catch (error) {
          reject(error as Error);
        }
      };
      for (const parser of parsers) {
        parser.worker.on('message', (reply: ParseReply) => {
          if ('error' in reply) reject(new Error(reply.error));
          else {
            if ('started' in reply) started.add(parser);
            run();
          }
        });
        parser.worker.on('error', reject);
        parser.worker.on('exit', (code) => {
          if (delivered < ranges.length) reject(new Error(`a parser thread stopped (exit code ${code})`));
        });
      }
      run();
    });
  } finally {
    closeSync(fd);
    await Promise.all(parsers.map((p) => p.worker.terminate()));
    for (const parser of parsers) parser.results.close();
  }
  return lines;
}
