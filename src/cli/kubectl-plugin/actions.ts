/**
 * Everything a `kubectl hivewall` subcommand runs, in one module that main.ts imports only when a
 * subcommand runs (the Kubernetes client is most of a command's start-up; `--help` skips it).
 */
export { printProposals, reviewProposal } from './commands.js';
export { connect } from './connection.js';
export { printDiff } from './diff.js';
export { printExplain } from './explain.js';
export { runExport } from './export.js';
export { runReport } from './report.js';
export { printStatus } from './status.js';
