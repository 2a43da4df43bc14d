/**
 * `kubectl hivewall`: the reviewer's commands for PolicyProposals.
 *
 *   kubectl hivewall proposals [-n ns | -A]
 *   kubectl hivewall approve <proposal> [-n ns] [--comment text] [--overwrite]
 *   kubectl hivewall reject  <proposal> [-n ns] [--comment text] [--overwrite]
 *
 * Every command takes --kubeconfig and --context and reads KUBECONFIG like kubectl.
 * Exit codes like the `hivewall` command: 0 done, 1 refused or failed (one line on stderr
 * naming the problem and the fix), 2 bad usage.
 */
import { Command } from 'commander';
import { runProgram } from '../errors.js';
import { printProposals, reviewProposal, type Decision, type PluginIo } from './commands.js';
import { connect, type ConnectionFlags } from './connection.js';

export type { PluginIo } from './commands.js';

export interface PluginDeps {
  /** Environment for KUBECONFIG and HOME (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Clock for reviewedAt and ages (default: the system clock). */
  readonly now?: () => Date;
}

const defaultIo: PluginIo = { stdout: process.stdout, stderr: process.stderr };

interface CommonFlags extends ConnectionFlags {
  readonly allNamespaces?: boolean;
  readonly comment?: string;
  readonly overwrite?: boolean;
}

function connectionOptions(cmd: Command, namespaceHelp: string): Command {
  return cmd
    .option('-n, --namespace <namespace>', namespaceHelp)
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use (default: the current context)')
    .exitOverride();
}

export function buildProgram(io: PluginIo, deps: PluginDeps = {}): Command {
  const env = deps.env ?? process.env;
  const now = deps.now ?? (() => new Date());
  const program = new Command('kubectl hivewall')
    .description('Review hivewall PolicyProposals: list them, approve or reject one as yourself')
    .version('0.1.0')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();

  const review = (decision: Decision) => async (proposal: string, flags: CommonFlags) => {
    const conn = connect(flags, env);
    await reviewProposal(conn, proposal, decision, { ...(flags.comment !== undefined ? { comment: flags.comment } : {}), overwrite: flags.overwrite === true }, io, now);
  };

  for (const [name, decision] of [['approve', 'Approved'], ['reject', 'Rejected']] as const) {
    connectionOptions(
      program.command(name)
        .description(`${name} a PolicyProposal: records you (as the API server knows you) as its reviewer`)
        .argument('<proposal>', 'the PolicyProposal (name, or policyproposal/<name>)')
        .option('--comment <text>', 'why: shown with the decision')
        .option('--overwrite', 'replace a decision already recorded (by you or someone else)'),
      'namespace of the proposal (default: the context\'s namespace)',
    ).action(review(decision));
  }

  connectionOptions(
    program.command('proposals')
      .description('list PolicyProposals: segmentation, revision, decision, reviewer, age')
      .option('-A, --all-namespaces', 'list proposals in every namespace'),
    'namespace to list (default: the context\'s namespace)',
  ).action(async (flags: CommonFlags) => {
    const conn = connect(flags, env);
    await printProposals(conn, flags.allNamespaces === true, io, now);
  });

  return program;
}

/** Runs the plugin and returns the exit code. */
export async function main(argv: readonly string[], io: PluginIo = defaultIo, deps: PluginDeps = {}): Promise<number> {
  return runProgram(buildProgram(io, deps), argv, io.stderr, 'error', 1);
}
