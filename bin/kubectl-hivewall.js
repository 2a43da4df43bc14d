#!/usr/bin/env node
// `kubectl hivewall`: kubectl runs this for `kubectl hivewall ...` when it is on PATH as
// kubectl-hivewall (npm installs it there). Needs Node.js 24 LTS; `npm ci` installs it
// (devDependency `node`), and npm scripts put it first on PATH.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(`kubectl-hivewall: Node.js ${process.versions.node} is too old; hivewall needs Node.js 24 (run it through npm, or use node_modules/.bin/node)\n`);
  process.exit(2);
}
const { main } = await import('../dist/src/cli/kubectl-plugin/main.js');
process.exitCode = await main(process.argv.slice(2));
