/**
 * The store loop: the one place learned state is persisted. Reconciles only read it.
 *
 * One pass is a transaction in this order (docs/operator-guide.md, "What is stored, and when"):
 * 1. the flow sources' positions are taken and new input is held back ({@link FlowSources.beginRound});
 * 2. the TrafficProfiles of the namespaces whose edges changed since the last pass are written,
 *    a few at a time, each only when its content differs from what is stored. Each carries its
 *    pass and positions, the newest committed pass (`base`) and what undoes its counts back to
 *    that pass (`rollback`);
 * 3. only if every one of them was stored, the positions are flushed to the checkpoint: that
 *    write commits the pass (and every earlier one);
 * 4. the agents' batches applied before the pass are acknowledged (or refused, to be retried),
 *    and held input is applied ({@link FlowSources.endRound}).
 *
 * A crash anywhere leaves profiles of committed passes (exact at the checkpoint's positions) and
 * perhaps profiles of a pass never committed; a restart (./restore.ts) rolls the latter back to
 * their base, which is the checkpoint's pass, and reads the input again from there: nothing is
 * lost and nothing is counted twice. A checkpoint flush whose outcome is unknown (the request
 * failed) is settled by reading the checkpoint back before the next pass writes anything, so a
 * profile's `base` is always the pass the checkpoint really holds. Namespaces whose write failed
 * stay pending and are retried with backoff by the next pass.
 */
import { createHash } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION } from '../api/meta.js';
import { trafficProfileSchema } from '../api/traffic-profile.js';
import { SEGMENTATION_LABEL } from '../controllers/segmentation/reads.js';
import type { EdgeChanges } from '../domain/edge-store.js';
import type { Learner } from '../domain/learner.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../domain/translate/naming.js';
import { PASS_KEY, type OperatorCheckpoint } from '../k8s/checkpoint-store.js';
import type { Kube } from '../k8s/kube.js';
import type { FlowSources } from './flow-sources.js';
import { namespaceView, rollbackTo, rowCountsOf, toProfileSpec, type RowCounts } from '../domain/learning-state.js';

/** A Segmentation a namespace's learned edges are stored for (one TrafficProfile each, same name). */
export interface SegmentationRef {
  readonly name: string;
  readonly uid: string;
}

export interface StoreLoopOptions {
  readonly kube: Kube;
  readonly learner: Learner;
  readonly sources: FlowSources;
  readonly checkpoint: OperatorCheckpoint;
  readonly log: Logger;
  /** The live (not deleting) Segmentations of a namespace, from the informer cache. */
  readonly segmentationsIn: (namespace: string) => readonly SegmentationRef[];
  /** Profile writes in flight at once (default 8). */
  readonly concurrency?: number;
  /**
   * When only counts changed (no new edge, no agent waiting), a pass runs at most this often (ms;
   * the operator's `countsIntervalMs`, src/config.ts): busy traffic on known edges costs one write
   * per namespace per interval, not one per tick.
   */
  readonly countsIntervalMs: number;
  /** Told after each pass: profiles written, whether the pass was stored. */
  readonly onPass?: (written: number, stored: boolean) => void;
  /**
   * A pass starts no namespace's writes after this long (ms, default {@link PASS_DEADLINE_MS}): the
   * ones left stay pending, the pass is not stored and the next one retries. Flows arriving during
   * a pass are held in memory until it ends (FlowSources), so a slow API server must not stretch
   * one pass over every namespace.
   */
  readonly passDeadlineMs?: number;
  /** The clock the deadline is read from (ms; default Date.now). */
  readonly clock?: () => number;
}

/** {@link StoreLoopOptions.passDeadlineMs}'s default. */
export const PASS_DEADLINE_MS = 30_000;

