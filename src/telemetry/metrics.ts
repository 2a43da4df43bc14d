/**
 * Every Prometheus metric hivewall exports, defined in one place (all named `hivewall_*`), on a
 * registry of its own (never prom-client's global one, so tests and several managers in one
 * process do not collide), plus the default Node.js process metrics (`process_*`, `nodejs_*`,
 * under their standard names so stock dashboards work).
 *
 * Runtime components take small hook interfaces instead of prom-client objects; the adapters
 * here (`workQueue(name)`, `informer(name)`, `controller(name)`, `leaderElection(lease)`) bind
 * their label values.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ControllerMetrics } from '../runtime/controller.js';
import type { InformerMetrics } from '../runtime/informer.js';
import type { LeaderElectionMetrics } from '../runtime/leader-election.js';
import type { WorkQueueMetrics } from '../runtime/workqueue.js';

export interface MetricsOptions {
  /** Collect the default Node.js process metrics (default true). */
  readonly defaultMetrics?: boolean;
  /** Labels added to every series (e.g. `{ replica: podName }`). */
  readonly defaultLabels?: Record<string, string>;
}

/** Reconcile latencies: 5 ms … 1 min. */
const RECONCILE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Work queue waits and work: 1 ms … 5 min. */
const QUEUE_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300];

export interface HivewallMetrics {
  readonly registry: Registry;
  /** Flows read from a source, by `source` (hubble-grpc, hubble-file, conntrack) and `result` (accepted, skipped, invalid, …). */
  readonly flowsIngested: Counter<'source' | 'result'>;
  /** Flow events a source reported lost (Hubble `lost_events`: ring buffer overflows, relay queue drops), by `source`. */
  readonly flowsLost: Counter<'source'>;
  /** Edges in the learned graph of a namespace. */
  readonly graphEdges: Gauge<'namespace'>;
  /** PolicyProposals by `phase` (Pending, Approved, Rejected, Superseded, …). */
  readonly proposals: Gauge<'phase'>;
  /** Reconcile latency by `controller` and `result` (success, requeue, retry, terminal). */
  readonly reconcileDuration: Histogram<'controller' | 'result'>;
  /** Failed reconciles by `controller` and `kind` (retryable, terminal). */
  readonly reconcileErrors: Counter<'controller' | 'kind'>;
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
  readonly informerHandlerErrors: Counter<'informer'>;
  readonly informerObjects: Gauge<'informer'>;
  /** 1 while this replica holds the `lease`, else 0. */
  readonly leaderStatus: Gauge<'lease'>;

  workQueue(name: string): WorkQueueMetrics;
  informer(name: string): InformerMetrics;
  controller(name: string): ControllerMetrics;
  leaderElection(lease: string): LeaderElectionMetrics;
}

