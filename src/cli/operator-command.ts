/**
 * `hivewall operator`: the controller process. Parses its configuration once, builds the logger,
 * the Kubernetes client and the health/metrics server, then runs leader election; only the leader
 * learns, audits and reconciles. SIGTERM releases the Lease and persists learned state.
 */
import { readFile } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { registerReceiverMetrics } from '../agent/metrics.js';
import { EdgeReceiver, EdgeReceiverServer, kubeTokenReview, tokenReviewAuthenticator } from '../operator/receiver.js';
import { ConfigError, parseConfig, type Config } from '../config.js';
import { Kube } from '../k8s/kube.js';
import { runLeaderWork } from '../operator/operator.js';
import { backoffDelay } from '../runtime/backoff.js';
import { ensureReceiverTls } from '../operator/receiver-tls.js';
import { LeaderElector } from '../runtime/leader-election.js';
import { kubeLeaseLock } from '../runtime/lease-lock.js';
import { HealthServer } from '../runtime/health.js';
import { handleShutdownSignals } from '../runtime/signals.js';
import { createLogger } from '../telemetry/logger.js';
import { startEventLoopMonitor } from '../telemetry/event-loop.js';
import { createMetrics } from '../telemetry/metrics.js';
import { CliError, UsageError } from './errors.js';
import type { CliIo } from './main.js';

export interface OperatorFlags {
  readonly kubeconfig?: string;
  readonly namespace?: string;
  readonly flowsPath?: string;
  readonly hubbleAddress?: string;
  readonly hubbleTls?: boolean;
  readonly hubbleTlsCaFile?: string;
  readonly hubbleTlsCertFile?: string;
  readonly hubbleTlsKeyFile?: string;
  readonly hubbleTlsServerName?: string;
  readonly receiverPort?: string;
  readonly receiverCertFile?: string;
  readonly receiverKeyFile?: string;
  readonly receiverInsecure?: boolean;
  readonly agentServiceAccount?: string;
  readonly receiverAudience?: string;
  readonly maxEdges?: string;
  readonly maxEdgesPerNamespace?: string;
  readonly identity?: string;
  readonly leaseDurationSeconds?: string;
  readonly resyncMs?: string;
  readonly inventoryRefreshMs?: string;
  readonly inventorySyncTimeoutMs?: string;
  readonly flowPollMs?: string;
  readonly healthPort?: string;
  readonly bindAddress?: string;
  readonly logLevel?: string;
}

const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
/** `true`/`1`/`yes` → true, anything else false (environment booleans). */
const bool = (v: string) => /^(true|1|yes)$/i.test(v.trim());

/** Flags win over environment variables (HIVEWALL_*), which win over defaults. */
export function operatorConfig(flags: OperatorFlags, env: NodeJS.ProcessEnv): Config {
  const pick = <T>(flag: T | undefined, envName: string, convert: (s: string) => T): T | undefined =>
    flag !== undefined ? flag : env[envName] !== undefined && env[envName] !== '' ? convert(env[envName]!) : undefined;
  const raw = Object.fromEntries(Object.entries({
    kubeconfig: pick(flags.kubeconfig, 'KUBECONFIG', String),
    namespace: pick(flags.namespace, 'HIVEWALL_NAMESPACE', String),
    flowsPath: pick(flags.flowsPath, 'HIVEWALL_FLOWS_PATH', String),
    hubbleAddress: pick(flags.hubbleAddress, 'HIVEWALL_HUBBLE_ADDRESS', String),
    hubbleTls: pick(flags.hubbleTls, 'HIVEWALL_HUBBLE_TLS', bool),
    hubbleTlsCaFile: pick(flags.hubbleTlsCaFile, 'HIVEWALL_HUBBLE_TLS_CA_FILE', String),
    hubbleTlsCertFile: pick(flags.hubbleTlsCertFile, 'HIVEWALL_HUBBLE_TLS_CERT_FILE', String),
    hubbleTlsKeyFile: pick(flags.hubbleTlsKeyFile, 'HIVEWALL_HUBBLE_TLS_KEY_FILE', String),
    hubbleTlsServerName: pick(flags.hubbleTlsServerName, 'HIVEWALL_HUBBLE_TLS_SERVER_NAME', String),
    receiverPort: pick(num(flags.receiverPort), 'HIVEWALL_RECEIVER_PORT', Number),
    receiverCertFile: pick(flags.receiverCertFile, 'HIVEWALL_RECEIVER_CERT_FILE', String),
    receiverKeyFile: pick(flags.receiverKeyFile, 'HIVEWALL_RECEIVER_KEY_FILE', String),
    receiverInsecure: pick(flags.receiverInsecure, 'HIVEWALL_RECEIVER_INSECURE', bool),
    agentServiceAccount: pick(flags.agentServiceAccount, 'HIVEWALL_AGENT_SERVICE_ACCOUNT', String),
    receiverAudience: pick(flags.receiverAudience, 'HIVEWALL_RECEIVER_AUDIENCE', String),
    maxEdges: pick(num(flags.maxEdges), 'HIVEWALL_MAX_EDGES', Number),
    maxEdgesPerNamespace: pick(num(flags.maxEdgesPerNamespace), 'HIVEWALL_MAX_EDGES_PER_NAMESPACE', Number),
    identity: pick(flags.identity, 'HOSTNAME', String),
    leaseDurationSeconds: pick(num(flags.leaseDurationSeconds), 'HIVEWALL_LEASE_DURATION_SECONDS', Number),
    resyncMs: pick(num(flags.resyncMs), 'HIVEWALL_RESYNC_MS', Number),
    inventoryRefreshMs: pick(num(flags.inventoryRefreshMs), 'HIVEWALL_INVENTORY_REFRESH_MS', Number),
    inventorySyncTimeoutMs: pick(num(flags.inventorySyncTimeoutMs), 'HIVEWALL_INVENTORY_SYNC_TIMEOUT_MS', Number),
    flowPollMs: pick(num(flags.flowPollMs), 'HIVEWALL_FLOW_POLL_MS', Number),
    healthPort: pick(num(flags.healthPort), 'HIVEWALL_HEALTH_PORT', Number),
    bindAddress: pick(flags.bindAddress, 'HIVEWALL_BIND_ADDRESS', String),
    logLevel: pick(flags.logLevel, 'HIVEWALL_LOG_LEVEL', String),
  }).filter(([, v]) => v !== undefined));
  try {
    return parseConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`operator configuration: ${error.message}`);
    throw error;
  }
}

