/**
 * A parser thread of src/ingest/hubble/parallel.ts: receives byte ranges of one Hubble file,
 * parses the lines each owns (./ranges.ts), encodes the results (./compact.ts) and transfers them
 * on its results port, one `CompactBatch` per range, then tells the parent which range is ready (and, first, that it is up).
 * Bundled on its own (scripts/build-bundles.ts) so a thread loads only the parser.
 */
import { Buffer } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { CompactEncoder } from './compact.js';
import { BLOCK_BYTES, scanRange, type ByteRange, type RangeSink } from './ranges.js';

export interface ParseWorkerData {
  readonly path: string;
  readonly maxLineBytes?: number;
  /** Where the results go, one batch per range; `{ id }` on the parent port says one is there. */
  readonly results: MessagePort;
}

export interface ParseTask {
  readonly id: number;
  readonly range: ByteRange;
}

/** On the parent port: the thread is up; range `id`'s results are on the results port; or it failed. */
export type ParseReply = { readonly started: true } | { readonly id: number } | { readonly id: number; readonly error: string };

if (parentPort !== null) {
  const port = parentPort;
  const data = workerData as ParseWorkerData;
  const fd = openSync(data.path, 'r');
  const read = (buffer: Buffer, position: number) => readSync(fd, buffer, 0, buffer.length, position);
  const encoder = new CompactEncoder();
  const add: RangeSink = { result: (result) => encoder.add(result), unscanned: (line) => encoder.addUnscanned(line) };
  const options = { block: Buffer.allocUnsafe(BLOCK_BYTES), ...(data.maxLineBytes !== undefined ? { maxLineBytes: data.maxLineBytes } : {}) };
  port.on('message', (task: ParseTask | null) => {
    if (task === null) {
      closeSync(fd);
      data.results.close();
      port.close();
      return;
    }
    try {
      scanRange(read, task.range, add, options);
      const { batch, transfer } = encoder.take();
      data.results.postMessage(batch, transfer);
      port.postMessage({ id: task.id });
    } catch (error) {
      port.postMessage({ id: task.id, error: (error as Error).message });
    }
  });
  port.postMessage({ started: true } satisfies ParseReply);
}
