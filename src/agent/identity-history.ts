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
import { IdentityResolver, type IdentityOptions, type NamespaceInventory } from '../domain/identity.js';
import { emptyInventory, type NodeInfo, type PodInfo } from '../domain/inventory.js';
import type { InventoryChanges } from '../k8s/cluster-informers.js';
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

/** What {@link IdentityHistory.apply} reads: the changed namespaces' objects and the Nodes, as of now. */
export interface InventoryReader {
  namespaceInventory(namespace: string): NamespaceInventory;
  nodes(): readonly NodeInfo[];
}

/** Pods are told apart by namespace, name and uid: a StatefulSet pod re-created under its name is a new pod. */
function podKey(pod: PodInfo): string {
  return `${pod.namespace}/${pod.name}/${pod.uid ?? ''}`;
}

const NO_OBJECTS: NamespaceInventory = { pods: [], controllers: [], services: [], endpointSlices: [] };

export class IdentityHistory {
  readonly stats: IdentityHistoryStats = { livePods: 0, rememberedPods: 0, forgottenPods: 0, updates: 0 };
  readonly #retentionMs: number;
  readonly #maxRemembered: number;
  readonly #clock: Clock;
  /** One resolver for the agent's life; a namespace's share is replaced when it changes. */
  readonly #resolver: IdentityResolver;
  /** Per namespace: its objects as last read. */
  readonly #live = new Map<string, NamespaceInventory>();
  /** Per namespace: deleted pods, with deletedAt set, by key. */
  readonly #remembered = new Map<string, Map<string, PodInfo>>();
  /** Live pod-network pods by IP (key → pod): creation times for "the IP was handed to a new pod", and the IP's node. */
  readonly #liveByIp = new Map<string, Map<string, PodInfo>>();
  /** Node of each node address. */
  #nodeAddresses = new Map<string, string>();

  constructor(opts: IdentityHistoryOptions = {}) {
    this.#retentionMs = opts.retentionMs ?? 10 * 60_000;
    this.#maxRemembered = opts.maxRememberedPods ?? 10_000;
    this.#clock = opts.clock ?? systemClock;
    this.#resolver = new IdentityResolver(emptyInventory, opts.identity ?? {});
  }

  /** The resolver over the live inventory plus the remembered deleted pods. */
  get resolver(): IdentityResolver {
    return this.#resolver;
  }

  /** Whether at least one inventory was applied. */
  get synced(): boolean {
    return this.stats.updates > 0;
  }

