/**
 * Types of the independent policy evaluator: the cluster model it reasons about, the connection it
 * judges, the policy objects it reads (plain JSON as the API server returns them) and its verdict.
 *
 * This evaluator is written from the Kubernetes and Cilium documentation, not from hivewall's policy
 * generator, so that tests can use it as an oracle for generated policies. Pure data only.
 */

/** L4 protocols a NetworkPolicy / CiliumNetworkPolicy port can name and that the evaluator judges. */
export type L4Protocol = 'TCP' | 'UDP' | 'SCTP';

export type Labels = Readonly<Record<string, string>>;

/** The label the control plane sets on every namespace: "The Kubernetes control plane sets an immutable label `kubernetes.io/metadata.name` on all namespaces, the value of the label is the namespace name." */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

// ───────────────────────────── cluster model ─────────────────────────────

export interface NamespaceModel {
  readonly name: string;
  /** Namespace labels. The evaluator always adds `kubernetes.io/metadata.name: <name>` when absent. */
  readonly labels: Labels;
}

/** A named (or unnamed) container port, as in `spec.containers[].ports[]`. */
export interface ContainerPortModel {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol: L4Protocol;
}

export interface PodModel {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
  /** `status.podIPs` (or `status.podIP`); for a hostNetwork pod these are its node's addresses. */
  readonly ips: readonly string[];
  /** Container ports of every container (named ports are resolved against these). */
  readonly ports: readonly ContainerPortModel[];
  readonly hostNetwork: boolean;
  /** `spec.nodeName`; needed to tell the pod's own node (`host`) from other nodes (`remote-node`). */
  readonly nodeName?: string;
  /** `spec.serviceAccountName`; exposed to Cilium selectors as `io.cilium.k8s.policy.serviceaccount`. */
  readonly serviceAccount?: string;
}

export interface NodeModel {
  readonly name: string;
  /** `status.addresses[type=InternalIP]`. */
  readonly internalIPs: readonly string[];
  /** `status.addresses[type=ExternalIP]`; also counted as this node's addresses. */
  readonly externalIPs?: readonly string[];
}

/** Informational: Services are not used to judge a connection (connections are judged after DNAT). */
export interface ServiceModel {
  readonly namespace: string;
  readonly name: string;
  readonly clusterIPs: readonly string[];
  readonly selector?: Labels;
}

export interface ClusterModel {
  readonly namespaces: readonly NamespaceModel[];
  readonly pods: readonly PodModel[];
  readonly nodes: readonly NodeModel[];
  /** Backend addresses of the `default/kubernetes` Service (EndpointSlice or Endpoints). */
  readonly kubeApiserverIPs: readonly string[];
  readonly services?: readonly ServiceModel[];
}

// ───────────────────────────── connection ─────────────────────────────

/** Cilium reserved identities the caller may assign to a non-pod peer. */
export type PeerEntity = 'world' | 'host' | 'remote-node' | 'kube-apiserver';

export interface PodPeer {
  readonly kind: 'pod';
  readonly namespace: string;
  readonly name: string;
}

/**
 * A peer known only by address. An address that belongs to a (pod-network) pod of the model is
 * judged as that pod; a node address or a `default/kubernetes` backend is classified automatically
 * unless `entity` says otherwise.
 */
export interface IPPeer {
  readonly kind: 'ip';
  readonly ip: string;
  /** Cilium classification of this peer; when absent it is derived from the model. */
  readonly entity?: PeerEntity;
  /** DNS names known for this address (used by Cilium `toFQDNs` when the peer is the destination). */
  readonly dnsNames?: readonly string[];
}

export type Peer = PodPeer | IPPeer;

/** One connection attempt (after Service DNAT: the destination is the real backend and its port). */
export interface Connection {
  readonly source: Peer;
  readonly destination: Peer;
  /** Destination port. */
  readonly port: number;
  readonly protocol: L4Protocol;
}

// ───────────────────────────── label selectors ─────────────────────────────

export interface LabelSelectorRequirement {
  readonly key: string;
  /** `In`, `NotIn`, `Exists` or `DoesNotExist`; any other operator matches nothing. */
  readonly operator: string;
  readonly values?: readonly string[] | null;
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>> | null;
  readonly matchExpressions?: readonly LabelSelectorRequirement[] | null;
}

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Labels | null;
}

