/**
 * The Segmentation state machine, pure: from what is (spec, learning progress, proposals, audit
 * results, live policies) to what should be (status, proposal to write, policies to apply or
 * delete). The reconciler does the I/O; this decides. DESIGN.md §3:
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
import type { SegmentationSpec, SegmentationStatus } from '../../api/segmentation.js';

export interface ProposalFact {
  readonly name: string;
  readonly revision: number;
  readonly digest: string;
  readonly decision: 'Pending' | 'Approved' | 'Rejected';
  readonly reviewer?: string;
  readonly phase?: string;
}

export interface DecideInput {
  readonly now: number;
  /** The Segmentation's name: proposals are `<name>-r<revision>`. */
  readonly name: string;
  readonly generation: number;
  readonly spec: SegmentationSpec;
  readonly status: SegmentationStatus;
  readonly learning: { readonly flows: number; readonly edges: number; readonly lastNewEdge?: number; readonly lostEvents: number };
  /** Digest of what the current graph would propose (undefined when there is nothing to propose). */
  readonly draftDigest?: string;
  readonly proposals: readonly ProposalFact[];
  readonly audit?: { readonly flows: number; readonly wouldDeny: number; readonly samples: NonNullable<NonNullable<SegmentationStatus['audit']>['samples']> };
  /** Whether the live owned policies equal the enforced proposal's objects. */
  readonly liveInSync: boolean;
  readonly ownedPolicies: number;
  readonly sourceError?: string;
}

export type Action =
  | { readonly type: 'create-proposal'; readonly revision: number }
  | { readonly type: 'supersede-proposal'; readonly name: string }
  | { readonly type: 'mark-proposal'; readonly name: string; readonly phase: 'Auditing' | 'Enforced' }
  | { readonly type: 'apply'; readonly proposal: string }
  | { readonly type: 'delete-owned' }
  | { readonly type: 'reset-audit'; readonly proposal: string }
  | { readonly type: 'event'; readonly kind: 'Normal' | 'Warning'; readonly reason: string; readonly message: string };

export interface Decision {
  readonly status: SegmentationStatus;
  readonly actions: readonly Action[];
  /** When to look again (ms). */
  readonly requeueAfter: number;
}

