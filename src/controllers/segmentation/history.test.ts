import { describe, expect, it } from 'vitest';
import type { ProposalFact } from './decide.js';
import { MAX_PRUNED_PER_RECONCILE, prunableProposals } from './history.js';

const revision = (n: number, over: Partial<ProposalFact> = {}): ProposalFact => ({ name: `shop-r${n}`, revision: n, digest: `d${n}`, decision: 'Pending', phase: 'Superseded', untouched: true, ...over });

describe('prunableProposals', () => {
  it('deletes superseded revisions nobody reviewed past the newest `limit` of them', () => {
    const proposals = [1, 2, 3, 4, 5, 6].map((n) => revision(n)).concat(revision(7, { phase: 'Pending' }));
    expect(prunableProposals(proposals, 3, new Set())).toEqual(['shop-r1', 'shop-r2', 'shop-r3']);
    expect(prunableProposals(proposals, 0, new Set())).toEqual(['shop-r1', 'shop-r2', 'shop-r3', 'shop-r4', 'shop-r5', 'shop-r6']);
    expect(prunableProposals(proposals, 10, new Set())).toEqual([]);
  });

  it('keeps every reviewed revision, the ones not superseded and the ones the status names, without counting them', () => {
    const proposals = [
      revision(1, { decision: 'Rejected', reviewer: 'rita', untouched: false }),
      revision(2, { untouched: false }), // commented
      revision(3),
      revision(4, { decision: 'Approved', reviewer: 'rita', untouched: false }),
      revision(5),
      revision(6, { phase: 'Enforced', untouched: false }),
      revision(7),
      revision(8, { phase: 'Pending' }),
    ];
    expect(prunableProposals(proposals, 1, new Set())).toEqual(['shop-r3', 'shop-r5']);
    // An approval waived (requireApproval false) can name an untouched revision: never pruned.
    expect(prunableProposals(proposals, 1, new Set(['shop-r3']))).toEqual(['shop-r5']);
    expect(prunableProposals(proposals, 0, new Set(['shop-r7']))).toEqual(['shop-r3', 'shop-r5']);
  });

  it('deletes at most MAX_PRUNED_PER_RECONCILE at once, the oldest first (a long history is pruned over several reconciles)', () => {
    const proposals = Array.from({ length: 60 }, (_, i) => revision(i + 1)).concat(revision(61, { phase: 'Pending' }));
    const first = prunableProposals(proposals, 10, new Set());
    expect(first).toEqual(Array.from({ length: MAX_PRUNED_PER_RECONCILE }, (_, i) => `shop-r${i + 1}`));
    const left = proposals.filter((p) => !first.includes(p.name));
    expect(prunableProposals(left, 10, new Set())).toEqual(Array.from({ length: MAX_PRUNED_PER_RECONCILE }, (_, i) => `shop-r${i + 21}`));
    const second = left.filter((p) => p.revision > 40);
    expect(prunableProposals(second, 10, new Set())).toEqual(Array.from({ length: 10 }, (_, i) => `shop-r${i + 41}`));
    expect(prunableProposals(second.filter((p) => p.revision > 50), 10, new Set())).toEqual([]);
  });
});
