/**
 * Coverage: what a learning window could not have seen. A proposal allows only observed traffic,
 * so a workload that did not talk during the window gets a policy that denies what it will do
 * later. These warnings tell a reviewer which workloads those are before anything is enforced:
 *
 * - a CronJob whose schedule did not fire during the window (or is suspended): its Jobs' traffic
 *   cannot be in the graph; the message says how long its period is compared with the window;
 * - a Deployment or StatefulSet scaled to zero (`spec.replicas: 0`);
 * - a workload created after most (more than half) of the window had passed;
 * - a Deployment, StatefulSet or DaemonSet whose pods never sent or received a flow.
 *
 * Pure: the window and "now" are passed in. CronJob schedules are read by cron-parser, in the
 * CronJob's `spec.timeZone` (Kubernetes otherwise uses the kube-controller-manager's local time
 * zone; UTC is assumed here).
 */
import { CronExpressionParser } from 'cron-parser';
import type { ControllerInfo } from './inventory.js';
import { workloadKey } from './peer.js';

export type CoverageReason = 'CronJobDidNotRun' | 'CronJobPeriodLongerThanWindow' | 'ScaledToZero' | 'CreatedLate' | 'NoFlows';

export interface CoverageWarning {
  /** `<namespace>/<Kind>/<name>`. */
  readonly workload: string;
  readonly reason: CoverageReason;
  readonly message: string;
}

export interface CoverageInput {
  readonly namespace: string;
  /** The namespace's controllers (top owners: Deployment, StatefulSet, DaemonSet, CronJob, …). */
  readonly controllers: readonly ControllerInfo[];
  /** Workload peer keys (`wl:<ns>/<Kind>/<name>`) on any learned edge. */
  readonly seen: ReadonlySet<string>;
  /** When learning started and now (ms). */
  readonly windowStart: number;
  readonly now: number;
  /** `spec.learning.window` in ms (the window a proposal is meant to cover). */
  readonly windowMs: number;
  /** Workloads that never get a policy (`spec.workloads.exclude`): no warning for them. */
  readonly exclude?: readonly { readonly kind: string; readonly name: string }[];
  readonly formatTime: (ms: number) => string;
}

const LONG_RUNNING = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);
/** At most this many schedule fires are walked per CronJob (an every-minute job over a day is 1,440). */
const MAX_FIRES = 2_000;

/** The coverage warnings of a namespace, one per workload, sorted by workload. */
export function coverageWarnings(input: CoverageInput): CoverageWarning[] {
  const out: CoverageWarning[] = [];
  const observed = Math.max(input.now - input.windowStart, 0);
  const lateAfter = input.windowStart + Math.max(observed, input.windowMs) / 2;
  for (const c of input.controllers) {
    if (c.namespace !== input.namespace || c.owners.some((o) => o.controller)) continue;
    if (input.exclude?.some((e) => e.kind === c.kind && e.name === c.name)) continue;
    const workload = `${c.namespace}/${c.kind}/${c.name}`;
    const warning = warningFor(c, input, lateAfter);
    if (warning) out.push({ workload, ...warning });
  }
  return out.sort((a, b) => (a.workload < b.workload ? -1 : a.workload > b.workload ? 1 : 0));
}

function warningFor(c: ControllerInfo, input: CoverageInput, lateAfter: number): Omit<CoverageWarning, 'workload'> | undefined {
  if (c.kind === 'CronJob') {
    const cron = cronJobWarning(c, input);
    if (cron) return cron;
  }
  if ((c.kind === 'Deployment' || c.kind === 'StatefulSet') && c.replicas === 0) {
    return { reason: 'ScaledToZero', message: `${c.kind} ${c.name} is scaled to zero: none of its traffic could be learned` };
  }
  if (c.createdAt !== undefined && c.createdAt > lateAfter) {
    return { reason: 'CreatedLate', message: `${c.kind} ${c.name} was created at ${input.formatTime(c.createdAt)}, after most of the learning window (since ${input.formatTime(input.windowStart)}) had passed` };
  }
  if (LONG_RUNNING.has(c.kind) && !input.seen.has(workloadKey(c.namespace, c.kind, c.name))) {
    return { reason: 'NoFlows', message: `no pod of ${c.kind} ${c.name} sent or received a flow during the learning window` };
  }
  return undefined;
}

/** A CronJob whose schedule did not fire between the window start and now, or is suspended. */
function cronJobWarning(c: ControllerInfo, input: CoverageInput): Omit<CoverageWarning, 'workload'> | undefined {
  if (c.suspend) return { reason: 'CronJobDidNotRun', message: `CronJob ${c.name} is suspended: its Jobs did not run during the learning window` };
  if (c.schedule === undefined) return undefined;
  const schedule = parseSchedule(c.schedule, c.timeZone, input.windowStart);
  if (schedule === undefined) return { reason: 'CronJobDidNotRun', message: `CronJob ${c.name}: schedule ${JSON.stringify(c.schedule)} could not be read, so whether it ran during the window is unknown` };
  const fires: number[] = [];
  while (fires.length < MAX_FIRES) {
    const next = schedule.next();
    if (next === undefined) break;
    fires.push(next);
    // Up to the first fire after now, and at least two (the period).
    if (next > input.now && fires.length >= 2) break;
  }
  const inWindow = fires.filter((t) => t <= input.now);
  const period = fires.length >= 2 ? fires[1]! - fires[0]! : undefined;
  const every = period !== undefined ? ` (it runs every ${formatPeriod(period)}, the window is ${formatPeriod(input.windowMs)})` : '';
  const nextRun = fires.find((t) => t > input.now);
  if (inWindow.length === 0) {
    return { reason: 'CronJobDidNotRun', message: `CronJob ${c.name} (schedule ${JSON.stringify(c.schedule)}) did not run during the learning window${every}${nextRun !== undefined ? `; next run ${input.formatTime(nextRun)}` : ''}` };
  }
  if (period !== undefined && period > input.windowMs) {
    return { reason: 'CronJobPeriodLongerThanWindow', message: `CronJob ${c.name} (schedule ${JSON.stringify(c.schedule)}) runs every ${formatPeriod(period)}, longer than the ${formatPeriod(input.windowMs)} window: one run may not show all its traffic` };
  }
  return undefined;
}

/** The schedule's fire times after `from` (ms), one at a time; undefined when it cannot be parsed. */
function parseSchedule(schedule: string, timeZone: string | undefined, from: number): { next(): number | undefined } | undefined {
  // Kubernetes CronJobs use the five-field syntax (plus @hourly-style macros); a seconds field is not theirs.
  const fields = schedule.trim().split(/\s+/);
  if (!schedule.trim().startsWith('@') && fields.length !== 5) return undefined;
  try {
    const expression = CronExpressionParser.parse(schedule.trim(), { currentDate: new Date(from - 1), tz: timeZone ?? 'UTC' });
    return {
      next: () => {
        try {
          return expression.next().getTime();
        } catch {
          return undefined;
        }
      },
    };
  } catch {
    return undefined;
  }
}

/** 90 s, 15m, 2h, 7d. */
export function formatPeriod(ms: number): string {
  const units: [number, string][] = [[86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'm'], [1000, 's']];
  for (const [size, unit] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  for (const [size, unit] of units) if (ms >= size) return `${Math.round((ms / size) * 10) / 10}${unit}`;
  return `${ms}ms`;
}
