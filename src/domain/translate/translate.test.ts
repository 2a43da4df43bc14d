import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { deploymentPod, endpoint, flow, inventory, service, statefulSetPod } from '../../testing/builders.js';
import { WorkloadCatalog } from '../catalog.js';
import { generatePolicies, type Flavor } from '../generate.js';
import { buildProposal, type ProposalInput } from '../proposal.js';
import { IdentityResolver } from '../identity.js';
import { Learner } from '../learner.js';
import { toYaml } from './render.js';
import { key } from '../../testing/builders.js';

const T0 = Date.UTC(2026, 10, 2, 10, 0, 0);

/** A small namespace touching every peer kind the translators handle. */
function scenario() {
  const frontend = { ...deploymentPod('shop', 'frontend', '10.244.0.5', { tier: 'web' }), nodeName: 'node-a' };
  const cart = { ...deploymentPod('shop', 'cart', '10.244.1.7', { tier: 'cart' }), nodeName: 'node-b' };
  const redis = { ...statefulSetPod('shop', 'cart-redis', 0, '10.244.1.8', { tier: 'cart' }), nodeName: 'node-b' };
  const dns = deploymentPod('kube-system', 'coredns', '10.244.0.2', { 'k8s-app': 'kube-dns' });
  const prom = statefulSetPod('monitoring', 'prometheus', 0, '10.244.2.3');
  const cluster = inventory({
    nodes: [
      { name: 'node-a', ips: ['172.18.0.2'], podCIDRs: ['10.244.0.0/24'] },
      { name: 'node-b', ips: ['172.18.0.3'], podCIDRs: ['10.244.1.0/24'] },
    ],
    pods: [frontend, cart, redis, dns, prom],
    services: [service('shop', 'frontend', { type: 'LoadBalancer', clusterIPs: ['10.96.1.1'], selector: { 'app.kubernetes.io/name': 'frontend' }, ports: [{ port: 80, protocol: 'TCP', targetPort: 'http', nodePort: 30080 }] })],
    endpointSlices: [{ namespace: 'default', serviceName: 'kubernetes', endpoints: [{ addresses: ['172.18.0.2'] }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }],
  });
  const identity = new IdentityResolver(cluster);
  const learner = new Learner(identity);
  let port = 40000;
  const f = (src: string, dst: string, dport: number, extra: Parameters<typeof flow>[2] = {}) =>
    learner.ingestFlow(flow(endpoint(src, port++), endpoint(dst, dport), { time: T0 + port, ...extra }));
  f('203.0.113.7', '10.244.0.5', 8080); // world → LB frontend
  f('172.18.0.2', '10.244.0.5', 8080); // kubelet probe
  f('10.244.0.5', '10.244.1.7', 8080); // frontend → cart
  f('10.244.1.7', '10.244.1.8', 6379); // cart → redis
  f('10.244.0.5', '10.244.0.2', 53, { protocol: 'UDP' }); // DNS
  f('10.244.1.7', '10.244.0.2', 53, { protocol: 'UDP' });
  f('10.244.2.3', '10.244.1.7', 9090); // prometheus → cart metrics (cross-namespace)
  f('10.244.1.7', '203.0.113.50', 443); // cart → external API with a DNS name
  f('10.244.1.7', '198.51.100.9', 443); // cart → external API without a name
  f('10.244.1.8', '172.18.0.2', 6443); // redis → kube-apiserver
  learner.ingestFlow(flow(endpoint('10.244.0.2', 53), endpoint('10.244.1.7', 33000), { protocol: 'UDP', isReply: true, dnsAnswer: { query: 'API.Stripe.example.', ips: ['203.0.113.50'] } }));
  return { learner, identity };
}

function render(flavor: Flavor): string {
  const { learner, identity } = scenario();
  const result = generatePolicies(learner, identity, { flavor });
  return result.namespaces.flatMap((ns) => ns.objects.map((o) => `---\n${toYaml(o)}`)).join('');
}

/** buildProposal's input for the scenario's `shop` namespace: NetworkPolicy, every allowance, nodes and API server known. */
function shopProposalInput(scene: ReturnType<typeof scenario>, spec: Partial<ProposalInput['spec']> = {}, over: Partial<ProposalInput> = {}): ProposalInput {
  return {
    namespace: 'shop',
    spec: { flavor: 'NetworkPolicy', minFlowsPerEdge: 1, exclude: [], allowDns: true, allowPublicIngress: true, externalBy: 'FQDN', ...spec },
    edges: scene.learner.edges.edges(),
    catalog: WorkloadCatalog.build(scene.identity, scene.learner.observedPods),
    dnsNames: scene.learner.dnsNames,
    apiserverIps: ['172.18.0.2'],
    nodeIps: ['172.18.0.2', '172.18.0.3'],
    podCidrs: [],
    live: [],
    formatTime: (ms) => new Date(ms).toISOString(),
    ...over,
  };
}

const golden = (name: string) => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));

