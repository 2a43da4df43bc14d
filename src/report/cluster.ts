/**
 * The report of what the operator wrote to the cluster (`kubectl hivewall report`), built from the
 * objects themselves. Pure: the plugin reads, this decides.
 *
 * - graph: the namespaces' TrafficProfiles restored into a Learner and built into a graph with the
 *   operator's own functions (`restoreProfile`, `buildGraph`), so nodes and edges are what it learned;
 * - proposed: a stored PolicyProposal's policies and the evidence recorded for each rule (no
 *   regeneration: the cluster inventory the operator used is not needed, and not re-guessed);
 * - enforced: what the live hivewall policies allow, judged by the policy simulator
 *   (`./enforced.ts`); absent when nothing is live, so the report never claims enforcement;
 * - would-deny: the audit findings in the Segmentation's status (samples, with counts and times);
 * - the safety net: edges the enforced policies denied and rollbacks (status.enforcement), denied
 *   edges the proposal proposes for review, and what its learning window could not have seen
 *   (spec.content.coverage);
 * - stats: the profiles' connections and the learner's lost events.
 */
import type { PolicyProposal } from '../api/policy-proposal.js';
import type { Segmentation } from '../api/segmentation.js';
import type { TrafficProfile } from '../api/traffic-profile.js';
import type { Flavor } from '../domain/generate.js';
import { buildGraph } from '../domain/graph.js';
import { IdentityResolver } from '../domain/identity.js';
import { emptyInventory } from '../domain/inventory.js';
import { Learner } from '../domain/learner.js';
import { annotatedWorkloadKey, entityKey, isWorkloadKey, isWorkloadOf, peerFromKey, workloadKey, workloadKeyOfId } from '../domain/peer.js';
import { DEFAULT_DENY_NAME, WORKLOAD_ANNOTATION } from '../domain/translate/naming.js';
import type { KubernetesObject } from '../domain/translate/networkpolicy.js';
import { restoreProfile } from '../domain/learning-state.js';
import { enforcedEdges, proposalFacts } from './enforced.js';
import type { CoverageGap, DeniedEnforcedEdge, EdgeIdentity, EnforcedEdge, ProposedNamespace, ReportInput, RollbackFact, WouldDenyEdge } from './input.js';

/** What is known about the live hivewall policies of a namespace. */
export type LiveState =
  /** Read from the API server (possibly none). */
  | { readonly from: 'api'; readonly policies: readonly KubernetesObject[] }
  /** Not readable, but the Segmentation status says they equal this (approved) proposal's objects. */
  | { readonly from: 'status'; readonly proposal: string; readonly policies: readonly KubernetesObject[] }
  /** Unknown: no edge of the namespace is judged. */
  | { readonly from: 'unknown' };

export interface NamespaceObjects {
  readonly segmentation: Segmentation;
  readonly profile: TrafficProfile;
  /** Every PolicyProposal of the Segmentation (any revision): they name the workloads' labels. */
  readonly proposals: readonly PolicyProposal[];
  /** The proposal the report shows as proposed; absent when there is none yet. */
  readonly proposal?: PolicyProposal;
  readonly live: LiveState;
}

export interface ClusterReportOptions {
  readonly title?: string;
  /** Where the data came from (the API server, the namespaces), shown under the title. */
  readonly source?: string;
}

export interface ClusterReport {
  readonly input: ReportInput;
  /** Things a reader should know about the data (one line each, no trailing newline). */
  readonly notes: readonly string[];
}

