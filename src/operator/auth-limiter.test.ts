import { describe, expect, it } from 'vitest';
import { FakeClock } from '../runtime/fake-clock.js';
import { AuthFailureLimiter } from './auth-limiter.js';

describe('AuthFailureLimiter', () => {
  it('allows a burst of failures per address, then blocks it until the bucket refills; other addresses are not affected', async () => {
    const clock = new FakeClock(0);
    const limiter = new AuthFailureLimiter({ burst: 3, refillMs: 1_000, clock });
    for (let i = 0; i < 3; i++) {
      expect(limiter.blockedFor('10.0.0.9')).toBe(0);
      limiter.failed('10.0.0.9');
    }
    expect(limiter.blockedFor('10.0.0.9')).toBe(1_000);
    expect(limiter.blockedFor('10.0.0.1')).toBe(0);
    await clock.advance(400);
    expect(limiter.blockedFor('10.0.0.9')).toBe(600);
    await clock.advance(600);
    expect(limiter.blockedFor('10.0.0.9')).toBe(0);
    limiter.failed('10.0.0.9');
    expect(limiter.blockedFor('10.0.0.9')).toBe(1_000);
    // A full bucket is forgotten.
    await clock.advance(3_000);
    expect(limiter.blockedFor('10.0.0.9')).toBe(0);
    expect(limiter.size).toBe(0);
  });

  it('tracks at most maxAddresses addresses', () => {
    const limiter = new AuthFailureLimiter({ burst: 1, maxAddresses: 100, clock: new FakeClock(0) });
    for (let i = 0; i < 10_000; i++) limiter.failed(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.size).toBe(100);
    expect(limiter.blockedFor('10.0.39.15')).toBeGreaterThan(0);
  });
});