/** Where a restart left the stored state (./restore.ts): the committed pass and each namespace's rows. */
export interface CommittedState {
  /** The pass the checkpoint holds, and its positions. */
  readonly pass: number;
  readonly positions: Readonly<Record<string, string>>;
  /** Per namespace: its rows as of that pass, and, when its stored profile is of a later (uncommitted) pass, that pass and its rows. */
  readonly namespaces: ReadonlyMap<string, { readonly committed: RowCounts; readonly stored?: { readonly pass: number; readonly rows: RowCounts } }>;
  /**
   * `namespace/name` of every TrafficProfile the restart listed: a profile not among them did not
   * exist then, so its first write needs no read to compare against (absent: read each first).
   */
  readonly listed?: ReadonlySet<string>;
}

export class StoreLoop {
  private readonly changes: EdgeChanges;
  /** Namespaces whose profiles must be checked and written by the next pass. */
  private pending = new Set<string>();
  /**
   * Profile content last known to be stored, and the pass it is of: by namespace, then by
   * `name/uid`, so forgetting one namespace's or one Segmentation's touches that namespace only.
   */
  private readonly written = new Map<string, Map<string, { readonly digest: string; readonly pass: number }>>();
  private failures = 0;
  private notBefore = 0;
  /** The number of the next pass (after the newest stored one). */
  private nextPass: number;
  private lastPassAt = Number.NEGATIVE_INFINITY;
  /** The newest pass the checkpoint is known to hold, and its positions: new profiles' `base`. */
  private committedPass: number;
  private committedPositions: Readonly<Record<string, string>>;
  /** Per namespace: its rows as of the committed pass (what a rollback restores). */
  private readonly committedRows = new Map<string, RowCounts>();
  /** Namespaces whose stored profiles are of a pass after the committed one: their pass and rows. */
  private readonly uncommitted = new Map<string, { readonly pass: number; readonly rows: RowCounts }>();
  /** A checkpoint flush failed: whether it was stored is unknown until the checkpoint is read back. */
  private flushUnsettled = false;
  /** The profiles a restart listed ({@link CommittedState.listed}). */
  private readonly listed: ReadonlySet<string> | undefined;

  /**
   * `lastPass`: the newest pass number stored (checkpoint or profiles' `covers`); new passes are
   * numbered after it, so no pass number is used twice. `restored`: the committed state a restart
   * found (none: nothing stored yet).
   */
  constructor(private readonly options: StoreLoopOptions, lastPass = 0, restored?: CommittedState) {
    this.changes = options.learner.edges.changes();
    this.nextPass = Math.max(lastPass, restored?.pass ?? 0) + 1;
    this.committedPass = restored?.pass ?? 0;
    this.committedPositions = restored?.positions ?? {};
    this.listed = restored?.listed;
    for (const [namespace, state] of restored?.namespaces ?? []) {
      this.committedRows.set(namespace, state.committed);
      if (state.stored !== undefined && state.stored.pass > this.committedPass) {
        this.uncommitted.set(namespace, state.stored);
        // A profile of a pass that never committed must be rewritten (rolled back) before this
        // loop commits a pass of its own: once the checkpoint names a later pass, that profile's
        // pass would look committed, and its uncommitted counts would be restored as learned.
        this.pending.add(namespace);
      }
    }
  }

  /** Stores this namespace's profiles at the next pass (a new Segmentation, a deleted profile). */
  markNamespace(namespace: string, forgetWritten = false): void {
    this.pending.add(namespace);
    if (forgetWritten) this.written.delete(namespace);
  }

  /** A Segmentation was deleted: what was written for it is forgotten (its profile goes with it). */
  forgetSegmentation(namespace: string, name: string): void {
    const inNamespace = this.written.get(namespace);
    if (inNamespace === undefined) return;
    for (const key of inNamespace.keys()) if (key.startsWith(`${name}/`)) inNamespace.delete(key);
    if (inNamespace.size === 0) this.written.delete(namespace);
  }

