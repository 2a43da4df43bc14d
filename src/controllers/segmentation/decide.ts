/**
 * The Segmentation state machine, pure: from what is (spec, learning progress, proposals, audit
 * results, live policies) to what should be (status, proposal to write, policies to apply or
 * delete). The reconciler does the I/O; this decides. docs/architecture.md §3:
 *
 *   Learn → window elapsed and graph stable → proposal written → reviewer approves →
 *   Audit (approved policies evaluated against live flows) → audit period clean →
 *   Enforce (policies applied; drift reverted; new edges open a follow-up proposal).
 *   Back to Learn, or deleting the Segmentation, removes every policy hivewall owns there.
 *
 * `spec.mode` is how far the namespace may go: Learn stops at proposals, Audit stops at auditing.
 */
import { parseDuration } from '../../api/duration.js';
import type { Condition } from '../../api/meta.js';
import type { DeniedEdgeStatus, RolledBackStatus, SegmentationSpec, SegmentationStatus } from '../../api/segmentation.js';
import { prunableProposals } from './history.js';
import type { ApprovalJudgement } from '../../domain/approval.js';
import { describeDeniedEdge, workloadsOfDenials } from '../../domain/denials.js';
import { keyText } from '../../domain/peer.js';

export interface ProposalFact {
  readonly name: string;
  readonly revision: number;
  readonly digest: string;
  readonly decision: 'Pending' | 'Approved' | 'Rejected';
  readonly reviewer?: string;
  readonly phase?: string;
  /** Nobody reviewed it: decision Pending, and no reviewer, review time or comment (./history.ts). */
  readonly untouched?: boolean;
}

export interface DecideInput {
  readonly now: number;
  /** The Segmentation's name: proposals are `<name>-r<revision>`. */
  readonly name: string;
  readonly generation: number;
  readonly spec: SegmentationSpec;
  readonly status: SegmentationStatus;
  readonly learning: {
    readonly flows: number;
    readonly edges: number;
    readonly lastNewEdge?: number;
    readonly lostEvents: number;
    /** New edges of this namespace refused by the operator's edge bounds (--max-edges, --max-edges-per-namespace). */
    readonly refusedEdges?: number;
  };
  /** Digest of what the current graph would propose (undefined when there is nothing to propose). */
  readonly draftDigest?: string;
  /**
   * Edges the newest revision allowed that the learned graph no longer has (proposal.ts
   * `edgesMissingFrom`): learned state was lost, and no narrower revision is proposed.
   */
  readonly lostEdges?: readonly string[];
  /**
   * Edges the newest revision allows that the draft, whose digest is new, would not (described):
   * the graph has them but a new revision would drop them (e.g. a workload whose pods are not
   * known yet). No narrower revision is proposed.
   */
  readonly narrowedEdges?: readonly string[];
  /** The Segmentation's own proposals (bound by ownerReference and content). */
  readonly proposals: readonly ProposalFact[];
  /**
   * Names of PolicyProposals in the namespace that are not bound to this Segmentation (e.g. left by
   * a deleted Segmentation of the same name): a revision with such a name cannot be written.
   */
  readonly takenNames?: readonly string[];
  /** The proposal that counts as approved, decided by judgeProposals (src/domain/approval.ts). */
  readonly approved?: ApprovalJudgement['approved'];
  /**
   * An earlier approved proposal whose policies are still enforced while `approved` is audited
   * (./enforced.ts heldProposal): it stays enforced — drift repair, safety net — until `approved`
   * replaces it.
   */
  readonly held?: { readonly name: string };
  /** Proposals refused although approved (pins, digest, objects): reported, never enforced. */
  readonly approvalRefused?: ApprovalJudgement['refused'];
  readonly audit?: { readonly flows: number; readonly wouldDeny: number; readonly samples: NonNullable<NonNullable<SegmentationStatus['audit']>['samples']> };
  /** Whether the live owned policies (both flavors) equal the enforced proposal's objects (`held`, else `approved`). */
  readonly liveInSync: boolean;
  readonly ownedPolicies: number;
  readonly sourceError?: string;
  /** Coverage warnings of the current draft (what the window could not have seen). */
  readonly coverageGaps?: number;
  /** Denials of the enforced proposal's policies, counted since it was enforced. */
  readonly denials?: {
    readonly namespace: string;
    readonly proposal: string;
    /** Every denied edge (status.enforcement.denied), already formatted. */
    readonly edges: readonly DeniedEdgeStatus[];
    /** Edges denied within the rollback window: their workloads are rolled back. */
    readonly recent: readonly { readonly client: string; readonly server: string; readonly port: number; readonly protocol: string; readonly count: number; readonly direction?: 'ingress' | 'egress' }[];
    readonly crossed: boolean;
    readonly inWindow: number;
  };
  /** The policy names a rollback of these workloads removes (src/domain/denials.ts rollbackPolicyNames). */
  readonly rollbackPolicies?: (workloads: readonly string[]) => string[];
}

