/**
 * A parser thread of src/ingest/hubble/parallel.ts. It claims byte ranges of one Hubble file on
 * the shared board (./claims.ts) a few ranges ahead of the range the calling thread's sink needs
 * next (so the calling thread finds the nearer ones free and parses them itself), parses the lines
 * each owns (./ranges.ts), encodes the results (./compact.ts) and transfers them on its results
 * port, one message per range in the order it claimed them. It stops claiming
 * {@link ParseJob.window} ranges ahead of the sink (memory follows the range size, not the
 * file) and waits there until the sink moves on. Bundled on its own (scripts/build-bundles.ts) so
 * a thread loads only the parser. It is started (./parser-threads.ts) before it has a job, and
 * runs the first {@link ParseJob} it is sent.
 */
import { Buffer } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { ClaimBoard } from './claims.js';
import { CompactEncoder } from './compact.js';
import { PARSE_THREAD, type ParseJob, type ParseMessage } from './parse-job.js';
import { BLOCK_BYTES, scanRange, tileRanges, type RangeSink } from './ranges.js';

/** How long one wait for the sink lasts before the stop flag is read again. */
const WAIT_MS = 100;

/** Parses the ranges this thread claims of the job's file, posting each one's results. */
function run(data: ParseJob): void {
  const ranges = tileRanges(data.size, data.rangeBytes);
  const board = new ClaimBoard(data.board, ranges.length);
  const fd = openSync(data.path, 'r');
  const read = (buffer: Buffer, position: number) => readSync(fd, buffer, 0, buffer.length, position);
  const encoder = new CompactEncoder();
  const add: RangeSink = { result: (result) => encoder.add(result), unscanned: (line) => encoder.addUnscanned(line) };
  const options = { block: Buffer.allocUnsafe(BLOCK_BYTES), ...(data.maxLineBytes !== undefined ? { maxLineBytes: data.maxLineBytes } : {}) };
  // Claims only grow: each range this thread takes is past the last one it took.
  let cursor = 0;
  while (!board.stopped()) {
    const delivered = board.delivered();
    const limit = Math.min(ranges.length, delivered + data.window);
    let r = Math.max(cursor, delivered + data.lead);
    while (r < limit && !board.claim(r, data.self)) r++;
    if (r >= ranges.length) break;
    if (r >= limit) {
      board.waitDelivered(delivered, WAIT_MS);
      continue;
    }
    cursor = r + 1;
    try {
      scanRange(read, ranges[r]!, add, options);
      const { batch, transfer } = encoder.take();
      data.results.postMessage({ id: r, batch } satisfies ParseMessage, transfer);
    } catch (error) {
      data.results.postMessage({ id: r, error: (error as Error).message } satisfies ParseMessage);
      board.notePosted(data.self);
      break;
    }
    board.notePosted(data.self);
  }
  closeSync(fd);
  // Kept alive until the calling thread has taken every message (it stops the board, then the thread).
  while (!board.stopped()) board.waitStop(WAIT_MS);
}

// Started by ./parser-threads.ts (perhaps long before there is a file to read): one job, then done.
if (workerData === PARSE_THREAD) parentPort?.once('message', (job: ParseJob) => run(job));
