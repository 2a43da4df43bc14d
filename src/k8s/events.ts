/**
 * The one way hivewall records Kubernetes Events (core/v1), deduplicated as client-go's
 * EventCorrelator does (k8s.io/client-go/tools/record/events_cache.go): an Event with the same
 * involved object, type, reason and message as one recorded less than `windowMs` ago is not
 * created again; the existing Event's `count` and `lastTimestamp` are bumped with a merge patch.
 * `kubectl get events` then shows one line "x12 over 40m" instead of twelve.
 *
 * Beyond client-go, writes are bounded per Event: repeats within `minPatchIntervalMs` of the last
 * write only bump the count in memory, and one timer writes the total when the interval ends, so a
 * condition repeated on every reconcile costs at most one write a minute, and no count is lost.
 *
 * Best effort, as Events are: `record` never throws (failures are logged), a patch that finds the
 * Event gone (404: the API server's event TTL, 1 h by default) creates a new one, and a patch the
 * ServiceAccount may not make (403) turns the recorder into create-only mode, where a repeat after
 * the interval is a new Event carrying the accumulated count.
 */
import type { CoreV1Api, CoreV1Event, KubernetesObject } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { systemClock, type Clock, type TimerHandle } from '../runtime/clock.js';
import { apiStatusOf } from '../runtime/errors.js';

export type EventType = 'Normal' | 'Warning';

/** What the recorder writes through: the API server, or a fake in tests. */
export interface EventSink {
  /** Creates the Event; resolves with it as stored (its `metadata.name` is needed for patches). */
  create(event: CoreV1Event): Promise<CoreV1Event>;
  /** Merge-patches `count` and `lastTimestamp` of an existing Event. */
  patch(namespace: string, name: string, patch: { count: number; lastTimestamp: Date }): Promise<void>;
}

export interface EventRecorderOptions {
  readonly sink: EventSink;
  readonly logger?: Logger | undefined;
  readonly clock?: Clock | undefined;
  /** How long repeats count toward the same Event (default 10 min, client-go's aggregation window). */
  readonly windowMs?: number | undefined;
  /** At most one write per Event this often (default 60 s); repeats in between are batched. */
  readonly minPatchIntervalMs?: number | undefined;
  /** Distinct Events remembered (default 4096, client-go's LRU size); the oldest are forgotten first. */
  readonly maxEntries?: number | undefined;
  /** `source.component` (default `hivewall`). */
  readonly component?: string | undefined;
  /** `reportingInstance` (default `$HOSTNAME`). */
  readonly instance?: string | undefined;
}

/** Longest message kept (the API server accepts more, `kubectl describe` shows less). */
export const MAX_EVENT_MESSAGE = 1000;

interface Entry {
  readonly namespace: string;
  /** The stored Event's name, once created. */
  name: string | undefined;
  readonly firstTimestamp: Date;
  /** Occurrences, including ones not yet written. */
  count: number;
  /** The count the stored Event shows. */
  written: number;
  last: Date;
  lastWriteMs: number;
  timer: TimerHandle | undefined;
  /** The write in progress, if any. */
  writing: Promise<void> | undefined;
}

export class EventRecorder {
  readonly #sink: EventSink;
  readonly #log: Logger | undefined;
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #minIntervalMs: number;
  readonly #maxEntries: number;
  readonly #component: string;
  readonly #instance: string;
  /** By dedup key; Map order is recency (an entry is re-inserted when touched). */
  readonly #entries = new Map<string, Entry>();
  #canPatch = true;
  /** Writes made (creates and patches), for tests and the idle-write budget. */
  writes = 0;

  constructor(opts: EventRecorderOptions) {
    this.#sink = opts.sink;
    this.#log = opts.logger;
    this.#clock = opts.clock ?? systemClock;
    this.#windowMs = opts.windowMs ?? 600_000;
    this.#minIntervalMs = opts.minPatchIntervalMs ?? 60_000;
    this.#maxEntries = Math.max(1, opts.maxEntries ?? 4096);
    this.#component = opts.component ?? 'hivewall';
    this.#instance = opts.instance ?? process.env['HOSTNAME'] ?? 'hivewall';
  }

  /**
   * Records that `reason`/`message` happened to `involved`. Resolves once the occurrence is
   * written or folded into a pending write; never rejects.
   */
  async record(involved: KubernetesObject, type: EventType, reason: string, message: string): Promise<void> {
    const text = message.slice(0, MAX_EVENT_MESSAGE);
    const namespace = involved.metadata?.namespace ?? 'default';
    const key = dedupKey(involved, namespace, type, reason, text);
    const now = new Date(this.#clock.now());
    const entry = this.#entries.get(key);
    if (entry && now.getTime() - entry.last.getTime() < this.#windowMs) {
      entry.count++;
      entry.last = now;
      this.#touch(key, entry);
      return this.#scheduleWrite(key, entry, involved, type, reason, text);
    }
    if (entry) this.#forget(key, entry);
    const fresh: Entry = { namespace, name: undefined, firstTimestamp: now, count: 1, written: 0, last: now, lastWriteMs: now.getTime(), timer: undefined, writing: undefined };
    this.#touch(key, fresh);
    fresh.writing = this.#create(fresh, involved, type, reason, text).finally(() => { fresh.writing = undefined; });
    await fresh.writing;
    await this.#writeRepeats(key, fresh, 1, involved, type, reason, text);
  }

  /** Distinct Events remembered. */
  size(): number {
    return this.#entries.size;
  }

  /** Cancels pending timers (their counts are not written). */
  stop(): void {
    for (const entry of this.#entries.values()) if (entry.timer) this.#clock.clearTimeout(entry.timer);
    this.#entries.clear();
  }

  #touch(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#maxEntries) {
      const [oldestKey, oldest] = this.#entries.entries().next().value as [string, Entry];
      this.#forget(oldestKey, oldest);
    }
  }