export type Action =
  | { readonly type: 'create-proposal'; readonly revision: number }
  | { readonly type: 'supersede-proposal'; readonly name: string }
  | { readonly type: 'delete-proposal'; readonly name: string }
  | { readonly type: 'mark-proposal'; readonly name: string; readonly phase: 'Auditing' | 'Enforced' }
  | { readonly type: 'apply'; readonly proposal: string; readonly exclude?: readonly string[] }
  | { readonly type: 'delete-owned' }
  | { readonly type: 'reset-audit'; readonly proposal: string }
  | { readonly type: 'event'; readonly kind: 'Normal' | 'Warning'; readonly reason: string; readonly message: string };

export interface Decision {
  readonly status: SegmentationStatus;
  readonly actions: readonly Action[];
  /** The proposal enforced after this decision (the approved one, or the held one while the approved one is audited). */
  readonly enforced?: string;
  /** When to look again (ms). */
  readonly requeueAfter: number;
}

/**
 * No time-based transition pending: look again only when something changes (the work queue is
 * told) or at the operator's resync period.
 */
const RECHECK_MS = Number.POSITIVE_INFINITY;
/**
 * When to look again while the graph is not stable: when the window ends, or when the graph will
 * have been quiet for `stableFor` — whichever of those is still ahead (at least 1 s). Neither ahead
 * (no edge learned yet: only a new edge, which enqueues the Segmentation, can make it stable):
 * {@link RECHECK_MS}. A wait already past must not count, or a Segmentation without traffic after
 * its window would be reconciled every second for ever.
 */
function untilStable(windowLeftMs: number, quietLeftMs: number | undefined): number {
  const ahead = [windowLeftMs, quietLeftMs ?? 0].filter((ms) => ms > 0);
  return ahead.length === 0 ? RECHECK_MS : Math.max(1000, Math.min(...ahead));
}

/** Lost edges named in the condition and the Event (the rest are counted). */
const LOST_EDGES_SHOWN = 10;