describe.each([
  ['networkpolicy', 'shop.networkpolicy.golden.yaml'],
  ['cilium', 'shop.cilium.golden.yaml'],
] as const)('%s translation', (flavor, file) => {
  it('matches the golden file (UPDATE_GOLDEN=1 rewrites it)', () => {
    const yaml = render(flavor);
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden(file), yaml);
    expect(yaml).toBe(readFileSync(golden(file), 'utf8'));
  });

  it('is byte-identical across runs', () => {
    expect(render(flavor)).toBe(render(flavor));
  });
});

describe('policy rules', () => {
  const { learner, identity } = scenario();
  const np = generatePolicies(learner, identity, { flavor: 'networkpolicy' });
  const shop = np.namespaces.find((n) => n.namespace === 'shop')!;
  const byName = new Map(shop.objects.map((o) => [o.metadata.name, o as unknown as { spec: Record<string, unknown>; metadata: Record<string, unknown> }]));

  it('scopes to non-system namespaces with observed workloads by default', () => {
    expect(np.namespaces.map((n) => n.namespace)).toEqual(['monitoring', 'shop']);
  });

  it('writes a default deny and one policy per workload, all labelled managed-by hivewall', () => {
    expect([...byName.keys()].sort()).toEqual(['hivewall-cart', 'hivewall-cart-redis', 'hivewall-default-deny', 'hivewall-frontend']);
    for (const o of byName.values()) expect(o.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'hivewall' });
    expect(byName.get('hivewall-default-deny')!.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  });

  it('selects cart with a label that excludes cart-redis', () => {
    expect(byName.get('hivewall-cart')!.spec.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'cart' } });
  });

  it('opens public ingress only on the Service target port of a LoadBalancer workload', () => {
    expect(byName.get('hivewall-frontend')!.spec.ingress).toEqual([{ from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.244.0.0/24', '10.244.1.0/24'] } }], ports: [{ protocol: 'TCP', port: 8080 }] }]);
  });

  it('without the public ingress allowance only the observed client is allowed', () => {
    const strict = generatePolicies(learner, identity, { flavor: 'networkpolicy', allowances: { dns: true, publicIngress: false } });
    const fe = strict.namespaces.find((n) => n.namespace === 'shop')!.objects.find((o) => o.metadata.name === 'hivewall-frontend') as unknown as { spec: { ingress: unknown } };
    expect(fe.spec.ingress).toEqual([{ from: [{ ipBlock: { cidr: '203.0.113.7/32' } }], ports: [{ protocol: 'TCP', port: 8080 }] }]);
  });

  it('the kube-apiserver allowance adds egress to every apiserver endpoint, and only when asked', () => {
    const withAllowance = generatePolicies(learner, identity, { flavor: 'networkpolicy', allowances: { dns: true, publicIngress: true, kubeApiserver: true } });
    const frontend = withAllowance.namespaces.find((n) => n.namespace === 'shop')!.model.workloads.find((w) => w.workload.name === 'frontend')!;
    expect(frontend.egress.find((r) => r.peer.kind === 'kube-apiserver')).toEqual({
      peer: { kind: 'kube-apiserver', ips: ['172.18.0.2'] },
      ports: [{ port: 6443, protocol: 'TCP' }],
      evidence: [],
      allowance: 'kube-apiserver',
    });
    const cartEgress = byName.get('hivewall-cart')!.spec.egress as unknown[];
    expect(JSON.stringify(cartEgress)).not.toContain('172.18.0.2');
  });

  it('keeps DNS on 53/UDP and 53/TCP to the observed DNS server in kube-system', () => {
    const egress = byName.get('hivewall-cart')!.spec.egress as unknown[];
    expect(egress).toContainEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'coredns' } } }],
      ports: [{ protocol: 'TCP', port: 53 }, { protocol: 'UDP', port: 53 }],
    });
  });
});

