/**
 * Leader election on a Lease, with client-go's semantics (k8s.io/client-go/tools/leaderelection):
 *
 * - A candidate takes the lease when it does not exist, when it was released (empty
 *   `holderIdentity`), or when it expired: "renewTime + leaseDuration < now". Every write carries
 *   the resourceVersion it read, so of two candidates one gets 409 Conflict and loses.
 * - The leader renews every `retryPeriod`. If it cannot renew for `renewDeadline` since its last
 *   successful renewal, it stops leading (`onStoppedLeading`) before anyone else may take over
 *   (`renewDeadline` < `leaseDuration`), and `run()` returns: like client-go, a lost leadership
 *   is final for this elector (the process usually exits and restarts).
 * - Graceful stop releases the lease (client-go's `ReleaseOnCancel`): holderIdentity '', a 1 s
 *   duration, so a follower takes over on its next poll instead of waiting out the lease. It does
 *   so only once the leader's work has ended (the promise `onStartedLeading` returned settled, a
 *   last write included), renewing the lease until then: otherwise a follower would lead while the
 *   old leader still writes. A lease that was lost is never released, and its work is not waited
 *   for: it is told to write nothing more (`lost`).
 *
 * Clock skew. client-go measures expiry on the follower's own clock from when it *observed* the
 * last change, which is immune to skew but can add a whole poll interval to a takeover. Here a
 * lease is expired when both hold: the holder's renewTime + leaseDuration has passed, and the
 * record has not changed for leaseDuration − retryPeriod as observed locally. The first keeps a
 * takeover within one lease period of the leader's last renewal; the second means a follower
 * whose clock runs ahead cannot steal a lease that is still being renewed (a live leader changes
 * the record every retryPeriod). That is why leaseDuration must exceed renewDeadline + retryPeriod.
 */
import type { Logger } from 'pino';
import { sleep, systemClock, type Clock } from './clock.js';
import { apiStatusOf } from './errors.js';
import type { LeaderElectionRecord, LeaseLock, LockedRecord } from './lease-lock.js';

/**
 * Why leadership ended: `stop()` was called (`shutdown`: the work may finish what it started and
 * store what it learned, the lease is still held meanwhile), or the lease was lost
 * (`leadership-lost`: another candidate may lead already; write nothing more).
 */
export type LeadershipEndKind = 'shutdown' | 'leadership-lost';

/** The reason the leading signals abort with. */
export class LeadershipEnded extends Error {
  constructor(readonly kind: LeadershipEndKind) {
    super(kind === 'shutdown' ? 'leader election stopping' : 'leadership lost');
    this.name = 'LeadershipEnded';
  }
}

/** Why the signal `onStartedLeading` was given aborted (undefined while still leading). */
export function leadershipEndOf(signal: AbortSignal): LeadershipEndKind | undefined {
  return signal.aborted && signal.reason instanceof LeadershipEnded ? signal.reason.kind : undefined;
}

export interface LeaderCallbacks {
  /**
   * This candidate became the leader. Start the work; stop it when `signal` aborts (its reason,
   * a {@link LeadershipEnded}, says why: {@link leadershipEndOf}). `lost` aborts when the lease
   * is lost: together with `signal`, or later if the lease cannot be renewed while the work
   * finishes after `stop()`; from then on the work must not write anything (no final store).
   *
   * On `stop()` the lease is renewed until the returned promise settles and released only after
   * that, so the work's last writes cannot overlap the next leader's; after a loss it is not
   * waited for. A rejection is logged.
   */
  onStartedLeading(signal: AbortSignal, lost: AbortSignal): void | Promise<void>;
  /**
   * Leadership ended (lost, or `stop()`), right after `signal` aborted. On a graceful stop the
   * lease is still renewed while this runs (and while the work's promise settles) and released
   * after it resolves, so in-flight work can finish first.
   */
  onStoppedLeading(): void | Promise<void>;
  /** The observed leader changed (this candidate included). */
  onNewLeader?(identity: string): void;
}

/** Hooks for Prometheus (see telemetry/metrics.ts). */
export interface LeaderElectionMetrics {
  /** Whether this candidate is the leader, after every change. */
  leader?(isLeader: boolean): void;
}

