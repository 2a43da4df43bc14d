/**
 * A generic controller: informers → work queue → N workers → `reconcile(key)`.
 *
 * Reconciles are level-based (docs/architecture.md §6 rule 4): events only say *which* object to look at
 * (its `namespace/name` key); `reconcile` reads the current state from the caches, makes the world
 * match, and returns when to look again. Many events for one key collapse into one reconcile, and a
 * key is never reconciled by two workers at once (see ./workqueue.ts).
 *
 * Outcomes:
 * - returns `{ requeueAfter: ms }`: success; look again after `ms` (backoff forgotten);
 * - returns nothing: success; backoff forgotten;
 * - throws a {@link RetryableError} (or anything unclassified; see `classifyApiError`): the key
 *   goes back with per-key exponential backoff (and at least a 429's Retry-After);
 * - throws a {@link TerminalError}: logged and counted, backoff forgotten, not retried until the
 *   object changes again.
 *
 * Each reconcile gets a pino child logger bound to `controller`, `namespace`, `name`,
 * `reconcileId`, and a signal that aborts if shutdown gives up waiting for it.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { newReconcileId, reconcileLogger } from '../telemetry/logger.js';
import { systemClock, type Clock } from './clock.js';
import { classifyApiError, RetryableError, type TerminalError } from './errors.js';
import { objectKey, type InformerHandler } from './informer.js';
import { WorkQueue, type WorkQueueMetrics } from './workqueue.js';
import type { BackoffPolicy } from './backoff.js';
import { yieldToEventLoop } from './yield.js';

export interface ReconcileContext {
  /** `namespace/name` (or `name` for cluster-scoped objects). */
  readonly key: string;
  readonly namespace: string | undefined;
  readonly name: string;
  readonly reconcileId: string;
  /** Bound to controller, namespace, name, reconcileId. */
  readonly log: Logger;
  /** Aborts when shutdown stops waiting for in-flight reconciles. Pass it to long operations. */
  readonly signal: AbortSignal;
  /** Failed attempts for this key since its last success (0 on a first try). */
  readonly retries: number;
}

/** `requeueAfter` in milliseconds. */
export type ReconcileResult = { readonly requeueAfter?: number } | void;

export type Reconciler = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult>;

/** How a reconcile ended, for metrics and logs. */
export type ReconcileOutcome = 'success' | 'requeue' | 'retry' | 'terminal';

/** Hooks for Prometheus (see telemetry/metrics.ts). */
export interface ControllerMetrics {
  reconcileDuration?(seconds: number, outcome: ReconcileOutcome): void;
  /** `reason`: the API server's reason (Conflict, Forbidden, …) or the network error code, when known. */
  reconcileError?(kind: 'retryable' | 'terminal', reason?: string): void;
}

/** What a controller needs from an informer (the real one, or a fake in tests). */
export interface EventSource<T> {
  readonly name: string;
  addEventHandler(handler: InformerHandler<T>): () => void;
  hasSynced(): boolean;
  waitForSync(timeoutMs?: number): Promise<boolean>;
}

export interface ControllerOptions {
  readonly name: string;
  readonly reconcile: Reconciler;
  /** Concurrent reconciles (different keys only). Default 2. */
  readonly workers?: number;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Per-key retry backoff (default 50 ms doubling to 5 min). */
  readonly backoff?: BackoffPolicy;
  readonly metrics?: ControllerMetrics;
  readonly queueMetrics?: WorkQueueMetrics;
  /** How long `stop()` waits for in-flight reconciles by default (30 s). */
  readonly shutdownTimeoutMs?: number;
  /** Reconcile ids (default random UUIDs). */
  readonly newReconcileId?: () => string;
}