describe('proposal evidence', () => {
  it('points every rule at its position in the written object', async () => {
    const scene = scenario();
    for (const flavor of ['NetworkPolicy', 'CiliumNetworkPolicy'] as const) {
      const draft = buildProposal(shopProposalInput(scene, { flavor }));
      const byName = new Map(draft.objects.map((o) => [o.metadata.name, o as unknown as { spec: Record<string, Record<string, unknown>[]> }]));
      for (const e of draft.evidence) {
        if (e.index === -1) {
          expect(flavor === 'NetworkPolicy' && e.peer === 'host' && e.direction === 'ingress', JSON.stringify(e)).toBe(true);
          continue;
        }
        const rule = byName.get(e.policy)!.spec[e.direction]![e.index]!;
        expect(rule, `${e.policy} ${e.direction}/${e.index}`).toBeDefined();
        const ports = JSON.stringify(rule.ports ?? rule.toPorts);
        for (const p of e.ports) expect(ports).toContain(p.split('/')[0]);
      }
    }
  });
});

describe('spec.workloads scope', () => {
  it('a workload excluded, or not selected, gets no policy and is listed as skipped: the default deny still denies its traffic', async () => {
    const scene = scenario();
    const draft = (workloads: Partial<ProposalInput['spec']>) => buildProposal(shopProposalInput(scene, workloads));
    const excluded = draft({ exclude: [{ kind: 'StatefulSet', name: 'cart-redis' }] });
    expect(excluded.objects.map((o) => o.metadata.name)).not.toContain('hivewall-cart-redis');
    expect(excluded.skipped).toEqual([{ workload: 'wl:shop/StatefulSet/cart-redis', reason: expect.stringMatching(/default deny denies/) }]);
    const selected = draft({ selector: { matchLabels: { tier: 'web' } } });
    expect(selected.objects.map((o) => o.metadata.name).sort()).toEqual(['hivewall-default-deny', 'hivewall-frontend']);
    expect(selected.skipped.map((s) => s.workload).sort()).toEqual(['wl:shop/Deployment/cart', 'wl:shop/StatefulSet/cart-redis']);
  });
});

describe('proposal of edges enforced policies denied', () => {
  it('adds the denied edge as a rule (even below minFlowsPerEdge), marks its evidence, and changes nothing else', async () => {
    const scene = scenario();
    const { learner } = scene;
    const build = (denied: ProposalInput['denied']) => buildProposal(shopProposalInput(scene, { minFlowsPerEdge: 5 }, {
      edges: [...learner.edges.edges()].map((e) => ({ ...e, count: 5 })),
      ...(denied ? { denied } : {}),
    }));
    const before = build(undefined);
    const denied = { client: key('wl:shop/Deployment/frontend'), server: key('wl:shop/StatefulSet/cart-redis'), port: 6379, protocol: 'TCP' as const, count: 2, firstDenied: T0 + 60_000, lastDenied: T0 + 61_000 };
    const after = build([denied]);
    const marked = after.evidence.flatMap((r) => r.edges.filter((e) => e.denied).map((e) => `${r.policy} ${r.direction} ${e.client} -> ${e.server} ${e.port}: ${e.denied!.note}`));
    expect(marked.sort()).toEqual([
      `hivewall-cart-redis ingress wl:shop/Deployment/frontend -> wl:shop/StatefulSet/cart-redis 6379: denied 2 times since ${new Date(T0 + 60_000).toISOString()} while enforced`,
      `hivewall-frontend egress wl:shop/Deployment/frontend -> wl:shop/StatefulSet/cart-redis 6379: denied 2 times since ${new Date(T0 + 60_000).toISOString()} while enforced`,
    ]);
    const changed = after.objects.filter((o, i) => JSON.stringify(o) !== JSON.stringify(before.objects[i])).map((o) => o.metadata.name);
    expect(changed.sort()).toEqual(['hivewall-cart-redis', 'hivewall-frontend']);
    expect(after.objects.map((o) => o.metadata.name)).toEqual(before.objects.map((o) => o.metadata.name));
  });
});

