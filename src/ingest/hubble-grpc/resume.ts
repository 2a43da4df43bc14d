/**
 * Exactly-once across reconnects. When the GetFlows stream breaks, the client asks again with
 * `since` = the time of the newest flow it has seen. Hubble's `since` is inclusive (Cilium
 * pkg/hubble/observer/local_observer.go skips an event only when `ts.Before(since)`), so the flows
 * at exactly that time come again: the tracker remembers the identities of the flows seen at the
 * newest timestamp and drops those on the resumed stream, and anything older than `since` (a
 * correct server never sends it). Nothing is lost (the boundary is inclusive) and nothing is
 * counted twice. Pure: no clock, no I/O.
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

export type Seen = 'new' | 'duplicate';

export class ResumeTracker {
  /** Newest flow time seen (ns since the epoch). */
  private newest: bigint | undefined;
  /** Identities of the flows seen at exactly `newest`. */
  private atNewest = new Set<string>();
  /** Set while a resumed stream runs: its `since` and the identities already seen at that time. */
  private resume: { readonly since: bigint; readonly seen: ReadonlySet<string> } | undefined;
  private readonly lostEvents = new Set<string>();

  /**
   * `initial`: where a previous process stopped (persisted {@link ResumeTracker.resumePoint}), so the
   * first stream of a new process drops the boundary flows and lost-event notices it already counted.
   */
  constructor(initialSince?: bigint, initial: { readonly seen?: Iterable<string>; readonly lostEvents?: Iterable<string> } = {}) {
    if (initialSince !== undefined) {
      this.newest = initialSince;
      this.atNewest = new Set(initial.seen ?? []);
    }
    for (const key of initial.lostEvents ?? []) this.lostEvents.add(key);
  }

  /**
   * What a new process needs to resume exactly: the newest flow time, the identities of the flows
   * seen at it, and the most recent lost-event notices (at most `lostEventLimit`).
   */
  resumePoint(lostEventLimit = 32): { since: bigint; seen: string[]; lostEvents: string[] } | undefined {
    if (this.newest === undefined) return undefined;
    return { since: this.newest, seen: [...this.atNewest], lostEvents: [...this.lostEvents].slice(-lostEventLimit) };
  }

  /** The `since` for the next request (the newest flow time seen), if any. */
  since(): bigint | undefined {
    return this.newest;
  }

  /** Starts a new stream: the next request carries {@link since}; repeats at the boundary are dropped. */
  beginStream(): void {
    this.resume = this.newest === undefined ? undefined : { since: this.newest, seen: new Set(this.atNewest) };
  }

  /**
   * Records a flow with time `ns` (nanoseconds) and identity `key`; `duplicate` when the resumed
   * stream repeats a flow that was already delivered. A flow without a time cannot be tracked and
   * is always new.
   */
  flow(ns: bigint | undefined, key: string): Seen {
    if (ns === undefined) return 'new';
    const resume = this.resume;
    if (resume !== undefined && (ns < resume.since || (ns === resume.since && resume.seen.has(key)))) return 'duplicate';
    if (this.newest === undefined || ns > this.newest) {
      this.newest = ns;
      // Cleared, not replaced: a new time comes with almost every flow (the set is copied where kept).
      this.atNewest.clear();
      this.atNewest.add(key);
    } else if (ns === this.newest) {
      this.atNewest.add(key);
    }
    return 'new';
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
    return this.atNewest.size;
  }
}
