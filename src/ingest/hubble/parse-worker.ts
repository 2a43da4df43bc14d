/**
 * A parser thread of src/ingest/hubble/parallel.ts: receives byte ranges of one Hubble file,
 * parses the lines each owns (./ranges.ts) and posts the results on its results port, one message
 * per range, then tells the parent which range is ready.
 * Bundled on its own (scripts/build-bundles.ts) so a thread loads only the parser.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { parseRange, type ByteRange } from './ranges.js';

export interface ParseWorkerData {
  readonly path: string;
  readonly maxLineBytes?: number;
  /** Where the results go, one message per range; `{ id }` on the parent port says one is there. */
  readonly results: MessagePort;
}

export interface ParseTask {
  readonly id: number;
  readonly range: ByteRange;
}

if (parentPort !== null) {
  const port = parentPort;
  const data = workerData as ParseWorkerData;
  const fd = openSync(data.path, 'r');
  const read = (buffer: Buffer, position: number) => readSync(fd, buffer, 0, buffer.length, position);
  port.on('message', (task: ParseTask | null) => {
    if (task === null) {
      closeSync(fd);
      data.results.close();
      port.close();
      return;
    }
    try {
      data.results.postMessage(parseRange(read, task.range, data.maxLineBytes !== undefined ? { maxLineBytes: data.maxLineBytes } : {}));
      port.postMessage({ id: task.id });
    } catch (error) {
      port.postMessage({ id: task.id, error: (error as Error).message });
    }
  });
}
