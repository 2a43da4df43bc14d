/**
 * Denials caused by enforced hivewall policies, per namespace: which edges were denied, how often,
 * and whether the namespace's rollback budget is crossed. Pure: the caller passes every time.
 *
 * A denial is one denied connection attempt: a Hubble flow with verdict DROPPED and drop reason
 * POLICY_DENIED, or a conntrack entry that stayed `SYN_SENT [UNREPLIED]` (what a NetworkPolicy
 * drop on an iptables/nftables CNI leaves). Denied edges are never learned as allowed traffic;
 * they are counted here and proposed for review in the next revision.
 *
 * Budget (`spec.enforcement.rollback`): more than `maxDenied` denials within `window` crosses it;
 * `maxDenied: -1` never does. Counting is by one-second buckets, so memory follows the window
 * length in seconds and the distinct denied edges (at most {@link MAX_DENIED_EDGES}), never the
 * number of denials.
 */
import type { Protocol } from './flow.js';
import { annotatedWorkloadKey, isWorkloadOf, keyText, type PeerKey } from './peer.js';
import { DEFAULT_DENY_NAME, WORKLOAD_ANNOTATION } from './translate/naming.js';

/** Denials allowed within the window before rolling back; -1 disables rollback. */
export const DEFAULT_MAX_DENIED = 20;
export const DEFAULT_ROLLBACK_WINDOW = '5m';

export interface RollbackBudget {
  readonly maxDenied: number;
  readonly windowMs: number;
}

export interface DeniedEdgeKey {
  readonly client: PeerKey;
  readonly server: PeerKey;
  readonly port: number;
  readonly protocol: Protocol;
}

/**
 * Whose policy denied an edge: `ingress` the server's (Hubble's traffic direction INGRESS),
 * `egress` the client's (EGRESS).
 */
export type DeniedDirection = 'ingress' | 'egress';

export interface DeniedEdge extends DeniedEdgeKey {
  /** Denials counted since tracking began (the policies were enforced). */
  readonly count: number;
  readonly firstDenied: number;
  readonly lastDenied: number;
  /**
   * Set when every denial of the edge said the same direction; absent when one did not say (an
   * unanswered SYN, a count restored from status) or they differed: then both sides are suspects.
   */
  readonly direction?: DeniedDirection;
}

type Sides = DeniedDirection | 'both';

const BUCKET_MS = 1000;

/**
 * Distinct denied edges kept per namespace. A pod probing addresses or ports makes one per probe;
 * each is proposed for review in the next revision, so without a bound the edges would grow the
 * operator's memory and the proposal (past the API server's object size) without end.
 */
export const MAX_DENIED_EDGES = 1_000;

export class DenialTracker {
  /** By edge id, least recently denied first (a denial moves its edge to the end). */
  private readonly byEdge = new Map<string, { key: DeniedEdgeKey; count: number; first: number; last: number; sides: Sides }>();
  /** Denials per one-second bucket (bucket start → count), oldest first. */
  private readonly buckets = new Map<number, number>();
  private total = 0;
  /** The earliest key of {@link buckets} (+Infinity when empty). */
  private earliestBucket = Number.POSITIVE_INFINITY;
  /** Edges dropped to keep {@link MAX_DENIED_EDGES}: their denials still count towards the budget. */
  evictedEdges = 0;

  /**
   * @param maxEdges distinct edges kept; one more drops the least recently denied (the ones a
   *   rollback acts on are the recent ones: {@link recentEdges})
   */
  constructor(private budget: RollbackBudget, private readonly maxEdges = MAX_DENIED_EDGES) {}

  /** Takes a changed budget (a spec edit) without forgetting what was counted. */
  setBudget(budget: RollbackBudget): void {
    this.budget = budget;
  }

  /**
   * Restores per-edge counts stored earlier (a restart or leader change): they count towards
   * {@link edges}, not towards the window (when they happened within it is not stored).
   */
  seed(edges: readonly DeniedEdge[]): void {
    for (const e of edges) {
      const id = edgeId(e);
      if (this.byEdge.has(id) || !(e.count > 0)) continue;
      this.makeRoom();
      this.byEdge.set(id, { key: { client: e.client, server: e.server, port: e.port, protocol: e.protocol }, count: e.count, first: e.firstDenied, last: e.lastDenied, sides: e.direction ?? 'both' });
      this.total += e.count;
    }
  }

  /** Counts `count` denials of an edge at `time` (ms), denied by `direction`'s side when known. */
  record(edge: DeniedEdgeKey, time: number, count = 1, direction?: DeniedDirection): void {
    if (count <= 0 || !Number.isFinite(time)) return;
    const id = edgeId(edge);
    const existing = this.byEdge.get(id);
    const sides: Sides = direction ?? 'both';
    if (existing) {
      existing.count += count;
      if (time < existing.first) existing.first = time;
      if (time > existing.last) existing.last = time;
      if (existing.sides !== sides) existing.sides = 'both';
      this.byEdge.delete(id);
      this.byEdge.set(id, existing);
    } else {
      this.makeRoom();
      this.byEdge.set(id, { key: { client: edge.client, server: edge.server, port: edge.port, protocol: edge.protocol }, count, first: time, last: time, sides });
    }
    const bucket = time - (time % BUCKET_MS);
    this.buckets.set(bucket, (this.buckets.get(bucket) ?? 0) + count);
    if (bucket < this.earliestBucket) this.earliestBucket = bucket;
    this.total += count;
  }

