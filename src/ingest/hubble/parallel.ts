/**
 * `hivewall learn` on both cores: one plain Hubble file parsed a byte range at a time (./ranges.ts)
 * by parser threads and by the calling thread itself, the results handed to the sink in file order,
 * so whatever consumes them (the Learner, which is order-sensitive: dedupe windows, replies, drops)
 * sees exactly what the single-thread reader (./reader.ts) would have given it.
 *
 * `workers` counts the calling thread: it takes `workers - 1` parser threads (./parser-threads.ts,
 * started early by the command line when it could guess). Who parses which
 * range is settled on a shared board (./claims.ts), one compare-and-swap per range. The calling
 * thread walks the ranges in order: a range nobody has claimed it claims and parses straight into
 * the sink (no copy, no encoding: its objects die young); a range a parser thread claimed it takes
 * off that thread's port, compact (typed arrays transferred, each string and endpoint once per
 * thread: ./compact.ts), and decodes. Parser threads claim {@link LEAD} ranges past the one the
 * sink needs next, so the calling thread finds the nearer ones free and the split between the
 * threads follows their speeds. When the range needed next is still being parsed elsewhere, the
 * calling thread parses the next free one ahead ({@link OWN_AHEAD} at most, as objects) instead of
 * waiting. Parser threads claim nothing {@link WINDOW_PER_THREAD} ranges (per thread) or more past
 * the sink, so memory follows the range size, not the file.
 */
import { Buffer } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { ParseResult } from '../../domain/flow.js';
import { ClaimBoard, SELF } from './claims.js';
import { CompactDecoder } from './compact.js';
import { parseHubbleLine } from './parse.js';
import type { ParseJob, ParseMessage } from './parse-job.js';
import { takeParserThreads, type ParserThread } from './parser-threads.js';
import { DEFAULT_MAX_LINE_BYTES } from './line-limit.js';
import { BLOCK_BYTES, parseRange, scanRange, tileRanges, type RangeSink } from './ranges.js';

export interface ParallelReadOptions {
  /** Threads parsing, the calling one included (>= 1: 1 starts none). */
  readonly workers: number;
  /** Bytes per range (default: the file split in 8 per thread, between 256 KiB and 1 MiB). */
  readonly rangeBytes?: number;
  readonly maxLineBytes?: number;
}

/** A parser thread with its job: the port its results arrive on and their decoder. */
interface Parser {
  readonly thread: ParserThread;
  readonly results: MessagePort;
  readonly decoder: CompactDecoder;
}

/** Sends `thread` its job; the results come back on the returned parser's port. */
function startParser(thread: ParserThread, job: Omit<ParseJob, 'results'>, full: (line: Uint8Array) => ParseResult): Parser {
  const { port1, port2 } = new MessageChannel();
  thread.worker.postMessage({ ...job, results: port2 } satisfies ParseJob, [port2]);
  return { thread, results: port1, decoder: new CompactDecoder(full) };
}

/**
 * The largest range: a file big enough uses this size whatever its length, so the ranges in flight
 * (and the memory they take) stay the same on longer inputs (bench: learn_whole_rss_growth).
 */
const RANGE_BYTES = 1024 * 1024;

export function defaultRangeBytes(size: number, workers: number): number {
  return Math.min(RANGE_BYTES, Math.max(256 * 1024, Math.ceil(size / (workers * 8))));
}

/** Parser threads claim ranges at least this far past the one the sink needs next. */
const LEAD = 2;
/**
 * Parser threads claim nothing this many ranges (per thread) or more past the one the sink needs
 * next: results waiting compact (a few tens of KiB a range) stay bounded, and a thread that has
 * run ahead keeps parsing while the calling thread is busy.
 */
const WINDOW_PER_THREAD = 16;
/**
 * Ranges the calling thread may parse ahead of the sink (held as objects until their turn). Enough
 * that it keeps working while a parser thread that lost its core finishes a range: with another
 * process busy on one of 2 cores, 8 took 3.4-3.9 s on 600k lines where 2 took 3.5-5.0 s; quiet,
 * the same 2.0-2.1 s and the same peak RSS (133-146 MB on 60k and on 600k lines).
 */
