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
 * `maxDenied: -1` never does. Only denials that are plausibly the namespace's own traffic count
 * towards it ({@link countsTowardsRollback}); the others are recorded all the same. Counting is by
 * one-second buckets, so memory follows the window length in seconds and the distinct denied edges
 * (at most {@link MAX_DENIED_EDGES}), never the number of denials.
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

/**
 * The clients the enforced proposal allows to reach each server workload (on some port), from its
 * evidence: server peer key → client peer keys. See {@link countsTowardsRollback}.
 */
export type KnownClients = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * {@link KnownClients} of a proposal's evidence: every edge the reviewer saw behind a rule (denied
 * edges the approval allowed included). A rule that allows more than was observed (public ingress,
 * DNS) makes only its observed clients known, never every address it allows.
 */
export function knownClientsOf(evidence: readonly { readonly edges: readonly { readonly client: string; readonly server: string }[] }[]): KnownClients {
  const known = new Map<string, Set<string>>();
  for (const rule of evidence) {
    for (const e of rule.edges) {
      let clients = known.get(e.server);
      if (!clients) known.set(e.server, (clients = new Set()));
      clients.add(e.client);
    }
  }
  return known;
}

/**
 * Whether a denial charged to `namespace` counts towards its automatic rollback budget: only when
 * it is plausibly the namespace's own legitimate traffic being wrongly denied, since a rollback
 * removes the namespace's policies (its default deny included) and so widens what reaches it.
 *
 * - The namespace's own workload is the client and its egress may have denied it (direction
 *   `egress`, or unknown: an unanswered SYN): it counts. The namespace's owners control those pods.
 * - The namespace's own workload is the server and its ingress may have denied it (direction
 *   `ingress`, or unknown): it counts only when the client is a workload of the same namespace, or
 *   a client `known` allows to that server on some port (say an existing caller on a port a
 *   rollout added).
 *
 * Anything else — another namespace's workload that is no known peer, a world or other address —
 * does not count: otherwise any tenant, or anyone on the internet reaching a LoadBalancer, could
 * remove another namespace's policies by retrying denied connections (docs/security.md, "Each
 * defence and its test"). Such denials are still recorded (status, metric, follow-up proposal).
 */
export function countsTowardsRollback(denial: { readonly client: string; readonly server: string; readonly direction?: DeniedDirection }, namespace: string, known: KnownClients): boolean {
  if (denial.direction !== 'ingress' && isWorkloadOf(denial.client, namespace)) return true;
  if (denial.direction === 'egress' || !isWorkloadOf(denial.server, namespace)) return false;
  return isWorkloadOf(denial.client, namespace) || (known.get(denial.server)?.has(denial.client) ?? false);
}

const BUCKET_MS = 1000;

/**
 * Distinct denied edges kept per namespace. A pod probing addresses or ports makes one per probe;
 * each is proposed for review in the next revision, so without a bound the edges would grow the
 * operator's memory and the proposal (past the API server's object size) without end.
 */
export const MAX_DENIED_EDGES = 1_000;

export class DenialTracker {
  /**
   * By edge id, least recently denied first (a denial moves its edge to the end). `counted`: the
   * last denial of the edge that counted towards the budget (-Infinity: none did).
   */
  private readonly byEdge = new Map<string, { key: DeniedEdgeKey; count: number; first: number; last: number; sides: Sides; counted: number }>();
  /** Edges of {@link byEdge} none of whose denials counted towards the budget. */
  private uncountedEdges = 0;
  /** Denials per one-second bucket (bucket start → count), oldest first. */
  private readonly buckets = new Map<number, number>();
  private total = 0;
  /** The earliest key of {@link buckets} (+Infinity when empty). */
  private earliestBucket = Number.POSITIVE_INFINITY;
  /** Edges dropped to keep {@link MAX_DENIED_EDGES}: their denials still count towards the budget. */
  evictedEdges = 0;

  /**
   * @param maxEdges distinct edges kept; one more drops the least recently denied, preferring one
   *   that never counted towards the budget (the ones a rollback acts on are the recent counted
   *   ones: {@link recentEdges})
   */
  constructor(private budget: RollbackBudget, private readonly maxEdges = MAX_DENIED_EDGES) {}

  /** Takes a changed budget (a spec edit) without forgetting what was counted. */
  setBudget(budget: RollbackBudget): void {
    this.budget = budget;
  }

