/**
 * The leader's work: while this replica holds the Lease it runs
 *
 * - the flow sources into one Learner (./flow-sources.ts: export file, Hubble gRPC, agents' pushes);
 * - the Segmentation controller: one reconcile per Segmentation key on the runtime work queue
 *   (src/runtime/controller.ts), enqueued when that Segmentation, one of its proposals or owned
 *   policies changed, when the learned edges or the inventory *of its namespace* changed, or when
 *   its rollback budget was crossed — never all Segmentations because one thing changed;
 * - the store loop (./store-loop.ts), the only writer of learned state: TrafficProfiles of changed
 *   namespaces, then the sources' checkpoint, then the agents' acknowledgements;
 * - a light tick that turns those change feeds into queue keys and refreshes the inventory.
 *
 * Learned state is restored from the TrafficProfiles when leadership starts, so a restart or a
 * failover loses nothing (docs/architecture.md, "operator runtime").
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION } from '../api/meta.js';
import type { Config } from '../config.js';
import { apiReads, cachedReads, SEGMENTATION_LABEL, type ReadInformers } from '../controllers/segmentation/reads.js';
import { COUNTS_REFRESH_MS, reconcileSegmentation, reportTerminalFailure, type ReconcileContext, type ReconcileReport } from '../controllers/segmentation/reconciler.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../domain/translate/naming.js';
import { NodePlacements } from './node-binding.js';
import type { EdgeReceiver } from './receiver.js';
import { Learner } from '../domain/learner.js';
import { peerKey, workloadNamespace } from '../domain/peer.js';
import { OperatorCheckpoint } from '../k8s/checkpoint-store.js';
import { metadataFields } from '../k8s/identity-fields.js';
import { KINDS, type KindInfo } from '../k8s/kinds.js';
import type { Kube } from '../k8s/kube.js';
import { Controller, notStatusOnly, type ControllerMetrics } from '../runtime/controller.js';
import { sleep, systemClock } from '../runtime/clock.js';
import { classifyApiError } from '../runtime/errors.js';
import { Informer, objectKey, type InformerMetrics } from '../runtime/informer.js';
import { kubeListerWatcher, resourcePath } from '../runtime/list-watch.js';
import type { WorkQueueMetrics } from '../runtime/workqueue.js';
import type { AuditEngine } from '../domain/audit.js';
import { ClusterCache } from './cluster-cache.js';
import { DenialRegistry } from './denial-registry.js';
import type { DnsNameDrop } from '../domain/dns-names.js';
import { FlowSources, type FlowSourceMetrics } from './flow-sources.js';
import { restoreLearnedState, type RestoredState } from './restore.js';
import { StoreLoop, type SegmentationRef } from './store-loop.js';

/** Pods the operator's learner keeps from flows when the cluster cache did not know them (LearnerOptions.observedPodLimits). */
const OBSERVED_POD_LIMITS = { podsPerWorkload: 64, workloads: 4_096 };

export interface OperatorMetrics extends FlowSourceMetrics {
  /** After each Segmentation reconcile: what it looked like (edges, phase, would-deny, policies). */
  onReport?(report: ReconcileReport): void;
  /** PolicyProposals by phase, whenever a proposal changed. */
  onProposalPhases?(counts: ReadonlyMap<string, number>): void;
  /** Connections an enforced policy of the namespace denied. */
  onDenied?(namespace: string, count: number): void;
  /** The namespace has no Segmentation any more: its per-namespace series go. */
  onNamespaceGone?(namespace: string): void;
  /** DNS names the learner's bounds did not keep (see src/domain/dns-names.ts). */
  onDnsNamesDropped?(reason: DnsNameDrop, names: number): void;
  /** The Segmentation controller's reconcile metrics and its work queue's. */
  readonly controller?: ControllerMetrics;
  readonly queue?: WorkQueueMetrics;
  /** Metric hooks of one informer, by name (restarts, relists, last sync). */
  readonly informer?: (name: string) => InformerMetrics;
}