export function clusterReportInput(namespaces: readonly NamespaceObjects[], options: ClusterReportOptions = {}): ClusterReport {
  const notes: string[] = [];
  const learner = new Learner(new IdentityResolver(emptyInventory));
  for (const ns of namespaces) restoreProfile(learner, ns.profile.spec, ns.profile.metadata.namespace);
  const graph = buildGraph(learner.edges, learner.dnsNames);

  let connections = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  const edges: EdgeIdentity[] = [];
  for (const { attributes: a } of graph.edgeEntries()) {
    connections += a.count;
    first = Math.min(first, a.firstSeen);
    last = Math.max(last, a.lastSeen);
    edges.push({ client: a.client, server: a.server, port: a.port, protocol: a.protocol });
  }
  const lostEvents = Math.max(0, ...namespaces.map((ns) => Math.max(ns.profile.spec.lostEvents, ns.segmentation.status?.learning?.lostEvents ?? 0)));

  const proposed: ProposedNamespace[] = [];
  for (const ns of namespaces) {
    if (ns.proposal) proposed.push(proposedNamespace(ns.proposal));
    else notes.push(`${where(ns)} has no PolicyProposal yet (phase ${ns.segmentation.status?.phase ?? 'Learning'}): no edge is shown as proposed`);
  }

  const facts = proposalFacts(namespaces.flatMap((ns) => [...ns.proposals]
    .sort((a, b) => a.spec.content.revision - b.spec.content.revision)
    .map((p) => ({ namespace: namespaceOf(p), objects: p.spec.content.objects as unknown as KubernetesObject[], evidence: p.spec.content.evidence }))));

  const live = namespaces.flatMap((ns) => (ns.live.from === 'unknown' ? [] : ns.live.policies));
  const allCilium = namespaces.length > 0 && namespaces.every((ns) => ns.segmentation.spec.flavor === 'CiliumNetworkPolicy');
  let enforced: EnforcedEdge[] | undefined;
  if (live.length > 0) {
    enforced = enforcedEdges({ edges, policies: live, workloadLabels: facts.workloadLabels, dnsNames: learner.dnsNames, hostIps: facts.hostIps, enforcer: allCilium ? 'cilium' : 'generic' });
  }

  const known = new Set<string>([...graph.nodes(), ...facts.workloadLabels.keys()]);
  const wouldDeny: WouldDenyEdge[] = [];
  for (const ns of namespaces) {
    const found = auditFindings(ns.segmentation, known);
    wouldDeny.push(...found.edges);
    notes.push(...found.notes);
  }

  const safety = namespaces.map(safetyFacts);
  const denied = safety.flatMap((f) => f.denied);
  const coverage = safety.flatMap((f) => f.coverage);
  const rollbacks = safety.flatMap((f) => (f.rollback ? [f.rollback] : []));

  const flavor: Flavor = allCilium ? 'cilium' : 'networkpolicy';
  const names = namespaces.map((ns) => namespaceOf(ns.segmentation)).filter((n, i, all) => all.indexOf(n) === i).sort();
  return {
    notes,
    input: {
      graph,
      generated: [],
      proposed,
      flavor,
      title: options.title ?? `hivewall report: ${names.length === 1 ? `namespace ${names[0]}` : `${names.length} namespaces`}`,
      ...(options.source !== undefined ? { source: options.source } : {}),
      stats: {
        flows: connections,
        lostEvents,
        ...(Number.isFinite(first) ? { firstFlowAt: first, lastFlowAt: last } : {}),
      },
      ...(enforced ? { enforced } : {}),
      ...(wouldDeny.length > 0 ? { wouldDeny } : {}),
      ...(denied.length > 0 ? { denied } : {}),
      // Known whenever a proposal is shown (it records its window's coverage), even when clean.
      ...(namespaces.some((ns) => ns.proposal) ? { coverage } : {}),
      ...(rollbacks.length > 0 ? { rollbacks } : {}),
    },
  };
}

/**
 * The safety net's facts of one Segmentation: the edges its enforced policies denied
 * (`status.enforcement.denied`, rolled back when the denying workload's policy was removed), the
 * denied edges the shown proposal proposes (marked in its evidence), the rollback, and the
 * coverage warnings of the shown proposal (`spec.content.coverage`).
 */