  /**
   * Whether a pass is due: at once for a new edge, a namespace marked for writing, a checkpoint
   * flush that failed or an agent waiting for its acknowledgement; for changed counts alone, once `countsIntervalMs` passed
   * since the last pass.
   */
  needed(now: number): boolean {
    if (now < this.notBefore) return false;
    if (this.changes.hasNewEdge || this.pending.size > 0 || this.flushUnsettled || this.options.sources.hasWaiters()) return true;
    return this.changes.size > 0 && now - this.lastPassAt >= this.options.countsIntervalMs;
  }

  /**
   * One pass (see the module comment); true when everything it covered was stored. Once `stop`
   * fires (the Lease was lost: another leader may be writing) no further profile is written and
   * the checkpoint is not flushed; the pass is not stored, and what it wrote is rolled back by the
   * next leader's restore like any pass without its checkpoint.
   */
  async pass(now: number, stop?: AbortSignal): Promise<boolean> {
    const { sources, checkpoint, log } = this.options;
    this.lastPassAt = now;
    if (this.flushUnsettled && !(await this.settleFlush())) {
      this.failed(now);
      this.options.onPass?.(0, false);
      return false;
    }
    const pass = this.nextPass++;
    checkpoint.set(PASS_KEY, pass);
    const positions = sources.beginRound();
    const covers: PassCovers = { pass, positions: { ...positions }, base: { pass: this.committedPass, positions: this.committedPositions } };
    let stored = false;
    let written = 0;
    try {
      for (const namespace of this.changes.drain().keys()) this.pending.add(namespace);
      const namespaces = [...this.pending].sort();
      const failed = new Set<string>();
      const clock = this.options.clock ?? Date.now;
      const deadline = clock() + (this.options.passDeadlineMs ?? PASS_DEADLINE_MS);
      let late = 0;
      await forEachLimited(namespaces, this.options.concurrency ?? 8, async (namespace) => {
        if (stop?.aborted) {
          failed.add(namespace);
          return;
        }
        if (clock() >= deadline) {
          failed.add(namespace);
          late++;
          return;
        }
        try {
          written += await this.storeNamespace(namespace, covers);
        } catch (error) {
          failed.add(namespace);
          log.warn({ err: error, namespace }, 'storing the learned edges failed; retrying');
        }
      });
      this.pending = failed;
      if (late > 0) log.warn({ namespaces: late }, 'store pass reached its deadline; the namespaces left are stored by the next pass');
      if (failed.size === 0 && !stop?.aborted) {
        stored = await checkpoint.flush(positions).then(() => true, (error: unknown) => {
          log.warn({ err: error }, 'checkpoint flush failed; reading it back before the next pass');
          this.flushUnsettled = true;
          return false;
        });
        if (stored) this.committed(pass, positions);
      }
    } finally {
      sources.endRound(stored);
    }
    if (stored) {
      this.failures = 0;
      this.notBefore = 0;
    } else this.failed(now);
    this.options.onPass?.(written, stored);
    return stored;
  }

  private failed(now: number): void {
    this.failures++;
    this.notBefore = now + Math.min(30_000, 500 * 2 ** Math.min(6, this.failures - 1));
  }

  /** Pass `pass` (and every earlier one) is committed: the profiles stored since become the rollback base. */
  private committed(pass: number, positions: Readonly<Record<string, string>>): void {
    this.committedPass = pass;
    this.committedPositions = positions;
    for (const [namespace, stored] of this.uncommitted) {
      if (stored.pass > pass) continue;
      this.committedRows.set(namespace, stored.rows);
      this.uncommitted.delete(namespace);
    }
  }

  /** After a failed flush: reads the checkpoint back and takes the pass it holds as committed. False when it cannot be read. */
  private async settleFlush(): Promise<boolean> {
    const { checkpoint, log } = this.options;
    try {
      await checkpoint.load();
    } catch (error) {
      log.warn({ err: error }, 'reading the checkpoint back failed; retrying');
      return false;
    }
    this.flushUnsettled = false;
    const pass = Number(checkpoint.read(PASS_KEY) ?? 0) || 0;
    if (pass > this.committedPass) this.committed(pass, checkpoint.storedPositions());
    return true;
  }

