/**
 * Exactly-once across reconnects. When the GetFlows stream breaks, the client asks again with
 * `since` = the time of the newest flow it has seen. Hubble's `since` is inclusive (Cilium
 * pkg/hubble/observer/local_observer.go skips an event only when `ts.Before(since)`), so the flows
 * at exactly that time come again: the tracker remembers the identities of the flows seen at the
 * newest timestamp and drops those on the resumed stream, and anything older than `since` (a
 * correct server never sends it). Nothing is lost (the boundary is inclusive) and nothing is
 * counted twice. No I/O; the clock is injected.
 *
 * The resume point is the newest flow time of every node, so one node's clock running ahead (or a
 * bogus timestamp) would make `since` skip the other nodes' flows after a reconnect. A flow timed
 * more than {@link FUTURE_TOLERANCE_MS} ahead of the clock is delivered but does not move the
 * resume point; its identity is remembered (the most recent {@link AHEAD_MEMORY}) so that a
 * resumed stream, which sends it again, has it dropped.
 *
 * Lost-event notices are not time-filtered by Hubble (their timestamp is when the loss was
 * detected), so a resumed stream may repeat the ones that sit after the resume point in the ring;
 * the tracker remembers the most recent ones and drops repeats.
 *
 * Across processes: {@link ResumeTracker.resumePoint} is what to persist, and a tracker built from
 * it continues exactly where the previous process stopped.
 */
/** Lost-event identities remembered for de-duplication. */
const LOST_EVENT_MEMORY = 256;

/** How far ahead of the clock a flow's time may be and still move the resume point. */
export const FUTURE_TOLERANCE_MS = 60_000;

/** Identities of flows timed too far ahead remembered for de-duplication (a few nodes' rings). */
const AHEAD_MEMORY = 16_384;

export type Seen = 'new' | 'duplicate';

/** Nanoseconds in a second. */
const NS = 1_000_000_000n;

/**
 * A time kept as whole seconds and nanoseconds in [0, 1e9) (a `Timestamp`'s parts, both exact
 * Numbers), so the per-flow bookkeeping needs no BigInt.
 */
interface Instant {
  readonly seconds: number;
  readonly nanos: number;
}

function instantOf(ns: bigint): Instant {
  let seconds = ns / NS;
  let nanos = ns - seconds * NS;
  if (nanos < 0n) {
    seconds -= 1n;
    nanos += NS;
  }
  return { seconds: Number(seconds), nanos: Number(nanos) };
}

function nanosOf(seconds: number, nanos: number): bigint {
  return BigInt(seconds) * NS + BigInt(nanos);
}

export class ResumeTracker {
  /** Whether a flow time was seen (or given initially); then {@link newestSeconds}.{@link newestNanos} is the newest. */
  private hasNewest = false;
  private newestSeconds = 0;
  private newestNanos = 0;
  /**
   * Identities of the flows seen at exactly the newest time: the first one, and any others. Almost
   * every flow brings a new time, so the common case touches no set and hashes no string.
   */
  private firstAtNewest: string | undefined;
  private readonly moreAtNewest = new Set<string>();
  /** Set while a resumed stream runs: its `since` and the identities already seen at that time. */
  private resume: { readonly seconds: number; readonly nanos: number; readonly seen: ReadonlySet<string> } | undefined;
  private readonly lostEvents = new Set<string>();
  /** Identities of the flows that were too far ahead to move the resume point. */
  private readonly ahead = new Set<string>();
  /** The clock, epoch milliseconds. */
  private readonly now: () => number;
  /**
   * A flow time (epoch ms) up to which flows may move the resume point: the clock plus the
   * tolerance when last read. The clock is read again only for a flow beyond it (rarely).
   */
  private aheadLimitMs = Number.NEGATIVE_INFINITY;

  /**
   * `initial`: where a previous process stopped (persisted {@link ResumeTracker.resumePoint}), so the
   * first stream of a new process drops the boundary flows and lost-event notices it already counted;
   * and the clock (epoch ms, default `Date.now`) that flow times are compared with.
   */
  constructor(
    initialSince?: bigint,
    initial: { readonly seen?: Iterable<string>; readonly lostEvents?: Iterable<string>; readonly now?: () => number } = {},
  ) {
    this.now = initial.now ?? Date.now;
    if (initialSince !== undefined) {
      const { seconds, nanos } = instantOf(initialSince);
      this.hasNewest = true;
      this.newestSeconds = seconds;
      this.newestNanos = nanos;
      for (const key of initial.seen ?? []) this.addAtNewest(key);
    }
    for (const key of initial.lostEvents ?? []) this.lostEvents.add(key);
  }

