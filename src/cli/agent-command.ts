/**
 * `hivewall agent`: the node agent (one per node, a DaemonSet). `--source conntrack` (default;
 * deploy/base/agent-daemonset.yaml) reads the kernel's conntrack table and resolves addresses with
 * informers (src/agent/agent.ts); `--source hubble` (deploy/cilium/) follows the node-local Hubble
 * socket and needs no informers (src/agent/hubble-agent.ts). Parses its configuration once (flags
 * over environment over defaults), builds the logger, the health/metrics server, then runs the
 * agent until SIGTERM, when it ships what is buffered and exits.
 */
import { readFile } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { Agent } from '../agent/agent.js';
import type { IdentityOptions } from '../domain/identity.js';
import { DEFAULT_HUBBLE_SOCKET, HubbleAgent } from '../agent/hubble-agent.js';
import { InformerInventorySource } from '../agent/inventory.js';
import { registerAgentMetrics, registerHubbleAgentMetrics } from '../agent/metrics.js';
import { httpTransport } from '../agent/shipper.js';
import type { Logger } from 'pino';
import { HealthServer, type CheckResult } from '../runtime/health.js';
import { handleShutdownSignals } from '../runtime/signals.js';
import { createLogger } from '../telemetry/logger.js';
import { startEventLoopMonitor } from '../telemetry/event-loop.js';
import { createMetrics, type HivewallMetrics } from '../telemetry/metrics.js';
import { cidrSchema as cidr } from '../config.js';
import { UsageError } from './errors.js';
import { listOption } from './list-option.js';
import type { CliIo } from './main.js';
import { shareConnections } from '../k8s/connections.js';

export interface AgentFlags {
  readonly source?: string;
  readonly hubbleAddress?: string;
  readonly resumeFile?: string;
  readonly controllerUrl?: string;
  readonly nodeName?: string;
  readonly tokenFile?: string;
  readonly kubeconfig?: string;
  readonly controllerCaFile?: string;
  readonly controllerServerName?: string;
  readonly dumpIntervalMs?: string;
  readonly shipIntervalMs?: string;
  readonly inventoryRefreshMs?: string;
  readonly retentionMs?: string;
  readonly maxBufferedEdges?: string;
  readonly conntrackPrefix?: string;
  /** `--pod-cidr`, repeatable; each value may list several, comma-separated. */
  readonly podCidr?: readonly string[];
  /** `--service-cidr`, repeatable; each value may list several, comma-separated. */
  readonly serviceCidr?: readonly string[];
  readonly healthPort?: string;
  readonly bindAddress?: string;
  readonly logLevel?: string;
}

/**
 * The projected ServiceAccount token for the receiver (audience hivewall-receiver, bound to the
 * agent's pod and so to its node; deploy/agent-daemonset.yaml mounts it here). The API-server token
 * is not sent: the receiver refuses tokens of other audiences.
 */
export const DEFAULT_TOKEN_FILE = '/var/run/secrets/hivewall/receiver-token/token';

const int = (min: number) => z.coerce.number().int().min(min);