  /**
   * Applies what changed: each changed namespace is read again; its pods that were live before and
   * are missing now are remembered as deleted; remembered pods past the retention are forgotten.
   * Costs the changed namespaces (and the remembered pods), never the cluster. Returns the resolver.
   */
  apply(changes: InventoryChanges, reader: InventoryReader): IdentityResolver {
    const now = this.#clock.now();
    if (changes.nodes) this.#applyNodes(reader.nodes());
    const read = new Map<string, NamespaceInventory>();
    for (const namespace of changes.namespaces) read.set(namespace, reader.namespaceInventory(namespace));
    // Every live pod of the new lists is indexed before any deletion is dated, so a pod that took
    // a gone pod's IP in another namespace dates that deletion.
    const gone: PodInfo[] = [];
    for (const [namespace, next] of read) {
      const nextKeys = new Set(next.pods.map(podKey));
      for (const pod of this.#live.get(namespace)?.pods ?? []) {
        this.#unindex(pod);
        if (!nextKeys.has(podKey(pod))) gone.push(pod);
      }
      for (const pod of next.pods) this.#index(pod);
    }
    for (const pod of gone) this.#remember(pod, now);
    for (const [namespace, next] of read) {
      const remembered = this.#remembered.get(namespace);
      for (const pod of next.pods) if (remembered?.delete(podKey(pod))) this.stats.rememberedPods--; // back (a list that missed it)
      if (remembered?.size === 0) this.#remembered.delete(namespace);
      this.stats.livePods += next.pods.length - (this.#live.get(namespace)?.pods.length ?? 0);
      if (next.pods.length + next.controllers.length + next.services.length + next.endpointSlices.length > 0) this.#live.set(namespace, next);
      else this.#live.delete(namespace);
    }
    for (const namespace of this.#expire(now)) read.set(namespace, this.#live.get(namespace) ?? NO_OBJECTS);
    for (const namespace of read.keys()) {
      const live = this.#live.get(namespace) ?? NO_OBJECTS;
      const remembered = this.#remembered.get(namespace);
      this.#resolver.replaceNamespace(namespace, remembered?.size ? { ...live, pods: [...live.pods, ...remembered.values()] } : live);
    }
    this.stats.updates++;
    return this.#resolver;
  }

  /**
   * The node a live pod IP or node address belongs to, if known. Deleted pods are not included:
   * their node may already have forgotten them, so only the live view is trusted.
   */
  nodeOf(ip: string): string | undefined {
    const pods = this.#liveByIp.get(ip);
    if (pods) for (const pod of pods.values()) if (pod.nodeName !== undefined) return pod.nodeName;
    return this.#nodeAddresses.get(ip);
  }

  #applyNodes(nodes: readonly NodeInfo[]): void {
    this.#resolver.replaceNodes(nodes);
    this.#nodeAddresses = new Map();
    for (const node of nodes) for (const ip of node.ips) this.#nodeAddresses.set(ip, node.name);
  }

  #index(pod: PodInfo): void {
    if (pod.hostNetwork) return;
    for (const ip of pod.ips) {
      let pods = this.#liveByIp.get(ip);
      if (!pods) this.#liveByIp.set(ip, (pods = new Map()));
      pods.set(podKey(pod), pod);
    }
  }

  #unindex(pod: PodInfo): void {
    for (const ip of pod.ips) {
      const pods = this.#liveByIp.get(ip);
      if (pods?.delete(podKey(pod)) && pods.size === 0) this.#liveByIp.delete(ip);
    }
  }

  #remember(pod: PodInfo, now: number): void {
    let remembered = this.#remembered.get(pod.namespace);
    if (!remembered) this.#remembered.set(pod.namespace, (remembered = new Map()));
    if (!remembered.has(podKey(pod))) this.stats.rememberedPods++;
    remembered.set(podKey(pod), { ...pod, deletedAt: this.#deletedAt(pod, now) });
  }

  #deletedAt(pod: PodInfo, now: number): number {
    if (pod.deletedAt !== undefined) return Math.min(pod.deletedAt, now);
    let reusedAt = now;
    const since = pod.createdAt ?? Number.NEGATIVE_INFINITY;
    for (const ip of pod.ips) {
      for (const other of this.#liveByIp.get(ip)?.values() ?? []) {
        const created = other.createdAt;
        if (created !== undefined && created > since && created < reusedAt) reusedAt = created;
      }
    }
    return reusedAt;
  }

  /** Forgets remembered pods past the retention, then the oldest beyond the cap; returns the namespaces that lost some. */
  #expire(now: number): Set<string> {
    const touched = new Set<string>();
    const forget = (namespace: string, key: string) => {
      if (!this.#remembered.get(namespace)?.delete(key)) return;
      if (this.#remembered.get(namespace)!.size === 0) this.#remembered.delete(namespace);
      this.stats.forgottenPods++;
      this.stats.rememberedPods--;
      touched.add(namespace);
    };
    for (const [namespace, pods] of [...this.#remembered]) {
      for (const [key, pod] of [...pods]) if ((pod.deletedAt ?? now) + this.#retentionMs <= now) forget(namespace, key);
    }
    if (this.stats.rememberedPods > this.#maxRemembered) {
      const oldestFirst = [...this.#remembered.values()].flatMap((pods) => [...pods.values()]).sort((a, b) => (a.deletedAt ?? 0) - (b.deletedAt ?? 0));
      for (const pod of oldestFirst.slice(0, this.stats.rememberedPods - this.#maxRemembered)) forget(pod.namespace, podKey(pod));
    }
    return touched;
  }
}
