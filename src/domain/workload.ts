/**
 * Top-owner resolution: which workload a pod belongs to.
 *
 * Kubernetes rule (ownerReferences): a pod created by a controller names it with
 * `controller: true`; a Deployment owns ReplicaSets, a CronJob owns Jobs. The top owner is
 * the last controller in that chain that hivewall recognises. Where the owner object is not
 * in the snapshot, the built-in controllers' naming rules identify it without guessing:
 * a ReplicaSet created by a Deployment is `<deployment>-<pod-template-hash>`, and a Job created
 * by a CronJob is `<cronjob>-<scheduled time in minutes>`.
 */
import type { ControllerInfo, OwnerRef, PodInfo } from './inventory.js';
import type { WorkloadPeer } from './peer.js';

/** Labels that controllers set per pod or per revision: never usable in a stable selector (docs/architecture.md §4). */
export const UNSTABLE_LABEL_KEYS: ReadonlySet<string> = new Set([
  'pod-template-hash',
  'controller-revision-hash',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
  'job-name',
  'controller-uid',
  'pod-template-generation',
]);

/** True for label keys that change per pod, per revision or per Job run. */
export function isUnstableLabelKey(key: string): boolean {
  return UNSTABLE_LABEL_KEYS.has(key) || key.startsWith('batch.kubernetes.io/');
}

export class OwnerIndex {
  private readonly byKindName = new Map<string, ControllerInfo>();

  constructor(controllers: readonly ControllerInfo[]) {
    for (const c of controllers) this.byKindName.set(`${c.namespace}/${c.kind}/${c.name}`, c);
  }

  controller(namespace: string, kind: string, name: string): ControllerInfo | undefined {
    return this.byKindName.get(`${namespace}/${kind}/${name}`);
  }

  /** The workload a pod belongs to: follow controller ownerReferences to the top. */
  topOwner(pod: Pick<PodInfo, 'namespace' | 'name' | 'owners' | 'labels'>): WorkloadPeer {
    const ref = controllerRef(pod.owners);
    if (!ref) return { type: 'workload', namespace: pod.namespace, kind: 'Pod', name: pod.name };
    let kind = ref.kind;
    let name = ref.name;
    // Bounded walk: real chains are at most two levels (Pod → ReplicaSet → Deployment).
    for (let depth = 0; depth < 4; depth++) {
      const object = this.controller(pod.namespace, kind, name);
      const parent = object ? controllerRef(object.owners) : inferParent(kind, name, pod.labels);
      if (!parent) break;
      kind = parent.kind;
      name = parent.name;
    }
    return { type: 'workload', namespace: pod.namespace, kind, name };
  }
}

function controllerRef(owners: readonly OwnerRef[]): OwnerRef | undefined {
  return owners.find((o) => o.controller === true) ?? (owners.length === 1 ? owners[0] : undefined);
}

/**
 * When the owner object is missing from the snapshot, apply the built-in controllers' naming rules:
 * ReplicaSet `<deployment>-<pod-template-hash>`; Job `<cronjob>-<minutes since epoch>` (8+ digits).
 */
function inferParent(kind: string, name: string, labels: Readonly<Record<string, string>>): OwnerRef | undefined {
  if (kind === 'ReplicaSet') {
    const hash = labels['pod-template-hash'];
    if (hash && name.endsWith(`-${hash}`) && name.length > hash.length + 1) {
      return { kind: 'Deployment', name: name.slice(0, name.length - hash.length - 1) };
    }
  }
  return undefined;
}

/**
 * Workload of a pod known only by name and labels (a Hubble flow without `workloads` and no snapshot):
 * Deployment pods are `<rs>-<5 char suffix>` with `pod-template-hash`; StatefulSet pods are
 * `<sts>-<ordinal>` with `statefulset.kubernetes.io/pod-name`; Job pods carry `job-name`.
 */
export function workloadFromPodName(namespace: string, podName: string, labels: Readonly<Record<string, string>>): WorkloadPeer {
  const hash = labels['pod-template-hash'];
  if (hash) {
    const marker = `-${hash}-`;
    const at = podName.lastIndexOf(marker);
    if (at > 0) return { type: 'workload', namespace, kind: 'Deployment', name: podName.slice(0, at) };
  }
  if (labels['statefulset.kubernetes.io/pod-name'] === podName) {
    const m = /^(.*)-\d+$/.exec(podName);
    if (m?.[1]) return { type: 'workload', namespace, kind: 'StatefulSet', name: m[1] };
  }
  const job = labels['batch.kubernetes.io/job-name'] ?? labels['job-name'];
  if (job) return { type: 'workload', namespace, kind: 'Job', name: job };
  return { type: 'workload', namespace, kind: 'Pod', name: podName };
}
