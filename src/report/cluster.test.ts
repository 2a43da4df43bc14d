import { describe, expect, it } from 'vitest';
import { policyProposalSchema, type PolicyProposal } from '../api/policy-proposal.js';
import { segmentationSchema, type Segmentation } from '../api/segmentation.js';
import { trafficProfileSchema } from '../api/traffic-profile.js';
import { graphEdges } from '../domain/graph.js';
import type { KubernetesObject } from '../domain/translate/networkpolicy.js';
import { auditFindings, auditPeerKey, chooseProposal, clusterReportInput, proposedNamespace, type LiveState, type NamespaceObjects } from './cluster.js';
import { clusterScenario, withSafetyNet, type ClusterScenario, type ScenarioFlavor } from '../testing/report-scenario.js';
import type { ReportData, ReportEdge } from './data.js';
import { describeLiveRule, enforcedEdges, proposalFacts } from './enforced.js';
import { buildReportData } from './model.js';

const NS = 'shop';

function objects(s: ClusterScenario, live: LiveState | 'api' = 'api', proposal?: string): NamespaceObjects {
  const segmentation = segmentationSchema.parse(s.segmentation);
  const proposals = s.proposals.map((p) => policyProposalSchema.parse(p));
  const chosen = proposal !== undefined ? proposals.find((p) => p.metadata.name === proposal) : chooseProposal(proposals, 'shop');
  return {
    segmentation,
    profile: trafficProfileSchema.parse(s.profile),
    proposals,
    ...(chosen ? { proposal: chosen } : {}),
    live: live === 'api' ? { from: 'api', policies: s.live } : live,
  };
}

function report(ns: NamespaceObjects): { data: ReportData; notes: readonly string[]; edge: (client: string, server: string, port?: number) => ReportEdge } {
  const r = clusterReportInput([ns]);
  const data = buildReportData(r.input);
  const key = (id: string) => data.nodes.find((n) => n.id === id)!.key;
  return {
    data,
    notes: r.notes,
    edge: (client, server, port) => {
      const e = data.edges.find((x) => key(x.source) === client && key(x.target) === server && (port === undefined || x.port === port));
      if (!e) throw new Error(`no edge ${client} -> ${server}`);
      return e;
    },
  };
}

