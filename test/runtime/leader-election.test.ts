// Leader election against the real Lease API: two candidates in one process.
import { CoordinationV1Api } from '@kubernetes/client-node';
import { describe, expect, it, onTestFinished } from 'vitest';
import { LeaderElector } from '../../src/runtime/leader-election.js';
import { kubeLeaseLock } from '../../src/runtime/lease-lock.js';
import { captureLogger } from '../../src/runtime/testing.js';
import { adminKubeConfig, testNamespace } from '../harness/index.js';
import { eventually, forbidUnhandledRejections } from './helpers.js';

forbidUnhandledRejections();

// Short but valid periods: leaseDuration > renewDeadline + retryPeriod, renewDeadline > 1.2 × retryPeriod.
const timing = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 };

interface Candidate {
  readonly elector: LeaderElector;
  readonly events: string[];
  readonly signals: AbortSignal[];
}

function candidate(namespace: string, identity: string): Candidate {
  const events: string[] = [];
  const signals: AbortSignal[] = [];
  const elector = new LeaderElector({
    lock: kubeLeaseLock(adminKubeConfig(), namespace, 'hivewall-leader'),
    identity, ...timing, logger: captureLogger('info').logger,
    callbacks: {
      onStartedLeading: (signal) => { events.push('started'); signals.push(signal); },
      onStoppedLeading: () => { events.push('stopped'); },
      onNewLeader: (id) => { events.push(`leader ${id}`); },
    },
  });
  void elector.run();
  onTestFinished(() => elector.stop({ release: false }));
  return { elector, events, signals };
}

async function readLease(namespace: string) {
  return adminKubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace, name: 'hivewall-leader' });
}

async function twoCandidates(namespace: string): Promise<{ leader: Candidate; follower: Candidate; leaderId: string; followerId: string }> {
  const a = candidate(namespace, 'replica-a');
  const b = candidate(namespace, 'replica-b');
  await eventually(() => a.elector.isLeader() || b.elector.isLeader());
  return a.elector.isLeader()
    ? { leader: a, follower: b, leaderId: 'replica-a', followerId: 'replica-b' }
    : { leader: b, follower: a, leaderId: 'replica-b', followerId: 'replica-a' };
}

describe('leader election on a real Lease', () => {
  it('one candidate leads, the other follows; the Lease records the leader', async () => {
    const ns = await testNamespace('leader');
    const { leader, follower, leaderId } = await twoCandidates(ns.name);
    await new Promise((r) => setTimeout(r, 1_000)); // several renewals
    expect(leader.elector.isLeader()).toBe(true);
    expect(follower.elector.isLeader()).toBe(false);
    expect(follower.elector.leader()).toBe(leaderId);
    expect(follower.events).toContain(`leader ${leaderId}`);

    const lease = await readLease(ns.name);
    expect(lease.spec).toMatchObject({ holderIdentity: leaderId, leaseDurationSeconds: 3, leaseTransitions: 0 });
    // MicroTime on the wire (client-node hands it back as a string despite the Date type).
    expect(String(lease.spec?.renewTime)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const renewed = Date.parse(String(lease.spec?.renewTime));
    expect(Date.now() - renewed).toBeLessThan(1_000);
    expect(Date.parse(String(lease.spec?.acquireTime))).toBeLessThan(renewed);
  });

  it('when the leader dies without releasing, the follower takes over within leaseDuration + retryPeriod', async () => {
    const ns = await testNamespace('leader-kill');
    const { leader, follower, followerId } = await twoCandidates(ns.name);
    await new Promise((r) => setTimeout(r, 600));
    await leader.elector.stop({ release: false }); // killed: no release, no more renewals
    const killedAt = Date.now();
    expect((await readLease(ns.name)).spec?.holderIdentity).not.toBe('');

    await eventually(() => follower.elector.isLeader(), 10_000, 10);
    const tookMs = Date.now() - killedAt;
    expect(tookMs).toBeLessThanOrEqual(timing.leaseDurationMs + timing.retryPeriodMs);
    expect(follower.events.at(-1)).toBe('started');
    const lease = await readLease(ns.name);
    expect(lease.spec).toMatchObject({ holderIdentity: followerId, leaseTransitions: 1 });
  });

  it('a graceful stop releases the lease and the follower takes over at once', async () => {
    const ns = await testNamespace('leader-release');
    const { leader, follower, followerId } = await twoCandidates(ns.name);
    await leader.elector.stop();
    const releasedAt = Date.now();
    expect(leader.events).toEqual(expect.arrayContaining(['started', 'stopped']));
    expect(leader.signals[0]?.aborted).toBe(true);

    await eventually(() => follower.elector.isLeader(), 10_000, 10);
    const tookMs = Date.now() - releasedAt;
    expect(tookMs).toBeLessThan(timing.retryPeriodMs * 1.2 + 500); // one poll, not a lease period
    const lease = await readLease(ns.name);
    expect(lease.spec).toMatchObject({ holderIdentity: followerId, leaseTransitions: 1, leaseDurationSeconds: 3 });
  });

  it('many candidates racing for a missing lease: exactly one wins (409 for the rest)', async () => {
    const ns = await testNamespace('leader-race');
    const candidates = Array.from({ length: 4 }, (_, i) => candidate(ns.name, `replica-${i}`));
    await eventually(() => candidates.some((c) => c.elector.isLeader()));
    await new Promise((r) => setTimeout(r, 800));
    const leaders = candidates.filter((c) => c.elector.isLeader());
    expect(leaders).toHaveLength(1);
    expect((await readLease(ns.name)).spec?.holderIdentity).toBe(leaders[0]?.elector.identity);
  });
});