  #forget(key: string, entry: Entry): void {
    if (entry.timer) this.#clock.clearTimeout(entry.timer);
    this.#entries.delete(key);
  }

  /** Write now if the interval allows and nothing is in flight; else once, when it ends. */
  #scheduleWrite(key: string, entry: Entry, involved: KubernetesObject, type: EventType, reason: string, text: string): Promise<void> {
    if (entry.timer || entry.writing) return Promise.resolve();
    const wait = entry.lastWriteMs + this.#minIntervalMs - this.#clock.now();
    if (wait > 0) {
      entry.timer = this.#clock.setTimeout(() => {
        entry.timer = undefined;
        if (this.#entries.get(key) === entry) void this.#flush(key, entry, involved, type, reason, text);
      }, wait);
      return Promise.resolve();
    }
    return this.#flush(key, entry, involved, type, reason, text);
  }

  async #flush(key: string, entry: Entry, involved: KubernetesObject, type: EventType, reason: string, text: string): Promise<void> {
    if (entry.count === entry.written) return;
    const counted = entry.count;
    entry.lastWriteMs = this.#clock.now();
    entry.writing = (this.#canPatch && entry.name ? this.#patch(entry, involved, type, reason, text) : this.#create(entry, involved, type, reason, text))
      .finally(() => { entry.writing = undefined; });
    await entry.writing;
    await this.#writeRepeats(key, entry, counted, involved, type, reason, text);
  }

  /**
   * Repeats that arrived while a write of `counted` occurrences was in flight: written after the
   * interval. (A failed write is not retried on its own: the next occurrence carries its count.)
   */
  #writeRepeats(key: string, entry: Entry, counted: number, involved: KubernetesObject, type: EventType, reason: string, text: string): Promise<void> {
    if (entry.count > counted && this.#entries.get(key) === entry) return this.#scheduleWrite(key, entry, involved, type, reason, text);
    return Promise.resolve();
  }

  async #patch(entry: Entry, involved: KubernetesObject, type: EventType, reason: string, text: string): Promise<void> {
    const count = entry.count;
    try {
      this.writes++;
      await this.#sink.patch(entry.namespace, entry.name!, { count, lastTimestamp: entry.last });
      entry.written = count;
    } catch (err) {
      const status = apiStatusOf(err);
      if (status === 403) {
        this.#canPatch = false;
        this.#log?.warn({ err }, 'may not patch Events: repeats are recorded as new Events');
      }
      // Gone (TTL) or not patchable: a new Event with the accumulated count.
      if (status === 404 || status === 403) return this.#create(entry, involved, type, reason, text);
      this.#log?.debug({ err, reason, namespace: entry.namespace }, 'event not recorded');
    }
  }

  async #create(entry: Entry, involved: KubernetesObject, type: EventType, reason: string, text: string): Promise<void> {
    const count = entry.count;
    const meta = involved.metadata ?? {};
    const body: CoreV1Event = {
      metadata: { generateName: `${meta.name ?? 'hivewall'}.`, namespace: entry.namespace },
      involvedObject: { apiVersion: involved.apiVersion, kind: involved.kind, name: meta.name, namespace: entry.namespace, uid: meta.uid },
      type,
      reason,
      message: text,
      firstTimestamp: entry.firstTimestamp,
      lastTimestamp: entry.last,
      count,
      source: { component: this.#component },
      reportingComponent: `hivewall.dev/${this.#component === 'hivewall' ? 'operator' : this.#component}`,
      reportingInstance: this.#instance,
    };
    try {
      this.writes++;
      const stored = await this.#sink.create(body);
      entry.name = stored.metadata?.name;
      entry.written = count;
    } catch (err) {
      // Events are informational; failing to record one must not fail the caller.
      this.#log?.debug({ err, reason, namespace: entry.namespace }, 'event not recorded');
    }
  }
}

/** Same object (by uid when known), type, reason and message: the same Event. */
function dedupKey(involved: KubernetesObject, namespace: string, type: string, reason: string, message: string): string {
  const meta = involved.metadata ?? {};
  const object = meta.uid ?? `${involved.apiVersion ?? ''}/${involved.kind ?? ''}/${namespace}/${meta.name ?? ''}`;
  return JSON.stringify([object, type, reason, message]);
}

/** The sink of a real API server (core/v1 Events; `onWrite` counts writes for the caller). */
export function kubeEventSink(core: CoreV1Api, onWrite: () => void = () => {}): EventSink {
  return {
    async create(event) {
      onWrite();
      return core.createNamespacedEvent({ namespace: event.metadata?.namespace ?? 'default', body: event });
    },
    async patch(namespace, name, patch) {
      onWrite();
      await core.patchNamespacedEvent({ namespace, name, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    },
  };
}
