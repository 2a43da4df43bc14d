import { ApiException } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from './clock.js';
import { classifyApiError } from './errors.js';
import { sleep } from './clock.js';
import { FakeClock, flushPromises } from './fake-clock.js';
import { LeaderElector, leadershipEndOf, type LeaderElectionConfig, type LeadershipEndKind } from './leader-election.js';
import type { LeaderElectionRecord, LeaseLock, LockedRecord } from './lease-lock.js';
import { captureLogger } from './testing.js';

/** One Lease in memory with the API server's optimistic concurrency. */
class LeaseStore {
  current: LockedRecord | undefined;
  rv = 0;
  writes: Array<{ by: string; record: LeaderElectionRecord }> = [];
  /** Errors the next calls throw, per candidate identity. */
  failures = new Map<string, unknown[]>();

  lockFor(identity: string): LeaseLock {
    const fail = () => {
      const err = this.failures.get(identity)?.shift();
      if (err) throw err;
    };
    return {
      describe: () => 'Lease kube-system/hivewall',
      get: async () => { fail(); return this.current && structuredClone(this.current); },
      create: async (record) => {
        fail();
        if (this.current) throw classifyApiError(new ApiException(409, 'AlreadyExists', { reason: 'AlreadyExists', message: 'exists' }, {}), 'create');
        return this.#write(identity, record);
      },
      update: async (record, resourceVersion) => {
        fail();
        if (!this.current || this.current.resourceVersion !== resourceVersion) {
          throw classifyApiError(new ApiException(409, 'Conflict', { reason: 'Conflict', message: 'the object has been modified' }, {}), 'update');
        }
        return this.#write(identity, record);
      },
    };
  }

  #write(by: string, record: LeaderElectionRecord): LockedRecord {
    this.current = { record: { ...record }, resourceVersion: String(++this.rv) };
    this.writes.push({ by, record: { ...record } });
    return structuredClone(this.current);
  }
}

/** A clock `skewMs` ahead of (or behind) another, sharing its timers. */
function skewed(base: FakeClock, skewMs: number): Clock {
  return {
    now: () => base.now() + skewMs,
    setTimeout: (fn: () => void, ms: number): TimerHandle => base.setTimeout(fn, ms),
    clearTimeout: (h: TimerHandle) => base.clearTimeout(h),
  };
}

interface Candidate {
  readonly elector: LeaderElector;
  readonly events: string[];
  readonly signals: AbortSignal[];
  readonly leaderMetric: boolean[];
  readonly done: Promise<void>;
}

const timing = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
const electors: LeaderElector[] = [];
afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop({ release: false })));
});

function candidate(store: LeaseStore, clock: Clock, identity: string, extra: Partial<LeaderElectionConfig> = {}): Candidate {
  const events: string[] = [];
  const signals: AbortSignal[] = [];
  const leaderMetric: boolean[] = [];
  const elector = new LeaderElector({
    lock: store.lockFor(identity), identity, ...timing, clock, logger: captureLogger().logger, random: () => 0,
    metrics: { leader: (b) => leaderMetric.push(b) },
    callbacks: {
      onStartedLeading: (signal) => { events.push('started'); signals.push(signal); },
      onStoppedLeading: () => { events.push(`stopped (lease held by ${store.current?.record.holderIdentity || 'nobody'})`); },
      onNewLeader: (id) => { events.push(`leader ${id}`); },
    },
    ...extra,
  });
  electors.push(elector);
  return { elector, events, signals, leaderMetric, done: elector.run() };
}

/** Advance in small steps until `check` holds; returns the time it took. */
async function advanceUntil(clock: FakeClock, check: () => boolean, limitMs: number, stepMs = 50): Promise<number> {
  const start = clock.now();
  while (!check()) {
    if (clock.now() - start > limitMs) throw new Error(`condition not met within ${limitMs} ms`);
    await clock.advance(stepMs);
  }
  return clock.now() - start;
}

