/**
 * A parser thread of src/ingest/hubble/parallel.ts: receives byte ranges of one Hubble file,
 * parses the lines each owns (./ranges.ts) and posts the results back, one message per range.
 * Bundled on its own (scripts/build-bundles.ts) so a thread loads only the parser.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { parseRange, type ByteRange } from './ranges.js';

export interface ParseWorkerData {
  readonly path: string;
  readonly maxLineBytes?: number;
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
      port.close();
      return;
    }
    try {
      port.postMessage({ id: task.id, results: parseRange(read, task.range, data.maxLineBytes !== undefined ? { maxLineBytes: data.maxLineBytes } : {}) });
    } catch (error) {
      port.postMessage({ id: task.id, error: (error as Error).message });
    }
  });
}
