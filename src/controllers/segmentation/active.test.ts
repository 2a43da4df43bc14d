import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { activeSegmentation } from './active.js';

const seg = (name: string, created?: string): KubernetesObject => ({ metadata: { name, namespace: 'shop', ...(created ? { creationTimestamp: created as unknown as Date } : {}) } });

describe('activeSegmentation', () => {
  it.each<[string, KubernetesObject[], string | undefined]>([
    ['none', [], undefined],
    ['the only one', [seg('shop', '2026-11-27T10:00:00Z')], 'shop'],
    ['the oldest, whatever its name', [seg('aaa', '2026-11-27T11:00:00Z'), seg('shop', '2026-11-27T10:00:00Z')], 'shop'],
    ['created in the same second: the first name', [seg('web', '2026-11-27T10:00:00Z'), seg('shop', '2026-11-27T10:00:00Z')], 'shop'],
    ['one never stored (no creationTimestamp) ranks last', [seg('aaa'), seg('shop', '2026-11-27T10:00:00Z')], 'shop'],
  ])('%s', (_name, segmentations, active) => {
    expect(activeSegmentation(segmentations)).toBe(active);
  });
});
