/**
 * `cilium.io/v2` CiliumNetworkPolicy (and CiliumClusterwideNetworkPolicy) semantics for the subset
 * hivewall uses, from docs.cilium.io "Policy Enforcement Modes", "Layer 3 Policies", "Layer 4
 * Policies", "Deny Policies", "Using Kubernetes Constructs in Policy" and the CRD field descriptions.
 *
 * Not evaluated (documented choices): layer 7 rules (`rules.http`, `rules.dns`, ... — the L4 port is
 * judged, a note says L7 filtering may still apply), `toServices`, `toGroups`, `fromNodes`/`toNodes`,
 * `fromRequires`/`toRequires` (deprecated, removed in Cilium 1.19), `nodeSelector` host policies,
 * selectors on `reserved:` labels, and `io.cilium.k8s.namespace.labels.*` keys (ignored by Cilium in
 * a CiliumNetworkPolicy; here they simply never match a pod label).
 */
import { inCIDRExcept } from './cidr.js';
import type {
  CiliumEgressRule,
  CiliumEntity,
  CiliumFQDNSelector,
  CiliumIngressRule,
  CiliumNetworkPolicy,
  CiliumPortProtocol,
  CiliumPortRule,
  CiliumRule,
  LabelSelector,
  Labels,
  PodModel,
} from './model.js';
import type { Endpoint, Findings, ResolvedOptions, Side } from './resolve.js';
import { emptyFindings, isPodNetworkPod, list } from './resolve.js';
import { selectorKeys, selectorMatches } from './selectors.js';

/** The pod-namespace label Cilium attaches to every pod endpoint. */
export const CILIUM_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const CILIUM_SERVICE_ACCOUNT_LABEL = 'io.cilium.k8s.policy.serviceaccount';
export const CILIUM_CLUSTER_LABEL = 'io.cilium.k8s.policy.cluster';

/**
 * Selector keys may carry a label source prefix: `k8s:role` and `any:role` both mean the pod label
 * `role` ("any" matches every source). Other sources (`reserved:`, `cidr:`, `container:`) are kept
 * and therefore never equal a pod label.
 */
export function ciliumKey(key: string): string {
  if (key.startsWith('k8s:')) return key.slice(4);
  if (key.startsWith('any:')) return key.slice(4);
  return key;
}

/** The labels of a pod as Cilium sees them: its Kubernetes labels plus namespace, service account, cluster. */
export function ciliumPodLabels(pod: PodModel, options: ResolvedOptions): Labels {
  return {
    ...pod.labels,
    [CILIUM_NAMESPACE_LABEL]: pod.namespace,
    [CILIUM_SERVICE_ACCOUNT_LABEL]: pod.serviceAccount ?? 'default',
    [CILIUM_CLUSTER_LABEL]: options.clusterName,
  };
}

/** Namespace of the policy; `undefined` for a CiliumClusterwideNetworkPolicy. */
export function ciliumPolicyNamespace(policy: CiliumNetworkPolicy): string | undefined {
  if (policy.kind === 'CiliumClusterwideNetworkPolicy') return undefined;
  return policy.metadata.namespace ?? 'default';
}

export function ciliumPolicyName(policy: CiliumNetworkPolicy): string {
  const namespace = ciliumPolicyNamespace(policy);
  return namespace === undefined ? policy.metadata.name : `${namespace}/${policy.metadata.name}`;
}

/** The rules of a policy: `spec` and every element of `specs` ("Spec ... Specs ... a list of rules"). */
export function ciliumRules(policy: CiliumNetworkPolicy): CiliumRule[] {
  const rules: CiliumRule[] = [];
  if (policy.spec !== null && policy.spec !== undefined) rules.push(policy.spec);
  rules.push(...list(policy.specs));
  return rules;
}

/**
 * "The endpointSelector always applies to pods in the namespace associated with the
 * CiliumNetworkPolicy resource itself." Only Cilium endpoints (pod-network pods) are selected; a rule
 * without an endpointSelector (a host policy's nodeSelector) selects no pod.
 */
export function ruleSelectsPod(rule: CiliumRule, namespace: string | undefined, subject: Endpoint, options: ResolvedOptions): boolean {
  if (!isPodNetworkPod(subject)) return false;
  if (namespace !== undefined && subject.pod.namespace !== namespace) return false;
  if (rule.endpointSelector === null || rule.endpointSelector === undefined) return false;
  return selectorMatches(rule.endpointSelector, ciliumPodLabels(subject.pod, options), ciliumKey);
}

