import { ApiException } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { classifyApiError } from '../runtime/errors.js';
import { LeaderElector } from '../runtime/leader-election.js';
import type { LeaderElectionRecord, LeaseLock, LockedRecord } from '../runtime/lease-lock.js';
import type { ShutdownSignal, SignalTarget } from '../runtime/signals.js';
import { captureLogger } from '../runtime/testing.js';
import { stopLeaderWork, type LeaderWorkParts } from './operator.js';
import { leaderCallbacks, runLeadership } from './process.js';

/**
 * What the API server saw, in order: Lease writes (`lease a`, `lease released`) and the leader
 * work's writes. One Lease with optimistic concurrency, as in src/runtime/leader-election.test.ts.
 */
class Api {
  readonly log: string[] = [];
  lease: LockedRecord | undefined;
  #rv = 0;
  /** While set, every Lease call of this identity fails (the API server unreachable for it). */
  readonly down = new Set<string>();

  lockFor(identity: string): LeaseLock {
    const reachable = () => {
      if (this.down.has(identity)) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    };
    const conflict = (what: string) => classifyApiError(new ApiException(409, 'Conflict', { reason: 'Conflict', message: what }, {}), 'update');
    return {
      describe: () => 'Lease hivewall-system/hivewall',
      get: async () => { reachable(); return this.lease && structuredClone(this.lease); },
      create: async (record) => {
        reachable();
        if (this.lease) throw conflict('exists');
        return this.#write(record);
      },
      update: async (record, resourceVersion) => {
        reachable();
        if (this.lease?.resourceVersion !== resourceVersion) throw conflict('the object has been modified');
        return this.#write(record);
      },
    };
  }

  /** Lease writes since `from` (an index into the log). */
  leaseWritesSince(from: number): string[] {
    return this.log.slice(from).filter((l) => l.startsWith('lease'));
  }

