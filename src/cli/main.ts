/**
 * The `hivewall` command line: `learn` (flows → policies), `graph` (flows → the learned graph),
 * `operator` and `agent`. Every failure is one line on stderr and a non-zero exit; no stack
 * traces for user errors.
 *
 * Each subcommand's module is imported only when that subcommand runs, so `--help` and a
 * command's start load just commander and what the command needs (bench: cli_help_overhead_ms).
 * Keep it so: import nothing here but commander, `./errors.js` and types.
 */
import { Command, Option } from 'commander';
import { runProgram, UsageError } from './errors.js';

export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream;
}

const defaultIo: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };

const collect = (value: string, previous: string[] = []) => [...previous, value];

function flowInputOptions(command: Command): Command {
  return command
    .requiredOption('--flows <file|->', 'flow log: Hubble JSON lines (plain or gzip) or conntrack output; repeatable; - for stdin', collect)
    .addOption(new Option('--format <format>', 'input format').choices(['auto', 'hubble', 'conntrack']).default('auto'))
    .option('--cluster <file|dir>', 'cluster snapshot (kubectl get ... -A -o yaml) for identity: a file or a directory of snapshots')
    .option('--since <time>', 'ignore flows before this RFC 3339 time')
    .option('--until <time>', 'ignore flows at or after this RFC 3339 time')
    .option('--pod-cidr <cidr>', 'pod CIDR (beyond the nodes\' podCIDRs): unknown addresses inside are reported, not world; repeatable', collect)
    .option('--service-cidr <cidr>', 'service CIDR: unknown addresses inside are reported, not world; repeatable', collect)
    .option('--workers <n>', 'threads parsing a large plain Hubble file (default: one per CPU core; 1: no extra threads); the result is the same')
    .option('-q, --quiet', 'no progress and no summary');
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('hivewall')
    .description('Learn Kubernetes traffic from flow logs and write least-privilege NetworkPolicy or CiliumNetworkPolicy')
    .version('0.1.0')
    .showHelpAfterError(false)
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();

  flowInputOptions(program.command('learn'))
    .description('learn from flows and write policies, one file per object, with a kustomization per namespace')
    .requiredOption('--out <dir>', 'output directory: <out>/<namespace>/<name>.yaml')
    .option('--namespace <ns>', 'namespace to write policies for (repeatable); default: every non-system namespace with an observed workload', collect)
    .addOption(new Option('--flavor <flavor>', 'policy flavor').choices(['networkpolicy', 'cilium']).default('networkpolicy'))
    .option('--no-public-ingress', 'never open a LoadBalancer/NodePort workload to 0.0.0.0/0; allow only the observed client addresses')
    .option('--no-dns', 'do not add the DNS allowance (53/UDP and 53/TCP to the observed DNS servers)')
    .option('--allow-kube-apiserver', 'let every workload with a policy reach the kube-apiserver endpoints, observed or not')
    .option('--report <file>', 'also write a self-contained interactive HTML report: the graph, its evidence and the rules that allow each edge')
    .exitOverride()
    .action(async (options) => {
      const { runLearn } = await import('./learn-command.js');
      await runLearn(options, io);
    });

  flowInputOptions(program.command('graph'))
    .description('print the learned communication graph')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json', 'dot']).default('text'))
    .exitOverride()
    .action(async (options) => {
      const { runGraph } = await import('./graph-command.js');
      await runGraph(options, io);
    });

  program
    .command('operator')
    .description('run the controller: learn from flows, propose, audit and enforce per Segmentation (flags override HIVEWALL_* environment variables)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, else in-cluster service account)')
    .option('--namespace <ns>', 'the operator\'s namespace: Lease and checkpoint ConfigMap (default hivewall-system)')
    .option('--flows-path <file>', 'flow source: Hubble flow export file to follow (hubble-export-file-path)')
    .option('--hubble-address <host:port>', 'flow source: hubble-relay Observer API over gRPC, e.g. hubble-relay.kube-system.svc:443')
    .option('--hubble-tls', 'use TLS to hubble-relay (implied by the --hubble-tls-* options)')
    .option('--hubble-tls-ca-file <file>', 'CA bundle for hubble-relay\'s certificate')
    .option('--hubble-tls-cert-file <file>', 'client certificate for hubble-relay mTLS')
    .option('--hubble-tls-key-file <file>', 'client key for hubble-relay mTLS')
    .option('--hubble-tls-server-name <name>', 'name hubble-relay\'s certificate is checked against, e.g. ui.hubble-relay.cilium.io')
    .option('--receiver-port <n>', 'flow source: serve the conntrack agents\' edge pushes on this port (HTTPS; 0 picks a free port)')
    .option('--receiver-cert-file <file>', 'receiver serving certificate (default: self-issued, kept in Secret hivewall-receiver-tls)')
    .option('--receiver-key-file <file>', 'receiver serving key')
    .option('--receiver-insecure', 'serve the receiver over plain HTTP (tests only: tokens would travel in clear text)')
    .option('--agent-service-account <name>', 'ServiceAccount in --namespace the agents push as (default hivewall-agent)')
    .option('--receiver-audience <audience>', 'audience the agents\' projected tokens must carry, checked by TokenReview (default hivewall-receiver)')
    .option('--max-edges <n>', 'distinct edges learned in all; new ones beyond are counted as lost (default 500000)')
    .option('--max-edges-per-namespace <n>', 'distinct edges learned per namespace; new ones beyond are counted as lost (default 50000)')
    .option('--max-held-inputs <n>', 'flows and agent edge deltas a store pass may hold before the flow sources pause until it ends (default 250000, about 530 bytes each)')
    .option('--pod-cidr <cidr>', 'pod CIDR beyond the nodes\' podCIDRs (set it when they have none): an unknown address inside is unresolved, not world, and public ingress excepts it; repeatable or comma-separated (default $HIVEWALL_POD_CIDRS)', collect)
    .option('--service-cidr <cidr>', 'Service CIDR: an unknown address inside is unresolved, not world; repeatable or comma-separated (default $HIVEWALL_SERVICE_CIDRS)', collect)
    .option('--identity <name>', 'this replica\'s leader-election identity (default: $HOSTNAME)')
    .option('--lease-duration-seconds <n>', 'leader Lease duration (default 15)')
    .option('--resync-ms <n>', 'reconcile each Segmentation at least this often without a change (default 300000)')
    .option('--counts-interval-ms <n>', 'store changed connection counts alone (no new edge) at most this often (default 30000)')
    .option('--inventory-refresh-ms <n>', 'rebuild identity from the watched pods, services and owners this often when they changed (default 2000)')
    .option('--inventory-sync-timeout-ms <n>', 'give up a leader start (and retry it) when the cluster inventory is not listed within this (default 60000)')
    .option('--flow-poll-ms <n>', 'poll the flow file this often (default 500)')
    .option('--health-port <n>', '/healthz, /readyz and /metrics port (default 8081; 0 picks a free port)')
    .option('--bind-address <addr>', 'address of the health server (default 0.0.0.0)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace (default info)')
    .exitOverride()
    .action(async (options) => {
      const { runOperator } = await import('./operator-command.js');
      await runOperator(options, io);
    });

  program
    .command('agent')
    .description('run the node agent: learn this node\'s connections (conntrack, or Cilium\'s node-local Hubble) and push edge deltas to the controller')
    .option('--source <source>', 'conntrack (default; clusters without Cilium) or hubble (the node-local Hubble server) (default $HIVEWALL_AGENT_SOURCE)')
    .option('--hubble-address <addr>', 'hubble source: the node-local Hubble server (default unix:///var/run/cilium/hubble.sock)')
    .option('--resume-file <file>', 'state kept across restarts: the hubble source\'s resume point (none: new flows only); the conntrack source\'s count of connections it could not ship before stopping, reported as dropped by the next run (default $HIVEWALL_RESUME_FILE)')
    .option('--controller-url <url>', 'the controller\'s edge endpoint base URL (default $HIVEWALL_CONTROLLER_URL)')
    .option('--node-name <name>', 'this node\'s name (default $NODE_NAME)')
    .option('--token-file <file>', 'projected ServiceAccount token (audience hivewall-receiver) sent as Bearer (default /var/run/secrets/hivewall/receiver-token/token)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, else in-cluster service account)')
    .option('--controller-ca-file <file>', 'CA bundle to verify an https controller URL')
    .option('--controller-server-name <name>', 'name to verify the controller\'s certificate against and send as SNI instead of the URL\'s host (default $HIVEWALL_CONTROLLER_SERVER_NAME)')
    .option('--dump-interval-ms <n>', 'full conntrack table dump period (default 60000; 0: only at start)')
    .option('--ship-interval-ms <n>', 'push edge deltas this often (default 10000)')
    .option('--inventory-refresh-ms <n>', 'rebuild identity from the watched objects this often when they changed (default 2000)')
    .option('--retention-ms <n>', 'deleted pods keep resolving this long (default 600000)')
    .option('--max-buffered-edges <n>', 'most edge deltas kept while the controller is unreachable (default 20000)')
    .option('--conntrack-prefix <cmd>', 'command prefix for conntrack, e.g. "ip netns exec test" (default none)')
    .option('--pod-cidr <cidr>', 'conntrack source: pod CIDR beyond the nodes\' podCIDRs (set it when they have none: EKS VPC CNI, Cilium cluster-pool, Calico IPAM): an address inside the inventory does not know yet is skipped, not learned as world; repeatable or comma-separated (default $HIVEWALL_POD_CIDRS)', collect)
    .option('--service-cidr <cidr>', 'conntrack source: Service CIDR: an unknown address inside is skipped, not learned as world; repeatable or comma-separated (default $HIVEWALL_SERVICE_CIDRS)', collect)
    .option('--health-port <n>', '/healthz, /readyz and /metrics port (default 8082; 0 picks a free port)')
    .option('--bind-address <addr>', 'address of the health server (default 0.0.0.0)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace (default info)')
    .exitOverride()
    .action(async (options) => {
      const { runAgent } = await import('./agent-command.js');
      await runAgent(options, io);
    });

  return program;
}

/** Runs the CLI and returns the exit code. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  return runProgram(buildProgram(io), argv, io.stderr, 'hivewall', 70);
}

export { UsageError };
