/**
 * `kubectl hivewall`: the reviewer's and the GitOps side of hivewall, and its HTML report.
 *
 *   kubectl hivewall status [-n ns | -A] [-o json|yaml]
 *   kubectl hivewall proposals [-n ns | -A] [-o wide]
 *   kubectl hivewall diff <proposal> [-n ns] [--stored] [--color auto|always|never]
 *   kubectl hivewall explain <proposal> [<policy>[/<ingress|egress>[/<index>]]] [-n ns]
 *   kubectl hivewall approve <proposal> [-n ns] [--digest sha256:…] [--uid uid] [--comment text] [--overwrite]
 *   kubectl hivewall reject  <proposal> [-n ns] [--digest sha256:…] [--uid uid] [--comment text] [--overwrite]
 *   kubectl hivewall export --out <dir> [-n ns | -A] [--from approved|enforced] [--include-proposed]
 *   kubectl hivewall report --out <file.html> [-n ns | -A] [--proposal <name>]
 *
 * Every command takes --kubeconfig and --context and reads KUBECONFIG like kubectl.
 * Exit codes like the `hivewall` command: 0 done, 1 refused or failed (one line on stderr
 * naming the problem and the fix), 2 bad usage.
 *
 * A command's modules (and the Kubernetes client) are imported only when it runs, so `--help`
 * loads only commander (bench: cli_help_overhead_ms, plugin_overhead_ms). Import nothing else
 * here but types.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { ReportAssets } from '../../report/assets.js';
import { runProgram } from '../errors.js';
import type * as Actions from './actions.js';
import type { Decision, PluginIo } from './commands.js';
import type { Connection, ConnectionFlags } from './connection.js';
import type { ColorMode } from './diff.js';
import type { ExportSource } from './export.js';
import type { StatusOutput } from './status.js';

export type { PluginIo } from './commands.js';

export interface PluginDeps {
  /** Environment for KUBECONFIG and HOME (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Clock for reviewedAt and ages (default: the system clock). */
  readonly now?: () => Date;
  /** The report's browser bundle (default: the build's dist/report/ files). */
  readonly reportAssets?: ReportAssets;
}

const defaultIo: PluginIo = { stdout: process.stdout, stderr: process.stderr };

interface CommonFlags extends ConnectionFlags {
  readonly allNamespaces?: boolean;
  readonly comment?: string;
  readonly overwrite?: boolean;
  readonly digest?: string;
  readonly uid?: string;
  readonly output?: 'wide';
}

interface StatusFlags extends Omit<CommonFlags, 'output'> {
  readonly output: StatusOutput;
}

interface DiffFlags extends ConnectionFlags {
  readonly stored?: boolean;
  readonly color: ColorMode;
}

interface ExportFlags extends CommonFlags {
  readonly out: string;
  readonly from: ExportSource;
  readonly includeProposed?: boolean;
}

interface ReportFlags extends CommonFlags {
  readonly out: string;
  readonly proposal?: string;
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
    .description('Review hivewall PolicyProposals (status, diff, explain, approve or reject as yourself), export approved policies for GitOps, and write an HTML report of the learned graph')
    .version('0.1.0')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();

  /** The subcommand's code and a connection to the cluster (loaded only when a subcommand runs). */
  const start = async (flags: ConnectionFlags): Promise<[Connection, typeof Actions]> => {
    const actions = await import('./actions.js');
    return [actions.connect(flags, env), actions];
  };
  const review = (decision: Decision) => async (proposal: string, flags: CommonFlags) => {
    const [conn, { reviewProposal }] = await start(flags);
    await reviewProposal(conn, proposal, decision, {
      ...(flags.comment !== undefined ? { comment: flags.comment } : {}),
      ...(flags.digest !== undefined ? { digest: flags.digest } : {}),
      ...(flags.uid !== undefined ? { uid: flags.uid } : {}),
      overwrite: flags.overwrite === true,
    }, io, now);
  };

  /** `--digest`: the `sha256:<64 hex>` that explain, diff and `proposals -o wide` print. */
  const digestArg = (value: string): string => {
    if (!/^sha256:[0-9a-f]{64}$/.test(value)) throw new InvalidArgumentError('expected sha256:<64 hex digits>, as kubectl hivewall explain prints it');
    return value;
  };

  for (const [name, decision] of [['approve', 'Approved'], ['reject', 'Rejected']] as const) {
    connectionOptions(
      program.command(name)
        .description(`${name} a PolicyProposal: records you (as the API server knows you) as its reviewer`)
        .argument('<proposal>', 'the PolicyProposal (name, or policyproposal/<name>)')
        .option('--digest <sha256:…>', 'the content digest explain/diff showed you: refuse if the proposal now holds other content', digestArg)
        .option('--uid <uid>', 'the proposal uid explain/diff showed you: refuse if the proposal was re-created since')
        .option('--comment <text>', 'why: shown with the decision')
        .option('--overwrite', 'replace a decision already recorded (by you or someone else)'),
      'namespace of the proposal (default: the context\'s namespace)',
    ).action(review(decision));
  }

