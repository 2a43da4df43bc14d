import { describe, expect, it } from 'vitest';
import { RoundBackoff } from './round-backoff.js';

describe('RoundBackoff', () => {
  it('doubles the wait of a failing key up to the cap, leaves other keys alone, and forgets on success', () => {
    const b = new RoundBackoff({ baseMs: 1_000, capMs: 8_000 });
    expect(b.waiting('shop/shop', 0)).toBe(0);
    expect([1, 2, 3, 4, 5].map((i) => b.failed('shop/shop', i * 100_000))).toEqual([1_000, 2_000, 4_000, 8_000, 8_000]);
    expect(b.waiting('shop/shop', 500_000)).toBe(8_000);
    expect(b.waiting('shop/shop', 507_000)).toBe(1_000);
    expect(b.waiting('shop/shop', 508_000)).toBe(0);
    expect(b.waiting('web/web', 500_000)).toBe(0);
    b.succeeded('shop/shop');
    expect(b.waiting('shop/shop', 500_000)).toBe(0);
    expect(b.failed('shop/shop', 600_000)).toBe(1_000);
  });

  it('forgets keys of Segmentations that are gone', () => {
    const b = new RoundBackoff({ baseMs: 1_000, capMs: 8_000 });
    b.failed('a/a', 0);
    b.failed('b/b', 0);
    b.retain(new Set(['b/b']));
    expect(b.waiting('a/a', 0)).toBe(0);
    expect(b.waiting('b/b', 0)).toBe(1_000);
  });
});
