/**
 * The service communication graph derived from the learned edges (graphology): nodes are
 * workloads and entities, one directed edge per (client, server, port, protocol) with its
 * evidence. Policies are derived from this graph; `hivewall graph` prints it as text, JSON or DOT.
 */
import { MultiDirectedGraph } from 'graphology';
import type { DnsNames } from './dns-names.js';
import type { EdgeRecord, EdgeStore } from './edge-store.js';
import { compareIps } from './ip.js';
import { peerFromKey, peerLabel, type Peer } from './peer.js';

export interface NodeAttributes {
  readonly peer: Peer;
  readonly label: string;
  /** DNS names any client resolved for a world peer (for display; a policy uses only its own workload's). */
  readonly names: readonly string[];
}

/** An edge of the graph carries the learned edge record itself. */
export type EdgeAttributes = EdgeRecord;

export type TrafficGraph = MultiDirectedGraph<NodeAttributes, EdgeAttributes>;

/**
 * Builds the graph. With `sorted` (the default, for printing) nodes and edges are inserted in
 * sorted order so every output is deterministic; policy generation sorts its own results and
 * skips that cost.
 */
export function buildGraph(store: EdgeStore, dnsNames?: Pick<DnsNames, 'namesForIp'>, sorted = true): TrafficGraph {
  const graph: TrafficGraph = new MultiDirectedGraph<NodeAttributes, EdgeAttributes>({ allowSelfLoops: true });
  const edges = [...store.edges()];
  if (sorted) edges.sort(compareEdges);
  const keys = new Set<string>();
  for (const e of edges) keys.add(e.client).add(e.server);
  for (const key of sorted ? [...keys].sort() : keys) {
    const peer = peerFromKey(key);
    const names = peer.type === 'entity' && peer.ip && dnsNames ? dnsNames.namesForIp(peer.ip) : [];
    graph.addNode(key, { peer, label: peerLabel(peer), names });
  }
  // Explicit small keys: graphology's generated keys cost more than the edge itself.
  for (const [i, e] of edges.entries()) {
    // The record itself is the attribute object: no copy per edge.
    graph.addDirectedEdgeWithKey(i, e.client, e.server, e);
  }
  return graph;
}

export function edgeKey(e: Pick<EdgeRecord, 'client' | 'server' | 'port' | 'protocol'>): string {
  return `${e.client} -> ${e.server} ${e.port}/${e.protocol}`;
}

/** The graph's edges as records, in the graph's (sorted) order. */
export function graphEdges(graph: TrafficGraph): EdgeRecord[] {
  const out: EdgeRecord[] = [];
  graph.forEachEdge((_key, attributes) => {
    out.push(attributes);
  });
  return out;
}

export function compareEdges(a: EdgeRecord, b: EdgeRecord): number {
  return cmp(a.client, b.client) || cmp(a.server, b.server) || cmp(a.protocol, b.protocol) || a.port - b.port;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Text: one line per edge, `client -> server port/proto  flows=N first=ISO last=ISO`. */
export function graphToText(graph: TrafficGraph, formatTime: (ms: number) => string): string {
  const lines: string[] = [];
  for (const { source, target, attributes: a } of graph.edgeEntries()) {
    const s = graph.getNodeAttributes(source);
    const t = graph.getNodeAttributes(target);
    const names = t.names.length > 0 ? ` (${t.names.join(', ')})` : '';
    lines.push(`${s.label} -> ${t.label}${names} ${a.port}/${a.protocol}  flows=${a.count} first=${formatTime(a.firstSeen)} last=${formatTime(a.lastSeen)}`);
  }
  return lines.join('\n') + (lines.length > 0 ? '\n' : '');
}

/** JSON: `{nodes: [{key, label, names}], edges: [{client, server, port, protocol, count, firstSeen, lastSeen}]}`. */
export function graphToJson(graph: TrafficGraph, formatTime: (ms: number) => string): string {
  const nodes = graph.mapNodes((key, a) => ({ key, label: a.label, ...(a.names.length > 0 ? { names: a.names } : {}) }));
  const edges = [...graphEdges(graph)].map((e) => ({ ...e, firstSeen: formatTime(e.firstSeen), lastSeen: formatTime(e.lastSeen) }));
  return `${JSON.stringify({ nodes, edges }, null, 2)}\n`;
}

/** Graphviz DOT, clustered by namespace; entities outside clusters. */
export function graphToDot(graph: TrafficGraph): string {
  const q = (s: string) => JSON.stringify(s);
  const byNamespace = new Map<string, string[]>();
  const entities: string[] = [];
  graph.forEachNode((key, a) => {
    if (a.peer.type === 'workload') byNamespace.set(a.peer.namespace, [...(byNamespace.get(a.peer.namespace) ?? []), key]);
    else entities.push(key);
  });
  const out = ['digraph hivewall {', '  rankdir=LR;', '  node [shape=box, fontname="Helvetica"];'];
  let i = 0;
  for (const ns of [...byNamespace.keys()].sort()) {
    out.push(`  subgraph cluster_${i++} {`, `    label=${q(ns)};`);
    for (const key of byNamespace.get(ns)!) {
      const peer = graph.getNodeAttributes(key).peer;
      out.push(`    ${q(key)} [label=${q(peer.type === 'workload' ? `${peer.kind}/${peer.name}` : key)}];`);
    }
    out.push('  }');
  }
  for (const key of entities.sort((a, b) => compareIps(a, b))) {
    const a = graph.getNodeAttributes(key);
    const label = a.names.length > 0 ? `${a.label}\\n${a.names.join('\\n')}` : a.label;
    out.push(`  ${q(key)} [label="${label}", shape=ellipse];`);
  }
  for (const { source, target, attributes: a } of graph.edgeEntries()) {
    out.push(`  ${q(source)} -> ${q(target)} [label=${q(`${a.port}/${a.protocol} (${a.count})`)}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}