/**
 * A `fromEndpoints` / `toEndpoints` selector. "If the namespace label of policy rules is omitted it
 * defaults to the same namespace where the policy itself is applied in"; "An empty EndpointSelector
 * will select all egress endpoints from an endpoint based on the CiliumNetworkPolicy namespace".
 * `k8s:io.kubernetes.pod.namespace` (in matchLabels or matchExpressions) selects other namespaces.
 * In a clusterwide policy a selector without a namespace key matches any pod (Cilium adds an
 * `Exists` requirement on the namespace label there). Only pod-network pods are endpoints.
 */
export function endpointSelectorMatches(
  selector: LabelSelector,
  namespace: string | undefined,
  peer: Endpoint,
  options: ResolvedOptions,
): boolean {
  if (!isPodNetworkPod(peer)) return false;
  const constrainsNamespace = selectorKeys(selector, ciliumKey).includes(CILIUM_NAMESPACE_LABEL);
  if (!constrainsNamespace && namespace !== undefined && peer.pod.namespace !== namespace) return false;
  return selectorMatches(selector, ciliumPodLabels(peer.pod, options), ciliumKey);
}

/**
 * The entities a peer belongs to, seen from the subject pod. From "Entities based": `host` "includes
 * the local host ... also all containers running in host networking mode on the local host";
 * `remote-node` "Any node in any of the connected clusters other than the local host"; `kube-apiserver`
 * "represents the kube-apiserver ... both ... within the cluster and outside of the cluster"; `cluster`
 * "all network endpoints inside of the local cluster ... as well as the host, remote-node, and init
 * identities" (and, since Cilium 1.11, kube-apiserver); `world` "all endpoints outside of the
 * cluster"; `all` "the combination of all known clusters as well world". A kube-apiserver address is
 * `world` too when it runs outside the cluster (its address is no node's). A caller-given entity wins
 * over the model's classification.
 */
export function peerEntities(peer: Endpoint, subject: PodModel): ReadonlySet<CiliumEntity> {
  if (isPodNetworkPod(peer)) return new Set<CiliumEntity>(['cluster', 'all']);
  const base: CiliumEntity[] = [];
  const nodeEntity: CiliumEntity | undefined =
    peer.nodeName === undefined ? undefined : peer.nodeName === subject.nodeName ? 'host' : 'remote-node';
  if (peer.entity !== undefined) {
    base.push(peer.entity);
    if (peer.entity === 'kube-apiserver' && nodeEntity !== undefined) base.push(nodeEntity);
  } else {
    if (peer.kubeApiserver) base.push('kube-apiserver');
    if (nodeEntity !== undefined) base.push(nodeEntity);
    // Not a node, so not an in-cluster entity: `world`, even when it serves the kube-apiserver
    // (Cilium's ipcache adds reserved:world to every such address; checked against its engine,
    // test/oracle/README.md).
    if (nodeEntity === undefined) base.push('world');
  }
  const entities = new Set<CiliumEntity>(base);
  entities.add('all');
  if (!entities.has('world') || entities.has('kube-apiserver')) entities.add('cluster');
  return entities;
}

/**
 * Whether CIDR rules can select the peer. "CIDR rules do not apply to traffic where both sides of the
 * connection are either managed by Cilium or use an IP belonging to a node in the cluster (including
 * host networking pods)"; "By default, CIDR-based selectors do not match in-cluster entities (pods or
 * nodes)", unless `--policy-cidr-match-mode=nodes` (option `cidrMatchesNodes`).
 */
export function cidrSelectable(peer: Endpoint, entities: ReadonlySet<CiliumEntity>, options: ResolvedOptions): boolean {
  if (isPodNetworkPod(peer)) return false;
  if (entities.has('world')) return true;
  return options.cidrMatchesNodes && (entities.has('host') || entities.has('remote-node'));
}

function normalizeName(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * `toFQDNs.matchName`: "Inserts IPs of domains that match matchName exactly" (case-insensitive, a
 * trailing dot is implied). `matchPattern`: "`*` within a domain allows 0 or more valid DNS characters,
 * except for the `.` separator"; "`*` alone matches all names"; "`**.` is a special prefix ... to
 * wildcard all cascaded subdomains in the prefix" (`**.cilium.io` matches `app.cilium.io` and
 * `test.app.cilium.io` but not `cilium.io`).
 */