export interface LeaderWorkOptions {
  readonly config: Config;
  readonly kube: Kube;
  readonly log: Logger;
  /** Ends the work: a shutdown (the work then stores what it learned) or lost leadership. */
  readonly signal: AbortSignal;
  /**
   * The Lease was lost (src/runtime/leader-election.ts): at once with `signal`, or while the work
   * finishes after a shutdown. Another replica may lead now, so nothing more is written: no final
   * store pass; the next leader resumes from the last committed checkpoint.
   */
  readonly lost?: AbortSignal;
  readonly metrics?: OperatorMetrics;
  readonly now?: () => number;
  /** Set once every Segmentation was reconciled once and the first store pass ran (readiness). */
  readonly onReady?: () => void;
  /** The process's edge receiver (when agents push here): attached to the learner while leading. */
  readonly receiver?: EdgeReceiver;
}

/** Denials of enforced policies reach their Segmentation within this long (a burst collapses into one reconcile). */
const DENIALS_SETTLE_MS = 1000;
/** How often the tick turns change feeds into queue keys. */
const TICK_MS = 250;

/**
 * Runs until `signal` aborts (leadership lost or shutdown); then stops, and on a shutdown persists
 * what it learned ({@link stopLeaderWork}).
 */
export async function runLeaderWork(options: LeaderWorkOptions): Promise<void> {
  const { config, kube, log, signal } = options;
  const now = options.now ?? Date.now;
  const placements = new NodePlacements({ now });
  const cluster = new ClusterCache({ kubeConfig: kube.config, logger: log, followers: [placements], now, ranges: { podCidrs: config.podCidrs, serviceCidrs: config.serviceCidrs }, ...(options.metrics?.informer ? { metrics: options.metrics.informer } : {}) });
  await cluster.start(config.inventorySyncTimeoutMs);

  const informers = watchedResources(kube, log, options.metrics?.informer);
  const keysIn = (namespace: string): string[] => informers.segmentations.list(namespace).map((s) => objectKey(s));
  // Set below; the denial registry's callback (created first) may only fire once flows arrive.
  const controllerRef: { current?: Controller } = {};
  const enqueueNamespace = (namespace: string, afterMs = 0) => {
    for (const key of keysIn(namespace)) {
      if (afterMs > 0) controllerRef.current?.enqueueAfter(key, afterMs);
      else controllerRef.current?.enqueue(key);
    }
  };

  const denials = new DenialRegistry({
    now,
    // Past a namespace's rollback budget: reconcile it within DENIALS_SETTLE_MS (one reconcile
    // for a burst of drops, so the rollback and its follow-up proposal count the whole burst).
    onCrossed: (namespace) => {
      log.warn({ namespace }, 'rollback budget crossed');
      enqueueNamespace(namespace, DENIALS_SETTLE_MS);
    },
    // Denied counts are shown in status (and proposed for review) promptly too.
    onDenied: (namespace, count) => {
      options.metrics?.onDenied?.(namespace, count);
      enqueueNamespace(namespace, DENIALS_SETTLE_MS);
    },
  });
  // No per-pair tallies: nothing in the operator reads them, and they would grow for its whole life;
  // for the same reason, only the newest pods that the snapshot did not know.
  const learner = new Learner(cluster.identity, {
    limits: { maxEdges: config.maxEdges, maxEdgesPerNamespace: config.maxEdgesPerNamespace },
    onDenied: (denial) => denials.observe(denial),
    tallies: false,
    observedPodLimits: OBSERVED_POD_LIMITS,
    ...(options.metrics?.onDnsNamesDropped ? { onDnsNamesDropped: options.metrics.onDnsNamesDropped } : {}),
  });
  const checkpoint = new OperatorCheckpoint(kube, config.namespace, 'hivewall-flow-checkpoint');
  let restored: RestoredState;
  try {
    restored = await restoreLearnedState(kube, learner, checkpoint, log);
    log.info({ edges: restored.edges, pass: restored.pass }, 'learned state restored');
    // The checkpoint ConfigMap was gone: resumed from the profiles' committed pass, not from the
    // start of the input (which would count every stored connection again).
    if (restored.checkpointRebuilt) log.warn({ pass: restored.pass }, 'flow checkpoint missing; rebuilt from the TrafficProfiles');
  } catch (error) {
    await cluster.stop();
    throw error;
  }

  const audits = new Map<string, AuditEngine>();
  const sources = new FlowSources({
    config, learner, audits, checkpoint, log, denials,
    ...(options.receiver ? { receiver: options.receiver, placements } : {}),
    podOf: (key) => livePodOf(cluster, key),
    workloadKeyOf: (namespace, pod) => {
      const workload = cluster.identity.workloadOfPod(namespace, pod);
      return workload ? peerKey(workload) : undefined;
    },
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  const store = new StoreLoop({ kube, learner, sources, checkpoint, log: log.child({ component: 'store-loop' }), countsIntervalMs: config.countsIntervalMs, clock: now, segmentationsIn: (namespace) => liveSegmentations(informers, namespace) }, restored.newestPass, restored);
  const reconcileFeed = learner.edges.changes();

  /** Audited flows per namespace at the last audit tick (emitAuditFindings). */
  const auditFlowsSeen = new Map<string, number>();
  const ctx: ReconcileContext = {
    kube, learner, cluster, audits, log, now, denials,
    sourceError: () => sources.error(),
    reads: cachedReads(informers, apiReads(kube)),
    countsShown: new Map(),
  };
  const controller = new Controller({
    name: 'segmentation',
    logger: log,
    // Reconciles wait on the API server most of the time: a few in flight keep a large start short.
    workers: 4,
    ...(options.metrics?.controller ? { metrics: options.metrics.controller } : {}),
    ...(options.metrics?.queue ? { queueMetrics: options.metrics.queue } : {}),
    reconcile: async (_key, rctx) => {
      const keyCtx = { ...ctx, log: rctx.log };
      try {
        const result = await reconcileSegmentation(keyCtx, rctx.namespace ?? '', rctx.name);
        if (result.report) options.metrics?.onReport?.(result.report);
        // Gone, invalid or being deleted: nothing to look at until a watch event says it changed
        // (a key made up from an owned object's ownerReference would otherwise stay queued forever).
        if (result.settled) {
          const namespace = rctx.namespace ?? '';
          if (liveSegmentations(informers, namespace).length === 0) {
            auditFlowsSeen.delete(namespace);
            options.metrics?.onNamespaceGone?.(namespace);
          }
          return {};
        }
        return { requeueAfter: Math.min(config.resyncMs, result.requeueAfter ?? config.resyncMs) };
      } catch (thrown) {
        // Retryable (conflicts, 429, 5xx, network): per-key backoff in the queue. Terminal: condition + Event.
        const error = classifyApiError(thrown);
        if (!error.retryable) await reportTerminalFailure(keyCtx, rctx.namespace ?? '', rctx.name, error).catch((e: unknown) => rctx.log.warn({ err: e }, 'reporting the failure failed'));
        throw error;
      }
    },
  });
  controllerRef.current = controller;
  // A proposal or an owned policy changes → its Segmentation (by controller ownerReference, else the immutable content field).
  // Only hivewall writes these statuses: the echo of a write that moved no phase (a count
  // refresh, a condition's message) reconciles nothing.
  controller.watch(informers.segmentations, undefined, phaseOrSpecChanged);
  controller.watch(informers.proposals, (p) => ownerKeys(p), phaseOrSpecChanged);
  // Not through watch(): the Controller waits for its sources to sync, and the CiliumNetworkPolicy
  // informer never does on a cluster without Cilium.
  const unsubscribe = [informers.policies.NetworkPolicy, informers.policies.CiliumNetworkPolicy].map((informer) => informer.addEventHandler({
    onAdd: (o) => ownerKeys(o).forEach((k) => controller.enqueue(k)),
    onUpdate: (_a, o) => ownerKeys(o).forEach((k) => controller.enqueue(k)),
    onDelete: (o) => ownerKeys(o).forEach((k) => controller.enqueue(k)),
  }));
  let scopeChanged = false;
  unsubscribe.push(informers.segmentations.addEventHandler({
    // Its namespace's learned edges are stored for it from now on.
    onAdd: (s) => { scopeChanged = true; store.markNamespace(s.metadata?.namespace ?? ''); },
    onUpdate: () => undefined,
    onDelete: (s) => {
      scopeChanged = true;
      store.forgetSegmentation(s.metadata?.namespace ?? '', s.metadata?.name ?? '');
      // A duplicate left in the namespace becomes the active one now, not at its next look.
      enqueueNamespace(s.metadata?.namespace ?? '');
    },
  }));
  // A deleted TrafficProfile is written again from memory at the next store pass.
  unsubscribe.push(informers.profiles.addEventHandler({
    onAdd: () => undefined,
    onUpdate: () => undefined,
    onDelete: (p) => {
      const namespace = p.metadata?.namespace ?? '';
      if (liveSegmentations(informers, namespace).some((s) => s.name === p.metadata?.name)) {
        log.warn({ namespace, profile: p.metadata?.name }, 'TrafficProfile deleted; writing it again from the learned state');
        store.markNamespace(namespace, true);
      }
    },
  }));
  const phases = proposalPhaseCounts(informers.proposals, options.metrics?.onProposalPhases);
  unsubscribe.push(phases);

  for (const informer of allInformers(informers)) informer.start();
  const syncTimeout = config.inventorySyncTimeoutMs;
  if (!(await informers.segmentations.waitForSync(syncTimeout)) || !(await informers.proposals.waitForSync(syncTimeout)) || !(await informers.profiles.waitForSync(syncTimeout))) {
    await Promise.all([...allInformers(informers).map((i) => i.stop()), cluster.stop()]);
    throw new Error(`the Segmentations, PolicyProposals or TrafficProfiles were not listed within ${syncTimeout} ms`);
  }
  sources.start(segmentationNamespaces(informers));
  void controller.start();

  let lastInventory = now();
  let ready = false;
  try {
    while (!signal.aborted) {
      // The namespaces whose edges changed: a new edge is reconciled at once, count changes within COUNTS_REFRESH_MS.
      for (const [namespace, newEdge] of reconcileFeed.drain()) enqueueNamespace(namespace, newEdge ? 0 : countsRefreshDelay(namespace));
      if (now() - lastInventory >= config.inventoryRefreshMs) {
        lastInventory = now();
        const changes = await cluster.refresh();
        if (changes) {
          if (changes.nodes) for (const s of informers.segmentations.list()) controller.enqueue(objectKey(s));
          // A namespace's pods and Services shape its own policies and those of every namespace it talks to.
          for (const namespace of changes.namespaces) {
            enqueueNamespace(namespace);
            for (const neighbour of learner.edges.neighboursOf(namespace)) enqueueNamespace(neighbour);
          }
        }
      }
      if (scopeChanged) {
        scopeChanged = false;
        await sources.setNamespaces(segmentationNamespaces(informers)).catch((e: unknown) => log.warn({ err: e }, 'restarting the Hubble stream failed'));
      }
      // The Lease may have been lost during an await above: then no write starts here.
      if (options.lost?.aborted) break;
      await emitAuditFindings(kube, audits, auditFlowsSeen, enqueueNamespace);
      sources.takeNewFlows();
      if (!options.lost?.aborted && store.needed(now())) await store.pass(now(), options.lost);
      if (!ready && controller.isReady() && controller.queueLength() === 0) {
        ready = true;
        options.onReady?.();
      }
      // Removes its abort listener whether it times out or aborts (no listener per tick).
      await sleep(systemClock, Math.min(TICK_MS, config.flowPollMs), signal);
    }
  } finally {
    await stopLeaderWork({ unsubscribe, controller, informers: allInformers(informers), cluster, sources, store }, options.lost, now);
  }
}

/** The parts of the leader's work that {@link stopLeaderWork} stops. */
export interface LeaderWorkParts {
  readonly unsubscribe: ReadonlyArray<() => void>;
  readonly controller: Pick<Controller, 'stop'>;
  readonly informers: ReadonlyArray<Pick<Informer<KubernetesObject>, 'stop'>>;
  readonly cluster: Pick<ClusterCache, 'stop'>;
  readonly sources: Pick<FlowSources, 'stop' | 'takeNewFlows' | 'abandonWaiters'>;
  readonly store: Pick<StoreLoop, 'pass'>;
}

/**
 * Stops the leader's work. On a shutdown the in-flight reconciles finish and a final store pass
 * persists what was learned since the last one, while the elector still renews the Lease: it
 * releases it only once this has resolved (src/runtime/leader-election.ts), and the process's
 * shutdown deadline bounds the whole (src/operator/process.ts). Once the Lease is lost (`lost`,
 * also when that happens while this runs) another replica may lead: no final pass is written and
 * in-flight reconciles are not waited for. Nothing learned is lost by that: the new leader resumes
 * every source from the last committed checkpoint (docs/architecture.md §2, "Store loop").
 */
export async function stopLeaderWork(parts: LeaderWorkParts, lost: AbortSignal | undefined, now: () => number): Promise<void> {
  for (const off of parts.unsubscribe) off();
  await parts.controller.stop(lost?.aborted ? 0 : undefined);
  await Promise.all(parts.informers.map((i) => i.stop()));
  await parts.cluster.stop();
  await parts.sources.stop();
  parts.sources.takeNewFlows(); // the last counts to the metrics
  if (!lost?.aborted) await parts.store.pass(now()).catch(() => false);
  parts.sources.abandonWaiters();
}

/** The informers the Segmentation controller reads from and is triggered by. */
interface OperatorInformers extends ReadInformers {
  readonly profiles: Informer<KubernetesObject>;
}

function watchedResources(kube: Kube, log: Logger, metrics?: (name: string) => InformerMetrics): OperatorInformers {
  const owned = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
  const make = (r: KindInfo & { labelSelector?: string; transform?: (o: KubernetesObject) => KubernetesObject }) => new Informer<KubernetesObject>({
    name: r.plural,
    listerWatcher: kubeListerWatcher(kube.config, resourcePath(r)),
    ...(r.labelSelector ? { labelSelector: r.labelSelector } : {}),
    ...(r.transform ? { transform: r.transform } : {}),
    resyncPeriodMs: 0,
    logger: log.child({ component: `informer/${r.plural}` }),
    ...(metrics ? { metrics: metrics(r.plural) } : {}),
  });
  return {
    segmentations: make(KINDS.Segmentation),
    proposals: make(KINDS.PolicyProposal),
    // Watched only to notice a deleted profile: its learned content stays out of the heap.
    profiles: make({ ...KINDS.TrafficProfile, labelSelector: owned, transform: metadataFields }),
    policies: {
      NetworkPolicy: make({ ...KINDS.NetworkPolicy, labelSelector: owned }),
      CiliumNetworkPolicy: make({ ...KINDS.CiliumNetworkPolicy, labelSelector: owned }),
    },
  };
}

function allInformers(i: OperatorInformers): Informer<KubernetesObject>[] {
  return [i.segmentations, i.proposals, i.profiles, i.policies.NetworkPolicy, i.policies.CiliumNetworkPolicy];
}

/**
 * The Segmentation keys an owned object (proposal, policy) belongs to: its controller
 * ownerReference of kind Segmentation, and a proposal's `spec.content.segmentation`.
 */
function ownerKeys(o: KubernetesObject): string[] {
  const namespace = o.metadata?.namespace;
  if (!namespace) return [];
  const names = new Set<string>();
  for (const ref of o.metadata?.ownerReferences ?? []) if (ref.kind === 'Segmentation' && ref.apiVersion === API_VERSION) names.add(ref.name);
  const content = (o as { spec?: { content?: { segmentation?: unknown } } }).spec?.content?.segmentation;
  if (typeof content === 'string' && content !== '') names.add(content);
  const label = o.metadata?.labels?.[SEGMENTATION_LABEL];
  if (names.size === 0 && label) names.add(label);
  return [...names].map((name) => `${namespace}/${name}`);
}

function liveSegmentations(informers: OperatorInformers, namespace: string): SegmentationRef[] {
  return informers.segmentations.list(namespace)
    .filter((s) => !s.metadata?.deletionTimestamp && s.metadata?.uid && s.metadata.name)
    .map((s) => ({ name: s.metadata!.name!, uid: s.metadata!.uid! }));
}

function segmentationNamespaces(informers: OperatorInformers): string[] {
  return [...new Set(informers.segmentations.list().map((s) => s.metadata?.namespace ?? '').filter((n) => n !== ''))].sort();
}

/**
 * Keeps the PolicyProposals-by-phase counts from the informer's events (no list walk) and tells
 * `report` after each change. Returns the unsubscribe function.
 */
function proposalPhaseCounts(proposals: Informer<KubernetesObject>, report: ((counts: ReadonlyMap<string, number>) => void) | undefined): () => void {
  if (!report) return () => undefined;
  const counts = new Map<string, number>();
  const phaseOf = (p: KubernetesObject) => {
    const raw = p as { status?: { phase?: string }; spec?: { review?: { decision?: string } } };
    return raw.status?.phase ?? raw.spec?.review?.decision ?? 'Pending';
  };
  const bump = (phase: string, by: number) => counts.set(phase, (counts.get(phase) ?? 0) + by);
  return proposals.addEventHandler({
    onAdd: (p) => (bump(phaseOf(p), 1), report(counts)),
    onUpdate: (a, b) => (bump(phaseOf(a), -1), bump(phaseOf(b), 1), report(counts)),
    onDelete: (p) => (bump(phaseOf(p), -1), report(counts)),
  });
}

/**
 * Audit findings since the last tick: a WouldDeny Event per fresh sample, and the namespace is
 * reconciled at once (its status counts the finding); audited flows alone refresh the status
 * within {@link COUNTS_REFRESH_MS}.
 */
async function emitAuditFindings(kube: Kube, audits: ReadonlyMap<string, AuditEngine>, seen: Map<string, number>, enqueueNamespace: (namespace: string, afterMs?: number) => void): Promise<void> {
  for (const [namespace, audit] of audits) {
    const fresh = audit.drainFresh();
    const seg = { apiVersion: API_VERSION, kind: 'Segmentation', metadata: { namespace, name: audit.segmentation } } as KubernetesObject;
    for (const sample of fresh.samples) {
      await kube.event(seg, 'Warning', 'WouldDeny', `${sample.client} -> ${sample.server} ${sample.port}/${sample.protocol} would be denied by ${audit.proposal}`).catch(() => undefined);
    }
    if (fresh.more > 0) {
      await kube.event(seg, 'Warning', 'WouldDeny', `${fresh.more} more connection pairs would be denied by ${audit.proposal} (not listed one by one)`).catch(() => undefined);
    }
    if (fresh.samples.length > 0) enqueueNamespace(namespace);
    else if ((seen.get(namespace) ?? 0) !== audit.flows) enqueueNamespace(namespace, COUNTS_REFRESH_MS);
    seen.set(namespace, audit.flows);
  }
}

/** A live pod of a workload (the first by name), from its namespace's pods only: how agents' workload-level edges are audited. */
function livePodOf(cluster: ClusterCache, workloadKey: string): string | undefined {
  const namespace = workloadNamespace(workloadKey) ?? '';
  let best: string | undefined;
  for (const { pod, workload } of cluster.identity.podsWithWorkloadsIn(namespace)) {
    if (pod.deletedAt !== undefined || peerKey(workload) !== workloadKey) continue;
    if (best === undefined || pod.name < best) best = pod.name;
  }
  return best;
}

/**
 * Whether an update of a Segmentation or PolicyProposal is worth a reconcile: anything but a
 * status write that left `status.phase` (and a Segmentation's `approvedProposal`) as they were.
 * A phase that moved is looked at again once the cache holds it, as the next step may build on it.
 */
function phaseOrSpecChanged(old: KubernetesObject, obj: KubernetesObject): boolean {
  const status = (o: KubernetesObject) => (o as { status?: { phase?: string; approvedProposal?: string } }).status;
  return notStatusOnly(old, obj) || status(old)?.phase !== status(obj)?.phase || status(old)?.approvedProposal !== status(obj)?.approvedProposal;
}

/**
 * When a namespace whose counts alone changed is reconciled: after COUNTS_REFRESH_MS plus a
 * stable per-namespace share of half of it. Busy traffic changes every namespace's counts within
 * a second, so without the spread all of them would come due in the same instant every 30 s, and
 * a new edge's reconcile (its follow-up proposal) would queue behind a thousand status writes.
 */
export function countsRefreshDelay(namespace: string): number {
  let hash = 2166136261; // FNV-1a
  for (let i = 0; i < namespace.length; i++) hash = Math.imul(hash ^ namespace.charCodeAt(i), 16777619);
  return COUNTS_REFRESH_MS + ((hash >>> 0) % (COUNTS_REFRESH_MS / 2));
}