export const agentConfigSchema = z.object({
  /** Where flows come from: the kernel's conntrack table, or the node-local Hubble server (Cilium). */
  source: z.enum(['conntrack', 'hubble']).default('conntrack'),
  /** `unix:///path` (Cilium's socket) or a gRPC `host:port` target. */
  hubbleAddress: z.string().min(1).refine((a) => a.startsWith('unix:') || a.includes(':'), 'must be unix:///path or host:port').default(DEFAULT_HUBBLE_SOCKET),
  /**
   * Where the agent keeps its state across restarts. Hubble source: the resume point (absent: new
   * flows only after a restart). Conntrack source: the count of connections a stopping agent could
   * not ship, reported as dropped by the next run (absent: only logged).
   */
  resumeFile: z.string().min(1).optional(),
  /** The receiver; https:// only: the agent's token travels in every request. */
  controllerUrl: z.string().url().refine((u) => /^https:\/\//i.test(u), 'must be an https:// URL (the agent\'s token travels in every request; plain http:// is refused)'),
  nodeName: z.string().min(1, 'is required (--node-name or $NODE_NAME)'),
  tokenFile: z.string().min(1).default(DEFAULT_TOKEN_FILE),
  kubeconfig: z.string().min(1).optional(),
  controllerCaFile: z.string().min(1).optional(),
  /**
   * The name to verify the controller's certificate against and send as SNI instead of the URL's
   * host (kubeconfig's `tls-server-name`), e.g. `hivewall-operator.hivewall-system.svc` when the
   * agent dials the Service's ClusterIP or a forwarded port.
   */
  controllerServerName: z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, 'must be a DNS name').optional(),
  dumpIntervalMs: int(0).default(60_000),
  shipIntervalMs: int(100).default(10_000),
  inventoryRefreshMs: int(100).default(2_000),
  retentionMs: int(0).default(600_000),
  maxBufferedEdges: int(1).default(20_000),
  /** Whitespace-separated command prefix for conntrack (`ip netns exec test`); empty: none. */
  conntrackPrefix: z.string().optional(),
  /**
   * Conntrack source: the cluster's pod ranges beyond the Nodes' `spec.podCIDRs` (which many CNIs
   * leave empty: EKS VPC CNI, Cilium cluster-pool, Calico IPAM). An address inside that the
   * inventory does not know (yet) is skipped as an unknown pod, never learned as `world`.
   */
  podCidrs: z.array(cidr).default([]),
  /** Conntrack source: the Service ranges; an unknown address inside is skipped, never `world`. */
  serviceCidrs: z.array(cidr).default([]),
  healthPort: int(0).max(65535).default(8082),
  bindAddress: z.string().default('0.0.0.0'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
});

export type AgentConfig = Readonly<z.output<typeof agentConfigSchema>>;


/** Flags win over environment variables, which win over defaults. */
export function agentConfig(flags: AgentFlags, env: NodeJS.ProcessEnv): AgentConfig {
  const pick = (flag: string | undefined, envName: string) => flag ?? env[envName];
  const raw = Object.fromEntries(Object.entries({
    source: pick(flags.source, 'HIVEWALL_AGENT_SOURCE'),
    hubbleAddress: pick(flags.hubbleAddress, 'HIVEWALL_HUBBLE_ADDRESS'),
    resumeFile: pick(flags.resumeFile, 'HIVEWALL_RESUME_FILE'),
    controllerUrl: pick(flags.controllerUrl, 'HIVEWALL_CONTROLLER_URL'),
    nodeName: pick(flags.nodeName, 'NODE_NAME'),
    tokenFile: pick(flags.tokenFile, 'HIVEWALL_TOKEN_FILE'),
    kubeconfig: pick(flags.kubeconfig, 'KUBECONFIG'),
    controllerCaFile: pick(flags.controllerCaFile, 'HIVEWALL_CONTROLLER_CA_FILE'),
    controllerServerName: pick(flags.controllerServerName, 'HIVEWALL_CONTROLLER_SERVER_NAME'),
    dumpIntervalMs: pick(flags.dumpIntervalMs, 'HIVEWALL_DUMP_INTERVAL_MS'),
    shipIntervalMs: pick(flags.shipIntervalMs, 'HIVEWALL_SHIP_INTERVAL_MS'),
    inventoryRefreshMs: pick(flags.inventoryRefreshMs, 'HIVEWALL_INVENTORY_REFRESH_MS'),
    retentionMs: pick(flags.retentionMs, 'HIVEWALL_RETENTION_MS'),
    maxBufferedEdges: pick(flags.maxBufferedEdges, 'HIVEWALL_MAX_BUFFERED_EDGES'),
    conntrackPrefix: pick(flags.conntrackPrefix, 'HIVEWALL_CONNTRACK_PREFIX'),
    podCidrs: listOption(flags.podCidr, env['HIVEWALL_POD_CIDRS']),
    serviceCidrs: listOption(flags.serviceCidr, env['HIVEWALL_SERVICE_CIDRS']),
    healthPort: pick(flags.healthPort, 'HIVEWALL_HEALTH_PORT'),
    bindAddress: pick(flags.bindAddress, 'HIVEWALL_BIND_ADDRESS'),
    logLevel: pick(flags.logLevel, 'HIVEWALL_LOG_LEVEL'),
  }).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = agentConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new UsageError(`agent configuration: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ')}`);
  }
  return Object.freeze(parsed.data);
}

/** The conntrack agent's identity options: the configured pod and Service ranges. */
export function agentIdentityOptions(config: AgentConfig): IdentityOptions {
  return { podCidrs: config.podCidrs, serviceCidrs: config.serviceCidrs };
}

export interface AgentRun {
  readonly agent: Agent;
  readonly health: HealthServer;
  readonly healthPort: number;
  /** Stops everything (what SIGTERM does). */
  stop(): Promise<void>;
  /** Settles when the agent has stopped. */
  readonly done: Promise<void>;
}

/** Builds and starts the agent; resolves once the health server listens (the agent starts in the background). */
export async function startAgent(config: AgentConfig, io: CliIo, opts: { readonly handleSignals?: boolean } = {}): Promise<AgentRun> {
  const log = createLogger({ level: config.logLevel, destination: io.stdout, base: { component: 'agent', node: config.nodeName } });
  const kubeConfig = new KubeConfig();
  if (config.kubeconfig) kubeConfig.loadFromFile(config.kubeconfig);
  else kubeConfig.loadFromCluster();
  shareConnections(kubeConfig);
  const ca = config.controllerCaFile ? await readFile(config.controllerCaFile) : undefined;
  const prefix = config.conntrackPrefix?.trim() ? config.conntrackPrefix.trim().split(/\s+/) : [];
  const metrics = createMetrics({ process: 'agent' });

  const agent = new Agent({
    node: config.nodeName,
    controllerUrl: config.controllerUrl,
    token: async () => (await readFile(config.tokenFile, 'utf8')).trim(),
    inventory: new InformerInventorySource({ kubeConfig, logger: log, metrics: (name) => metrics.informerMetrics(name) }),
    logger: log,
    conntrackPrefix: prefix,
    dumpIntervalMs: config.dumpIntervalMs,
    shipIntervalMs: config.shipIntervalMs,
    inventoryRefreshMs: config.inventoryRefreshMs,
    retentionMs: config.retentionMs,
    maxBufferedEdges: config.maxBufferedEdges,
    identity: agentIdentityOptions(config),
    ...(config.resumeFile ? { stateFile: config.resumeFile } : {}),
    transport: httpTransport({ ...(ca ? { ca } : {}), ...(config.controllerServerName ? { servername: config.controllerServerName } : {}) }),
  });

  registerAgentMetrics(metrics.registry, {
    conntrack: agent.source.stats, aggregator: agent.aggregator.stats, shipper: agent.shipper.stats, identity: agent.history.stats,
  });
  const served = await serve(config, log, metrics, agent, opts, { controller: config.controllerUrl, ...(config.controllerServerName ? { serverName: config.controllerServerName } : {}), prefix });
  return { agent, ...served };
}

export interface HubbleAgentRun extends Omit<AgentRun, 'agent'> {
  readonly agent: HubbleAgent;
}

/** Builds and starts the Hubble agent; resolves once the health server listens. */
export async function startHubbleAgent(config: AgentConfig, io: CliIo, opts: { readonly handleSignals?: boolean } = {}): Promise<HubbleAgentRun> {
  const log = createLogger({ level: config.logLevel, destination: io.stdout, base: { component: 'agent', node: config.nodeName } });
  const ca = config.controllerCaFile ? await readFile(config.controllerCaFile) : undefined;
  const agent = new HubbleAgent({
    node: config.nodeName,
    controllerUrl: config.controllerUrl,
    token: async () => (await readFile(config.tokenFile, 'utf8')).trim(),
    logger: log,
    hubbleAddress: config.hubbleAddress,
    ...(config.resumeFile ? { resumeFile: config.resumeFile } : {}),
    shipIntervalMs: config.shipIntervalMs,
    maxBufferedEdges: config.maxBufferedEdges,
    transport: httpTransport({ ...(ca ? { ca } : {}), ...(config.controllerServerName ? { servername: config.controllerServerName } : {}) }),
  });
  const metrics = createMetrics({ process: 'agent' });
  registerHubbleAgentMetrics(metrics.registry, { hubble: () => agent.hubbleStats(), agent: agent.stats, aggregator: agent.aggregator.stats, shipper: agent.shipper.stats });
  const served = await serve(config, log, metrics, agent, opts, { controller: config.controllerUrl, hubble: config.hubbleAddress });
  return { agent, ...served };
}

/** The health/metrics server, the agent started in the background, and the shutdown on SIGTERM. */
async function serve(
  config: AgentConfig,
  log: Logger,
  metrics: HivewallMetrics,
  agent: { start(): Promise<void>; stop(): Promise<void>; checks(): Record<string, () => CheckResult> },
  opts: { readonly handleSignals?: boolean },
  fields: Record<string, unknown>,
): Promise<Omit<AgentRun, 'agent'>> {
  const health = new HealthServer({ host: config.bindAddress, port: config.healthPort, registry: metrics.registry, logger: log });
  const eventLoop = startEventLoopMonitor({ metrics: metrics.eventLoopMetrics() });
  for (const [name, check] of Object.entries(agent.checks())) health.addReadyCheck(name, check);
  const bound = await health.listen();
  log.info({ healthPort: bound.port, source: config.source, ...fields }, 'agent starting');
  void agent.start();

  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      health.markShuttingDown();
      await agent.stop();
      await health.close();
      eventLoop.stop();
      resolveDone();
    })();
    return stopping;
  };
  if (opts.handleSignals ?? true) {
    handleShutdownSignals({ logger: log, exitAfterShutdown: false, forceExitAfterMs: 25_000, shutdown: stop });
  }
  return { health, healthPort: bound.port, stop, done };
}

/** The `hivewall agent` action: runs until SIGTERM/SIGINT. */
export async function runAgent(flags: AgentFlags, io: CliIo): Promise<void> {
  const config = agentConfig(flags, process.env);
  const run = config.source === 'hubble' ? await startHubbleAgent(config, io) : await startAgent(config, io);
  await run.done;
}
