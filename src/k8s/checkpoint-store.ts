/**
 * Where every live flow source resumes from, kept in one ConfigMap of the operator's namespace
 * (`hivewall-flow-checkpoint`) so a restarted or newly elected operator continues where the last
 * leader stopped:
 *
 * | key               | source                       | value                                         |
 * |-------------------|------------------------------|-----------------------------------------------|
 * | `checkpoint.json` | Hubble export file follower  | file identity + read offset (ingest/follow)   |
 * | `hubble.json`     | Hubble Observer gRPC stream  | `{"since": "<RFC 3339 ns>"}`: newest flow     |
 * | `agents.json`     | conntrack agents' receiver   | highest batch `seq` applied per agent process |
 * | `lost-events.json`| all sources                  | flow events reported lost, in all             |
 * | `pass.json`       | the store loop               | number of the pass these positions are from   |
 *
 * Ordering is what makes this safe: the store loop (src/operator/store-loop.ts) takes a
 * {@link OperatorCheckpoint.snapshot} of the sources' positions *before* a pass, writes the changed
 * TrafficProfiles, and only then {@link OperatorCheckpoint.flush}es that snapshot, which commits the
 * pass. The stored position therefore never runs ahead of the stored edges, and profiles written
 * by a pass that never committed are rolled back to it on restart (src/operator/restore.ts): no
 * flow is lost or counted twice.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { InvalidCheckpointError, parseCheckpoint, type Checkpoint, type CheckpointStore } from '../ingest/follow/index.js';
import type { Kube } from './kube.js';

export const FILE_KEY = 'checkpoint.json';
export const HUBBLE_KEY = 'hubble.json';
export const AGENTS_KEY = 'agents.json';
/** The learner's lost-event count as of the stored positions (a restart continues it). */
export const LOST_EVENTS_KEY = 'lost-events.json';
/** The number of the store pass whose positions are stored (TrafficProfiles' `covers.pass`). */
export const PASS_KEY = 'pass.json';

/** Serialized values per key, as stored in the ConfigMap's `data`. */
export type CheckpointSnapshot = Readonly<Record<string, string>>;

export class OperatorCheckpoint {
  /** What the sources reported last (not yet stored). */
  private readonly pending = new Map<string, string>();
  /** What the ConfigMap holds (as last read or written). */
  private stored: Record<string, string> = {};

  constructor(private readonly kube: Kube, private readonly namespace: string, private readonly name: string) {}

  /** Reads the ConfigMap; false when there is none (nothing stored yet, or it was deleted). */
  async load(): Promise<boolean> {
    const cm = await this.kube.get<KubernetesObject & { data?: Record<string, string> }>('v1', 'ConfigMap', this.namespace, this.name);
    this.stored = { ...(cm?.data ?? {}) };
    return cm !== undefined;
  }

  /**
   * Takes `positions` as what is stored (a checkpoint rebuilt from the TrafficProfiles' `covers`
   * when the ConfigMap was lost); the next flush writes them back.
   */
  adopt(positions: CheckpointSnapshot): void {
    this.stored = { ...positions };
  }

  /** Every key as stored (as last read or written). */
  storedPositions(): CheckpointSnapshot {
    return { ...this.stored };
  }

  /** A stored value, parsed as JSON; undefined when absent or unreadable. */
  read(key: string): unknown {
    const text = this.stored[key];
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  /** Records a source's newest position; nothing is written until a flush. */
  set(key: string, value: unknown): void {
    this.pending.set(key, JSON.stringify(value));
  }

  /** The positions reported so far: take it before a round, flush it after. */
  snapshot(): CheckpointSnapshot {
    return Object.fromEntries(this.pending);
  }

  /** Stores the snapshot's positions (with every other key kept), if anything changed. */
  async flush(snapshot: CheckpointSnapshot = this.snapshot()): Promise<void> {
    const data = { ...this.stored, ...snapshot };
    if (Object.keys(data).every((k) => comparable(k, data[k]!) === comparable(k, this.stored[k]))) return;
    await this.kube.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: this.name, namespace: this.namespace, labels: { 'app.kubernetes.io/managed-by': 'hivewall' } },
      data,
    } as KubernetesObject);
    this.stored = data;
  }

  /** The export-file follower's view of its key. */
  fileStore(): CheckpointStore {
    return {
      load: async () => {
        if (this.stored[FILE_KEY] === undefined) return undefined;
        const value = this.read(FILE_KEY);
        if (value === undefined) throw new InvalidCheckpointError(`ConfigMap ${this.namespace}/${this.name} key ${FILE_KEY} is not JSON`);
        return parseCheckpoint(value);
      },
      save: async (checkpoint: Checkpoint) => this.set(FILE_KEY, checkpoint),
    };
  }
}

/** A value without the follower's save time: what decides whether a write is needed. */
function comparable(key: string, text: string | undefined): string | undefined {
  if (key !== FILE_KEY || text === undefined) return text;
  try {
    const { savedAt: _savedAt, ...content } = JSON.parse(text) as Checkpoint;
    return JSON.stringify(content);
  } catch {
    return text;
  }
}
