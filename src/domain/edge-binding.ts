/**
 * Whether a node agent may report an edge: a conntrack agent sees the connections of its own
 * node's pods and of the node itself, so an edge it pushes must have its client or its server
 * there — a pod scheduled on that node at the edge's time, or the node (`en:host`, or the
 * node's own address as `en:remote-node:<ip>`). Anything else (`evil/attacker →
 * payments/postgres` pushed from a node running neither) is refused. Pure: the placements come
 * from the operator's own inventory (src/agent/node-binding.ts).
 */
import { peerFromKey } from './peer.js';

/** When a workload had a pod on a node: [from, until], `until` undefined while it is there. */
export interface Placement {
  readonly from: number;
  readonly until?: number;
}

/** What the operator knows about one node. */
export interface NodeFacts {
  /** The node's addresses. */
  readonly ips: ReadonlySet<string>;
  /** Workload peer key → when that workload had pods on the node. */
  readonly workloads: ReadonlyMap<string, readonly Placement[]>;
}

export interface ReportedEdge {
  readonly client: string;
  readonly server: string;
  readonly firstSeen: number;
  readonly lastSeen: number;
}

export type EdgeRefusalReason = 'unknown-node' | 'not-on-node';

/**
 * Undefined when the edge's client or server is on the node at the edge's time, else why not.
 * `slackMs` widens the edge's time on both sides (clocks of agent and API server differ; a pod's
 * creation time is stamped before it runs).
 */
export function edgeRefusal(node: NodeFacts | undefined, edge: ReportedEdge, slackMs: number): EdgeRefusalReason | undefined {
  if (!node) return 'unknown-node';
  const from = edge.firstSeen - slackMs;
  const until = edge.lastSeen + slackMs;
  return onNode(node, edge.client, from, until) || onNode(node, edge.server, from, until) ? undefined : 'not-on-node';
}

function onNode(node: NodeFacts, key: string, from: number, until: number): boolean {
  let peer;
  try {
    peer = peerFromKey(key);
  } catch {
    return false;
  }
  if (peer.type === 'entity') return peer.entity === 'host' || (peer.entity === 'remote-node' && peer.ip !== undefined && node.ips.has(peer.ip));
  return (node.workloads.get(key) ?? []).some((p) => p.from <= until && (p.until === undefined || p.until >= from));
}
