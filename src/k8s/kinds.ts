/**
 * The one registry of the Kubernetes kinds hivewall reads or writes: group, version, resource
 * (plural) and scope. The client (src/k8s/kube.ts), the informers (src/k8s/cluster-informers.ts,
 * src/operator/operator.ts), the Segmentation reads, the kubectl plugin and the CRD generator
 * (src/api/crd.ts) take names from here, so a kind is spelled once.
 */

export interface KindInfo {
  readonly kind: string;
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  /** The resource name in URLs and RBAC rules. */
  readonly plural: string;
  readonly namespaced: boolean;
}

const kind = (kind: string, group: string, version: string, plural: string, namespaced: boolean): KindInfo => ({ kind, group, version, plural, namespaced });

export const KINDS = {
  // hivewall's own (crds/).
  Segmentation: kind('Segmentation', 'hivewall.dev', 'v1alpha1', 'segmentations', true),
  PolicyProposal: kind('PolicyProposal', 'hivewall.dev', 'v1alpha1', 'policyproposals', true),
  TrafficProfile: kind('TrafficProfile', 'hivewall.dev', 'v1alpha1', 'trafficprofiles', true),
  // The policies it writes.
  NetworkPolicy: kind('NetworkPolicy', 'networking.k8s.io', 'v1', 'networkpolicies', true),
  CiliumNetworkPolicy: kind('CiliumNetworkPolicy', 'cilium.io', 'v2', 'ciliumnetworkpolicies', true),
  // What identity and the policy simulator read.
  Namespace: kind('Namespace', '', 'v1', 'namespaces', false),
  Node: kind('Node', '', 'v1', 'nodes', false),
  Pod: kind('Pod', '', 'v1', 'pods', true),
  Service: kind('Service', '', 'v1', 'services', true),
  EndpointSlice: kind('EndpointSlice', 'discovery.k8s.io', 'v1', 'endpointslices', true),
  ReplicaSet: kind('ReplicaSet', 'apps', 'v1', 'replicasets', true),
  Deployment: kind('Deployment', 'apps', 'v1', 'deployments', true),
  StatefulSet: kind('StatefulSet', 'apps', 'v1', 'statefulsets', true),
  DaemonSet: kind('DaemonSet', 'apps', 'v1', 'daemonsets', true),
  Job: kind('Job', 'batch', 'v1', 'jobs', true),
  CronJob: kind('CronJob', 'batch', 'v1', 'cronjobs', true),
} as const satisfies Record<string, KindInfo>;

export type KnownKind = keyof typeof KINDS;

/** `apps/v1`, or `v1` for the core group. */
export function apiVersionOf(info: KindInfo): string {
  return info.group === '' ? info.version : `${info.group}/${info.version}`;
}

/** The registry entry of a kind name, if hivewall knows it. */
export function kindInfo(name: string): KindInfo | undefined {
  return (KINDS as Readonly<Record<string, KindInfo>>)[name];
}
