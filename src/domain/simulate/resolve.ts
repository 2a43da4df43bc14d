/**
 * Resolution of a connection's endpoints against the cluster model: which pod, namespace labels,
 * node and kube-apiserver facts lie behind a {@link Peer}, read through a {@link ClusterLookup}.
 */
import { addressKey } from './cidr.js';
import type {
  ClusterModel,
  EvaluateOptions,
  L4Protocol,
  Labels,
  Peer,
  PeerEntity,
  PodModel,
} from './model.js';
import { NAMESPACE_NAME_LABEL } from './model.js';
import { ClusterLookup, podKey } from './lookup.js';

export type ResolvedOptions = Required<EvaluateOptions>;

export function resolveOptions(options: EvaluateOptions = {}): ResolvedOptions {
  return {
    hostTrafficAlwaysAllowed: options.hostTrafficAlwaysAllowed ?? true,
    ipBlockMatchesPodIPs: options.ipBlockMatchesPodIPs ?? true,
    hostNetworkPods: options.hostNetworkPods ?? 'as-node',
    networkPolicyEnforcer: options.networkPolicyEnforcer ?? 'generic',
    cidrMatchesNodes: options.cidrMatchesNodes ?? false,
    clusterName: options.clusterName ?? 'default',
  };
}

/** One side of a connection, with everything the policy engines need to know about it. */
export interface Endpoint {
  /** Human-readable name: `ns/pod` or the address. */
  readonly label: string;
  /** The pod behind this endpoint (pod-network or hostNetwork), if any. */
  readonly pod?: PodModel;
  /** Labels of the pod's namespace, always including `kubernetes.io/metadata.name`. */
  readonly namespaceLabels: Labels;
  /** Addresses the connection may use on this side (the given address, or all pod IPs). */
  readonly ips: readonly string[];
  /** The node owning this address: a node IP, or the node of a hostNetwork pod. */
  readonly nodeName?: string;
  /** The address is a backend of the `default/kubernetes` Service. */
  readonly kubeApiserver: boolean;
  /** Cilium classification given by the caller. */
  readonly entity?: PeerEntity;
  readonly dnsNames: readonly string[];
}

/** A pod on the pod network (not hostNetwork): what Cilium calls an endpoint. */
export function isPodNetworkPod(endpoint: Endpoint): endpoint is Endpoint & { pod: PodModel } {
  return endpoint.pod !== undefined && !endpoint.pod.hostNetwork;
}

/**
 * Whether NetworkPolicy treats this endpoint as a pod (selectable by podSelector/namespaceSelector,
 * isolatable by a policy): pod-network pods always; hostNetwork pods only with `hostNetworkPods: as-pod`.
 */
export function isNetworkPolicyPod(endpoint: Endpoint, options: ResolvedOptions): endpoint is Endpoint & { pod: PodModel } {
  if (endpoint.pod === undefined) return false;
  return !endpoint.pod.hostNetwork || options.hostNetworkPods === 'as-pod';
}

/** The evaluator's view of the cluster: resolved options over a {@link ClusterLookup}. */
export class ClusterIndex {
  readonly options: ResolvedOptions;
  readonly #lookup: ClusterLookup;

  /** Over a fixed model, or over a lookup the caller keeps current. */
  constructor(cluster: ClusterModel | ClusterLookup, options: EvaluateOptions = {}) {
    this.options = resolveOptions(options);
    this.#lookup = cluster instanceof ClusterLookup ? cluster : ClusterLookup.of(cluster);
  }

  /** Namespace labels with the automatic `kubernetes.io/metadata.name` label (set by the API server). */
  namespaceLabels(namespace: string): Labels {
    const labels = this.#lookup.namespace(namespace)?.labels ?? {};
    return { ...labels, [NAMESPACE_NAME_LABEL]: namespace };
  }

  pod(namespace: string, name: string): PodModel | undefined {
    return this.#lookup.pod(namespace, name);
  }

  /**
   * Resolves a peer; throws for a pod reference the model does not contain (a caller error). An
   * address that belongs to a pod-network pod is that pod (a caller's `entity` is for non-pod peers).
   */
  resolve(peer: Peer): Endpoint {
    if (peer.kind === 'pod') {
      const pod = this.pod(peer.namespace, peer.name);
      if (pod === undefined) throw new Error(`simulate: pod ${podKey(peer.namespace, peer.name)} is not in the cluster model`);
      return this.podEndpoint(pod, pod.ips);
    }
    const key = addressKey(peer.ip);
    const pod = key === undefined ? undefined : this.#lookup.podAt(key);
    if (pod !== undefined) return this.podEndpoint(pod, [peer.ip], peer.dnsNames);
    const node = key === undefined ? undefined : this.#lookup.nodeAt(key);
    return {
      label: peer.ip,
      namespaceLabels: {},
      ips: [peer.ip],
      ...(node === undefined ? {} : { nodeName: node.name }),
      kubeApiserver: key !== undefined && this.#lookup.isApiserver(key),
      ...(peer.entity === undefined ? {} : { entity: peer.entity }),
      dnsNames: peer.dnsNames ?? [],
    };
  }

  private podEndpoint(pod: PodModel, ips: readonly string[], dnsNames: readonly string[] = []): Endpoint {
    const firstKey = ips[0] === undefined ? undefined : addressKey(ips[0]);
    return {
      label: podKey(pod.namespace, pod.name),
      pod,
      namespaceLabels: this.namespaceLabels(pod.namespace),
      ips,
      ...(pod.hostNetwork && pod.nodeName !== undefined ? { nodeName: pod.nodeName } : {}),
      kubeApiserver: pod.hostNetwork && firstKey !== undefined && this.#lookup.isApiserver(firstKey),
      dnsNames,
    };
  }
}

/**
 * Whether `peer` is the node `subject` runs on ("traffic to and from the node where a Pod is running").
 * True for the caller's `host` entity, for an address of the subject's node, and (with
 * `hostNetworkPods: as-node`) for a hostNetwork pod on the same node.
 */
export function isOwnNode(peer: Endpoint, subject: PodModel, options: ResolvedOptions): boolean {
  if (isPodNetworkPod(peer)) return false;
  if (peer.pod !== undefined && options.hostNetworkPods === 'as-pod') return false;
  if (peer.entity !== undefined) return peer.entity === 'host';
  return peer.nodeName !== undefined && peer.nodeName === subject.nodeName;
}

export type Direction = 'ingress' | 'egress';

/** One side of a connection under evaluation: the subject pod's policies for `direction`. */
export interface Side {
  readonly direction: Direction;
  /** The pod whose policies are evaluated: the source for egress, the destination for ingress. */
  readonly subject: Endpoint & { pod: PodModel };
  /** The other end: the destination for egress, the source for ingress. */
  readonly peer: Endpoint;
  /** The connection's destination (named ports are resolved against its container ports). */
  readonly destination: Endpoint;
  readonly port: number;
  readonly protocol: L4Protocol;
  readonly index: ClusterIndex;
}

/** What one policy flavour found for a {@link Side}. */
export interface Findings {
  readonly isolatedBy: string[];
  readonly allowedBy: string[];
  readonly deniedBy: string[];
  readonly notes: string[];
}

export function emptyFindings(): Findings {
  return { isolatedBy: [], allowedBy: [], deniedBy: [], notes: [] };
}

export function list<T>(value: readonly T[] | null | undefined): readonly T[] {
  return Array.isArray(value) ? value : [];
}
