/**
 * Which learned edges the live policies allow, and by which rules: every edge is judged with the
 * independent policy simulator (`domain/simulate`, the engine of Audit mode) against the live
 * NetworkPolicy / CiliumNetworkPolicy objects, on a cluster model made from what the report knows.
 *
 * The model has one pod per workload, labelled with the labels hivewall's proposals select it by
 * (they "select exactly the workload's pods", docs/architecture.md §4); entities are addresses classified as
 * the learner classified them (world with its DNS names, the node, other nodes, the kube-apiserver).
 * Real pods carry more labels than these, so a live rule that selects by a label no proposal ever
 * used is not seen to match: the report can miss enforcement, never invent it.
 *
 * An edge is enforced when the connection is allowed and at least one side is allowed by a rule of
 * an isolating live policy (or, for ingress from the pod's own node, by the rule that a pod cannot
 * block its node). Pure.
 */
import type { DnsNameLookup } from '../domain/dns-names.js';
import { hostCidr } from '../domain/ip.js';
import { annotatedWorkloadKey, entityKey, isWorkloadKey, peerFromKey } from '../domain/peer.js';
import {
  createEvaluator,
  type ClusterModel,
  type Connection,
  type DirectionVerdict,
  type EvaluateOptions,
  type Evaluator,
  type L4Protocol,
  type Labels,
  type Peer as SimPeer,
  type PodModel,
  type Policy,
} from '../domain/simulate/index.js';
import type { KubernetesObject } from '../domain/translate/networkpolicy.js';
import type { EdgeIdentity, EnforcedEdge, PolicyRuleRef } from './input.js';

export interface EnforcementInput {
  /** The learned edges to judge. */
  readonly edges: readonly EdgeIdentity[];
  /** The live policies, as plain API JSON. */
  readonly policies: readonly KubernetesObject[];
  /** Labels known for each workload (peer key → labels). */
  readonly workloadLabels: ReadonlyMap<string, Labels>;
  /** DNS names of external addresses per client workload (for `toFQDNs`). */
  readonly dnsNames?: DnsNameLookup;
  /** Addresses of the node, for edges to `host` (NetworkPolicy can name a node only by address). */
  readonly hostIps?: readonly string[];
  /** Who enforces NetworkPolicy objects: `cilium` reads ipBlock like a Cilium CIDR rule. */
  readonly enforcer: 'generic' | 'cilium';
}

const NODE = 'hivewall-report-node';
/** When no node address is known: an address that only a match-everything block contains. */
const UNKNOWN_NODE_IP = '0.0.0.0';
const L4 = new Set(['TCP', 'UDP', 'SCTP']);

