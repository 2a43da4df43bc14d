/**
 * Capped exponential backoff, the arithmetic shared by the work queue's per-key rate limiter
 * (client-go `ItemExponentialFailureRateLimiter`: "baseDelay*2^<num-failures>", capped at
 * maxDelay) and by informer restarts (client-go's reflector backs off between ListAndWatch
 * attempts with jitter so that many clients do not reconnect in lockstep).
 */

export interface BackoffPolicy {
  /** Delay after the first failure. */
  readonly baseMs: number;
  /** No delay is longer than this. */
  readonly capMs: number;
  /** Growth per failure (default 2). */
  readonly factor?: number;
  /**
   * Fraction of the delay that is randomised, 0..1 (default 0): the delay is drawn uniformly
   * from [d·(1−jitter), d], so jitter never pushes it past the cap.
   */
  readonly jitter?: number;
}

/** The work queue's default: 50 ms, doubling, at most 5 minutes, no jitter. */
export const DEFAULT_ITEM_BACKOFF: BackoffPolicy = { baseMs: 50, capMs: 5 * 60_000 };

/** Delay before retry number `failures + 1` (`failures` = failures so far, from 0), no jitter. */
export function backoffDelay(failures: number, policy: BackoffPolicy): number {
  const factor = policy.factor ?? 2;
  const exp = policy.baseMs * Math.pow(factor, Math.max(0, failures));
  // Math.pow overflows to Infinity long before failures overflow; the cap absorbs it.
  return Math.min(policy.capMs, Number.isFinite(exp) ? exp : policy.capMs);
}

/** `ms` reduced by up to `jitter`·`ms` at random (`random` returns [0, 1)). */
export function applyJitter(ms: number, jitter: number, random: () => number = Math.random): number {
  const j = Math.min(1, Math.max(0, jitter));
  return ms * (1 - j * random());
}

/**
 * Per-key failure counting: `when(key)` returns the delay for the key's next retry and counts a
 * failure; `forget(key)` clears it once the key succeeds (client-go's
 * `ItemExponentialFailureRateLimiter`).
 */
export class ItemBackoff<K> {
  readonly #failures = new Map<K, number>();

  constructor(readonly policy: BackoffPolicy = DEFAULT_ITEM_BACKOFF, private readonly random: () => number = Math.random) {}

  when(key: K): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const d = backoffDelay(failures, this.policy);
    return this.policy.jitter ? applyJitter(d, this.policy.jitter, this.random) : d;
  }

  forget(key: K): void {
    this.#failures.delete(key);
  }

  /** Failures counted for `key` since it was last forgotten. */
  failures(key: K): number {
    return this.#failures.get(key) ?? 0;
  }
}

/** One backoff sequence (e.g. restarts of one informer): `next()` grows, `reset()` starts over. */
export class Backoff {
  #failures = 0;

  constructor(readonly policy: BackoffPolicy, private readonly random: () => number = Math.random) {}

  next(): number {
    const d = backoffDelay(this.#failures++, this.policy);
    return this.policy.jitter ? applyJitter(d, this.policy.jitter, this.random) : d;
  }

  reset(): void {
    this.#failures = 0;
  }

  get failures(): number {
    return this.#failures;
  }
}