export function decide(input: DecideInput): Decision {
  const { spec, now } = input;
  const iso = (ms: number) => new Date(ms).toISOString();
  const actions: Action[] = [];
  const conditions = new Conditions(input.status.conditions ?? [], input.generation, iso(now));
  const windowStart = input.status.learning?.windowStart ?? iso(now);
  const windowMs = parseDuration(spec.learning.window) ?? 0;
  const stableMs = parseDuration(spec.learning.stableFor) ?? 0;
  const auditMs = parseDuration(spec.promotion.auditPeriod) ?? 0;
  const learnedFor = now - Date.parse(windowStart);
  const quietFor = input.learning.lastNewEdge === undefined ? 0 : now - input.learning.lastNewEdge;
  const stable = input.learning.edges > 0 && learnedFor >= windowMs && quietFor >= stableMs;

  const latest = [...input.proposals].sort((a, b) => b.revision - a.revision)[0];
  const approved = input.approved;
  const refused = input.approvalRefused ?? [];

  // Learning and proposing go on in every mode: new edges after enforcement open a follow-up proposal.
  conditions.set('Learning', 'True', stable ? 'GraphStable' : 'Learning',
    stable ? `graph stable: ${input.learning.edges} edges, no new edge for ${spec.learning.stableFor}`
      : `learning since ${windowStart}: ${input.learning.edges} edges, ${input.learning.flows} flows`);
  const coverageBlocks = spec.learning.requireCoverage && (input.coverageGaps ?? 0) > 0;
  // A proposal never silently narrows, and no revision repeats an earlier one.
  const lostEdges = input.lostEdges ?? [];
  // Learning only adds edges: fewer than the status counted means learned state was lost.
  const edgesBefore = input.status.learning?.edges ?? 0;
  const missingSinceStatus = Math.max(0, edgesBefore - input.learning.edges);
  // A proposal from before content pinning can never be approved: its content is proposed again.
  const legacy = new Set(refused.filter((r) => r.reason === 'LegacyProposal').map((r) => r.name));
  const repeats = input.proposals.some((p) => p.digest === input.draftDigest && !legacy.has(p.name));
  if (lostEdges.length > 0 && latest) {
    const shown = lostEdges.slice(0, LOST_EDGES_SHOWN).join(', ') + (lostEdges.length > LOST_EDGES_SHOWN ? ` and ${lostEdges.length - LOST_EDGES_SHOWN} more` : '');
    const message = `${lostEdges.length} edge(s) allowed by ${latest.name} are missing from the learned graph (learned state was lost; learning only adds edges): ${shown}. No narrower revision is proposed; they return when traffic shows them again`;
    const before = input.status.conditions?.find((c) => c.type === 'EdgesComplete');
    if (before?.status !== 'False' || before.message !== message) {
      actions.push({ type: 'event', kind: 'Warning', reason: 'NarrowerProposalRefused', message });
    }
    conditions.set('EdgesComplete', 'False', 'LearnedStateLost', message);
  } else if ((input.narrowedEdges ?? []).length > 0 && latest) {
    const narrowed = input.narrowedEdges!;
    const shown = narrowed.slice(0, LOST_EDGES_SHOWN).join(', ') + (narrowed.length > LOST_EDGES_SHOWN ? ` and ${narrowed.length - LOST_EDGES_SHOWN} more` : '');
    const message = `a new revision would not allow ${narrowed.length} edge(s) that ${latest.name} allows, though the learned graph has them (a workload's pods may not be known yet): ${shown}. No narrower revision is proposed`;
    const before = input.status.conditions?.find((c) => c.type === 'EdgesComplete');
    if (before?.status !== 'False' || before.message !== message) {
      actions.push({ type: 'event', kind: 'Warning', reason: 'NarrowerProposalRefused', message });
    }
    conditions.set('EdgesComplete', 'False', 'NarrowerDraft', message);
  } else if (missingSinceStatus > 0) {
    // The status counted more edges than the operator holds: its TrafficProfile was lost while no
    // operator ran. Starting over from empty would propose a narrower graph: wait for traffic.
    const message = `${missingSinceStatus} of the ${edgesBefore} edges learned before are missing from the learned graph (learned state was lost, e.g. the TrafficProfile was deleted while the operator was down); no proposal until traffic shows them again (or re-create the Segmentation to start over)`;
    const before = input.status.conditions?.find((c) => c.type === 'EdgesComplete');
    if (before?.status !== 'False' || before.reason !== 'LearnedStateLost') {
      actions.push({ type: 'event', kind: 'Warning', reason: 'LearnedStateLost', message });
    }
    conditions.set('EdgesComplete', 'False', 'LearnedStateLost', message);
  } else if (input.status.conditions?.some((c) => c.type === 'EdgesComplete')) {
    conditions.set('EdgesComplete', 'True', 'NoEdgeLost', `every edge ${latest ? `of ${latest.name} ` : ''}is in the learned graph`);
  }
  const nextName = proposalName(input.name, (latest?.revision ?? 0) + 1);
  const nameTaken = input.takenNames?.includes(nextName) ?? false;
  const mayPropose = stable && input.draftDigest !== undefined && !repeats && lostEdges.length === 0 && (input.narrowedEdges ?? []).length === 0 && missingSinceStatus === 0 && !coverageBlocks;
  if (mayPropose && !nameTaken) {
    const revision = (latest?.revision ?? 0) + 1;
    actions.push({ type: 'create-proposal', revision });
    for (const p of input.proposals) if (p.decision === 'Pending' && p.phase !== 'Superseded') actions.push({ type: 'supersede-proposal', name: p.name });
    actions.push({ type: 'event', kind: 'Normal', reason: 'ProposalCreated', message: `revision ${revision} proposed from ${input.learning.edges} edges` });
  }
  const created = actions.find((a): a is Extract<Action, { type: 'create-proposal' }> => a.type === 'create-proposal');
  // The status written with a create-proposal action already names the new revision, so the
  // reconcile the new proposal's watch event starts finds nothing to change.
  const newest: Pick<ProposalFact, 'name' | 'revision' | 'decision' | 'digest'> | undefined = created
    ? { name: proposalName(input.name, created.revision), revision: created.revision, decision: 'Pending', digest: input.draftDigest! }
    : latest;
  const proposed = newest !== undefined;
  const coverageMessage = `learning.requireCoverage: ${input.coverageGaps ?? 0} workloads the window could not have seen (CronJobs that did not run, workloads scaled to zero, created late or without flows)`;
  if (mayPropose && nameTaken) nameTakenCondition(input, conditions, actions, nextName);
  else if (coverageBlocks && !proposed) conditions.set('Proposed', 'False', 'CoverageIncomplete', coverageMessage);
  else conditions.set('Proposed', proposed ? 'True' : 'False', proposed ? 'ProposalWritten' : 'WaitingForStableGraph',
    newest ? `latest proposal ${newest.name} (revision ${newest.revision}, ${newest.decision})${coverageBlocks && stable && newest.digest !== input.draftDigest ? `; no new revision: ${coverageMessage}` : ''}` : 'no proposal yet');
  const refusal = refused[0];
  conditions.set('Approved', approved ? 'True' : 'False',
    approved ? 'Approved' : refusal ? refusal.reason : newest?.decision === 'Rejected' ? 'Rejected' : 'WaitingForReview',
    [approved ? `${approved.name} approved${approved.reviewer ? ` by ${approved.reviewer}` : ' (approval waived)'}` : refusal ? '' : 'no approved proposal',
      ...refused.map((r) => `refused ${r.message}`)].filter((m) => m !== '').join('; '));
  const refusedBefore = input.status.conditions?.find((c) => c.type === 'Approved')?.message ?? '';
  for (const r of refused) {
    if (!refusedBefore.includes(`refused ${r.message}`)) actions.push({ type: 'event', kind: 'Warning', reason: r.reason, message: r.message });
  }

  let phase: NonNullable<SegmentationStatus['phase']> = proposed ? 'Proposed' : 'Learning';
  let audit = input.status.audit;
  let approvedProposal = input.status.approvedProposal;
  let enforcement = input.status.enforcement;
  let enforced: string | undefined;
  // A rollback lasts until a newer proposal is approved: kept through Audit mode and restarts.
  let rolledBack: RolledBackStatus | undefined = approved && input.status.enforcement?.rolledBack?.proposal === approved.name ? input.status.enforcement.rolledBack : undefined;
  let denied: DeniedEdgeStatus[] | undefined = approved && enforcementOwner(input) === approved.name ? input.status.enforcement?.denied : undefined;
  let requeue = RECHECK_MS;
  if (!stable) requeue = untilStable(windowMs - learnedFor, input.learning.edges > 0 ? stableMs - quietFor : undefined);

  // With GitOps delivery the repository owns the policies: hivewall never writes or deletes them.
  const mayWrite = spec.delivery === 'Apply';
  // Enforced by an older hivewall from a proposal without content pins: its live policies are left
  // as they are (neither removed nor re-applied) until a pinned revision is approved.
  const legacyEnforced = !approved && spec.mode !== 'Learn' && input.status.approvedProposal !== undefined && legacy.has(input.status.approvedProposal);
  if (legacyEnforced) {
    conditions.set('Enforced', 'False', 'LegacyProposal', `${input.status.approvedProposal} was approved without content pins (an older hivewall): its live policies are left as they are, not re-applied or reverted on drift, until a newer revision is approved`);
    audit = undefined;
    enforcement = undefined;
  } else if (spec.mode === 'Learn' || !approved) {
    if (input.ownedPolicies > 0 && mayWrite) {
      actions.push({ type: 'delete-owned' });
      actions.push({ type: 'event', kind: 'Normal', reason: 'PoliciesRemoved', message: `mode ${spec.mode}: removed ${input.ownedPolicies} hivewall policies` });
    }
    if (approved) phase = 'Approved';
    conditions.set('Enforced', 'False', spec.mode === 'Learn' ? 'LearnMode' : 'NotApproved', spec.mode === 'Learn' ? 'mode is Learn' : 'waiting for an approved proposal');
    audit = undefined;
    enforcement = undefined;
    approvedProposal = approved?.name;
  } else {
    // Audit or Enforce with an approved proposal.
    if (approvedProposal !== approved.name || !audit?.since) {
      actions.push({ type: 'reset-audit', proposal: approved.name });
      actions.push({ type: 'mark-proposal', name: approved.name, phase: 'Auditing' });
      audit = { since: iso(now), flows: 0, wouldDeny: 0, samples: [] };
      approvedProposal = approved.name;
    } else if (input.audit) {
      audit = { since: audit.since, flows: input.audit.flows, wouldDeny: input.audit.wouldDeny, samples: input.audit.samples };
    }
    const auditedFor = now - Date.parse(audit.since!);
    const wouldDeny = audit.wouldDeny ?? 0;
    const clean = wouldDeny <= spec.promotion.allowedWouldDeny;
    conditions.set('AuditClean', clean ? 'True' : 'False', clean ? 'NoViolations' : 'WouldDeny',
      clean ? `${audit.flows ?? 0} live flows evaluated, ${wouldDeny} would be denied` : `${wouldDeny} live flows would be denied (allowed: ${spec.promotion.allowedWouldDeny})`);
    const alreadyEnforcing = input.status.phase === 'Enforcing' && input.status.approvedProposal === approved.name;
    if (spec.mode === 'Audit') {
      phase = 'Auditing';
      if (input.ownedPolicies > 0 && mayWrite) actions.push({ type: 'delete-owned' });
      conditions.set('Enforced', 'False', 'AuditMode', 'mode is Audit: policies are evaluated, not applied');
      // Nothing is enforced in Audit mode: the live-state fields go (what was denied stays).
      enforcement = enforcement && withoutLiveState(enforcement);
    } else if (alreadyEnforcing || (auditedFor >= auditMs && clean)) {
      phase = 'Enforcing';
      ({ enforcement, rolledBack, denied } = enforceProposal(input, conditions, actions, { name: approved.name, alreadyEnforcing, auditedFor }, enforcement));
      enforced = approved.name;
    } else {
      phase = 'Auditing';
      const left = auditMs - auditedFor;
      const waiting = left > 0
        ? `auditing ${approved.name} for ${spec.promotion.auditPeriod} before enforcing`
        : `promotion refused: ${wouldDeny} live flows would be denied, more than the ${spec.promotion.allowedWouldDeny} allowed`;
      if (left > 0) requeue = Math.min(requeue, Math.max(1000, left));
      if (input.held) {
        // The earlier proposal stays enforced (drift repair, safety net) until this one replaces it.
        ({ enforcement, rolledBack, denied } = enforceProposal(input, conditions, actions, { name: input.held.name, alreadyEnforcing: true, auditedFor: 0, note: waiting }, enforcement));
        enforced = input.held.name;
      } else {
        conditions.set('Enforced', 'False', left > 0 ? 'Auditing' : 'PromotionRefused', waiting);
        // The status described an enforcement that ended (its proposal is no longer approved): it goes.
        if (input.status.phase === 'Auditing' && input.status.enforcement?.inSync !== undefined) {
          enforcement = undefined;
          denied = undefined;
          rolledBack = undefined;
        }
      }
    }
  }

  if (enforced === undefined && input.status.conditions?.some((c) => c.type === 'RolledBack')) {
    conditions.set('RolledBack', 'False', 'NotEnforcing', `phase ${phase}`);
  }

  // Lost flow events (Hubble ring buffer or relay overflows) mean connections hivewall never saw:
  // a proposal learned meanwhile may miss edges. Surfaced, not blocking: the reviewer decides.
  const lost = input.learning.lostEvents;
  const overLimit = input.learning.refusedEdges ?? 0;
  const lostMessage = `${lost} flow events were reported lost by the flow sources; connections seen only in them are missing from the graph (Hubble: raise the event buffer or relay capacity, or also follow the export file; agents: raise --max-buffered-edges or restore their connection to the operator)`;
  const limitMessage = `${overLimit} new edges of this namespace were not learned: the operator's edge limit is reached (--max-edges-per-namespace, --max-edges); the graph is incomplete and a proposal would miss them`;
  conditions.set('FlowsComplete', lost > 0 || overLimit > 0 ? 'False' : 'True', overLimit > 0 ? 'EdgeLimitReached' : lost > 0 ? 'EventsLost' : 'NoEventsLost',
    [overLimit > 0 ? limitMessage : '', lost > 0 ? lostMessage : ''].filter((m) => m !== '').join('; ') || 'no flow events lost');
  const lostBefore = input.status.learning?.lostEvents ?? 0;
  if (lost > lostBefore) {
    actions.push({ type: 'event', kind: 'Warning', reason: 'FlowEventsLost', message: `${lost - lostBefore} more flow events lost (${lost} in total): the learned graph may be incomplete` });
  }
  const overLimitBefore = input.status.learning?.refusedEdges ?? 0;
  if (overLimit > overLimitBefore) {
    actions.push({ type: 'event', kind: 'Warning', reason: 'EdgeLimitReached', message: `${overLimit - overLimitBefore} more new edges not learned (${overLimit} in total): the edge limit is reached` });
  }
  conditions.set('Degraded', input.sourceError ? 'True' : 'False', input.sourceError ? 'FlowSourceError' : 'AsExpected', input.sourceError ?? 'flow sources healthy');
  conditions.set('Ready', 'True', 'Reconciled', `phase ${phase}`);

  const status: SegmentationStatus = {
    observedGeneration: input.generation,
    phase: input.sourceError && phase === 'Learning' ? 'Degraded' : phase,
    conditions: conditions.list(),
    learning: {
      windowStart,
      flows: input.learning.flows,
      // The high-water mark while edges are missing, so the condition holds until they are back.
      edges: Math.max(input.learning.edges, edgesBefore),
      ...(input.learning.lastNewEdge !== undefined ? { lastNewEdge: iso(input.learning.lastNewEdge) } : {}),
      lostEvents: input.learning.lostEvents,
      ...(overLimit > 0 ? { refusedEdges: overLimit } : {}),
    },
    ...(newest ? { proposal: { name: newest.name, revision: newest.revision, decision: newest.decision } } : {}),
    ...(approvedProposal ? { approvedProposal } : {}),
    ...(audit ? { audit } : {}),
    ...(enforcement ? { enforcement: withDenials(enforcement, denied, rolledBack) } : {}),
  };
  const referenced = new Set([newest?.name, approved?.name, approvedProposal, enforced, input.status.proposal?.name, enforcement?.rolledBack?.proposal].filter((n): n is string => n !== undefined));
  const pruned = prunableProposals(input.proposals, spec.revisionHistoryLimit, referenced);
  for (const name of pruned) actions.push({ type: 'delete-proposal', name });
  if (pruned.length > 0) {
    actions.push({ type: 'event', kind: 'Normal', reason: 'ProposalsPruned', message: `deleted ${pruned.length} superseded revision(s) nobody reviewed, beyond revisionHistoryLimit ${spec.revisionHistoryLimit}: ${pruned.join(', ')}` });
  }
  return { status, actions, requeueAfter: requeue, ...(enforced ? { enforced } : {}) };
}