export async function runOperator(flags: OperatorFlags, io: CliIo): Promise<void> {
  const config = operatorConfig(flags, process.env);
  const log = createLogger({ level: config.logLevel, destination: io.stdout });
  const kubeConfig = new KubeConfig();
  if (config.kubeconfig) kubeConfig.loadFromFile(config.kubeconfig);
  else kubeConfig.loadFromCluster();
  const kube = new Kube(kubeConfig);
  const metrics = createMetrics();
  const eventLoop = startEventLoopMonitor({ metrics: metrics.eventLoopMetrics() });
  const health = new HealthServer({ port: config.healthPort, host: config.bindAddress, registry: metrics.registry, logger: log.child({ component: 'health' }) });
  let working = false;
  health.addReadyCheck('leader-election', () => elector.isRunning());
  health.addReadyCheck('reconciling', () => working || !elector.isLeader());
  const bound = await health.listen();
  log.info({ port: bound.port, identity: config.identity }, 'operator starting');
  let shuttingDown = false;
  const receiver = config.receiverPort === undefined ? undefined : new EdgeReceiver({
    // Only tokens issued for the receiver (the agents' projected token): an API-server token stolen
    // elsewhere, or the receiver's own token replayed, is not accepted here.
    authenticator: tokenReviewAuthenticator(kubeTokenReview(kubeConfig), { audiences: [config.receiverAudience] }),
    allowedUsernames: [`system:serviceaccount:${config.namespace}:${config.agentServiceAccount}`],
    logger: log,
  });
  let receiverServer: EdgeReceiverServer | undefined;
  if (receiver) {
    registerReceiverMetrics(metrics.registry, receiver.stats);
    health.addReadyCheck('edge-receiver', () => receiverServer !== undefined);
    // In the background, retried: an API server that is not reachable yet must not stop the operator.
    void (async () => {
      for (let attempt = 0; !shuttingDown && receiverServer === undefined; attempt++) {
        try {
          receiverServer = await serveReceiver(config, kube, receiver, log);
        } catch (error) {
          const retryInMs = backoffDelay(attempt, { baseMs: 1_000, capMs: 30_000 });
          log.error({ err: error, retryInMs }, 'edge receiver cannot start');
          await new Promise((resolve) => setTimeout(resolve, retryInMs).unref());
        }
      }
      if (shuttingDown) await receiverServer?.close();
    })();
  }

  const leaseMs = config.leaseDurationSeconds * 1000;
  const wouldDenySeen = new Map<string, number>();
  const elector: LeaderElector = new LeaderElector({
    lock: kubeLeaseLock(kubeConfig, config.namespace, config.leaseName),
    identity: config.identity,
    leaseDurationMs: leaseMs,
    // client-go's ratios: renew well before the lease runs out, retry several times per lease.
    renewDeadlineMs: Math.floor((leaseMs * 2) / 3),
    retryPeriodMs: Math.max(250, Math.floor(leaseMs / 8)),
    logger: log.child({ component: 'leader-election' }),
    metrics: metrics.leaderElectionMetrics(config.leaseName),
    callbacks: {
      onStartedLeading: async (signal: AbortSignal) => {
        log.info({}, 'started leading');
        try {
          await untilAborted(signal, log, (attemptSignal) => runLeaderWork({
            config,
            kube,
            log,
            signal: attemptSignal,
            onReady: () => (working = true),
            ...(receiver ? { receiver } : {}),
            metrics: {
              controller: metrics.controllerMetrics('segmentation'),
              queue: metrics.workQueueMetrics('segmentation'),
              informer: (name) => metrics.informerMetrics(name),
              onFlows: (source, count) => metrics.flowsIngested.inc({ source, result: 'read' }, count),
              onDenied: (namespace, count) => metrics.deniedFlows.inc({ namespace }, count),
              onLostEvents: (source, count) => metrics.flowsLost.inc({ source }, count),
              onSkipped: (source, reason) => metrics.flowsIngested.inc({ source, result: reason }),
              onReport: (r) => {
                metrics.graphEdges.set({ namespace: r.namespace }, r.edges);
                const before = wouldDenySeen.get(r.namespace) ?? 0;
                if (r.wouldDeny > before) metrics.wouldDenyFlows.inc({ namespace: r.namespace }, r.wouldDeny - before);
                wouldDenySeen.set(r.namespace, r.wouldDeny);
                metrics.policiesApplied.set({ namespace: r.namespace, flavor: r.flavor }, r.policies);
              },
              onProposalPhases: (counts) => {
                metrics.proposals.reset();
                for (const [phase, n] of counts) if (n > 0) metrics.proposals.set({ phase }, n);
              },
            },
          }));
        } finally {
          working = false;
        }
      },
      onStoppedLeading: () => log.info({}, 'stopped leading'),
    },
  });

  const stopped = new Promise<void>((resolve) => {
    handleShutdownSignals({
      logger: log,
      exitAfterShutdown: false,
      forceExitAfterMs: 30_000,
      shutdown: async () => {
        shuttingDown = true;
        health.markShuttingDown();
        await elector.stop();
        await receiverServer?.close();
        await health.close();
        eventLoop.stop();
        resolve();
      },
    });
  });
  const campaign = elector.run().then(async () => {
    if (shuttingDown) return;
    // Like client-go: a replica that lost its lease exits and is restarted, rather than risk two leaders.
    log.error({}, 'leadership lost; exiting');
    await receiverServer?.close();
    await health.close();
    eventLoop.stop();
    throw new CliError('leadership lost', 1);
  });
  await Promise.race([stopped, campaign]);
}