// ───────────────────────────── networking.k8s.io/v1 NetworkPolicy ─────────────────────────────

export interface IPBlock {
  readonly cidr: string;
  readonly except?: readonly string[] | null;
}

export interface NetworkPolicyPeer {
  readonly podSelector?: LabelSelector | null;
  readonly namespaceSelector?: LabelSelector | null;
  readonly ipBlock?: IPBlock | null;
}

export interface NetworkPolicyPort {
  readonly protocol?: L4Protocol | null;
  /** Numeric port or the name of a container port (IntOrString). */
  readonly port?: number | string | null;
  readonly endPort?: number | null;
}

export interface NetworkPolicyIngressRule {
  readonly from?: readonly NetworkPolicyPeer[] | null;
  readonly ports?: readonly NetworkPolicyPort[] | null;
}

export interface NetworkPolicyEgressRule {
  readonly to?: readonly NetworkPolicyPeer[] | null;
  readonly ports?: readonly NetworkPolicyPort[] | null;
}

export interface NetworkPolicySpec {
  readonly podSelector?: LabelSelector | null;
  readonly policyTypes?: readonly ('Ingress' | 'Egress')[] | null;
  readonly ingress?: readonly NetworkPolicyIngressRule[] | null;
  readonly egress?: readonly NetworkPolicyEgressRule[] | null;
}

export interface NetworkPolicy {
  readonly apiVersion?: string;
  readonly kind: 'NetworkPolicy';
  readonly metadata: ObjectMeta;
  readonly spec: NetworkPolicySpec;
}

// ───────────────────────────── cilium.io/v2 CiliumNetworkPolicy (subset) ─────────────────────────────

/** Entities accepted by `fromEntities` / `toEntities` (CRD enum). */
export type CiliumEntity =
  | 'all'
  | 'world'
  | 'cluster'
  | 'host'
  | 'init'
  | 'ingress'
  | 'unmanaged'
  | 'remote-node'
  | 'health'
  | 'none'
  | 'kube-apiserver';

export interface CiliumCIDRRule {
  readonly cidr: string;
  readonly except?: readonly string[] | null;
}

export interface CiliumPortProtocol {
  /** A port number as a string ("8080"), "0" for any port, or a named port. */
  readonly port: string | number;
  readonly endPort?: number | null;
  /** TCP, UDP, SCTP, or ANY / empty / absent for any of them. */
  readonly protocol?: string | null;
}

export interface CiliumPortRule {
  readonly ports?: readonly CiliumPortProtocol[] | null;
  /** Layer 7 rules (dns, http, kafka): not evaluated; the L4 port is what is judged. */
  readonly rules?: Readonly<Record<string, unknown>> | null;
}

export interface CiliumFQDNSelector {
  readonly matchName?: string | null;
  readonly matchPattern?: string | null;
}

export interface CiliumIngressRule {
  readonly fromEndpoints?: readonly LabelSelector[] | null;
  readonly fromEntities?: readonly CiliumEntity[] | null;
  readonly fromCIDR?: readonly string[] | null;
  readonly fromCIDRSet?: readonly CiliumCIDRRule[] | null;
  readonly toPorts?: readonly CiliumPortRule[] | null;
  readonly icmps?: readonly unknown[] | null;
}

export interface CiliumEgressRule {
  readonly toEndpoints?: readonly LabelSelector[] | null;
  readonly toEntities?: readonly CiliumEntity[] | null;
  readonly toCIDR?: readonly string[] | null;
  readonly toCIDRSet?: readonly CiliumCIDRRule[] | null;
  readonly toFQDNs?: readonly CiliumFQDNSelector[] | null;
  readonly toPorts?: readonly CiliumPortRule[] | null;
  readonly icmps?: readonly unknown[] | null;
}

export interface CiliumRule {
  readonly endpointSelector?: LabelSelector | null;
  readonly ingress?: readonly CiliumIngressRule[] | null;
  readonly ingressDeny?: readonly CiliumIngressRule[] | null;
  readonly egress?: readonly CiliumEgressRule[] | null;
  readonly egressDeny?: readonly CiliumEgressRule[] | null;
  readonly enableDefaultDeny?: { readonly ingress?: boolean | null; readonly egress?: boolean | null } | null;
  readonly description?: string;
}