export interface LeaderElectionConfig {
  readonly lock: LeaseLock;
  /** Unique per candidate (pod name + a random suffix is common). */
  readonly identity: string;
  /** How long a lease is valid after a renewal (written as whole seconds; default 15 s). */
  readonly leaseDurationMs?: number;
  /** The leader gives up if it cannot renew for this long (default 10 s). */
  readonly renewDeadlineMs?: number;
  /** Between attempts to acquire or renew (default 2 s). */
  readonly retryPeriodMs?: number;
  /** Release the lease on `stop()` (default true). */
  readonly releaseOnCancel?: boolean;
  readonly callbacks: LeaderCallbacks;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly metrics?: LeaderElectionMetrics;
  /** Random source for jitter; tests make it deterministic. */
  readonly random?: () => number;
}

/** Acquire retries wait retryPeriod plus up to this fraction of it. */
const JITTER = 0.2;

export class LeaderElector {
  readonly identity: string;
  readonly #lock: LeaseLock;
  readonly #leaseSeconds: number;
  readonly #renewDeadlineMs: number;
  readonly #retryMs: number;
  readonly #releaseOnCancel: boolean;
  readonly #callbacks: LeaderCallbacks;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #metrics: LeaderElectionMetrics;
  readonly #random: () => number;

  #observed: LockedRecord | undefined;
  /** Local time at which #observed last changed. */
  #observedAt = 0;
  #reportedLeader: string | undefined;
  #leading = false;
  #running = false;
  #run: Promise<void> | undefined;
  /** Ends the acquire/renew loop. */
  readonly #loopStop = new AbortController();
  /** Handed to onStartedLeading: ends the work (shutdown or lost). */
  #leadingAbort: AbortController | undefined;
  /** Handed to onStartedLeading: the lease was lost, write nothing more. */
  #lostAbort: AbortController | undefined;
  /** What onStartedLeading returned, settled (never rejects): awaited before a graceful release. */
  #work: Promise<void> = Promise.resolve();
  /** The lease was lost (renewal failed or another holder): it is not released then. */
  #lost = false;
  #stopping: Promise<void> | undefined;
  #ending: Promise<void> | undefined;

