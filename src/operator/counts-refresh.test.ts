import { describe, expect, it } from 'vitest';
import { COUNTS_REFRESH_MS } from '../controllers/segmentation/reconciler.js';
import { countsRefreshDelay } from './operator.js';

describe('countsRefreshDelay', () => {
  it('is COUNTS_REFRESH_MS plus a stable share of half of it, spread across namespaces', () => {
    const names = Array.from({ length: 1000 }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
    const delays = names.map(countsRefreshDelay);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(COUNTS_REFRESH_MS);
      expect(d).toBeLessThan(COUNTS_REFRESH_MS * 1.5);
    }
    expect(names.map(countsRefreshDelay)).toEqual(delays);
    // No tenth of the spread holds more than a fifth of the namespaces.
    const buckets = new Array<number>(10).fill(0);
    for (const d of delays) buckets[Math.floor((d - COUNTS_REFRESH_MS) / (COUNTS_REFRESH_MS / 20))]!++;
    expect(Math.max(...buckets)).toBeLessThan(200);
  });
});
