/**
 * The `hivewall` entry point esbuild bundles (scripts/build-bundles.ts → dist/bundle/hivewall.cjs,
 * run by bin/hivewall.js, the image and the single-executable binary). A learn worker thread
 * starts from the same file and runs only its parser (see ../ingest/parallel/worker-entry.ts).
 */
import { isMainThread } from 'node:worker_threads';
import { main } from './main.js';

if (isMainThread) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