describe.each<ScenarioFlavor>(['NetworkPolicy', 'CiliumNetworkPolicy'])('the cluster report of a namespace (%s)', (flavor) => {
  const s = clusterScenario(NS, flavor);
  const k = s.keys;

  it('has the TrafficProfile\'s graph: every learned edge, with its counts and times', () => {
    const ns = objects(s);
    const r = clusterReportInput([ns]);
    const profile = ns.profile.spec;
    expect(r.input.graph.size).toBe(profile.edges.length);
    expect(graphEdges(r.input.graph).map((e) => `${e.client} ${e.server} ${e.port}/${e.protocol} ${e.count}`).sort())
      .toEqual(profile.edges.map(([c, sv, port, proto, count]) => `${profile.peers[c!]} ${profile.peers[sv!]} ${port}/${['TCP', 'UDP'][proto!]} ${count}`).sort());
    expect(r.input.stats).toMatchObject({ flows: profile.flows, lostEvents: 3 });
    expect(r.input.flavor).toBe(flavor === 'CiliumNetworkPolicy' ? 'cilium' : 'networkpolicy');
    expect(r.input.title).toBe('hivewall report: namespace shop');
  });

  it('tells proposed, enforced and would-deny edges apart', () => {
    const { data, edge } = report(objects(s));
    expect(data.summary).toMatchObject({ workloads: 6, entities: 4, edges: 10, byStatus: { enforced: 7, proposed: 1, 'would-deny': 2, unmanaged: 0 } });
    for (const [client, server] of [[k.web, k.api], [k.api, k.db], [k.web, k.coredns], [k.api, k.coredns], [k.api, 'en:world:203.0.113.50'], ['en:world:198.51.100.9', k.web], ['en:host', k.web]]) {
      expect(edge(client!, server!).status, `${client} -> ${server}`).toBe('enforced');
    }
    expect(edge(k.web, k.cache).status).toBe('proposed');
    expect(edge(k.web, k.cache).enforced).toEqual([]);
    expect(edge(k.worker, k.db)).toMatchObject({ status: 'would-deny', wouldDeny: { count: 4, reasons: ['audit of shop-r1'], lastSeen: '2026-11-02T11:20:00.000Z' }, gaps: [] });
    expect(edge('en:world:192.0.2.66', k.api)).toMatchObject({ status: 'would-deny', count: 0, wouldDeny: { count: 2 } });
  });

  it('shows the current proposal\'s rules with their evidence as proposed', () => {
    const { data, edge } = report(objects(s));
    // The default deny and one policy per workload of the namespace: web, api, db, worker, cache.
    expect(data.summary.policies).toBe(6);
    const webApi = edge(k.web, k.api);
    // Rule numbers are positions in the written objects (web's egress: DNS first, then api).
    expect(webApi.proposed).toEqual([
      { namespace: NS, policy: 'hivewall-api', direction: 'ingress', rule: 1, description: 'from shop/Deployment/web on 8080/TCP' },
      { namespace: NS, policy: 'hivewall-web', direction: 'egress', rule: 2, description: 'to shop/Deployment/api on 8080/TCP' },
    ]);
    const dns = edge(k.web, k.coredns);
    expect(dns.proposed.map((r) => [r.policy, r.direction, r.allowance])).toEqual([['hivewall-web', 'egress', 'dns']]);
    // Revision 2 (pending) is the current one: it has worker → db and web → cache.
    expect(edge(k.worker, k.db).proposed.map((r) => r.policy).sort()).toEqual(['hivewall-db', 'hivewall-worker']);
    expect(data.nodes.find((n) => n.key === k.web)!.policy).toEqual({ namespace: NS, name: 'hivewall-web', matchLabels: { app: 'web' } });
  });

  it('names the live rules that allow each enforced edge', () => {
    const { edge } = report(objects(s));
    const rules = edge(k.web, k.api).enforced!;
    expect(rules.map((r) => [r.policy, r.direction, r.rule])).toEqual([['hivewall-web', 'egress', 2], ['hivewall-api', 'ingress', 1]]);
    expect(rules[0]!.description).toBe(flavor === 'NetworkPolicy' ? 'to pods {app=api} on 8080/TCP' : 'to endpoints {app=api} on 8080/TCP');
    const dns = edge(k.web, k.coredns).enforced!;
    expect(dns[0]!.description).toBe(flavor === 'NetworkPolicy'
      ? 'to pods {k8s-app=kube-dns} in namespace kube-system on 53/TCP, 53/UDP'
      : 'to endpoints {k8s-app=kube-dns} in namespace kube-system on 53/TCP, 53/UDP');
    const probe = edge('en:host', k.web).enforced!;
    expect(probe).toHaveLength(1);
    expect(probe[0]).toMatchObject(flavor === 'NetworkPolicy'
      ? { policy: 'hivewall-web', direction: 'ingress', description: 'from the pod\'s own node: always allowed, a pod cannot block its node' }
      : { policy: 'hivewall-web', direction: 'ingress', description: 'from entity host on 8080/TCP' });
  });

  it('shows nothing as enforced when nothing is live, and says nothing about enforcement when it is unknown', () => {
    for (const live of [{ from: 'api', policies: [] }, { from: 'unknown' }] as const) {
      const { data } = report(objects(s, live));
      expect(data.summary.byStatus).toEqual({ enforced: 0, proposed: 8, 'would-deny': 2, unmanaged: 0 });
      expect(data.edges.every((e) => e.enforced === undefined)).toBe(true);
    }
  });

  it('judges the approved proposal\'s objects when the status vouches for them', () => {
    const approved = policyProposalSchema.parse(s.proposals[0]);
    const { data } = report(objects(s, { from: 'status', proposal: 'shop-r1', policies: approved.spec.content.objects as unknown as KubernetesObject[] }));
    expect(data.summary.byStatus).toEqual({ enforced: 7, proposed: 1, 'would-deny': 2, unmanaged: 0 });
  });

  it('shows another revision with --proposal', () => {
    const { data, edge } = report(objects(s, 'api', 'shop-r1'));
    // r1 has no rule for worker → db or web → cache: the proposal would deny them.
    expect(edge(k.web, k.cache)).toMatchObject({ status: 'would-deny', proposed: [] });
    expect(edge(k.web, k.cache).gaps).toEqual(['no egress rule of shop/Deployment/web allows it', 'no ingress rule of shop/Deployment/cache allows it']);
    expect(edge(k.worker, k.db).proposed).toEqual([]);
    expect(data.summary.policies).toBe(4);
  });
});

