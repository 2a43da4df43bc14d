/**
 * fast-check generators of random differential cases: a small cluster (namespaces, pods with labels,
 * named container ports, nodes, a kube-apiserver outside the cluster, outside addresses with DNS
 * names), a set of valid policies of one flavour, and connections between all of them. Vocabularies
 * are small on purpose so selectors, CIDRs and ports collide with the cluster often.
 *
 * Only objects the API server accepts are generated (an endPort only after a numeric port, ipBlock
 * excepts inside their CIDR, no empty peers), and for Cilium only what Cilium's own sanitizer accepts.
 */
import fc from 'fast-check';
import type {
  CiliumEgressRule,
  CiliumEntity,
  CiliumIngressRule,
  CiliumNetworkPolicy,
  CiliumPortRule,
  CiliumRule,
  ClusterModel,
  Connection,
  ContainerPortModel,
  L4Protocol,
  LabelSelector,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  Peer,
  PodModel,
  Policy,
} from '../../src/domain/simulate/index.js';

export type Flavor = 'networkpolicy' | 'cilium';

export interface DifferentialCase {
  readonly cluster: ClusterModel;
  readonly policies: readonly Policy[];
  readonly connections: readonly Connection[];
}

const NAMESPACES = ['alpha', 'beta', 'gamma'] as const;
const NODES = [
  { name: 'node-1', internalIPs: ['172.18.0.2'] },
  { name: 'node-2', internalIPs: ['172.18.0.3'] },
] as const;
const KUBE_APISERVER_IP = '172.18.0.100';
/** Outside addresses; some with DNS names for toFQDNs. */
const OUTSIDE: readonly { ip: string; dnsNames?: readonly string[] }[] = [
  { ip: '203.0.113.5', dnsNames: ['api.example.com'] },
  { ip: '203.0.113.77', dnsNames: ['cdn.example.com', 'static.example.org'] },
  { ip: '198.51.100.9', dnsNames: ['www.example.org'] },
  { ip: '8.8.8.8' },
];
const PORTS = [53, 80, 81, 443, 5432, 8080, 8085, 9090] as const;

// ───────────────────────────── selectors ─────────────────────────────

const POD_KEYS = ['app', 'tier'] as const;
const POD_VALUES = ['web', 'api', 'db', 'front', 'back'] as const;
const NS_KEYS = ['team', 'env', 'kubernetes.io/metadata.name'] as const;
const NS_VALUES = ['red', 'blue', 'prod', 'dev', 'alpha', 'beta'] as const;

function selectorArb(keys: readonly string[], values: readonly string[]): fc.Arbitrary<LabelSelector> {
  const requirement = fc.oneof(
    fc.record({ key: fc.constantFrom(...keys), operator: fc.constantFrom('In', 'NotIn'), values: fc.uniqueArray(fc.constantFrom(...values), { minLength: 1, maxLength: 2 }) }),
    fc.record({ key: fc.constantFrom(...keys), operator: fc.constantFrom('Exists', 'DoesNotExist') }),
  );
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant({}) },
    { weight: 3, arbitrary: fc.record({ matchLabels: fc.dictionary(fc.constantFrom(...keys), fc.constantFrom(...values), { minKeys: 1, maxKeys: 2 }) }) },
    { weight: 2, arbitrary: fc.record({ matchExpressions: fc.array(requirement, { minLength: 1, maxLength: 2 }) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        matchLabels: fc.dictionary(fc.constantFrom(...keys), fc.constantFrom(...values), { minKeys: 1, maxKeys: 1 }),
        matchExpressions: fc.array(requirement, { minLength: 1, maxLength: 1 }),
      }),
    },
  );
}

const podSelectorArb = selectorArb(POD_KEYS, POD_VALUES);
const namespaceSelectorArb = selectorArb(NS_KEYS, NS_VALUES);

// ───────────────────────────── cluster ─────────────────────────────

