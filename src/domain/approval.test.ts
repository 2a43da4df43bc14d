import { describe, expect, it } from 'vitest';
import { canonicalJson, contentDigest, judgeProposals, proposalContentDigest, type ApprovalCandidate, type ApprovalSegmentation } from './approval.js';

const seg: ApprovalSegmentation = { name: 'shop', namespace: 'shop', uid: 'seg-uid', requireApproval: true };
const DIGEST = contentDigest({ objects: [] });
const np = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'hivewall-web', namespace: 'shop' } };

/** An approved, pinned, bound proposal; cases override one thing. */
const candidate = (over: Partial<ApprovalCandidate> = {}): ApprovalCandidate => ({
  name: 'shop-r1', uid: 'p-uid', revision: 1, segmentation: 'shop', ownerUid: 'seg-uid', contentDigest: DIGEST, computedDigest: DIGEST,
  decision: 'Approved', reviewer: 'rita', review: { proposalUID: 'p-uid', contentDigest: DIGEST }, objects: [np], ...over,
});

describe('judgeProposals', () => {
  it.each<[string, Partial<ApprovalCandidate>, string | undefined]>([
    ['approved, pinned, bound, applicable', {}, undefined],
    ['pinned to another uid (the proposal was deleted and re-created)', { review: { proposalUID: 'old-uid', contentDigest: DIGEST } }, 'ReviewNotPinned'],
    ['pinned to another digest', { review: { proposalUID: 'p-uid', contentDigest: contentDigest({ objects: [1] }) } }, 'ReviewNotPinned'],
    ['not pinned at all (an older plugin)', { review: {} }, 'ReviewNotPinned'],
    ['content does not hash to spec.contentDigest', { computedDigest: contentDigest({ objects: [np] }) }, 'ContentDigestMismatch'],
    ['no spec.contentDigest (written before content pinning)', { contentDigest: undefined, review: { proposalUID: 'p-uid' } }, 'LegacyProposal'],
    ['a ClusterRoleBinding among the objects', { objects: [np, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: {} }] }, 'ObjectsNotApplicable'],
    ['a NetworkPolicy for another namespace', { objects: [{ ...np, metadata: { namespace: 'payments' } }] }, 'ObjectsNotApplicable'],
  ])('%s', (_name, over, reason) => {
    const j = judgeProposals(seg, [candidate(over)]);
    if (reason === undefined) {
      expect(j).toEqual({ approved: { name: 'shop-r1', reviewer: 'rita' }, refused: [], bound: ['shop-r1'] });
    } else {
      expect(j.approved).toBeUndefined();
      expect(j.refused.map((r) => r.reason)).toEqual([reason]);
    }
  });

  it.each<[string, Partial<ApprovalCandidate>]>([
    ['relabelled from another Segmentation (no ownerReference to this one)', { ownerUid: 'other-uid' }],
    ['owned by a re-created Segmentation of the same name', { ownerUid: 'old-seg-uid' }],
    ['content naming another Segmentation', { segmentation: 'web' }],
  ])('a proposal not bound to the Segmentation never counts: %s', (_name, over) => {
    expect(judgeProposals(seg, [candidate(over)])).toEqual({ refused: [], bound: [] });
  });

  it('the newest revision that passes wins; a refused newer one leaves the older approval in force', () => {
    const r2 = candidate({ name: 'shop-r2', uid: 'p2', revision: 2, review: { proposalUID: 'p-uid', contentDigest: DIGEST } });
    const j = judgeProposals(seg, [candidate(), r2]);
    expect(j.approved?.name).toBe('shop-r1');
    expect(j.refused.map((r) => `${r.name} ${r.reason}`)).toEqual(['shop-r2 ReviewNotPinned']);
    expect(j.bound).toEqual(['shop-r2', 'shop-r1']);
  });

  it('requireApproval false counts an unreviewed proposal only while the waiver is signed', () => {
    const pending = candidate({ decision: 'Pending', reviewer: undefined, review: {} });
    expect(judgeProposals({ ...seg, requireApproval: false }, [pending]).approved).toBeUndefined();
    expect(judgeProposals({ ...seg, requireApproval: false, approvalWaivedBy: 'olga' }, [pending]).approved).toEqual({ name: 'shop-r1' });
    expect(judgeProposals({ ...seg, requireApproval: false, approvalWaivedBy: 'olga' }, [candidate({ decision: 'Rejected', review: {} })]).approved).toBeUndefined();
    // The content must still match its digest.
    expect(judgeProposals({ ...seg, requireApproval: false, approvalWaivedBy: 'olga' }, [{ ...pending, computedDigest: 'sha256:00' }]).refused[0]?.reason).toBe('ContentDigestMismatch');
  });

  it('a waiver never approves a proposal that brings back denied edges; a reviewer still can', () => {
    const waived = { ...seg, requireApproval: false, approvalWaivedBy: 'olga' };
    const older = candidate({ name: 'shop-r1', revision: 1, decision: 'Pending', reviewer: undefined, review: {} });
    const deniedPending = candidate({ name: 'shop-r2', revision: 2, decision: 'Pending', reviewer: undefined, review: {}, proposesDenied: true });
    // The newer revision with denied edges is skipped; the older unreviewed one stays in force.
    expect(judgeProposals(waived, [older, deniedPending]).approved).toEqual({ name: 'shop-r1' });
    expect(judgeProposals(waived, [deniedPending]).approved).toBeUndefined();
    expect(judgeProposals(waived, [candidate({ name: 'shop-r2', revision: 2, proposesDenied: true })]).approved?.name).toBe('shop-r2');
  });
});