const RECHECK_MS = 10_000;

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
  const approved = [...input.proposals]
    .filter((p) => p.decision === 'Approved' || (!spec.promotion.requireApproval && p.decision !== 'Rejected'))
    .sort((a, b) => b.revision - a.revision)[0];

  // Learning and proposing go on in every mode: new edges after enforcement open a follow-up proposal.
  conditions.set('Learning', 'True', stable ? 'GraphStable' : 'Learning',
    stable ? `graph stable: ${input.learning.edges} edges, no new edge for ${spec.learning.stableFor}`
      : `learning since ${windowStart}: ${input.learning.edges} edges, ${input.learning.flows} flows`);
  if (stable && input.draftDigest && latest?.digest !== input.draftDigest) {
    const revision = (latest?.revision ?? 0) + 1;
    actions.push({ type: 'create-proposal', revision });
    for (const p of input.proposals) if (p.decision === 'Pending' && p.phase !== 'Superseded') actions.push({ type: 'supersede-proposal', name: p.name });
    actions.push({ type: 'event', kind: 'Normal', reason: 'ProposalCreated', message: `revision ${revision} proposed from ${input.learning.edges} edges` });
  }
  const proposed = latest !== undefined || actions.some((a) => a.type === 'create-proposal');
  conditions.set('Proposed', proposed ? 'True' : 'False', proposed ? 'ProposalWritten' : 'WaitingForStableGraph',
    latest ? `latest proposal ${latest.name} (revision ${latest.revision}, ${latest.decision})` : 'no proposal yet');
  conditions.set('Approved', approved ? 'True' : 'False', approved ? 'Approved' : latest?.decision === 'Rejected' ? 'Rejected' : 'WaitingForReview',
    approved ? `${approved.name} approved${approved.reviewer ? ` by ${approved.reviewer}` : ''}` : 'no approved proposal');

  let phase: NonNullable<SegmentationStatus['phase']> = proposed ? 'Proposed' : 'Learning';
  let audit = input.status.audit;
  let approvedProposal = input.status.approvedProposal;
  let enforcement = input.status.enforcement;
  let requeue = RECHECK_MS;
  if (!stable) requeue = Math.max(1000, Math.min(RECHECK_MS, windowMs - learnedFor, stableMs - quietFor));

  // With GitOps delivery the repository owns the policies: hivewall never writes or deletes them.
  const mayWrite = spec.delivery === 'Apply';
  if (spec.mode === 'Learn' || !approved) {
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
    } else if (alreadyEnforcing || (auditedFor >= auditMs && clean)) {
      phase = 'Enforcing';
      if (spec.delivery === 'Apply') {
        if (!input.liveInSync || !alreadyEnforcing) actions.push({ type: 'apply', proposal: approved.name });
        if (!alreadyEnforcing) {
          actions.push({ type: 'mark-proposal', name: approved.name, phase: 'Enforced' });
          actions.push({ type: 'event', kind: 'Normal', reason: 'Enforced', message: `${approved.name} enforced after ${Math.round(auditedFor / 1000)}s of clean audit` });
        } else if (!input.liveInSync) {
          actions.push({ type: 'event', kind: 'Warning', reason: 'DriftReverted', message: 'a hivewall policy was changed or deleted by hand; restored' });
        }
        conditions.set('Enforced', 'True', 'Applied', `${approved.name} applied with server-side apply`);
        enforcement = {
          policies: enforcement?.policies ?? 0,
          inSync: true,
          lastApplied: !input.liveInSync || !alreadyEnforcing ? iso(now) : (enforcement?.lastApplied ?? iso(now)),
          driftReverted: (enforcement?.driftReverted ?? 0) + (alreadyEnforcing && !input.liveInSync ? 1 : 0),
        };
      } else {
        conditions.set('Enforced', input.liveInSync ? 'True' : 'False', input.liveInSync ? 'GitOpsInSync' : 'GitOpsOutOfSync',
          input.liveInSync ? 'live policies match the approved proposal' : 'delivery is GitOps: the live policies do not match the approved proposal yet');
        enforcement = { ...(enforcement ?? {}), inSync: input.liveInSync };
      }
    } else {
      phase = 'Auditing';
      const left = auditMs - auditedFor;
      if (left > 0) {
        conditions.set('Enforced', 'False', 'Auditing', `auditing ${approved.name} for ${spec.promotion.auditPeriod} before enforcing`);
        requeue = Math.min(requeue, Math.max(1000, left));
      } else {
        conditions.set('Enforced', 'False', 'PromotionRefused', `promotion refused: ${wouldDeny} live flows would be denied, more than the ${spec.promotion.allowedWouldDeny} allowed`);
      }
    }
  }

  // Lost flow events (Hubble ring buffer or relay overflows) mean connections hivewall never saw:
  // a proposal learned meanwhile may miss edges. Surfaced, not blocking: the reviewer decides.
  const lost = input.learning.lostEvents;
  conditions.set('FlowsComplete', lost > 0 ? 'False' : 'True', lost > 0 ? 'EventsLost' : 'NoEventsLost', lost > 0
    ? `${lost} flow events were reported lost by the flow sources; connections seen only in them are missing from the graph (Hubble: raise the event buffer or relay capacity, or also follow the export file; agents: raise --max-buffered-edges or restore their connection to the operator)`
    : 'no flow events lost');
  const lostBefore = input.status.learning?.lostEvents ?? 0;
  if (lost > lostBefore) {
    actions.push({ type: 'event', kind: 'Warning', reason: 'FlowEventsLost', message: `${lost - lostBefore} more flow events lost (${lost} in total): the learned graph may be incomplete` });
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
      edges: input.learning.edges,
      ...(input.learning.lastNewEdge !== undefined ? { lastNewEdge: iso(input.learning.lastNewEdge) } : {}),
      lostEvents: input.learning.lostEvents,
    },
    ...(latest || actions.some((a) => a.type === 'create-proposal')
      ? { proposal: proposalRef(input.name, latest, actions) }
      : {}),
    ...(approvedProposal ? { approvedProposal } : {}),
    ...(audit ? { audit } : {}),
    ...(enforcement ? { enforcement } : {}),
  };
  return { status, actions, requeueAfter: requeue };
}

/** Proposal names are deterministic: `<segmentation>-r<revision>`. */
export function proposalName(segmentation: string, revision: number): string {
  return `${segmentation}-r${revision}`;
}

function proposalRef(name: string, latest: ProposalFact | undefined, actions: readonly Action[]): NonNullable<SegmentationStatus['proposal']> {
  const created = actions.find((a): a is Extract<Action, { type: 'create-proposal' }> => a.type === 'create-proposal');
  if (created) return { name: proposalName(name, created.revision), revision: created.revision, decision: 'Pending' };
  return { name: latest!.name, revision: latest!.revision, decision: latest!.decision };
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
    const order = ['Ready', 'Learning', 'Proposed', 'Approved', 'AuditClean', 'Enforced', 'FlowsComplete', 'Degraded'];
    return [...this.byType.values()].sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
  }
}
