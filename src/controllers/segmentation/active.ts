/**
 * One Segmentation per namespace (docs/architecture.md §3): when a namespace has several, the
 * oldest — by creationTimestamp, then by name — is the active one. The others are reported as
 * duplicates and touch nothing: no policy, audit or denial count of the namespace (reconciler.ts).
 */
import type { KubernetesObject } from '@kubernetes/client-node';

/** The name of the active Segmentation among `segmentations` (one namespace's), if any. */
export function activeSegmentation(segmentations: readonly KubernetesObject[]): string | undefined {
  const ranked = segmentations
    .filter((s) => s.metadata?.name)
    .map((s) => ({ name: s.metadata!.name!, created: createdAt(s) }))
    .sort((a, b) => a.created - b.created || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return ranked[0]?.name;
}

/** creationTimestamp in ms; an object without one (never stored) ranks last. */
function createdAt(s: KubernetesObject): number {
  const raw = s.metadata?.creationTimestamp as unknown;
  const ms = raw instanceof Date ? raw.getTime() : typeof raw === 'string' ? Date.parse(raw) : Number.NaN;
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}