/**
 * The next revision's name belongs to a PolicyProposal of another owner: nothing is written (the
 * pending revision is not superseded), Proposed=False NameTaken, and one Warning Event.
 */
function nameTakenCondition(input: DecideInput, conditions: Conditions, actions: Action[], name: string): void {
  const message = `PolicyProposal ${name} exists but does not belong to this Segmentation (another owner, e.g. a deleted Segmentation of the same name): the next revision cannot be written; delete that proposal`;
  const before = input.status.conditions?.find((c) => c.type === 'Proposed');
  if (before?.reason !== 'NameTaken' || before.message !== message) actions.push({ type: 'event', kind: 'Warning', reason: 'NameTaken', message });
  conditions.set('Proposed', 'False', 'NameTaken', message);
}

/**
 * The proposal `status.enforcement` (denied edges, rollback) describes: the held one while a newer
 * approval is audited, else `status.approvedProposal`.
 */
function enforcementOwner(input: DecideInput): string | undefined {
  return input.held?.name ?? input.status.approvedProposal;
}

/** `status.enforcement` without what describes live policies (nothing is enforced). */
function withoutLiveState(enforcement: NonNullable<SegmentationStatus['enforcement']>): NonNullable<SegmentationStatus['enforcement']> {
  const { inSync: _i, lastApplied: _l, policies: _p, driftReverted: _d, ...rest } = enforcement;
  return rest;
}

