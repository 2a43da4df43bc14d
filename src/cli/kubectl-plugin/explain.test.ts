// `kubectl hivewall explain` and host traffic: under NetworkPolicy a pod's own node (kubelet
// probes) needs no rule, so the proposal records its evidence with index -1 (src/domain/proposal.ts).
// explain counts only the rules written in the policy and shows host traffic as what it is, never
// as a rule `ingress/-1`.
import { describe, expect, it } from 'vitest';
import { buildProposal } from '../../domain/proposal.js';
import { WorkloadCatalog } from '../../domain/catalog.js';
import { IdentityResolver } from '../../domain/identity.js';
import { Learner } from '../../domain/learner.js';
import { deploymentPod, endpoint, flow, inventory } from '../../testing/builders.js';
import { readEvidence, renderSelection, renderSummary, ruleCount, withContentLine } from './explain.js';

const edge = (client: string, server: string, port: number, count: number) =>
  ({ client, server, port, protocol: 'TCP', count, firstSeen: '2026-11-02T10:00:03.412Z', lastSeen: '2026-11-02T10:59:58.001Z' });

const catalogPolicy = {
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
  metadata: { name: 'hivewall-catalog', namespace: 'shop', annotations: { 'hivewall.dev/workload': 'Deployment/catalog' } },
  spec: {
    podSelector: { matchLabels: { app: 'catalog' } }, policyTypes: ['Ingress', 'Egress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }],
    egress: [{ to: [{ podSelector: { matchLabels: { app: 'db' } } }], ports: [{ protocol: 'TCP', port: 5432 }] }],
  },
};

/** A NetworkPolicy proposal whose catalog policy has 1 ingress rule, 1 egress rule, and host (probe) evidence. */
const proposal = {
  metadata: { namespace: 'shop', name: 'shop-r2' },
  spec: {
    review: { decision: 'Pending' },
    content: {
      segmentation: 'shop', revision: 2, flavor: 'NetworkPolicy',
      objects: [
        { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'hivewall-default-deny', namespace: 'shop' }, spec: {} },
        catalogPolicy,
      ],
      evidence: [
        { policy: 'hivewall-catalog', direction: 'ingress', index: -1, peer: 'host', ports: ['8080/TCP'], edges: [edge('en:host', 'wl:shop/Deployment/catalog', 8080, 120)] },
        { policy: 'hivewall-catalog', direction: 'ingress', index: 0, peer: 'shop/Deployment/frontend', ports: ['8080/TCP'], edges: [edge('wl:shop/Deployment/frontend', 'wl:shop/Deployment/catalog', 8080, 90)] },
        { policy: 'hivewall-catalog', direction: 'egress', index: 0, peer: 'shop/StatefulSet/db', ports: ['5432/TCP'], edges: [edge('wl:shop/Deployment/catalog', 'wl:shop/StatefulSet/db', 5432, 40)] },
      ],
    },
  },
};

