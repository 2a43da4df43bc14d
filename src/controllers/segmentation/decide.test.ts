import { describe, expect, it } from 'vitest';
import { segmentationSpecSchema } from '../../api/segmentation.js';
import { decide, type DecideInput, type ProposalFact } from './decide.js';

const T = Date.parse('2026-11-27T10:00:00Z');
const spec = (over: Record<string, unknown> = {}) => segmentationSpecSchema.parse({ learning: { window: '1h', stableFor: '10m' }, promotion: { auditPeriod: '30m' }, ...over });

function input(over: Partial<DecideInput> = {}): DecideInput {
  return {
    now: T,
    name: 'shop',
    generation: 1,
    spec: spec(),
    status: { learning: { windowStart: new Date(T - 2 * 3_600_000).toISOString() } },
    learning: { flows: 100, edges: 10, lastNewEdge: T - 3_600_000, lostEvents: 0 },
    draftDigest: 'd1',
    proposals: [],
    liveInSync: true,
    ownedPolicies: 0,
    ...over,
  };
}

const proposal = (over: Partial<ProposalFact> = {}): ProposalFact => ({ name: 'shop-r1', revision: 1, digest: 'd1', decision: 'Pending', ...over });
const types = (d: ReturnType<typeof decide>) => d.actions.map((a) => a.type);
const condition = (d: ReturnType<typeof decide>, type: string) => d.status.conditions?.find((c) => c.type === type);