const OWN_AHEAD = 8;
/** Longest single wait for a parser thread's batch before the thread's events are looked at. */
const WAIT_MS = 20;
/** Ranges fed to the sink between returns to the event loop (progress output, thread events). */
const YIELD_EVERY = 32;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface ParallelReadStats {
  readonly lines: number;
  readonly ranges: number;
  /** Ranges parser threads parsed (the rest the calling thread did). */
  readonly parsedByThreads: number;
}

/** Reads `path` with `options.workers` threads (the calling one included); calls `sink` for every line in file order. */
export async function readHubbleParallel(path: string, sink: (result: ParseResult) => void, options: ParallelReadOptions): Promise<ParallelReadStats> {
  const { size } = await stat(path);
  const threads = Math.max(1, Math.floor(options.workers));
  const rangeBytes = options.rangeBytes ?? defaultRangeBytes(size, threads);
  const ranges = tileRanges(size, rangeBytes);
  const rangeOptions = { block: Buffer.allocUnsafe(BLOCK_BYTES), ...(options.maxLineBytes !== undefined ? { maxLineBytes: options.maxLineBytes } : {}) };
  // The lines the scanner leaves to the full parser are parsed here, as the single-thread reader would.
  const full = (line: Uint8Array) => parseHubbleLine(line, { maxLineBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES });
  const parserCount = Math.min(threads - 1, ranges.length);
  const board = ClaimBoard.create(ranges.length, parserCount);
  const window = WINDOW_PER_THREAD * parserCount;
  const parsers = takeParserThreads(parserCount).map((thread, i) => startParser(thread, {
    path, size, rangeBytes, board: board.buffer, self: i + 1, lead: LEAD, window,
    ...(options.maxLineBytes !== undefined ? { maxLineBytes: options.maxLineBytes } : {}),
  }, full));
  const fd = openSync(path, 'r');
  const read = (buffer: Buffer, position: number) => readSync(fd, buffer, 0, buffer.length, position);
  let lines = 0;
  let parsedByThreads = 0;
  const count = (result: ParseResult) => {
    lines++;
    sink(result);
  };
  const direct: RangeSink = { result: count, unscanned: (line) => count(full(line)) };
  /** Ranges this thread parsed ahead of the sink, waiting for their turn. */
  const ahead = new Map<number, ParseResult[]>();
  const parseAhead = (from: number): boolean => {
    const limit = Math.min(ranges.length, from + Math.max(window, OWN_AHEAD + LEAD));
    for (let r = from; r < limit; r++) {
      if (!board.claim(r, SELF)) continue;
      ahead.set(r, parseRange(read, ranges[r]!, full, rangeOptions));
      return true;
    }
    return false;
  };
  /** The message for range `r` from parser thread `who`: parses ahead or waits while it is not there. */
  const messageFor = async (who: number, r: number): Promise<ParseMessage> => {
    const parser = parsers[who - 1]!;
    for (;;) {
      const seen = board.posted(who);
      const received = receiveMessageOnPort(parser.results);
      if (received !== undefined) {
        const message = received.message as ParseMessage;
        if (message.id !== r) throw new Error(`parser thread ${who} sent range ${message.id}, expected ${r}`);
        return message;
      }
      if (parser.thread.failure !== undefined) throw parser.thread.failure;
      if (ahead.size < OWN_AHEAD && parseAhead(r + 1)) continue;
      if (!board.waitPosted(who, seen, WAIT_MS)) await nextTurn();
    }
  };
  try {
    for (let r = 0; r < ranges.length; r++) {
      board.setDelivered(r);
      if (r % YIELD_EVERY === YIELD_EVERY - 1) await nextTurn();
      const owner = board.claim(r, SELF) ? SELF : board.owner(r);
      if (owner === SELF) {
        const results = ahead.get(r);
        if (results === undefined) scanRange(read, ranges[r]!, direct, rangeOptions);
        else {
          ahead.delete(r);
          for (const result of results) count(result);
        }
        continue;
      }
      const message = await messageFor(owner, r);
      if ('error' in message) throw new Error(message.error);
      lines += parsers[owner - 1]!.decoder.decode(message.batch, sink);
      parsedByThreads++;
    }
  } finally {
    board.stop();
    closeSync(fd);
    await Promise.all(parsers.map((p) => p.thread.worker.terminate()));
    for (const parser of parsers) parser.results.close();
  }
  return { lines, ranges: ranges.length, parsedByThreads };
}
