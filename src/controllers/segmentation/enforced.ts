/**
 * Which proposal is enforced while a newer approval is audited. Approving a follow-up revision
 * starts its audit (docs/architecture.md §3); until it is enforced, the policies of the revision
 * enforced before stay live, and so they stay enforced: drift repair and the safety net go on for
 * them (docs/operator-guide.md, "5. Enforce").
 *
 * The Segmentation's status says which: when it is `Enforcing` another proposal than the approved
 * one, that one (the reconcile the new approval starts). Afterwards its phase is `Auditing` with
 * `status.enforcement.inSync` set (which only enforcing writes): then the enforced proposal is the
 * newest other one the operator marked `Enforced`. Either way it must still count as approved on
 * its own (src/domain/approval.ts): a proposal rejected since, or no longer intact, is not enforced.
 */
import type { PolicyProposal } from '../../api/policy-proposal.js';
import type { Segmentation } from '../../api/segmentation.js';
import { judgeProposals } from '../../domain/approval.js';
import { approvalSegmentation } from './approval-facts.js';
import type { ReadProposal } from './proposal-cache.js';

/** The earlier proposal still enforced while `approved` is audited, if any (see the module comment). */
export function heldProposal(seg: Segmentation, read: readonly ReadProposal[], approved: string | undefined): PolicyProposal | undefined {
  const status = seg.status;
  if (seg.spec.mode !== 'Enforce' || approved === undefined || status === undefined) return undefined;
  const others = read.filter((r) => r.proposal.metadata.name !== approved);
  let candidates: readonly ReadProposal[] = [];
  if (status.phase === 'Enforcing' && status.approvedProposal !== approved) {
    candidates = others.filter((r) => r.proposal.metadata.name === status.approvedProposal);
  } else if (status.phase === 'Auditing' && status.enforcement?.inSync !== undefined) {
    candidates = others.filter((r) => r.proposal.status?.phase === 'Enforced');
  }
  // The newest that still counts as approved on its own.
  const judged = judgeProposals(approvalSegmentation(seg), candidates.map((r) => r.candidate)).approved;
  return candidates.find((r) => r.proposal.metadata.name === judged?.name)?.proposal;
}