describe('LeaderElector: acquiring and renewing', () => {
  it('creates a missing lease and leads', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const a = candidate(store, clock, 'a');
    await flushPromises();
    expect(a.elector.isLeader()).toBe(true);
    expect(a.events).toEqual(['leader a', 'started']);
    expect(a.signals[0]?.aborted).toBe(false);
    expect(a.leaderMetric).toEqual([false, true]);
    expect(store.current?.record).toEqual({
      holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: clock.now(), renewTime: clock.now(), leaseTransitions: 0,
    });
  });

  it('renews every retryPeriod, keeping acquireTime and leaseTransitions', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const start = clock.now();
    candidate(store, clock, 'a');
    await flushPromises();
    await clock.advance(2_000);
    await clock.advance(2_000);
    expect(store.writes.map((w) => w.record.renewTime! - start)).toEqual([0, 2_000, 4_000]);
    expect(store.current?.record).toMatchObject({ acquireTime: start, leaseTransitions: 0, holderIdentity: 'a' });
  });

  it('takes a released lease (empty holder) and counts a transition', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    store.current = { resourceVersion: '7', record: { holderIdentity: '', leaseDurationSeconds: 1, renewTime: clock.now(), acquireTime: clock.now(), leaseTransitions: 4 } };
    const a = candidate(store, clock, 'a');
    await flushPromises();
    expect(a.elector.isLeader()).toBe(true);
    expect(store.current?.record).toMatchObject({ holderIdentity: 'a', leaseTransitions: 5, leaseDurationSeconds: 15 });
  });

  it('with two candidates exactly one leads; the other follows and learns who leads', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const a = candidate(store, clock, 'a');
    const b = candidate(store, clock, 'b');
    await flushPromises();
    await clock.advance(10_000);
    expect([a.elector.isLeader(), b.elector.isLeader()].filter(Boolean)).toHaveLength(1);
    const follower = a.elector.isLeader() ? b : a;
    const leaderId = a.elector.isLeader() ? 'a' : 'b';
    expect(follower.events).toEqual([`leader ${leaderId}`]);
    expect(follower.elector.leader()).toBe(leaderId);
    expect(follower.elector.isRunning()).toBe(true);
  });

  it.each([
    { name: 'renewDeadline not above retryPeriod × 1.2', t: { leaseDurationMs: 15_000, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 }, msg: /renewDeadline/ },
    { name: 'leaseDuration not above renewDeadline + retryPeriod', t: { leaseDurationMs: 11_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }, msg: /leaseDuration/ },
    { name: 'empty identity', t: { ...timing }, identity: '', msg: /identity/ },
  ])('rejects a configuration with $name', ({ t, identity, msg }) => {
    expect(() => new LeaderElector({
      lock: new LeaseStore().lockFor('x'), identity: identity ?? 'x', ...t, logger: captureLogger().logger,
      callbacks: { onStartedLeading: () => {}, onStoppedLeading: () => {} },
    })).toThrow(msg);
  });
});

describe('LeaderElector: takeover', () => {
  it('a follower takes over a dead leader’s lease once it expires, within one lease period', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const a = candidate(store, clock, 'a');
    await flushPromises();
    const b = candidate(store, clock, 'b');
    await clock.advance(7_000);
    const lastRenew = store.current?.record.renewTime ?? 0;
    await a.elector.stop({ release: false }); // killed: no release, no more renewals
    const killedAt = clock.now();
    const took = await advanceUntil(clock, () => b.elector.isLeader(), 30_000);
    expect(clock.now()).toBeGreaterThan(lastRenew + 15_000); // never before the lease expired
    expect(took).toBeLessThanOrEqual(timing.leaseDurationMs + timing.retryPeriodMs);
    expect(store.current?.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    expect(b.events).toEqual(['leader a', 'leader b', 'started']);
    expect(killedAt).toBeGreaterThan(0);
  });

  it('graceful stop: onStoppedLeading runs while the lease is still held, then the lease is released and taken at once', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const a = candidate(store, clock, 'a');
    await flushPromises();
    const b = candidate(store, clock, 'b');
    await clock.advance(5_000);
    await a.elector.stop();
    expect(a.events).toEqual(['leader a', 'started', 'stopped (lease held by a)']);
    expect(a.signals[0]?.aborted).toBe(true);
    expect(store.current?.record).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 });
    const took = await advanceUntil(clock, () => b.elector.isLeader(), 10_000);
    expect(took).toBeLessThanOrEqual(timing.retryPeriodMs * 1.2);
    expect(store.current?.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    await a.done; // run() has returned
    expect(a.elector.isRunning()).toBe(false);
  });

  it('a follower whose clock runs ahead does not steal a lease that is being renewed', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const a = candidate(store, clock, 'a');
    await flushPromises();
    const b = candidate(store, skewed(clock, 20_000), 'b'); // 20 s ahead: renewTime + 15 s always looks past
    await clock.advance(60_000);
    expect(a.elector.isLeader()).toBe(true);
    expect(b.elector.isLeader()).toBe(false);
    expect(store.writes.every((w) => w.by === 'a')).toBe(true);
  });
});

