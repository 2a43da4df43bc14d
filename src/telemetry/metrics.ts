/**
 * Every Prometheus metric hivewall exports, defined in one place (all named `hivewall_*`), on a
 * registry of its own (never prom-client's global one, so tests and several managers in one
 * process do not collide), plus the default Node.js process metrics (`process_*`, `nodejs_*`,
 * under their standard names so stock dashboards work).
 *
 * Runtime components take small hook interfaces instead of prom-client objects; the adapters
 * here (`workQueueMetrics(name)`, `informerMetrics(name)`, `controllerMetrics(name)`,
 * `leaderElectionMetrics(lease)`, `eventLoopMetrics()`) bind their label values and are passed to
 * the component's `metrics` option. Every metric declared here has a feeder; docs/operator-guide.md
 * lists them.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ControllerMetrics } from '../runtime/controller.js';
import type { InformerMetrics } from '../runtime/informer.js';
import type { LeaderElectionMetrics } from '../runtime/leader-election.js';
import type { WorkQueueMetrics } from '../runtime/workqueue.js';
import type { EventLoopMetrics } from './event-loop.js';

export interface MetricsOptions {
  /** Collect the default Node.js process metrics (default true). */
  readonly defaultMetrics?: boolean;
  /** Labels added to every series (e.g. `{ replica: podName }`). */
  readonly defaultLabels?: Record<string, string>;
  /**
   * Which process exports them (default `operator`). A node agent exports only what it feeds:
   * the informer and event-loop metrics (its own `hivewall_agent_*` are in agent/metrics.ts);
   * the operator's metrics still exist as objects but are on no registry.
   */
  readonly process?: 'operator' | 'agent';
}

/** Reconcile latencies: 5 ms … 1 min. */
/** The `flavor` label values of hivewall_policies_applied: a Segmentation's `spec.flavor`. */
const POLICY_FLAVORS = ['NetworkPolicy', 'CiliumNetworkPolicy'] as const;
const RECONCILE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Work queue waits and work: 1 ms … 5 min. */
const QUEUE_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300];
/** Event-loop delay: 10 ms (noise) … 30 s (past any lease renew deadline). */
const EVENT_LOOP_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** How a reconcile failed, for `hivewall_reconcile_errors_total`. */
export type ReconcileErrorKind = 'retryable' | 'terminal';

/**
 * The Controller's hooks, plus an optional `reason` (the error's machine-readable reason:
 * `Conflict`, `Forbidden`, `ECONNREFUSED`, …; `HivewallError.reason`) on errors.
 */
export interface ControllerMetricsHooks extends ControllerMetrics {
  reconcileError(kind: ReconcileErrorKind, reason?: string): void;
}

export interface HivewallMetrics {
  readonly registry: Registry;
  /** Flows read from a source, by `source` (hubble-grpc, hubble-file, conntrack) and `result` (accepted, skipped, invalid, …). */
  readonly flowsIngested: Counter<'source' | 'result'>;
  /** Flow events a source reported lost (Hubble `lost_events`: ring buffer overflows, relay queue drops), by `source`. */
  readonly flowsLost: Counter<'source'>;
  readonly intakePauses: Counter;
  readonly dnsNamesDropped: Counter<'reason'>;
  /** Edges in the learned graph of a namespace. */
  readonly graphEdges: Gauge<'namespace'>;
  /** PolicyProposals by `phase` (Pending, Approved, Rejected, Superseded, …). */
  readonly proposals: Gauge<'phase'>;
  /** Reconcile latency by `controller` and `result` (success, requeue, retry, terminal). */
  readonly reconcileDuration: Histogram<'controller' | 'result'>;
  /** Failed reconciles by `controller`, `kind` (retryable, terminal) and `reason`. */
  readonly reconcileErrors: Counter<'controller' | 'kind' | 'reason'>;
  /** Live flows the approved policies would deny (Audit mode), by namespace. */
  readonly wouldDenyFlows: Counter<'namespace'>;
  /** Connections the enforced policies denied (Hubble POLICY_DENIED, agents' unanswered SYNs), by namespace. */
  readonly deniedFlows: Counter<'namespace'>;
  /** Policies hivewall currently has applied, by namespace and `flavor` (NetworkPolicy, CiliumNetworkPolicy). */
  readonly policiesApplied: Gauge<'namespace' | 'flavor'>;
  readonly workqueueDepth: Gauge<'name'>;
  readonly workqueueAdds: Counter<'name'>;
  readonly workqueueRetries: Counter<'name'>;
  readonly workqueueQueueDuration: Histogram<'name'>;
  readonly workqueueWorkDuration: Histogram<'name'>;
  /** Informer list/watch restarts by `informer` and `reason` (error, expired). */
  readonly informerRestarts: Counter<'informer' | 'reason'>;
  /** Full lists after the first (the watch could not resume: 410 Gone), by `informer`. */
  readonly informerRelists: Counter<'informer'>;
  /** When the informer's cache was last confirmed current (Unix seconds), by `informer`. */
  readonly informerLastSync: Gauge<'informer'>;
  readonly informerHandlerErrors: Counter<'informer'>;
  readonly informerObjects: Gauge<'informer'>;
  /** 1 while this replica holds the `lease`, else 0. */
  readonly leaderStatus: Gauge<'lease'>;
  /** The longest event-loop delay of each sampling window. */
  readonly eventLoopDelay: Histogram;
  /** The longest event-loop delay since the monitor started. */
  readonly eventLoopDelayMax: Gauge;

