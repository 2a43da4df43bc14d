import { describe, expect, it } from 'vitest';
import type { SegmentationStatus } from '../../api/segmentation.js';
import { statusPatch } from './status-patch.js';

/** RFC 7386 as the API server applies it. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const rolledBack = { proposal: 'shop-r1', at: '2026-11-27T10:00:00.000Z', workloads: ['wl:shop/Deployment/cart'], policies: ['hivewall-cart'] };
const denied = [{ client: 'wl:shop/Deployment/web', server: 'wl:shop/Deployment/cart', port: 8080, protocol: 'TCP', count: 7, firstDenied: 'a', lastDenied: 'b' }];

describe('statusPatch', () => {
  it.each<[string, SegmentationStatus, SegmentationStatus]>([
    ['a nested object dropped (enforcement.rolledBack, enforcement.denied)', { phase: 'Enforcing', enforcement: { inSync: true, rolledBack, denied } }, { phase: 'Enforcing', enforcement: { inSync: true } }],
    ['a nested scalar dropped (learning.refusedEdges)', { learning: { edges: 3, refusedEdges: 7 } }, { learning: { edges: 4 } }],
    ['a top-level key dropped', { phase: 'Auditing', audit: { since: 'x' } }, { phase: 'Learning' }],
    ['an array shortened (replaced whole)', { enforcement: { denied: [...denied, { ...denied[0]!, port: 9090 }] } }, { enforcement: { denied } }],
    ['a field added', { phase: 'Learning' }, { phase: 'Proposed', proposal: { name: 'shop-r1', revision: 1 } }],
    ['no status before', {}, { phase: 'Learning', learning: { edges: 1 } }],
  ])('the API server ends up with exactly the new status: %s', (_name, old, next) => {
    expect(mergePatch(structuredClone(old), statusPatch(old, next))).toEqual(next);
  });

  it('sends null for the dropped nested keys and the new values otherwise', () => {
    expect(statusPatch({ enforcement: { inSync: true, rolledBack, denied } }, { enforcement: { inSync: true } })).toEqual({ enforcement: { inSync: true, rolledBack: null, denied: null } });
    expect(statusPatch(undefined, { phase: 'Learning' })).toEqual({ phase: 'Learning' });
  });
});
