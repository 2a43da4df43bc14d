/**
 * From learned graph + generated policies (+ live state, + would-deny findings) to the report's
 * JSON document. Pure and deterministic: nodes and edges in sorted order, ids by position,
 * times as UTC RFC 3339, coordinates from a deterministic layout.
 */
import { compareIps, hostCidr } from '../domain/ip.js';
import { isWorkloadKey, peerFromKey, peerKey, peerLabel, type Peer } from '../domain/peer.js';
import type { ModelPeer, ModelRule, PortSpec } from '../domain/policy-model.js';
import { policyNames, workloadId } from '../domain/translate/naming.js';
import type { EdgeStatus, ReportCoverage, ReportData, ReportEdge, ReportNamespace, ReportNode, ReportRollback, ReportRuleRef } from './data.js';
import type { EdgeIdentity, PolicyRuleRef, ReportInput } from './input.js';
import { edgeBends, layoutGraph } from './layout.js';

/** Namespace colours, in namespace order; chosen apart from the edge status colours (blue, green, red, grey). */
export const NAMESPACE_PALETTE: readonly string[] = [
  '#7c3aed', '#ea580c', '#0891b2', '#c026d3', '#ca8a04', '#4f46e5', '#0d9488', '#db2777', '#65a30d', '#9333ea', '#b45309', '#0284c7',
];

export function namespaceColor(index: number): string {
  const fixed = NAMESPACE_PALETTE[index];
  if (fixed !== undefined) return fixed;
  // Past the palette: golden-angle hues, fixed saturation and lightness.
  return `hsl(${Math.round((index * 137.508) % 360)}, 62%, 45%)`;
}

interface EdgeBuilder {
  readonly client: string;
  readonly server: string;
  readonly port: number;
  readonly protocol: string;
  count: number;
  firstSeen?: number;
  lastSeen?: number;
  readonly proposed: ReportRuleRef[];
  enforced?: ReportRuleRef[];
  wouldDeny?: { count: number; reasons: Set<string>; firstSeen?: number; lastSeen?: number };
  denied?: { count: number; first?: number; last?: number; rolledBack: boolean; proposed: boolean; live: boolean };
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined || !Number.isFinite(ms) ? undefined : new Date(ms).toISOString());

