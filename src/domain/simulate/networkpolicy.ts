/**
 * `networking.k8s.io/v1` NetworkPolicy semantics, from
 * https://kubernetes.io/docs/concepts/services-networking/network-policies/ and the API reference.
 *
 * Each function quotes the rule it implements. The connection-level combination (egress of the
 * source AND ingress of the destination) lives in evaluate.ts.
 */
import { inCIDRExcept } from './cidr.js';
import { cidrSelectable, peerEntities } from './cilium.js';
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec, PodModel } from './model.js';
import type { Endpoint, Findings, Side } from './resolve.js';
import { emptyFindings, isNetworkPolicyPod, list } from './resolve.js';
import { selectorMatches } from './selectors.js';

/** The namespace a NetworkPolicy lives in (`default` when the object carries none, as kubectl would). */
export function policyNamespace(policy: NetworkPolicy): string {
  return policy.metadata.namespace ?? 'default';
}

export function policyName(policy: NetworkPolicy): string {
  return `${policyNamespace(policy)}/${policy.metadata.name}`;
}

/**
 * Effective `policyTypes`. API reference: "If this field is not specified, it will default based on
 * the existence of ingress or egress rules; policies that contain an egress section are assumed to
 * affect egress, and all policies (whether or not they contain an ingress section) are assumed to
 * affect ingress." The API server's defaulting tests `len(spec.egress) != 0`, so an empty `egress: []`
 * does not add Egress.
 */
export function effectivePolicyTypes(spec: NetworkPolicySpec): { readonly ingress: boolean; readonly egress: boolean } {
  const declared = list(spec.policyTypes);
  if (declared.length > 0) return { ingress: declared.includes('Ingress'), egress: declared.includes('Egress') };
  return { ingress: true, egress: list(spec.egress).length > 0 };
}

/**
 * "podSelector selects the pods to which this NetworkPolicy object applies ... An empty selector
 * matches all pods in the policy's namespace." and "If it is not specified, it defaults to an empty
 * selector." A policy only ever selects pods of its own namespace.
 */
export function policySelectsPod(policy: NetworkPolicy, pod: PodModel): boolean {
  return pod.namespace === policyNamespace(policy) && selectorMatches(policy.spec.podSelector, pod.labels);
}

/**
 * One `from` / `to` entry (NetworkPolicyPeer):
 * - "podSelector: This selects particular Pods in the same namespace as the NetworkPolicy";
 * - "namespaceSelector: This selects particular namespaces for which all Pods should be allowed";
 * - "A single to/from entry that specifies both namespaceSelector and podSelector selects particular
 *   Pods within particular namespaces";
 * - "ipBlock: This selects particular IP CIDR ranges ... These should be cluster-external IPs"; with
 *   "except is a slice of CIDRs that should not be included within an IPBlock". Whether an ipBlock
 *   matches pod IPs is implementation-defined: option `ipBlockMatchesPodIPs` (default true), or
 *   `networkPolicyEnforcer: cilium` for Cilium's reading (world addresses only).
 * A selector that is absent (null) is "not specified"; an empty one (`{}`) matches everything. A peer
 * with none of the three fields is rejected by the API server and matches nothing here.
 * hostNetwork pods are only selectable by selectors with `hostNetworkPods: as-pod`; otherwise they are
 * node addresses, matched by ipBlock only.
 */
export function peerMatches(peer: NetworkPolicyPeer, namespace: string, other: Endpoint, side: Side): boolean {
  const options = side.index.options;
  if (peer.ipBlock !== null && peer.ipBlock !== undefined) {
    if (options.networkPolicyEnforcer === 'cilium') {
      if (!cidrSelectable(other, peerEntities(other, side.subject.pod), options)) return false;
    } else if (isNetworkPolicyPod(other, options) && !options.ipBlockMatchesPodIPs) return false;
    const { cidr } = peer.ipBlock;
    const except = list(peer.ipBlock.except);
    return other.ips.some((ip) => inCIDRExcept(cidr, except, ip));
  }
  const hasPodSelector = peer.podSelector !== null && peer.podSelector !== undefined;
  const hasNamespaceSelector = peer.namespaceSelector !== null && peer.namespaceSelector !== undefined;
  if (!hasPodSelector && !hasNamespaceSelector) return false;
  if (!isNetworkPolicyPod(other, options)) return false;
  const namespaceOk = hasNamespaceSelector
    ? selectorMatches(peer.namespaceSelector, other.namespaceLabels)
    : other.pod.namespace === namespace;
  return namespaceOk && (!hasPodSelector || selectorMatches(peer.podSelector, other.pod.labels));
}

