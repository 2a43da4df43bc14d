/**
 * A resilient informer: list, then watch from the list's resourceVersion, keep an in-memory
 * cache, and tell handlers about adds, updates and deletes — and never stop until told to.
 *
 * Why not client-node's `makeInformer`/`ListWatch` as is (2.0.1, read from its source):
 * - on any watch or list error other than 410 Gone and a client-side timeout it emits `error`
 *   and **stops for good** ("doneHandler ... else if (err) { callbacks[ERROR](err); return; }"),
 *   leaving the caller to restart it;
 * - `stop()` aborts the watch and that abort comes back as an `error` event (an AbortError);
 * - its typed list yields `Date` timestamps while its watch yields strings;
 * - an exception thrown by a handler during a watch is swallowed by `Watch` without a trace,
 *   and one thrown during the list rejects the (often un-awaited) restart: an unhandled rejection;
 * - it has no resync, no sync signal and no pagination.
 *
 * This informer owns the loop (client-go's Reflector): it restarts after every error with capped
 * exponential backoff and jitter, relists at once on 410 Gone ("too old resource version", the
 * watch cache or etcd compaction moved past it), resumes a dropped watch from its last
 * resourceVersion (bookmarks keep that fresh), and treats a watch that ends in under a second
 * without events as an error (client-go: "very short watch"), so a server that keeps closing
 * watches cannot make it spin. Errors are logged and counted, never thrown: `start()` returns
 * nothing to await and no promise of the loop can reject.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Backoff, type BackoffPolicy } from './backoff.js';
import { sleep, systemClock, type Clock, type TimerHandle } from './clock.js';
import { apiStatusOf } from './errors.js';
import type { ListerWatcher, WatchEventType, WatchHandle } from './list-watch.js';

export interface InformerHandler<T> {
  onAdd?(obj: T): void;
  /** Also called by resync with `oldObj === newObj`. */
  onUpdate?(oldObj: T, newObj: T): void;
  /** The last state seen: from the DELETED event, or the cached object when a relist found it gone. */
  onDelete?(obj: T): void;
}

/** Hooks for Prometheus (see telemetry/metrics.ts); every one is optional. */
export interface InformerMetrics {
  /** The loop restarted its list or watch: after an `error`, or after a 410 (`expired`). */
  restart?(reason: 'error' | 'expired'): void;
  /** A handler threw. */
  handlerError?(): void;
  /** Objects in the cache, after every change. */
  objects?(n: number): void;
  /** A full list completed after the first one (after a 410 Gone, the watch could not resume). */
  relist?(): void;
  /**
   * The cache was confirmed current at `epochMs` (the clock's time): a list completed, or the
   * watch delivered an event or bookmark, or ended normally (its server-side timeout).
   */
  synced?(epochMs: number): void;
}

export interface InformerOptions<T> {
  /** For logs and metrics: `configmaps`, `segmentations`, … */
  readonly name: string;
  readonly listerWatcher: ListerWatcher<T>;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  /** Re-emit `onUpdate(obj, obj)` for every cached object this often (0/undefined: never). */
  readonly resyncPeriodMs?: number | undefined;
  /** Between restarts after errors (default 800 ms doubling to 30 s, half jittered, as client-go). */
  readonly backoff?: BackoffPolicy | undefined;
  /** Page size of the list (default 500, as client-go's pager). */
  readonly pageSize?: number | undefined;
  readonly logger: Logger;
  readonly clock?: Clock | undefined;
  readonly metrics?: InformerMetrics | undefined;
  /** For jitter; tests make it deterministic. */
  readonly random?: (() => number) | undefined;
  /**
   * What of each object the cache keeps (client-go's informer transform), applied to every listed
   * or watched object before it is cached or handed to a handler. Default: the object without
   * `metadata.managedFields`.
   */
  readonly transform?: ((obj: T) => T) | undefined;
}

export interface InformerStats {
  /** Full lists completed. */
  readonly lists: number;
  /** Watches opened. */
  readonly watches: number;
  /** Restarts after an error or a 410. */
  readonly restarts: number;
  readonly errors: number;
  /** 410 Gone seen (each triggers a relist). */
  readonly expired: number;
}

export const DEFAULT_INFORMER_BACKOFF: BackoffPolicy = { baseMs: 800, capMs: 30_000, factor: 2, jitter: 0.5 };
const SHORT_WATCH_MS = 1000;
/** A watch that stayed up this long (or delivered events) proves the connection healthy again. */
const HEALTHY_WATCH_MS = 30_000;

