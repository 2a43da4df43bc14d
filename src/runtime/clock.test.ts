import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { sleep } from './clock.js';
import { FakeClock } from './fake-clock.js';

describe('sleep (the leader loop waits with it every tick)', () => {
  it('leaves no abort listener, timer or heap behind after many iterations on one signal', async () => {
    const clock = new FakeClock(0);
    const abort = new AbortController();
    const loop = async (iterations: number) => {
      for (let i = 0; i < iterations; i++) {
        const slept = sleep(clock, 250, abort.signal);
        await clock.advance(250);
        await slept;
      }
    };
    await loop(1000); // warm up
    globalThis.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    await loop(20_000);
    globalThis.gc?.();
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
    expect(clock.pending()).toBe(0);
    // 20,000 leaked listeners or timers would hold several MiB.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(4 * 2 ** 20);
  });

  it('resolves at once when aborted, and removes its timer', async () => {
    const clock = new FakeClock(0);
    const abort = new AbortController();
    const slept = sleep(clock, 60_000, abort.signal);
    abort.abort();
    await slept;
    expect(clock.pending()).toBe(0);
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
  });
});
