/** The in-memory model of the example cluster that every writer renders from. */

export interface NodeModel {
  name: string;
  /** InternalIP. */
  ip: string;
  podCidr: string;
  /** First three octets of the pod CIDR, e.g. "10.244.0.". */
  prefix: string;
  uid: string;
  createdNs: number;
  /** Clock offset of this node (ns) — Hubble and conntrack timestamps are each node's own clock. */
  skewNs: number;
}

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'CronJob';

export interface ContainerPort {
  name: string;
  containerPort: number;
  protocol: 'TCP' | 'UDP';
}

export interface ServicePortDef {
  name: string;
  port: number;
  targetPort: number | string;
  protocol: 'TCP' | 'UDP';
  nodePort?: number;
}

export interface ServiceDef {
  name: string;
  type: 'ClusterIP' | 'LoadBalancer';
  /** `clusterIP: None`. */
  headless?: boolean;
  /** Fixed ClusterIP (else allocated from 10.96.0.0/16). */
  clusterIP?: string;
  ports: ServicePortDef[];
  loadBalancerIP?: string;
  nodePortHealthCheck?: number;
}

export interface AppDef {
  /** Workload name (Deployment / StatefulSet / DaemonSet / CronJob). */
  name: string;
  namespace: string;
  kind: WorkloadKind;
  /** Pod labels that also form the controller's selector (besides the controller's own hash labels). */
  labels: Record<string, string>;
  image: string;
  ports: ContainerPort[];
  /** Node of each replica, in order. */
  nodes: string[];
  serviceAccount: string;
  /** Container port name that kubelet probes (httpGet), if any. */
  probePort?: string;
  service?: ServiceDef;
  /** Days before the base time the workload was created. */
  ageDays: number;
}

export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

export interface ControllerModel {
  apiVersion: string;
  kind: 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob';
  name: string;
  namespace: string;
  uid: string;
  app: AppDef;
  createdNs: number;
  owner?: OwnerRef;
  /** Labels on the controller object itself. */
  labels: Record<string, string>;
  /** spec.selector.matchLabels. */
  selector: Record<string, string>;
  /** spec.template.metadata.labels. */
  templateLabels: Record<string, string>;
  replicas: number;
  /** Extra per-kind values: pod-template-hash, revision, job schedule time … */
  hash: string;
  revision: number;
  /** Present in the start / end snapshot. */
  inStart: boolean;
  inEnd: boolean;
}

export interface PodModel {
  app: AppDef;
  name: string;
  namespace: string;
  uid: string;
  ip: string;
  node: NodeModel;
  labels: Record<string, string>;
  owner: OwnerRef;
  createdNs: number;
  /** Serving traffic (endpoint ready) from … */
  readyNs: number;
  /** … until (exclusive); undefined = beyond the window. */
  deletedNs?: number;
  /** A Job pod that completed. */
  finishedNs?: number;
  endpointId: number;
  identity: number;
  lxc: string;
  ifindex: number;
}

export interface ServiceModel {
  def: ServiceDef;
  app?: AppDef;
  name: string;
  namespace: string;
  uid: string;
  /** "None" for headless. */
  clusterIP: string;
  createdNs: number;
  sliceName: string;
  sliceUid: string;
  /** Selector (absent for `default/kubernetes`). */
  selector?: Record<string, string>;
}

export interface ClusterModel {
  nodes: NodeModel[];
  apps: AppDef[];
  pods: PodModel[];
  controllers: ControllerModel[];
  services: ServiceModel[];
  namespaces: { name: string; uid: string; createdNs: number }[];
}

/** The kube-apiserver behind `default/kubernetes`. */
export const APISERVER = { ip: '172.18.0.2', port: 6443, serviceIP: '10.96.0.1', servicePort: 443 } as const;
export const SERVICE_CIDR = '10.96.0.0/16';
export const CLUSTER_DOMAIN = 'cluster.local';
export const CLUSTER_NAME = 'default';
