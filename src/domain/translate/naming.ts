/**
 * Stable object names and metadata for generated policies (docs/architecture.md §4): `hivewall-<workload>`,
 * with a short hash when two workloads of one namespace share a name or the name is too long;
 * `app.kubernetes.io/managed-by: hivewall` on every object; no timestamps.
 */
import type { WorkloadPeer } from '../peer.js';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'hivewall';
export const WORKLOAD_ANNOTATION = 'hivewall.dev/workload';
export const DEFAULT_DENY_NAME = 'hivewall-default-deny';

/** Kubernetes object names (DNS subdomain, RFC 1123) are at most 253 characters. */
const MAX_NAME = 253;

/** FNV-1a 32-bit: a tiny deterministic hash for name suffixes. */
export function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0').slice(0, 6);
}

/**
 * Assigns names to the workloads of one namespace: `hivewall-<name>`; when two workloads share
 * a name (a Deployment and a StatefulSet `db`) each gets `hivewall-<name>-<kind>-<hash>`.
 */
export function policyNames(workloads: readonly WorkloadPeer[]): Map<string, string> {
  const byName = new Map<string, WorkloadPeer[]>();
  for (const w of workloads) byName.set(w.name, [...(byName.get(w.name) ?? []), w]);
  const names = new Map<string, string>();
  for (const w of workloads) {
    const clash = (byName.get(w.name)?.length ?? 0) > 1 || `hivewall-${w.name}` === DEFAULT_DENY_NAME;
    let name = clash ? `hivewall-${w.name}-${w.kind.toLowerCase()}-${shortHash(`${w.kind}/${w.name}`)}` : `hivewall-${w.name}`;
    if (name.length > MAX_NAME) name = `${name.slice(0, MAX_NAME - 7)}-${shortHash(name)}`;
    names.set(workloadId(w), name);
  }
  return names;
}

export function workloadId(w: WorkloadPeer): string {
  return `${w.namespace}/${w.kind}/${w.name}`;
}

export function policyMetadata(name: string, namespace: string, workload?: WorkloadPeer): Record<string, unknown> {
  return {
    name,
    namespace,
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
    ...(workload ? { annotations: { [WORKLOAD_ANNOTATION]: `${workload.kind}/${workload.name}` } } : {}),
  };
}
