/**
 * A manual {@link Clock} for unit tests: time stands still until the test advances it, and
 * timers fire in due order (ties in creation order), each at its own due time. Between two timers
 * the pending promise continuations run, so async code that schedules the next timer after an
 * `await` behaves as it would with real time.
 *
 *   const clock = new FakeClock();
 *   queue.addAfter('a', 100);
 *   await clock.advance(100);   // the timer fired; 'a' is queued
 */
import type { Clock, TimerHandle } from './clock.js';

interface FakeTimer extends TimerHandle {
  readonly id: number;
  readonly due: number;
  readonly fn: () => void;
}

/** Let every queued promise continuation run (one macrotask turn). */
export function flushPromises(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: FakeTimer[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { id: ++this.#seq, due: this.#now + Math.max(0, ms), fn };
    this.#timers.push(timer);
    this.#timers.sort((a, b) => a.due - b.due || a.id - b.id);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((t) => t !== handle);
  }

  /** Number of timers not yet fired. */
  pending(): number {
    return this.#timers.length;
  }

  /** Due time of the next timer, if any. */
  nextDue(): number | undefined {
    return this.#timers[0]?.due;
  }

  /**
   * Move time forward by `ms`, firing every timer that falls due on the way (also timers that
   * those timers start, if they fall due within the window).
   */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.#now + ms);
  }

  /** Move time forward to `target` (absolute ms), firing due timers in order. */
  async advanceTo(target: number): Promise<void> {
    await flushPromises();
    for (;;) {
      const next = this.#timers[0];
      if (!next || next.due > target) break;
      this.#timers.shift();
      this.#now = Math.max(this.#now, next.due);
      next.fn();
      await flushPromises();
    }
    this.#now = Math.max(this.#now, target);
  }

  /** Jump to the next timer and fire it (and any others due at the same time). False if none. */
  async runNext(): Promise<boolean> {
    const due = this.nextDue();
    if (due === undefined) return false;
    await this.advanceTo(due);
    return true;
  }
}
