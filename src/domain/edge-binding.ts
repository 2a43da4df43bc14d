/**
 * Whether a node agent may report an edge: a conntrack agent sees the connections of its own
 * node's pods and of the node itself, so an edge it pushes must have its client or its server
 * there — a pod scheduled on that node at the edge's time, or the node (`en:host`, or the
 * node's own address as `en:remote-node:<ip>`). Anything else (`evil/attacker →
 * payments/postgres` pushed from a node running neither) is refused. A policy denial with a
 * direction is bound to the side whose policy denied it ({@link ReportedEdge.on}). A bare-pod key
 * a Hubble agent reports for a pod on another node (src/agent/hubble-identity.ts) is first mapped
 * to that pod's workload ({@link podOwner}). Pure: the placements come from the operator's own
 * inventory (src/operator/node-binding.ts).
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
  /**
   * The side that must be on the reporting node; absent: either. A policy denial with a traffic
   * direction names it: Cilium drops an EGRESS-denied packet at the client's endpoint and an
   * INGRESS-denied one at the server's, each on that pod's node.
   */
  readonly on?: 'client' | 'server';
}

/** One pod's stay on a node, with the workload it belongs to (its top owner). */
export interface PodStay {
  readonly workload: string;
  readonly placement: Placement;
}

/**
 * `unknown-node`, `not-on-node`: refused for good. `unknown-placement`: not yet decidable — the
 * operator's inventory may not show the edge's pod (or node) yet; the agent is to send it again later.
 */
export type EdgeRefusalReason = 'unknown-node' | 'not-on-node' | 'unknown-placement';

/** Refusals that are not final: the receiver answers 503 and the agent keeps the batch. */
export const RETRYABLE_REFUSALS: ReadonlySet<string> = new Set<EdgeRefusalReason>(['unknown-placement']);

/** How current the operator's inventory is, to tell "not on this node" from "not seen yet". */
export interface InventoryFreshness {
  /** The operator's clock (ms). */
  readonly now: number;
  /**
   * How long after a pod runs the inventory may still not show it: watch latency, the inventory
   * refresh interval, clock skew between node and operator.
   */
  readonly catchUpMs: number;
  /** Whether the inventory has a pod of this bare-pod workload key (`wl:<ns>/Pod/<name>`) on any node. */
  readonly podKnown: (key: string) => boolean;
}

/**
 * Undefined when the edge's client or server is on the node at the edge's time, else why not.
 * `slackMs` widens the edge's time on both sides (clocks of agent and API server differ; a pod's
 * creation time is stamped before it runs).
 *
 * With `freshness`, an edge that is not (yet) placed is `unknown-placement` rather than refused for
 * good while the inventory may simply not have caught up: the edge is recent (its `lastSeen`
 * within `catchUpMs` before now, and not beyond `slackMs` in the future) and one of its sides could
 * be a pod the inventory has not seen yet — a workload that can start new pods anywhere
 * (Deployment, StatefulSet, Job, …), a bare pod the inventory does not know at all, or, on a node
 * the inventory does not know, the node itself. A side that is proven elsewhere — a bare pod known
 * on another node (a pod's `spec.nodeName` never changes), another node's address, the world —
 * never makes an edge retryable; an edge whose time the inventory has had `catchUpMs` to cover is
 * decided for good.
 */
export function edgeRefusal(node: NodeFacts | undefined, edge: ReportedEdge, slackMs: number, freshness?: InventoryFreshness): EdgeRefusalReason | undefined {
  const from = edge.firstSeen - slackMs;
  const until = edge.lastSeen + slackMs;
  const sides = boundSides(edge);
  if (node && sides.some((key) => onNode(node, key, from, until))) return undefined;
  if (freshness && recent(edge, slackMs, freshness) && sides.some((key) => mayBeUnseen(key, node, freshness))) return 'unknown-placement';
  return node ? 'not-on-node' : 'unknown-node';
}

/** The sides of which one must be on the reporting node. */
function boundSides(edge: ReportedEdge): string[] {
  if (edge.on === 'client') return [edge.client];
  if (edge.on === 'server') return [edge.server];
  return [edge.client, edge.server];
}

/**
 * The workload a bare-pod key (`wl:<ns>/Pod/<name>`) of `edge` stands for, given the stays of the
 * pods of that name the inventory knows (live and recently deleted): the top owner of the pod that
 * ran at the edge's time (widened by `slackMs`), which is the key itself for a pod no controller
 * owns. The inventory follows the pods' controller ownerReferences (src/domain/workload.ts
 * `topOwner`), never the name, so a bare pod named like a Deployment's stays a bare pod. Pods of
 * that name with different owners at that time: the key as it is (never a controller's on a guess).
 * No pod at that time: `unknown-placement` while the inventory may not show it yet (as
 * {@link edgeRefusal}), else the key as it is.
 */
export function podOwner(key: string, stays: readonly PodStay[], edge: ReportedEdge, slackMs: number, freshness?: InventoryFreshness): string | 'unknown-placement' {
  const from = edge.firstSeen - slackMs;
  const until = edge.lastSeen + slackMs;
  const owners = new Set(stays.filter((s) => overlaps(s.placement, from, until)).map((s) => s.workload));
  if (owners.size === 1) return owners.values().next().value!;
  if (owners.size === 0 && freshness && recent(edge, slackMs, freshness)) return 'unknown-placement';
  return key;
}

function overlaps(p: Placement, from: number, until: number): boolean {
  return p.from <= until && (p.until === undefined || p.until >= from);
}

function recent(edge: ReportedEdge, slackMs: number, f: InventoryFreshness): boolean {
  return edge.lastSeen >= f.now - f.catchUpMs && edge.lastSeen <= f.now + slackMs;
}

/** Whether `key` could be a pod (or the node) on this node that the inventory has not seen yet. */
function mayBeUnseen(key: string, node: NodeFacts | undefined, f: InventoryFreshness): boolean {
  let peer;
  try {
    peer = peerFromKey(key);
  } catch {
    return false;
  }
  if (peer.type === 'entity') return !node && (peer.entity === 'host' || peer.entity === 'remote-node');
  return peer.kind !== 'Pod' || !f.podKnown(key);
}

function onNode(node: NodeFacts, key: string, from: number, until: number): boolean {
  let peer;
  try {
    peer = peerFromKey(key);
  } catch {
    return false;
  }
  if (peer.type === 'entity') return peer.entity === 'host' || (peer.entity === 'remote-node' && peer.ip !== undefined && node.ips.has(peer.ip));
  return (node.workloads.get(key) ?? []).some((p) => overlaps(p, from, until));
}