export interface CiliumNetworkPolicy {
  readonly apiVersion?: string;
  readonly kind: 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy';
  readonly metadata: ObjectMeta;
  readonly spec?: CiliumRule | null;
  readonly specs?: readonly CiliumRule[] | null;
}

export type Policy = NetworkPolicy | CiliumNetworkPolicy;

// ───────────────────────────── options and verdict ─────────────────────────────

export interface EvaluateOptions {
  /**
   * "When a pod is isolated for ingress, the only allowed connections into the pod are those from the
   * pod's node and those allowed by the `ingress` list" (Kubernetes); Cilium likewise allows the local
   * host by default (`--allow-localhost`). Default true. Set false to judge host → pod by policy alone.
   */
  readonly hostTrafficAlwaysAllowed?: boolean;
  /**
   * Whether a NetworkPolicy `ipBlock` matches pod-network pod IPs. Implementation-defined by the docs
   * ("These should be cluster-external IPs"); default true, as the upstream e2e suite expects
   * ("should allow egress access to server in CIDR block" targets a pod IP). Cilium CIDR rules never
   * match pods regardless of this option.
   */
  readonly ipBlockMatchesPodIPs?: boolean;
  /**
   * NetworkPolicy behaviour for hostNetwork pods (undefined by the docs, which allow two possibilities).
   * `as-node` (default, "the most common implementation"): hostNetwork pods are ignored by `podSelector`
   * / `namespaceSelector` and their traffic is node traffic. `as-pod`: they are selected like other pods.
   * Cilium never manages hostNetwork pods: they are always `host` / `remote-node` there.
   */
  readonly hostNetworkPods?: 'as-node' | 'as-pod';
  /**
   * Who enforces NetworkPolicy objects. `generic` (default): ipBlock follows `ipBlockMatchesPodIPs`
   * and matches node and kube-apiserver addresses. `cilium`: ipBlock behaves like a Cilium CIDR rule
   * ("By default, CIDR-based selectors do not match in-cluster entities (pods or nodes)"): it selects
   * only `world` addresses (plus nodes with `cidrMatchesNodes`), never pods (a kube-apiserver outside the nodes is a `world` address).
   */
  readonly networkPolicyEnforcer?: 'generic' | 'cilium';
  /** Cilium `--policy-cidr-match-mode=nodes`: CIDR rules also select node addresses. Default false. */
  readonly cidrMatchesNodes?: boolean;
  /** Value of the `io.cilium.k8s.policy.cluster` label of every pod. Default `default`. */
  readonly clusterName?: string;
}

/** Why one direction came out the way it did. */
export type VerdictBasis =
  /** The endpoint on this side is not a pod: nothing to evaluate. */
  | 'not-a-pod'
  /** The pod is not isolated for this direction: everything is allowed. */
  | 'not-isolated'
  /** The pod is isolated and at least one rule allows the connection. */
  | 'rule'
  /** The pod is isolated, no rule allows it, but it is traffic from the pod's own node. */
  | 'node-traffic'
  /** The pod is isolated and no rule allows the connection. */
  | 'no-matching-rule'
  /** A Cilium deny rule matches (deny wins over every allow). */
  | 'deny-rule'
  /** Source and destination are the same pod: "a pod cannot block access to itself". */
  | 'self';

export interface DirectionVerdict {
  /** `namespace/name` of the pod this side is about (source for egress, destination for ingress). */
  readonly subject?: string;
  readonly isolated: boolean;
  readonly allowed: boolean;
  /** Policies (`namespace/name`, or `name` for cluster-wide ones) that isolate the pod in this direction. */
  readonly isolatedBy: readonly string[];
  /** Policies with a rule in this direction that matches the connection. */
  readonly allowedBy: readonly string[];
  /** Cilium policies whose deny rule in this direction matches the connection. */
  readonly deniedBy: readonly string[];
  readonly basis: VerdictBasis;
  readonly reason: string;
}

export interface EvaluationResult {
  readonly allowed: boolean;
  readonly egress: DirectionVerdict;
  readonly ingress: DirectionVerdict;
  readonly reason: string;
}