describe('LeaderElector: losing leadership', () => {
  it('gives up after renewDeadline without a successful renewal; run() returns', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const a = candidate(store, clock, 'a');
    await flushPromises();
    const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    store.failures.set('a', Array.from({ length: 100 }, () => down));
    const lastRenew = store.current?.record.renewTime ?? 0;
    await advanceUntil(clock, () => !a.elector.isLeader(), 20_000);
    expect(clock.now() - lastRenew).toBeGreaterThanOrEqual(timing.renewDeadlineMs);
    expect(clock.now() - lastRenew).toBeLessThan(timing.leaseDurationMs); // before anyone may take over
    expect(a.events.at(-1)).toBe('stopped (lease held by a)');
    expect(a.signals[0]?.aborted).toBe(true);
    expect(a.leaderMetric.at(-1)).toBe(false);
    await a.done;
  });

  it('stops leading as soon as it sees another holder (the lease was taken over)', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const a = candidate(store, clock, 'a');
    await flushPromises();
    store.current = { resourceVersion: '99', record: { holderIdentity: 'intruder', leaseDurationSeconds: 15, renewTime: clock.now(), acquireTime: clock.now(), leaseTransitions: 1 } };
    await clock.advance(2_000);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.events).toEqual(['leader a', 'started', 'leader intruder', 'stopped (lease held by intruder)']);
  });

  it('survives transient errors while renewing', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const a = candidate(store, clock, 'a');
    await flushPromises();
    store.failures.set('a', [new Error('blip'), new Error('blip')]);
    await clock.advance(8_000);
    expect(a.elector.isLeader()).toBe(true);
  });
});

/**
 * Leader work shaped like the operator's (src/operator/operator.ts): it runs until `signal`
 * aborts, then takes `finalStepMs` to finish (in-flight reconciles, the final store pass) and
 * writes last — unless the lease was lost (`lost`), in which case it writes nothing more.
 */
function slowWork(clock: Clock, store: LeaseStore, finalStepMs: number) {
  const seen: { lost?: AbortSignal; end?: LeadershipEndKind | undefined; lostAtEnd?: boolean; wrote?: { at: number; leaseWrites: number; holder: string | undefined } | 'skipped'; done: boolean } = { done: false };
  const onStartedLeading = async (signal: AbortSignal, lost: AbortSignal) => {
    seen.lost = lost;
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    seen.end = leadershipEndOf(signal);
    seen.lostAtEnd = lost.aborted;
    await sleep(clock, finalStepMs);
    seen.wrote = lost.aborted ? 'skipped' : { at: clock.now(), leaseWrites: store.writes.length, holder: store.current?.record.holderIdentity };
    seen.done = true;
  };
  return { seen, callbacks: { onStartedLeading, onStoppedLeading: () => {} } };
}

