/**
 * The `kubectl-hivewall` entry point esbuild bundles (scripts/build-bundles.ts →
 * dist/bundle/kubectl-hivewall.cjs, run by bin/kubectl-hivewall.js and the single-executable binary).
 */
import { main } from './main.js';

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