const NAMED_PORTS: readonly ContainerPortModel[][] = [
  [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
  [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'metrics', containerPort: 9090, protocol: 'TCP' }],
  [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' }],
  [{ name: 'pg', containerPort: 5432, protocol: 'TCP' }, { name: 'http', containerPort: 81, protocol: 'TCP' }],
  [],
];

const podShapeArb = fc.record({
  labels: fc.dictionary(fc.constantFrom(...POD_KEYS), fc.constantFrom(...POD_VALUES), { maxKeys: 2 }),
  ports: fc.constantFrom(...NAMED_PORTS),
  node: fc.constantFrom(0, 1),
  serviceAccount: fc.option(fc.constantFrom('sa-a', 'sa-b'), { nil: undefined }),
});

const clusterArb: fc.Arbitrary<ClusterModel> = fc
  .record({
    namespaceCount: fc.integer({ min: 2, max: 3 }),
    namespaceLabels: fc.array(fc.dictionary(fc.constantFrom('team', 'env'), fc.constantFrom('red', 'blue', 'prod', 'dev'), { maxKeys: 2 }), { minLength: 3, maxLength: 3 }),
    pods: fc.array(fc.array(podShapeArb, { minLength: 1, maxLength: 3 }), { minLength: 3, maxLength: 3 }),
    hostNetworkPod: fc.option(fc.constantFrom(0, 1), { nil: undefined, freq: 4 }),
  })
  .map(({ namespaceCount, namespaceLabels, pods, hostNetworkPod }) => {
    const namespaces = NAMESPACES.slice(0, namespaceCount).map((name, i) => ({ name, labels: { ...namespaceLabels[i], 'kubernetes.io/metadata.name': name } }));
    const podModels: PodModel[] = [];
    namespaces.forEach((ns, n) => {
      (pods[n] ?? []).forEach((shape, p) => {
        podModels.push({
          namespace: ns.name,
          name: `pod-${p}`,
          labels: shape.labels,
          ips: [`10.244.${n}.${10 + p}`],
          ports: shape.ports,
          hostNetwork: false,
          nodeName: NODES[shape.node]!.name,
          ...(shape.serviceAccount === undefined ? {} : { serviceAccount: shape.serviceAccount }),
        });
      });
    });
    if (hostNetworkPod !== undefined) {
      const node = NODES[hostNetworkPod]!;
      podModels.push({
        namespace: namespaces[0]!.name,
        name: 'agent',
        labels: { app: 'web' },
        ips: node.internalIPs,
        ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
        hostNetwork: true,
        nodeName: node.name,
      });
    }
    return { namespaces, pods: podModels, nodes: NODES.map((n) => ({ name: n.name, internalIPs: [...n.internalIPs] })), kubeApiserverIPs: [KUBE_APISERVER_IP] };
  });

// ───────────────────────────── connections ─────────────────────────────

function peersOf(cluster: ClusterModel): Peer[] {
  const peers: Peer[] = [];
  for (const pod of cluster.pods) {
    peers.push({ kind: 'pod', namespace: pod.namespace, name: pod.name });
    if (!pod.hostNetwork && pod.ips[0] !== undefined) peers.push({ kind: 'ip', ip: pod.ips[0] });
  }
  for (const node of cluster.nodes) for (const ip of node.internalIPs) peers.push({ kind: 'ip', ip });
  peers.push({ kind: 'ip', ip: KUBE_APISERVER_IP });
  for (const o of OUTSIDE) peers.push({ kind: 'ip', ip: o.ip, ...(o.dnsNames === undefined ? {} : { dnsNames: o.dnsNames }) });
  return peers;
}

function podKeyOf(peer: Peer, cluster: ClusterModel): string | undefined {
  if (peer.kind === 'pod') {
    const pod = cluster.pods.find((p) => p.namespace === peer.namespace && p.name === peer.name);
    return pod === undefined || pod.hostNetwork ? undefined : `${pod.namespace}/${pod.name}`;
  }
  const pod = cluster.pods.find((p) => !p.hostNetwork && p.ips.includes(peer.ip));
  return pod === undefined ? undefined : `${pod.namespace}/${pod.name}`;
}

function connectionsArb(cluster: ClusterModel, protocols: readonly L4Protocol[]): fc.Arbitrary<Connection[]> {
  const peers = peersOf(cluster);
  const connection = fc
    .record({ source: fc.constantFrom(...peers), destination: fc.constantFrom(...peers), port: fc.constantFrom(...PORTS), protocol: fc.constantFrom(...protocols) })
    .filter(({ source, destination }) => {
      const s = podKeyOf(source, cluster);
      const d = podKeyOf(destination, cluster);
      // At least one pod-network pod (otherwise no policy applies), never a pod to itself.
      return (s !== undefined || d !== undefined) && s !== d;
    });
  return fc.array(connection, { minLength: 6, maxLength: 14 });
}

// ───────────────────────────── NetworkPolicy ─────────────────────────────

const IP_BLOCKS: readonly { cidr: string; except?: string[] }[] = [
  { cidr: '10.244.0.0/16', except: ['10.244.1.0/24'] },
  { cidr: '10.244.0.10/32' },
  { cidr: '203.0.113.0/24', except: ['203.0.113.77/32'] },
  { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] },
  { cidr: '0.0.0.0/0' },
  { cidr: '172.18.0.0/16' },
  { cidr: '198.51.100.0/24' },
  { cidr: '172.18.0.100/32' },
];

