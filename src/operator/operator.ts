/**
 * The operator process: while it holds the leader Lease it runs the flow sources into the learner
 * (./flow-sources.ts: export file, Hubble gRPC, agents' edge pushes), keeps the cluster inventory
 * fresh, audits live flows, and reconciles every Segmentation — on a resync timer and promptly
 * after flows arrive or a watched object changes. Learned state is restored from the
 * TrafficProfiles when leadership starts and persisted by every reconcile; the sources' positions
 * are snapshotted before a round and stored only after it, so nothing is lost across restarts or
 * failovers.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION } from '../api/meta.js';
import { trafficProfileSchema } from '../api/traffic-profile.js';
import type { Config } from '../config.js';
import { apiReads, cachedReads, type ReadInformers, type SegmentationReads } from '../controllers/segmentation/reads.js';
import { reconcileSegmentation, storeProfileOnly, type ReconcileContext, type ReconcileReport } from '../controllers/segmentation/reconciler.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../domain/translate/naming.js';
import { NodePlacements } from '../agent/node-binding.js';
import type { EdgeReceiver } from '../agent/receiver.js';
import { Learner } from '../domain/learner.js';
import { peerKey } from '../domain/peer.js';
import { OperatorCheckpoint } from '../k8s/checkpoint-store.js';
import type { Kube } from '../k8s/kube.js';
import { Informer } from '../runtime/informer.js';
import { kubeListerWatcher, resourcePath } from '../runtime/list-watch.js';
import { AuditEngine } from './audit.js';
import { ClusterCache } from './cluster-cache.js';
import { DenialRegistry } from './denial-registry.js';
import { FlowSources, type FlowSourceMetrics } from './flow-sources.js';
import { restoreProfile } from './learning-state.js';
import { RoundBackoff } from './round-backoff.js';

export interface OperatorMetrics extends FlowSourceMetrics {
  onReconcile?(durationMs: number, error: boolean): void;
  /** After each round: what every Segmentation looked like (edges, phase, would-deny, policies). */
  onRound?(reports: readonly ReconcileReport[]): void;
  /** Connections an enforced policy of the namespace denied. */
  onDenied?(namespace: string, count: number): void;
}

export interface LeaderWorkOptions {
  readonly config: Config;
  readonly kube: Kube;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly metrics?: OperatorMetrics;
  readonly now?: () => number;
  /** Set once the first full reconcile round finished (readiness). */
  readonly onReady?: () => void;
  /** The process's edge receiver (when agents push here): attached to the learner while leading. */
  readonly receiver?: EdgeReceiver;
}

