/**
 * Splitting one Hubble file between parser threads so that joining their results in order gives
 * exactly the single-thread reader's results (src/ingest/hubble/parallel.ts).
 *
 * A line belongs to the byte range its first byte lies in: range [start, end) parses every line
 * that starts at p with start <= p < end (p = 0, or byte p-1 is `\n`), to that line's `\n` even
 * when it lies beyond `end`. Ranges that tile the file therefore see every line exactly once.
 * Each line is parsed as the single-thread reader (./reader.ts) parses it: the byte scanner,
 * `too-long` past `maxLineBytes` (memory stays bounded by the read block and that limit), and
 * only the range at offset 0 strips a UTF-8 byte order mark. A line the scanner leaves to the full
 * parser is handed over unparsed ({@link RangeSink.unscanned}): a parser thread does not load the
 * full parser, whose schema library costs every thread's start more than the scanner does.
 */
import { Buffer } from 'node:buffer';
import type { ParseResult } from '../../domain/flow.js';
import { LineSplitter } from '../lines.js';
import { DEFAULT_MAX_LINE_BYTES, tooLong } from './line-limit.js';
import { scanLineBytes, takeScannedLine } from './scan.js';

const LF = 0x0a;

export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** Reads into `buffer` from file offset `position`; returns the bytes read (0 at the end). */
export type ReadAt = (buffer: Buffer, position: number) => number;

export interface RangeOptions {
  readonly maxLineBytes?: number;
  /** Read size (default 1 MiB). */
  readonly blockBytes?: number;
  /** A buffer to read into (instead of a new one of `blockBytes`), reused by the caller from range to range. */
  readonly block?: Buffer;
}

/** Where a range's lines go, in file order. */
export interface RangeSink {
  /** The scanner's result for a line. */
  result(result: ParseResult): void;
  /** A line the scanner left to the full parser (./parse.ts); its bytes are valid only during the call. */
  unscanned(line: Buffer): void;
}

/** The default read size: 1 MiB. */
export const BLOCK_BYTES = 1024 * 1024;
/** Reads past a range's end (for its last line) and before its start (for its first line) take this much at a time. */
const PROBE_BYTES = 16 * 1024;

/** Tiles [0, size) with ranges of `bytes` (the last one shorter). */
export function tileRanges(size: number, bytes: number): ByteRange[] {
  const step = Math.max(1, Math.floor(bytes));
  const ranges: ByteRange[] = [];
  for (let start = 0; start < size; start += step) ranges.push({ start, end: Math.min(size, start + step) });
  return ranges;
}

/** The results of the lines range `range` owns, in file order, `full` parsing what the scanner leaves. */
export function parseRange(read: ReadAt, range: ByteRange, full: (line: Buffer) => ParseResult, options: RangeOptions = {}): ParseResult[] {
  const results: ParseResult[] = [];
  scanRange(read, range, { result: (result) => results.push(result), unscanned: (line) => results.push(full(line)) }, options);
  return results;
}

/** Tells `sink` about every line range `range` owns, in file order. */
export function scanRange(read: ReadAt, range: ByteRange, sink: RangeSink, options: RangeOptions = {}): void {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const block = options.block ?? Buffer.allocUnsafe(Math.max(2, options.blockBytes ?? BLOCK_BYTES));
  const deliver = (result: ParseResult) => sink.result(result);
  const splitter = new LineSplitter(
    {
      line: (buf, start, end) => {
        const result = scanLineBytes(buf, start, end, maxLineBytes);
        if (result !== undefined) sink.result(result);
        else sink.unscanned(buf.subarray(start, end));
      },
      overlong: (bytes) => sink.result(tooLong(bytes, maxLineBytes)),
      lineAt: (buf, start, limit) => takeScannedLine(buf, start, limit, deliver),
    },
    { maxLineBytes, stripBom: range.start === 0 },
  );

  // Reads are cut to what is needed (a range reads its own bytes and a little more, not a whole
  // block per read): the bytes before the first line and past the last one belong to the neighbours.
  const probe = block.subarray(0, Math.min(block.length, PROBE_BYTES));

  // The first line starting at or after range.start: just past the first `\n` at or after start-1.
  let position = range.start;
  if (range.start > 0) {
    position = range.start - 1;
    for (;;) {
      const n = read(probe, position);
      if (n === 0) return;
      const nl = block.subarray(0, n).indexOf(LF);
      if (nl >= 0) {
        position += nl + 1;
        break;
      }
      position += n;
    }
  }
  if (position >= range.end) return;

  // Whole lines up to and including the `\n` at or after end-1 (the end of the last owned line).
  for (;;) {
    const want = Math.max(0, range.end - position) + PROBE_BYTES;
    const n = read(want >= block.length ? block : block.subarray(0, want), position);
    if (n === 0) break;
    const chunk = block.subarray(0, n);
    const from = range.end - 1 - position;
    const nl = from < n ? chunk.indexOf(LF, Math.max(0, from)) : -1;
    if (nl >= 0) {
      splitter.push(chunk.subarray(0, nl + 1));
      return;
    }
    splitter.push(chunk);
    position += n;
  }
  splitter.end();
}