const npPeerArb: fc.Arbitrary<NetworkPolicyPeer> = fc.oneof(
  fc.record({ podSelector: podSelectorArb }),
  fc.record({ namespaceSelector: namespaceSelectorArb }),
  fc.record({ podSelector: podSelectorArb, namespaceSelector: namespaceSelectorArb }),
  fc.record({ ipBlock: fc.constantFrom(...IP_BLOCKS) }),
);

function npPortArb(protocols: readonly L4Protocol[]): fc.Arbitrary<NetworkPolicyPort> {
  const protocol = fc.option(fc.constantFrom(...protocols), { nil: undefined });
  const withProtocol = (p: L4Protocol | undefined) => (p === undefined ? {} : { protocol: p });
  return fc.oneof(
    fc.record({ protocol, port: fc.constantFrom(...PORTS) }).map(({ protocol: p, port }) => ({ ...withProtocol(p), port })),
    fc.record({ protocol, port: fc.constantFrom('http', 'dns', 'dns-tcp', 'metrics', 'pg') }).map(({ protocol: p, port }) => ({ ...withProtocol(p), port })),
    fc.record({ protocol, port: fc.constantFrom(53, 80, 443, 8080), span: fc.integer({ min: 0, max: 10 }) }).map(({ protocol: p, port, span }) => ({ ...withProtocol(p), port, endPort: port + span })),
    fc.record({ protocol: fc.constantFrom(...protocols) }),
  );
}

function optionalList<T>(item: fc.Arbitrary<T>, maxLength: number): fc.Arbitrary<T[] | undefined> {
  return fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant<T[]>([]) }, { weight: 4, arbitrary: fc.array(item, { minLength: 1, maxLength }) });
}

function networkPolicyArb(namespaces: readonly string[], protocols: readonly L4Protocol[]): fc.Arbitrary<NetworkPolicy> {
  const ports = optionalList(npPortArb(protocols), 2);
  const peers = optionalList(npPeerArb, 2);
  const ingressRule = fc.record({ from: peers, ports }).map(({ from, ports: p }) => ({ ...(from === undefined ? {} : { from }), ...(p === undefined ? {} : { ports: p }) }));
  const egressRule = fc.record({ to: peers, ports }).map(({ to, ports: p }) => ({ ...(to === undefined ? {} : { to }), ...(p === undefined ? {} : { ports: p }) }));
  return fc
    .record({
      namespace: fc.constantFrom(...namespaces),
      podSelector: fc.oneof(fc.constant({}), podSelectorArb),
      policyTypes: fc.constantFrom(undefined, ['Ingress'] as const, ['Egress'] as const, ['Ingress', 'Egress'] as const),
      ingress: optionalList(ingressRule, 2),
      egress: optionalList(egressRule, 2),
    })
    .map(({ namespace, podSelector, policyTypes, ingress, egress }) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy' as const,
      metadata: { name: 'np', namespace },
      spec: {
        podSelector,
        ...(policyTypes === undefined ? {} : { policyTypes: [...policyTypes] }),
        ...(ingress === undefined ? {} : { ingress }),
        ...(egress === undefined ? {} : { egress }),
      },
    }));
}

// ───────────────────────────── CiliumNetworkPolicy ─────────────────────────────

const ENTITIES: readonly CiliumEntity[] = ['world', 'cluster', 'host', 'remote-node', 'kube-apiserver', 'all'];
const CIDR_SETS = IP_BLOCKS;
const FQDNS = [{ matchName: 'api.example.com' }, { matchPattern: '*.example.com' }, { matchPattern: '*.example.org' }, { matchName: 'www.example.org' }, { matchPattern: '*' }];