  #write(record: LeaderElectionRecord): LockedRecord {
    this.lease = { record: { ...record }, resourceVersion: String(++this.#rv) };
    this.log.push(record.holderIdentity ? `lease ${record.holderIdentity}` : 'lease released');
    return structuredClone(this.lease);
  }
}

/** `process` for the signal handler: signals are sent by the test, exits recorded. */
class FakeProcess implements SignalTarget {
  readonly exits: number[] = [];
  readonly #listeners = new Map<ShutdownSignal, () => void>();
  on(event: ShutdownSignal, listener: () => void): void { this.#listeners.set(event, listener); }
  off(event: ShutdownSignal): void { this.#listeners.delete(event); }
  exit(code: number): void { this.exits.push(code); }
  send(signal: ShutdownSignal): void { this.#listeners.get(signal)?.(); }
}

const LEASE = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
const FORCE_EXIT_MS = 30_000;

/**
 * One replica as src/operator/process.ts assembles it: the elector, the leader callbacks and
 * runLeadership, with leader work shaped like runLeaderWork (run until `signal`, then
 * stopLeaderWork) whose final store pass takes `finalPass` (a promise: it may never settle).
 */
function replica(api: Api, identity: string, finalPass: () => Promise<void>) {
  const signals = new FakeProcess();
  const parts: LeaderWorkParts = {
    unsubscribe: [],
    controller: { stop: async () => true },
    informers: [],
    cluster: { stop: async () => {} },
    sources: { stop: async () => {}, takeNewFlows: () => 0, abandonWaiters: () => {} },
    store: {
      pass: async () => {
        api.log.push(`${identity}: final pass started`);
        await finalPass();
        api.log.push(`${identity}: profiles and checkpoint written`);
        return true;
      },
    },
  };
  const work = async (signal: AbortSignal, lost: AbortSignal) => {
    api.log.push(`${identity}: leading`);
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    await stopLeaderWork(parts, lost, Date.now);
  };
  const log = captureLogger().logger;
  const elector = new LeaderElector({ lock: api.lockFor(identity), identity, ...LEASE, logger: log, random: () => 0, callbacks: leaderCallbacks(log, work) });
  let closed = false;
  const outcome = runLeadership({ elector, log, forceExitAfterMs: FORCE_EXIT_MS, signals, onShutdown: () => {}, close: async () => { closed = true; } });
  return { elector, signals, outcome, closed: () => closed };
}

/** A final pass that takes `ms` (on the faked timers). */
const slowPass = (ms: number) => () => new Promise<void>((resolve) => setTimeout(resolve, ms));

const electors: LeaderElector[] = [];
const unhang: Array<() => void> = [];
beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
});
afterEach(async () => {
  for (const release of unhang.splice(0)) release();
  let stopped = false;
  const stopping = Promise.all(electors.splice(0).map((e) => e.stop({ release: false }))).then(() => { stopped = true; });
  for (let i = 0; !stopped && i < 120; i++) await vi.advanceTimersByTimeAsync(1_000); // the work ends on the faked timers
  await stopping;
  vi.useRealTimers();
});

describe('runLeadership: the leader work and the Lease', () => {
  it('SIGTERM: the final store pass runs while the Lease is renewed; the Lease is released after it and only then can a follower lead', async () => {
    const api = new Api();
    const a = replica(api, 'a', slowPass(20_000)); // longer than the lease: renewals must go on
    electors.push(a.elector);
    await vi.advanceTimersByTimeAsync(100);
    expect(a.elector.isLeader()).toBe(true);
    const b = replica(api, 'b', slowPass(0));
    electors.push(b.elector);
    await vi.advanceTimersByTimeAsync(3_000);

    const before = api.log.length;
    a.signals.send('SIGTERM');
    await vi.advanceTimersByTimeAsync(25_000);
    expect(await a.outcome).toBe('stopped');
    expect(a.signals.exits).toEqual([]); // within the deadline: no forced exit
    expect(a.closed()).toBe(true);

    const after = api.log.slice(before);
    const passStart = after.indexOf('a: final pass started');
    const passEnd = after.indexOf('a: profiles and checkpoint written');
    const released = after.indexOf('lease released');
    const bLeads = after.indexOf('b: leading');
    expect(passStart).toBeGreaterThanOrEqual(0);
    expect(passEnd).toBeGreaterThan(passStart);
    // Renewed by a throughout the pass (every 2 s for 20 s), nobody else wrote the Lease meanwhile.
    const during = after.slice(passStart, passEnd);
    expect(during.filter((l) => l === 'lease a').length).toBeGreaterThanOrEqual(9);
    expect(during.every((l) => !l.startsWith('lease') || l === 'lease a')).toBe(true);
    // Released after the pass; b leads after the release, never while a writes.
    expect(released).toBeGreaterThan(passEnd);
    expect(bLeads).toBeGreaterThan(released);
    expect(after.slice(bLeads).some((l) => l.startsWith('a:'))).toBe(false);
  });

  it('leadership lost: the old leader runs no final pass and writes nothing after the loss', async () => {
    const api = new Api();
    let passes = 0;
    const a = replica(api, 'a', async () => { passes++; });
    electors.push(a.elector);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(a.elector.isLeader()).toBe(true);

    api.down.add('a'); // renewals fail until renewDeadline: the lease is lost
    await vi.advanceTimersByTimeAsync(12_000);
    expect(await a.outcome).toBe('leadership-lost');
    const lostAt = api.log.length;
    api.down.delete('a');
    await vi.advanceTimersByTimeAsync(30_000);
    expect(passes).toBe(0);
    expect(api.log.slice(lostAt)).toEqual([]); // no profile, checkpoint or Lease write
    expect(api.log.some((l) => l.includes('final pass'))).toBe(false);
    expect(a.elector.isLeader()).toBe(false);
  });

  it('the shutdown deadline still bounds a hung final pass: the process exits with 1, the Lease unreleased (renewed until then)', async () => {
    const api = new Api();
    const hung = () => new Promise<void>((resolve) => unhang.push(resolve));
    const a = replica(api, 'a', hung);
    electors.push(a.elector);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(a.elector.isLeader()).toBe(true);

    const before = api.log.length;
    a.signals.send('SIGTERM');
    await vi.advanceTimersByTimeAsync(FORCE_EXIT_MS - 100);
    expect(a.signals.exits).toEqual([]);
    expect(api.log.slice(before)).toContain('a: final pass started');
    expect(api.leaseWritesSince(before).filter((l) => l === 'lease a').length).toBeGreaterThanOrEqual(13);
    await vi.advanceTimersByTimeAsync(200);
    expect(a.signals.exits).toEqual([1]);
    expect(api.leaseWritesSince(before)).not.toContain('lease released');
    expect(api.lease?.record.holderIdentity).toBe('a'); // expires on its own once the process is gone
  });
});
