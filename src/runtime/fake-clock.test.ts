import { describe, expect, it } from 'vitest';
import { sleep } from './clock.js';
import { FakeClock } from './fake-clock.js';

describe('FakeClock', () => {
  it('fires timers in due order at their due time, including ones they start', async () => {
    const clock = new FakeClock(1_000);
    const fired: Array<[string, number]> = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 20);
    clock.setTimeout(() => {
      fired.push(['a', clock.now()]);
      clock.setTimeout(() => fired.push(['a2', clock.now()]), 5);
    }, 10);
    const c = clock.setTimeout(() => fired.push(['c', clock.now()]), 15);
    clock.clearTimeout(c);
    await clock.advance(30);
    expect(fired).toEqual([['a', 1_010], ['a2', 1_015], ['b', 1_020]]);
    expect(clock.now()).toBe(1_030);
  });

  it('runs async continuations between timers (sleep loops work)', async () => {
    const clock = new FakeClock(0);
    const ticks: number[] = [];
    const loop = (async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(clock, 100);
        ticks.push(clock.now());
      }
    })();
    await clock.advance(300);
    await loop;
    expect(ticks).toEqual([100, 200, 300]);
  });

  it('sleep resolves early when its signal aborts', async () => {
    const clock = new FakeClock(0);
    const ac = new AbortController();
    const slept = sleep(clock, 10_000, ac.signal);
    ac.abort();
    await slept;
    expect(clock.pending()).toBe(0);
  });

  it('runNext jumps to the next timer', async () => {
    const clock = new FakeClock(0);
    clock.setTimeout(() => {}, 500);
    expect(await clock.runNext()).toBe(true);
    expect(clock.now()).toBe(500);
    expect(await clock.runNext()).toBe(false);
  });
});