describe('explain: host traffic needs no rule', () => {
  it('the summary counts the written rules only, and says where host traffic is counted', () => {
    expect(renderSummary(proposal)).toBe([
      'policyproposal shop/shop-r2: segmentation shop, revision 2, 2 NetworkPolicy objects, Pending review',
      '',
      'POLICY                  WORKLOAD                   INGRESS RULES   EGRESS RULES   EDGES   FLOWS   ALLOWANCES',
      'hivewall-default-deny   (namespace default deny)   0               0              0       0       <none>',
      'hivewall-catalog        Deployment/catalog         1               1              3       250     <none>',
      '',
      'host traffic (node → pod, kubelet probes) is allowed without a rule: counted in EDGES and FLOWS, not in INGRESS RULES',
      '',
      'the evidence behind each rule: kubectl hivewall explain shop-r2 hivewall-catalog -n shop',
      '',
    ].join('\n'));
  });

  it('the policy view shows host traffic after the ingress rules, as host, never as ingress/-1', () => {
    const text = renderSelection(proposal, { policy: 'hivewall-catalog' });
    expect(text).toBe([
      'NetworkPolicy hivewall-catalog (Deployment/catalog) in policyproposal shop/shop-r2',
      '',
      'ingress/0: from shop/Deployment/frontend on 8080/TCP',
      '  observed: 1 edge, 90 flows',
      '    shop/Deployment/frontend → shop/Deployment/catalog   8080/TCP   90 flows   first seen 2026-11-02T10:00:03Z   last seen 2026-11-02T10:59:58Z',
      '',
      'host (node → pod, allowed without a rule): from host on 8080/TCP',
      '  no rule needed: under NetworkPolicy a pod\'s own node (kubelet probes) can always reach it',
      '  observed: 1 edge, 120 flows',
      '    host → shop/Deployment/catalog   8080/TCP   120 flows   first seen 2026-11-02T10:00:03Z   last seen 2026-11-02T10:59:58Z',
      '',
      'egress/0: to shop/StatefulSet/db on 5432/TCP',
      '  observed: 1 edge, 40 flows',
      '    shop/Deployment/catalog → shop/StatefulSet/db   5432/TCP   40 flows   first seen 2026-11-02T10:00:03Z   last seen 2026-11-02T10:59:58Z',
      '',
    ].join('\n'));
    expect(renderSelection(proposal, { policy: 'hivewall-catalog', direction: 'ingress' })).toContain('\nhost (node → pod, allowed without a rule)');
    expect(renderSelection(proposal, { policy: 'hivewall-catalog', direction: 'egress' })).not.toContain('host (node');
    // One rule by index: the written rule, not the host evidence.
    const rule = renderSelection(proposal, { policy: 'hivewall-catalog', direction: 'ingress', index: 0 });
    expect(rule).toContain('ingress/0: from shop/Deployment/frontend');
    expect(rule).not.toContain('host');
  });

  it('a wrong index lists the written rules only', () => {
    expect(() => renderSelection(proposal, { policy: 'hivewall-catalog', direction: 'ingress', index: 3 }))
      .toThrow('hivewall-catalog has no ingress/3 rule: its ingress rules are ingress/0');
    const probesOnly = structuredClone(proposal);
    probesOnly.spec.content.evidence = probesOnly.spec.content.evidence.filter((e) => !(e.direction === 'ingress' && e.index === 0));
    (probesOnly.spec.content.objects[1]!.spec as { ingress?: unknown[] }).ingress = [];
    expect(() => renderSelection(probesOnly, { policy: 'hivewall-catalog', direction: 'ingress', index: 0 }))
      .toThrow('hivewall-catalog has no ingress/0 rule: it has no ingress rules (its host traffic needs none)');
    expect(renderSelection(probesOnly, { policy: 'hivewall-catalog', direction: 'ingress' })).toContain('host (node → pod, allowed without a rule): from host on 8080/TCP');
  });

  it('rules the policy merged into one count once', () => {
    const merged = readEvidence({ spec: { content: { evidence: [
      { policy: 'p', direction: 'ingress', index: 0, peer: 'a', ports: ['80/TCP'], edges: [] },
      { policy: 'p', direction: 'ingress', index: 0, peer: 'b', ports: ['80/TCP'], edges: [] },
      { policy: 'p', direction: 'ingress', index: 1, peer: 'c', ports: ['80/TCP'], edges: [] },
      { policy: 'p', direction: 'ingress', index: -1, peer: 'host', ports: ['80/TCP'], edges: [] },
    ] } } });
    expect(ruleCount(merged, 'ingress')).toBe(2);
    expect(ruleCount(merged, 'egress')).toBe(0);
  });
});

