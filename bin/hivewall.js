#!/usr/bin/env -S node --max-semi-space-size=8
// --max-semi-space-size=8: a capped young generation keeps peak memory following the learned edges
// rather than the flow volume on long streaming runs (bench: learn_peak_rss_growth). 8 MiB, not
// 16: at 8 `learn` reaches the cap within its first second on any input; at 16 it got there only
// on long inputs, about 30 MiB more peak RSS on 600k lines than on 60k (bench/cli.ts:
// learn_whole_rss_growth). CPU time was the same within the noise of a shared 2-core machine.
// The `hivewall` command: runs the bundle `npm run build` writes (scripts/build-bundles.ts).
// Needs Node.js 24 LTS; `npm ci` installs it (devDependency `node`), and npm scripts put it first
// on PATH. The single-executable binary (`npm run build:binaries`) needs no Node.js at all.
import module from 'node:module';

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(`hivewall: Node.js ${process.versions.node} is too old; hivewall needs Node.js 24 (run it through npm, or use node_modules/.bin/node)\n`);
  process.exit(2);
}
// Node keeps the compiled code on disk (in the OS temporary folder): later starts skip compiling.
module.enableCompileCache?.();
module.createRequire(import.meta.url)('../dist/bundle/hivewall.cjs');
