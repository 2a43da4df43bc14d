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

  it('does not propose the same graph twice', () => {
    expect(types(decide(input({ proposals: [proposal()] })))).toEqual([]);
  });

  it('a changed graph makes a new revision and supersedes the pending one', () => {
    const d = decide(input({ draftDigest: 'd2', proposals: [proposal()] }));
    expect(d.actions.slice(0, 2)).toEqual([{ type: 'create-proposal', revision: 2 }, { type: 'supersede-proposal', name: 'shop-r1' }]);
  });

  it('mode Learn never enforces and removes owned policies', () => {
    const d = decide(input({ spec: spec({ mode: 'Learn' }), proposals: [proposal({ decision: 'Approved' })], ownedPolicies: 3 }));
    expect(types(d)).toContain('delete-owned');
    expect(types(d)).not.toContain('apply');
  });

  it('an approval starts the audit; the audit period must pass before enforcing', () => {
    const d = decide(input({ spec: spec({ mode: 'Enforce' }), proposals: [proposal({ decision: 'Approved', reviewer: 'alice' })] }));
    expect(types(d)).toEqual(['reset-audit', 'mark-proposal']);
    expect(d.status.phase).toBe('Auditing');
    expect(condition(d, 'Approved')?.message).toBe('shop-r1 approved by alice');
  });

  const auditing = (since: number, wouldDeny: number, allowed = 0) =>
    input({
      spec: spec({ mode: 'Enforce', promotion: { auditPeriod: '30m', allowedWouldDeny: allowed } }),
      status: { learning: { windowStart: new Date(T - 7_200_000).toISOString() }, approvedProposal: 'shop-r1', audit: { since: new Date(since).toISOString() } },
      proposals: [proposal({ decision: 'Approved' })],
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
});
