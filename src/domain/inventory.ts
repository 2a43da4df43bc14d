/**
 * The cluster as hivewall needs to know it for identity: a compact, validated view of
 * Namespaces, Nodes, Pods, owners, Services and EndpointSlices. Built by src/ingest from a
 * `kubectl get ... -o yaml` snapshot (offline) or from informers (operator); consumed here purely.
 */

export interface OwnerRef {
  readonly kind: string;
  readonly name: string;
  readonly uid?: string;
  readonly controller?: boolean;
}

export interface ContainerPort {
  readonly name?: string;
  readonly port: number;
  readonly protocol: string;
}

export interface PodInfo {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ips: readonly string[];
  readonly nodeName?: string;
  readonly hostNetwork: boolean;
  readonly owners: readonly OwnerRef[];
  readonly ports: readonly ContainerPort[];
  /** creationTimestamp in ms; used to tell apart pods that reused an IP. */
  readonly createdAt?: number;
  /** deletionTimestamp in ms, or when a later snapshot no longer has the pod. */
  readonly deletedAt?: number;
}

/** A controller object (ReplicaSet, Deployment, Job, CronJob, StatefulSet, DaemonSet, ...). */
export interface ControllerInfo {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly owners: readonly OwnerRef[];
  /** `spec.selector.matchLabels` (for CronJob: `spec.jobTemplate.spec.selector`), when present. */
  readonly selector?: Readonly<Record<string, string>>;
  /**
   * The labels of the pods it creates: `spec.template.metadata.labels` (for CronJob:
   * `spec.jobTemplate.spec.template.metadata.labels`). They stand for its pods while none runs
   * (a Deployment scaled to zero, a CronJob between runs), so no other workload's selector picks them.
   */
  readonly templateLabels?: Readonly<Record<string, string>>;
  /** creationTimestamp in ms. */
  readonly createdAt?: number;
  /** `spec.replicas` of a Deployment or StatefulSet, when set. */
  readonly replicas?: number;
  /** CronJob `spec.schedule`, `spec.timeZone` and `spec.suspend`. */
  readonly schedule?: string;
  readonly timeZone?: string;
  readonly suspend?: boolean;
}

export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  readonly protocol: string;
  /** Numeric target port, or a container port name. Defaults to `port` when absent. */
  readonly targetPort: number | string;
  readonly nodePort?: number;
}

export interface ServiceInfo {
  readonly namespace: string;
  readonly name: string;
  readonly type: string;
  /**
   * The Service's cluster addresses. Its `spec.externalIPs` and LoadBalancer ingress addresses are
   * deliberately not kept: any tenant can claim any address in `spec.externalIPs`, so resolving an
   * address through them would let a Service take over traffic to an outside peer.
   */
  readonly clusterIPs: readonly string[];
  readonly selector?: Readonly<Record<string, string>>;
  readonly ports: readonly ServicePort[];
}

export interface EndpointSliceInfo {
  readonly namespace: string;
  readonly serviceName: string;
  readonly endpoints: readonly { readonly addresses: readonly string[]; readonly podName?: string }[];
  readonly ports: readonly { readonly name?: string; readonly port: number; readonly protocol: string }[];
}

export interface NodeInfo {
  readonly name: string;
  readonly ips: readonly string[];
  readonly podCIDRs: readonly string[];
}

export interface NamespaceInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ClusterInventory {
  readonly namespaces: readonly NamespaceInfo[];
  readonly nodes: readonly NodeInfo[];
  readonly pods: readonly PodInfo[];
  readonly controllers: readonly ControllerInfo[];
  readonly services: readonly ServiceInfo[];
  readonly endpointSlices: readonly EndpointSliceInfo[];
}

export const emptyInventory: ClusterInventory = Object.freeze({
  namespaces: [],
  nodes: [],
  pods: [],
  controllers: [],
  services: [],
  endpointSlices: [],
});