  /**
   * Restores per-edge counts stored earlier (a restart or leader change): they count towards
   * {@link edges}, not towards the window (when they happened within it is not stored). An edge
   * for which `towardsBudget` is false (status does not say whose traffic it was: the caller
   * judges again, {@link countsTowardsRollback}) is never among {@link recentEdges}.
   */
  seed(edges: readonly DeniedEdge[], towardsBudget: (edge: DeniedEdge) => boolean = () => true): void {
    for (const e of edges) {
      const id = edgeId(e);
      if (this.byEdge.has(id) || !(e.count > 0)) continue;
      this.makeRoom();
      const counted = towardsBudget(e) ? e.lastDenied : Number.NEGATIVE_INFINITY;
      if (counted === Number.NEGATIVE_INFINITY) this.uncountedEdges++;
      this.byEdge.set(id, { key: { client: e.client, server: e.server, port: e.port, protocol: e.protocol }, count: e.count, first: e.firstDenied, last: e.lastDenied, sides: e.direction ?? 'both', counted });
      this.total += e.count;
    }
  }

  /**
   * Counts `count` denials of an edge at `time` (ms), denied by `direction`'s side when known.
   * With `towardsBudget` false the denials are recorded ({@link edges}, {@link totalDenied}) but
   * count neither towards the window nor make the edge one a rollback acts on
   * ({@link recentEdges}); see {@link countsTowardsRollback}.
   */
  record(edge: DeniedEdgeKey, time: number, count = 1, direction?: DeniedDirection, towardsBudget = true): void {
    if (count <= 0 || !Number.isFinite(time)) return;
    const id = edgeId(edge);
    const existing = this.byEdge.get(id);
    const sides: Sides = direction ?? 'both';
    const counted = towardsBudget ? time : Number.NEGATIVE_INFINITY;
    if (existing) {
      existing.count += count;
      if (time < existing.first) existing.first = time;
      if (time > existing.last) existing.last = time;
      if (counted > existing.counted) {
        if (existing.counted === Number.NEGATIVE_INFINITY) this.uncountedEdges--;
        existing.counted = counted;
      }
      if (existing.sides !== sides) existing.sides = 'both';
      this.byEdge.delete(id);
      this.byEdge.set(id, existing);
    } else {
      this.makeRoom();
      if (!towardsBudget) this.uncountedEdges++;
      this.byEdge.set(id, { key: { client: edge.client, server: edge.server, port: edge.port, protocol: edge.protocol }, count, first: time, last: time, sides, counted });
    }
    this.total += count;
    if (!towardsBudget) return;
    const bucket = time - (time % BUCKET_MS);
    this.buckets.set(bucket, (this.buckets.get(bucket) ?? 0) + count);
    if (bucket < this.earliestBucket) this.earliestBucket = bucket;
  }

  /** Denials counted towards the budget within the window ending at `now`. */
  inWindow(now: number): number {
    this.trim(now);
    let n = 0;
    for (const count of this.buckets.values()) n += count;
    return n;
  }

  /** Whether more than `maxDenied` counted denials fell within the window (never with `maxDenied: -1`). */
  crossed(now: number): boolean {
    return this.budget.maxDenied >= 0 && this.inWindow(now) > this.budget.maxDenied;
  }

  /** Every denied edge since tracking began, sorted by client, server, port, protocol. */
  edges(): DeniedEdge[] {
    return this.list(() => true);
  }

  /**
   * Edges with a denial counted towards the budget within the window ending at `now`: the ones a
   * rollback acts on. An edge whose denials did not count (another tenant's, the world's) is never
   * one, even while the namespace's own denials cross the budget.
   */
  recentEdges(now: number): DeniedEdge[] {
    const since = now - this.budget.windowMs;
    return this.list((counted) => counted > since);
  }

  private list(keep: (counted: number) => boolean): DeniedEdge[] {
    const out: DeniedEdge[] = [];
    for (const { key, count, first, last, sides, counted } of this.byEdge.values()) {
      if (keep(counted)) out.push({ ...key, count, firstDenied: first, lastDenied: last, ...(sides !== 'both' ? { direction: sides } : {}) });
    }
    return out.sort(compareEdges);
  }

  /** Denials recorded since tracking began (counted towards the budget or not). */
  get totalDenied(): number {
    return this.total;
  }

  /**
   * Drops an edge when the tracker holds {@link maxEdges}: the least recently denied one whose
   * denials never counted towards the budget, else the least recently denied. So a flood of
   * foreign denials (every probed port or address an edge) cannot push the namespace's own denied
   * edges out of {@link recentEdges} and keep a rollback from acting on them.
   */
  private makeRoom(): void {
    if (this.byEdge.size < this.maxEdges) return;
    let victim: string | undefined = this.byEdge.keys().next().value;
    if (this.uncountedEdges > 0) {
      for (const [id, e] of this.byEdge) {
        if (e.counted !== Number.NEGATIVE_INFINITY) continue;
        victim = id;
        break;
      }
    }
    if (victim === undefined) return;
    if (this.byEdge.get(victim)!.counted === Number.NEGATIVE_INFINITY) this.uncountedEdges--;
    this.byEdge.delete(victim);
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
