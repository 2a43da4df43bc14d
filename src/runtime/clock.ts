/**
 * Time, as the runtime sees it: a wall clock and one-shot timers behind one small interface, so
 * that the work queue, informers and leader election can be driven by {@link FakeClock} in unit
 * tests (deterministic, no real waiting) and by {@link systemClock} in production.
 */

/** Handle of a timer started by {@link Clock.setTimeout}. */
export interface TimerHandle {
  /** Opaque; only {@link Clock.clearTimeout} looks inside. */
  readonly __timer?: never;
}

export interface Clock {
  /** Milliseconds since the Unix epoch (the wall clock: Lease times are compared with it). */
  now(): number;
  /** Run `fn` once after `ms` milliseconds. Timers never keep the process alive on their own. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock: `Date.now()` and unref'd Node timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return t as unknown as TimerHandle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as unknown as NodeJS.Timeout);
  },
};

/**
 * Resolve after `ms` on `clock`, or as soon as `signal` aborts (resolving, not rejecting: loops
 * check `signal.aborted` after the sleep). Never rejects, so it cannot become an unhandled rejection.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const onAbort = () => {
      clock.clearTimeout(handle);
      resolve();
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
