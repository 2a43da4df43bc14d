/**
 * Independent policy evaluator: given a cluster model and a set of NetworkPolicy /
 * CiliumNetworkPolicy objects, is this connection allowed, and why. Written from the Kubernetes and
 * Cilium documentation (not from hivewall's generator) so that it can serve as a test oracle and as
 * the engine of Audit mode. Pure: no I/O, no clock, no randomness. Semantics and the choices made
 * where the documentation leaves room: ./README.md.
 *
 * @example
 * const cluster = buildClusterModel([namespaces, pods, nodes, kubernetesEndpointSlice]);
 * const evaluator = createEvaluator(cluster, policies);
 * const verdict = evaluator.evaluate({
 *   source: { kind: 'pod', namespace: 'shop', name: 'frontend-7d9c-abcde' },
 *   destination: { kind: 'pod', namespace: 'shop', name: 'cart-5f6b-xyz12' },
 *   port: 8080,
 *   protocol: 'TCP',
 * });
 * verdict.allowed; verdict.ingress.allowedBy; verdict.reason;
 */
export type {
  CiliumEgressRule,
  CiliumEntity,
  CiliumIngressRule,
  CiliumNetworkPolicy,
  CiliumPortRule,
  CiliumRule,
  ClusterModel,
  Connection,
  ContainerPortModel,
  DirectionVerdict,
  EvaluateOptions,
  EvaluationResult,
  IPPeer,
  L4Protocol,
  LabelSelector,
  LabelSelectorRequirement,
  Labels,
  NamespaceModel,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  NodeModel,
  Peer,
  PeerEntity,
  PodModel,
  PodPeer,
  Policy,
  ServiceModel,
  VerdictBasis,
} from './model.js';
export { NAMESPACE_NAME_LABEL } from './model.js';
export { createEvaluator, evaluateConnection } from './evaluate.js';
export type { Evaluator } from './evaluate.js';
export { buildClusterModel } from './cluster.js';
export { ClusterLookup } from './lookup.js';
export { selectorMatches } from './selectors.js';
export { cidrContains, inCIDRExcept } from './cidr.js';
export { effectivePolicyTypes } from './networkpolicy.js';
export { fqdnSelectorMatches } from './cilium.js';