  constructor(config: LeaderElectionConfig) {
    const leaseMs = config.leaseDurationMs ?? 15_000;
    const renewDeadlineMs = config.renewDeadlineMs ?? 10_000;
    const retryMs = config.retryPeriodMs ?? 2_000;
    this.#leaseSeconds = Math.max(1, Math.ceil(leaseMs / 1000));
    if (!config.identity) throw new Error('leader election: identity must not be empty');
    if (!(renewDeadlineMs > retryMs * (1 + JITTER))) {
      throw new Error(`leader election: renewDeadline (${renewDeadlineMs} ms) must be greater than retryPeriod × ${1 + JITTER} (${retryMs * (1 + JITTER)} ms)`);
    }
    if (!(this.#leaseSeconds * 1000 > renewDeadlineMs + retryMs)) {
      throw new Error(`leader election: leaseDuration (${this.#leaseSeconds} s) must be greater than renewDeadline + retryPeriod (${renewDeadlineMs + retryMs} ms)`);
    }
    this.identity = config.identity;
    this.#lock = config.lock;
    this.#renewDeadlineMs = renewDeadlineMs;
    this.#retryMs = retryMs;
    this.#releaseOnCancel = config.releaseOnCancel ?? true;
    this.#callbacks = config.callbacks;
    this.#clock = config.clock ?? systemClock;
    this.#log = config.logger.child({ lease: config.lock.describe(), identity: config.identity });
    this.#metrics = config.metrics ?? {};
    this.#random = config.random ?? Math.random;
  }

  /** True while this candidate holds the lease. */
  isLeader(): boolean {
    return this.#leading;
  }

  /** True from `run()` until it returns: for a readiness check ("leader election running"). */
  isRunning(): boolean {
    return this.#running;
  }

  /** The holder last observed ('' if released, undefined before the first read). */
  leader(): string | undefined {
    return this.#observed?.record.holderIdentity;
  }

  /**
   * Campaign, then lead until leadership is lost or `stop()` is called; resolves then. Never
   * rejects. Calling it again returns the same promise.
   */
  run(): Promise<void> {
    this.#run ??= this.#campaign().catch((err: unknown) => {
      this.#log.error({ err }, 'leader election crashed');
    }).finally(() => {
      this.#running = false;
    });
    return this.#run;
  }

  /**
   * Stop campaigning or leading. When leading: abort the leading signal (`shutdown`), await
   * `onStoppedLeading` and the work `onStartedLeading` started (still renewing meanwhile), then
   * release the lease unless `release` is false (which simulates a crash: the lease then expires
   * on its own) or the lease was lost meanwhile. Nothing here bounds how long the work takes: the
   * process's shutdown deadline does (src/operator/process.ts), and a process that exits then
   * leaves the lease to expire, which is safe since its work ends with it.
   */
  stop(opts: { readonly release?: boolean } = {}): Promise<void> {
    this.#stopping ??= this.#stop(opts.release ?? this.#releaseOnCancel);
    return this.#stopping;
  }

  async #stop(release: boolean): Promise<void> {
    if (this.#leading) await this.#endLeading('shutdown');
    this.#loopStop.abort();
    await this.#run;
    if (release && !this.#lost && this.#observed?.record.holderIdentity === this.identity) await this.#release();
  }

  async #campaign(): Promise<void> {
    this.#running = true;
    this.#metrics.leader?.(false);
    const signal = this.#loopStop.signal;
    this.#log.info({}, 'campaigning for leadership');
    // Acquire.
    while (!signal.aborted) {
      if (await this.#tryAcquireOrRenew()) break;
      await sleep(this.#clock, this.#acquireWaitMs(), signal);
    }
    if (signal.aborted) return;
    // Measured from the renewTime written, not from when the write returned: conservative.
    let lastRenew = this.#observed?.record.renewTime ?? this.#clock.now();
    this.#startLeading();
    // Renew.
    while (!signal.aborted && this.#leading) {
      await sleep(this.#clock, this.#retryMs, signal);
      if (signal.aborted) break;
      const attemptAt = this.#clock.now(); // the renewTime this attempt writes
      const remaining = lastRenew + this.#renewDeadlineMs - attemptAt;
      const renewed = remaining > 0 && await this.#withDeadline(this.#tryAcquireOrRenew(), remaining);
      if (signal.aborted) break;
      if (renewed) {
        lastRenew = attemptAt;
      } else if (this.#clock.now() - lastRenew >= this.#renewDeadlineMs || this.#heldByOther()) {
        this.#log.warn({ sinceLastRenewMs: this.#clock.now() - lastRenew, holder: this.leader() }, 'leadership lost');
        await this.#loseLeadership();
        return;
      }
    }
  }

  /** Until the next acquire attempt: retryPeriod (+ jitter), or sooner if the lease expires sooner. */
  #acquireWaitMs(): number {
    const wait = this.#retryMs * (1 + JITTER * this.#random());
    const expiry = this.#expiresAt();
    if (expiry === undefined) return wait;
    return Math.max(1, Math.min(wait, expiry - this.#clock.now() + 1));
  }

  /** When the observed lease becomes expired by both rules (see the module comment). */
  #expiresAt(): number | undefined {
    const o = this.#observed;
    if (!o || !o.record.holderIdentity) return undefined;
    const durationMs = o.record.leaseDurationSeconds * 1000;
    const byRenewTime = (o.record.renewTime ?? this.#observedAt) + durationMs;
    const byObservation = this.#observedAt + durationMs - this.#retryMs;
    return Math.max(byRenewTime, byObservation);
  }

  #heldByOther(): boolean {
    const holder = this.#observed?.record.holderIdentity;
    return Boolean(holder) && holder !== this.identity;
  }

  async #withDeadline(attempt: Promise<boolean>, ms: number): Promise<boolean> {
    const timeout = new AbortController();
    const result = await Promise.race([attempt, sleep(this.#clock, ms, timeout.signal).then(() => false)]);
    timeout.abort();
    return result;
  }

  /** One read-decide-write round; true if this candidate holds the lease afterwards. */
  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = this.#clock.now();
    const fresh: LeaderElectionRecord = {
      holderIdentity: this.identity, leaseDurationSeconds: this.#leaseSeconds,
      acquireTime: now, renewTime: now, leaseTransitions: 0,
    };
    let current: LockedRecord | undefined;
    try {
      current = await this.#lock.get();
    } catch (err) {
      this.#log.warn({ err, status: apiStatusOf(err) || undefined }, 'cannot read lease');
      return false;
    }
    if (!current) {
      try {
        this.#observe(await this.#lock.create(fresh));
        return true;
      } catch (err) {
        // 409 AlreadyExists: another candidate created it first.
        const status = apiStatusOf(err);
        if (status !== 409) this.#log.warn({ err, status: status || undefined }, 'cannot create lease');
        return false;
      }
    }
    this.#observe(current);
    const held = current.record;
    const ours = held.holderIdentity === this.identity;
    if (!ours && held.holderIdentity && !this.#expired(now)) return false;
    const next: LeaderElectionRecord = ours
      ? { ...fresh, acquireTime: held.acquireTime ?? now, leaseTransitions: held.leaseTransitions }
      : { ...fresh, leaseTransitions: held.leaseTransitions + 1 };
    try {
      this.#observe(await this.#lock.update(next, current.resourceVersion));
      return true;
    } catch (err) {
      // 409: someone else wrote first (they renewed, or won the race for an expired lease).
      const status = apiStatusOf(err);
      if (status === 409) this.#log.debug({ holder: held.holderIdentity }, 'lease changed under us');
      else this.#log.warn({ err, status: status || undefined }, ours ? 'cannot renew lease' : 'cannot acquire lease');
      return false;
    }
  }

  #expired(now: number): boolean {
    const at = this.#expiresAt();
    return at !== undefined && now > at;
  }

  #observe(current: LockedRecord): void {
    const prev = this.#observed?.record;
    const r = current.record;
    if (!prev || prev.holderIdentity !== r.holderIdentity || prev.renewTime !== r.renewTime ||
        prev.leaseTransitions !== r.leaseTransitions || prev.leaseDurationSeconds !== r.leaseDurationSeconds) {
      this.#observedAt = this.#clock.now();
    }
    this.#observed = current;
    if (r.holderIdentity && r.holderIdentity !== this.#reportedLeader) {
      this.#reportedLeader = r.holderIdentity;
      this.#log.info({ leader: r.holderIdentity }, 'new leader observed');
      try {
        this.#callbacks.onNewLeader?.(r.holderIdentity);
      } catch (err) {
        this.#log.error({ err }, 'onNewLeader threw');
      }
    }
  }

  #startLeading(): void {
    this.#leading = true;
    this.#leadingAbort = new AbortController();
    this.#lostAbort = new AbortController();
    this.#metrics.leader?.(true);
    this.#log.info({ leaseTransitions: this.#observed?.record.leaseTransitions }, 'started leading');
    let work: void | Promise<void> = undefined;
    try {
      work = this.#callbacks.onStartedLeading(this.#leadingAbort.signal, this.#lostAbort.signal);
    } catch (err) {
      this.#log.error({ err }, 'onStartedLeading failed');
    }
    this.#work = Promise.resolve(work).catch((err: unknown) => {
      this.#log.error({ err }, 'onStartedLeading failed');
    });
  }

  /**
   * The lease is lost: the work is told to write nothing more (also when a graceful stop is
   * already waiting for it), and leading ends without waiting for the work.
   */
  #loseLeadership(): Promise<void> {
    this.#lost = true;
    this.#lostAbort?.abort(new LeadershipEnded('leadership-lost'));
    return this.#endLeading('leadership-lost');
  }

  #endLeading(why: LeadershipEndKind): Promise<void> {
    this.#ending ??= this.#doEndLeading(why);
    return this.#ending;
  }

  async #doEndLeading(why: LeadershipEndKind): Promise<void> {
    if (!this.#leading) return;
    this.#leadingAbort?.abort(new LeadershipEnded(why));
    try {
      await this.#callbacks.onStoppedLeading();
    } catch (err) {
      this.#log.error({ err }, 'onStoppedLeading failed');
    }
    // A graceful stop waits for the work (its last store pass included) while the renew loop
    // keeps the lease, which #stop releases only after this. After a loss nobody waits: the work
    // has been told (`lost`) to write nothing more, and the lease is not ours to release.
    if (why === 'shutdown') await this.#work;
    this.#leading = false;
    this.#metrics.leader?.(false);
    this.#log.info({ reason: why }, 'stopped leading');
  }

  /** client-go's release(): empty holder, 1 s duration, times now, transitions kept. */
  async #release(): Promise<void> {
    const o = this.#observed;
    if (!o) return;
    const now = this.#clock.now();
    try {
      this.#observe(await this.#lock.update({
        holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: o.record.leaseTransitions,
      }, o.resourceVersion));
      this.#log.info({}, 'lease released');
    } catch (err) {
      this.#log.warn({ err, status: apiStatusOf(err) || undefined }, 'cannot release lease; it will expire');
    }
  }
}