  /** Removes a namespace's series (its Segmentation is gone): namespaces come and go, series must not pile up. */
  forgetNamespace(namespace: string): void;
  workQueueMetrics(name: string): Required<WorkQueueMetrics>;
  informerMetrics(name: string): Required<InformerMetrics>;
  controllerMetrics(name: string): Required<ControllerMetricsHooks>;
  leaderElectionMetrics(lease: string): Required<LeaderElectionMetrics>;
  eventLoopMetrics(): EventLoopMetrics;
}

export function createMetrics(opts: MetricsOptions = {}): HivewallMetrics {
  const registry = new Registry();
  if (opts.defaultLabels) registry.setDefaultLabels(opts.defaultLabels);
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  /** The operator's own metrics: not exported by an agent. */
  const operatorOnly = (opts.process ?? 'operator') === 'operator' ? registers : [];

  const m = {
    registry,
    flowsIngested: new Counter({ name: 'hivewall_flows_ingested_total', help: 'Flows read from a flow source, by source and result.', labelNames: ['source', 'result'] as const, registers: operatorOnly }),
    dnsNamesDropped: new Counter({ name: 'hivewall_dns_names_dropped_total', help: 'DNS names a workload resolved that the learner did not keep: evicted (an address resolved and never connected to, past the per-workload bound) or over-limit (past the names kept per address). Policies name those peers by fewer FQDNs or by address.', labelNames: ['reason'] as const, registers: operatorOnly }),
    intakePauses: new Counter({ name: 'hivewall_intake_pauses_total', help: 'Times the flow sources were paused because a store pass held too much input (src/operator/flow-sources.ts): the file is not read, the Hubble stream gets no flow-control credit and agents are answered 503 until the pass ends. Frequent pauses mean store passes are slow (API server latency) for the flow rate.', registers: operatorOnly }),
    flowsLost: new Counter({ name: 'hivewall_flow_events_lost_total', help: 'Flow events a source reported lost (Hubble lost_events): the learned graph may miss edges.', labelNames: ['source'] as const, registers: operatorOnly }),
    graphEdges: new Gauge({ name: 'hivewall_graph_edges', help: 'Edges in the learned communication graph of a namespace.', labelNames: ['namespace'] as const, registers: operatorOnly }),
    proposals: new Gauge({ name: 'hivewall_proposals', help: 'PolicyProposals by phase.', labelNames: ['phase'] as const, registers: operatorOnly }),
    reconcileDuration: new Histogram({ name: 'hivewall_reconcile_duration_seconds', help: 'Time spent in one reconcile, by controller and result.', labelNames: ['controller', 'result'] as const, buckets: RECONCILE_BUCKETS, registers: operatorOnly }),
    reconcileErrors: new Counter({ name: 'hivewall_reconcile_errors_total', help: 'Failed reconciles, by controller, kind (retryable, terminal) and reason (Conflict, Forbidden, ECONNREFUSED, …).', labelNames: ['controller', 'kind', 'reason'] as const, registers: operatorOnly }),
    wouldDenyFlows: new Counter({ name: 'hivewall_would_deny_flows_total', help: 'Live flows the approved policies would deny (Audit mode), by namespace.', labelNames: ['namespace'] as const, registers: operatorOnly }),
    deniedFlows: new Counter({ name: 'hivewall_denied_flows_total', help: 'Connections the enforced hivewall policies denied (Hubble POLICY_DENIED drops, connections left SYN_SENT unanswered), by namespace.', labelNames: ['namespace'] as const, registers: operatorOnly }),
    policiesApplied: new Gauge({ name: 'hivewall_policies_applied', help: 'Policies hivewall has applied, by namespace and flavor.', labelNames: ['namespace', 'flavor'] as const, registers: operatorOnly }),
    workqueueDepth: new Gauge({ name: 'hivewall_workqueue_depth', help: 'Keys queued and ready, by queue.', labelNames: ['name'] as const, registers: operatorOnly }),
    workqueueAdds: new Counter({ name: 'hivewall_workqueue_adds_total', help: 'Keys added (not counting duplicates of queued keys), by queue.', labelNames: ['name'] as const, registers: operatorOnly }),
    workqueueRetries: new Counter({ name: 'hivewall_workqueue_retries_total', help: 'Keys re-added with backoff after a failure, by queue.', labelNames: ['name'] as const, registers: operatorOnly }),
    workqueueQueueDuration: new Histogram({ name: 'hivewall_workqueue_queue_duration_seconds', help: 'How long a key waited in the queue before a worker took it.', labelNames: ['name'] as const, buckets: QUEUE_BUCKETS, registers: operatorOnly }),
    workqueueWorkDuration: new Histogram({ name: 'hivewall_workqueue_work_duration_seconds', help: 'How long a worker held a key.', labelNames: ['name'] as const, buckets: QUEUE_BUCKETS, registers: operatorOnly }),
    informerRestarts: new Counter({ name: 'hivewall_informer_restarts_total', help: 'Informer list/watch restarts, by informer and reason (error, expired).', labelNames: ['informer', 'reason'] as const, registers }),
    informerRelists: new Counter({ name: 'hivewall_informer_relists_total', help: 'Full lists after the first one (410 Gone: the watch could not resume), by informer.', labelNames: ['informer'] as const, registers }),
    informerLastSync: new Gauge({ name: 'hivewall_informer_last_sync_timestamp_seconds', help: 'When the informer last confirmed its cache current (a list, a watch event or bookmark, a routine watch end), Unix seconds.', labelNames: ['informer'] as const, registers }),
    informerHandlerErrors: new Counter({ name: 'hivewall_informer_handler_errors_total', help: 'Event handlers that threw, by informer.', labelNames: ['informer'] as const, registers }),
    informerObjects: new Gauge({ name: 'hivewall_informer_objects', help: 'Objects in an informer cache.', labelNames: ['informer'] as const, registers }),
    leaderStatus: new Gauge({ name: 'hivewall_leader_status', help: '1 while this replica holds the leader election lease, else 0.', labelNames: ['lease'] as const, registers: operatorOnly }),
    eventLoopDelay: new Histogram({ name: 'hivewall_event_loop_delay_seconds', help: 'The longest event-loop delay of each sampling window (1 s by default): how long timers and I/O waited.', buckets: EVENT_LOOP_BUCKETS, registers }),
    eventLoopDelayMax: new Gauge({ name: 'hivewall_event_loop_delay_max_seconds', help: 'The longest event-loop delay since the monitor started.', registers }),
  };

  return {
    ...m,
    workQueueMetrics(name) {
      return {
        depth: (n) => m.workqueueDepth.set({ name }, n),
        add: () => m.workqueueAdds.inc({ name }),
        retry: () => m.workqueueRetries.inc({ name }),
        queueLatency: (ms) => m.workqueueQueueDuration.observe({ name }, ms / 1000),
        workDuration: (ms) => m.workqueueWorkDuration.observe({ name }, ms / 1000),
      };
    },
    informerMetrics(informer) {
      m.informerRestarts.inc({ informer, reason: 'error' }, 0);
      m.informerRestarts.inc({ informer, reason: 'expired' }, 0);
      m.informerRelists.inc({ informer }, 0);
      m.informerHandlerErrors.inc({ informer }, 0);
      return {
        restart: (reason) => m.informerRestarts.inc({ informer, reason }),
        relist: () => m.informerRelists.inc({ informer }),
        synced: (epochMs) => m.informerLastSync.set({ informer }, epochMs / 1000),
        handlerError: () => m.informerHandlerErrors.inc({ informer }),
        objects: (n) => m.informerObjects.set({ informer }, n),
      };
    },
    forgetNamespace(namespace) {
      m.graphEdges.remove({ namespace });
      m.wouldDenyFlows.remove({ namespace });
      m.deniedFlows.remove({ namespace });
      for (const flavor of POLICY_FLAVORS) m.policiesApplied.remove({ namespace, flavor });
    },
    controllerMetrics(controller) {
      return {
        reconcileDuration: (seconds, result) => m.reconcileDuration.observe({ controller, result }, seconds),
        reconcileError: (kind, reason) => m.reconcileErrors.inc({ controller, kind, reason: reason || 'unknown' }),
      };
    },
    leaderElectionMetrics(lease) {
      m.leaderStatus.set({ lease }, 0);
      return { leader: (isLeader) => m.leaderStatus.set({ lease }, isLeader ? 1 : 0) };
    },
    eventLoopMetrics() {
      return {
        delay: (seconds) => m.eventLoopDelay.observe(seconds),
        maxDelay: (seconds) => m.eventLoopDelayMax.set(seconds),
      };
    },
  };
}
