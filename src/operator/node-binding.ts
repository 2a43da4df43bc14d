/**
 * Which workloads had pods on which node, and when — kept from the operator's own inventory
 * (the pods it watches), so the edge receiver can refuse an edge a node's agent cannot have seen
 * (the rule: src/domain/edge-binding.ts).
 *
 * The cluster cache calls {@link NodePlacements.updateNamespace} with a namespace's pods whenever
 * that namespace changed, and {@link NodePlacements.updateNodes} when the Nodes did: each costs
 * what changed, never a walk of the cluster. A pod that left the inventory (deleted) is
 * remembered on its node until `retentionMs` after it was last seen, so an agent's batch that
 * arrives after the pod is gone still counts; at most `maxRetained` such placements are kept (the
 * oldest go first), so memory follows the cluster's pods.
 *
 * A pod the agent already sees may not be in the inventory yet (the watch and the refresh lag a
 * little): such edges are `unknown-placement` for `catchUpMs`, and the receiver asks the agent to
 * send them again, instead of refusing them for good.
 *
 * The same stays, indexed by pod name, map a bare-pod key a Hubble agent sends for a pod on
 * another node to that pod's workload ({@link NodePlacements.workloadOf}), deleted pods included
 * for `retentionMs`.
 */
import { edgeRefusal, podOwner, type EdgeRefusalReason, type InventoryFreshness, type Placement, type PodStay, type ReportedEdge } from '../domain/edge-binding.js';
import type { PodCandidate } from '../domain/identity.js';
import type { NodeInfo } from '../domain/inventory.js';
import { peerKey, workloadNamespace, type PeerKey } from '../domain/peer.js';

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

/** One pod's stay on a node, as placed in the node's facts. */
interface Seen extends PodStay {
  readonly node: string;
  /** `<namespace>/<pod name>`. */
  readonly pod: string;
  readonly workload: PeerKey;
}

interface NodeState {
  ips: Set<string>;
  readonly workloads: Map<string, Placement[]>;
}

export class NodePlacements {
  readonly #retentionMs: number;
  readonly #maxRetained: number;
  readonly #slackMs: number;
  /** Live pods: namespace → namespace/name/uid → stay. */
  readonly #live = new Map<string, Map<string, Seen>>();
  /** Deleted pods, oldest first. */
  readonly #gone = new Map<string, Seen>();
  readonly #nodes = new Map<string, NodeState>();
  /** Per namespace, the workload keys of its live bare pods (`wl:<ns>/Pod/<name>`): known to be where the inventory says. */
  readonly #livePods = new Map<string, Set<string>>();
  /** Stays placed now (live and retained), by `<namespace>/<pod name>`. */
  readonly #byName = new Map<string, Seen[]>();
  readonly #catchUpMs: number;
  readonly #now: () => number;

  constructor(opts: NodePlacementsOptions = {}) {
    this.#retentionMs = opts.retentionMs ?? 15 * 60_000;
    this.#maxRetained = opts.maxRetained ?? 50_000;
    this.#slackMs = opts.slackMs ?? 120_000;
    this.#catchUpMs = opts.catchUpMs ?? 120_000;
    this.#now = opts.now ?? Date.now;
  }

  /** Takes in one namespace's pods (with their workloads) as of `now` (ms); no pods: the namespace is gone. */
  updateNamespace(namespace: string, pods: readonly PodCandidate[], now: number): void {
    const live = new Map<string, Seen>();
    const livePods = new Set<string>();
    for (const { pod, workload } of pods) {
      if (!pod.nodeName || pod.hostNetwork) continue; // a host-network pod's traffic is the node's
      const key = peerKey(workload);
      if (workload.kind === 'Pod') livePods.add(key);
      live.set(`${pod.namespace}/${pod.name}/${pod.uid ?? ''}`, {
        node: pod.nodeName,
        pod: `${pod.namespace}/${pod.name}`,
        workload: key,
        placement: { from: pod.createdAt ?? 0, ...(pod.deletedAt !== undefined ? { until: pod.deletedAt } : {}) },
      });
    }
    for (const [id, seen] of this.#live.get(namespace) ?? []) {
      this.#unplace(seen);
      if (live.has(id)) continue;
      const gone = { ...seen, placement: { ...seen.placement, until: Math.min(seen.placement.until ?? now, now) } };
      this.#gone.delete(id);
      this.#gone.set(id, gone);
      this.#place(gone);
    }
    for (const [id, seen] of live) {
      const gone = this.#gone.get(id);
      if (gone) {
        this.#gone.delete(id);
        this.#unplace(gone);
      }
      this.#place(seen);
    }
    if (live.size > 0) this.#live.set(namespace, live);
    else this.#live.delete(namespace);
    if (livePods.size > 0) this.#livePods.set(namespace, livePods);
    else this.#livePods.delete(namespace);
    this.#forget(now);
  }

