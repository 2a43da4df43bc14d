import { describe, expect, it } from 'vitest';
import type { LabelSelector, Labels } from './model.js';
import { ciliumKey } from './cilium.js';
import { describeSelector, selectorMatches } from './selectors.js';

const labels: Labels = { app: 'web', tier: 'frontend', empty: '' };

describe('label selectors', () => {
  const table: readonly (readonly [string, LabelSelector | null | undefined, boolean])[] = [
    ['absent selector matches everything', undefined, true],
    ['null selector matches everything', null, true],
    ['"An empty label selector ... matches all objects"', {}, true],
    ['empty matchLabels and matchExpressions', { matchLabels: {}, matchExpressions: [] }, true],
    ['matchLabels equal', { matchLabels: { app: 'web' } }, true],
    ['matchLabels all required', { matchLabels: { app: 'web', tier: 'backend' } }, false],
    ['matchLabels missing key', { matchLabels: { role: 'db' } }, false],
    ['matchLabels empty value', { matchLabels: { empty: '' } }, true],
    ['In', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['frontend', 'edge'] }] }, true],
    ['In, value not listed', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['backend'] }] }, false],
    ['In, key absent', { matchExpressions: [{ key: 'role', operator: 'In', values: ['db'] }] }, false],
    ['NotIn, value listed', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['frontend'] }] }, false],
    ['NotIn, value not listed', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['backend'] }] }, true],
    ['NotIn, key absent', { matchExpressions: [{ key: 'role', operator: 'NotIn', values: ['db'] }] }, true],
    ['Exists', { matchExpressions: [{ key: 'empty', operator: 'Exists' }] }, true],
    ['Exists, absent', { matchExpressions: [{ key: 'role', operator: 'Exists' }] }, false],
    ['DoesNotExist', { matchExpressions: [{ key: 'role', operator: 'DoesNotExist' }] }, true],
    ['DoesNotExist, present', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
    ['unknown operator matches nothing', { matchExpressions: [{ key: 'app', operator: 'Gt', values: ['1'] }] }, false],
    ['matchLabels AND matchExpressions', { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['backend'] }] }, false],
  ];
  for (const [name, selector, expected] of table) it(name, () => expect(selectorMatches(selector, labels)).toBe(expected));

  it('YAML numbers and booleans in matchLabels compare as text', () => {
    const selector = { matchLabels: { version: 2, canary: true } } as unknown as LabelSelector;
    expect(selectorMatches(selector, { version: '2', canary: 'true' })).toBe(true);
  });

  it('a key mapper applies to both matchLabels and matchExpressions (Cilium source prefixes)', () => {
    expect(selectorMatches({ matchLabels: { 'k8s:app': 'web' } }, labels, ciliumKey)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'any:tier', operator: 'Exists' }] }, labels, ciliumKey)).toBe(true);
    expect(selectorMatches({ matchLabels: { 'reserved:host': '' } }, labels, ciliumKey)).toBe(false);
  });

  it('describes selectors for explanations', () => {
    expect(describeSelector({})).toBe('{}');
    expect(
      describeSelector({
        matchLabels: { role: 'db' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['a', 'b'] },
          { key: 'x', operator: 'Exists' },
          { key: 'y', operator: 'DoesNotExist' },
        ],
      }),
    ).toBe('{role=db, tier in (a,b), x, !y}');
  });
});
