/**
 * Streaming conntrack readers for files and pipes (`conntrack -L … > dump.txt`,
 * `cat /proc/net/nf_conntrack`, `conntrack -E -o timestamp | hivewall …`). Every line becomes a
 * result handed to the sink, in order; a bad line is counted and skipped, never fatal
 * (docs/architecture.md §6 rule 2). A sink may return a promise: reading waits for it (back-pressure).
 *
 * Lines are split by the shared byte splitter (../lines.ts: CRLF and a BOM stripped, over-long
 * lines dropped unread so memory stays bounded). Spawning `conntrack` itself is the node agent's
 * job, not this module's.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ParseResult, SkipReason } from '../../domain/flow.js';
import { conntrackEntryToFlow } from './flow.js';
import { LineSplitter } from '../lines.js';
import { parseConntrackLine } from './parse.js';
import { DEFAULT_MAX_LINE_LENGTH, type ConntrackParseResult } from './types.js';

export type ConntrackInput = AsyncIterable<Uint8Array | string> | string;

export interface ReadConntrackOptions {
  /**
   * Observation time (ms since the epoch) for lines without their own `[sec.usec]` timestamp
   * (dumps, /proc, events without `-o timestamp`). Default: the file's modification time when
   * reading a path, else the clock when each chunk arrives.
   */
  readonly time?: number;
  /** Lines longer than this (bytes) are skipped as `too-long`. Default 8192. */
  readonly maxLineLength?: number;
  /** Stops reading (the summary so far is returned). */
  readonly signal?: AbortSignal;
}

export interface ReadConntrackSummary {
  readonly lines: number;
  /** Lines that parsed into an entry (and, for {@link readConntrack}, a flow). */
  readonly parsed: number;
  readonly skipped: Readonly<Record<SkipReason, number>>;
}

export type ConntrackEntrySink = (result: ConntrackParseResult, lineNumber: number) => void | Promise<void>;
export type ConntrackFlowSink = (result: ParseResult, lineNumber: number) => void | Promise<void>;

function emptyCounts(): Record<SkipReason, number> {
  return { empty: 0, malformed: 0, 'schema-mismatch': 0, 'too-long': 0, 'unsupported-protocol': 0, 'invalid-name': 0 };
}

/**
 * Reads conntrack lines from a path or a byte stream and hands each parsed entry (or skip) to
 * `sink`. Entries always carry a `timestamp`: their own, or the observation time (see options).
 */
export async function readConntrackEntries(
  input: ConntrackInput,
  sink: ConntrackEntrySink,
  opts: ReadConntrackOptions = {},
): Promise<ReadConntrackSummary> {
  const maxLineLength = opts.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  let fixedTime = opts.time;
  let source: AsyncIterable<Uint8Array | string>;
  if (typeof input === 'string') {
    fixedTime ??= (await stat(input)).mtimeMs;
    source = createReadStream(input, { highWaterMark: 256 * 1024 });
  } else {
    source = input;
  }
  /** A decoded line, or the byte length of one that was too long and dropped unread. */
  const batch: Array<string | number> = [];
  const splitter = new LineSplitter(
    {
      line: (buf, start, end) => {
        batch.push(buf.toString('utf8', start, end));
      },
      overlong: (bytes) => {
        batch.push(bytes);
      },
    },
    { maxLineBytes: maxLineLength },
  );
  const skipped = emptyCounts();
  let lines = 0;
  let parsed = 0;
  const parseOpts = { now: 0, maxLineLength };

  const drain = async (): Promise<void> => {
    for (const line of batch) {
      if (opts.signal?.aborted === true) break;
      lines++;
      const result: ConntrackParseResult =
        typeof line === 'string'
          ? parseConntrackLine(line, parseOpts)
          : { kind: 'skip', reason: 'too-long', detail: `${line} bytes, limit ${maxLineLength}` };
      if (result.kind === 'entry') parsed++;
      else skipped[result.reason]++;
      const pending = sink(result, lines);
      if (pending !== undefined) await pending;
    }
    batch.length = 0;
  };

  for await (const chunk of source) {
    if (opts.signal?.aborted === true) break;
    parseOpts.now = fixedTime ?? Date.now();
    const bytes =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8')
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    splitter.push(bytes);
    await drain();
  }
  if (opts.signal?.aborted !== true) {
    splitter.end();
    await drain();
  }
  return { lines, parsed, skipped };
}

/**
 * Reads conntrack lines into normalized flows (see {@link conntrackEntryToFlow}): each line gives
 * `{ kind: 'flow' }` or `{ kind: 'skip' }`. The same connection appears on many lines (every dump,
 * NEW / UPDATE / DESTROY); deduplicating by 5-tuple is the consumer's job.
 */
export async function readConntrack(
  input: ConntrackInput,
  sink: ConntrackFlowSink,
  opts: ReadConntrackOptions = {},
): Promise<ReadConntrackSummary> {
  return readConntrackEntries(
    input,
    (result, lineNumber) => sink(result.kind === 'entry' ? conntrackEntryToFlow(result.entry, result.entry.timestamp ?? 0) : result, lineNumber),
    opts,
  );
}
