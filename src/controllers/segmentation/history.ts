/**
 * Revision history of a Segmentation's proposals (`spec.revisionHistoryLimit`, as a Deployment's
 * ReplicaSets): every new graph makes a new revision, and each is kept by the API server and in
 * the operator's informer cache (hundreds of KiB for a namespace of thousands of edges), so they
 * are pruned. Only revisions nobody reviewed and a newer one superseded are ever deleted; those
 * carrying a decision, a reviewer or a comment are the record of what reviewers decided and stay,
 * as does every revision the Segmentation's status or approval names. Pure.
 */
import type { ProposalFact } from './decide.js';

/**
 * Proposals one reconcile deletes at most: a Segmentation with a long history (an upgrade from a
 * release that kept every revision) is pruned over several reconciles, each a bounded number of
 * API calls; every delete's watch event starts the next.
 */
export const MAX_PRUNED_PER_RECONCILE = 20;

/**
 * The proposals to delete, oldest first: superseded and untouched by reviewers, past the newest
 * `limit` of those, never one of `referenced` (approved, audited, enforced, rolled back or newest),
 * at most {@link MAX_PRUNED_PER_RECONCILE}.
 */
export function prunableProposals(proposals: readonly ProposalFact[], limit: number, referenced: ReadonlySet<string>): string[] {
  return proposals
    .filter((p) => p.phase === 'Superseded' && p.untouched === true && !referenced.has(p.name))
    .sort((a, b) => b.revision - a.revision)
    .slice(Math.max(0, limit))
    .reverse()
    .slice(0, MAX_PRUNED_PER_RECONCILE)
    .map((p) => p.name);
}
