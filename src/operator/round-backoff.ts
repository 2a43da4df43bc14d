/**
 * Per-Segmentation backoff for reconcile rounds: a Segmentation whose reconcile keeps failing (an
 * apply the API server refuses, a webhook down) is retried after 1 s, 2 s, 4 s … up to a minute,
 * like client-go's per-item rate limiter, instead of in every round — while the others go on. A
 * success forgets the failures. Pure: the caller passes the time.
 */
import { ItemBackoff, type BackoffPolicy } from '../runtime/backoff.js';

export const RECONCILE_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 60_000, jitter: 0.1 };

export class RoundBackoff {
  readonly #backoff: ItemBackoff<string>;
  readonly #notBefore = new Map<string, number>();

  constructor(policy: BackoffPolicy = RECONCILE_BACKOFF, random: () => number = Math.random) {
    this.#backoff = new ItemBackoff<string>(policy, random);
  }

  /** How long `key` still waits at `now` (0: reconcile it now). */
  waiting(key: string, now: number): number {
    const until = this.#notBefore.get(key);
    return until === undefined ? 0 : Math.max(0, until - now);
  }

  /** A failed reconcile: returns the delay before the next attempt. */
  failed(key: string, now: number): number {
    const delay = this.#backoff.when(key);
    this.#notBefore.set(key, now + delay);
    return delay;
  }

  succeeded(key: string): void {
    this.#backoff.forget(key);
    this.#notBefore.delete(key);
  }

  /** Forgets keys that no longer exist (deleted Segmentations). */
  retain(keys: ReadonlySet<string>): void {
    for (const key of [...this.#notBefore.keys()]) {
      if (!keys.has(key)) this.succeeded(key);
    }
  }
}
