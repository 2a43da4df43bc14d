import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { matchesLabels, minimalSelector } from './selector.js';

describe('minimalSelector', () => {
  const cases = [
    {
      name: 'one identity label is enough',
      own: [{ 'app.kubernetes.io/name': 'cart', 'pod-template-hash': 'a1' }, { 'app.kubernetes.io/name': 'cart', 'pod-template-hash': 'b2' }],
      others: [{ 'app.kubernetes.io/name': 'catalog' }],
      want: { 'app.kubernetes.io/name': 'cart' },
    },
    {
      name: 'a shared label forces a second one',
      own: [{ tier: 'cart', 'app.kubernetes.io/component': 'api', 'app.kubernetes.io/part-of': 'shop' }],
      others: [{ tier: 'cart', 'app.kubernetes.io/component': 'cache', 'app.kubernetes.io/part-of': 'shop' }],
      want: { 'app.kubernetes.io/component': 'api' },
    },
    {
      name: 'never selects by per-pod labels even when they would be unique',
      own: [{ app: 'db', 'statefulset.kubernetes.io/pod-name': 'db-0', 'controller-revision-hash': 'db-1' }],
      others: [{ app: 'db', role: 'replica' }],
      want: undefined,
    },
    {
      name: 'labels that differ between replicas are not used',
      own: [{ app: 'web', version: 'v1' }, { app: 'web', version: 'v2' }],
      others: [{ app: 'web-canary' }],
      want: { app: 'web' },
    },
    {
      name: 'the controller selector keys are preferred among equals',
      own: [{ zeta: 'x', alpha: 'y' }],
      others: [],
      controller: { zeta: 'x' },
      want: { zeta: 'x' },
    },
    {
      name: 'job labels are excluded',
      own: [{ 'batch.kubernetes.io/job-name': 'r-1', 'job-name': 'r-1', 'controller-uid': 'u', app: 'report' }],
      others: [],
      want: { app: 'report' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = minimalSelector(c.own, c.others, c.controller);
      if (c.want === undefined) {
        expect(result.ok).toBe(false);
        return;
      }
      expect(result).toEqual({ ok: true, matchLabels: c.want });
      // Independent check of the two promises: selects all own pods, no other pod.
      if (result.ok) {
        for (const pod of c.own) expect(matchesLabels(result.matchLabels, pod)).toBe(true);
        for (const pod of c.others) expect(matchesLabels(result.matchLabels, pod)).toBe(false);
      }
    });
  }

  it('explains why when pods share no stable label', () => {
    const result = minimalSelector([{ 'pod-template-hash': 'x' }], []);
    expect(result).toEqual({ ok: false, reason: 'its pods share no stable label' });
  });
});

describe('minimalSelector against a brute-force search', () => {
  // Pods of a few workloads with overlapping labels; the oracle tries every subset of the stable
  // common labels, smallest first, against every other pod, with none of the selector's shortcuts.
  const keys = ['app', 'tier', 'team', 'zone', 'pod-template-hash'];
  const labelSet = fc.dictionary(fc.constantFrom(...keys), fc.constantFrom('a', 'b', 'c'), { minKeys: 1 });
  it('finds a selector exactly when one of at most 4 stable common labels selects no foreign pod, and it is one of the smallest', () => {
    fc.assert(fc.property(fc.array(labelSet, { minLength: 1, maxLength: 3 }), fc.array(labelSet, { maxLength: 12 }), (own, others) => {
      const result = minimalSelector(own, [...own, ...others]);
      const common = Object.keys(own[0]!).filter((k) => k !== 'pod-template-hash' && own.every((l) => l[k] === own[0]![k]));
      const selects = (sel: Record<string, string>, l: Record<string, string>) => Object.entries(sel).every(([k, v]) => l[k] === v);
      const subsets = (size: number, from = 0): string[][] => size === 0 ? [[]] : common.slice(from).flatMap((k, i) => subsets(size - 1, from + i + 1).map((rest) => [k, ...rest]));
      let smallest: number | undefined;
      for (let size = 1; size <= Math.min(4, common.length) && smallest === undefined; size++) {
        for (const subset of subsets(size)) {
          const sel = Object.fromEntries(subset.map((k) => [k, own[0]![k]!]));
          if (!others.some((l) => selects(sel, l))) smallest = size;
        }
      }
      if (common.length === 0) expect(result.ok).toBe(false);
      else if (smallest === undefined) expect(result.ok).toBe(common.length > 4 && !others.some((l) => selects(Object.fromEntries(common.map((k) => [k, own[0]![k]!])), l)));
      else {
        expect(result.ok).toBe(true);
        if (result.ok) {
          expect(Object.keys(result.matchLabels)).toHaveLength(smallest);
          for (const l of own) expect(selects(result.matchLabels, l)).toBe(true);
          for (const l of others) expect(selects(result.matchLabels, l)).toBe(false);
        }
      }
    }), { numRuns: 500 });
  });
});