describe('live policies that drifted from the proposal', () => {
  const s = clusterScenario(NS);
  const k = s.keys;
  it('an edge whose live rule was changed by hand is no longer enforced', () => {
    const live = s.live.map((o) => {
      if (o.metadata.name !== 'hivewall-db') return o;
      const copy = structuredClone(o) as KubernetesObject & { spec: { ingress: { ports: { port: number }[] }[] } };
      for (const rule of copy.spec.ingress) rule.ports[0]!.port = 5433;
      return copy;
    });
    const { edge, data } = report(objects(s, { from: 'api', policies: live }));
    expect(edge(k.api, k.db).status).toBe('proposed');
    expect(edge(k.api, k.db).enforced).toEqual([]);
    expect(data.summary.byStatus.enforced).toBe(6);
  });

  it('a live policy selecting by a label no proposal knows is not seen to match: enforcement is missed, never invented', () => {
    const extra: KubernetesObject = {
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
      metadata: { name: 'hivewall-cache', namespace: NS, labels: { 'app.kubernetes.io/managed-by': 'hivewall' } },
      spec: { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'cache' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ protocol: 'TCP', port: 6379 }] }] },
    };
    const { edge } = report(objects(s, { from: 'api', policies: [...s.live, extra] }));
    expect(edge(k.web, k.cache).status).toBe('proposed');
  });
});

describe('notes', () => {
  it('says when the audit counted more than the status samples, and when there is no proposal yet', () => {
    const { proposal: _omit, ...ns } = objects(clusterScenario(NS), { from: 'unknown' });
    const { notes } = report({ ...ns, proposals: [] });
    expect(notes).toEqual([
      'segmentation shop/shop has no PolicyProposal yet (phase Enforcing): no edge is shown as proposed',
      'segmentation shop/shop: the audit counted 9 would-deny flows; the status samples 6 of them, and only those are in the report',
    ]);
  });

  it('without a proposal no edge is proposed and none is a gap', () => {
    const s = clusterScenario(NS);
    const { proposal: _omit, ...ns } = objects(s, { from: 'unknown' });
    const { data } = report({ ...ns, proposals: [] });
    expect(data.summary.byStatus).toEqual({ enforced: 0, proposed: 0, 'would-deny': 2, unmanaged: 8 });
    expect(data.summary.policies).toBe(0);
  });
});