describe('edge order', () => {
  /** prometheus → CoreDNS for DNS and for metrics, an external name, and two kube-apiserver addresses, in `order`. */
  function policies(flavor: Flavor, order: 'forward' | 'reverse'): { yaml: string; prometheus: unknown[] } {
    const dns = deploymentPod('kube-system', 'coredns', '10.244.0.2', { 'k8s-app': 'kube-dns' });
    const prom = statefulSetPod('monitoring', 'prometheus', 0, '10.244.2.3');
    const cluster = inventory({
      nodes: [{ name: 'node-a', ips: ['172.18.0.9'], podCIDRs: ['10.244.0.0/16'] }],
      pods: [dns, prom],
      endpointSlices: [{ namespace: 'default', serviceName: 'kubernetes', endpoints: [{ addresses: ['172.18.0.2', '172.18.0.3'] }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }],
    });
    const identity = new IdentityResolver(cluster);
    const learner = new Learner(identity);
    const flows = [
      flow(endpoint('10.244.2.3', 40001), endpoint('10.244.0.2', 9153), { time: T0 + 1 }),
      flow(endpoint('10.244.2.3', 40002), endpoint('10.244.0.2', 53), { time: T0 + 2, protocol: 'UDP' }),
      flow(endpoint('10.244.2.3', 40003), endpoint('172.18.0.2', 6443), { time: T0 + 3 }),
      flow(endpoint('10.244.2.3', 40004), endpoint('172.18.0.3', 6443), { time: T0 + 4 }),
      flow(endpoint('10.244.2.3', 40005), endpoint('93.184.216.34', 443), { time: T0 + 6 }),
    ];
    const answer = flow(endpoint('10.244.0.2', 53), endpoint('10.244.2.3', 40002), { time: T0 + 5, protocol: 'UDP', isReply: true, dnsAnswer: { query: 'api.example.com.', ips: ['93.184.216.34'] } });
    for (const f of order === 'forward' ? flows : [...flows].reverse()) learner.ingestFlow(f);
    learner.ingestFlow(answer);
    const result = generatePolicies(learner, identity, { flavor, namespaces: ['monitoring'] });
    const objects = result.namespaces.flatMap((ns) => ns.objects);
    const prometheus = objects.find((o) => o.metadata.name === 'hivewall-prometheus')!;
    return { yaml: objects.map((o) => `---\n${toYaml(o)}`).join(''), prometheus: (prometheus.spec as { egress: unknown[] }).egress };
  }

  it.each(['networkpolicy', 'cilium'] as const)('%s: the same edges in any order give byte-identical policies', (flavor) => {
    expect(policies(flavor, 'reverse').yaml).toBe(policies(flavor, 'forward').yaml);
  });

  it('the DNS allowance is a rule of its own: other ports to the DNS server never go through the DNS proxy', () => {
    const { prometheus } = policies('cilium', 'forward');
    const toCoreDns = prometheus.filter((r) => JSON.stringify(r).includes('coredns'));
    expect(toCoreDns).toHaveLength(2);
    const withProxy = toCoreDns.filter((r) => JSON.stringify(r).includes('matchPattern'));
    expect(withProxy).toHaveLength(1);
    expect(JSON.stringify(withProxy[0])).not.toContain('9153');
    // The observed name is allowed through toFQDNs, which needs that proxy rule.
    expect(JSON.stringify(prometheus)).toContain('api.example.com');
  });
});

describe('workloads with no running pods', () => {
  it("another workload's selector never selects the pods a scaled-to-zero Deployment or an idle CronJob will create", () => {
    const shop = (component: string) => ({ 'app.kubernetes.io/name': 'shop', 'app.kubernetes.io/component': component });
    const web = deploymentPod('shop', 'web', '10.244.0.5', shop('web'));
    const db = statefulSetPod('shop', 'postgres', 0, '10.244.0.6');
    const cluster = inventory({
      nodes: [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: ['10.244.0.0/24'] }],
      pods: [web, db],
      controllers: [
        { kind: 'Deployment', namespace: 'shop', name: 'web', owners: [], selector: shop('web'), templateLabels: shop('web') },
        { kind: 'ReplicaSet', namespace: 'shop', name: 'web-6c9f7d8b5d', owners: [{ kind: 'Deployment', name: 'web', controller: true }], templateLabels: { ...shop('web'), 'pod-template-hash': '6c9f7d8b5d' } },
        { kind: 'Deployment', namespace: 'shop', name: 'worker', owners: [], replicas: 0, selector: shop('worker'), templateLabels: shop('worker') },
        { kind: 'CronJob', namespace: 'shop', name: 'report', owners: [], schedule: '0 3 * * *', templateLabels: shop('report') },
      ],
    });
    const identity = new IdentityResolver(cluster);
    const learner = new Learner(identity);
    learner.ingestFlow(flow(endpoint('10.244.0.5', 40000), endpoint('10.244.0.6', 5432), { time: T0 }));
    const result = generatePolicies(learner, identity, { flavor: 'networkpolicy' });
    const objects = new Map(result.namespaces.flatMap((ns) => ns.objects).map((o) => [o.metadata.name, o.spec as Record<string, unknown>]));
    // `app.kubernetes.io/name: shop` alone would also select worker's and report's pods once they start.
    expect(objects.get('hivewall-web')?.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/component': 'web' } });
    expect(JSON.stringify(objects.get('hivewall-postgres')?.ingress)).toContain('"matchLabels":{"app.kubernetes.io/component":"web"}');
  });
});

describe('NetworkPolicy peers that need addresses', () => {
  const generate = (cluster: Parameters<typeof inventory>[0], flows: Parameters<Learner['ingestFlow']>[0][], podCidrs: string[] = []) => {
    const identity = new IdentityResolver(inventory(cluster), { podCidrs });
    const learner = new Learner(identity);
    for (const f of flows) learner.ingestFlow(f);
    const result = generatePolicies(learner, identity, { flavor: 'networkpolicy' });
    const ns = result.namespaces.find((n) => n.namespace === 'shop')!;
    return { ns, byName: new Map(ns.objects.map((o) => [o.metadata.name, o.spec as Record<string, unknown>])) };
  };

  it('pod → host egress without node addresses is reported as a dropped rule, not left out silently', () => {
    const web = deploymentPod('shop', 'web', '10.244.0.5');
    const { ns, byName } = generate({ pods: [web] }, [flow(endpoint('10.244.0.5', 40000), endpoint('172.18.0.2', 10250, { reserved: 'host' }), { time: T0 })]);
    expect(byName.get('hivewall-web')?.egress).toBeUndefined();
    expect(ns.model.droppedRules).toEqual([expect.objectContaining({ direction: 'egress', peer: 'en:host', reason: expect.stringMatching(/nodes' addresses/) })]);
  });

  it("public ingress covers the IP families its clients used, each excepting that family's pod CIDRs (nodes' and --pod-cidr)", () => {
    const frontend = deploymentPod('shop', 'frontend', '10.0.0.5', {}, { ips: ['10.0.0.5', 'fd00:10::5'] });
    const lb = service('shop', 'frontend', { type: 'LoadBalancer', clusterIPs: ['10.96.1.1'], selector: { 'app.kubernetes.io/name': 'frontend' }, ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }] });
    const cluster = { nodes: [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: [] }], pods: [frontend], services: [lb] };
    const from = (client: string) => flow(endpoint(client, 50000), endpoint(client.includes(':') ? 'fd00:10::5' : '10.0.0.5', 8080), { time: T0 });
    const ingress = (flows: ReturnType<typeof from>[]) => generate(cluster, flows, ['10.0.0.0/16', 'fd00:10::/64']).byName.get('hivewall-frontend')?.ingress;
    expect(ingress([from('203.0.113.7')])).toEqual([{ from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/16'] } }], ports: [{ protocol: 'TCP', port: 8080 }] }]);
    expect(ingress([from('203.0.113.7'), from('2001:db8::5')])).toEqual([{
      from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/16'] } }, { ipBlock: { cidr: '::/0', except: ['fd00:10::/64'] } }],
      ports: [{ protocol: 'TCP', port: 8080 }],
    }]);
  });
});