/** Edges the live policies allow, each with the rules that allow it. Edges they do not allow are left out. */
export function enforcedEdges(input: EnforcementInput): EnforcedEdge[] {
  if (input.policies.length === 0) return [];
  const world = buildWorld(input);
  const policies = input.policies as unknown as Policy[];
  const options: EvaluateOptions = { networkPolicyEnforcer: input.enforcer };
  const evaluator = createEvaluator(world.cluster, policies, options);
  const byName = new Map<string, KubernetesObject[]>();
  for (const p of input.policies) {
    const key = `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;
    byName.set(key, [...(byName.get(key) ?? []), p]);
  }
  // One evaluator per single-rule policy, built when first needed: which rule of a policy allows an edge.
  const ruleEvaluators = new Map<string, Evaluator>();
  const ruleEvaluator = (policy: KubernetesObject, direction: 'ingress' | 'egress', index: number): Evaluator => {
    const key = `${policy.kind}/${policy.metadata.namespace}/${policy.metadata.name}/${direction}/${index}`;
    let e = ruleEvaluators.get(key);
    if (!e) ruleEvaluators.set(key, (e = createEvaluator(world.cluster, [singleRule(policy, direction, index)], options)));
    return e;
  };

  const out: EnforcedEdge[] = [];
  for (const edge of input.edges) {
    const connection = world.connection(edge);
    if (!connection) continue;
    const verdict = evaluator.evaluate(connection);
    if (!verdict.allowed) continue;
    const rules: PolicyRuleRef[] = [];
    for (const [direction, side] of [['egress', verdict.egress], ['ingress', verdict.ingress]] as const) {
      if (side.basis === 'rule') {
        for (const name of side.allowedBy) {
          for (const policy of byName.get(name) ?? []) rules.push(...allowingRules(policy, direction, connection, ruleEvaluator));
        }
      } else if (side.basis === 'node-traffic') {
        rules.push(nodeTrafficRef(side, byName));
      }
    }
    if (rules.length > 0) out.push({ client: edge.client, server: edge.server, port: edge.port, protocol: edge.protocol, rules });
  }
  return out;
}

/** The rules of `policy` in `direction` that allow the connection on their own (1-based), or the policy as a whole. */
function allowingRules(policy: KubernetesObject, direction: 'ingress' | 'egress', connection: Connection, ruleEvaluator: (p: KubernetesObject, d: 'ingress' | 'egress', i: number) => Evaluator): PolicyRuleRef[] {
  const namespace = policy.metadata.namespace ?? 'default';
  const spec = rec(policy['spec']);
  const list = Array.isArray(spec[direction]) ? (spec[direction] as unknown[]) : [];
  const refs: PolicyRuleRef[] = [];
  if (!Array.isArray(policy['specs'])) {
    list.forEach((rule, i) => {
      const verdict = ruleEvaluator(policy, direction, i).evaluate(connection);
      const side = direction === 'egress' ? verdict.egress : verdict.ingress;
      if (side.basis === 'rule' && side.allowedBy.length > 0) {
        refs.push({ namespace, policy: policy.metadata.name, direction, rule: i + 1, description: describeLiveRule(rec(rule), direction, policy.kind, namespace) });
      }
    });
  }
  // Allowed by the policy, but by no single rule of `spec` (rules in `specs`, or a combination).
  if (refs.length === 0) refs.push({ namespace, policy: policy.metadata.name, direction, description: `${direction} rules of ${policy.kind} ${policy.metadata.name}` });
  return refs;
}

function nodeTrafficRef(side: DirectionVerdict, byName: ReadonlyMap<string, readonly KubernetesObject[]>): PolicyRuleRef {
  const names = [...side.isolatedBy].sort();
  const own = names.find((n) => !n.endsWith('/hivewall-default-deny')) ?? names[0] ?? '';
  const policy = byName.get(own)?.[0];
  const slash = own.indexOf('/');
  return {
    namespace: policy?.metadata.namespace ?? own.slice(0, Math.max(0, slash)),
    policy: policy?.metadata.name ?? own.slice(slash + 1),
    direction: 'ingress',
    description: 'from the pod\'s own node: always allowed, a pod cannot block its node',
  };
}

/** The policy with only rule `index` of `direction` (the other direction unchanged). */
function singleRule(policy: KubernetesObject, direction: 'ingress' | 'egress', index: number): Policy {
  const spec = rec(policy['spec']);
  const rules = Array.isArray(spec[direction]) ? (spec[direction] as unknown[]) : [];
  return { ...policy, spec: { ...spec, [direction]: [rules[index]] } } as unknown as Policy;
}

interface World {
  readonly cluster: ClusterModel;
  connection(edge: EdgeIdentity): Connection | undefined;
}

/** The cluster model: one pod per workload (a second one for a workload that talks to itself), entities as addresses. */
function buildWorld(input: EnforcementInput): World {
  const pods = new Map<string, PodModel>();
  const namespaces = new Set<string>();
  const apiserverIps = new Set<string>();
  const remoteNodes = new Set<string>();
  const hostIps = [...(input.hostIps ?? [])];
  const podOf = (key: string, second: boolean): SimPeer | undefined => {
    const peer = peerFromKey(key);
    if (peer.type !== 'workload') return undefined;
    const name = `${podName(peer.kind, peer.name)}${second ? '-peer' : ''}`;
    const id = `${peer.namespace}/${name}`;
    if (!pods.has(id)) {
      namespaces.add(peer.namespace);
      pods.set(id, { namespace: peer.namespace, name, labels: { ...(input.workloadLabels.get(key) ?? {}) }, ips: [], ports: [], hostNetwork: false, nodeName: NODE });
    }
    return { kind: 'pod', namespace: peer.namespace, name };
  };
  const entityOf = (key: string, client?: string): SimPeer | undefined => {
    const peer = peerFromKey(key);
    if (peer.type !== 'entity') return undefined;
    switch (peer.entity) {
      case 'world': {
        if (!peer.ip) return undefined;
        const names = client !== undefined && input.dnsNames ? input.dnsNames.namesFor(client, peer.ip) : [];
        return { kind: 'ip', ip: peer.ip, entity: 'world', ...(names.length > 0 ? { dnsNames: names } : {}) };
      }
      case 'host':
        return { kind: 'ip', ip: hostIps[0] ?? UNKNOWN_NODE_IP, entity: 'host' };
      case 'remote-node':
        if (!peer.ip) return undefined;
        remoteNodes.add(peer.ip);
        return { kind: 'ip', ip: peer.ip, entity: 'remote-node' };
      case 'kube-apiserver':
        if (!peer.ip) return undefined;
        apiserverIps.add(peer.ip);
        return { kind: 'ip', ip: peer.ip, entity: 'kube-apiserver' };
    }
  };
  const endpoints = new Map<string, { source: SimPeer; destination: SimPeer } | undefined>();
  for (const edge of input.edges) {
    const key = `${edge.client} ${edge.server}`;
    if (endpoints.has(key)) continue;
    let source: SimPeer | undefined;
    let destination: SimPeer | undefined;
    try {
      const self = edge.client === edge.server;
      source = podOf(edge.client, self) ?? entityOf(edge.client);
      destination = podOf(edge.server, false) ?? entityOf(edge.server, edge.client);
    } catch {
      source = undefined; // not a peer key: not judged
    }
    endpoints.set(key, source && destination ? { source, destination } : undefined);
  }
  const nodeIps = hostIps.length > 0 ? hostIps : [UNKNOWN_NODE_IP];
  const cluster: ClusterModel = {
    namespaces: [...namespaces].sort().map((name) => ({ name, labels: {} })),
    pods: [...pods.values()],
    nodes: [
      { name: NODE, internalIPs: nodeIps },
      ...[...remoteNodes].sort().map((ip) => ({ name: `remote-node-${ip}`, internalIPs: [ip] })),
    ],
    kubeApiserverIPs: [...apiserverIps].sort(),
  };
  return {
    cluster,
    connection(edge) {
      const e = endpoints.get(`${edge.client} ${edge.server}`);
      if (!e || !L4.has(edge.protocol)) return undefined;
      return { source: e.source, destination: e.destination, port: edge.port, protocol: edge.protocol as L4Protocol };
    },
  };
}

/** A pod name for a workload in the model (unique per kind and name; never sent anywhere). */
function podName(kind: string, name: string): string {
  return `${kind.toLowerCase()}-${name}`;
}

const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const labelText = (m: unknown): string => Object.entries(rec(m)).map(([k, v]) => `${k}=${String(v)}`).join(', ');
const NAMESPACE_NAME = 'kubernetes.io/metadata.name';
const CILIUM_NAMESPACE = 'k8s:io.kubernetes.pod.namespace';

/** One line that says what a live rule allows, in the words of its API (like the generated rules' descriptions). */
export function describeLiveRule(rule: Record<string, unknown>, direction: 'ingress' | 'egress', kind: string, namespace: string): string {
  const word = direction === 'ingress' ? 'from' : 'to';
  if (kind === 'NetworkPolicy') {
    const peers = arr(rule[direction === 'ingress' ? 'from' : 'to']).map((p) => describeNetworkPolicyPeer(rec(p)));
    const ports = arr(rule['ports']).map((p) => {
      const port = rec(p);
      const number = port['port'] === undefined ? 'any port' : `${String(port['port'])}${port['endPort'] !== undefined ? `-${String(port['endPort'])}` : ''}`;
      return `${number}/${typeof port['protocol'] === 'string' ? port['protocol'] : 'TCP'}`;
    });
    return `${word} ${peers.length > 0 ? peers.join('; ') : 'anywhere'} on ${ports.length > 0 ? ports.join(', ') : 'any port'}`;
  }
  const prefix = direction === 'ingress' ? 'from' : 'to';
  const peers: string[] = [];
  for (const selector of arr(rule[`${prefix}Endpoints`])) {
    const labels = rec(rec(selector)['matchLabels']);
    const ns = typeof labels[CILIUM_NAMESPACE] === 'string' ? (labels[CILIUM_NAMESPACE] as string) : undefined;
    const own = Object.fromEntries(Object.entries(labels).filter(([k]) => k !== CILIUM_NAMESPACE));
    peers.push(`endpoints {${labelText(own)}}${ns !== undefined && ns !== namespace ? ` in namespace ${ns}` : ''}`);
  }
  for (const entity of arr(rule[`${prefix}Entities`])) peers.push(`entity ${String(entity)}`);
  for (const cidr of arr(rule[`${prefix}CIDR`])) peers.push(`CIDR ${String(cidr)}`);
  for (const set of arr(rule[`${prefix}CIDRSet`])) peers.push(`CIDR ${String(rec(set)['cidr'])}`);
  const fqdns = arr(rule['toFQDNs']).map((f) => String(rec(f)['matchName'] ?? rec(f)['matchPattern'] ?? ''));
  if (fqdns.length > 0) peers.push(`FQDN ${fqdns.join(', ')}`);
  const ports = arr(rule['toPorts']).flatMap((p) => arr(rec(p)['ports'])).map((p) => `${String(rec(p)['port'])}/${String(rec(p)['protocol'] ?? 'ANY')}`);
  return `${word} ${peers.length > 0 ? peers.join('; ') : 'any endpoint'} on ${ports.length > 0 ? ports.join(', ') : 'any port'}`;
}

function describeNetworkPolicyPeer(peer: Record<string, unknown>): string {
  const block = rec(peer['ipBlock']);
  if (typeof block['cidr'] === 'string') {
    const except = arr(block['except']).map(String);
    return `ipBlock ${block['cidr']}${except.length > 0 ? ` except ${except.join(', ')}` : ''}`;
  }
  const pods = peer['podSelector'] === undefined ? 'all pods' : `pods {${labelText(rec(peer['podSelector'])['matchLabels'])}}`;
  if (peer['namespaceSelector'] === undefined) return pods;
  const nsLabels = rec(rec(peer['namespaceSelector'])['matchLabels']);
  const keys = Object.keys(nsLabels);
  if (keys.length === 1 && keys[0] === NAMESPACE_NAME) return `${pods} in namespace ${String(nsLabels[NAMESPACE_NAME])}`;
  return `${pods} in namespaces {${labelText(nsLabels)}}`;
}

/**
 * What the proposals say about each workload's labels and the node's addresses: a policy's own
 * selector (`hivewall.dev/workload` annotation), and the selector a rule uses for each workload
 * behind it (the rule's evidence edges name the workload). Later objects win a conflicting label.
 */
export interface ProposalFacts {
  readonly workloadLabels: Map<string, Record<string, string>>;
  readonly hostIps: string[];
}

export interface FactSource {
  readonly namespace: string;
  readonly objects: readonly KubernetesObject[];
  readonly evidence: readonly { readonly policy: string; readonly direction: 'ingress' | 'egress'; readonly index: number; readonly edges: readonly EdgeIdentity[] }[];
}

export function proposalFacts(sources: readonly FactSource[]): ProposalFacts {
  const workloadLabels = new Map<string, Record<string, string>>();
  const hostIps = new Set<string>();
  const add = (key: string, labels: Record<string, unknown>) => {
    if (!isWorkloadKey(key)) return;
    const own = Object.fromEntries(Object.entries(labels).filter(([k, v]) => typeof v === 'string' && k !== CILIUM_NAMESPACE).map(([k, v]) => [k.startsWith('k8s:') ? k.slice(4) : k, v as string]));
    if (Object.keys(own).length === 0) return;
    workloadLabels.set(key, { ...(workloadLabels.get(key) ?? {}), ...own });
  };
  for (const source of sources) {
    const byName = new Map(source.objects.map((o) => [o.metadata.name, o]));
    for (const o of source.objects) {
      const workload = rec(rec(o.metadata)['annotations'])['hivewall.dev/workload'];
      if (typeof workload !== 'string') continue;
      const spec = rec(o['spec']);
      const key = annotatedWorkloadKey(o.metadata.namespace ?? source.namespace, workload);
      if (key) add(key, rec(rec(spec['podSelector'] ?? spec['endpointSelector'])['matchLabels']));
    }
    for (const e of source.evidence) {
      if (e.index < 0) continue;
      const object = byName.get(e.policy);
      if (!object) continue;
      const rule = rec(arr(rec(object['spec'])[e.direction])[e.index]);
      const peers = e.edges.map((edge) => (e.direction === 'ingress' ? edge.client : edge.server));
      if (object.kind === 'NetworkPolicy') {
        const elements = arr(rule[e.direction === 'ingress' ? 'from' : 'to']).map(rec);
        const selectors = elements.filter((p) => p['podSelector'] !== undefined);
        if (selectors.length === 1) for (const peer of peers) add(peer, rec(rec(selectors[0]!['podSelector'])['matchLabels']));
        if (e.direction === 'egress' && peers.some((p) => p === entityKey('host'))) {
          for (const p of elements) {
            const cidr = rec(p['ipBlock'])['cidr'];
            const ip = typeof cidr === 'string' ? hostRouteIp(cidr) : undefined;
            if (ip !== undefined) hostIps.add(ip);
          }
        }
      } else {
        const endpoints = arr(rule[e.direction === 'ingress' ? 'fromEndpoints' : 'toEndpoints']).map(rec);
        if (endpoints.length === 1) for (const peer of peers) add(peer, rec(endpoints[0]!['matchLabels']));
      }
    }
  }
  return { workloadLabels, hostIps: [...hostIps].sort() };
}

/** `hostCidr`'s inverse for host routes: `10.0.0.1/32` → `10.0.0.1`; undefined for a wider block. */
function hostRouteIp(cidr: string): string | undefined {
  const ip = cidr.replace(/\/(32|128)$/, '');
  return ip !== cidr && hostCidr(ip) === cidr ? ip : undefined;
}
