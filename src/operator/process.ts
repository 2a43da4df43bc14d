/**
 * The operator process, once its configuration is parsed (src/cli/operator-command.ts parses the
 * flags): the logger, the Kubernetes client, the health/metrics server, the agents' edge receiver
 * on every replica, and leader election; only the leader runs ./operator.ts's work (learning,
 * reconciling, storing). SIGTERM persists learned state, then releases the Lease; a replica that
 * lost the Lease starts no further write (no final store pass) and exits.
 */
import { readFile } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';
import type { DestinationStream, Logger } from 'pino';
import { registerReceiverMetrics } from '../agent/metrics.js';
import type { Config } from '../config.js';
import { Kube } from '../k8s/kube.js';
import { backoffDelay } from '../runtime/backoff.js';
import { sleep, systemClock } from '../runtime/clock.js';
import { HealthServer } from '../runtime/health.js';
import { LeaderElector, type LeaderCallbacks } from '../runtime/leader-election.js';
import { kubeLeaseLock } from '../runtime/lease-lock.js';
import { handleShutdownSignals, type SignalTarget } from '../runtime/signals.js';
import { startEventLoopMonitor } from '../telemetry/event-loop.js';
import { createLogger } from '../telemetry/logger.js';
import { createMetrics } from '../telemetry/metrics.js';
import { runLeaderWork } from './operator.js';
import { EdgeReceiver, EdgeReceiverServer, kubeTokenReview, tokenReviewAuthenticator } from './receiver.js';
import { ensureReceiverTls } from './receiver-tls.js';
import { shareConnections } from '../k8s/connections.js';

export async function runOperatorProcess(config: Config, stdout: DestinationStream): Promise<'stopped' | 'leadership-lost'> {
  const log = createLogger({ level: config.logLevel, destination: stdout });
  const kubeConfig = new KubeConfig();
  if (config.kubeconfig) kubeConfig.loadFromFile(config.kubeconfig);
  else kubeConfig.loadFromCluster();
  shareConnections(kubeConfig);
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
    callbacks: leaderCallbacks(log, (signal, lost) => runLeaderWork({
      config,
      kube,
      log,
      signal,
      lost,
      onReady: () => (working = true),
      ...(receiver ? { receiver } : {}),
      metrics: {
        controller: metrics.controllerMetrics('segmentation'),
        queue: metrics.workQueueMetrics('segmentation'),
        informer: (name) => metrics.informerMetrics(name),
        onFlows: (source, count) => metrics.flowsIngested.inc({ source, result: 'read' }, count),
        onDenied: (namespace, count) => metrics.deniedFlows.inc({ namespace }, count),
        onLostEvents: (source, count) => metrics.flowsLost.inc({ source }, count),
        onPaused: () => metrics.intakePauses.inc(),
        onDnsNamesDropped: (reason, names) => metrics.dnsNamesDropped.inc({ reason }, names),
        onNamespaceGone: (namespace) => {
          wouldDenySeen.delete(namespace);
          metrics.forgetNamespace(namespace);
        },
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
    }), () => (working = false)),
  });

  return runLeadership({
    elector,
    log,
    forceExitAfterMs: SHUTDOWN_DEADLINE_MS,
    onShutdown: () => {
      shuttingDown = true;
      health.markShuttingDown();
    },
    close: async () => {
      await receiverServer?.close();
      await health.close();
      eventLoop.stop();
    },
  });
}

/**
 * A shutdown that has not finished by then (a final store pass or a reconcile hung on the API
 * server) exits the process with 1, with the log saying why, before the kubelet's SIGKILL at the
 * end of the pod's 45 s grace period (deploy/base/operator-deployment.yaml); the Lease is then not
 * released and expires on its own, which is safe since the work ends with the process.
 */
const SHUTDOWN_DEADLINE_MS = 30_000;

/**
 * The elector's callbacks around the leader's work (`work`, restarted after a failure until
 * leadership ends; `onEnded` once it returned). The elector hands on both its signals: `signal`
 * ends the work, `lost` says the Lease is gone and nothing more may be written.
 */
export function leaderCallbacks(log: Logger, work: (signal: AbortSignal, lost: AbortSignal) => Promise<void>, onEnded?: () => void): LeaderCallbacks {
  return {
    onStartedLeading: async (signal, lost) => {
      log.info({}, 'started leading');
      try {
        await untilAborted(signal, log, (attemptSignal) => work(attemptSignal, lost));
      } finally {
        onEnded?.();
      }
    },
    onStoppedLeading: () => log.info({}, 'stopped leading'),
  };
}

export interface LeadershipOptions {
  readonly elector: LeaderElector;
  readonly log: Logger;
  /** How long a shutdown may take before the process exits with 1 (see SHUTDOWN_DEADLINE_MS). */
  readonly forceExitAfterMs: number;
  /** On the shutdown signal, before anything stops. */
  readonly onShutdown: () => void;
  /** Closes what serves every replica (receiver, health), after leading ended. */
  readonly close: () => Promise<void>;
  /** The process (tests pass a fake). */
  readonly signals?: SignalTarget;
}

/**
 * Campaigns until a shutdown signal (resolves `stopped`) or the loss of the Lease
 * (`leadership-lost`). On SIGTERM the elector stops the leader's work and waits for it, its final
 * store pass included, renewing the Lease meanwhile, and only then releases the Lease, so the next
 * leader never writes while this one still does; `forceExitAfterMs` bounds the whole.
 */
export function runLeadership(options: LeadershipOptions): Promise<'stopped' | 'leadership-lost'> {
  const { elector, log } = options;
  let shuttingDown = false;
  const stopped = new Promise<void>((resolve) => {
    handleShutdownSignals({
      logger: log,
      exitAfterShutdown: false,
      forceExitAfterMs: options.forceExitAfterMs,
      ...(options.signals ? { target: options.signals } : {}),
      shutdown: async () => {
        shuttingDown = true;
        options.onShutdown();
        await elector.stop();
        await options.close();
        resolve();
      },
    });
  });
  const campaign = elector.run().then(async () => {
    if (shuttingDown) return 'stopped' as const;
    // Like client-go: a replica that lost its lease exits and is restarted, rather than risk two leaders.
    log.error({}, 'leadership lost; exiting');
    await options.close();
    return 'leadership-lost' as const;
  });
  return Promise.race([stopped.then(() => 'stopped' as const), campaign]);
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
      await sleep(systemClock, retryInMs, signal);
    }
  }
}