interface EnforceTarget {
  readonly name: string;
  /** It was enforced before this decision (else it is enforced now, after its audit). */
  readonly alreadyEnforcing: boolean;
  readonly auditedFor: number;
  /** Appended to the Enforced condition: what happens to the approved proposal meanwhile. */
  readonly note?: string;
}

interface Enforcement {
  readonly enforcement: SegmentationStatus['enforcement'];
  readonly rolledBack: RolledBackStatus | undefined;
  readonly denied: DeniedEdgeStatus[] | undefined;
}

/**
 * Enforcing `target` (docs/architecture.md §3, Enforce): apply it (Apply delivery) when it is new,
 * live policies drifted or the safety net rolled workloads back; the rollback's policies stay out;
 * the Enforced and RolledBack conditions say so. With GitOps delivery only report.
 */
function enforceProposal(input: DecideInput, conditions: Conditions, actions: Action[], target: EnforceTarget, before: SegmentationStatus['enforcement']): Enforcement {
  const { spec } = input;
  const now = new Date(input.now).toISOString();
  const { name, alreadyEnforcing, auditedFor } = target;
  const note = target.note ? `; ${target.note}` : '';
  const safety = rollbackDecision(input, name, alreadyEnforcing, now);
  actions.push(...safety.actions);
  const { rolledBack, denied } = safety;
  if (rolledBack && spec.delivery === 'Apply') {
    conditions.set('RolledBack', 'True', 'DeniedTraffic', `removed ${rolledBack.policies.join(', ')} (workloads ${rolledBack.workloads.map(keyText).join(', ')}): ${safety.edgesText}; approve a new proposal to enforce them again`);
  } else conditions.set('RolledBack', 'False', rolledBack ? 'GitOpsDelivery' : 'WithinBudget', rolledBack ? 'delivery is GitOps: hivewall removes nothing' : budgetText(spec, input));
  if (rolledBack && spec.delivery === 'GitOps') {
    conditions.set('Enforced', 'False', 'DeniedTraffic', `the enforced policies denied traffic past the rollback budget: ${safety.edgesText}; remove or fix them in the repository, and review the follow-up proposal${note}`);
    return { enforcement: { ...(before ?? {}), inSync: input.liveInSync }, rolledBack, denied };
  }
  if (spec.delivery === 'GitOps') {
    const which = target.note ? name : 'the approved proposal';
    conditions.set('Enforced', input.liveInSync ? 'True' : 'False', input.liveInSync ? 'GitOpsInSync' : 'GitOpsOutOfSync',
      (input.liveInSync ? `live policies match ${which}` : `delivery is GitOps: the live policies do not match ${which} yet`) + note);
    return { enforcement: { ...(before ?? {}), inSync: input.liveInSync }, rolledBack, denied };
  }
  const exclude = rolledBack?.policies ?? [];
  if (!input.liveInSync || !alreadyEnforcing || safety.newlyRolledBack) actions.push({ type: 'apply', proposal: name, ...(exclude.length > 0 ? { exclude } : {}) });
  const drifted = alreadyEnforcing && !input.liveInSync && !safety.newlyRolledBack;
  if (!alreadyEnforcing) {
    actions.push({ type: 'mark-proposal', name, phase: 'Enforced' });
    actions.push({ type: 'event', kind: 'Normal', reason: 'Enforced', message: `${name} enforced after ${Math.round(auditedFor / 1000)}s of clean audit` });
  } else if (drifted) {
    actions.push({ type: 'event', kind: 'Warning', reason: 'DriftReverted', message: 'a hivewall policy was changed or deleted by hand; restored' });
  }
  if (rolledBack) conditions.set('Enforced', 'True', 'PartlyRolledBack', `${name} applied except the rolled-back ${rolledBack.policies.join(', ')}${note}`);
  else conditions.set('Enforced', 'True', 'Applied', `${name} applied with server-side apply${note}`);
  const enforcement = {
    policies: before?.policies ?? 0,
    inSync: true,
    lastApplied: !input.liveInSync || !alreadyEnforcing ? now : (before?.lastApplied ?? now),
    driftReverted: (before?.driftReverted ?? 0) + (drifted ? 1 : 0),
  };
  return { enforcement, rolledBack, denied };
}