  /** Takes in the Nodes' addresses. */
  updateNodes(nodes: readonly NodeInfo[]): void {
    for (const [name, state] of this.#nodes) {
      state.ips = new Set();
      if (state.workloads.size === 0) this.#nodes.delete(name);
    }
    for (const node of nodes) this.#node(node.name).ips = new Set(node.ips);
  }

  /** Drops deleted pods' placements past `retentionMs`, and the oldest beyond `maxRetained`. */
  #forget(now: number): void {
    for (const [id, seen] of this.#gone) {
      if (this.#gone.size <= this.#maxRetained && seen.placement.until! >= now - this.#retentionMs) break;
      this.#gone.delete(id);
      this.#unplace(seen);
    }
  }

  #node(name: string): NodeState {
    let node = this.#nodes.get(name);
    if (!node) this.#nodes.set(name, (node = { ips: new Set(), workloads: new Map() }));
    return node;
  }

  #place(seen: Seen): void {
    const workloads = this.#node(seen.node).workloads;
    const list = workloads.get(seen.workload);
    if (list) list.push(seen.placement);
    else workloads.set(seen.workload, [seen.placement]);
    const named = this.#byName.get(seen.pod);
    if (named) named.push(seen);
    else this.#byName.set(seen.pod, [seen]);
  }

  #unplace(seen: Seen): void {
    const named = this.#byName.get(seen.pod)?.filter((s) => s !== seen) ?? [];
    if (named.length > 0) this.#byName.set(seen.pod, named);
    else this.#byName.delete(seen.pod);
    const node = this.#nodes.get(seen.node);
    const list = node?.workloads.get(seen.workload);
    if (!node || !list) return;
    const kept = list.filter((p) => p !== seen.placement);
    if (kept.length > 0) node.workloads.set(seen.workload, kept);
    else node.workloads.delete(seen.workload);
  }

  /**
   * Why `node`'s agent may not report `edge`, or undefined when it may; `unknown-placement` (see
   * RETRYABLE_REFUSALS) while the inventory may not show the edge's pod yet.
   */
  refusal(node: string, edge: ReportedEdge): EdgeRefusalReason | undefined {
    return edgeRefusal(this.#nodes.get(node), edge, this.#slackMs, this.#freshness());
  }

  /**
   * The workload `key`, a side of `edge`, stands for: for a bare-pod key (`wl:<ns>/Pod/<name>`),
   * the top owner of the pod of that name at the edge's time (src/domain/edge-binding.ts
   * `podOwner`), `unknown-placement` while the inventory may not show it yet; any other key as it is.
   */
  workloadOf(key: PeerKey, edge: ReportedEdge): PeerKey | 'unknown-placement' {
    const pod = barePodName(key);
    if (pod === undefined) return key;
    return podOwner(key, this.#byName.get(pod) ?? [], edge, this.#slackMs, this.#freshness()) as PeerKey | 'unknown-placement';
  }

  #freshness(): InventoryFreshness {
    return { now: this.#now(), catchUpMs: this.#catchUpMs, podKnown: (key) => this.#livePods.get(workloadNamespace(key) ?? '')?.has(key) === true };
  }
}

/** `<namespace>/<name>` of a bare-pod key, else undefined. */
function barePodName(key: string): string | undefined {
  const namespace = workloadNamespace(key);
  if (namespace === undefined) return undefined;
  const prefix = `wl:${namespace}/Pod/`;
  return key.startsWith(prefix) ? `${namespace}/${key.slice(prefix.length)}` : undefined;
}
