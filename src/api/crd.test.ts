import { readFileSync, readdirSync } from 'node:fs';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { crdFiles } from './crd-files.js';
import { parseDuration } from './duration.js';
import { segmentationSchema } from './segmentation.js';

const CRD_DIR = new URL('../../crds/', import.meta.url);

describe('crds/', () => {
  it('matches what the zod schemas generate (run `npm run gen:crds` after changing src/api)', () => {
    const generated = crdFiles();
    expect(readdirSync(CRD_DIR).filter((f) => f.endsWith('.yaml')).sort()).toEqual([...generated.keys()].sort());
    for (const [name, text] of generated) expect(readFileSync(new URL(name, CRD_DIR), 'utf8'), name).toBe(text);
  });

  it('has no open object without x-kubernetes-preserve-unknown-fields (structural schema)', () => {
    const walk = (node: unknown, path: string): string[] => {
      if (!node || typeof node !== 'object') return [];
      const n = node as Record<string, unknown>;
      const bad = n.type === 'object' && !n.properties && !n.additionalProperties && !n['x-kubernetes-preserve-unknown-fields'] && !path.endsWith('.metadata') ? [path] : [];
      return [...bad, ...Object.entries(n).flatMap(([k, v]) => walk(v, `${path}.${k}`))];
    };
    for (const [name, text] of crdFiles()) {
      const crd = load(text) as { spec: { versions: { schema: { openAPIV3Schema: unknown } }[] } };
      expect(walk(crd.spec.versions[0]!.schema.openAPIV3Schema, name)).toEqual([]);
    }
  });
});

describe('Segmentation schema', () => {
  it('fills defaults for a minimal spec', () => {
    const seg = segmentationSchema.parse({ apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', metadata: { name: 's', namespace: 'shop' }, spec: {} });
    expect(seg.spec).toEqual({
      mode: 'Learn',
      flavor: 'NetworkPolicy',
      learning: { window: '24h', stableFor: '1h', minFlowsPerEdge: 1 },
      workloads: { exclude: [] },
      allow: { dns: true, kubeApiserver: false, publicIngress: true },
      egress: { external: 'FQDN' },
      promotion: { requireApproval: true, auditPeriod: '1h', allowedWouldDeny: 0 },
      delivery: 'Apply',
    });
  });

  it.each([
    ['mode', { mode: 'Yolo' }],
    ['window', { learning: { window: 'a day' } }],
    ['allowedWouldDeny', { promotion: { allowedWouldDeny: -1 } }],
  ])('rejects a bad %s', (_name, spec) => {
    const r = segmentationSchema.safeParse({ apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', metadata: { name: 's' }, spec });
    expect(r.success).toBe(false);
  });

  it.each([
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['0s', 0],
    ['1d', undefined],
    ['', undefined],
  ])('parses duration %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});