/** `namespace/name`, or `name` for cluster-scoped objects (client-go's MetaNamespaceKeyFunc). */
export function objectKey(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

interface WatchRun {
  /** Events (not counting ERROR) the watch delivered. */
  readonly events: number;
  /** How long it stayed open. */
  readonly ms: number;
}

type WatchOutcome = WatchRun & (
  | { readonly kind: 'closed'; readonly timedOut: boolean }
  | { readonly kind: 'expired'; readonly err: unknown }
  | { readonly kind: 'error'; readonly err: unknown });

class WatchEndedError extends Error {
  override readonly name = 'WatchEndedError';
}

export class Informer<T extends KubernetesObject> {
  readonly name: string;
  readonly #opts: InformerOptions<T>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  /** namespace ('' for cluster-scoped) → name → object */
  readonly #cache = new Map<string, Map<string, T>>();
  #count = 0;
  readonly #handlers = new Set<InformerHandler<T>>();
  #resourceVersion = '';
  #synced = false;
  #syncWaiters: Array<(synced: boolean) => void> = [];
  #started = false;
  #stopped = false;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #watch: WatchHandle | undefined;
  #resyncTimer: TimerHandle | undefined;
  #stats = { lists: 0, watches: 0, restarts: 0, errors: 0, expired: 0 };

  constructor(opts: InformerOptions<T>) {
    this.name = opts.name;
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.logger.child({ informer: opts.name });
    this.#backoff = new Backoff(opts.backoff ?? DEFAULT_INFORMER_BACKOFF, opts.random);
  }

  /**
   * Register handlers; returns a function that removes them. Registered after the initial sync,
   * they first get `onAdd` for every cached object (as in client-go), so nothing is missed.
   */
  addEventHandler(handler: InformerHandler<T>): () => void {
    this.#handlers.add(handler);
    if (this.#synced) for (const obj of this.list()) this.#call(handler, 'onAdd', obj);
    return () => { this.#handlers.delete(handler); };
  }

  /** Start the list/watch loop in the background. Idempotent; cannot be restarted after `stop`. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#loop = this.#run().catch((err: unknown) => {
      // #run catches everything itself; this is the last line of defence against an unhandled rejection.
      this.#log.error({ err }, 'informer loop crashed');
    });
    this.#scheduleResync();
  }

  /** Stop the loop, close the watch, cancel resync; resolves when the loop has ended. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#watch?.stop();
    this.#stop.abort();
    if (this.#resyncTimer) this.#clock.clearTimeout(this.#resyncTimer);
    const waiters = this.#syncWaiters;
    this.#syncWaiters = [];
    for (const resolve of waiters) resolve(false);
    await this.#loop;
  }

  /** True once the first full list is in the cache (and forever after). */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves true when synced, false if the informer stops or `timeoutMs` passes first. */
  waitForSync(timeoutMs = Infinity): Promise<boolean> {
    if (this.#synced) return Promise.resolve(true);
    if (this.#stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: TimerHandle | undefined;
      const done = (synced: boolean) => {
        if (timer) this.#clock.clearTimeout(timer);
        resolve(synced);
      };
      this.#syncWaiters.push(done);
      if (Number.isFinite(timeoutMs)) {
        timer = this.#clock.setTimeout(() => {
          this.#syncWaiters = this.#syncWaiters.filter((w) => w !== done);
          resolve(false);
        }, timeoutMs);
      }
    });
  }

  /** The cached object, if any. */
  get(name: string, namespace?: string): T | undefined {
    return this.#cache.get(namespace ?? '')?.get(name);
  }

  /** Cached objects, of one namespace or of all. */
  list(namespace?: string): T[] {
    if (namespace !== undefined) return [...(this.#cache.get(namespace)?.values() ?? [])];
    const all: T[] = [];
    for (const objs of this.#cache.values()) all.push(...objs.values());
    return all;
  }

  /** The resourceVersion the next watch would start from. */
  lastResourceVersion(): string {
    return this.#resourceVersion;
  }

  stats(): InformerStats {
    return { ...this.#stats };
  }

  // ------------------------------------------------------------------ the loop

  async #run(): Promise<void> {
    let needList = true;
    let expiredInARow = 0;
    while (!this.#stopped) {
      let stage: 'list' | 'watch' = 'list';
      try {
        if (needList) {
          await this.#listAndReplace();
          needList = false;
        }
        if (this.#stopped) return;
        stage = 'watch';
        const outcome = await this.#watchOnce();
        if (this.#stopped) return;
        if (outcome.events > 0 || outcome.ms >= HEALTHY_WATCH_MS) {
          // The connection worked again: the next failure starts the backoff from its base
          // (client-go's backoff manager resets after a quiet period too).
          this.#backoff.reset();
          expiredInARow = 0;
        }
        switch (outcome.kind) {
          case 'closed':
            if (!outcome.timedOut && outcome.events === 0 && outcome.ms < SHORT_WATCH_MS) {
              await this.#failed('watch', new WatchEndedError(`very short watch: closed after ${outcome.ms} ms without events`));
            } else {
              this.#opts.metrics?.synced?.(this.#clock.now());
              this.#log.debug({ resourceVersion: this.#resourceVersion, events: outcome.events, timedOut: outcome.timedOut }, 'watch closed; resuming');
            }
            break;
          case 'expired':
            // 410 Gone: the resourceVersion is too old to resume from; relist at once, as
            // client-go does. Only if relisting keeps ending in 410 without a single event
            // does it back off, so that a confused server cannot make it spin.
            this.#stats.expired++;
            this.#stats.restarts++;
            this.#opts.metrics?.restart?.('expired');
            this.#log.info({ resourceVersion: this.#resourceVersion, err: outcome.err }, 'watch expired; relisting');
            this.#resourceVersion = '';
            needList = true;
            if (++expiredInARow > 1) await sleep(this.#clock, Math.round(this.#backoff.next()), this.#stop.signal);
            break;
          case 'error':
            await this.#failed('watch', outcome.err);
            break;
        }
      } catch (err) {
        if (this.#stopped) return;
        await this.#failed(stage, err);
      }
    }
  }

  /** Count, log, back off. The next iteration resumes the watch (or repeats the failed list). */
  async #failed(stage: 'list' | 'watch', err: unknown): Promise<void> {
    this.#stats.errors++;
    this.#stats.restarts++;
    this.#opts.metrics?.restart?.('error');
    const delayMs = Math.round(this.#backoff.next());
    this.#log.warn({ err, stage, status: apiStatusOf(err) || undefined, delayMs, resourceVersion: this.#resourceVersion || undefined }, 'informer error; restarting after backoff');
    await sleep(this.#clock, delayMs, this.#stop.signal);
  }

  async #listAndReplace(): Promise<void> {
    const items: T[] = [];
    let resourceVersion: string;
    let cont: string | undefined;
    do {
      const page = await this.#opts.listerWatcher.list({
        labelSelector: this.#opts.labelSelector,
        fieldSelector: this.#opts.fieldSelector,
        limit: this.#opts.pageSize ?? 500,
        continue: cont,
        signal: this.#stop.signal,
      });
      if (this.#stopped) return;
      // Reduced page by page: a large first list never holds every full object at once.
      for (const item of page.items) items.push(this.#kept(item));
      resourceVersion = page.resourceVersion;
      cont = page.continue;
    } while (cont);
    this.#stats.lists++;
    this.#replace(items);
    this.#opts.metrics?.objects?.(this.#count);
    if (this.#stats.lists > 1) this.#opts.metrics?.relist?.();
    this.#opts.metrics?.synced?.(this.#clock.now());
    this.#resourceVersion = resourceVersion;
    this.#log.debug({ objects: items.length, resourceVersion }, 'listed');
    if (!this.#synced) {
      this.#synced = true;
      const waiters = this.#syncWaiters;
      this.#syncWaiters = [];
      for (const resolve of waiters) resolve(true);
    }
  }

  #watchOnce(): Promise<WatchOutcome> {
    return new Promise<WatchOutcome>((resolve) => {
      const startedAt = this.#clock.now();
      let events = 0;
      let settled = false;
      let serverError: { code: number; err: unknown } | undefined;
      let handle: WatchHandle | undefined;
      const finish = (outcome: WatchOutcome) => {
        if (settled) return;
        settled = true;
        this.#watch = undefined;
        this.#stop.signal.removeEventListener('abort', onAbort);
        resolve(outcome);
      };
      const ran = (): WatchRun => ({ events, ms: this.#clock.now() - startedAt });
      const onAbort = () => {
        handle?.stop();
        finish({ kind: 'closed', ...ran(), timedOut: false });
      };
      this.#stop.signal.addEventListener('abort', onAbort, { once: true });

      const onEvent = (type: WatchEventType, object: unknown) => {
        if (settled || this.#stopped) return;
        if (type === 'ERROR') {
          // A Status object: 410 Expired/Gone ("too old resource version") or another failure.
          const status = object as { code?: number; message?: string; reason?: string } | undefined;
          const code = status?.code ?? 0;
          const err = Object.assign(new Error(`watch error ${code} ${status?.reason ?? ''}: ${status?.message ?? ''}`.trim()), { statusCode: code });
          serverError = { code, err };
          handle?.stop();
          return;
        }
        events++;
        this.#onWatchEvent(type, object as T);
        this.#opts.metrics?.synced?.(this.#clock.now());
      };
      const onDone = (err?: unknown) => {
        if (serverError) {
          finish({ kind: serverError.code === 410 ? 'expired' : 'error', ...ran(), err: serverError.err });
        } else if (err === undefined || err === null || (err as { name?: string }).name === 'TimeoutError') {
          // The server ended the watch (timeoutSeconds), or nothing arrived for client-node's
          // 30 s inactivity window: both are routine; resume from the last resourceVersion.
          finish({ kind: 'closed', ...ran(), timedOut: Boolean(err) });
        } else {
          finish({ kind: apiStatusOf(err) === 410 ? 'expired' : 'error', ...ran(), err });
        }
      };

      this.#stats.watches++;
      const options = {
        resourceVersion: this.#resourceVersion,
        labelSelector: this.#opts.labelSelector,
        fieldSelector: this.#opts.fieldSelector,
      };
      // Through a promise so that even a synchronous throw ends up in onDone.
      Promise.resolve().then(() => this.#opts.listerWatcher.watch(options, onEvent, onDone)).then((h) => {
        handle = h;
        if (settled || this.#stopped || serverError) h.stop();
        else this.#watch = h;
      }, (err: unknown) => onDone(err ?? new Error('watch failed')));
    });
  }

  // ------------------------------------------------------------------ cache

  #onWatchEvent(type: WatchEventType, obj: T): void {
    const rv = obj?.metadata?.resourceVersion;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
        this.#upsert(this.#kept(obj));
        break;
      case 'DELETED':
        this.#remove(this.#kept(obj));
        break;
      case 'BOOKMARK':
        break;
    }
    if (rv) this.#resourceVersion = rv;
  }

  /** What the cache keeps of a received object ({@link InformerOptions.transform}). */
  #kept(received: T): T {
    if (this.#opts.transform) return this.#opts.transform(received);
    // Server-side apply's bookkeeping: often the largest part of an object, read by nothing here
    // (client-go informers drop it with a transform for the same reason).
    if (received.metadata?.managedFields) delete received.metadata.managedFields;
    return received;
  }

  #upsert(obj: T): void {
    const ns = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    let objs = this.#cache.get(ns);
    if (!objs) this.#cache.set(ns, (objs = new Map()));
    const old = objs.get(name);
    objs.set(name, obj);
    if (!old) {
      this.#count++;
      this.#opts.metrics?.objects?.(this.#count);
      this.#emit('onAdd', obj);
    } else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion || old.metadata?.resourceVersion === undefined) {
      this.#emit('onUpdate', old, obj);
    }
  }

  #remove(obj: T): void {
    const ns = obj.metadata?.namespace ?? '';
    const objs = this.#cache.get(ns);
    if (!objs?.delete(obj.metadata?.name ?? '')) return;
    if (objs.size === 0) this.#cache.delete(ns);
    this.#count--;
    this.#opts.metrics?.objects?.(this.#count);
    this.#emit('onDelete', obj);
  }

  /** Make the cache equal `items`: deletes for what vanished, then adds and updates. */
  #replace(items: T[]): void {
    const fresh = new Set(items.map((o) => objectKey(o)));
    for (const obj of this.list()) if (!fresh.has(objectKey(obj))) this.#remove(obj);
    for (const obj of items) this.#upsert(obj);
  }

  #scheduleResync(): void {
    const period = this.#opts.resyncPeriodMs ?? 0;
    if (!(period > 0) || this.#stopped) return;
    this.#resyncTimer = this.#clock.setTimeout(() => {
      if (this.#stopped) return;
      if (this.#synced) for (const obj of this.list()) this.#emit('onUpdate', obj, obj);
      this.#scheduleResync();
    }, period);
  }

  #emit(kind: 'onAdd' | 'onDelete', obj: T): void;
  #emit(kind: 'onUpdate', oldObj: T, newObj: T): void;
  #emit(kind: keyof InformerHandler<T>, a: T, b?: T): void {
    for (const h of [...this.#handlers]) this.#call(h, kind, a, b);
  }

  #call(h: InformerHandler<T>, kind: keyof InformerHandler<T>, a: T, b?: T): void {
    try {
      if (kind === 'onUpdate') h.onUpdate?.(a, b as T);
      else h[kind]?.(a);
    } catch (err) {
      this.#opts.metrics?.handlerError?.();
      this.#log.error({ err, handler: kind, object: objectKey(a) }, 'informer handler threw');
    }
  }
}
