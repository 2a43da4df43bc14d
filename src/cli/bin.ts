/**
 * The `hivewall` entry point esbuild bundles (scripts/build-bundles.ts → dist/bundle/hivewall.cjs,
 * run by bin/hivewall.js, the image and the single-executable binary). `learn`'s parser threads
 * are started first (./parser-prestart.ts), from their own bundle, while the command loads.
 */
import { main } from './main.js';
import { prestartParsers } from './parser-prestart.js';

const argv = process.argv.slice(2);
prestartParsers(argv);
void main(argv).then((code) => {
  process.exitCode = code;
});