describe('LeaderElector: the leader’s work after leadership ends', () => {
  it('graceful stop: renews while the work finishes its last step, releases only after it, then a follower takes over', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const finalStepMs = 20_000; // longer than the lease: without renewals it would expire meanwhile
    const work = slowWork(clock, store, finalStepMs);
    const a = candidate(store, clock, 'a', { callbacks: work.callbacks });
    await flushPromises();
    const b = candidate(store, clock, 'b');
    await clock.advance(3_000);
    const stoppedAt = clock.now();
    let stopResolved = false;
    const stopping = a.elector.stop().then(() => { stopResolved = true; });

    // While the work finishes: the lease stays a's and is renewed; b does not lead.
    while (!work.seen.done) {
      await clock.advance(500);
      if (work.seen.done) break;
      expect(store.current?.record.holderIdentity).toBe('a');
      expect(b.elector.isLeader()).toBe(false);
      expect(stopResolved).toBe(false);
    }
    expect(work.seen.end).toBe('shutdown');
    expect(work.seen.lostAtEnd).toBe(false);
    const renewals = store.writes.filter((w) => w.by === 'a' && w.record.holderIdentity === 'a' && (w.record.renewTime ?? 0) > stoppedAt);
    expect(renewals.length).toBeGreaterThanOrEqual(finalStepMs / timing.retryPeriodMs - 1);
    const wrote = work.seen.wrote;
    if (wrote === undefined || wrote === 'skipped') throw new Error('the final step did not write');
    expect(wrote.holder).toBe('a');
    expect(wrote.at - stoppedAt).toBeGreaterThanOrEqual(finalStepMs);

    await stopping;
    // The release is the first lease write after the work's last write.
    const release = store.writes.findIndex((w) => w.record.holderIdentity === '');
    expect(release).toBeGreaterThanOrEqual(wrote.leaseWrites);
    expect(store.writes.slice(0, wrote.leaseWrites).every((w) => w.record.holderIdentity === 'a')).toBe(true);
    expect(a.elector.isLeader()).toBe(false);
    await advanceUntil(clock, () => b.elector.isLeader(), 10_000);
    expect(store.current?.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('lost leadership: the work is told (lost, reason leadership-lost), run() returns without waiting for it, and the lease is never released', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const work = slowWork(clock, store, 20_000);
    const a = candidate(store, clock, 'a', { callbacks: work.callbacks });
    await flushPromises();
    const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    store.failures.set('a', Array.from({ length: 6 }, () => down));
    await advanceUntil(clock, () => !a.elector.isLeader(), 20_000);
    await a.done; // run() returned; the work has not finished
    expect(work.seen.done).toBe(false);
    expect(work.seen.end).toBe('leadership-lost');
    expect(work.seen.lostAtEnd).toBe(true);
    const lostAt = store.writes.length;

    // The API server answers again: a later stop() does not release (the work may still be running).
    store.failures.delete('a');
    await a.elector.stop();
    await clock.advance(25_000);
    expect(work.seen.done).toBe(true);
    expect(work.seen.wrote).toBe('skipped');
    expect(store.writes.length).toBe(lostAt);
    expect(store.current?.record.holderIdentity).toBe('a'); // left to expire
  });

  it('a lease lost while a graceful stop waits for the work: the work is told (lost) and the lease is not released', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const work = slowWork(clock, store, 20_000);
    const a = candidate(store, clock, 'a', { callbacks: work.callbacks });
    await flushPromises();
    await clock.advance(3_000);
    const stopping = a.elector.stop();
    await clock.advance(1_000);
    expect(work.seen.end).toBe('shutdown');
    const lastRenew = store.writes.length;
    const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    store.failures.set('a', Array.from({ length: 6 }, () => down));
    await advanceUntil(clock, () => work.seen.lost?.aborted === true, 20_000);
    store.failures.delete('a'); // the API server answers again: still no release
    await advanceUntil(clock, () => work.seen.done, 30_000);
    await stopping;
    expect(work.seen.wrote).toBe('skipped');
    expect(store.writes.length).toBe(lastRenew);
    expect(store.current?.record.holderIdentity).toBe('a');
    expect(a.elector.isLeader()).toBe(false);
  });
});
