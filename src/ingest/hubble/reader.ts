/**
 * Reads Hubble flow logs — `hubble observe -o json|jsonpb` output, the Cilium flow exporter's file
 * (`hubble-export-file-path`) and its rotated backups, which are gzip-compressed — line by line from
 * bytes, and hands every line's {@link ParseResult} to a sink. The I/O half of the Hubble file
 * source; the parsing (scan.ts / parse.ts) is pure.
 *
 * Throughput: plain files are read with 1 MiB positional reads into a ring of reused buffers (the
 * next reads run while the current chunk is parsed; a stream would allocate a buffer per chunk), lines
 * are split on `\n` in place (src/ingest/lines.ts) and scanned in place by the fast path; nothing is
 * decoded to a string except the fields a `Flow` keeps. The sink is a plain callback: an async
 * iterator per line costs more than the parse itself ({@link hubbleResults} batches per chunk).
 * Standard input and other streams are consumed as Node streams. gzip input (magic bytes `1f 8b`,
 * RFC 1952 §2.3.1, multi-member files included) is inflated with zlib as a stream. Memory stays
 * bounded by the chunk size plus `maxLineBytes`, whatever the file.
 */
import { Buffer } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { ParseResult, SkipReason } from '../../domain/flow.js';
import { LineSplitter } from '../lines.js';
import { DEFAULT_MAX_LINE_BYTES, tooLong, type HubbleParseOptions } from './line-limit.js';
import { parseHubbleLine } from './parse.js';
import { takeScannedLine } from './scan.js';
import { scanHubbleBytes } from './scan-line.js';

/** Receives each line's result with its 1-based line number. */
export type HubbleSink = (result: ParseResult, line: number) => void;

export interface HubbleReadOptions extends HubbleParseOptions {
  /** Use the byte scanner (default). `false` parses every line with `JSON.parse` + zod. */
  readonly fastPath?: boolean;
  /** Read size in bytes (default 1 MiB). */
  readonly chunkBytes?: number;
  /** Stops reading between chunks; the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

export interface HubbleReadStats {
  /** Lines seen (including blank and skipped ones). */
  lines: number;
  /** Bytes of (decompressed) input. */
  bytes: number;
  /** Whether the input was gzip-compressed. */
  gzip: boolean;
  flows: number;
  /** Non-flow events: lost events, node status, agent and debug events. */
  events: number;
  skipped: Record<SkipReason, number>;
}

/** 1 MiB: fewer, larger reads cost less than many small ones (measured: 256 KiB reads take twice as long). */
const DEFAULT_CHUNK_BYTES = 1024 * 1024;

function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Line splitting + parsing + counting, fed with chunks by the readers below. */
class HubbleLineProcessor {
  readonly stats: HubbleReadStats = {
    lines: 0,
    bytes: 0,
    gzip: false,
    flows: 0,
    events: 0,
    skipped: { empty: 0, malformed: 0, 'schema-mismatch': 0, 'too-long': 0, 'unsupported-protocol': 0, 'invalid-name': 0 },
  };
  private readonly splitter: LineSplitter;

  constructor(sink: HubbleSink, options: HubbleReadOptions) {
    const parseOptions: HubbleParseOptions = { maxLineBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES };
    const limit = parseOptions.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    const fast = options.fastPath ?? true;
    const stats = this.stats;
    const deliver = (result: ParseResult) => {
      const n = ++stats.lines;
      if (result.kind === 'flow') stats.flows++;
      else if (result.kind === 'skip') stats.skipped[result.reason]++;
      else stats.events++;
      sink(result, n);
    };
    this.splitter = new LineSplitter(
      {
        line: fast
          ? (buf, start, end) => deliver(scanHubbleBytes(buf, start, end, parseOptions))
          : (buf, start, end) => deliver(parseHubbleLine(buf.subarray(start, end), parseOptions)),
        overlong: (bytes) => deliver(tooLong(bytes, limit)),
        ...(fast ? { lineAt: (buf: Buffer, start: number, limit: number) => takeScannedLine(buf, start, limit, deliver) } : {}),
      },
      { maxLineBytes: limit },
    );
  }

  push(chunk: Buffer): void {
    this.stats.bytes += chunk.length;
    this.splitter.push(chunk);
  }

  end(): HubbleReadStats {
    this.splitter.end();
    return this.stats;
  }
}

/** Inflates `compressed`, destroying both streams when the consumer stops early. */
async function* gunzip(compressed: Readable): AsyncGenerator<Buffer> {
  const inflater = createGunzip();
  compressed.on('error', (error) => inflater.destroy(error));
  compressed.pipe(inflater);
  try {
    for await (const chunk of inflater) yield chunk as Buffer;
  } finally {
    compressed.destroy();
    inflater.destroy();
  }
}

/** The (decompressed) chunks of a byte stream; gzip is detected from the first two bytes. */
async function* streamChunks(input: AsyncIterable<Uint8Array>, stats: HubbleReadStats): AsyncGenerator<Buffer> {
  const iterator = input[Symbol.asyncIterator]();
  let first: Buffer | undefined;
  // Gather the two magic bytes (a stream may deliver a 1-byte first chunk).
  while (first === undefined || first.length < 2) {
    const next = await iterator.next();
    if (next.done) break;
    const chunk = toBuffer(next.value);
    first = first === undefined ? chunk : Buffer.concat([first, chunk]);
  }
  if (first === undefined) return;
  const rest = async function* (): AsyncGenerator<Buffer> {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield toBuffer(next.value);
    }
  };
  if (isGzip(first)) {
    stats.gzip = true;
    const head = first;
    yield* gunzip(Readable.from((async function* () {
      yield head;
      yield* rest();
    })()));
    return;
  }
  yield first;
  yield* rest();
}