export function buildReportData(input: ReportInput): ReportData {
  const policyKind = input.flavor === 'cilium' ? 'CiliumNetworkPolicy' : 'NetworkPolicy';
  const edges = new Map<string, EdgeBuilder>();
  const ensureEdge = (e: EdgeIdentity): EdgeBuilder => {
    const key = identityKey(e);
    let b = edges.get(key);
    if (!b) edges.set(key, (b = { client: e.client, server: e.server, port: e.port, protocol: e.protocol, count: 0, proposed: [] }));
    return b;
  };
  for (const { source, target, attributes: a } of input.graph.edgeEntries()) {
    const b = ensureEdge({ client: source, server: target, port: a.port, protocol: a.protocol });
    b.count += a.count;
    b.firstSeen = Math.min(b.firstSeen ?? a.firstSeen, a.firstSeen);
    b.lastSeen = Math.max(b.lastSeen ?? a.lastSeen, a.lastSeen);
  }

  // Proposed: every rule of the generated model names the learned edges behind it.
  const scope = new Set([...input.generated.map((g) => g.namespace), ...(input.proposed ?? []).map((p) => p.namespace)]);
  const policyOf = new Map<string, { namespace: string; name: string; matchLabels: Readonly<Record<string, string>> }>();
  const skippedOf = new Map<string, string>();
  const droppedOf = new Map<string, string>();
  let policies = 0;
  for (const ns of input.generated) {
    policies += ns.objects.length;
    const names = policyNames(ns.model.workloads.map((w) => w.workload));
    for (const skip of ns.model.skipped) skippedOf.set(peerKey(skip.workload), skip.reason);
    for (const d of ns.model.droppedRules) droppedOf.set(`${peerKey(d.workload)} ${d.direction} ${d.peer}`, d.reason);
    for (const policy of ns.model.workloads) {
      const name = names.get(workloadId(policy.workload)) ?? `hivewall-${policy.workload.name}`;
      policyOf.set(peerKey(policy.workload), { namespace: ns.namespace, name, matchLabels: policy.matchLabels });
      for (const direction of ['ingress', 'egress'] as const) {
        const rules = direction === 'ingress' ? policy.ingress : policy.egress;
        rules.forEach((rule, i) => {
          const ref: ReportRuleRef = {
            namespace: ns.namespace,
            policy: name,
            direction,
            rule: i + 1,
            description: describeRule(rule, direction, ns.namespace, input.flavor),
            ...(rule.allowance ? { allowance: rule.allowance } : {}),
          };
          for (const evidence of rule.evidence) {
            const b = edges.get(identityKey(evidence));
            if (b) b.proposed.push(ref);
          }
        });
      }
    }
  }

  // Proposed, as a stored proposal records it: the same, from its objects and per-rule evidence.
  for (const ns of input.proposed ?? []) {
    policies += ns.policies;
    for (const skip of ns.skipped) skippedOf.set(skip.workload, skip.reason);
    for (const d of ns.droppedRules) droppedOf.set(`${d.workload} ${d.direction} ${d.peer}`, d.reason);
    for (const w of ns.workloads) policyOf.set(w.workload, { namespace: ns.namespace, name: w.policy, matchLabels: w.matchLabels });
    for (const rule of ns.rules) {
      const ref: ReportRuleRef = {
        namespace: rule.namespace,
        policy: rule.policy,
        direction: rule.direction,
        ...(rule.rule !== undefined ? { rule: rule.rule } : {}),
        description: rule.description,
        ...(rule.allowance ? { allowance: rule.allowance } : {}),
      };
      for (const evidence of rule.edges) {
        const b = edges.get(identityKey(evidence));
        if (b && !b.proposed.some((r) => sameRef(r, ref))) b.proposed.push(ref);
      }
    }
  }

  if (input.enforced) {
    for (const b of edges.values()) b.enforced = [];
    for (const e of input.enforced) {
      const b = ensureEdge(e);
      b.enforced ??= [];
      for (const r of e.rules) b.enforced.push(toRuleRef(r));
    }
  }
  for (const d of input.wouldDeny ?? []) {
    const b = ensureEdge(d);
    const w = (b.wouldDeny ??= { count: 0, reasons: new Set<string>() });
    w.count += d.count;
    w.reasons.add(d.reason);
    if (d.firstSeen !== undefined) w.firstSeen = Math.min(w.firstSeen ?? d.firstSeen, d.firstSeen);
    if (d.lastSeen !== undefined) w.lastSeen = Math.max(w.lastSeen ?? d.lastSeen, d.lastSeen);
  }

  // Denied while enforced: the highest count of each edge (status and evidence count the same denials).
  for (const d of input.denied ?? []) {
    const b = ensureEdge(d);
    const x = (b.denied ??= { count: 0, rolledBack: false, proposed: false, live: false });
    x.count = Math.max(x.count, d.count);
    if (d.firstDenied !== undefined && Number.isFinite(d.firstDenied)) x.first = Math.min(x.first ?? d.firstDenied, d.firstDenied);
    if (d.lastDenied !== undefined && Number.isFinite(d.lastDenied)) x.last = Math.max(x.last ?? d.lastDenied, d.lastDenied);
    x.rolledBack ||= d.rolledBack === true;
    x.proposed ||= d.proposed === true;
    // Counted by the safety net now (status), not only remembered in a proposal's evidence.
    x.live ||= d.proposed !== true;
  }

  // Nodes: every peer on an edge, plus isolated graph nodes, in key order.
  const keys = new Set<string>(input.graph.nodes());
  for (const b of edges.values()) keys.add(b.client).add(b.server);
  const sortedKeys = [...keys].sort(compareKeys);
  const peers = new Map<string, Peer>(sortedKeys.map((k) => [k, peerFromKey(k)]));
  const nodeIds = new Map<string, string>(sortedKeys.map((k, i) => [k, `n${i}`]));

  const namespaceNames = [...new Set([...peers.values()].flatMap((p) => (p.type === 'workload' ? [p.namespace] : [])))].sort();
  for (const ns of scope) if (!namespaceNames.includes(ns)) namespaceNames.push(ns);
  namespaceNames.sort();
  const namespaces: ReportNamespace[] = namespaceNames.map((name, i) => ({
    name,
    color: namespaceColor(i),
    inScope: scope.has(name),
    workloads: [...peers.values()].filter((p) => p.type === 'workload' && p.namespace === name).length,
  }));

  const sortedEdges = [...edges.values()].sort(compareEdgeBuilders);
  const positions = layoutGraph(
    sortedKeys.map((key) => {
      const peer = peers.get(key)!;
      return { id: key, ...(peer.type === 'workload' ? { group: peer.namespace } : {}) };
    }),
    sortedEdges.filter((e) => e.client !== e.server).map((e) => ({ source: e.client, target: e.server })),
  );

  const bends = edgeBends(positions, sortedEdges.map((e) => ({ source: e.client, target: e.server })));

  const nodes: ReportNode[] = sortedKeys.map((key) => {
    const peer = peers.get(key)!;
    const names = input.graph.hasNode(key) ? [...input.graph.getNodeAttributes(key).names] : [];
    const pos = positions.get(key) ?? { x: 0, y: 0 };
    const common = { id: nodeIds.get(key)!, key, x: pos.x, y: pos.y };
    if (peer.type === 'workload') {
      const policy = policyOf.get(key);
      const skipped = skippedOf.get(key);
      return {
        ...common,
        type: 'workload',
        label: peer.name,
        title: peerLabel(peer),
        namespace: peer.namespace,
        kind: peer.kind,
        name: peer.name,
        names,
        ...(policy ? { policy } : {}),
        ...(skipped !== undefined ? { skipped } : {}),
      };
    }
    const label = peer.entity === 'world' ? (names[0] ?? peer.ip ?? 'world') : peer.entity === 'remote-node' ? `node ${peer.ip ?? ''}`.trim() : peer.entity;
    return {
      ...common,
      type: 'entity',
      label,
      title: names.length > 0 ? `${peerLabel(peer)} (${names.join(', ')})` : peerLabel(peer),
      entity: peer.entity,
      ...(peer.ip !== undefined ? { ip: peer.ip } : {}),
      names,
    };
  });

  const inScopeWorkload = (key: string): boolean => {
    const p = peers.get(key)!;
    return p.type === 'workload' && scope.has(p.namespace);
  };
  const reportEdges: ReportEdge[] = sortedEdges.map((b, i) => {
    const gaps: string[] = [];
    for (const [side, direction, other] of [[b.client, 'egress', b.server], [b.server, 'ingress', b.client]] as const) {
      if (!inScopeWorkload(side)) continue;
      const own = policyOf.get(side);
      if (own && b.proposed.some((r) => r.direction === direction && r.namespace === own.namespace && r.policy === own.name)) continue;
      const sideLabel = peerLabel(peers.get(side)!);
      const reason = skippedOf.get(side) !== undefined
        ? `${sideLabel} has no policy (${skippedOf.get(side)})`
        : droppedOf.get(`${side} ${direction} ${other}`) !== undefined
          ? `${direction} rule of ${sideLabel} left out (${droppedOf.get(`${side} ${direction} ${other}`)})`
          : `no ${direction} rule of ${sideLabel} allows it`;
      gaps.push(reason);
    }
    const status: EdgeStatus = b.wouldDeny || b.denied?.live || gaps.length > 0
      ? 'would-deny'
      : b.enforced && b.enforced.length > 0
        ? 'enforced'
        : b.proposed.length > 0 ? 'proposed' : 'unmanaged';
    const first = iso(b.firstSeen);
    const last = iso(b.lastSeen);
    return {
      id: `e${i}`,
      source: nodeIds.get(b.client)!,
      target: nodeIds.get(b.server)!,
      port: b.port,
      protocol: b.protocol,
      status,
      bend: bends[i] ?? 0,
      count: b.count,
      ...(first !== undefined ? { firstSeen: first } : {}),
      ...(last !== undefined ? { lastSeen: last } : {}),
      proposed: b.proposed,
      ...(b.enforced ? { enforced: b.enforced } : {}),
      ...(b.wouldDeny
        ? {
            wouldDeny: {
              count: b.wouldDeny.count,
              reasons: [...b.wouldDeny.reasons].sort(),
              ...(iso(b.wouldDeny.firstSeen) !== undefined ? { firstSeen: iso(b.wouldDeny.firstSeen)! } : {}),
              ...(iso(b.wouldDeny.lastSeen) !== undefined ? { lastSeen: iso(b.wouldDeny.lastSeen)! } : {}),
            },
          }
        : {}),
      gaps,
      ...(b.denied
        ? {
            denied: {
              count: b.denied.count,
              ...(iso(b.denied.first) !== undefined ? { since: iso(b.denied.first)! } : {}),
              ...(iso(b.denied.last) !== undefined ? { last: iso(b.denied.last)! } : {}),
              rolledBack: b.denied.rolledBack,
              proposed: b.denied.proposed,
            },
          }
        : {}),
    };
  });

  const coverage: ReportCoverage[] = [...(input.coverage ?? [])]
    .sort((a, b) => compareText(a.namespace, b.namespace) || compareText(a.workload, b.workload) || compareText(a.reason, b.reason))
    .map((c) => ({ namespace: c.namespace, workload: keyLabel(c.workload), ...(nodeIds.has(c.workload) ? { node: nodeIds.get(c.workload)! } : {}), reason: c.reason, message: c.message }));
  const rollbacks: ReportRollback[] = [...(input.rollbacks ?? [])]
    .sort((a, b) => compareText(a.namespace, b.namespace) || compareText(a.proposal, b.proposal))
    .map((r) => ({ namespace: r.namespace, proposal: r.proposal, at: r.at, workloads: r.workloads.map(keyLabel), policies: [...r.policies] }));

  const byStatus: Record<EdgeStatus, number> = { proposed: 0, enforced: 0, 'would-deny': 0, unmanaged: 0 };
  for (const e of reportEdges) byStatus[e.status]++;
  const workloads = nodes.filter((n) => n.type === 'workload').length;
  const stats = input.stats ?? {};
  const window = iso(stats.firstFlowAt) !== undefined && iso(stats.lastFlowAt) !== undefined
    ? { first: iso(stats.firstFlowAt)!, last: iso(stats.lastFlowAt)! }
    : undefined;
  return {
    version: 1,
    title: input.title ?? 'hivewall traffic report',
    ...(input.source !== undefined ? { source: input.source } : {}),
    policyKind,
    ...(window ? { window } : {}),
    summary: {
      workloads,
      entities: nodes.length - workloads,
      edges: reportEdges.length,
      byStatus,
      policies,
      ...(stats.flows !== undefined ? { flows: stats.flows } : {}),
      ...(stats.connections !== undefined ? { connections: stats.connections } : {}),
      ...(stats.lostEvents !== undefined ? { lostEvents: stats.lostEvents } : {}),
      skipped: [...skippedOf].sort(([a], [b]) => compareText(a, b)).map(([key, reason]) => ({ workload: peerLabel(peers.get(key) ?? peerFromKey(key)), reason })),
      ...(reportEdges.some((e) => e.denied) ? { denied: reportEdges.filter((e) => e.denied).length } : {}),
    },
    namespaces,
    nodes,
    edges: reportEdges,
    ...(input.coverage !== undefined ? { coverage } : {}),
    ...(rollbacks.length > 0 ? { rollbacks } : {}),
  };
}

