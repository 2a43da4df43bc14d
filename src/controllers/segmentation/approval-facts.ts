/**
 * The Segmentation and its PolicyProposals as src/domain/approval.ts judges them: which proposal is
 * bound to the Segmentation, pinned by its review and applicable.
 */
import type { PolicyProposal } from '../../api/policy-proposal.js';
import type { Segmentation } from '../../api/segmentation.js';
import { APPROVAL_WAIVED_BY_ANNOTATION, contentDigest, type ApprovalCandidate, type ApprovalSegmentation } from '../../domain/approval.js';
import { proposesDenied } from './safety.js';

export { proposalContentDigest } from '../../domain/approval.js';

export function approvalSegmentation(seg: Segmentation): ApprovalSegmentation {
  const waivedBy = seg.metadata.annotations?.[APPROVAL_WAIVED_BY_ANNOTATION];
  return {
    name: seg.metadata.name,
    namespace: seg.metadata.namespace ?? '',
    uid: seg.metadata.uid ?? '',
    requireApproval: seg.spec.promotion.requireApproval,
    ...(waivedBy ? { approvalWaivedBy: waivedBy } : {}),
  };
}

/** A proposal as parsed by the PolicyProposal schema (its content has the schema's defaults). */
export function approvalCandidate(p: PolicyProposal): ApprovalCandidate {
  const owner = p.metadata.ownerReferences?.find((o) => o.controller === true && o.kind === 'Segmentation');
  const { review } = p.spec;
  return {
    name: p.metadata.name,
    ...(p.metadata.uid ? { uid: p.metadata.uid } : {}),
    revision: p.spec.content.revision,
    segmentation: p.spec.content.segmentation,
    ...(owner?.uid ? { ownerUid: owner.uid } : {}),
    ...(p.spec.contentDigest ? { contentDigest: p.spec.contentDigest } : {}),
    computedDigest: contentDigest(p.spec.content),
    decision: review.decision,
    ...(review.reviewer ? { reviewer: review.reviewer } : {}),
    review: { ...(review.proposalUID ? { proposalUID: review.proposalUID } : {}), ...(review.contentDigest ? { contentDigest: review.contentDigest } : {}) },
    objects: p.spec.content.objects,
    ...(proposesDenied(p) ? { proposesDenied: true } : {}),
    ...(p.status?.phase === 'Superseded' ? { superseded: true } : {}),
  };
}