describe('explain on a proposal the operator builds', () => {
  /** frontend: probed by the kubelet, reached from the world, calling cart; cart called by frontend. */
  function draft(flavor: 'NetworkPolicy' | 'CiliumNetworkPolicy') {
    const frontend = { ...deploymentPod('shop', 'frontend', '10.244.0.5', { tier: 'web' }), nodeName: 'node-a' };
    const cart = { ...deploymentPod('shop', 'cart', '10.244.1.7', { tier: 'cart' }), nodeName: 'node-b' };
    const cluster = inventory({
      nodes: [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: ['10.244.0.0/24'] }, { name: 'node-b', ips: ['172.18.0.3'], podCIDRs: ['10.244.1.0/24'] }],
      pods: [frontend, cart],
    });
    const identity = new IdentityResolver(cluster);
    const learner = new Learner(identity);
    const T0 = Date.UTC(2026, 10, 2, 10, 0, 0);
    let port = 40000;
    const f = (src: string, dst: string, dport: number) => learner.ingestFlow(flow(endpoint(src, port++), endpoint(dst, dport), { time: T0 + port }));
    f('172.18.0.2', '10.244.0.5', 8080); // kubelet probe of frontend
    f('172.18.0.3', '10.244.1.7', 8080); // kubelet probe of cart
    f('10.244.0.5', '10.244.1.7', 8080); // frontend → cart
    f('203.0.113.7', '10.244.0.5', 8080); // world → frontend
    const built = buildProposal({
      namespace: 'shop',
      spec: { flavor, minFlowsPerEdge: 1, exclude: [], allowDns: false, allowPublicIngress: false, externalBy: 'CIDR' },
      edges: learner.edges.edges(),
      catalog: WorkloadCatalog.build(identity, learner.observedPods),
      dnsNames: learner.dnsNames,
      apiserverIps: [],
      nodeIps: ['172.18.0.2', '172.18.0.3'],
      podCidrs: ['10.244.0.0/16'],
      live: [],
      formatTime: (ms) => new Date(ms).toISOString(),
    });
    return {
      objects: built.objects,
      proposal: { metadata: { namespace: 'shop', name: 'shop-r1' }, spec: { review: { decision: 'Pending' }, content: { segmentation: 'shop', revision: 1, flavor, objects: built.objects, evidence: built.evidence } } },
    };
  }

  const writtenRules = (objects: readonly { metadata: { name: string } }[], name: string, direction: 'ingress' | 'egress') =>
    ((objects.find((o) => o.metadata.name === name) as { spec?: Record<string, unknown[] | undefined> } | undefined)?.spec?.[direction] ?? []).length;

  it('NetworkPolicy: INGRESS RULES is the number of ingress rules the policy has; host probes show as host', () => {
    const { objects, proposal: p } = draft('NetworkPolicy');
    expect(p.spec.content.evidence.some((e) => e.index === -1 && e.peer === 'host' && e.direction === 'ingress')).toBe(true);
    const summary = renderSummary(p);
    for (const name of ['hivewall-frontend', 'hivewall-cart']) {
      const row = summary.split('\n').find((l) => l.startsWith(`${name} `))!.split(/\s{3,}/);
      expect(row.slice(2, 4), name).toEqual([String(writtenRules(objects, name, 'ingress')), String(writtenRules(objects, name, 'egress'))]);
    }
    // frontend: from the world and nothing else written (the probe needs no rule); cart: from frontend.
    expect(writtenRules(objects, 'hivewall-frontend', 'ingress')).toBe(1);
    expect(writtenRules(objects, 'hivewall-cart', 'ingress')).toBe(1);
    expect(summary).toContain('host traffic (node → pod, kubelet probes) is allowed without a rule');
    const frontend = renderSelection(p, { policy: 'hivewall-frontend' });
    expect(frontend).not.toMatch(/(ingress|egress)\/-1/);
    expect(frontend).toMatch(/^ingress\/0: from world 203\.0\.113\.7 on 8080\/TCP$/m);
    expect(frontend).toMatch(/^host \(node → pod, allowed without a rule\): from host on 8080\/TCP\n {2}no rule needed: .*\n {2}observed: 1 edge, 1 flow\n {4}host → shop\/Deployment\/frontend +8080\/TCP +1 flow /m);
    expect(frontend.indexOf('ingress/0:')).toBeLessThan(frontend.indexOf('host (node'));
  });

  it('CiliumNetworkPolicy: host ingress is a written rule (fromEntities host), counted like any other', () => {
    const { objects, proposal: p } = draft('CiliumNetworkPolicy');
    expect(p.spec.content.evidence.every((e) => e.index >= 0)).toBe(true);
    expect(writtenRules(objects, 'hivewall-frontend', 'ingress')).toBe(2);
    const row = renderSummary(p).split('\n').find((l) => l.startsWith('hivewall-frontend '))!.split(/\s{3,}/);
    expect(row[2]).toBe('2');
    expect(renderSummary(p)).not.toContain('host traffic');
    expect(renderSelection(p, { policy: 'hivewall-frontend', direction: 'ingress' })).toMatch(/^ingress\/\d: from host on 8080\/TCP$/m);
  });
});