const keyLabel = (key: string): string => {
  try {
    return peerLabel(peerFromKey(key));
  } catch {
    return key;
  }
};

/** The same text as the domain's `edgeKey`. */
function identityKey(e: EdgeIdentity): string {
  return `${e.client} -> ${e.server} ${e.port}/${e.protocol}`;
}


function sameRef(a: ReportRuleRef, b: ReportRuleRef): boolean {
  return a.namespace === b.namespace && a.policy === b.policy && a.direction === b.direction && a.rule === b.rule && a.description === b.description;
}

function toRuleRef(r: PolicyRuleRef): ReportRuleRef {
  return {
    namespace: r.namespace,
    policy: r.policy,
    direction: r.direction,
    ...(r.rule !== undefined ? { rule: r.rule } : {}),
    description: r.description ?? `${r.direction} rule${r.rule !== undefined ? ` ${r.rule}` : ''}`,
  };
}

/** Workloads first (by namespace, kind, name), then entities by kind and address. */
function compareKeys(a: string, b: string): number {
  const wa = isWorkloadKey(a);
  const wb = isWorkloadKey(b);
  if (wa !== wb) return wa ? -1 : 1;
  if (wa) return compareText(a, b);
  const ea = a.split(':')[1] ?? '';
  const eb = b.split(':')[1] ?? '';
  if (ea !== eb) return compareText(ea, eb);
  return compareIps(a.slice(4 + ea.length), b.slice(4 + eb.length)) || compareText(a, b);
}

