/**
 * The store loop: the one place learned state is persisted. Reconciles only read it.
 *
 * One pass is a transaction in this order (docs/architecture.md, "what is stored"):
 * 1. the flow sources' positions are taken and new input is held back ({@link FlowSources.beginRound});
 * 2. the TrafficProfiles of the namespaces whose edges changed since the last pass are written,
 *    a few at a time, each only when its content differs from what is stored;
 * 3. only if every one of them was stored, the positions are flushed to the checkpoint;
 * 4. the agents' batches applied before the pass are acknowledged (or refused, to be retried),
 *    and held input is applied ({@link FlowSources.endRound}).
 *
 * A crash anywhere before step 3 re-reads input the profiles may already hold (the learner's
 * dedupe absorbs repeats of recent connections); it never loses an edge. Namespaces whose write
 * failed stay pending and are retried with backoff by the next pass.
 */
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
import { namespaceView, toProfileSpec } from './learning-state.js';

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
   * When only counts changed (no new edge, no agent waiting), a pass runs at most this often (ms,
   * default 10 s): busy traffic on known edges costs one write per namespace per interval, not one
   * per tick.
   */
  readonly countsIntervalMs?: number;
  /** Told after each pass: profiles written, whether the pass was stored. */
  readonly onPass?: (written: number, stored: boolean) => void;
}

export class StoreLoop {
  private readonly changes: EdgeChanges;
  /** Namespaces whose profiles must be checked and written by the next pass. */
  private pending = new Set<string>();
  /** Profile content last known to be stored, by `namespace/name/uid`. */
  private readonly written = new Map<string, string>();
  private failures = 0;
  private notBefore = 0;
  /** The number of the next pass (after the newest stored one). */
  private nextPass: number;
  private lastPassAt = Number.NEGATIVE_INFINITY;

  /** `lastPass`: the newest pass number stored (checkpoint or profiles' `covers`). */
  constructor(private readonly options: StoreLoopOptions, lastPass = 0) {
    this.changes = options.learner.edges.changes();
    this.nextPass = lastPass + 1;
  }

  /** Stores this namespace's profiles at the next pass (a new Segmentation, a deleted profile). */
  markNamespace(namespace: string, forgetWritten = false): void {
    this.pending.add(namespace);
    if (forgetWritten) for (const key of this.written.keys()) if (key.startsWith(`${namespace}/`)) this.written.delete(key);
  }

  /**
   * Whether a pass is due: at once for a new edge, a namespace marked for writing or an agent
   * waiting for its acknowledgement; for changed counts alone, once `countsIntervalMs` passed
   * since the last pass.
   */
  needed(now: number): boolean {
    if (now < this.notBefore) return false;
    if (this.changes.hasNewEdge || this.pending.size > 0 || this.options.sources.hasWaiters()) return true;
    return this.changes.size > 0 && now - this.lastPassAt >= (this.options.countsIntervalMs ?? 10_000);
  }

  /** One pass (see the module comment); true when everything it covered was stored. */
  async pass(now: number): Promise<boolean> {
    const { sources, checkpoint, log } = this.options;
    const pass = this.nextPass++;
    this.lastPassAt = now;
    checkpoint.set(PASS_KEY, pass);
    const positions = sources.beginRound();
    const covers = { pass, positions: { ...positions } };
    let stored = false;
    let written = 0;
    try {
      for (const namespace of this.changes.drain().keys()) this.pending.add(namespace);
      const namespaces = [...this.pending].sort();
      const failed = new Set<string>();
      await forEachLimited(namespaces, this.options.concurrency ?? 8, async (namespace) => {
        try {
          written += await this.storeNamespace(namespace, covers);
        } catch (error) {
          failed.add(namespace);
          log.warn({ err: error, namespace }, 'storing the learned edges failed; retrying');
        }
      });
      this.pending = failed;
      if (failed.size === 0) {
        stored = await checkpoint.flush(positions).then(() => true, (error: unknown) => (log.warn({ err: error }, 'checkpoint flush failed'), false));
      }
    } finally {
      sources.endRound(stored);
    }
    if (stored) {
      this.failures = 0;
      this.notBefore = 0;
    } else {
      this.failures++;
      this.notBefore = now + Math.min(30_000, 500 * 2 ** Math.min(6, this.failures - 1));
    }
    this.options.onPass?.(written, stored);
    return stored;
  }

  /** Writes the namespace's profile for each of its Segmentations whose stored content differs; returns how many were written. */
  private async storeNamespace(namespace: string, covers: Covers): Promise<number> {
    const segmentations = this.options.segmentationsIn(namespace);
    if (segmentations.length === 0) return 0;
    const { learner } = this.options;
    const view = namespaceView(learner, namespace);
    if (view.edges.length === 0) return 0;
    let written = 0;
    for (const seg of segmentations) {
      const spec = toProfileSpec(seg.name, view, learner.dnsNames, learner.stats.lostEvents);
      if (await this.write(namespace, seg, spec, covers)) written++;
    }
    return written;
  }

  private async write(namespace: string, seg: SegmentationRef, spec: ReturnType<typeof toProfileSpec>, covers: Covers): Promise<boolean> {
    const { kube } = this.options;
    // Keyed by the Segmentation's uid: a re-created Segmentation (its old profile garbage-collected) writes afresh.
    const cacheKey = `${namespace}/${seg.name}/${seg.uid}`;
    // Compared without `covers`: a profile whose learned content is unchanged is not rewritten.
    const content = JSON.stringify(spec);
    if (this.written.get(cacheKey) === content) return false;
    if (!this.written.has(cacheKey)) {
      const existing = await kube.get<KubernetesObject>(API_VERSION, 'TrafficProfile', namespace, seg.name);
      const stored = existing ? trafficProfileSchema.safeParse(existing) : undefined;
      const { covers: _covers, ...storedContent } = stored?.success ? stored.data.spec : { covers: undefined };
      if (stored?.success && JSON.stringify(storedContent) === content) {
        this.written.set(cacheKey, content);
        return false;
      }
    }
    await kube.apply({
      apiVersion: API_VERSION,
      kind: 'TrafficProfile',
      metadata: {
        name: seg.name,
        namespace,
        labels: { [SEGMENTATION_LABEL]: seg.name, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
        ownerReferences: [{ apiVersion: API_VERSION, kind: 'Segmentation', name: seg.name, uid: seg.uid, controller: true }],
      },
      spec: { ...spec, covers },
    } as KubernetesObject);
    this.written.set(cacheKey, content);
    return true;
  }
}

/** What a profile written by a pass covers (TrafficProfile `spec.covers`). */
interface Covers {
  readonly pass: number;
  readonly positions: Readonly<Record<string, string>>;
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}
