/**
 * The controller runtime hivewall's controllers run on. One module, one job:
 *
 * - ./workqueue.ts       rate-limited work queue (per-key dedupe, delays, backoff)
 * - ./informer.ts        resilient list+watch cache with handlers, resync, sync signal
 * - ./list-watch.ts      the list/watch I/O seam and its client-node implementation
 * - ./leader-election.ts Lease-based leader election (client-go semantics); ./lease-lock.ts its lock
 * - ./controller.ts      informers → queue → workers → level-based reconcile
 * - ./errors.ts          TerminalError / RetryableError and classifyApiError
 * - ./health.ts          /healthz, /readyz, /metrics
 * - ./signals.ts         SIGTERM/SIGINT → one graceful shutdown
 * - ./clock.ts, ./backoff.ts, ./fake-clock.ts, ./testing.ts   time, backoff, test support
 */
export { Backoff, backoffDelay, applyJitter, ItemBackoff, DEFAULT_ITEM_BACKOFF, type BackoffPolicy } from './backoff.js';
export { systemClock, sleep, type Clock, type TimerHandle } from './clock.js';
export {
  Controller, splitKey, type ControllerMetrics, type ControllerOptions, type EventSource, type ReconcileContext,
  type ReconcileOutcome, type ReconcileResult, type Reconciler,
} from './controller.js';
export {
  classifyApiError, describeObject, HivewallError, isConflict, isNotFound, apiStatusOf, isRetryableStatus, RetryableError,
  statusOf, TerminalError, type HivewallErrorOptions, type ObjectRef,
} from './errors.js';
export { HealthServer, type CheckResult, type HealthCheck, type HealthServerOptions } from './health.js';
export {
  DEFAULT_INFORMER_BACKOFF, Informer, objectKey, type InformerHandler, type InformerMetrics, type InformerOptions, type InformerStats,
} from './informer.js';
export {
  LeaderElector, type LeaderCallbacks, type LeaderElectionConfig, type LeaderElectionMetrics,
} from './leader-election.js';
export { kubeLeaseLock, type LeaderElectionRecord, type LeaseLock, type LockedRecord } from './lease-lock.js';
export {
  kubeListerWatcher, resourcePath, type KubeListerWatcherOptions, type ListerWatcher, type ListOptions, type ListResult,
  type ResourceRef, type WatchEventType, type WatchHandle, type WatchOptions,
} from './list-watch.js';
export { handleShutdownSignals, type ShutdownSignal, type SignalHandle, type SignalOptions, type SignalTarget } from './signals.js';
export { WorkQueue, type WorkQueueMetrics, type WorkQueueOptions } from './workqueue.js';