describe('judgeProposals: proposals from before content pinning (no spec.contentDigest)', () => {
  const legacy = (over: Partial<ApprovalCandidate> = {}) => candidate({ contentDigest: undefined, review: {}, ...over });

  it.each<[string, Partial<ApprovalCandidate>, ApprovalSegmentation]>([
    ['approved by an older plugin', {}, seg],
    ['approved with pins that name no digest', { review: { proposalUID: 'p-uid' } }, seg],
    ['still pending, under review', { decision: 'Pending', reviewer: undefined }, seg],
    ['pending under a signed waiver', { decision: 'Pending', reviewer: undefined }, { ...seg, requireApproval: false, approvalWaivedBy: 'olga' }],
  ])('%s: never approved, refused as LegacyProposal with what happens next', (_name, over, s) => {
    const j = judgeProposals(s, [legacy(over)]);
    expect(j.approved).toBeUndefined();
    expect(j.refused).toEqual([{ name: 'shop-r1', reason: 'LegacyProposal', message: expect.stringContaining('its content is proposed again as a new revision for review') }]);
    expect(j.bound).toEqual(['shop-r1']);
  });

  it('is not reported once superseded or rejected (nothing to decide on it)', () => {
    expect(judgeProposals(seg, [legacy({ decision: 'Pending', superseded: true })]).refused).toEqual([]);
    expect(judgeProposals(seg, [legacy({ decision: 'Rejected' })]).refused).toEqual([]);
  });

  it('the pinned revision proposed again is approved; the legacy one below it is no longer looked at', () => {
    const again = candidate({ name: 'shop-r2', uid: 'p2', revision: 2, review: { proposalUID: 'p2', contentDigest: DIGEST } });
    expect(judgeProposals(seg, [legacy(), again])).toEqual({ approved: { name: 'shop-r2', reviewer: 'rita' }, refused: [], bound: ['shop-r2', 'shop-r1'] });
  });
});

describe('contentDigest', () => {
  it('ignores key order and undefined fields, sees every value', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] })).toBe('{"a":[{"d":2}],"b":1}');
    expect(contentDigest({ a: 1, b: 2 })).toBe(contentDigest({ b: 2, a: 1 }));
    expect(contentDigest({ a: 1 })).not.toBe(contentDigest({ a: 2 }));
    expect(contentDigest({ a: 1 })).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('of a stored content equals that of the content with the schema defaults filled in', () => {
    const sent = { segmentation: 'shop', revision: 1, flavor: 'NetworkPolicy', digest: 'x', objects: [np], evidence: [], diff: {} };
    const stored = { ...sent, diff: { added: [], changed: [], removed: [], unified: '' }, skipped: [] };
    expect(proposalContentDigest(sent)).toBe(proposalContentDigest(stored));
    expect(proposalContentDigest({ revision: 'x' })).toBeUndefined();
  });
});
