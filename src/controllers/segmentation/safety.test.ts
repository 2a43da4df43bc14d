import { describe, expect, it } from 'vitest';
import { segmentationSchema } from '../../api/segmentation.js';
import { DenialRegistry } from '../../operator/denial-registry.js';
import { trackEnforcement } from './safety.js';

const seg = (name: string) => segmentationSchema.parse({ apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', metadata: { name, namespace: 'shop' }, spec: {} });

describe('trackEnforcement', () => {
  it('a Segmentation that enforces nothing releases only its own count, never another one\'s in the namespace', () => {
    const registry = new DenialRegistry({ now: () => 0, onCrossed: () => undefined });
    registry.enforce('shop', { segmentation: 'shop', proposal: 'shop-r1', budget: { maxDenied: 2, windowMs: 60_000 }, policies: [] });
    trackEnforcement(registry, seg('other'), { phase: 'Learning' }, undefined);
    expect(registry.view('shop', 'shop-r1')).toBeDefined();
    trackEnforcement(registry, seg('shop'), { phase: 'Learning' }, undefined);
    expect(registry.view('shop', 'shop-r1')).toBeUndefined();
  });
});