describe('decide', () => {
  it('keeps learning while the window has not passed', () => {
    const d = decide(input({ status: { learning: { windowStart: new Date(T - 60_000).toISOString() } } }));
    expect(d.status.phase).toBe('Learning');
    expect(types(d)).toEqual([]);
    expect(d.requeueAfter).toBeGreaterThan(0);
  });

  it('looks again when the window ends or the graph has been quiet long enough, never every second once those are past', () => {
    const windowStart = (msAgo: number) => ({ learning: { windowStart: new Date(T - msAgo).toISOString() } });
    // Window ends in 5 minutes.
    expect(decide(input({ status: windowStart(55 * 60_000) })).requeueAfter).toBe(5 * 60_000);
    // Window past, quiet for 4 of the 10 minutes stableFor asks.
    expect(decide(input({ learning: { flows: 100, edges: 10, lastNewEdge: T - 4 * 60_000, lostEvents: 0 } })).requeueAfter).toBe(6 * 60_000);
    // Window past and no edge learned: only a new edge (which enqueues it) can change anything.
    expect(decide(input({ learning: { flows: 0, edges: 0, lostEvents: 0 } })).requeueAfter).toBe(Number.POSITIVE_INFINITY);
  });

  it('keeps learning while new edges keep appearing', () => {
    const d = decide(input({ learning: { flows: 100, edges: 10, lastNewEdge: T - 60_000, lostEvents: 0 } }));
    expect(types(d)).toEqual([]);
    expect(condition(d, 'Learning')?.reason).toBe('Learning');
  });

  it('proposes once the window passed and the graph is stable', () => {
    const d = decide(input());
    expect(types(d)).toEqual(['create-proposal', 'event']);
    expect(d.status.phase).toBe('Proposed');
    expect(d.status.proposal).toEqual({ name: 'shop-r1', revision: 1, decision: 'Pending' });
  });

  it('the status written with a new proposal already names it: the reconcile its watch event starts writes nothing', () => {
    for (const before of [[], [proposal({ decision: 'Rejected', digest: 'd0' })]]) {
      const created = decide(input({ proposals: before }));
      expect(types(created)).toContain('create-proposal');
      const revision = before.length + 1;
      const next = decide(input({ status: created.status, proposals: [...before, proposal({ name: `shop-r${revision}`, revision })] }));
      expect(types(next)).toEqual([]);
      expect(next.status).toEqual(created.status);
    }
  });

  it('fewer edges than the status counted (state lost while no operator ran): no proposal, a condition and an Event, until the edges are back', () => {
    const lost = decide(input({ status: { learning: { windowStart: new Date(T - 2 * 3_600_000).toISOString(), edges: 22 } }, learning: { flows: 50, edges: 14, lastNewEdge: T - 3_600_000, lostEvents: 0 } }));
    expect(types(lost)).toEqual(['event']);
    expect(lost.actions[0]).toMatchObject({ kind: 'Warning', reason: 'LearnedStateLost' });
    expect(condition(lost, 'EdgesComplete')).toMatchObject({ status: 'False', reason: 'LearnedStateLost' });
    expect(condition(lost, 'EdgesComplete')?.message).toMatch(/^8 of the 22 edges/);
    expect(lost.status.learning?.edges).toBe(22);
    // The next reconcile with nothing new: no second Event, still no proposal.
    expect(types(decide(input({ status: lost.status, learning: { flows: 50, edges: 14, lastNewEdge: T - 3_600_000, lostEvents: 0 } })))).toEqual([]);
    // Traffic showed them again: proposed, and the condition clears.
    const back = decide(input({ status: lost.status, learning: { flows: 80, edges: 22, lastNewEdge: T - 3_600_000, lostEvents: 0 } }));
    expect(types(back)).toEqual(['create-proposal', 'event']);
    expect(condition(back, 'EdgesComplete')).toMatchObject({ status: 'True' });
  });

  it('prunes superseded revisions nobody reviewed past spec.revisionHistoryLimit, with one Event; the approved one is kept', () => {
    const old = (n: number) => proposal({ name: `shop-r${n}`, revision: n, digest: `d${n}`, phase: 'Superseded', untouched: true });
    const proposals = [old(1), old(2), old(3), old(4), proposal({ name: 'shop-r5', revision: 5, digest: 'd1' })];
    const d = decide(input({ spec: spec({ revisionHistoryLimit: 2 }), proposals }));
    expect(d.actions).toEqual([
      { type: 'delete-proposal', name: 'shop-r1' },
      { type: 'delete-proposal', name: 'shop-r2' },
      { type: 'event', kind: 'Normal', reason: 'ProposalsPruned', message: 'deleted 2 superseded revision(s) nobody reviewed, beyond revisionHistoryLimit 2: shop-r1, shop-r2' },
    ]);
    // Approved with the review waived, shop-r1 stays untouched and is the one enforced.
    const waived = decide(input({ spec: spec({ revisionHistoryLimit: 0 }), proposals, approved: { name: 'shop-r1', revision: 1 } as DecideInput['approved'] }));
    expect(waived.actions.filter((a) => a.type === 'delete-proposal').map((a) => (a as { name: string }).name)).toEqual(['shop-r2', 'shop-r3', 'shop-r4']);
    // The default keeps ten.
    expect(types(decide(input({ proposals })))).not.toContain('delete-proposal');
  });

  it('the next revision\'s name taken by a proposal of another owner: nothing created or superseded, Proposed=False NameTaken, one Warning', () => {
    const d = decide(input({ draftDigest: 'd2', proposals: [proposal()], takenNames: ['shop-r2'] }));
    expect(d.actions).toEqual([expect.objectContaining({ type: 'event', kind: 'Warning', reason: 'NameTaken' })]);
    expect(condition(d, 'Proposed')).toMatchObject({ status: 'False', reason: 'NameTaken' });
    expect(condition(d, 'Proposed')?.message).toContain('PolicyProposal shop-r2 exists but does not belong to this Segmentation');
    expect(d.status.proposal).toEqual({ name: 'shop-r1', revision: 1, decision: 'Pending' });
    expect(decide(input({ status: d.status, draftDigest: 'd2', proposals: [proposal()], takenNames: ['shop-r2'] })).actions).toEqual([]);
    // Another name taken (not the next one's) changes nothing.
    expect(types(decide(input({ draftDigest: 'd2', proposals: [proposal()], takenNames: ['shop-r1'] })))).toEqual(['create-proposal', 'supersede-proposal', 'event']);
  });

  it('does not propose the same graph twice', () => {
    expect(types(decide(input({ proposals: [proposal()] })))).toEqual([]);
  });

  it('a proposal from before content pinning is proposed again as a new revision (same graph), superseding it', () => {
    const legacy = [{ name: 'shop-r1', reason: 'LegacyProposal' as const, message: 'shop-r1: written by an older hivewall without spec.contentDigest' }];
    const d = decide(input({ proposals: [proposal()], approvalRefused: legacy }));
    expect(d.actions.slice(0, 2)).toEqual([{ type: 'create-proposal', revision: 2 }, { type: 'supersede-proposal', name: 'shop-r1' }]);
    expect(condition(d, 'Approved')).toMatchObject({ status: 'False', reason: 'LegacyProposal' });
    // Once the pinned revision exists, it is the one that repeats the graph: no third revision.
    expect(types(decide(input({ proposals: [proposal({ phase: 'Superseded' }), proposal({ name: 'shop-r2', revision: 2 })] })))).toEqual([]);
  });

  it('policies enforced from a legacy approval are left as they are (not removed, not re-applied) until a pinned revision is approved', () => {
    const legacy = [{ name: 'shop-r1', reason: 'LegacyProposal' as const, message: 'shop-r1: written by an older hivewall without spec.contentDigest' }];
    const status = { learning: { windowStart: new Date(T - 2 * 3_600_000).toISOString() }, phase: 'Enforcing' as const, approvedProposal: 'shop-r1' };
    const d = decide(input({ spec: spec({ mode: 'Enforce' }), status, proposals: [proposal({ decision: 'Approved' })], approvalRefused: legacy, ownedPolicies: 4, liveInSync: false }));
    expect(types(d)).not.toContain('delete-owned');
    expect(types(d)).not.toContain('apply');
    expect(condition(d, 'Enforced')).toMatchObject({ status: 'False', reason: 'LegacyProposal' });
    expect(d.status.phase).not.toBe('Enforcing');
    // Mode Learn still removes them, as always.
    expect(types(decide(input({ spec: spec({ mode: 'Learn' }), status, proposals: [proposal({ decision: 'Approved' })], approvalRefused: legacy, ownedPolicies: 4 })))).toContain('delete-owned');
  });

  it('a changed graph makes a new revision and supersedes the pending one', () => {
    const d = decide(input({ draftDigest: 'd2', proposals: [proposal()] }));
    expect(d.actions.slice(0, 2)).toEqual([{ type: 'create-proposal', revision: 2 }, { type: 'supersede-proposal', name: 'shop-r1' }]);
  });

  it('mode Learn never enforces and removes owned policies', () => {
    const d = decide(input({ spec: spec({ mode: 'Learn' }), proposals: [proposal({ decision: 'Approved' })], approved: { name: 'shop-r1' }, ownedPolicies: 3 }));
    expect(types(d)).toContain('delete-owned');
    expect(types(d)).not.toContain('apply');
  });

  it('an approval starts the audit; the audit period must pass before enforcing', () => {
    const d = decide(input({ spec: spec({ mode: 'Enforce' }), proposals: [proposal({ decision: 'Approved', reviewer: 'alice' })], approved: { name: 'shop-r1', reviewer: 'alice' } }));
    expect(types(d)).toEqual(['reset-audit', 'mark-proposal']);
    expect(d.status.phase).toBe('Auditing');
    expect(condition(d, 'Approved')?.message).toBe('shop-r1 approved by alice');
  });

  it('an approval refused by judgeProposals is never audited or applied: Approved False with the reason, one Warning', () => {
    const refused = [{ name: 'shop-r1', reason: 'ReviewNotPinned' as const, message: 'shop-r1: the approval was not given to this object and content' }];
    const d = decide(input({ spec: spec({ mode: 'Enforce' }), proposals: [proposal({ decision: 'Approved', reviewer: 'alice' })], approvalRefused: refused, ownedPolicies: 2 }));
    expect(types(d)).not.toContain('apply');
    expect(types(d)).not.toContain('reset-audit');
    expect(condition(d, 'Approved')).toMatchObject({ status: 'False', reason: 'ReviewNotPinned', message: 'refused shop-r1: the approval was not given to this object and content' });
    expect(d.actions).toContainEqual({ type: 'event', kind: 'Warning', reason: 'ReviewNotPinned', message: refused[0]!.message });
    const again = decide(input({ spec: spec({ mode: 'Enforce' }), status: d.status, proposals: [proposal({ decision: 'Approved' })], approvalRefused: refused }));
    expect(again.actions.filter((a) => a.type === 'event' && a.reason === 'ReviewNotPinned')).toEqual([]);
  });

  const auditing = (since: number, wouldDeny: number, allowed = 0) =>
    input({
      spec: spec({ mode: 'Enforce', promotion: { auditPeriod: '30m', allowedWouldDeny: allowed } }),
      status: { learning: { windowStart: new Date(T - 7_200_000).toISOString() }, approvedProposal: 'shop-r1', audit: { since: new Date(since).toISOString() } },
      proposals: [proposal({ decision: 'Approved' })],
      approved: { name: 'shop-r1', reviewer: 'alice' },
      audit: { flows: 50, wouldDeny, samples: [] },
      liveInSync: false,
    });

  it('enforces after a clean audit period', () => {
    const d = decide(auditing(T - 31 * 60_000, 0));
    expect(types(d)).toContain('apply');
    expect(d.status.phase).toBe('Enforcing');
  });

  it('refuses promotion with a reason while would-deny flows exceed the budget', () => {
    const d = decide(auditing(T - 31 * 60_000, 3, 2));
    expect(types(d)).not.toContain('apply');
    expect(condition(d, 'Enforced')).toMatchObject({ status: 'False', reason: 'PromotionRefused' });
    expect(condition(d, 'Enforced')?.message).toMatch(/3 live flows would be denied, more than the 2 allowed/);
  });

  it('mode Audit audits but never applies', () => {
    const d = decide({ ...auditing(T - 31 * 60_000, 0), spec: spec({ mode: 'Audit' }) });
    expect(types(d)).not.toContain('apply');
    expect(d.status.phase).toBe('Auditing');
  });

  it('an idle enforcing reconcile makes no write and keeps the same status', () => {
    const first = decide({ ...auditing(T - 31 * 60_000, 0) });
    const again = decide({ ...auditing(T - 31 * 60_000, 0), now: T + 10_000, status: first.status, liveInSync: true });
    expect(types(again)).toEqual([]);
    expect(again.status).toEqual(first.status);
  });

  it('reverts drift while enforcing', () => {
    const first = decide({ ...auditing(T - 31 * 60_000, 0) });
    const drifted = decide({ ...auditing(T - 31 * 60_000, 0), status: first.status, liveInSync: false });
    expect(types(drifted)).toEqual(['apply', 'event']);
    expect(drifted.status.enforcement?.driftReverted).toBe(1);
  });

  it('GitOps delivery never applies and reports sync', () => {
    const d = decide({ ...auditing(T - 31 * 60_000, 0), spec: spec({ mode: 'Enforce', delivery: 'GitOps', promotion: { auditPeriod: '30m' } }) });
    expect(types(d)).not.toContain('apply');
    expect(condition(d, 'Enforced')).toMatchObject({ status: 'False', reason: 'GitOpsOutOfSync' });
  });

  it('GitOps delivery never deletes policies either, whatever the mode', () => {
    for (const mode of ['Learn', 'Audit', 'Enforce']) {
      const d = decide(input({ spec: spec({ mode, delivery: 'GitOps' }), ownedPolicies: 4 }));
      expect(types(d)).not.toContain('delete-owned');
    }
  });

  it('a failing flow source shows as Degraded', () => {
    const d = decide(input({ sourceError: 'flow file /x does not exist (yet)', learning: { flows: 0, edges: 0, lostEvents: 0 }, status: {} }));
    expect(d.status.phase).toBe('Degraded');
    expect(condition(d, 'Degraded')).toMatchObject({ status: 'True', message: 'flow file /x does not exist (yet)' });
  });

  it('lost flow events turn FlowsComplete False and raise one Warning per increase, without blocking the phase', () => {
    const clean = decide(input());
    expect(condition(clean, 'FlowsComplete')).toMatchObject({ status: 'True', reason: 'NoEventsLost' });
    const lost = decide(input({ learning: { flows: 100, edges: 10, lastNewEdge: T - 3_600_000, lostEvents: 42 } }));
    expect(condition(lost, 'FlowsComplete')).toMatchObject({ status: 'False', reason: 'EventsLost' });
    expect(condition(lost, 'FlowsComplete')!.message).toContain('42 flow events');
    expect(lost.status.learning?.lostEvents).toBe(42);
    expect(lost.actions).toContainEqual(expect.objectContaining({ type: 'event', kind: 'Warning', reason: 'FlowEventsLost' }));
    expect(lost.status.phase).toBe(clean.status.phase);
    // The same count again (next round): the condition stays, no second Event.
    const again = decide(input({ status: lost.status, learning: { flows: 100, edges: 10, lastNewEdge: T - 3_600_000, lostEvents: 42 } }));
    expect(condition(again, 'FlowsComplete')).toMatchObject({ status: 'False', lastTransitionTime: condition(lost, 'FlowsComplete')!.lastTransitionTime });
    expect(again.actions.filter((a) => a.type === 'event' && a.reason === 'FlowEventsLost')).toEqual([]);
  });

  it('edges refused by the edge limit turn FlowsComplete False (EdgeLimitReached) with one Warning per increase', () => {
    const learning = { flows: 100, edges: 10, lastNewEdge: T - 3_600_000, lostEvents: 0, refusedEdges: 7 };
    const d = decide(input({ learning }));
    expect(condition(d, 'FlowsComplete')).toMatchObject({ status: 'False', reason: 'EdgeLimitReached' });
    expect(condition(d, 'FlowsComplete')!.message).toContain('7 new edges of this namespace were not learned: the operator\'s edge limit is reached');
    expect(d.status.learning?.refusedEdges).toBe(7);
    expect(d.actions).toContainEqual(expect.objectContaining({ type: 'event', kind: 'Warning', reason: 'EdgeLimitReached' }));
    const again = decide(input({ status: d.status, learning }));
    expect(again.actions.filter((a) => a.type === 'event' && a.reason === 'EdgeLimitReached')).toEqual([]);
  });

  describe('a proposal never silently narrows', () => {
    const lostEdges = ['shop/Deployment/web -> shop/Deployment/api 8080/TCP', 'shop/Deployment/web -> shop/StatefulSet/db 5432/TCP'];

    it('a graph that lost edges of the newest revision is not proposed: condition names the edges, one Warning Event', () => {
      const d = decide(input({ draftDigest: 'd2', proposals: [proposal({ decision: 'Approved' })], lostEdges }));
      expect(types(d)).not.toContain('create-proposal');
      expect(condition(d, 'EdgesComplete')).toMatchObject({ status: 'False', reason: 'LearnedStateLost' });
      for (const edge of lostEdges) expect(condition(d, 'EdgesComplete')!.message).toContain(edge);
      expect(condition(d, 'EdgesComplete')!.message).toContain('learned state was lost');
      expect(d.actions).toContainEqual(expect.objectContaining({ type: 'event', kind: 'Warning', reason: 'NarrowerProposalRefused' }));
      // Next round, same loss: the condition stays, no second Event, still no proposal.
      const again = decide(input({ status: d.status, draftDigest: 'd2', proposals: [proposal({ decision: 'Approved' })], lostEdges }));
      expect(again.actions).toEqual([]);
      expect(condition(again, 'EdgesComplete')).toMatchObject({ status: 'False', lastTransitionTime: condition(d, 'EdgesComplete')!.lastTransitionTime });
    });

    it('once the edges are learned again the condition clears and a wider revision is proposed', () => {
      const lost = decide(input({ draftDigest: 'd2', proposals: [proposal()], lostEdges }));
      const back = decide(input({ status: lost.status, draftDigest: 'd3', proposals: [proposal()], lostEdges: [] }));
      expect(condition(back, 'EdgesComplete')).toMatchObject({ status: 'True', reason: 'NoEdgeLost' });
      expect(back.actions[0]).toEqual({ type: 'create-proposal', revision: 2 });
    });

    it('a draft that would drop edges the newest revision allows is not proposed, though the graph has them', () => {
      const narrowedEdges = ['shop/Deployment/web -> shop/Deployment/api 8080/TCP'];
      const d = decide(input({ draftDigest: 'd2', proposals: [proposal()], narrowedEdges }));
      expect(types(d)).not.toContain('create-proposal');
      expect(condition(d, 'EdgesComplete')).toMatchObject({ status: 'False', reason: 'NarrowerDraft' });
      expect(condition(d, 'EdgesComplete')!.message).toContain(narrowedEdges[0]);
      expect(d.actions).toContainEqual(expect.objectContaining({ type: 'event', kind: 'Warning', reason: 'NarrowerProposalRefused' }));
      // The workload's pods become known: the draft allows them again, a wider revision may follow.
      const back = decide(input({ status: d.status, draftDigest: 'd3', proposals: [proposal()], narrowedEdges: [] }));
      expect(condition(back, 'EdgesComplete')).toMatchObject({ status: 'True' });
      expect(back.actions[0]).toEqual({ type: 'create-proposal', revision: 2 });
    });

    it('no revision repeats the digest of an earlier one', () => {
      const d = decide(input({ draftDigest: 'd1', proposals: [proposal(), proposal({ name: 'shop-r2', revision: 2, digest: 'd2' })] }));
      expect(types(d)).not.toContain('create-proposal');
      expect(d.status.proposal).toEqual({ name: 'shop-r2', revision: 2, decision: 'Pending' });
    });

    it('a Segmentation that never lost anything shows no EdgesComplete condition', () => {
      expect(condition(decide(input()), 'EdgesComplete')).toBeUndefined();
    });
  });
});