export function safetyFacts(ns: Pick<NamespaceObjects, 'segmentation' | 'proposal'>): { denied: DeniedEnforcedEdge[]; coverage: CoverageGap[]; rollback?: RollbackFact } {
  const namespace = namespaceOf(ns.segmentation);
  const enforcement = ns.segmentation.status?.enforcement;
  const rolledBack = enforcement?.rolledBack;
  const removed = new Set(rolledBack?.workloads ?? []);
  const time = (text: string | undefined): number | undefined => {
    const ms = text === undefined ? Number.NaN : Date.parse(text);
    return Number.isFinite(ms) ? ms : undefined;
  };
  const denied: DeniedEnforcedEdge[] = [];
  for (const e of enforcement?.denied ?? []) {
    const first = time(e.firstDenied);
    const last = time(e.lastDenied);
    denied.push({ client: e.client, server: e.server, port: e.port, protocol: e.protocol, count: e.count, ...(first !== undefined ? { firstDenied: first } : {}), ...(last !== undefined ? { lastDenied: last } : {}), rolledBack: removed.has(e.client) || removed.has(e.server) });
  }
  for (const rule of ns.proposal?.spec.content.evidence ?? []) {
    for (const e of rule.edges) {
      if (!e.denied) continue;
      const since = time(e.denied.since);
      denied.push({ client: e.client, server: e.server, port: e.port, protocol: e.protocol, count: e.denied.count, ...(since !== undefined ? { firstDenied: since } : {}), proposed: true });
    }
  }
  const coverage: CoverageGap[] = (ns.proposal?.spec.content.coverage ?? []).flatMap((c) => {
    const workload = workloadKeyOfId(c.workload);
    return workload ? [{ namespace, workload, reason: c.reason, message: c.message }] : [];
  });
  return {
    denied,
    coverage,
    ...(rolledBack ? { rollback: { namespace, proposal: rolledBack.proposal, at: rolledBack.at, workloads: rolledBack.workloads, policies: rolledBack.policies } } : {}),
  };
}

const namespaceOf = (o: { readonly metadata: { readonly namespace?: string | undefined } }): string => o.metadata.namespace ?? 'default';
const where = (ns: NamespaceObjects): string => `segmentation ${namespaceOf(ns.segmentation)}/${ns.segmentation.metadata.name}`;

/**
 * The proposal of a Segmentation the report shows: the one named, else the newest revision that
 * was not superseded (the one under review, audited or enforced), else the newest.
 */
export function chooseProposal(proposals: readonly PolicyProposal[], segmentation: string, name?: string): PolicyProposal | undefined {
  if (name !== undefined) return proposals.find((p) => p.metadata.name === name);
  const own = proposals.filter((p) => p.spec.content.segmentation === segmentation).sort((a, b) => b.spec.content.revision - a.spec.content.revision);
  return own.find((p) => p.status?.phase !== 'Superseded') ?? own[0];
}

/** A stored proposal as the report's proposed policies: its objects, its rules with their evidence, what it left out. */
export function proposedNamespace(proposal: PolicyProposal): ProposedNamespace {
  const namespace = namespaceOf(proposal);
  const content = proposal.spec.content;
  const objects = content.objects as unknown as KubernetesObject[];
  const workloads: { workload: string; policy: string; matchLabels: Record<string, string> }[] = [];
  for (const o of objects) {
    const annotation = (o.metadata['annotations'] as Record<string, unknown> | undefined)?.[WORKLOAD_ANNOTATION];
    if (typeof annotation !== 'string' || o.metadata.name === DEFAULT_DENY_NAME) continue;
    const spec = (o['spec'] ?? {}) as Record<string, { matchLabels?: Record<string, string> } | undefined>;
    const key = annotatedWorkloadKey(o.metadata.namespace ?? namespace, annotation);
    if (key) workloads.push({ workload: key, policy: o.metadata.name, matchLabels: { ...((spec['podSelector'] ?? spec['endpointSelector'])?.matchLabels ?? {}) } });
  }
  const skipped: { workload: string; reason: string }[] = [];
  const droppedRules: { workload: string; direction: 'ingress' | 'egress'; peer: string; reason: string }[] = [];
  for (const item of content.leftOut) {
    if (item.direction !== undefined && item.peer !== undefined) droppedRules.push({ workload: item.workload, direction: item.direction, peer: item.peer, reason: item.reason });
    else skipped.push({ workload: item.workload, reason: item.reason });
  }
  return {
    namespace,
    policies: objects.length,
    workloads,
    rules: content.evidence.map((e) => ({
      namespace,
      policy: e.policy,
      direction: e.direction,
      ...(e.index >= 0 ? { rule: e.index + 1 } : {}),
      description: `${e.direction === 'ingress' ? 'from' : 'to'} ${e.peer || 'an unknown peer'} on ${e.ports.join(', ') || 'no port'}`,
      ...(e.allowance ? { allowance: e.allowance } : {}),
      edges: e.edges.map((x) => ({ client: x.client, server: x.server, port: x.port, protocol: x.protocol })),
    })),
    skipped,
    droppedRules,
  };
}