/** Runs until `signal` aborts (leadership lost or shutdown); then persists and stops cleanly. */
export async function runLeaderWork(options: LeaderWorkOptions): Promise<void> {
  const { config, kube, log, signal } = options;
  const now = options.now ?? Date.now;
  const cluster = new ClusterCache({ kubeConfig: kube.config, logger: log });
  await cluster.start(config.inventorySyncTimeoutMs);
  // Watches and crossed rollback budgets make the loop react within a poll (see below).
  let changed = false;
  const denials = new DenialRegistry({
    now,
    // Past a namespace's rollback budget: reconcile now, the rollback must not wait for a resync.
    onCrossed: (namespace) => {
      log.warn({ namespace }, 'rollback budget crossed');
      changed = true;
    },
    ...(options.metrics?.onDenied ? { onDenied: options.metrics.onDenied.bind(options.metrics) } : {}),
  });
  const learner = new Learner(cluster.identity, { limits: { maxEdges: config.maxEdges, maxEdgesPerNamespace: config.maxEdgesPerNamespace }, onDenied: (denial) => denials.observe(denial) });
  const placements = new NodePlacements();
  placements.update(cluster.inventory, cluster.identity, now());
  const checkpoint = new OperatorCheckpoint(kube, config.namespace, 'hivewall-flow-checkpoint');
  let namespaces: string[];
  try {
    const restored = await restoreProfiles(kube, learner);
    log.info({ edges: restored }, 'learned state restored');
    await checkpoint.load();
    namespaces = await segmentationNamespaces(kube);
  } catch (error) {
    await cluster.stop();
    throw error;
  }

  const audits = new Map<string, AuditEngine>();
  let podOfWorkload = livePodsByWorkload(cluster);
  const sources = new FlowSources({
    config, learner, audits, checkpoint, log, denials,
    ...(options.receiver ? { receiver: options.receiver, placements } : {}),
    podOf: (key) => podOfWorkload.get(key),
    workloadKeyOf: (namespace, pod) => {
      const workload = cluster.identity.workloadOfPod(namespace, pod);
      return workload ? peerKey(workload) : undefined;
    },
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  sources.start(namespaces);

  const ctx: ReconcileContext & { reads?: SegmentationReads; backoff: RoundBackoff } = {
    kube, learner, cluster, audits, log, now, sourceError: () => sources.error(), writtenProfiles: new Map<string, string>(), backoff: new RoundBackoff(), denials,
  };

  // Watches make the loop react within a poll: a review, a spec change, or a hand edit of a
  // hivewall policy (drift) starts a reconcile round at once instead of at the next resync.
  const watched = watchedResources(kube, log, () => (changed = true));
  const informers = [watched.segmentations, watched.proposals, watched.policies.NetworkPolicy, watched.policies.CiliumNetworkPolicy];
  for (const informer of informers) informer.start();
  // From now on a round reads what it needs from these caches (src/controllers/segmentation/reads.ts).
  ctx.reads = cachedReads(watched, apiReads(kube));

  let lastInventory = now();
  let newFlows = 0;
  let nextRound = 0;
  let lastRound = 0;
  let ready = false;
  try {
    while (!signal.aborted) {
      if (now() - lastInventory >= config.inventoryRefreshMs) {
        lastInventory = now();
        if (cluster.refresh()) {
          learner.setIdentity(cluster.identity);
          placements.update(cluster.inventory, cluster.identity, now());
          podOfWorkload = livePodsByWorkload(cluster);
          for (const audit of audits.values()) audit.updateCluster(cluster.clusterModel);
        }
      }
      // Promptly after new flows (at most once a second), else on the requeue/resync timer.
      // Agents waiting for an acknowledgement count as news too (a batch may carry only drops).
      if (now() >= nextRound || changed || ((newFlows > 0 || sources.hasWaiters()) && now() - lastRound >= 1000)) {
        lastRound = now();
        changed = false;
        newFlows = 0;
        // Positions as of now; input arriving during the round waits, so the profiles the round
        // writes hold exactly what the positions cover.
        const positions = sources.beginRound();
        let stored = false;
        let requeue = config.resyncMs;
        let namespaces: string[] | undefined;
        try {
          // Listing the Segmentations can fail (API server restarting, 429): try again soon.
          ({ requeue, namespaces, stored } = await reconcileAll(ctx, options.metrics).catch((e: Error) => {
            log.error({ err: e.message }, 'reconcile round failed');
            return { requeue: 2000, namespaces: undefined, stored: false };
          }));
          if (stored) stored = await checkpoint.flush(positions).then(() => true, (e: Error) => (log.warn({ err: e.message }, 'checkpoint flush failed'), false));
        } finally {
          sources.endRound(stored);
        }
        if (namespaces) await sources.setNamespaces(namespaces).catch((e: Error) => log.warn({ err: e.message }, 'restarting the Hubble stream failed'));
        for (const [ns, audit] of audits) {
          for (const sample of audit.drainFresh()) {
            const seg = { apiVersion: API_VERSION, kind: 'Segmentation', metadata: { namespace: ns, name: audit.segmentation } } as KubernetesObject;
            await kube.event(seg, 'Warning', 'WouldDeny', `${sample.client} -> ${sample.server} ${sample.port}/${sample.protocol} would be denied by ${audit.proposal}`);
          }
        }
        nextRound = now() + Math.min(config.resyncMs, requeue);
        if (!ready) {
          ready = true;
          options.onReady?.();
        }
      }
      await sleep(Math.min(250, config.flowPollMs), signal);
      newFlows += sources.takeNewFlows();
    }
  } finally {
    for (const informer of informers) void informer.stop();
    await cluster.stop();
    await sources.stop();
    sources.takeNewFlows(); // the last counts to the metrics
    const positions = sources.beginRound();
    const last = await reconcileAll(ctx, options.metrics).catch(() => undefined);
    const stored = last?.stored === true && await checkpoint.flush(positions).then(() => true, () => false);
    sources.endRound(stored);
    sources.abandonWaiters();
  }
}

/**
 * Informers on what a Segmentation's reconcile depends on. Each restarts itself after errors and
 * relists on 410 (src/runtime/informer.ts); the CiliumNetworkPolicy one just keeps retrying on
 * clusters without Cilium.
 */
function watchedResources(kube: Kube, log: Logger, onChange: () => void): ReadInformers {
  const owned = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
  const make = (r: { name: string; group: string; version: string; plural: string; labelSelector?: string }) => {
    const informer = new Informer<KubernetesObject>({
      name: r.name,
      listerWatcher: kubeListerWatcher(kube.config, resourcePath(r)),
      ...(r.labelSelector ? { labelSelector: r.labelSelector } : {}),
      resyncPeriodMs: 0,
      logger: log.child({ component: `informer/${r.name}` }),
    });
    informer.addEventHandler({ onAdd: onChange, onUpdate: onChange, onDelete: onChange });
    return informer;
  };
  return {
    segmentations: make({ name: 'segmentations', group: 'hivewall.dev', version: 'v1alpha1', plural: 'segmentations' }),
    proposals: make({ name: 'policyproposals', group: 'hivewall.dev', version: 'v1alpha1', plural: 'policyproposals' }),
    policies: {
      NetworkPolicy: make({ name: 'networkpolicies', group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', labelSelector: owned }),
      CiliumNetworkPolicy: make({ name: 'ciliumnetworkpolicies', group: 'cilium.io', version: 'v2', plural: 'ciliumnetworkpolicies', labelSelector: owned }),
    },
  };
}

/**
 * Reconciles every Segmentation; returns when to look again, the namespaces that have one, and
 * whether every reconcile succeeded (so the learned state is stored).
 */
async function reconcileAll(ctx: Parameters<typeof reconcileSegmentation>[0] & { backoff?: RoundBackoff }, metrics?: OperatorMetrics): Promise<{ requeue: number; namespaces: string[]; stored: boolean }> {
  let requeue = Number.POSITIVE_INFINITY;
  let stored = true;
  const storedNamespaces = new Set<string>();
  const roundCtx = { ...ctx, profileStored: (namespace: string) => storedNamespaces.add(namespace) };
  const reports: ReconcileReport[] = [];
  const segmentations = await (ctx.reads ?? apiReads(ctx.kube)).segmentations();
  const backoff = ctx.backoff;
  // Keyed by generation too: a changed spec is reconciled at once, as an update event would be in client-go.
  const keyOf = (s: KubernetesObject) => `${s.metadata?.namespace}/${s.metadata?.name}#${s.metadata?.generation ?? 0}`;
  backoff?.retain(new Set(segmentations.map(keyOf)));
  for (const seg of segmentations) {
    const namespace = seg.metadata?.namespace ?? '';
    const name = seg.metadata?.name ?? '';
    const key = keyOf(seg);
    const log = ctx.log.child({ namespace, name, reconcileId: Math.random().toString(36).slice(2, 10) });
    const waiting = backoff?.waiting(key, ctx.now()) ?? 0;
    if (waiting > 0) {
      // Backing off after failures: only its learned edges are stored, so the sources go on.
      requeue = Math.min(requeue, waiting);
      await storeProfileOnly({ ...roundCtx, log }, namespace, name).catch((e: Error) => {
        log.warn({ err: e.message }, 'storing the learned edges failed');
        stored = false;
      });
      continue;
    }
    const started = performance.now();
    try {
      const result = await reconcileSegmentation({ ...roundCtx, log }, namespace, name);
      if (result.requeueAfter !== undefined) requeue = Math.min(requeue, result.requeueAfter);
      if (result.report) reports.push(result.report);
      backoff?.succeeded(key);
      metrics?.onReconcile?.(performance.now() - started, false);
    } catch (error) {
      metrics?.onReconcile?.(performance.now() - started, true);
      const retryInMs = backoff?.failed(key, ctx.now()) ?? 2_000;
      log.error({ err: (error as Error).message, retryInMs }, 'reconcile failed');
      requeue = Math.min(requeue, retryInMs);
      // Failing after its profile was stored (applying policies, status) does not hold the sources back.
      if (!storedNamespaces.has(namespace)) stored = false;
    }
  }
  metrics?.onRound?.(reports);
  return { requeue, namespaces: namespacesOf(segmentations), stored };
}

function namespacesOf(segmentations: readonly KubernetesObject[]): string[] {
  return [...new Set(segmentations.map((s) => s.metadata?.namespace ?? '').filter((n) => n !== ''))].sort();
}

async function segmentationNamespaces(kube: Kube): Promise<string[]> {
  return namespacesOf(await kube.list<KubernetesObject>(API_VERSION, 'Segmentation'));
}

/** One live pod per workload key (the first by name): how agents' workload-level edges are audited. */
function livePodsByWorkload(cluster: ClusterCache): Map<string, string> {
  const pods = new Map<string, string>();
  for (const { pod, workload } of cluster.identity.podsWithWorkloads()) {
    if (pod.deletedAt !== undefined) continue;
    const key = peerKey(workload);
    const current = pods.get(key);
    if (current === undefined || pod.name < current) pods.set(key, pod.name);
  }
  return pods;
}

/**
 * Restores every stored TrafficProfile into the learner. Each profile stored the learner's lost-event
 * count of its time, so the largest is where the count continues (else a restart would report an
 * incomplete graph as complete).
 */
async function restoreProfiles(kube: Kube, learner: Learner): Promise<number> {
  let edges = 0;
  let lostEvents = 0;
  for (const raw of await kube.list<KubernetesObject>(API_VERSION, 'TrafficProfile')) {
    const parsed = trafficProfileSchema.safeParse(raw);
    if (!parsed.success) continue;
    edges += restoreProfile(learner, parsed.data.spec, parsed.data.metadata.namespace);
    lostEvents = Math.max(lostEvents, parsed.data.spec.lostEvents);
  }
  learner.stats.lostEvents = Math.max(learner.stats.lostEvents, lostEvents);
  return edges;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