/** fromEndpoints / toEndpoints selectors: pod labels, optionally pinned to a namespace by Cilium's namespace label. */
const endpointSelectorArb: fc.Arbitrary<LabelSelector> = fc.oneof(
  { weight: 4, arbitrary: podSelectorArb },
  {
    weight: 1,
    arbitrary: fc.record({ ns: fc.constantFrom(...NAMESPACES), sel: podSelectorArb }).map(({ ns, sel }) => ({
      ...sel,
      matchLabels: { ...(sel.matchLabels ?? {}), 'k8s:io.kubernetes.pod.namespace': ns },
    })),
  },
);

function ciliumPortRuleArb(allowL7: boolean): fc.Arbitrary<CiliumPortRule> {
  const port = fc.oneof(
    fc.record({ port: fc.constantFrom(...PORTS).map(String), protocol: fc.constantFrom('TCP', 'UDP', 'ANY') }),
    fc.record({ port: fc.constantFrom(...PORTS).map(String) }),
    fc.record({ port: fc.constantFrom('80', '8080', '53'), endPort: fc.constantFrom(90, 8090, 60), protocol: fc.constantFrom('TCP', 'ANY') }),
    fc.record({ port: fc.constantFrom('http', 'dns', 'metrics', 'pg') }),
    fc.record({ port: fc.constant('0'), protocol: fc.constantFrom('TCP', 'UDP') }),
  ).filter((p) => !('endPort' in p) || p.endPort >= Number(p.port));
  const dns: fc.Arbitrary<CiliumPortRule> = fc.constant({ ports: [{ port: '53', protocol: 'ANY' }], rules: { dns: [{ matchPattern: '*' }] } });
  return allowL7 ? fc.oneof({ weight: 5, arbitrary: fc.record({ ports: fc.array(port, { minLength: 1, maxLength: 2 }) }) }, { weight: 1, arbitrary: dns }) : fc.record({ ports: fc.array(port, { minLength: 1, maxLength: 2 }) });
}

function withPorts<T extends object>(l3: fc.Arbitrary<T>, allowL7: boolean): fc.Arbitrary<T & { toPorts?: CiliumPortRule[] }> {
  return fc.record({ l3, toPorts: fc.option(fc.array(ciliumPortRuleArb(allowL7), { minLength: 1, maxLength: 1 }), { nil: undefined }) }).map(({ l3: rule, toPorts }) => ({ ...rule, ...(toPorts === undefined ? {} : { toPorts }) }));
}

function ingressRuleArb(allowL7: boolean): fc.Arbitrary<CiliumIngressRule> {
  return fc.oneof(
    withPorts(fc.record({ fromEndpoints: fc.array(endpointSelectorArb, { minLength: 1, maxLength: 2 }) }), allowL7),
    withPorts(fc.record({ fromEntities: fc.uniqueArray(fc.constantFrom(...ENTITIES), { minLength: 1, maxLength: 2 }) }), allowL7),
    withPorts(fc.record({ fromCIDR: fc.uniqueArray(fc.constantFrom('203.0.113.0/24', '8.8.8.8/32', '172.18.0.0/16', '10.244.0.0/16'), { minLength: 1, maxLength: 2 }) }), allowL7),
    withPorts(fc.record({ fromCIDRSet: fc.array(fc.constantFrom(...CIDR_SETS), { minLength: 1, maxLength: 2 }) }), allowL7),
    fc.record({ toPorts: fc.array(ciliumPortRuleArb(false), { minLength: 1, maxLength: 1 }) }),
  );
}

function egressRuleArb(allowL7: boolean): fc.Arbitrary<CiliumEgressRule> {
  const rules: fc.Arbitrary<CiliumEgressRule>[] = [
    withPorts(fc.record({ toEndpoints: fc.array(endpointSelectorArb, { minLength: 1, maxLength: 2 }) }), allowL7),
    withPorts(fc.record({ toEntities: fc.uniqueArray(fc.constantFrom(...ENTITIES), { minLength: 1, maxLength: 2 }) }), allowL7),
    withPorts(fc.record({ toCIDR: fc.uniqueArray(fc.constantFrom('203.0.113.0/24', '8.8.8.8/32', '172.18.0.0/16', '10.244.0.0/16'), { minLength: 1, maxLength: 2 }) }), allowL7),
    withPorts(fc.record({ toCIDRSet: fc.array(fc.constantFrom(...CIDR_SETS), { minLength: 1, maxLength: 2 }) }), allowL7),
    fc.record({ toPorts: fc.array(ciliumPortRuleArb(false), { minLength: 1, maxLength: 1 }) }),
  ];
  // toFQDNs is an allow-only selector (Cilium rejects it in egressDeny).
  if (allowL7) rules.push(withPorts(fc.record({ toFQDNs: fc.uniqueArray(fc.constantFrom(...FQDNS), { minLength: 1, maxLength: 2 }) }), false));
  return fc.oneof(...rules);
}

