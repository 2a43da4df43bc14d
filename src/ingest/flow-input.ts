/**
 * Opens one flow input (a file or stdin), recognises gzip (rotated Hubble exporter backups) by
 * its magic bytes and the format by its first non-blank byte (`{` → Hubble JSON, else conntrack),
 * and streams every line's parse result to the sink. A missing or unreadable file is a
 * FlowInputError (one clear line); a stream that breaks midway (truncated gzip) keeps what was
 * read and reports the break in the stats. Nothing here throws on a bad line.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
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
  let raw: NodeJS.ReadableStream;
  let mtime: number | undefined;
  let size = 0;
  if ('path' in source) {
    let info;
    try {
      info = await stat(source.path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new FlowInputError(`flows ${source.path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message}`);
    }
    if (info.isDirectory()) throw new FlowInputError(`flows ${source.path}: is a directory; give the files (e.g. ${source.path}/*)`);
    mtime = info.mtimeMs;
    size = info.size;
    raw = createReadStream(source.path, { highWaterMark: 256 * 1024 });
  } else {
    raw = source.stdin;
  }

  const chunks = peekable(raw);
  let first = await chunks.peek();
  if (first === undefined) return { name, format: 'empty', gzip: false, lines: 0 };
  const gzip = first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b;
  let stream: AsyncIterable<Buffer> = chunks;
  let decoded = chunks;
  if (gzip) {
    const gunzip = createGunzip();
    pipeInto(chunks, gunzip);
    decoded = peekable(gunzip);
    stream = decoded;
    first = await decoded.peek().catch(() => undefined);
    if (first === undefined) return { name, format: 'empty', gzip, lines: 0, error: 'gzip stream has no data or is corrupt' };
  }
  const detected = format === 'auto' ? await detectFormat(decoded) : format;
  if (detected === 'empty') return { name, format: 'empty', gzip, lines: 0 };

  let lines = 0;
  const counted = (result: ParseResult) => {
    lines++;
    if ((lines & 0xffff) === 0) progress(lines);
    sink(result);
  };
  try {
    if (detected === 'hubble' && 'path' in source && !gzip) {
      // A plain file: the reader's own pooled reads are faster than the stream already opened.
      (raw as NodeJS.ReadableStream & { destroy(): void }).destroy();
      const workers = options.workers ?? 1;
      if (workers > 1 && size >= PARALLEL_MIN_BYTES && parallelAvailable()) await readHubbleParallel(source.path, counted, { workers });
      else await readHubble(source.path, counted);
    } else if (detected === 'hubble') await readHubble(stream, counted);
    else await readConntrack(stream, counted, mtime !== undefined ? { time: mtime } : {});
  } catch (error) {
    if (lines === 0) throw new FlowInputError(`flows ${name}: ${(error as Error).message}`);
    return { name, format: detected, gzip, lines, error: (error as Error).message };
  }
  progress(lines);
  return { name, format: detected, gzip, lines };
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

function pipeInto(source: AsyncIterable<Buffer>, target: NodeJS.WritableStream): void {
  void (async () => {
    try {
      for await (const chunk of source) {
        if (!target.write(chunk)) await new Promise((resolve) => target.once('drain', resolve));
      }
      target.end();
    } catch (error) {
      (target as unknown as { destroy(e: Error): void }).destroy(error as Error);
    }
  })();
}
