/**
 * The flow-file checkpoint kept in a ConfigMap of the operator's namespace, so a restarted (or
 * newly elected) operator resumes where the last one stopped. Saves are deferred: the follower's
 * latest checkpoint is written only by {@link ConfigMapCheckpointStore.flush}, which the operator
 * calls after it persisted the learned profiles — so the stored offset never runs ahead of the
 * stored edges, and a crash can re-read a few flows but never lose one.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseCheckpoint, type Checkpoint, type CheckpointStore } from '../ingest/follow/index.js';
import type { Kube } from './kube.js';

const KEY = 'checkpoint.json';

export class ConfigMapCheckpointStore implements CheckpointStore {
  private pending: Checkpoint | undefined;
  private written = '';

  constructor(private readonly kube: Kube, private readonly namespace: string, private readonly name: string) {}

  async load(): Promise<Checkpoint | undefined> {
    const cm = await this.kube.get<KubernetesObject & { data?: Record<string, string> }>('v1', 'ConfigMap', this.namespace, this.name);
    const text = cm?.data?.[KEY];
    if (!text) return undefined;
    const checkpoint = parseCheckpoint(JSON.parse(text));
    this.written = contentOf(checkpoint);
    return checkpoint;
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    this.pending = checkpoint;
  }

  /** Writes the latest checkpoint the follower reported, if it changed. */
  async flush(): Promise<void> {
    if (!this.pending) return;
    const content = contentOf(this.pending);
    if (content === this.written) return;
    await this.kube.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: this.name, namespace: this.namespace, labels: { 'app.kubernetes.io/managed-by': 'hivewall' } },
      data: { [KEY]: JSON.stringify(this.pending) },
    } as KubernetesObject);
    this.written = content;
  }
}

/** The checkpoint without its save time: what decides whether a write is needed. */
function contentOf(checkpoint: Checkpoint): string {
  const { savedAt: _savedAt, ...content } = checkpoint;
  return JSON.stringify(content);
}
