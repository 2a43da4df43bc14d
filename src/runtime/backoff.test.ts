import { describe, expect, it } from 'vitest';
import { applyJitter, Backoff, backoffDelay, ItemBackoff } from './backoff.js';

describe('backoffDelay', () => {
  it.each([
    { failures: 0, want: 50 },
    { failures: 1, want: 100 },
    { failures: 5, want: 1_600 },
    { failures: 12, want: 204_800 },
    { failures: 13, want: 300_000 },
    { failures: 5_000, want: 300_000 }, // 2^5000 overflows to Infinity; the cap holds
  ])('after $failures failures: $want ms', ({ failures, want }) => {
    expect(backoffDelay(failures, { baseMs: 50, capMs: 300_000 })).toBe(want);
  });

  it('uses the factor', () => {
    expect(backoffDelay(2, { baseMs: 100, capMs: 10_000, factor: 3 })).toBe(900);
  });
});

describe('applyJitter', () => {
  it.each([
    { random: 0, want: 1_000 },
    { random: 0.5, want: 750 },
    { random: 0.9999, want: 500.05 },
  ])('jitter 0.5 with random $random → $want', ({ random, want }) => {
    expect(applyJitter(1_000, 0.5, () => random)).toBeCloseTo(want, 5);
  });
});

describe('ItemBackoff and Backoff', () => {
  it('counts failures per key and forgets them', () => {
    const b = new ItemBackoff<string>({ baseMs: 10, capMs: 40 });
    expect([b.when('a'), b.when('a'), b.when('a'), b.when('a'), b.when('b')]).toEqual([10, 20, 40, 40, 10]);
    expect(b.failures('a')).toBe(4);
    b.forget('a');
    expect(b.failures('a')).toBe(0);
  });

  it('a sequence grows, jitters within bounds, and resets', () => {
    const b = new Backoff({ baseMs: 800, capMs: 30_000, jitter: 0.5 }, () => 0.5);
    expect([b.next(), b.next(), b.next()]).toEqual([600, 1_200, 2_400]);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.next()).toBe(600);
  });
});