function compareEdgeBuilders(a: EdgeBuilder, b: EdgeBuilder): number {
  return compareKeys(a.client, b.client) || compareKeys(a.server, b.server) || compareText(a.protocol, b.protocol) || a.port - b.port;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const ports = (list: readonly PortSpec[]): string => list.map((p) => `${p.port}/${p.protocol}`).join(', ');
const labels = (m: Readonly<Record<string, string>>): string => Object.entries(m).map(([k, v]) => `${k}=${v}`).join(', ');

/** One line that says what a model rule allows, in the words of the target API. */
export function describeRule(rule: ModelRule, direction: 'ingress' | 'egress', namespace: string, flavor: ReportInput['flavor']): string {
  const word = direction === 'ingress' ? 'from' : 'to';
  return `${word} ${describePeer(rule.peer, direction, namespace, flavor)} on ${ports(rule.ports)}`;
}

function describePeer(peer: ModelPeer, direction: 'ingress' | 'egress', namespace: string, flavor: ReportInput['flavor']): string {
  const cilium = flavor === 'cilium';
  switch (peer.kind) {
    case 'workload': {
      const selector = `${cilium ? 'endpoints' : 'pods'} {${labels(peer.matchLabels)}}`;
      return peer.workload.namespace === namespace ? selector : `${selector} in namespace ${peer.workload.namespace}`;
    }
    case 'world':
      if (cilium && direction === 'egress' && peer.names.length > 0) return `FQDN ${peer.names.join(', ')}`;
      return `${cilium ? 'CIDR' : 'ipBlock'} ${hostCidr(peer.ip)}${peer.names.length > 0 ? ` (${peer.names.join(', ')})` : ''}`;
    case 'public':
      return cilium ? 'entity world (public ingress)' : 'ipBlock 0.0.0.0/0 except pod CIDRs (public ingress)';
    case 'host':
      if (cilium) return 'entity host';
      return direction === 'ingress' ? 'the node (always allowed: a pod is never isolated from its own node)' : 'the node IPs';
    case 'remote-node':
      return cilium ? 'entity remote-node' : `ipBlock ${hostCidr(peer.ip)}`;
    case 'kube-apiserver':
      return cilium ? 'entity kube-apiserver' : `ipBlock ${peer.ips.map(hostCidr).join(', ')}`;
  }
}