/** ingress / egress: absent, `[]` (does not isolate), `[{}]` (isolates, allows nothing) or rules. */
function sectionArb<T>(rule: fc.Arbitrary<T>): fc.Arbitrary<T[] | Record<string, never>[] | undefined> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant<T[]>([]) },
    { weight: 1, arbitrary: fc.constant<Record<string, never>[]>([{}]) },
    { weight: 5, arbitrary: fc.array(rule, { minLength: 1, maxLength: 2 }) },
  );
}

function ciliumRuleArb(): fc.Arbitrary<CiliumRule> {
  return fc
    .record({
      endpointSelector: podSelectorArb,
      // Cilium has no DNS rules on ingress ("L7 protocol DNS is not supported on ingress yet").
      ingress: sectionArb(ingressRuleArb(false)),
      egress: sectionArb(egressRuleArb(true)),
      ingressDeny: fc.option(fc.array(ingressRuleArb(false), { minLength: 1, maxLength: 1 }), { nil: undefined, freq: 4 }),
      egressDeny: fc.option(fc.array(egressRuleArb(false), { minLength: 1, maxLength: 1 }), { nil: undefined, freq: 4 }),
      enableDefaultDeny: fc.option(fc.record({ ingress: fc.boolean(), egress: fc.boolean() }, { requiredKeys: [] }), { nil: undefined, freq: 3 }),
    })
    // Cilium rejects a rule with none of ingress, ingressDeny, egress, egressDeny.
    .filter((r) => [r.ingress, r.egress, r.ingressDeny, r.egressDeny].some((section) => section !== undefined && section.length > 0))
    .map((r) => {
      const rule: Record<string, unknown> = { endpointSelector: r.endpointSelector };
      for (const key of ['ingress', 'egress', 'ingressDeny', 'egressDeny', 'enableDefaultDeny'] as const) if (r[key] !== undefined) rule[key] = r[key];
      return rule as CiliumRule;
    });
}

function ciliumPolicyArb(namespaces: readonly string[]): fc.Arbitrary<CiliumNetworkPolicy> {
  return fc
    .record({ namespace: fc.constantFrom(...namespaces), specs: fc.array(ciliumRuleArb(), { minLength: 1, maxLength: 2 }), clusterwideRoll: fc.integer({ min: 0, max: 9 }) })
    .map(({ namespace, specs, clusterwideRoll }) => {
      const clusterwide = clusterwideRoll === 0;
      const body = specs.length === 1 ? { spec: specs[0]! } : { specs };
      return clusterwide
        ? { apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy' as const, metadata: { name: 'ccnp' }, ...body }
        : { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy' as const, metadata: { name: 'cnp', namespace }, ...body };
    });
}

// ───────────────────────────── cases ─────────────────────────────

function named<T extends Policy>(policies: T[]): T[] {
  return policies.map((p, i) => ({ ...p, metadata: { ...p.metadata, name: `${p.metadata.name}-${i}` } }));
}

export function caseArb(flavor: Flavor): fc.Arbitrary<DifferentialCase> {
  // Cilium judges SCTP only with --enable-sctp; the Cilium flavour sticks to TCP and UDP.
  const protocols: readonly L4Protocol[] = flavor === 'cilium' ? ['TCP', 'UDP'] : ['TCP', 'UDP', 'SCTP'];
  return clusterArb.chain((cluster) => {
    const namespaces = cluster.namespaces.map((n) => n.name);
    const policies: fc.Arbitrary<Policy[]> =
      flavor === 'cilium'
        ? fc.array(ciliumPolicyArb(namespaces), { minLength: 1, maxLength: 4 }).map(named)
        : fc.array(networkPolicyArb(namespaces, protocols), { minLength: 1, maxLength: 4 }).map(named);
    return fc.record({ cluster: fc.constant(cluster), policies, connections: connectionsArb(cluster, protocols) });
  });
}

/** `count` cases of one flavour, reproducible from `seed` (fast-check's own PRNG). */
export function sampleCases(flavor: Flavor, seed: number, count: number): DifferentialCase[] {
  return fc.sample(caseArb(flavor), { seed, numRuns: count });
}