  /**
   * What a new process needs to resume exactly: the newest flow time, the identities of the flows
   * seen at it, and the most recent lost-event notices (at most `lostEventLimit`).
   */
  resumePoint(lostEventLimit = 32): { since: bigint; seen: string[]; lostEvents: string[] } | undefined {
    const since = this.since();
    if (since === undefined) return undefined;
    return { since, seen: this.seenAtNewest(), lostEvents: [...this.lostEvents].slice(-lostEventLimit) };
  }

  /** The `since` for the next request (the newest flow time seen, in nanoseconds), if any. */
  since(): bigint | undefined {
    return this.hasNewest ? nanosOf(this.newestSeconds, this.newestNanos) : undefined;
  }

  /** Starts a new stream: the next request carries {@link since}; repeats at the boundary are dropped. */
  beginStream(): void {
    this.resume = this.hasNewest ? { seconds: this.newestSeconds, nanos: this.newestNanos, seen: new Set(this.seenAtNewest()) } : undefined;
  }

  /**
   * Records a flow with time `ns` (nanoseconds) and identity `key`; `duplicate` when the resumed
   * stream repeats a flow that was already delivered. A flow without a time cannot be tracked and
   * is always new.
   */
  flow(ns: bigint | undefined, key: string): Seen {
    if (ns === undefined) return 'new';
    const { seconds, nanos } = instantOf(ns);
    return this.flowAt(seconds, nanos, key);
  }

  /**
   * {@link flow} for a time given as a `Timestamp`'s parts: whole `seconds` (a safe integer) and
   * `nanos` in [0, 1e9), as the decoder reads them (decode.ts).
   */
  flowAt(seconds: number, nanos: number, key: string): Seen {
    const resume = this.resume;
    if (resume !== undefined) {
      const order = seconds === resume.seconds ? nanos - resume.nanos : seconds - resume.seconds;
      if (order < 0 || (order === 0 && resume.seen.has(key))) return 'duplicate';
      if (this.ahead.size > 0 && this.ahead.has(key)) return 'duplicate'; // delivered while ahead (by then or still)
    }
    const order = !this.hasNewest ? 1 : seconds === this.newestSeconds ? nanos - this.newestNanos : seconds - this.newestSeconds;
    if (order > 0 && this.isAhead(seconds, nanos)) return this.aheadFlow(key);
    if (order > 0) {
      this.hasNewest = true;
      this.newestSeconds = seconds;
      this.newestNanos = nanos;
      this.firstAtNewest = key;
      if (this.moreAtNewest.size > 0) this.moreAtNewest.clear();
    } else if (order === 0) {
      this.addAtNewest(key);
    }
    return 'new';
  }

  /** Whether a flow time is more than {@link FUTURE_TOLERANCE_MS} ahead of the clock. */
  private isAhead(seconds: number, nanos: number): boolean {
    const ms = seconds * 1000 + nanos / 1_000_000;
    if (ms <= this.aheadLimitMs) return false;
    this.aheadLimitMs = this.now() + FUTURE_TOLERANCE_MS;
    return ms > this.aheadLimitMs;
  }

  /** A flow too far ahead: delivered, remembered for resumed streams, the resume point left where it is. */
  private aheadFlow(key: string): Seen {
    this.ahead.add(key);
    if (this.ahead.size > AHEAD_MEMORY) {
      const oldest = this.ahead.values().next();
      if (oldest.done !== true) this.ahead.delete(oldest.value);
    }
    return 'new';
  }

  private addAtNewest(key: string): void {
    if (this.firstAtNewest === undefined) this.firstAtNewest = key;
    else if (key !== this.firstAtNewest) this.moreAtNewest.add(key);
  }

  /** The identities at the newest time, in the order first seen. */
  private seenAtNewest(): string[] {
    return this.firstAtNewest === undefined ? [] : [this.firstAtNewest, ...this.moreAtNewest];
  }

  /** Records a lost-event notice by identity; `duplicate` when a resumed stream repeats one. */
  lostEvent(key: string): Seen {
    if (this.lostEvents.has(key)) return this.resume === undefined ? 'new' : 'duplicate';
    this.lostEvents.add(key);
    if (this.lostEvents.size > LOST_EVENT_MEMORY) {
      const oldest = this.lostEvents.values().next();
      if (oldest.done !== true) this.lostEvents.delete(oldest.value);
    }
    return 'new';
  }

  /** How many identities are kept at the boundary (for tests and diagnostics). */
  boundarySize(): number {
    return (this.firstAtNewest === undefined ? 0 : 1) + this.moreAtNewest.size;
  }
}