export function fqdnSelectorMatches(selector: CiliumFQDNSelector, name: string): boolean {
  const target = normalizeName(name);
  if (typeof selector.matchName === 'string' && selector.matchName !== '') return normalizeName(selector.matchName) === target;
  if (typeof selector.matchPattern !== 'string' || selector.matchPattern === '') return false;
  const pattern = normalizeName(selector.matchPattern);
  if (pattern === '*') return true;
  const escape = (text: string): string => text.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[-a-z0-9_]*');
  const source = pattern.startsWith('**.') ? `([-a-z0-9_]+\\.)+${escape(pattern.slice(3))}` : escape(pattern);
  return new RegExp(`^${source}$`).test(target);
}

/**
 * One `PortProtocol`: "Protocol is the L4 protocol. If "ANY", omitted or empty, any protocols with
 * transport ports (TCP, UDP, SCTP) match"; "Port can be an L4 port number, or a name"; "EndPort can
 * only be an L4 port number. It is ignored when Port is a named port." Port `0` matches every port.
 * A named port resolves on the destination endpoint's container ports (name, protocol and number).
 */
export function ciliumPortMatches(port: CiliumPortProtocol, side: Side): boolean {
  const protocol = (port.protocol ?? '').toUpperCase();
  if (protocol !== '' && protocol !== 'ANY' && protocol !== side.protocol) return false;
  const text = String(port.port).trim();
  if (/^\d+$/.test(text)) {
    const start = Number(text);
    if (start === 0) return true;
    const end = port.endPort;
    if (end !== null && end !== undefined && end > start) return side.port >= start && side.port <= end;
    return side.port === start;
  }
  const destination = side.destination;
  if (!isPodNetworkPod(destination)) return false;
  return destination.pod.ports.some(
    (containerPort) => containerPort.name === text && containerPort.protocol === side.protocol && containerPort.containerPort === side.port,
  );
}

/** `toPorts`: the connection matches one `ports` entry of one PortRule (a PortRule without ports matches any port). */
function toPortsMatch(portRules: readonly CiliumPortRule[], side: Side): CiliumPortRule | undefined {
  return portRules.find((portRule) => {
    const ports = list(portRule.ports);
    return ports.length === 0 || ports.some((port) => ciliumPortMatches(port, side));
  });
}

type AnyRule = CiliumIngressRule & CiliumEgressRule;

/**
 * One ingress/egress (or deny) rule entry. The L3 peers "fromEndpoints / fromEntities / fromCIDR /
 * fromCIDRSet" (egress: to…, plus toFQDNs) are alternatives (ORed); `toPorts` is ANDed with them
 * ("Labels-dependent Layer 4 rule": frontend → backend "but they must communicate using TCP on port
 * 80"). A rule with only `toPorts` applies "to any layer 3 destination"; a rule with no L3 peer and no
 * ports (`{}`) allows nothing — it is Cilium's documented default-deny example (`egress: [{}]`). A rule
 * with `icmps` but no `toPorts` only concerns ICMP and never matches TCP/UDP/SCTP.
 * Returns the matched port rule (or `true` when the rule has no port restriction), `undefined` otherwise.
 */