describe('the safety net in the cluster report: denied while enforced, rollbacks, coverage', () => {
  const s = clusterScenario(NS);
  const k = s.keys;
  const rolledBack = (): NamespaceObjects => withSafetyNet(objects(s), k);

  it('marks the edges the enforced policies denied, with counts, times, rollback and whether the proposal proposes them', () => {
    const { data, edge } = report(rolledBack());
    expect(edge(k.web, k.cache)).toMatchObject({
      status: 'would-deny',
      denied: { count: 25, since: '2026-11-02T11:30:00.000Z', last: '2026-11-02T11:31:00.000Z', rolledBack: true, proposed: true },
    });
    // A denied edge the graph never learned becomes an edge of its own.
    expect(edge(k.worker, 'en:world:203.0.113.99')).toMatchObject({ status: 'would-deny', count: 0, denied: { count: 2, rolledBack: false, proposed: false } });
    expect(data.summary.denied).toBe(2);
    expect(data.edges.filter((e) => !e.denied).every((e) => e.denied === undefined)).toBe(true);
  });

  it('lists the rollback and the proposal\'s coverage gaps (linked to the workload when it is on the graph)', () => {
    const { data } = report(rolledBack());
    expect(data.rollbacks).toEqual([{ namespace: NS, proposal: 'shop-r1', at: '2026-11-02T11:31:05.000Z', workloads: [`${NS}/Deployment/web`], policies: ['hivewall-default-deny', 'hivewall-web'] }]);
    const worker = data.nodes.find((n) => n.key === k.worker)!.id;
    expect(data.coverage).toEqual([
      { namespace: NS, workload: `${NS}/CronJob/weekly-report`, reason: 'CronJobPeriodLongerThanWindow', message: 'runs every 7d, longer than the 1h learning window' },
      { namespace: NS, workload: `${NS}/Deployment/worker`, node: worker, reason: 'ScaledToZero', message: 'scaled to zero for most of the window' },
    ]);
  });

  it('an edge only remembered in a proposal\'s evidence (denied under an older enforcement) is marked, not shown as denied now', () => {
    const ns = rolledBack();
    const { enforcement: _e, ...status } = ns.segmentation.status!;
    const { data, edge } = report({ ...ns, segmentation: { ...ns.segmentation, status } });
    expect(edge(k.web, k.cache)).toMatchObject({ status: 'proposed', denied: { count: 25, rolledBack: false, proposed: true } });
    expect(data.rollbacks).toBeUndefined();
  });

  it('nothing denied and no coverage gap: the data has neither', () => {
    const { data } = report(objects(s));
    expect(data.summary.denied).toBeUndefined();
    expect(data.edges.some((e) => e.denied)).toBe(false);
    expect(data.coverage).toEqual([]); // known: the shown proposal names no gap
    expect(data.rollbacks).toBeUndefined();
  });
});

describe('chooseProposal', () => {
  const s = clusterScenario(NS);
  const [r1, r2] = s.proposals.map((p) => policyProposalSchema.parse(p)) as [PolicyProposal, PolicyProposal];
  const superseded = { ...r2, status: { phase: 'Superseded' as const } };
  const r3 = { ...r2, metadata: { ...r2.metadata, name: 'shop-r3' }, spec: { ...r2.spec, content: { ...r2.spec.content, revision: 3 } } };
  it.each<[string, PolicyProposal[], string | undefined, string | undefined]>([
    ['the newest', [r1, r2], undefined, 'shop-r2'],
    ['the newest not superseded', [r1, superseded], undefined, 'shop-r1'],
    ['a newer one of another Segmentation is not ours', [r1, { ...r3, spec: { ...r3.spec, content: { ...r3.spec.content, segmentation: 'other' } } }], undefined, 'shop-r1'],
    ['the one named', [r1, r2, r3], 'shop-r1', 'shop-r1'],
    ['none', [], undefined, undefined],
  ])('%s', (_name, list, name, want) => {
    expect(chooseProposal(list, 'shop', name)?.metadata.name).toBe(want);
  });
});

describe('stored proposal parts', () => {
  it('keeps skipped workloads and dropped rules (the structured leftOut, not the text), and counts every object', () => {
    const raw = clusterScenario(NS).proposals[1]!;
    const p = policyProposalSchema.parse(raw);
    const leftOut = [
      { workload: 'wl:shop/Pod/debug', reason: 'no unique selector: bare pod' },
      { workload: 'wl:shop/Deployment/web', direction: 'egress' as const, peer: 'en:world:192.0.2.1', reason: 'ICMP' },
    ];
    const withSkips = { ...p, spec: { ...p.spec, content: { ...p.spec.content, skipped: ['unparsed text the report must not read'], leftOut } } };
    const ns = proposedNamespace(withSkips);
    expect(ns.policies).toBe(p.spec.content.objects.length);
    expect(ns.skipped).toEqual([{ workload: 'wl:shop/Pod/debug', reason: 'no unique selector: bare pod' }]);
    expect(ns.droppedRules).toEqual([{ workload: 'wl:shop/Deployment/web', direction: 'egress', peer: 'en:world:192.0.2.1', reason: 'ICMP' }]);
    expect(ns.workloads.map((w) => w.workload).sort()).toEqual(['wl:shop/Deployment/api', 'wl:shop/Deployment/cache', 'wl:shop/Deployment/web', 'wl:shop/Deployment/worker', 'wl:shop/StatefulSet/db']);
  });
});