/** `namespace/name` → parts; a key without `/` is a cluster-scoped name. */
export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export class Controller {
  readonly name: string;
  readonly #opts: ControllerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #queue: WorkQueue<string>;
  readonly #sources: Array<EventSource<never>> = [];
  readonly #unsubscribe: Array<() => void> = [];
  readonly #abort = new AbortController();
  #workers: Array<Promise<void>> = [];
  #state: 'new' | 'syncing' | 'running' | 'stopping' | 'stopped' = 'new';
  #stopping: Promise<boolean> | undefined;

  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.logger.child({ controller: opts.name });
    this.#queue = new WorkQueue<string>({
      clock: this.#clock,
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      ...(opts.queueMetrics ? { metrics: opts.queueMetrics } : {}),
    });
  }

  /**
   * Reconcile on every add, update (including resyncs) and delete from `source`. `toKeys` maps
   * an object to the keys to reconcile (default: its own key); use it to map an owned object to
   * its owner. `updateMatters` filters updates (see {@link notStatusOnly}). Call before `start()`.
   */
  watch<T extends KubernetesObject>(source: EventSource<T>, toKeys: (obj: T) => Iterable<string> = (o) => [objectKey(o)], updateMatters: (old: T, obj: T) => boolean = () => true): this {
    if (this.#state !== 'new') throw new Error(`controller ${this.name}: watch() after start()`);
    const enqueue = (obj: T) => {
      for (const key of toKeys(obj)) if (key) this.#queue.add(key);
    };
    this.#sources.push(source as unknown as EventSource<never>);
    this.#unsubscribe.push(source.addEventHandler({ onAdd: enqueue, onUpdate: (old, obj) => { if (updateMatters(old, obj)) enqueue(obj); }, onDelete: enqueue }));
    return this;
  }

  /** Queue `key` for a reconcile now (e.g. from a timer or another controller). */
  enqueue(key: string): void {
    this.#queue.add(key);
  }

  /** Queue `key` after `ms`. */
  enqueueAfter(key: string, ms: number): void {
    this.#queue.addAfter(key, ms);
  }

  /**
   * Wait until every watched source has synced, then start the workers. Resolves once they run,
   * or early if `stop()` is called meanwhile. Events that arrive during the sync are queued and
   * processed as soon as the workers start.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    this.#state = 'syncing';
    this.#log.info({ sources: this.#sources.map((s) => s.name) }, 'waiting for caches to sync');
    const stopped = new Promise<false>((resolve) => this.#abort.signal.addEventListener('abort', () => resolve(false), { once: true }));
    for (const source of this.#sources) {
      const synced = await Promise.race([source.waitForSync(), stopped]);
      if (!synced || this.#abort.signal.aborted) return;
    }
    if (this.#state !== 'syncing') return;
    this.#state = 'running';
    const workers = Math.max(1, this.#opts.workers ?? 2);
    this.#workers = Array.from({ length: workers }, () => this.#worker());
    this.#log.info({ workers }, 'controller started');
  }

  /** Running: sources synced and workers started (for a readiness check). */
  isReady(): boolean {
    return this.#state === 'running';
  }

  /** Keys waiting (for tests and debugging). */
  queueLength(): number {
    return this.#queue.len();
  }

  /**
   * Graceful shutdown: stop taking events and keys, wait up to `timeoutMs` for in-flight
   * reconciles, then abort their signals. Resolves true if everything finished in time.
   */
  stop(timeoutMs = this.#opts.shutdownTimeoutMs ?? 30_000): Promise<boolean> {
    this.#stopping ??= this.#stop(timeoutMs);
    return this.#stopping;
  }

  async #stop(timeoutMs: number): Promise<boolean> {
    this.#state = 'stopping';
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    const inFlight = this.#queue.processingCount();
    if (inFlight > 0) this.#log.info({ inFlight, timeoutMs }, 'waiting for in-flight reconciles');
    const drained = await this.#queue.shutDownWithDrain(timeoutMs);
    if (!drained) this.#log.warn({ inFlight: this.#queue.processingCount(), timeoutMs }, 'shutdown timeout: aborting in-flight reconciles');
    this.#abort.abort(new Error(`controller ${this.name} stopped`));
    if (drained) await Promise.all(this.#workers);
    this.#state = 'stopped';
    this.#log.info({ drained }, 'controller stopped');
    return drained;
  }

  async #worker(): Promise<void> {
    for (;;) {
      const key = await this.#queue.get();
      if (key === undefined) return;
      try {
        await this.#reconcileOne(key);
      } finally {
        this.#queue.done(key);
      }
      // A reconcile that reads only caches never waits for I/O: without this, the workers would
      // run one after another as microtasks and starve timers and sockets (the Lease renewal).
      await yieldToEventLoop();
    }
  }

  async #reconcileOne(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const reconcileId = (this.#opts.newReconcileId ?? newReconcileId)();
    const log = reconcileLogger(this.#opts.logger, { controller: this.name, namespace, name, reconcileId });
    const retries = this.#queue.numRequeues(key);
    const started = this.#clock.now();
    let outcome: ReconcileOutcome;
    try {
      const result = await this.#opts.reconcile(key, { key, namespace, name, reconcileId, log, signal: this.#abort.signal, retries });
      this.#queue.forget(key);
      const after = result?.requeueAfter;
      if (after !== undefined && after >= 0 && Number.isFinite(after)) {
        this.#queue.addAfter(key, after);
        outcome = 'requeue';
      } else {
        outcome = 'success';
      }
      log.debug({ outcome, requeueAfterMs: after, durationMs: this.#clock.now() - started }, 'reconciled');
    } catch (thrown) {
      const err = classifyApiError(thrown);
      if (err.retryable) {
        const delayMs = this.#queue.addRateLimited(key, err instanceof RetryableError ? err.retryAfterMs ?? 0 : 0);
        log.warn({ err, retries: retries + 1, delayMs, durationMs: this.#clock.now() - started }, 'reconcile failed; will retry');
        this.#opts.metrics?.reconcileError?.('retryable', err.reason);
        outcome = 'retry';
      } else {
        this.#queue.forget(key);
        log.error({ err: err as TerminalError, durationMs: this.#clock.now() - started }, 'reconcile failed; not retrying');
        this.#opts.metrics?.reconcileError?.('terminal', err.reason);
        outcome = 'terminal';
      }
    }
    this.#opts.metrics?.reconcileDuration?.((this.#clock.now() - started) / 1000, outcome);
  }
}

/**
 * An update worth a reconcile unless it changed only the status (controller-runtime's
 * generation-changed predicate, widened to the metadata a reconcile reads): the API server bumps
 * `metadata.generation` on every spec change of a custom resource, never on a status write, so
 * the echo of a controller's own status write reconciles nothing. A resync (the same
 * resourceVersion) always matters: it is the periodic level check.
 */
export function notStatusOnly(old: KubernetesObject, obj: KubernetesObject): boolean {
  const [a, b] = [old.metadata ?? {}, obj.metadata ?? {}];
  if (a.resourceVersion === b.resourceVersion || a.generation === undefined || a.generation !== b.generation) return true;
  return a.deletionTimestamp !== b.deletionTimestamp
    || JSON.stringify([a.finalizers, a.labels, a.annotations, a.ownerReferences]) !== JSON.stringify([b.finalizers, b.labels, b.annotations, b.ownerReferences]);
}