function entryMatches(entry: AnyRule, namespace: string | undefined, side: Side): CiliumPortRule | true | undefined {
  const options = side.index.options;
  const peer = side.peer;
  const endpoints = side.direction === 'ingress' ? list(entry.fromEndpoints) : list(entry.toEndpoints);
  const entities = side.direction === 'ingress' ? list(entry.fromEntities) : list(entry.toEntities);
  const cidrs = side.direction === 'ingress' ? list(entry.fromCIDR) : list(entry.toCIDR);
  const cidrSets = side.direction === 'ingress' ? list(entry.fromCIDRSet) : list(entry.toCIDRSet);
  const fqdns = side.direction === 'egress' ? list(entry.toFQDNs) : [];
  const portRules = list(entry.toPorts);
  const hasL3 = endpoints.length + entities.length + cidrs.length + cidrSets.length + fqdns.length > 0;
  const hasL4 = portRules.length > 0;
  if (!hasL3 && !hasL4) return undefined;
  if (!hasL4 && list(entry.icmps).length > 0) return undefined;

  if (hasL3) {
    const peerEntitySet = peerEntities(peer, side.subject.pod);
    const cidrOk = cidrSelectable(peer, peerEntitySet, options);
    const l3 =
      endpoints.some((selector) => endpointSelectorMatches(selector, namespace, peer, options)) ||
      entities.some((entity) => peerEntitySet.has(entity)) ||
      (cidrOk && cidrs.some((cidr) => peer.ips.some((ip) => inCIDRExcept(cidr, [], ip)))) ||
      (cidrOk && cidrSets.some((set) => peer.ips.some((ip) => inCIDRExcept(set.cidr, list(set.except), ip)))) ||
      (peerEntitySet.has('world') &&
        fqdns.some((selector) => peer.dnsNames.some((name) => fqdnSelectorMatches(selector, name))));
    if (!l3) return undefined;
  }
  if (!hasL4) return true;
  return toPortsMatch(portRules, side);
}

/**
 * Whether a rule puts its selected endpoints in default-deny for the side's direction. "If any rule
 * selects an endpoint and the rule has an ingress section, the endpoint goes into default deny-mode
 * for ingress" (likewise egress); the CRD: "Ingress ... If omitted or empty, this rule does not apply
 * at ingress"; deny rules count too ("Pods will enter default-deny mode as soon as a single policy
 * selects it"; `enableDefaultDeny`: "If not specified, the default is true for each traffic direction
 * that has rules ... if a policy only has Ingress or IngressDeny rules, then the default for ingress is
 * true"); "Rules with EnableDefaultDeny disabled are ignored when determining the default mode."
 * `enableDefaultDeny: true` on a direction without rules does nothing: Cilium attaches the default-deny
 * flag to the policy entries of that direction's rules, and there are none (checked against Cilium's
 * engine, test/oracle/README.md).
 */
export function ruleEnforces(rule: CiliumRule, direction: Side['direction']): boolean {
  const allows = direction === 'ingress' ? list(rule.ingress) : list(rule.egress);
  const denies = direction === 'ingress' ? list(rule.ingressDeny) : list(rule.egressDeny);
  if (allows.length + denies.length === 0) return false;
  return rule.enableDefaultDeny?.[direction] !== false;
}

/**
 * Isolation, allowance and denial by Cilium policies for one side. "All policy rules are based upon a
 * whitelist model ... traffic matching the union of those rules will be allowed"; "Deny policies take
 * precedence over allow policies, regardless of whether they are a Cilium Network Policy, a
 * Clusterwide Cilium Network Policy or even a Kubernetes Network Policy."
 */
export function evaluateCiliumPolicies(policies: readonly CiliumNetworkPolicy[], side: Side): Findings {
  const findings = emptyFindings();
  const options = side.index.options;
  if (!isPodNetworkPod(side.subject)) return findings;
  for (const policy of policies) {
    const namespace = ciliumPolicyNamespace(policy);
    const name = ciliumPolicyName(policy);
    let isolates = false;
    let allows = false;
    let denies = false;
    for (const rule of ciliumRules(policy)) {
      if (!ruleSelectsPod(rule, namespace, side.subject, options)) continue;
      if (ruleEnforces(rule, side.direction)) isolates = true;
      const allowEntries: readonly AnyRule[] = side.direction === 'ingress' ? list(rule.ingress) : list(rule.egress);
      const denyEntries: readonly AnyRule[] = side.direction === 'ingress' ? list(rule.ingressDeny) : list(rule.egressDeny);
      for (const entry of allowEntries) {
        const matched = entryMatches(entry, namespace, side);
        if (matched === undefined) continue;
        allows = true;
        if (matched !== true && matched.rules !== null && matched.rules !== undefined && Object.keys(matched.rules).length > 0) {
          findings.notes.push(`${name}: layer 7 rules (${Object.keys(matched.rules).sort().join(', ')}) on this port are not evaluated`);
        }
      }
      if (denyEntries.some((entry) => entryMatches(entry, namespace, side) !== undefined)) denies = true;
    }
    if (isolates) findings.isolatedBy.push(name);
    if (allows) findings.allowedBy.push(name);
    if (denies) findings.deniedBy.push(name);
  }
  return findings;
}