describe('audit samples as peer keys', () => {
  const known = new Set(['wl:shop/Deployment/web', 'wl:shop/Deployment/web-api', 'wl:shop/StatefulSet/db', 'wl:shop/DaemonSet/agent', 'wl:shop/CronJob/report', 'wl:shop/Job/migrate', 'wl:shop/Pod/debug', 'en:remote-node:10.0.0.2']);
  it.each([
    ['shop/web-7d9c5b-abcde', 'wl:shop/Deployment/web'],
    ['shop/web-api-7d9c5b-abcde', 'wl:shop/Deployment/web-api'],
    ['shop/db-0', 'wl:shop/StatefulSet/db'],
    ['shop/agent-x7k2p', 'wl:shop/DaemonSet/agent'],
    ['shop/report-29012345-abcde', 'wl:shop/CronJob/report'],
    ['shop/migrate-q2w3e', 'wl:shop/Job/migrate'],
    ['shop/debug', 'wl:shop/Pod/debug'],
    ['shop/unknown-1234', 'wl:shop/Pod/unknown-1234'],
    ['shop/Deployment/search', 'wl:shop/Deployment/search'],
    ['world 192.0.2.66', 'en:world:192.0.2.66'],
    ['host 10.0.0.1', 'en:host'],
    ['kube-apiserver 10.0.0.1', 'en:kube-apiserver:10.0.0.1'],
    ['10.0.0.2', 'en:remote-node:10.0.0.2'],
    ['198.51.100.1', 'en:world:198.51.100.1'],
  ])('%s → %s', (text, key) => {
    expect(auditPeerKey(text, known)).toBe(key);
  });

  it('uses the peer keys the operator recorded with a finding, not pod-name matching', () => {
    const segmentation = {
      apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', metadata: { namespace: 'shop', name: 'shop' }, spec: {},
      status: { approvedProposal: 'shop-r1', audit: { flows: 3, wouldDeny: 3, samples: [
        { time: '2026-01-01T00:00:00Z', client: 'shop/unknown-1234', server: 'shop/debug', port: 80, protocol: 'TCP', count: 3, clientKey: 'wl:shop/StatefulSet/unknown', serverKey: 'wl:shop/Deployment/web' },
      ] } },
    } as unknown as Parameters<typeof auditFindings>[0];
    expect(auditFindings(segmentation, known).edges).toEqual([expect.objectContaining({ client: 'wl:shop/StatefulSet/unknown', server: 'wl:shop/Deployment/web', count: 3 })]);
  });
});