  connectionOptions(
    program.command('proposals')
      .description('list PolicyProposals: segmentation, revision, decision, reviewer, age')
      .option('-A, --all-namespaces', 'list proposals in every namespace')
      .addOption(new Option('-o, --output <format>', 'wide: also the content digest and uid that approve --digest/--uid pin').choices(['wide'])),
    'namespace to list (default: the context\'s namespace)',
  ).action(async (flags: CommonFlags) => {
    const wide = flags.output === 'wide';
    // A plain kubeconfig is read without loading the Kubernetes client (bench: plugin_overhead_ms).
    const { printProposalsQuick } = await import('./proposals.js');
    if (await printProposalsQuick(flags, flags.allNamespaces === true, io, now, env, wide)) return;
    const [conn, { printProposals }] = await start(flags);
    await printProposals(conn, flags.allNamespaces === true, io, now, wide);
  });

  connectionOptions(
    program.command('status')
      .description('where each Segmentation stands: mode, phase, learning, current proposal, audit would-deny, enforcement')
      .option('-A, --all-namespaces', 'every namespace')
      .addOption(new Option('-o, --output <format>', 'table, or the raw status as json or yaml').choices(['table', 'json', 'yaml']).default('table')),
    'namespace to show (default: the context\'s namespace)',
  ).action(async (flags: StatusFlags) => {
    const [conn, { printStatus }] = await start(flags);
    await printStatus(conn, flags.allNamespaces === true, flags.output, io, now);
  });

  connectionOptions(
    program.command('diff')
      .description('the unified diff of a proposal\'s policies against the hivewall policies live now')
      .argument('<proposal>', 'the PolicyProposal (name, or policyproposal/<name>)')
      .option('--stored', 'print the diff stored in the proposal when it was written, not against what is live now')
      .addOption(new Option('--color <when>', 'colour the diff: auto (on a terminal, unless NO_COLOR is set), always, never').choices(['auto', 'always', 'never']).default('auto')),
    'namespace of the proposal (default: the context\'s namespace)',
  ).action(async (proposal: string, flags: DiffFlags) => {
    const [conn, { printDiff }] = await start(flags);
    await printDiff(conn, proposal, { stored: flags.stored === true, color: flags.color }, io, env);
  });

  connectionOptions(
    program.command('explain')
      .description('the evidence behind each rule of a proposal: learned edges, flow counts, first and last seen, allowances')
      .argument('<proposal>', 'the PolicyProposal (name, or policyproposal/<name>)')
      .argument('[rule]', 'a policy, or one direction or rule of it: <policy>[/<ingress|egress>[/<index>]] (default: a summary per policy)'),
    'namespace of the proposal (default: the context\'s namespace)',
  ).action(async (proposal: string, rule: string | undefined, flags: ConnectionFlags) => {
    const [conn, { printExplain }] = await start(flags);
    await printExplain(conn, proposal, rule, io);
  });

  connectionOptions(
    program.command('export')
      .description('write the approved (or enforced) policies as a GitOps layout: <out>/<namespace>/<name>.yaml and kustomization.yaml')
      .requiredOption('--out <dir>', 'output directory, e.g. a folder of your GitOps repository')
      .option('-A, --all-namespaces', 'every namespace')
      .addOption(new Option('--from <source>', 'approved: the newest approved proposal per Segmentation; enforced: the hivewall policies live in the cluster').choices(['approved', 'enforced']).default('approved'))
      .option('--include-proposed', 'export the newest proposal even while it is still pending review'),
    'namespace to export (default: the context\'s namespace)',
  ).action(async (flags: ExportFlags) => {
    const [conn, { runExport }] = await start(flags);
    await runExport(conn, { out: flags.out, allNamespaces: flags.allNamespaces === true, from: flags.from, includeProposed: flags.includeProposed === true }, io);
  });

  connectionOptions(
    program.command('report')
      .summary('write an HTML report (one file, works offline): the learned graph with proposed, enforced and would-deny edges')
      .description('write one self-contained HTML file (works offline): the learned graph of workloads and edges, coloured by namespace, '
        + 'each edge with its port, protocol and evidence, proposed vs enforced vs would-deny told apart. Reads the TrafficProfile, the '
        + 'current PolicyProposal, the Segmentation status and, to judge what is enforced, the live hivewall policies '
        + '(hivewall-viewer or hivewall-reviewer can read all of them; without the live policies the status\'s word is used)')
      .requiredOption('--out <file>', 'the HTML file to write, e.g. report.html (folders are created)')
      .option('-A, --all-namespaces', 'every namespace with a Segmentation, in one graph')
      .option('--proposal <name>', 'show this PolicyProposal as proposed (default: the newest one not superseded)'),
    'namespace to report on (default: the context\'s namespace)',
  ).action(async (flags: ReportFlags) => {
    const [conn, { runReport }] = await start(flags);
    await runReport(conn, { out: flags.out, allNamespaces: flags.allNamespaces === true, ...(flags.proposal !== undefined ? { proposal: flags.proposal } : {}) }, io, deps.reportAssets);
  });

  return program;
}

/** Runs the plugin and returns the exit code. */
export async function main(argv: readonly string[], io: PluginIo = defaultIo, deps: PluginDeps = {}): Promise<number> {
  return runProgram(buildProgram(io, deps), argv, io.stderr, 'error', 1);
}
