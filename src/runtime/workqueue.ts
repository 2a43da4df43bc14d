/**
 * A rate-limited work queue with client-go's guarantees (k8s.io/client-go/util/workqueue):
 *
 * - "Fair: items processed in the order in which they are added."
 * - "Stingy: a single item will not be processed multiple times concurrently, and if an item is
 *   added multiple times before it can be processed, it will only be processed once."
 * - "Multiple consumers and producers. In particular, it is allowed for an item to be reenqueued
 *   while it is being processed" — such an item is queued again once, when `done` is called.
 *
 * Keys are compared with `===` (use strings such as `namespace/name`). Delays come from an
 * injectable {@link Clock}; per-key backoff from {@link ItemBackoff} (50 ms doubling up to 5 min
 * by default). Unlike client-go, `shutDown()` drops keys that are queued but not yet handed out:
 * reconciles are level-based, so whoever starts next (this process or the next leader) lists
 * everything again and loses nothing, and shutdown is not held up by a long queue.
 */
import { DEFAULT_ITEM_BACKOFF, ItemBackoff, type BackoffPolicy } from './backoff.js';
import { sleep, systemClock, type Clock, type TimerHandle } from './clock.js';

/** Hooks for Prometheus (see telemetry/metrics.ts); every one is optional. */
export interface WorkQueueMetrics {
  /** Keys queued and ready, after every change. */
  depth?(n: number): void;
  /** A key was accepted (not a duplicate of one already queued). */
  add?(): void;
  /** A key was re-added through `addRateLimited`. */
  retry?(): void;
  /** How long a key waited in the queue before a worker got it. */
  queueLatency?(ms: number): void;
  /** How long a worker held a key (get → done). */
  workDuration?(ms: number): void;
}

export interface WorkQueueOptions<K> {
  readonly clock?: Clock;
  /** Per-key retry backoff: a policy, or a shared {@link ItemBackoff}. */
  readonly backoff?: BackoffPolicy | ItemBackoff<K>;
  readonly metrics?: WorkQueueMetrics;
}

interface Delayed {
  readonly due: number;
  readonly handle: TimerHandle;
}

export class WorkQueue<K = string> {
  readonly #clock: Clock;
  readonly #backoff: ItemBackoff<K>;
  readonly #metrics: WorkQueueMetrics;
  #queue: K[] = [];
  #head = 0;
  /** Keys that need processing: queued, or re-added while processing. */
  readonly #dirty = new Set<K>();
  readonly #processing = new Map<K, number>();
  readonly #enqueuedAt = new Map<K, number>();
  readonly #delayed = new Map<K, Delayed>();
  #waiters: Array<(key: K | undefined) => void> = [];
  #idleWaiters: Array<() => void> = [];
  #shuttingDown = false;

  constructor(opts: WorkQueueOptions<K> = {}) {
    this.#clock = opts.clock ?? systemClock;
    this.#backoff = opts.backoff instanceof ItemBackoff ? opts.backoff : new ItemBackoff<K>(opts.backoff ?? DEFAULT_ITEM_BACKOFF);
    this.#metrics = opts.metrics ?? {};
  }

  /** Queue `key` unless it is already queued; if a worker holds it, queue it again after `done`. */
  add(key: K): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    this.#metrics.add?.();
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /**
   * Add `key` after `ms` milliseconds (now if `ms <= 0`). While a delayed add is pending, a later
   * call only moves it earlier, never later (client-go keeps the earliest ready time per key).
   */
  addAfter(key: K, ms: number): void {
    if (this.#shuttingDown) return;
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    const due = this.#clock.now() + ms;
    const existing = this.#delayed.get(key);
    if (existing) {
      if (existing.due <= due) return;
      this.#clock.clearTimeout(existing.handle);
    }
    const handle = this.#clock.setTimeout(() => {
      if (this.#delayed.get(key)?.handle !== handle) return;
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { due, handle });
  }

  /**
   * Add `key` after its backoff delay (50 ms, 100 ms, 200 ms, … up to the cap), counting a
   * failure for it; `minDelayMs` raises the delay (e.g. to honour a 429's Retry-After).
   * Returns the delay used.
   */
  addRateLimited(key: K, minDelayMs = 0): number {
    if (this.#shuttingDown) return 0;
    const delay = Math.max(this.#backoff.when(key), minDelayMs);
    this.#metrics.retry?.();
    this.addAfter(key, delay);
    return delay;
  }

  /** Reset `key`'s backoff (call after it was processed successfully). */
  forget(key: K): void {
    this.#backoff.forget(key);
  }

  /** Failures counted for `key` since it was last forgotten. */
  numRequeues(key: K): number {
    return this.#backoff.failures(key);
  }

  /**
   * The next key, once one is ready; the caller owns it until `done(key)`. Resolves `undefined`
   * when the queue shuts down (the worker should exit).
   */
  get(): Promise<K | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    if (this.len() > 0) return Promise.resolve(this.#take());
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Release `key` after processing; if it was added meanwhile, it is queued again now. */
  done(key: K): void {
    const started = this.#processing.get(key);
    if (started === undefined) return;
    this.#processing.delete(key);
    this.#metrics.workDuration?.(this.#clock.now() - started);
    if (!this.#shuttingDown && this.#dirty.has(key)) this.#push(key);
    if (this.#processing.size === 0) {
      const idle = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of idle) resolve();
    }
  }

  /** Keys queued and ready (not counting delayed adds or keys being processed). */
  len(): number {
    return this.#queue.length - this.#head;
  }

  /** Keys currently held by workers. */
  processingCount(): number {
    return this.#processing.size;
  }

  /** Keys waiting for an `addAfter`/`addRateLimited` delay. */
  delayedCount(): number {
    return this.#delayed.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * Stop: ignore further adds, cancel delayed adds, drop queued keys, and wake every waiting
   * `get()` with `undefined`. Keys being processed stay held until their `done`.
   */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    for (const { handle } of this.#delayed.values()) this.#clock.clearTimeout(handle);
    this.#delayed.clear();
    this.#queue = [];
    this.#head = 0;
    this.#dirty.clear();
    this.#enqueuedAt.clear();
    this.#metrics.depth?.(0);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve(undefined);
  }

  /**
   * `shutDown()`, then wait until every key being processed is `done`, at most `timeoutMs`.
   * True if the queue drained in time.
   */
  async shutDownWithDrain(timeoutMs = Infinity): Promise<boolean> {
    this.shutDown();
    if (this.#processing.size === 0) return true;
    const idle = new Promise<true>((resolve) => this.#idleWaiters.push(() => resolve(true)));
    if (!Number.isFinite(timeoutMs)) return idle;
    const stop = new AbortController();
    const result = await Promise.race([idle, sleep(this.#clock, timeoutMs, stop.signal).then(() => false)]);
    stop.abort();
    return result;
  }

  #push(key: K): void {
    this.#queue.push(key);
    this.#enqueuedAt.set(key, this.#clock.now());
    this.#metrics.depth?.(this.len());
    while (this.#waiters.length > 0 && this.len() > 0) {
      const waiter = this.#waiters.shift();
      waiter?.(this.#take());
    }
  }

  #take(): K {
    const key = this.#queue[this.#head] as K;
    this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#dirty.delete(key);
    const now = this.#clock.now();
    this.#processing.set(key, now);
    const enqueued = this.#enqueuedAt.get(key);
    this.#enqueuedAt.delete(key);
    if (enqueued !== undefined) this.#metrics.queueLatency?.(now - enqueued);
    this.#metrics.depth?.(this.len());
    return key;
  }
}