describe('enforcedEdges', () => {
  it('judges nothing without live policies, and skips ICMP and entities without an address', () => {
    const edge = { client: 'wl:a/Deployment/x', server: 'wl:a/Deployment/y', port: 80, protocol: 'TCP' };
    expect(enforcedEdges({ edges: [edge], policies: [], workloadLabels: new Map(), enforcer: 'generic' })).toEqual([]);
    const deny: KubernetesObject = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'allow-all', namespace: 'a' }, spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] } };
    const got = enforcedEdges({ edges: [edge, { ...edge, port: 0, protocol: 'ICMPv4' }, { ...edge, client: 'en:world' }], policies: [deny], workloadLabels: new Map(), enforcer: 'generic' });
    expect(got).toEqual([{ ...edge, rules: [{ namespace: 'a', policy: 'allow-all', direction: 'ingress', rule: 1, description: 'from anywhere on any port' }] }]);
  });

  it('judges a workload talking to itself as two pods', () => {
    const self = { client: 'wl:a/Deployment/x', server: 'wl:a/Deployment/x', port: 80, protocol: 'TCP' };
    const policy: KubernetesObject = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'x', namespace: 'a' }, spec: { podSelector: { matchLabels: { app: 'x' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'x' } } }], ports: [{ port: 80 }] }] } };
    const labels = new Map([['wl:a/Deployment/x', { app: 'x' }]]);
    expect(enforcedEdges({ edges: [self], policies: [policy], workloadLabels: labels, enforcer: 'generic' })[0]?.rules).toEqual([{ namespace: 'a', policy: 'x', direction: 'ingress', rule: 1, description: 'from pods {app=x} on 80/TCP' }]);
  });

  it('learns workload labels from policy selectors and from the rules behind each edge, and node addresses from host rules', () => {
    const facts = proposalFacts([{
      namespace: 'a',
      objects: [
        { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'hivewall-x', namespace: 'a', annotations: { 'hivewall.dev/workload': 'Deployment/x' } }, spec: { podSelector: { matchLabels: { app: 'x' } }, egress: [
          { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'b' } }, podSelector: { matchLabels: { app: 'y' } } }], ports: [{ port: 80 }] },
          { to: [{ ipBlock: { cidr: '10.0.0.1/32' } }, { ipBlock: { cidr: '10.0.0.2/32' } }], ports: [{ port: 10250 }] },
        ] } },
      ],
      evidence: [
        { policy: 'hivewall-x', direction: 'egress', index: 0, edges: [{ client: 'wl:a/Deployment/x', server: 'wl:b/Deployment/y', port: 80, protocol: 'TCP' }] },
        { policy: 'hivewall-x', direction: 'egress', index: 1, edges: [{ client: 'wl:a/Deployment/x', server: 'en:host', port: 10250, protocol: 'TCP' }] },
      ],
    }]);
    expect(Object.fromEntries(facts.workloadLabels)).toEqual({ 'wl:a/Deployment/x': { app: 'x' }, 'wl:b/Deployment/y': { app: 'y' } });
    expect(facts.hostIps).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it.each([
    ['NetworkPolicy', 'ingress', { from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.244.0.0/16'] } }], ports: [{ protocol: 'TCP', port: 8080 }] }, 'from ipBlock 0.0.0.0/0 except 10.244.0.0/16 on 8080/TCP'],
    ['NetworkPolicy', 'egress', { to: [{ namespaceSelector: { matchLabels: { team: 'a' } } }] }, 'to all pods in namespaces {team=a} on any port'],
    ['NetworkPolicy', 'egress', { ports: [{ port: 53, protocol: 'UDP' }, { port: 30000, endPort: 32767 }] }, 'to anywhere on 53/UDP, 30000-32767/TCP'],
    ['CiliumNetworkPolicy', 'egress', { toFQDNs: [{ matchName: 'api.example' }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] }, 'to FQDN api.example on 443/TCP'],
    ['CiliumNetworkPolicy', 'ingress', { fromEntities: ['world'], fromCIDRSet: [{ cidr: '192.0.2.1/32' }] }, 'from entity world; CIDR 192.0.2.1/32 on any port'],
    ['CiliumNetworkPolicy', 'egress', { toEndpoints: [{ matchLabels: { app: 'db', 'k8s:io.kubernetes.pod.namespace': 'shop' } }] }, 'to endpoints {app=db} on any port'],
  ] as const)('describes a live %s %s rule', (kind, direction, rule, text) => {
    expect(describeLiveRule(rule, direction, kind, 'shop')).toBe(text);
  });
});

describe('Segmentation parsing', () => {
  it('accepts the scenario objects as the API would return them', () => {
    const s = clusterScenario(NS);
    const seg: Segmentation = segmentationSchema.parse(s.segmentation);
    expect(seg.status?.audit?.samples).toHaveLength(2);
  });
});
