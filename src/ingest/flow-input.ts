/**
 * Opens one flow input (a file or stdin), recognises gzip (rotated Hubble exporter backups) by
 * its magic bytes and the format by its first non-blank byte (`{` → Hubble JSON, else conntrack),
 * and streams every line's parse result to the sink. A missing or unreadable file is a
 * FlowInputError (one clear line); a stream that breaks midway (truncated gzip) keeps what was
 * read and reports the break in the stats. Nothing here throws on a bad line. The file stream and
 * the inflater a read opened are destroyed however it ends (standard input is left to its owner).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { ParseResult } from '../domain/flow.js';
import { readConntrack } from './conntrack/read.js';
import { readHubbleParallel } from './hubble/parallel.js';
import { PARALLEL_MIN_BYTES, parallelAvailable } from './hubble/parser-threads.js';
import { readHubble } from './hubble/reader.js';

export type FlowFormat = 'auto' | 'hubble' | 'conntrack';

export interface InputStats {
  readonly name: string;
  readonly format: 'hubble' | 'conntrack' | 'empty';
  readonly gzip: boolean;
  readonly lines: number;
  /** Why reading stopped early, when it did (the lines before it were used). */
  readonly error?: string;
}

export class FlowInputError extends Error {
  override readonly name = 'FlowInputError';
}

export type FlowInputSource = { readonly path: string } | { readonly stdin: NodeJS.ReadableStream };

export interface FlowReadOptions {
  /** Parser threads for a plain Hubble file of at least {@link PARALLEL_MIN_BYTES} (default 1: the calling thread). */
  readonly workers?: number;
}


export async function readFlowInput(
  source: FlowInputSource,
  format: FlowFormat,
  sink: (result: ParseResult) => void,
  progress: (lines: number) => void = () => {},
  options: FlowReadOptions = {},
): Promise<InputStats> {
  const name = 'path' in source ? source.path : '(stdin)';
  const file = 'path' in source ? await openFile(source.path) : undefined;
  const owned: Destroyable[] = file === undefined ? [] : [file.stream];
  try {
    const input = await prepare(file?.stream ?? (source as { stdin: NodeJS.ReadableStream }).stdin, format, owned);
    if (input.kind === 'empty') return { name, format: 'empty', gzip: input.gzip, lines: 0, ...(input.error === undefined ? {} : { error: input.error }) };
    let lines = 0;
    const counted = (result: ParseResult) => {
      lines++;
      if ((lines & 0xffff) === 0) progress(lines);
      sink(result);
    };
    try {
      if (input.kind === 'hubble' && file !== undefined && !input.gzip) {
        // A plain file: the reader's own pooled reads are faster than the stream already opened.
        file.stream.destroy();
        const workers = options.workers ?? 1;
        if (workers > 1 && file.size >= PARALLEL_MIN_BYTES && parallelAvailable()) await readHubbleParallel(file.path, counted, { workers });
        else await readHubble(file.path, counted);
      } else if (input.kind === 'hubble') await readHubble(input.chunks, counted);
      else await readConntrack(input.chunks, counted, file !== undefined ? { time: file.mtime } : {});
    } catch (error) {
      if (lines === 0) throw new FlowInputError(`flows ${name}: ${(error as Error).message}`);
      return { name, format: input.kind, gzip: input.gzip, lines, error: (error as Error).message };
    }
    progress(lines);
    return { name, format: input.kind, gzip: input.gzip, lines };
  } finally {
    for (const stream of owned) stream.destroy();
  }
}

interface Destroyable {
  destroy(): void;
}

interface OpenedFile {
  readonly path: string;
  readonly stream: NodeJS.ReadableStream & Destroyable;
  readonly mtime: number;
  readonly size: number;
}

/** Opens a flow file for reading; a missing, unreadable or directory path is a {@link FlowInputError}. */
async function openFile(path: string): Promise<OpenedFile> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FlowInputError(`flows ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message}`);
  }
  if (info.isDirectory()) throw new FlowInputError(`flows ${path}: is a directory; give the files (e.g. ${path}/*)`);
  return { path, stream: createReadStream(path, { highWaterMark: 256 * 1024 }), mtime: info.mtimeMs, size: info.size };
}

/** An input's (inflated) chunks and its format, or why there is nothing to parse. */
type Prepared =
  | { readonly kind: 'empty'; readonly gzip: boolean; readonly error?: string }
  | { readonly kind: 'hubble' | 'conntrack'; readonly gzip: boolean; readonly chunks: AsyncIterable<Buffer> };

/** Recognises gzip and the format (`format` unless `auto`); an inflater it starts is added to `owned`. */
async function prepare(raw: NodeJS.ReadableStream, format: FlowFormat, owned: Destroyable[]): Promise<Prepared> {
  let chunks = peekable(raw);
  const first = await chunks.peek();
  if (first === undefined) return { kind: 'empty', gzip: false };
  const gzip = first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b;
  if (gzip) {
    chunks = peekable(inflate(chunks, owned));
    if ((await chunks.peek().catch(() => undefined)) === undefined) return { kind: 'empty', gzip, error: 'gzip stream has no data or is corrupt' };
  }
  const detected = format === 'auto' ? await detectFormat(chunks) : format;
  return detected === 'empty' ? { kind: 'empty', gzip } : { kind: detected, gzip, chunks };
}

/** `{` first (after blanks) → Hubble JSON lines; anything else → conntrack text. */
async function detectFormat(chunks: Peekable): Promise<'hubble' | 'conntrack' | 'empty'> {
  for (let i = 0; ; i++) {
    const chunk = await chunks.peekAt(i);
    if (chunk === undefined) return 'empty';
    for (const byte of chunk) {
      if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d || byte === 0xef || byte === 0xbb || byte === 0xbf) continue;
      return byte === 0x7b ? 'hubble' : 'conntrack';
    }
  }
}

interface Peekable extends AsyncIterable<Buffer> {
  peek(): Promise<Buffer | undefined>;
  peekAt(index: number): Promise<Buffer | undefined>;
}

/** An async chunk iterator that can look ahead without losing what it looked at. */
function peekable(stream: NodeJS.ReadableStream | AsyncIterable<Buffer | string>): Peekable {
  const iterator = (stream as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const buffered: Buffer[] = [];
  let done = false;
  const pull = async (): Promise<boolean> => {
    if (done) return false;
    const next = await iterator.next();
    if (next.done) {
      done = true;
      return false;
    }
    buffered.push(typeof next.value === 'string' ? Buffer.from(next.value) : next.value);
    return true;
  };
  return {
    async peekAt(index: number) {
      while (buffered.length <= index) if (!(await pull())) return undefined;
      return buffered[index];
    },
    async peek() {
      return this.peekAt(0);
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const chunk = buffered.shift();
        if (chunk !== undefined) {
          yield chunk;
          continue;
        }
        if (!(await pull())) return;
      }
    },
  };
}

/**
 * The inflated bytes of `compressed` (added to `owned`). As in hubble/reader.ts `gunzip`, what the
 * inflater emitted before an error is delivered, then the error; `pipeline` stops writing once the
 * inflater is destroyed (never waits for a 'drain' that cannot come).
 */
function inflate(compressed: AsyncIterable<Buffer>, owned: Destroyable[]): NodeJS.ReadableStream {
  const gunzip = createGunzip();
  owned.push(gunzip);
  // A failure reaches the reader through the inflater (destroyed with it); nothing to do here.
  pipeline(compressed, gunzip).catch(() => undefined);
  return gunzip;
}