  /** Writes the namespace's profile for each of its Segmentations whose stored content differs; returns how many were written. */
  private async storeNamespace(namespace: string, covers: PassCovers): Promise<number> {
    const segmentations = this.options.segmentationsIn(namespace);
    if (segmentations.length === 0) return 0;
    const { learner } = this.options;
    const view = namespaceView(learner, namespace);
    if (view.edges.length === 0) return 0;
    let written = 0;
    let rows: RowCounts | undefined;
    let newest = 0;
    for (const seg of segmentations) {
      const spec = toProfileSpec(seg.name, view, learner.dnsNames, learner.stats.lostEvents);
      rows ??= rowCountsOf(spec);
      const result = await this.write(namespace, seg, spec, covers);
      if (result.written) written++;
      newest = Math.max(newest, result.pass);
    }
    // Every profile of the namespace now holds `rows`; the newest is of pass `newest`.
    if (rows !== undefined && newest > this.committedPass) this.uncommitted.set(namespace, { pass: newest, rows });
    else if (rows !== undefined) this.committedRows.set(namespace, rows);
    return written;
  }

  /**
   * Writes one profile unless its learned content is stored already. Returns whether it was
   * written and the pass the stored profile is of (this pass when written).
   */
  private async write(namespace: string, seg: SegmentationRef, spec: ReturnType<typeof toProfileSpec>, covers: PassCovers): Promise<{ written: boolean; pass: number }> {
    const { kube } = this.options;
    // Keyed by the Segmentation's uid: a re-created Segmentation (its old profile garbage-collected) writes afresh.
    const cacheKey = `${seg.name}/${seg.uid}`;
    let inNamespace = this.written.get(namespace);
    if (inNamespace === undefined) this.written.set(namespace, (inNamespace = new Map()));
    // Compared without `covers`: a profile whose learned content is unchanged is not rewritten.
    const content = JSON.stringify(spec);
    // Kept as a digest: the content itself reaches megabytes for a namespace with many edges.
    const digest = createHash('sha256').update(content).digest('base64');
    const known = inNamespace.get(cacheKey);
    if (known?.digest === digest) return { written: false, pass: known.pass };
    // Only hivewall writes profiles, and apply makes ours win: skipping the read risks at most a
    // write of equal content.
    if (known === undefined && (this.listed === undefined || this.listed.has(`${namespace}/${seg.name}`))) {
      const existing = await kube.get<KubernetesObject>(API_VERSION, 'TrafficProfile', namespace, seg.name);
      const stored = existing ? trafficProfileSchema.safeParse(existing) : undefined;
      const { covers: storedCovers, ...storedContent } = stored?.success ? stored.data.spec : { covers: undefined };
      if (stored?.success && JSON.stringify(storedContent) === content) {
        const pass = storedCovers?.pass ?? 0;
        inNamespace.set(cacheKey, { digest, pass });
        return { written: false, pass };
      }
    }
    const rollback = rollbackTo(spec, this.committedRows.get(namespace) ?? new Map());
    await kube.apply({
      apiVersion: API_VERSION,
      kind: 'TrafficProfile',
      metadata: {
        name: seg.name,
        namespace,
        labels: { [SEGMENTATION_LABEL]: seg.name, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
        ownerReferences: [{ apiVersion: API_VERSION, kind: 'Segmentation', name: seg.name, uid: seg.uid, controller: true }],
      },
      spec: { ...spec, covers: { ...covers, rollback } },
    } as KubernetesObject);
    inNamespace.set(cacheKey, { digest, pass: covers.pass });
    return { written: true, pass: covers.pass };
  }
}

/** What every profile written by a pass covers (TrafficProfile `spec.covers`, without its own `rollback`). */
interface PassCovers {
  readonly pass: number;
  readonly positions: Readonly<Record<string, string>>;
  readonly base: { readonly pass: number; readonly positions: Readonly<Record<string, string>> };
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}