/** At most this many denied edges are kept in status (most denied first). */
const MAX_DENIED_IN_STATUS = 50;

interface RollbackOutcome {
  readonly actions: Action[];
  readonly rolledBack: RolledBackStatus | undefined;
  readonly newlyRolledBack: boolean;
  readonly denied: DeniedEdgeStatus[] | undefined;
  readonly edgesText: string;
}

/**
 * The safety net while enforcing (spec.enforcement.rollback): once more than `maxDenied`
 * connections were denied within the window, the workloads whose policies denied the recent edges
 * are rolled back — the server of an ingress denial, the client of an egress denial, both sides
 * when the denial does not say (workloadsOfDenials) — their policies (and the default deny, see rollbackPolicyNames) are
 * removed and stay removed for this proposal; a newer approved proposal ends the rollback. With
 * GitOps nothing is removed; the outcome is reported the same way. Only denials that are plausibly
 * the namespace's own traffic count and are among the recent edges (src/domain/denials.ts
 * countsTowardsRollback, applied by the DenialRegistry): another tenant's denied connections never
 * roll this namespace back.
 */
function rollbackDecision(input: DecideInput, proposal: string, alreadyEnforcing: boolean, now: string): RollbackOutcome {
  const counted = input.denials?.proposal === proposal ? input.denials : undefined;
  const stored = input.status.enforcement?.rolledBack?.proposal === proposal ? input.status.enforcement.rolledBack : undefined;
  const storedDenied = enforcementOwner(input) === proposal ? input.status.enforcement?.denied : undefined;
  const denied = counted ? [...counted.edges].sort((a, b) => b.count - a.count).slice(0, MAX_DENIED_IN_STATUS) : storedDenied;
  const actions: Action[] = [];
  let rolledBack = stored;
  let newlyRolledBack = false;
  if (alreadyEnforcing && counted?.crossed) {
    const workloads = workloadsOfDenials(counted.recent, counted.namespace);
    const added = workloads.filter((w) => !stored?.workloads.includes(w));
    if (added.length > 0) {
      const all = [...new Set([...(stored?.workloads ?? []), ...workloads])].sort();
      const policies = input.spec.delivery === 'Apply' ? (input.rollbackPolicies?.(all) ?? []) : [];
      rolledBack = { proposal, at: now, workloads: all, policies };
      newlyRolledBack = true;
      const edgesText = counted.recent.map(describeDeniedEdge).join(', ');
      actions.push(input.spec.delivery === 'Apply'
        ? { type: 'event', kind: 'Warning', reason: 'RolledBack', message: `${counted.inWindow} connections denied within ${input.spec.enforcement.rollback.window} (budget ${input.spec.enforcement.rollback.maxDenied}): removed ${policies.join(', ')}; denied ${edgesText}` }
        : { type: 'event', kind: 'Warning', reason: 'DeniedTraffic', message: `${counted.inWindow} connections denied within ${input.spec.enforcement.rollback.window} (budget ${input.spec.enforcement.rollback.maxDenied}); delivery is GitOps, nothing removed; denied ${edgesText}` });
    }
  }
  const edgesText = (denied ?? []).filter((e) => !rolledBack || rolledBack.workloads.includes(e.client) || rolledBack.workloads.includes(e.server))
    .slice(0, 10).map((e) => describeDeniedEdge(e)).join(', ') || 'no edge recorded';
  return { actions, rolledBack, newlyRolledBack, denied, edgesText };
}