/**
 * One NetworkPolicyPort: "protocol ... If not specified, this field defaults to TCP"; "port ... can
 * either be a numerical or named port on a pod. If this field is not provided, this matches all port
 * names and numbers. If present, only traffic on the specified protocol AND port will be matched";
 * "endPort indicates that the range of ports from port to endPort if set, inclusive, should be allowed
 * by the policy. This field cannot be defined if the port field is not defined or if the port field is
 * defined as a named (string) port."
 * A named port is resolved on the connection's destination pod (for ingress the selected pod, for
 * egress the peer): it matches when that pod has a container port of that name and protocol whose
 * number is the destination port. A non-pod destination has no named ports.
 */
export function portMatches(port: NetworkPolicyPort, side: Side): boolean {
  const protocol = port.protocol ?? 'TCP';
  if (protocol !== side.protocol) return false;
  const value = port.port;
  if (value === null || value === undefined) return true;
  const numeric = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : undefined;
  if (numeric !== undefined) {
    const endPort = port.endPort;
    if (endPort !== null && endPort !== undefined && endPort >= numeric) return side.port >= numeric && side.port <= endPort;
    return side.port === numeric;
  }
  const destination = side.destination;
  if (!isNetworkPolicyPod(destination, side.index.options)) return false;
  return destination.pod.ports.some(
    (containerPort) =>
      containerPort.name === value && containerPort.protocol === side.protocol && containerPort.containerPort === side.port,
  );
}

/**
 * One ingress/egress rule. "Each rule allows traffic which matches both the from and ports sections."
 * API reference: from/to "If this field is empty or missing, this rule matches all sources/
 * destinations ... If this field is present and contains at least one item, this rule allows traffic
 * only if the traffic matches at least one item"; ports "If this field is empty or missing, this rule
 * matches all ports ... If this field is present and contains at least one item, then this rule allows
 * traffic only if the traffic matches at least one port in the list."
 */
export function ruleAllows(
  peers: readonly NetworkPolicyPeer[] | null | undefined,
  ports: readonly NetworkPolicyPort[] | null | undefined,
  namespace: string,
  side: Side,
): boolean {
  const peerList = list(peers);
  const portList = list(ports);
  const peerOk = peerList.length === 0 || peerList.some((peer) => peerMatches(peer, namespace, side.peer, side));
  return peerOk && (portList.length === 0 || portList.some((port) => portMatches(port, side)));
}

/**
 * Isolation and allowance by NetworkPolicies for one side. "A pod is isolated for egress if there is
 * any NetworkPolicy that both selects the pod and has "Egress" in its policyTypes ... When a pod is
 * isolated for egress, the only allowed connections from the pod are those allowed by the egress list
 * of some NetworkPolicy that applies to the pod for egress" (and likewise for ingress); "Network
 * policies do not conflict; they are additive." Rules of a direction a policy does not apply to are
 * ignored.
 */
export function evaluateNetworkPolicies(policies: readonly NetworkPolicy[], side: Side): Findings {
  const findings = emptyFindings();
  if (!isNetworkPolicyPod(side.subject, side.index.options)) return findings;
  for (const policy of policies) {
    if (!policySelectsPod(policy, side.subject.pod)) continue;
    if (!effectivePolicyTypes(policy.spec)[side.direction]) continue;
    const name = policyName(policy);
    findings.isolatedBy.push(name);
    const namespace = policyNamespace(policy);
    const allowed =
      side.direction === 'ingress'
        ? list(policy.spec.ingress).some((rule) => ruleAllows(rule.from, rule.ports, namespace, side))
        : list(policy.spec.egress).some((rule) => ruleAllows(rule.to, rule.ports, namespace, side));
    if (allowed) findings.allowedBy.push(name);
  }
  return findings;
}
