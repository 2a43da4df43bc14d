/**
 * The cluster snapshots: what
 * `kubectl get namespaces,nodes,pods,services,endpointslices,replicasets,deployments,statefulsets,daemonsets,jobs,cronjobs -A -o yaml`
 * prints at a given instant — one `List`, kinds in that order, each sorted by namespace and name,
 * mapping keys sorted the way kubectl's YAML encoder (go-yaml) sorts them.
 */
import { dump } from 'js-yaml';
import { podsAt } from './cluster.js';
import { endpointSliceObject, namespaceObject, nodeObject, serviceObject } from './k8s-core.js';
import { podObject } from './k8s-pods.js';
import { controllerObjects } from './k8s-workloads.js';
import type { ClusterModel } from './model.js';

/** go-yaml v2's key order: runs of digits compare as numbers, non-letters before letters. */
export function goYamlLess(a: string, b: string): number {
  const isLetter = (c: string) => /\p{L}/u.test(c);
  const isDigit = (c: string) => c >= '0' && c <= '9';
  const ar = [...a];
  const br = [...b];
  for (let i = 0; i < ar.length && i < br.length; i++) {
    const x = ar[i] as string;
    const y = br[i] as string;
    if (x === y) continue;
    const xl = isLetter(x);
    const yl = isLetter(y);
    if (xl && yl) return x < y ? -1 : 1;
    if (xl || yl) return yl ? -1 : 1;
    let an = 0;
    let bn = 0;
    let ai = i;
    let bi = i;
    for (; ai < ar.length && isDigit(ar[ai] as string); ai++) an = an * 10 + Number(ar[ai]);
    for (; bi < br.length && isDigit(br[bi] as string); bi++) bn = bn * 10 + Number(br[bi]);
    if (an !== bn) return an < bn ? -1 : 1;
    if (ai !== bi) return ai < bi ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return ar.length - br.length;
}

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort(goYamlLess)) out[key] = sortDeep((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

const byNsName = (a: { namespace: string; name: string }, b: { namespace: string; name: string }) =>
  a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

export function snapshotItems(cluster: ClusterModel, at: number): Record<string, unknown>[] {
  const ns = [...cluster.namespaces].sort((a, b) => (a.name < b.name ? -1 : 1)).map(namespaceObject);
  const nodes = cluster.nodes.map((n) => nodeObject(n, at));
  const pods = podsAt(cluster, at).sort(byNsName).map((p) => podObject(p, at));
  const services = [...cluster.services].sort(byNsName);
  return [
    ...ns,
    ...nodes,
    ...pods,
    ...services.map(serviceObject),
    ...[...services].sort((a, b) => byNsName({ namespace: a.namespace, name: a.sliceName }, { namespace: b.namespace, name: b.sliceName }))
      .map((s) => endpointSliceObject(cluster, s, at)),
    ...controllerObjects(cluster, 'ReplicaSet', at),
    ...controllerObjects(cluster, 'Deployment', at),
    ...controllerObjects(cluster, 'StatefulSet', at),
    ...controllerObjects(cluster, 'DaemonSet', at),
    ...controllerObjects(cluster, 'Job', at),
    ...controllerObjects(cluster, 'CronJob', at),
  ];
}

export function snapshotYaml(cluster: ClusterModel, at: number): string {
  const list = { apiVersion: 'v1', items: snapshotItems(cluster, at), kind: 'List', metadata: { resourceVersion: '' } };
  return dump(sortDeep(list), { seqNoIndent: true, quoteStyle: 'double', lineWidth: -1, noRefs: true });
}