function withDenials(enforcement: NonNullable<SegmentationStatus['enforcement']>, denied: DeniedEdgeStatus[] | undefined, rolledBack: RolledBackStatus | undefined): NonNullable<SegmentationStatus['enforcement']> {
  const { denied: _d, rolledBack: _r, ...rest } = enforcement;
  return { ...rest, ...(denied && denied.length > 0 ? { denied } : {}), ...(rolledBack ? { rolledBack } : {}) };
}

function budgetText(spec: SegmentationSpec, input: DecideInput): string {
  const { maxDenied, window } = spec.enforcement.rollback;
  if (maxDenied < 0) return 'rollback disabled (maxDenied -1)';
  return `${input.denials?.inWindow ?? 0} connections denied within ${window} of the namespace's own traffic (rollback past ${maxDenied}; other clients' denials are recorded, not counted)`;
}

/** Proposal names are deterministic: `<segmentation>-r<revision>`. */
export function proposalName(segmentation: string, revision: number): string {
  return `${segmentation}-r${revision}`;
}

/** metav1.Condition bookkeeping: lastTransitionTime changes only when status changes. */
class Conditions {
  private readonly byType = new Map<string, Condition>();
  constructor(existing: readonly Condition[], private readonly generation: number, private readonly now: string) {
    for (const c of existing) this.byType.set(c.type, c);
  }

  set(type: string, status: Condition['status'], reason: string, message: string): void {
    const old = this.byType.get(type);
    this.byType.set(type, {
      type,
      status,
      reason,
      message,
      lastTransitionTime: old && old.status === status ? old.lastTransitionTime : this.now,
      observedGeneration: this.generation,
    });
  }

  list(): Condition[] {
    const order = ['Ready', 'Learning', 'Proposed', 'Approved', 'AuditClean', 'Enforced', 'RolledBack', 'FlowsComplete', 'EdgesComplete', 'Degraded'];
    return [...this.byType.values()].sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
  }
}