  /** Denials within the window ending at `now`. */
  inWindow(now: number): number {
    this.trim(now);
    let n = 0;
    for (const count of this.buckets.values()) n += count;
    return n;
  }

  /** Whether more than `maxDenied` denials fell within the window (never with `maxDenied: -1`). */
  crossed(now: number): boolean {
    return this.budget.maxDenied >= 0 && this.inWindow(now) > this.budget.maxDenied;
  }

  /** Every denied edge since tracking began, sorted by client, server, port, protocol. */
  edges(): DeniedEdge[] {
    return [...this.byEdge.values()]
      .map(({ key, count, first, last, sides }) => ({ ...key, count, firstDenied: first, lastDenied: last, ...(sides !== 'both' ? { direction: sides } : {}) }))
      .sort(compareEdges);
  }

  /** Edges denied within the window ending at `now`: the ones a rollback acts on. */
  recentEdges(now: number): DeniedEdge[] {
    const since = now - this.budget.windowMs;
    return this.edges().filter((e) => e.lastDenied > since);
  }

  /** Denials counted since tracking began. */
  get totalDenied(): number {
    return this.total;
  }

  /** Drops the least recently denied edge when the tracker holds {@link maxEdges}. */
  private makeRoom(): void {
    if (this.byEdge.size < this.maxEdges) return;
    const oldest = this.byEdge.keys().next();
    if (oldest.done) return;
    this.byEdge.delete(oldest.value);
    this.evictedEdges++;
  }

  /**
   * Drops the buckets that left the window. Buckets may arrive out of order (an agent's delta
   * carries its own times), so the earliest is tracked: nothing to drop costs nothing, and each
   * bucket is dropped once.
   */
  private trim(now: number): void {
    const oldest = now - this.budget.windowMs;
    if (this.earliestBucket + BUCKET_MS > oldest) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const bucket of this.buckets.keys()) {
      if (bucket + BUCKET_MS > oldest) {
        if (bucket < earliest) earliest = bucket;
        continue;
      }
      this.buckets.delete(bucket);
    }
    this.earliestBucket = earliest;
  }
}

/**
 * The workloads of `namespace` whose policies denied the edges, as peer keys, sorted: the server
 * for an ingress denial (its ingress rules refused the connection), the client for an egress
 * denial. When the denial does not say (an unanswered SYN, a count restored from status, or
 * denials in both directions), the connection may have been refused by either side's rules, so
 * both are suspects. A side in another namespace is not this namespace's to change.
 */
export function workloadsOfDenials(edges: readonly { readonly client: string; readonly server: string; readonly port?: number; readonly protocol?: string; readonly direction?: DeniedDirection }[], namespace: string): string[] {
  const keys = new Set<string>();
  for (const e of edges) {
    if (e.direction !== 'ingress' && isWorkloadOf(e.client, namespace)) keys.add(e.client);
    if (e.direction !== 'egress' && isWorkloadOf(e.server, namespace)) keys.add(e.server);
  }
  return [...keys].sort();
}

interface NamedPolicy {
  readonly metadata: { readonly name: string; readonly annotations?: Readonly<Record<string, string>> };
}

/**
 * The policies a rollback removes: each rolled-back workload's own policy (found by the
 * `hivewall.dev/workload` annotation) and the namespace default deny. The default deny must go
 * too: Kubernetes isolates a pod that *any* policy selects ("a pod is isolated for ingress if there
 * is any NetworkPolicy that both selects the pod and has Ingress in its policyTypes"), so removing
 * a workload's own policy while the default deny (`podSelector: {}`) stays would deny all of its
 * traffic. The other workloads keep their own policies, each of which still isolates them.
 */
export function rollbackPolicyNames(objects: readonly NamedPolicy[], namespace: string, workloads: readonly string[]): string[] {
  if (workloads.length === 0) return [];
  const wanted = new Set(workloads);
  const names = new Set<string>();
  for (const o of objects) {
    const workload = o.metadata.annotations?.[WORKLOAD_ANNOTATION];
    if (o.metadata.name === DEFAULT_DENY_NAME) names.add(o.metadata.name);
    else if (workload !== undefined && wanted.has(annotatedWorkloadKey(namespace, workload) ?? '')) names.add(o.metadata.name);
  }
  return [...names].sort();
}

/** One-line description of a denied edge for conditions and Events. */
export function describeDeniedEdge(e: { readonly client: string; readonly server: string; readonly port: number; readonly protocol: string; readonly count?: number; readonly direction?: DeniedDirection }): string {
  const notes = [e.count !== undefined ? `${e.count}x` : '', e.direction ? `on ${e.direction}` : ''].filter((n) => n !== '');
  return `${keyText(e.client)} -> ${keyText(e.server)} ${e.port}/${e.protocol}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
}

export function edgeId(e: DeniedEdgeKey): string {
  return `${e.client} ${e.server} ${e.port}/${e.protocol}`;
}

function compareEdges(a: DeniedEdgeKey, b: DeniedEdgeKey): number {
  return a.client < b.client ? -1 : a.client > b.client ? 1
    : a.server < b.server ? -1 : a.server > b.server ? 1
      : a.port - b.port || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0);
}
