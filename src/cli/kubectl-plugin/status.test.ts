import { describe, expect, it } from 'vitest';
import { statusTable, viewSegmentation } from './status.js';

const NOW = new Date('2026-11-27T10:00:00Z');
const seg = (promotion: Record<string, unknown>, annotations?: Record<string, string>, conditions: unknown[] = []) => viewSegmentation({
  metadata: { namespace: 'shop', name: 'shop', ...(annotations ? { annotations } : {}) },
  spec: { mode: 'Enforce', promotion },
  status: { phase: 'Proposed', conditions },
});

describe('kubectl hivewall status: who turned review off', () => {
  it.each<[string, ReturnType<typeof seg>, string | undefined]>([
    ['review required: no line', seg({ requireApproval: true }, { 'hivewall.dev/approval-waived-by': 'olga' }), undefined],
    ['waived and signed: who', seg({ requireApproval: false }, { 'hivewall.dev/approval-waived-by': 'olga' }), '    approval waived by "olga" (promotion.requireApproval: false): proposals are enforced without a review'],
    ['waived, unsigned: the operator still waits for a review', seg({ requireApproval: false }), '    promotion.requireApproval is false but unsigned (no hivewall.dev/approval-waived-by annotation): proposals still need a review'],
    ['a signer name with a terminal escape is printed escaped', seg({ requireApproval: false }, { 'hivewall.dev/approval-waived-by': 'ol\u001b[2Jga' }), '    approval waived by "ol\\u001b[2Jga" (promotion.requireApproval: false): proposals are enforced without a review'],
  ])('%s', (_name, view, line) => {
    const lines = statusTable([view], NOW).trimEnd().split('\n');
    expect(lines.slice(2)).toEqual(line === undefined ? [] : [line]);
  });

  it('a refused approval is shown under the row with its reason', () => {
    const view = seg({ requireApproval: true }, undefined, [{ type: 'Approved', status: 'False', reason: 'ReviewNotPinned', message: 'refused shop-r1: the approval was not given to this object and content' }]);
    expect(statusTable([view], NOW)).toContain('    Approved=False ReviewNotPinned: refused shop-r1: the approval was not given to this object and content\n');
  });

  it('a proposal from before content pinning is shown under the row: what happens, what to do', () => {
    const view = seg({ requireApproval: true }, undefined, [
      { type: 'Approved', status: 'False', reason: 'LegacyProposal', message: 'refused shop-r1: written by an older hivewall without spec.contentDigest, so no approval can be tied to its content: it is never enforced; its content is proposed again as a new revision for review' },
      { type: 'Enforced', status: 'False', reason: 'LegacyProposal', message: 'shop-r1 was approved without content pins (an older hivewall): its live policies are left as they are' },
    ]);
    const table = statusTable([view], NOW);
    expect(table).toContain('    Approved=False LegacyProposal: refused shop-r1: written by an older hivewall without spec.contentDigest');
    expect(table).toContain('    Enforced=False LegacyProposal: shop-r1 was approved without content pins');
  });
});
