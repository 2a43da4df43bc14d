/**
 * Failed authentications per source address, limited: a client whose tokens keep failing is
 * answered 429 without another TokenReview, so nobody can turn the receiver into a TokenReview
 * amplifier against the API server or guess tokens at line rate. A token bucket per address:
 * `burst` failures at once, then one more every `refillMs`; a success does not refill. At most
 * `maxAddresses` addresses are tracked (the least recently failing go first), so memory is bounded.
 */
import { systemClock, type Clock } from '../runtime/clock.js';

export interface AuthFailureLimiterOptions {
  /** Failures allowed at once. Default 10. */
  readonly burst?: number;
  /** One more failure is allowed after this long. Default 6 s (10 a minute). */
  readonly refillMs?: number;
  /** Addresses tracked. Default 10,000. */
  readonly maxAddresses?: number;
  readonly clock?: Clock;
}

export class AuthFailureLimiter {
  readonly #burst: number;
  readonly #refillMs: number;
  readonly #max: number;
  readonly #clock: Clock;
  /** Tokens left and when they were counted, per address, least recently failing first. */
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(opts: AuthFailureLimiterOptions = {}) {
    this.#burst = opts.burst ?? 10;
    this.#refillMs = opts.refillMs ?? 6_000;
    this.#max = opts.maxAddresses ?? 10_000;
    this.#clock = opts.clock ?? systemClock;
  }

  /** Milliseconds until `address` may try again, or 0 when it may now. */
  blockedFor(address: string): number {
    const bucket = this.#refill(address);
    if (!bucket || bucket.tokens >= 1) return 0;
    return Math.ceil((1 - bucket.tokens) * this.#refillMs);
  }

  /** Counts a failed authentication from `address`. */
  failed(address: string): void {
    const bucket = this.#refill(address) ?? { tokens: this.#burst, at: this.#clock.now() };
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    this.#buckets.delete(address);
    this.#buckets.set(address, bucket);
    while (this.#buckets.size > this.#max) this.#buckets.delete(this.#buckets.keys().next().value!);
  }

  /** Addresses currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  #refill(address: string): { tokens: number; at: number } | undefined {
    const bucket = this.#buckets.get(address);
    if (!bucket) return undefined;
    const now = this.#clock.now();
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) / this.#refillMs);
    bucket.at = now;
    if (bucket.tokens >= this.#burst) {
      this.#buckets.delete(address);
      return undefined;
    }
    return bucket;
  }
}
