/**
 * A namespace mid-way through hivewall's pipeline, as the operator writes it to the cluster, for
 * the tests of `kubectl hivewall report` (unit tests here, integration tests under test/plugin):
 * built with the operator's own functions (a Learner's edges, `buildProposal`, `toProfileSpec`).
 *
 * Workloads web, api, db (StatefulSet), worker, cache and kube-system's coredns; the world reaches
 * web, api calls an external API, the node probes web. Revision 1 (approved, enforced: its objects
 * are live) was proposed before worker → db and web → cache were seen; revision 2 (pending) has
 * them. The audit of r1 found worker's pod denied to db, and an outside address denied to api.
 *
 * Expected edge statuses: 7 enforced (allowed by the live r1 policies), web → cache proposed
 * (r2 only, no finding), worker → db and 192.0.2.66 → api would-deny (audit findings).
 */
import { API_VERSION } from '../api/meta.js';
import { WorkloadCatalog } from '../domain/catalog.js';
import type { EdgeRecord } from '../domain/edge-store.js';
import { IdentityResolver } from '../domain/identity.js';
import { emptyInventory } from '../domain/inventory.js';
import { Learner } from '../domain/learner.js';
import { buildProposal, type ProposalDraft } from '../domain/proposal.js';
import type { KubernetesObject } from '../domain/translate/networkpolicy.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../domain/translate/naming.js';
import { namespaceView, toProfileSpec } from '../domain/learning-state.js';
import type { NamespaceObjects } from '../report/cluster.js';
import { entityKey, workloadKey, type PeerKey } from '../domain/peer.js';

export const SCENARIO_T0 = Date.UTC(2026, 10, 2, 10, 0, 0);
/** When revision 1 was proposed: edges first seen later are only in revision 2. */
export const SCENARIO_T1 = SCENARIO_T0 + 3_600_000;

export type ScenarioFlavor = 'NetworkPolicy' | 'CiliumNetworkPolicy';

export interface ClusterScenario {
  readonly namespace: string;
  /** Raw API objects as the operator writes them. */
  readonly segmentation: Record<string, unknown>;
  readonly profile: Record<string, unknown>;
  readonly proposals: readonly Record<string, unknown>[];
  /** The policies live in the namespace (r1's objects, applied). */
  readonly live: readonly KubernetesObject[];
  /** Workload keys, for assertions. */
  readonly keys: { readonly web: string; readonly api: string; readonly db: string; readonly worker: string; readonly cache: string; readonly coredns: string };
}

const iso = (ms: number) => new Date(ms).toISOString();

