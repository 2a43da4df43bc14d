/**
 * Which workloads had pods on which node, and when — kept from the operator's own inventory
 * (the pods it watches), so the edge receiver can refuse an edge a node's agent cannot have seen
 * (the rule: src/domain/edge-binding.ts).
 *
 * {@link NodePlacements.update} is called whenever the inventory is rebuilt. A pod that left the
 * inventory (deleted) is remembered on its node until `retentionMs` after it was last seen, so an
 * agent's batch that arrives after the pod is gone still counts; at most `maxRetained` such
 * placements are kept (the oldest go first), so memory follows the cluster's pods.
 *
 * A pod the agent already sees may not be in the inventory yet (the watch and the refresh lag a
 * little): such edges are `unknown-placement` for `catchUpMs`, and the receiver asks the agent to
 * send them again, instead of refusing them for good.
 */
import type { ClusterInventory } from '../domain/inventory.js';
import { edgeRefusal, type EdgeRefusalReason, type NodeFacts, type Placement, type ReportedEdge } from '../domain/edge-binding.js';
import type { IdentityResolver } from '../domain/identity.js';
import { peerKey } from '../domain/peer.js';

export interface NodePlacementsOptions {
  /** How long a deleted pod's placement is remembered. Default 15 minutes. */
  readonly retentionMs?: number;
  /** At most this many placements of deleted pods. Default 50,000. */
  readonly maxRetained?: number;
  /** Clock skew and scheduling slack allowed around an edge's time. Default 2 minutes. */
  readonly slackMs?: number;
  /**
   * How long an edge that is not placed stays `unknown-placement` (the agent retries it) rather
   * than refused for good: the time the inventory may need to show a new pod (watch latency, the
   * operator's inventory refresh, clock skew). Default 2 minutes.
   */
  readonly catchUpMs?: number;
  /** The operator's clock. Default `Date.now`. */
  readonly now?: () => number;
}

interface Seen {
  readonly node: string;
  readonly workload: string;
  readonly from: number;
  until?: number;
}

export class NodePlacements {
  readonly #retentionMs: number;
  readonly #maxRetained: number;
  readonly #slackMs: number;
  /** Live pods by namespace/name/uid. */
  #live = new Map<string, Seen>();
  /** Deleted pods, oldest first. */
  readonly #gone = new Map<string, Seen>();
  #nodes = new Map<string, NodeFacts>();
  /** Workload keys of the live bare pods (`wl:<ns>/Pod/<name>`): known to be where the inventory says. */
  #livePods = new Set<string>();
  readonly #catchUpMs: number;
  readonly #now: () => number;

  constructor(opts: NodePlacementsOptions = {}) {
    this.#retentionMs = opts.retentionMs ?? 15 * 60_000;
    this.#maxRetained = opts.maxRetained ?? 50_000;
    this.#slackMs = opts.slackMs ?? 120_000;
    this.#catchUpMs = opts.catchUpMs ?? 120_000;
    this.#now = opts.now ?? Date.now;
  }

  /** Takes in a rebuilt inventory at `now` (ms). */
  update(inventory: ClusterInventory, identity: IdentityResolver, now: number): void {
    const live = new Map<string, Seen>();
    const livePods = new Set<string>();
    for (const pod of inventory.pods) {
      if (!pod.nodeName || pod.hostNetwork) continue; // a host-network pod's traffic is the node's
      const workload = identity.workloadOfPod(pod.namespace, pod.name);
      if (!workload) continue;
      const id = `${pod.namespace}/${pod.name}/${pod.uid ?? ''}`;
      if (workload.kind === 'Pod') livePods.add(peerKey(workload));
      live.set(id, { node: pod.nodeName, workload: peerKey(workload), from: pod.createdAt ?? 0, ...(pod.deletedAt !== undefined ? { until: pod.deletedAt } : {}) });
    }
    for (const [id, seen] of this.#live) {
      if (live.has(id)) continue;
      this.#gone.delete(id);
      this.#gone.set(id, { ...seen, until: Math.min(seen.until ?? now, now) });
    }
    for (const [id, seen] of this.#gone) {
      if (this.#gone.size <= this.#maxRetained && seen.until! >= now - this.#retentionMs) break;
      this.#gone.delete(id);
    }
    this.#live = live;
    this.#livePods = livePods;
    const nodes = new Map<string, { ips: Set<string>; workloads: Map<string, Placement[]> }>();
    const nodeOf = (name: string) => {
      let n = nodes.get(name);
      if (!n) nodes.set(name, (n = { ips: new Set(), workloads: new Map() }));
      return n;
    };
    for (const node of inventory.nodes) for (const ip of node.ips) nodeOf(node.name).ips.add(ip);
    for (const seen of [...live.values(), ...this.#gone.values()]) {
      const list = nodeOf(seen.node).workloads;
      const placements = list.get(seen.workload) ?? [];
      placements.push({ from: seen.from, ...(seen.until !== undefined ? { until: seen.until } : {}) });
      list.set(seen.workload, placements);
    }
    this.#nodes = nodes;
  }

  /**
   * Why `node`'s agent may not report `edge`, or undefined when it may; `unknown-placement` (see
   * RETRYABLE_REFUSALS) while the inventory may not show the edge's pod yet.
   */
  refusal(node: string, edge: ReportedEdge): EdgeRefusalReason | undefined {
    return edgeRefusal(this.#nodes.get(node), edge, this.#slackMs, { now: this.#now(), catchUpMs: this.#catchUpMs, podKnown: (key) => this.#livePods.has(key) });
  }
}
