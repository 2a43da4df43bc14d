import { describe, expect, it } from 'vitest';
import type { ProposalFact } from './decide.js';
import { prunableProposals } from './history.js';

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
});