export function createMetrics(opts: MetricsOptions = {}): HivewallMetrics {
  const registry = new Registry();
  if (opts.defaultLabels) registry.setDefaultLabels(opts.defaultLabels);
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const m = {
    registry,
    flowsIngested: new Counter({ name: 'hivewall_flows_ingested_total', help: 'Flows read from a flow source, by source and result.', labelNames: ['source', 'result'] as const, registers }),
    flowsLost: new Counter({ name: 'hivewall_flow_events_lost_total', help: 'Flow events a source reported lost (Hubble lost_events): the learned graph may miss edges.', labelNames: ['source'] as const, registers }),
    graphEdges: new Gauge({ name: 'hivewall_graph_edges', help: 'Edges in the learned communication graph of a namespace.', labelNames: ['namespace'] as const, registers }),
    proposals: new Gauge({ name: 'hivewall_proposals', help: 'PolicyProposals by phase.', labelNames: ['phase'] as const, registers }),
    reconcileDuration: new Histogram({ name: 'hivewall_reconcile_duration_seconds', help: 'Time spent in one reconcile, by controller and result.', labelNames: ['controller', 'result'] as const, buckets: RECONCILE_BUCKETS, registers }),
    reconcileErrors: new Counter({ name: 'hivewall_reconcile_errors_total', help: 'Failed reconciles, by controller and kind (retryable, terminal).', labelNames: ['controller', 'kind'] as const, registers }),
    wouldDenyFlows: new Counter({ name: 'hivewall_would_deny_flows_total', help: 'Live flows the approved policies would deny (Audit mode), by namespace.', labelNames: ['namespace'] as const, registers }),
    deniedFlows: new Counter({ name: 'hivewall_denied_flows_total', help: 'Connections the enforced hivewall policies denied (Hubble POLICY_DENIED drops, connections left SYN_SENT unanswered), by namespace.', labelNames: ['namespace'] as const, registers }),
    policiesApplied: new Gauge({ name: 'hivewall_policies_applied', help: 'Policies hivewall has applied, by namespace and flavor.', labelNames: ['namespace', 'flavor'] as const, registers }),
    workqueueDepth: new Gauge({ name: 'hivewall_workqueue_depth', help: 'Keys queued and ready, by queue.', labelNames: ['name'] as const, registers }),
    workqueueAdds: new Counter({ name: 'hivewall_workqueue_adds_total', help: 'Keys added (not counting duplicates of queued keys), by queue.', labelNames: ['name'] as const, registers }),
    workqueueRetries: new Counter({ name: 'hivewall_workqueue_retries_total', help: 'Keys re-added with backoff after a failure, by queue.', labelNames: ['name'] as const, registers }),
    workqueueQueueDuration: new Histogram({ name: 'hivewall_workqueue_queue_duration_seconds', help: 'How long a key waited in the queue before a worker took it.', labelNames: ['name'] as const, buckets: QUEUE_BUCKETS, registers }),
    workqueueWorkDuration: new Histogram({ name: 'hivewall_workqueue_work_duration_seconds', help: 'How long a worker held a key.', labelNames: ['name'] as const, buckets: QUEUE_BUCKETS, registers }),
    informerRestarts: new Counter({ name: 'hivewall_informer_restarts_total', help: 'Informer list/watch restarts, by informer and reason (error, expired).', labelNames: ['informer', 'reason'] as const, registers }),
    informerHandlerErrors: new Counter({ name: 'hivewall_informer_handler_errors_total', help: 'Event handlers that threw, by informer.', labelNames: ['informer'] as const, registers }),
    informerObjects: new Gauge({ name: 'hivewall_informer_objects', help: 'Objects in an informer cache.', labelNames: ['informer'] as const, registers }),
    leaderStatus: new Gauge({ name: 'hivewall_leader_status', help: '1 while this replica holds the leader election lease, else 0.', labelNames: ['lease'] as const, registers }),
  };

  return {
    ...m,
    workQueue(name) {
      return {
        depth: (n) => m.workqueueDepth.set({ name }, n),
        add: () => m.workqueueAdds.inc({ name }),
        retry: () => m.workqueueRetries.inc({ name }),
        queueLatency: (ms) => m.workqueueQueueDuration.observe({ name }, ms / 1000),
        workDuration: (ms) => m.workqueueWorkDuration.observe({ name }, ms / 1000),
      };
    },
    informer(informer) {
      m.informerRestarts.inc({ informer, reason: 'error' }, 0);
      m.informerRestarts.inc({ informer, reason: 'expired' }, 0);
      return {
        restart: (reason) => m.informerRestarts.inc({ informer, reason }),
        handlerError: () => m.informerHandlerErrors.inc({ informer }),
        objects: (n) => m.informerObjects.set({ informer }, n),
      };
    },
    controller(controller) {
      m.reconcileErrors.inc({ controller, kind: 'retryable' }, 0);
      m.reconcileErrors.inc({ controller, kind: 'terminal' }, 0);
      return {
        reconcileDuration: (seconds, result) => m.reconcileDuration.observe({ controller, result }, seconds),
        reconcileError: (kind) => m.reconcileErrors.inc({ controller, kind }),
      };
    },
    leaderElection(lease) {
      m.leaderStatus.set({ lease }, 0);
      return { leader: (isLeader) => m.leaderStatus.set({ lease }, isLeader ? 1 : 0) };
    },
  };
}
