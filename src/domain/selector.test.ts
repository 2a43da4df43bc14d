import { describe, expect, it } from 'vitest';
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