export function clusterScenario(namespace: string, flavor: ScenarioFlavor = 'NetworkPolicy'): ClusterScenario {
  const wl = (kind: string, name: string, ns = namespace) => workloadKey(ns, kind, name);
  const keys = {
    web: wl('Deployment', 'web'),
    api: wl('Deployment', 'api'),
    db: wl('StatefulSet', 'db'),
    worker: wl('Deployment', 'worker'),
    cache: wl('Deployment', 'cache'),
    coredns: wl('Deployment', 'coredns', 'kube-system'),
  };
  const learner = new Learner(new IdentityResolver(emptyInventory));
  const t = (minutes: number) => SCENARIO_T0 + minutes * 60_000;
  const record = (client: PeerKey, server: PeerKey, port: number, protocol: 'TCP' | 'UDP', first: number, count: number, last: number) =>
    learner.edges.record(client, server, port, protocol, first, count, last);
  record(entityKey('world', '198.51.100.9'), keys.web, 8080, 'TCP', t(1), 7, t(50));
  record(entityKey('host'), keys.web, 8080, 'TCP', t(0), 60, t(59));
  record(keys.web, keys.api, 8080, 'TCP', t(0), 120, t(59));
  record(keys.api, keys.db, 5432, 'TCP', t(1), 33, t(50));
  record(keys.web, keys.coredns, 53, 'UDP', t(0), 250, t(59));
  record(keys.api, keys.coredns, 53, 'UDP', t(0), 90, t(58));
  record(keys.api, entityKey('world', '203.0.113.50'), 443, 'TCP', t(1), 12, t(30));
  // Seen after revision 1 was proposed.
  record(keys.worker, keys.db, 5432, 'TCP', t(70), 4, t(80));
  record(keys.web, keys.cache, 6379, 'TCP', t(75), 9, t(90));
  learner.dnsNames.add(keys.api, '203.0.113.50', 'api.payments.example');
  const pods: [string, string, string[]][] = [
    [keys.web, 'web-7d9c5b-abcde', ['app=web', 'tier=front', 'pod-template-hash=7d9c5b']],
    [keys.api, 'api-6f7d8-qwert', ['app=api', 'pod-template-hash=6f7d8']],
    [keys.db, 'db-0', ['app=db', 'statefulset.kubernetes.io/pod-name=db-0']],
    [keys.worker, 'worker-5d8f9c7b6-x2x9q', ['app=worker', 'pod-template-hash=5d8f9c7b6']],
    [keys.cache, 'cache-8b7c6-zxcvb', ['app=cache', 'pod-template-hash=8b7c6']],
    [keys.coredns, 'coredns-5d78c9869d-abcde', ['k8s-app=kube-dns', 'pod-template-hash=5d78c9869d']],
  ];
  for (const [key, pod, labels] of pods) learner.observedPods.set(key, new Map([[pod, labels]]));

  const view = namespaceView(learner, namespace);
  const catalog = WorkloadCatalog.build(new IdentityResolver(emptyInventory), learner.observedPods);
  const draft = (edges: readonly EdgeRecord[], live: readonly KubernetesObject[]): ProposalDraft => buildProposal({
    namespace,
    spec: { flavor, minFlowsPerEdge: 1, exclude: [], allowDns: true, allowPublicIngress: true, allowKubeApiserver: false, externalBy: 'FQDN' },
    edges,
    catalog,
    dnsNames: learner.dnsNames,
    apiserverIps: [],
    nodeIps: [],
    podCidrs: [],
    live,
    formatTime: iso,
  });
  const r1 = draft(view.edges.filter((e) => e.firstSeen < SCENARIO_T1), []);
  const live = r1.objects.map((o) => ({ ...o, metadata: { ...o.metadata } }));
  const r2 = draft(view.edges, live);

  const segmentation = 'shop';
  const labels = { 'hivewall.dev/segmentation': segmentation, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE };
  const proposal = (revision: number, d: ProposalDraft, decision: 'Pending' | 'Approved', phase: string) => ({
    apiVersion: API_VERSION,
    kind: 'PolicyProposal',
    metadata: { name: `${segmentation}-r${revision}`, namespace, labels },
    spec: {
      content: { segmentation, revision, flavor, digest: d.digest, objects: d.objects, evidence: d.evidence, diff: d.diff, skipped: d.skipped },
      review: decision === 'Approved' ? { decision, reviewer: 'rita', comment: 'matches the diagram', reviewedAt: iso(t(65)) } : { decision },
    },
    status: { phase },
  });
  return {
    namespace,
    keys,
    segmentation: {
      apiVersion: API_VERSION,
      kind: 'Segmentation',
      metadata: { name: segmentation, namespace },
      spec: { mode: 'Enforce', flavor },
      status: {
        observedGeneration: 1,
        phase: 'Enforcing',
        learning: { windowStart: iso(SCENARIO_T0), flows: view.flows, edges: view.edges.length, lastNewEdge: iso(t(75)), lostEvents: 3 },
        proposal: { name: `${segmentation}-r2`, revision: 2, decision: 'Pending' },
        approvedProposal: `${segmentation}-r1`,
        audit: {
          since: iso(t(66)),
          flows: 1200,
          wouldDeny: 9,
          samples: [
            { time: iso(t(80)), client: `${namespace}/worker-5d8f9c7b6-x2x9q`, server: `${namespace}/db-0`, port: 5432, protocol: 'TCP', count: 4 },
            { time: iso(t(85)), client: 'world 192.0.2.66', server: `${namespace}/api-6f7d8-qwert`, port: 8080, protocol: 'TCP', count: 2 },
          ],
        },
        enforcement: { policies: live.length, lastApplied: iso(t(70)), inSync: true, driftReverted: 0 },
      },
    },
    profile: {
      apiVersion: API_VERSION,
      kind: 'TrafficProfile',
      metadata: { name: segmentation, namespace, labels },
      spec: toProfileSpec(segmentation, view, learner.dnsNames, 3),
    },
    proposals: [proposal(1, r1, 'Approved', 'Enforced'), proposal(2, r2, 'Pending', 'Pending')],
    live,
  };
}

/**
 * The scenario's namespace after the safety net acted: web -> cache (6379) was denied 25 times
 * while shop-r1 was enforced and web's policy was rolled back; worker -> a world address was denied
 * twice; the shown proposal marks web -> cache as denied in its evidence and names two coverage
 * gaps (a weekly CronJob, the worker scaled to zero).
 */
export function withSafetyNet(ns: NamespaceObjects, k: ClusterScenario['keys']): NamespaceObjects {
  const namespace = ns.segmentation.metadata.namespace ?? 'default';
  const status = {
    ...ns.segmentation.status!,
    enforcement: {
      ...ns.segmentation.status!.enforcement!,
      denied: [
        { client: k.web, server: k.cache, port: 6379, protocol: 'TCP', count: 25, firstDenied: '2026-11-02T11:30:00.000Z', lastDenied: '2026-11-02T11:31:00.000Z' },
        { client: k.worker, server: 'en:world:203.0.113.99', port: 443, protocol: 'TCP', count: 2, firstDenied: '2026-11-02T11:30:30.000Z', lastDenied: '2026-11-02T11:30:40.000Z' },
      ],
      rolledBack: { proposal: 'shop-r1', at: '2026-11-02T11:31:05.000Z', workloads: [k.web], policies: ['hivewall-default-deny', 'hivewall-web'] },
    },
  };
  const proposal = ns.proposal!;
  const evidence = proposal.spec.content.evidence.map((rule) => ({
    ...rule,
    edges: rule.edges.map((e) => (e.client === k.web && e.server === k.cache
      ? { ...e, denied: { count: 25, since: '2026-11-02T11:30:00.000Z', note: 'denied 25 times since 2026-11-02T11:30:00.000Z while enforced' } }
      : e)),
  }));
  const coverage = [
    { workload: `${namespace}/CronJob/weekly-report`, reason: 'CronJobPeriodLongerThanWindow' as const, message: 'runs every 7d, longer than the 1h learning window' },
    { workload: `${namespace}/Deployment/worker`, reason: 'ScaledToZero' as const, message: 'scaled to zero for most of the window' },
  ];
  const shown = { ...proposal, spec: { ...proposal.spec, content: { ...proposal.spec.content, evidence, coverage } } };
  return { ...ns, segmentation: { ...ns.segmentation, status }, proposal: shown };
}