/** The audit findings of a Segmentation's status as would-deny edges (samples: counts and last times). */
export function auditFindings(segmentation: Segmentation, known: ReadonlySet<string>): { edges: WouldDenyEdge[]; notes: string[] } {
  const audit = segmentation.status?.audit;
  const samples = audit?.samples ?? [];
  const namespace = namespaceOf(segmentation);
  const reason = `audit of ${segmentation.status?.approvedProposal ?? 'the approved proposal'}`;
  const edges: WouldDenyEdge[] = [];
  const notes: string[] = [];
  for (const s of samples) {
    // The operator records the peer keys; older statuses name pods, matched by Kubernetes' pod naming.
    const client = s.clientKey ?? auditPeerKey(s.client, known);
    const server = s.serverKey ?? auditPeerKey(s.server, known);
    const time = Date.parse(s.time);
    edges.push({ client, server, port: s.port, protocol: s.protocol, count: s.count, reason, ...(Number.isFinite(time) ? { lastSeen: time } : {}) });
  }
  const sampled = samples.reduce((n, s) => n + s.count, 0);
  if ((audit?.wouldDeny ?? 0) > sampled) {
    notes.push(`segmentation ${namespace}/${segmentation.metadata.name}: the audit counted ${audit!.wouldDeny} would-deny flows; the status samples ${sampled} of them, and only those are in the report`);
  }
  return { edges, notes };
}

/**
 * An audit sample's endpoint (`<ns>/<pod>`, `<ns>/<Kind>/<name>`, `<reserved> <ip>` or an address)
 * as a peer key. A pod is matched to a known workload of its namespace by how Kubernetes names
 * the pods of each kind; a pod of no known workload stays a `Pod` of its own.
 */
export function auditPeerKey(text: string, known: ReadonlySet<string>): string {
  const parts = text.split('/');
  if (parts.length === 3 && parts.every((p) => p !== '' && !/\s/.test(p))) return workloadKey(parts[0]!, parts[1]!, parts[2]!);
  if (parts.length === 2 && parts.every((p) => p !== '' && !/\s/.test(p))) return podWorkload(parts[0]!, parts[1]!, known);
  const reserved = /^(\S+) (\S+)$/.exec(text);
  const ip = reserved ? reserved[2]! : text.trim();
  const entity = reserved?.[1];
  if (entity === 'host') return entityKey('host');
  if (entity === 'world' || entity === 'remote-node' || entity === 'kube-apiserver') return entityKey(entity, ip);
  // A bare address (or another reserved identity): the learned entity with that address, else the world.
  const learned = [...known].filter((k) => !isWorkloadKey(k) && k.endsWith(`:${ip}`)).sort()[0];
  return learned ?? entityKey('world', ip);
}

/** How each kind names its pods (generateName suffixes), after `<name>-`. */
const POD_SUFFIX: Readonly<Record<string, RegExp>> = {
  Deployment: /^[a-z0-9]{1,10}-[a-z0-9]{5}$/,
  ReplicaSet: /^[a-z0-9]{5}$/,
  DaemonSet: /^[a-z0-9]{5}$/,
  StatefulSet: /^\d+$/,
  Job: /^(\d+-)?[a-z0-9]{5}$/,
  CronJob: /^\d+-(\d+-)?[a-z0-9]{5}$/,
};

function podWorkload(namespace: string, pod: string, known: ReadonlySet<string>): string {
  let best: { key: string; name: string } | undefined;
  for (const key of known) {
    if (!isWorkloadOf(key, namespace)) continue;
    let peer;
    try {
      peer = peerFromKey(key);
    } catch {
      continue;
    }
    if (peer.type !== 'workload') continue;
    const matches = peer.kind === 'Pod'
      ? pod === peer.name
      : pod.startsWith(`${peer.name}-`) && (POD_SUFFIX[peer.kind]?.test(pod.slice(peer.name.length + 1)) ?? false);
    if (matches && (!best || peer.name.length > best.name.length || (peer.name.length === best.name.length && key < best.key))) best = { key, name: peer.name };
  }
  return best?.key ?? workloadKey(namespace, 'Pod', pod);
}
