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
      learning: { window: '24h', stableFor: '1h', minFlowsPerEdge: 1, requireCoverage: false },
      workloads: { exclude: [] },
      allow: { dns: true, kubeApiserver: false, publicIngress: true },
      egress: { external: 'FQDN' },
      promotion: { requireApproval: true, auditPeriod: '1h', allowedWouldDeny: 0 },
      enforcement: { rollback: { maxDenied: 20, window: '5m' } },
      delivery: 'Apply',
      revisionHistoryLimit: 10,
    });
  });

  it.each([
    ['mode', { mode: 'Yolo' }],
    ['window', { learning: { window: 'a day' } }],
    ['allowedWouldDeny', { promotion: { allowedWouldDeny: -1 } }],
    ['matchLabels key with a space', { workloads: { selector: { matchLabels: { 'bad key': 'x' } } } }],
    ['matchLabels key with two slashes', { workloads: { selector: { matchLabels: { 'a/b/c': 'x' } } } }],
    ['matchLabels key with a 254-character prefix', { workloads: { selector: { matchLabels: { [`${'a'.repeat(254)}/x`]: 'y' } } } }],
    ['matchLabels value with a slash', { workloads: { selector: { matchLabels: { app: 'a/b' } } } }],
    ['matchExpressions key with a colon', { workloads: { selector: { matchExpressions: [{ key: 'k8s:app', operator: 'Exists' }] } } }],
    ['matchExpressions value of 64 characters', { workloads: { selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['v'.repeat(64)] }] } } }],
    ['rollback maxDenied below -1', { enforcement: { rollback: { maxDenied: -2 } } }],
    ['rollback window', { enforcement: { rollback: { window: 'soon' } } }],
    ['negative revisionHistoryLimit', { revisionHistoryLimit: -1 }],
  ])('rejects a bad %s', (_name, spec) => {
    const r = segmentationSchema.safeParse({ apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', metadata: { name: 's' }, spec });
    expect(r.success).toBe(false);
  });

  it('accepts Kubernetes label syntax in selectors', () => {
    const selector = { matchLabels: { 'app.kubernetes.io/name': 'cart', tier: '', [`${'a'.repeat(253)}/${'n'.repeat(63)}`]: 'v'.repeat(63) }, matchExpressions: [{ key: 'example.com/A_b.c-D', operator: 'In', values: ['x.Y_z-1', ''] }] };
    const r = segmentationSchema.safeParse({ apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', metadata: { name: 's' }, spec: { workloads: { selector } } });
    expect(r.success).toBe(true);
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