describe('decide: the enforcement safety net', () => {
  const enforcing = (over: Partial<DecideInput> = {}, specOver: Record<string, unknown> = {}): DecideInput => {
    const base = input({
      spec: spec({ mode: 'Enforce', promotion: { auditPeriod: '30m' }, enforcement: { rollback: { maxDenied: 2, window: '1m' } }, ...specOver }),
      status: { learning: { windowStart: new Date(T - 7_200_000).toISOString() }, approvedProposal: 'shop-r1', phase: 'Enforcing', audit: { since: new Date(T - 3_600_000).toISOString() } },
      proposals: [proposal({ decision: 'Approved' })],
      approved: { name: 'shop-r1' },
      audit: { flows: 50, wouldDeny: 0, samples: [] },
      liveInSync: true,
      rollbackPolicies: (workloads) => ['hivewall-default-deny', ...workloads.map((w) => `hivewall-${w.split('/').at(-1)}`)].sort(),
    });
    return { ...base, ...over };
  };
  const deniedEdge = { client: 'wl:shop/Deployment/frontend', server: 'wl:shop/Deployment/cart', port: 8080, protocol: 'TCP', count: 3 };
  const denials = (crossed: boolean, proposalName = 'shop-r1') => ({
    namespace: 'shop', proposal: proposalName, crossed, inWindow: 3,
    edges: [{ ...deniedEdge, firstDenied: '2026-11-27T09:59:50.000Z', lastDenied: '2026-11-27T09:59:59.000Z' }],
    recent: [deniedEdge],
  });

  it('past the budget: removes the denied workloads\' policies, RolledBack=True naming the edge, a Warning Event', () => {
    const d = decide(enforcing({ denials: denials(true) }));
    expect(d.actions).toContainEqual({ type: 'apply', proposal: 'shop-r1', exclude: ['hivewall-cart', 'hivewall-default-deny', 'hivewall-frontend'] });
    expect(d.actions).toContainEqual(expect.objectContaining({ type: 'event', kind: 'Warning', reason: 'RolledBack' }));
    expect(condition(d, 'RolledBack')).toMatchObject({ status: 'True', reason: 'DeniedTraffic' });
    expect(condition(d, 'RolledBack')?.message).toContain('shop/Deployment/frontend -> shop/Deployment/cart 8080/TCP (3x)');
    expect(d.status.enforcement?.rolledBack).toEqual({ proposal: 'shop-r1', at: new Date(T).toISOString(), workloads: ['wl:shop/Deployment/cart', 'wl:shop/Deployment/frontend'], policies: ['hivewall-cart', 'hivewall-default-deny', 'hivewall-frontend'] });
    expect(d.status.enforcement?.denied).toEqual(denials(true).edges);
    expect(condition(d, 'Enforced')).toMatchObject({ status: 'True', reason: 'PartlyRolledBack' });
  });

  it.each<[string, 'ingress' | 'egress', string[], string[]]>([
    ['an ingress denial removes only the server\'s policy (its ingress rules denied it), not the client\'s', 'ingress', ['wl:shop/Deployment/cart'], ['hivewall-cart', 'hivewall-default-deny']],
    ['an egress denial removes only the client\'s policy, not the server\'s', 'egress', ['wl:shop/Deployment/frontend'], ['hivewall-default-deny', 'hivewall-frontend']],
  ])('%s', (_name, direction, workloads, policies) => {
    const directed = { ...denials(true), recent: [{ ...deniedEdge, direction }] };
    const d = decide(enforcing({ denials: directed }));
    expect(d.actions).toContainEqual({ type: 'apply', proposal: 'shop-r1', exclude: policies });
    expect(d.status.enforcement?.rolledBack).toMatchObject({ workloads, policies });
    expect(condition(d, 'RolledBack')?.message).toContain(`removed ${policies.join(', ')}`);
    expect(d.actions).toContainEqual(expect.objectContaining({ type: 'event', reason: 'RolledBack', message: expect.stringContaining(`8080/TCP (3x, on ${direction})`) }));
  });

  it('below the budget: nothing is removed, the denied edges are counted', () => {
    const d = decide(enforcing({ denials: denials(false) }));
    expect(types(d)).toEqual([]);
    expect(condition(d, 'RolledBack')).toMatchObject({ status: 'False', reason: 'WithinBudget' });
    expect(d.status.enforcement?.denied).toHaveLength(1);
    expect(d.status.enforcement?.rolledBack).toBeUndefined();
  });

  it('once rolled back, the removed policies stay away (drift repair keeps excluding them) and no second Event', () => {
    const first = decide(enforcing({ denials: denials(true) }));
    const again = decide(enforcing({ status: first.status, denials: denials(true), now: T + 5000 }));
    expect(types(again)).toEqual([]);
    const drifted = decide(enforcing({ status: first.status, denials: denials(false), liveInSync: false, now: T + 600_000 }));
    expect(drifted.actions).toEqual([{ type: 'apply', proposal: 'shop-r1', exclude: ['hivewall-cart', 'hivewall-default-deny', 'hivewall-frontend'] }, expect.objectContaining({ reason: 'DriftReverted' })]);
    expect(drifted.status.enforcement?.rolledBack).toEqual(first.status.enforcement?.rolledBack);
  });

  it('a newly approved proposal ends the rollback and is applied whole', () => {
    const first = decide(enforcing({ denials: denials(true) }));
    const next = decide(enforcing({ status: { ...first.status, audit: { since: new Date(T - 3_600_000).toISOString() } }, proposals: [proposal({ decision: 'Approved' }), proposal({ name: 'shop-r2', revision: 2, digest: 'd2', decision: 'Approved' })], approved: { name: 'shop-r2' }, draftDigest: 'd2', now: T + 60_000 }));
    expect(next.status.enforcement?.rolledBack).toBeUndefined();
    expect(next.actions.filter((a) => a.type === 'apply')).toEqual([]);
    expect(next.actions).toContainEqual({ type: 'reset-audit', proposal: 'shop-r2' });
  });

  describe('while a newer approval is audited, the proposal enforced before stays enforced', () => {
    const followUp = (over: Partial<DecideInput> = {}) => enforcing({
      proposals: [proposal({ decision: 'Approved', phase: 'Enforced' }), proposal({ name: 'shop-r2', revision: 2, digest: 'd2', decision: 'Approved' })],
      approved: { name: 'shop-r2' }, held: { name: 'shop-r1' }, draftDigest: 'd2', audit: undefined, ...over,
    });

    it('shop-r2 just approved, shop-r1\'s denials past the budget and its live policies out of sync: shop-r1 is applied without the rolled-back policies', () => {
      const d = decide(followUp({ denials: denials(true), liveInSync: false }));
      expect(d.actions).toContainEqual({ type: 'reset-audit', proposal: 'shop-r2' });
      expect(d.actions).toContainEqual({ type: 'apply', proposal: 'shop-r1', exclude: ['hivewall-cart', 'hivewall-default-deny', 'hivewall-frontend'] });
      expect(d.actions.filter((a) => a.type === 'apply')).toHaveLength(1);
      expect(d.actions).toContainEqual(expect.objectContaining({ type: 'event', kind: 'Warning', reason: 'RolledBack' }));
      expect(d.enforced).toBe('shop-r1');
      expect(d.status).toMatchObject({ phase: 'Auditing', approvedProposal: 'shop-r2' });
      expect(d.status.enforcement?.rolledBack).toMatchObject({ proposal: 'shop-r1' });
      expect(d.status.enforcement?.denied).toEqual(denials(true).edges);
      expect(condition(d, 'Enforced')).toMatchObject({ status: 'True', reason: 'PartlyRolledBack' });
      expect(condition(d, 'Enforced')?.message).toMatch(/^shop-r1 applied except .*; auditing shop-r2 for 30m before enforcing$/);
      expect(condition(d, 'RolledBack')).toMatchObject({ status: 'True' });
    });

    it('drift of shop-r1\'s policies is reverted, and nothing is written while they are in sync', () => {
      const first = decide(followUp());
      expect(types(first)).toEqual(['reset-audit', 'mark-proposal']);
      expect(condition(first, 'Enforced')).toMatchObject({ status: 'True', reason: 'Applied' });
      const next = { status: first.status, audit: { flows: 5, wouldDeny: 0, samples: [] }, now: T + 60_000 };
      expect(types(decide(followUp(next)))).toEqual([]);
      const drifted = decide(followUp({ ...next, liveInSync: false }));
      expect(drifted.actions).toEqual([{ type: 'apply', proposal: 'shop-r1' }, expect.objectContaining({ reason: 'DriftReverted' })]);
    });

    it('a refused promotion of shop-r2 leaves shop-r1 enforced, the refusal in its message; once clean, shop-r2 replaces it whole', () => {
      const first = decide(followUp());
      const refused = decide(followUp({ status: first.status, audit: { flows: 5, wouldDeny: 3, samples: [] }, now: T + 31 * 60_000 }));
      expect(refused.enforced).toBe('shop-r1');
      expect(condition(refused, 'Enforced')).toMatchObject({ status: 'True' });
      expect(condition(refused, 'Enforced')?.message).toContain('promotion refused: 3 live flows would be denied');
      const rolled = decide(followUp({ status: first.status, denials: denials(true), now: T + 60_000 }));
      const promoted = decide(followUp({ status: rolled.status, audit: { flows: 5, wouldDeny: 0, samples: [] }, now: T + 31 * 60_000 }));
      expect(promoted.enforced).toBe('shop-r2');
      expect(promoted.actions).toContainEqual({ type: 'apply', proposal: 'shop-r2' });
      expect(promoted.status.enforcement?.rolledBack).toBeUndefined();
      expect(promoted.status.enforcement?.denied).toBeUndefined();
    });
  });

  it('GitOps: removes nothing; Enforced=False DeniedTraffic names the edges', () => {
    const d = decide(enforcing({ denials: denials(true) }, { delivery: 'GitOps' }));
    expect(types(d)).toEqual(['event']);
    expect(d.actions[0]).toMatchObject({ kind: 'Warning', reason: 'DeniedTraffic' });
    expect(condition(d, 'Enforced')).toMatchObject({ status: 'False', reason: 'DeniedTraffic' });
    expect(condition(d, 'Enforced')?.message).toContain('shop/Deployment/frontend -> shop/Deployment/cart 8080/TCP');
    expect(d.status.enforcement?.rolledBack?.policies).toEqual([]);
  });

  it('counts of another proposal are not this one\'s', () => {
    const d = decide(enforcing({ denials: denials(true, 'shop-r0') }));
    expect(types(d)).toEqual([]);
  });

  it('learning.requireCoverage holds the proposal back while the window could not see everything', () => {
    const d = decide(input({ spec: spec({ learning: { window: '1h', stableFor: '10m', requireCoverage: true } }), coverageGaps: 2 }));
    expect(types(d)).toEqual([]);
    expect(condition(d, 'Proposed')).toMatchObject({ status: 'False', reason: 'CoverageIncomplete' });
    expect(types(decide(input({ spec: spec({ learning: { window: '1h', stableFor: '10m', requireCoverage: true } }), coverageGaps: 0 })))).toEqual(['create-proposal', 'event']);
    expect(types(decide(input({ coverageGaps: 2 })))).toEqual(['create-proposal', 'event']);
  });
});
