/**
 * What the calling thread of ./parallel.ts and a parser thread (./parse-worker.ts) say to each
 * other: the job a thread gets once started (./parser-threads.ts), and one message per range back.
 */
import type { MessagePort } from 'node:worker_threads';
import type { CompactBatch } from './compact.js';

/** The `workerData` a parser thread is started with: it then waits for one {@link ParseJob}. */
export const PARSE_THREAD = 'hivewall-parse-thread';

export interface ParseJob {
  readonly path: string;
  /** The file's size and the range size: the thread tiles the file as ./parallel.ts does. */
  readonly size: number;
  readonly rangeBytes: number;
  readonly maxLineBytes?: number;
  /** The board's SharedArrayBuffer and this thread's number on it (1-based). */
  readonly board: SharedArrayBuffer;
  readonly self: number;
  /** Claims start this many ranges past the one the sink needs next... */
  readonly lead: number;
  /** ...and stay below that one plus this many. */
  readonly window: number;
  /** Where the results go: one {@link ParseMessage} per claimed range. */
  readonly results: MessagePort;
}

/** A claimed range's results, or why it could not be parsed. */
export type ParseMessage = { readonly id: number; readonly batch: CompactBatch } | { readonly id: number; readonly error: string };
