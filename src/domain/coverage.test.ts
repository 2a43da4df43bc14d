import { describe, expect, it } from 'vitest';
import { coverageWarnings, formatPeriod, type CoverageInput } from './coverage.js';
import type { ControllerInfo } from './inventory.js';

const H = 3_600_000;
// Saturday 2026-12-05 10:00 UTC; learning for the hour before.
const NOW = Date.UTC(2026, 11, 5, 10, 0, 0);
const START = NOW - H;
const iso = (ms: number) => new Date(ms).toISOString();

const controller = (kind: string, name: string, extra: Partial<ControllerInfo> = {}): ControllerInfo => ({ kind, namespace: 'shop', name, owners: [], createdAt: START - 30 * 24 * H, ...extra });
const input = (controllers: ControllerInfo[], seen: string[] = [], extra: Partial<CoverageInput> = {}): CoverageInput => ({
  namespace: 'shop', controllers, seen: new Set(seen), windowStart: START, now: NOW, windowMs: H, formatTime: iso, ...extra,
});
const reasons = (i: CoverageInput) => coverageWarnings(i).map((w) => `${w.workload} ${w.reason}`);

describe('coverageWarnings', () => {
  const cases: { name: string; input: CoverageInput; want: string[] }[] = [
    { name: 'a weekly CronJob with a 1h window did not run', input: input([controller('CronJob', 'report', { schedule: '0 3 * * 0' })]), want: ['shop/CronJob/report CronJobDidNotRun'] },
    { name: '@weekly macro did not run either', input: input([controller('CronJob', 'report', { schedule: '@weekly' })]), want: ['shop/CronJob/report CronJobDidNotRun'] },
    { name: 'an every-5-minutes CronJob ran', input: input([controller('CronJob', 'sync', { schedule: '*/5 * * * *' })]), want: [] },
    { name: 'a daily CronJob that fired in a 2h window runs less often than the window', input: input([controller('CronJob', 'nightly', { schedule: '30 9 * * *' })], [], { windowStart: NOW - 2 * H, windowMs: 2 * H }), want: ['shop/CronJob/nightly CronJobPeriodLongerThanWindow'] },
    { name: 'time zones are honoured: 09:30 in Berlin is 08:30 UTC, outside a 1h window', input: input([controller('CronJob', 'tz', { schedule: '30 9 * * *', timeZone: 'Europe/Berlin' })]), want: ['shop/CronJob/tz CronJobDidNotRun'] },
    { name: 'a suspended CronJob did not run', input: input([controller('CronJob', 'paused', { schedule: '* * * * *', suspend: true })]), want: ['shop/CronJob/paused CronJobDidNotRun'] },
    { name: 'an unreadable schedule is reported, not guessed', input: input([controller('CronJob', 'bad', { schedule: '61 * * * *' })]), want: ['shop/CronJob/bad CronJobDidNotRun'] },
    { name: 'a seconds field is not Kubernetes syntax', input: input([controller('CronJob', 'secs', { schedule: '0 * * * * *' })]), want: ['shop/CronJob/secs CronJobDidNotRun'] },
    { name: 'a Deployment scaled to zero', input: input([controller('Deployment', 'standby', { replicas: 0 })], ['wl:shop/Deployment/standby']), want: ['shop/Deployment/standby ScaledToZero'] },
    { name: 'a Deployment created after most of the window', input: input([controller('Deployment', 'new', { createdAt: START + 0.6 * H })], ['wl:shop/Deployment/new']), want: ['shop/Deployment/new CreatedLate'] },
    { name: 'a Deployment created before half the window is fine', input: input([controller('Deployment', 'early', { createdAt: START + 0.4 * H })], ['wl:shop/Deployment/early']), want: [] },
    { name: 'a Deployment that never sent or received a flow', input: input([controller('Deployment', 'quiet', { replicas: 2 }), controller('Deployment', 'busy')], ['wl:shop/Deployment/busy']), want: ['shop/Deployment/quiet NoFlows'] },
    { name: 'owned controllers (ReplicaSets, Jobs) and other namespaces are not workloads here', input: input([controller('ReplicaSet', 'quiet-abc', { owners: [{ kind: 'Deployment', name: 'quiet', controller: true }] }), { ...controller('Deployment', 'x'), namespace: 'other' }]), want: [] },
    { name: 'excluded workloads get no warning', input: input([controller('Deployment', 'quiet')], [], { exclude: [{ kind: 'Deployment', name: 'quiet' }] }), want: [] },
  ];
  it.each(cases)('$name', ({ input: i, want }) => expect(reasons(i)).toEqual(want));

  it('says why, with the period, the window and the next run', () => {
    const [warning] = coverageWarnings(input([controller('CronJob', 'report', { schedule: '0 3 * * 0' })]));
    expect(warning?.message).toBe('CronJob report (schedule "0 3 * * 0") did not run during the learning window (it runs every 7d, the window is 1h); next run 2026-12-06T03:00:00.000Z');
  });

  it('is deterministic: sorted by workload', () => {
    const list = input([controller('Deployment', 'b'), controller('Deployment', 'a')]);
    expect(coverageWarnings(list).map((w) => w.workload)).toEqual(['shop/Deployment/a', 'shop/Deployment/b']);
  });
});

describe('formatPeriod', () => {
  it.each([[7 * 24 * H, '7d'], [H, '1h'], [90_000, '90s'], [5 * 60_000, '5m'], [1.5 * H, '90m'], [500, '500ms']])('%d → %s', (ms, text) => expect(formatPeriod(ms)).toBe(text));
});
