/**
 * Identity with history for the node agent: maps an IP to the workload that had it **at the
 * flow's time**, although the agent only ever sees the cluster as it is now.
 *
 * Conntrack reports connections late: a `[DESTROY]` arrives up to two minutes after the last
 * packet (TIME_WAIT), a dump shows connections of pods that have since been deleted, and a
 * Deployment rollout hands a freed pod IP to a new pod within seconds. So every inventory refresh
 * is compared with the previous one and a pod that disappeared is **remembered** for
 * `retentionMs` (default 10 min, longer than conntrack's TIME_WAIT and UDP stream timeouts), with
 * its `deletedAt` set:
 *
 * - to its own `deletionTimestamp` when the last list showed one (graceful deletion), else
 * - to the creation time of the earliest newer pod that now holds one of its IPs (an IP is only
 *   handed out again after its previous owner released it), else
 * - to the time of the refresh that noticed it gone.
 *
 * The domain {@link IdentityResolver} then picks, among the pods that used an IP, the one created
 * at or before the flow's time and not yet deleted (`podAt`): a pod deleted a minute ago still
 * resolves, and a reused IP is not confused with its previous owner.
 *
 * Service ClusterIPs need no history here: conntrack's REPLY tuple already names the backend pod
 * that answered (see `conntrackEntryToFlow`), so a flow's server is a pod IP, not a ClusterIP.
 *
 * Memory is bounded: at most `maxRememberedPods` deleted pods (the oldest deletions go first).
 */
import { IdentityResolver, type IdentityOptions } from '../domain/identity.js';
import { emptyInventory, type ClusterInventory, type PodInfo } from '../domain/inventory.js';
import { systemClock, type Clock } from '../runtime/clock.js';

export interface IdentityHistoryOptions {
  /** How long a deleted pod keeps resolving. Default 10 minutes. */
  readonly retentionMs?: number;
  /** At most this many deleted pods are remembered. Default 10,000. */
  readonly maxRememberedPods?: number;
  /** Passed to the resolver (extra pod and service CIDRs). */
  readonly identity?: IdentityOptions;
  readonly clock?: Clock;
}

export interface IdentityHistoryStats {
  /** Pods in the latest inventory. */
  livePods: number;
  /** Deleted pods still remembered. */
  rememberedPods: number;
  /** Deleted pods forgotten after the retention (or the cap). */
  forgottenPods: number;
  /** Inventory refreshes applied. */
  updates: number;
}

/** Pods are told apart by namespace, name and uid: a StatefulSet pod re-created under its name is a new pod. */
function podKey(pod: PodInfo): string {
  return `${pod.namespace}/${pod.name}/${pod.uid ?? ''}`;
}

export class IdentityHistory {
  readonly stats: IdentityHistoryStats = { livePods: 0, rememberedPods: 0, forgottenPods: 0, updates: 0 };
  readonly #retentionMs: number;
  readonly #maxRemembered: number;
  readonly #clock: Clock;
  readonly #identityOptions: IdentityOptions;
  #live = new Map<string, PodInfo>();
  /** Deleted pods, with deletedAt set, by key. */
  readonly #remembered = new Map<string, PodInfo>();
  #inventory: ClusterInventory = emptyInventory;
  #resolver: IdentityResolver;
  /** Node of each live pod IP and node address (for the agent's "is this connection mine" rule). */
  #nodeByIp = new Map<string, string>();

  constructor(opts: IdentityHistoryOptions = {}) {
    this.#retentionMs = opts.retentionMs ?? 10 * 60_000;
    this.#maxRemembered = opts.maxRememberedPods ?? 10_000;
    this.#clock = opts.clock ?? systemClock;
    this.#identityOptions = opts.identity ?? {};
    this.#resolver = new IdentityResolver(this.#inventory, this.#identityOptions);
  }

  /** The resolver over the latest inventory plus the remembered deleted pods. */
  get resolver(): IdentityResolver {
    return this.#resolver;
  }

  /** The inventory the resolver uses (live objects and remembered pods). */
  get inventory(): ClusterInventory {
    return this.#inventory;
  }

  /** Whether at least one inventory was applied. */
  get synced(): boolean {
    return this.stats.updates > 0;
  }

  /**
   * Applies a fresh inventory (a full list of the cluster): pods that were live before and are
   * missing now are remembered as deleted; remembered pods past the retention are forgotten.
   * Returns the new resolver.
   */
  update(live: ClusterInventory): IdentityResolver {
    const now = this.#clock.now();
    const next = new Map<string, PodInfo>();
    for (const pod of live.pods) next.set(podKey(pod), pod);

    // Earliest creation time per IP among the live pods, for "the IP was handed to a new pod".
    const createdByIp = new Map<string, number[]>();
    for (const pod of live.pods) {
      if (pod.hostNetwork || pod.createdAt === undefined) continue;
      for (const ip of pod.ips) {
        const list = createdByIp.get(ip) ?? [];
        list.push(pod.createdAt);
        createdByIp.set(ip, list);
      }
    }

    for (const [key, pod] of this.#live) {
      if (next.has(key)) continue;
      this.#remembered.set(key, { ...pod, deletedAt: this.#deletedAt(pod, now, createdByIp) });
    }
    for (const key of next.keys()) this.#remembered.delete(key); // back (a list that missed it)
    this.#expire(now);
    this.#live = next;

    this.#inventory = { ...live, pods: [...live.pods, ...this.#remembered.values()] };
    this.#resolver = new IdentityResolver(this.#inventory, this.#identityOptions);
    const nodeByIp = new Map<string, string>();
    for (const node of live.nodes) for (const ip of node.ips) nodeByIp.set(ip, node.name);
    for (const pod of live.pods) {
      if (pod.hostNetwork || pod.nodeName === undefined) continue;
      for (const ip of pod.ips) nodeByIp.set(ip, pod.nodeName);
    }
    this.#nodeByIp = nodeByIp;
    this.stats.livePods = live.pods.length;
    this.stats.rememberedPods = this.#remembered.size;
    this.stats.updates++;
    return this.#resolver;
  }

  /**
   * The node a live pod IP or node address belongs to, if known. Deleted pods are not included:
   * their node may already have forgotten them, so only the live view is trusted.
   */
  nodeOf(ip: string): string | undefined {
    return this.#nodeByIp.get(ip);
  }

  #deletedAt(pod: PodInfo, now: number, createdByIp: ReadonlyMap<string, readonly number[]>): number {
    if (pod.deletedAt !== undefined) return Math.min(pod.deletedAt, now);
    let reusedAt = now;
    const since = pod.createdAt ?? Number.NEGATIVE_INFINITY;
    for (const ip of pod.ips) {
      for (const created of createdByIp.get(ip) ?? []) {
        if (created > since && created < reusedAt) reusedAt = created;
      }
    }
    return reusedAt;
  }

  #expire(now: number): void {
    for (const [key, pod] of this.#remembered) {
      if ((pod.deletedAt ?? now) + this.#retentionMs <= now) {
        this.#remembered.delete(key);
        this.stats.forgottenPods++;
      }
    }
    if (this.#remembered.size <= this.#maxRemembered) return;
    const oldestFirst = [...this.#remembered].sort((a, b) => (a[1].deletedAt ?? 0) - (b[1].deletedAt ?? 0));
    for (const [key] of oldestFirst.slice(0, this.#remembered.size - this.#maxRemembered)) {
      this.#remembered.delete(key);
      this.stats.forgottenPods++;
    }
  }
}