/**
 * Serves the agents' edge receiver on every replica (the Service spreads agents over them; only
 * the leader's receiver is attached to a learner, the others answer `not-leader`). HTTPS with the
 * given certificate files, else with the certificate the operator issues itself (Secret
 * hivewall-receiver-tls; its CA is published in ConfigMap hivewall-receiver-ca for the agents).
 */
async function serveReceiver(config: Config, kube: Kube, receiver: EdgeReceiver, log: Logger): Promise<EdgeReceiverServer> {
  let tls: { cert: string | Buffer; key: string | Buffer } | undefined;
  if (config.receiverInsecure) {
    log.warn({}, 'edge receiver serves plain HTTP (--receiver-insecure): agent tokens travel in clear text');
  } else if (config.receiverCertFile && config.receiverKeyFile) {
    tls = { cert: await readFile(config.receiverCertFile), key: await readFile(config.receiverKeyFile) };
  } else {
    const issued = await ensureReceiverTls(kube, { namespace: config.namespace, serviceName: config.serviceName, logger: log });
    tls = { cert: issued.cert, key: issued.key };
  }
  const server = new EdgeReceiverServer({ receiver, host: config.bindAddress, port: config.receiverPort ?? 0, ...(tls ? { tls } : {}), logger: log });
  const bound = await server.listen();
  log.info({ url: bound.url }, 'edge receiver listening');
  if (tls && !config.receiverCertFile) keepCertificateFresh(config, kube, server, log, String(tls.cert));
  return server;
}

/**
 * A long-running replica checks the self-issued certificate twice a day: when it is renewed (by
 * this replica or another; the Secret is shared), new connections get the new one. The timer does
 * not keep the process alive.
 */
function keepCertificateFresh(config: Config, kube: Kube, server: EdgeReceiverServer, log: Logger, served: string): void {
  let current = served;
  const check = async () => {
    try {
      const issued = await ensureReceiverTls(kube, { namespace: config.namespace, serviceName: config.serviceName, logger: log });
      if (issued.cert !== current) {
        server.setTls(issued);
        log.info({ notAfter: issued.notAfter.toISOString() }, 'edge receiver certificate renewed');
      }
      current = issued.cert;
    } catch (error) {
      log.warn({ err: error }, 'edge receiver certificate check failed; serving the current one');
    }
  };
  setInterval(() => void check(), 12 * 3_600_000).unref();
}

/**
 * Runs the leader's work until leadership ends: if it fails (the API server unreachable at start,
 * a 429 while it restarts), it is started again after a capped backoff instead of leaving a
 * replica that holds the Lease and does nothing.
 */
async function untilAborted(signal: AbortSignal, log: Logger, work: (signal: AbortSignal) => Promise<void>): Promise<void> {
  for (let failures = 0; !signal.aborted; failures++) {
    try {
      await work(signal);
      return;
    } catch (error) {
      const retryInMs = backoffDelay(failures, { baseMs: 1_000, capMs: 30_000 });
      log.error({ err: error, retryInMs }, 'leader work failed; starting it again');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, retryInMs);
        signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  }
}
