/**
 * Which namespaces are enforcing hivewall policies right now, and the denials their policies
 * cause. The flow sources tell every denied connection ({@link DenialRegistry.observe}); the
 * registry attributes it to the enforcing namespace(s) whose policies can have denied it, counts
 * it there (src/domain/denials.ts) and, when a namespace's rollback budget is crossed, calls
 * `onCrossed(namespace)` so that its Segmentation is reconciled at once (the rollback itself is
 * decided by the reconcile, src/controllers/segmentation/decide.ts).
 *
 * Attribution: Hubble's traffic direction says whose policy dropped the packet (EGRESS: the
 * client's, INGRESS: the server's); without it (conntrack: an unanswered SYN) both sides are
 * suspects. When Cilium names the denying policies, only a hivewall policy of that namespace
 * counts. Without names, an enforcing namespace always has hivewall's default deny selecting every
 * pod, so any denial of its pods is one of its policies. The direction is kept with the edge, so a
 * rollback removes only the denying side's policy (src/domain/denials.ts workloadsOfDenials).
 *
 * Every such denial is recorded (status, metric, follow-up proposal), but only those that are
 * plausibly the namespace's own traffic count towards its rollback budget and are acted on by a
 * rollback (src/domain/denials.ts countsTowardsRollback): its own workloads' egress, and ingress
 * from its own workloads or from a client the enforced proposal already allows to that server.
 * Another tenant's or the world's denied connections never remove a namespace's policies.
 */
import type { Denial } from '../domain/learner.js';
import { workloadNamespace } from '../domain/peer.js';
import { countsTowardsRollback, DenialTracker, type DeniedDirection, type DeniedEdge, type KnownClients, type RollbackBudget } from '../domain/denials.js';

/** Drop reasons that are a policy's doing: Hubble's POLICY_DENIED, an agent's unanswered TCP connection. */
const POLICY_REASONS = new Set(['POLICY_DENIED', 'UNREPLIED']);

export interface EnforcedNamespace {
  readonly segmentation: string;
  /** The enforced (approved) proposal: a new one starts counting afresh. */
  readonly proposal: string;
  readonly budget: RollbackBudget;
  /** Names of the hivewall policies live in the namespace (for Cilium's denied-by names). */
  readonly policies: readonly string[];
  /** Denied edges stored in the Segmentation's status (restored after a restart). */
  readonly stored?: readonly DeniedEdge[];
  /**
   * The clients the enforced proposal allows to each of its server workloads (src/domain/denials.ts
   * knownClientsOf its evidence): their denied ingress counts towards the budget. None: only the
   * namespace's own workloads' denials count.
   */
  readonly knownClients?: KnownClients;
}

const NO_KNOWN_CLIENTS: KnownClients = new Map();

interface Tracked {
  readonly proposal: string;
  readonly segmentation: string;
  policies: ReadonlySet<string>;
  knownClients: KnownClients;
  readonly tracker: DenialTracker;
  /** When counting began (ms). */
  readonly since: number;
  /** Whether onCrossed was called for the current crossing (called again after it cleared). */
  crossed: boolean;
}

export interface DenialView {
  readonly proposal: string;
  readonly since: number;
  readonly edges: readonly DeniedEdge[];
  readonly recent: readonly DeniedEdge[];
  readonly crossed: boolean;
  readonly inWindow: number;
}

export class DenialRegistry {
  private readonly namespaces = new Map<string, Tracked>();

  constructor(private readonly options: {
    readonly now: () => number;
    readonly onCrossed: (namespace: string) => void;
    /**
     * Every denial recorded against a namespace, whether or not it counts towards the rollback
     * budget (the `hivewall_denied_flows_total` metric).
     */
    readonly onDenied?: (namespace: string, count: number) => void;
  }) {}

  /** The namespace enforces `state.proposal`: count its denials (kept when it already did). */
  enforce(namespace: string, state: EnforcedNamespace): void {
    const existing = this.namespaces.get(namespace);
    if (existing && existing.proposal === state.proposal && existing.segmentation === state.segmentation) {
      existing.tracker.setBudget(state.budget);
      existing.policies = new Set(state.policies);
      existing.knownClients = state.knownClients ?? NO_KNOWN_CLIENTS;
      return;
    }
    const knownClients = state.knownClients ?? NO_KNOWN_CLIENTS;
    const tracker = new DenialTracker(state.budget);
    // Status keeps no direction: each restored edge is judged as an unanswered SYN would be.
    if (state.stored) tracker.seed(state.stored, (e) => countsTowardsRollback(e, namespace, knownClients));
    const since = state.stored?.reduce((min, e) => Math.min(min, e.firstDenied), this.options.now()) ?? this.options.now();
    this.namespaces.set(namespace, { proposal: state.proposal, segmentation: state.segmentation, policies: new Set(state.policies), knownClients, tracker, since, crossed: false });
  }

  /**
   * The namespace no longer enforces anything: stop counting. With `segmentation`, only when that
   * Segmentation is the one it counts for (a reconcile of some other name there, say a key made up
   * from a forged ownerReference, must not reset the real one's count).
   */
  release(namespace: string, segmentation?: string): void {
    if (segmentation !== undefined && this.namespaces.get(namespace)?.segmentation !== segmentation) return;
    this.namespaces.delete(namespace);
  }

  /** What was counted for the namespace's enforced proposal, if it is the one given. */
  view(namespace: string, proposal: string): DenialView | undefined {
    const t = this.namespaces.get(namespace);
    if (!t || t.proposal !== proposal) return undefined;
    const now = this.options.now();
    return { proposal, since: t.since, edges: t.tracker.edges(), recent: t.tracker.recentEdges(now), crossed: t.tracker.crossed(now), inWindow: t.tracker.inWindow(now) };
  }

  /** A denied connection (or `count` of them on one edge) from any flow source. */
  observe(denial: Denial, count = 1): void {
    if (!POLICY_REASONS.has(denial.reason) || this.namespaces.size === 0) return;
    const now = this.options.now();
    const sides = denial.direction === 'EGRESS' ? [denial.client] : denial.direction === 'INGRESS' ? [denial.server] : [denial.client, denial.server];
    const direction: DeniedDirection | undefined = denial.direction === 'EGRESS' ? 'egress' : denial.direction === 'INGRESS' ? 'ingress' : undefined;
    const counted = new Set<string>();
    for (const side of sides) {
      const namespace = workloadNamespace(side);
      if (namespace === undefined || counted.has(namespace)) continue;
      const t = this.namespaces.get(namespace);
      if (!t || !deniedByUs(denial.deniedBy, namespace, t.policies)) continue;
      counted.add(namespace);
      const towardsBudget = countsTowardsRollback({ client: denial.client, server: denial.server, ...(direction ? { direction } : {}) }, namespace, t.knownClients);
      t.tracker.record(denial, now, count, direction, towardsBudget);
      this.options.onDenied?.(namespace, count);
      if (!towardsBudget) continue;
      const crossed = t.tracker.crossed(now);
      if (crossed && !t.crossed) this.options.onCrossed(namespace);
      t.crossed = crossed;
    }
  }
}

/** Whether Cilium's denied-by names (if any) include a hivewall policy of the namespace. */
function deniedByUs(deniedBy: readonly string[] | undefined, namespace: string, policies: ReadonlySet<string>): boolean {
  if (deniedBy === undefined || deniedBy.length === 0) return true;
  return deniedBy.some((name) => {
    const slash = name.indexOf('/');
    return name.slice(0, slash) === namespace && policies.has(name.slice(slash + 1));
  });
}