describe('explain: denied edges and coverage, apart from what was learned', () => {
  const edge = { client: 'wl:shop/Deployment/frontend', server: 'wl:shop/StatefulSet/cart-redis', port: 6379, protocol: 'TCP', count: 12, firstSeen: '2026-12-05T12:00:00Z', lastSeen: '2026-12-05T12:00:01Z' };
  const note = 'denied 12 times since 2026-12-05T12:00:00.000Z while enforced';
  const proposal = {
    metadata: { namespace: 'shop', name: 'shop-r2' },
    spec: {
      review: { decision: 'Pending' },
      content: {
        segmentation: 'shop', revision: 2, flavor: 'NetworkPolicy', objects: [],
        evidence: [
          { policy: 'hivewall-cart-redis', direction: 'ingress', index: 0, peer: 'shop/Deployment/frontend', ports: ['6379/TCP'], edges: [{ ...edge, denied: { count: 12, since: '2026-12-05T12:00:00.000Z', note } }] },
          { policy: 'hivewall-frontend', direction: 'egress', index: 0, peer: 'shop/StatefulSet/cart-redis', ports: ['6379/TCP'], edges: [{ ...edge, denied: { count: 12, since: '2026-12-05T12:00:00.000Z', note } }] },
        ],
        coverage: [{ workload: 'shop/CronJob/weekly-audit', reason: 'CronJobDidNotRun', message: 'CronJob weekly-audit did not run during the learning window' }],
      },
    },
  };

  it('the summary lists the denied edge once and the coverage warnings', () => {
    const text = renderSummary(proposal);
    expect(text).toContain(`\ndenied while enforced (proposed so you can allow them; nothing allows them until you approve):\n  shop/Deployment/frontend → shop/StatefulSet/cart-redis 6379/TCP: ${note}\n`);
    expect(text).toContain('\ncoverage: traffic the learning window could not have seen (these workloads\' policies may deny what they do later):\n  shop/CronJob/weekly-audit CronJobDidNotRun: CronJob weekly-audit did not run during the learning window\n');
  });

  it('a rule shows its denied edge as denied', () => {
    expect(renderSelection(proposal, { policy: 'hivewall-cart-redis' })).toContain(`  DENIED while enforced: shop/Deployment/frontend → shop/StatefulSet/cart-redis 6379/TCP was ${note}; proposed for review, allowed only once approved`);
  });

  it('a proposal without either shows neither', () => {
    const plain = { ...proposal, spec: { ...proposal.spec, content: { ...proposal.spec.content, evidence: [{ ...proposal.spec.content.evidence[0]!, edges: [edge] }], coverage: [] } } };
    expect(renderSummary(plain)).not.toMatch(/denied while enforced|coverage:/);
  });
});

describe('explain: rules of the object that no evidence explains', () => {
  /** The catalog policy with an allow-all ingress rule `{}` added as ingress/1, and nothing recorded for it. */
  const widened = structuredClone(proposal);
  (widened.spec.content.objects[1]!.spec as { ingress: unknown[] }).ingress.push({});

  it('the summary counts the object\'s rules and names each one without evidence, as YAML', () => {
    const text = renderSummary(widened);
    expect(text).toMatch(/^hivewall-catalog +Deployment\/catalog +2 +1 +3 +250 +<none>$/m);
    expect(text).toContain('\nNO EVIDENCE: rules nothing observed or asked for explains; they allow more than the evidence shows '
      + '(kubectl hivewall explain shop-r2 <policy> -n shop):\n  hivewall-catalog ingress/1: NO EVIDENCE: allows {}\n');
  });

  it('the policy, direction and rule views show it in its place', () => {
    const text = renderSelection(widened, { policy: 'hivewall-catalog' });
    expect(text.match(/^(ingress|egress)\/\d+:.*$/gm)).toEqual([
      'ingress/0: from shop/Deployment/frontend on 8080/TCP',
      'ingress/1: NO EVIDENCE: allows {}',
      'egress/0: to shop/StatefulSet/db on 5432/TCP',
    ]);
    expect(renderSelection(widened, { policy: 'hivewall-catalog', direction: 'ingress', index: 1 }))
      .toBe('NetworkPolicy hivewall-catalog (Deployment/catalog) in policyproposal shop/shop-r2\n\n'
        + 'ingress/1: NO EVIDENCE: allows {}\n  no observed traffic and no allowance of the Segmentation explains this rule: do not approve it without knowing why it is there\n');
    expect(() => renderSelection(widened, { policy: 'hivewall-catalog', direction: 'ingress', index: 2 }))
      .toThrow('hivewall-catalog has no ingress/2 rule: its ingress rules are ingress/0, ingress/1');
  });

  it('a policy with rules and no evidence at all, Cilium\'s too, is not "no evidence recorded"', () => {
    const cilium = structuredClone(proposal);
    cilium.spec.content.flavor = 'CiliumNetworkPolicy';
    cilium.spec.content.evidence = [];
    cilium.spec.content.objects = [{
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'hivewall-catalog', namespace: 'shop', annotations: {} },
      spec: { endpointSelector: {}, egress: [{ toEntities: ['world'] }] },
    } as never];
    expect(renderSummary(cilium)).toMatch(/^hivewall-catalog +<none> +0 +1 +0 +0 +<none>$/m);
    expect(renderSummary(cilium)).toContain('  hivewall-catalog egress/0: NO EVIDENCE: allows {toEntities: [world]}\n');
    expect(renderSelection(cilium, { policy: 'hivewall-catalog' })).toContain('\negress/0: NO EVIDENCE: allows {toEntities: [world]}\n');
  });
});

describe('explain: the content shown, for approve --digest', () => {
  it('goes under the first line', () => {
    expect(withContentLine('first\nsecond\n', proposal)).toBe('first\ncontent <invalid content> (uid <none>): it cannot be approved\nsecond\n');
  });
});
