/**
 * Reconnect delays: capped exponential backoff with "full jitter" (AWS Architecture Blog,
 * "Exponential Backoff And Jitter": `sleep = random_between(0, min(cap, base * 2 ** attempt))`),
 * which spreads the reconnects of many operator replicas after a hubble-relay restart. Pure: the
 * random source is a parameter.
 */

export interface BackoffPolicy {
  /** Upper bound of the first delay, in milliseconds (default 1000). */
  readonly initialMs?: number;
  /** Cap on the upper bound, in milliseconds (default 60000). */
  readonly maxMs?: number;
  /** Growth factor per attempt (default 2). */
  readonly multiplier?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffPolicy> = { initialMs: 1000, maxMs: 60_000, multiplier: 2 };

/** The upper bound of the delay before reconnect attempt `attempt` (0-based): `min(max, initial * multiplier^attempt)`. */
export function backoffCeiling(attempt: number, policy: BackoffPolicy = {}): number {
  const initial = policy.initialMs ?? DEFAULT_BACKOFF.initialMs;
  const max = policy.maxMs ?? DEFAULT_BACKOFF.maxMs;
  const multiplier = policy.multiplier ?? DEFAULT_BACKOFF.multiplier;
  const ceiling = initial * multiplier ** Math.max(0, attempt);
  return Number.isFinite(ceiling) ? Math.min(max, ceiling) : max;
}

/** Full-jitter delay before attempt `attempt`: uniform in [0, ceiling), from `random()` in [0, 1). */
export function backoffDelay(attempt: number, random: () => number, policy: BackoffPolicy = {}): number {
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(unit * backoffCeiling(attempt, policy));
}