function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Reads in flight ahead of the chunk being parsed (each into its own buffer). */
const READS_AHEAD = 3;

/**
 * The chunks of a file: positional reads into a ring of reused buffers, {@link READS_AHEAD} of them
 * already under way while the consumer works on the current chunk (each chunk is valid until the
 * next one is requested); or inflated gzip. Several reads in flight keep the parser fed when the
 * thread doing the reads has to wait for a core (the other core busy compiling or collecting).
 * A read is placed where the one before it should end; a short read (the end of the file) makes
 * the reads placed after it start again from where it did end.
 */
async function* fileChunks(path: string, chunkBytes: number, stats: HubbleReadStats): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r');
  /** The reads in flight, in file order, with the buffer slot each reads into. */
  const pending: { slot: number; read: Promise<{ bytesRead: number; buffer: Buffer }> }[] = [];
  try {
    const size = Math.max(chunkBytes, 2);
    const buffers = Array.from({ length: READS_AHEAD + 1 }, () => Buffer.allocUnsafe(size));
    const { bytesRead } = await handle.read(buffers[0]!, 0, 2, 0);
    if (bytesRead === 2 && isGzip(buffers[0]!)) {
      stats.gzip = true;
      yield* gunzip(createReadStream('', { fd: handle, autoClose: false, start: 0, highWaterMark: chunkBytes }));
      return;
    }
    /** Where the next read to be placed starts, and the buffer it goes to. */
    let next = 0;
    let slot = 0;
    const place = () => {
      pending.push({ slot, read: handle.read(buffers[slot]!, 0, size, next) });
      next += size;
      slot = (slot + 1) % buffers.length;
    };
    let position = 0;
    while (pending.length < READS_AHEAD) place();
    for (;;) {
      const current = pending.shift()!;
      const { bytesRead: n, buffer } = await current.read;
      if (n === 0) return;
      position += n;
      if (n < size) {
        // Short: the reads placed after it assumed a full one. Drop them and go on from here.
        while (pending.length > 0) await pending.shift()!.read;
        slot = (current.slot + 1) % buffers.length;
        next = position;
      }
      while (pending.length < READS_AHEAD) place();
      yield n === size ? buffer : buffer.subarray(0, n);
    }
  } finally {
    await Promise.allSettled(pending.map((p) => p.read));
    await handle.close();
  }
}

/** A source: a file path (`-` is standard input) or a byte stream. */
export type HubbleSource = string | AsyncIterable<Uint8Array>;

function chunksOf(source: HubbleSource, options: HubbleReadOptions, stats: HubbleReadStats): AsyncGenerator<Buffer> {
  if (typeof source !== 'string') return streamChunks(source, stats);
  if (source === '-') return streamChunks(process.stdin, stats);
  return fileChunks(source, options.chunkBytes ?? DEFAULT_CHUNK_BYTES, stats);
}

/**
 * Reads Hubble lines from a file path (`-`: standard input) or a byte stream (any `Readable` or
 * async iterable of chunks), gzip-compressed or not, calling `sink` for every line in order.
 * Resolves with the counts; rejects on I/O or decompression errors (bad lines never reject).
 */
export async function readHubble(source: HubbleSource, sink: HubbleSink, options: HubbleReadOptions = {}): Promise<HubbleReadStats> {
  const processor = new HubbleLineProcessor(sink, options);
  for await (const chunk of chunksOf(source, options, processor.stats)) {
    options.signal?.throwIfAborted();
    processor.push(chunk);
  }
  return processor.end();
}

/** {@link readHubble} for a file path (`-` is standard input). */
export function readHubbleFile(path: string, sink: HubbleSink, options: HubbleReadOptions = {}): Promise<HubbleReadStats> {
  return readHubble(path, sink, options);
}

/** {@link readHubble} for a byte stream. */
export function readHubbleStream(input: AsyncIterable<Uint8Array>, sink: HubbleSink, options: HubbleReadOptions = {}): Promise<HubbleReadStats> {
  return readHubble(input, sink, options);
}

/**
 * The results as an async iterable, for callers that prefer `for await`. Results are produced a
 * chunk at a time (one await per chunk, not per line) and reading follows consumption; the
 * generator's return value is the counts. Prefer {@link readHubble}'s sink for throughput.
 */
export async function* hubbleResults(source: HubbleSource, options: HubbleReadOptions = {}): AsyncGenerator<ParseResult, HubbleReadStats> {
  let batch: ParseResult[] = [];
  const processor = new HubbleLineProcessor((result) => batch.push(result), options);
  for await (const chunk of chunksOf(source, options, processor.stats)) {
    options.signal?.throwIfAborted();
    processor.push(chunk);
    if (batch.length > 0) {
      const ready = batch;
      batch = [];
      yield* ready;
    }
  }
  const stats = processor.end();
  yield* batch;
  return stats;
}
