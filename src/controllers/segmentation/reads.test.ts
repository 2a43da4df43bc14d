import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Informer } from '../../runtime/informer.js';
import { cachedReads, type SegmentationReads } from './reads.js';

/** The part of an Informer the reads use, over a fixed cache. */
function cache(synced: boolean, objects: KubernetesObject[]): Informer<KubernetesObject> {
  return {
    hasSynced: () => synced,
    list: (namespace?: string) => objects.filter((o) => namespace === undefined || o.metadata?.namespace === namespace),
    get: (name: string, namespace?: string) => objects.find((o) => o.metadata?.name === name && o.metadata?.namespace === namespace),
  } as unknown as Informer<KubernetesObject>;
}

const meta = (namespace: string, name: string, labels: Record<string, string> = {}) => ({ metadata: { namespace, name, labels } });
/** A proposal whose immutable content names `segmentation`, labelled `label` (which must not matter). */
const proposal = (namespace: string, name: string, segmentation: string, label = segmentation) => ({ ...meta(namespace, name, { 'hivewall.dev/segmentation': label }), spec: { content: { segmentation } } });

describe('cachedReads', () => {
  const calls: string[] = [];
  const fallback: SegmentationReads = {
    segmentations: async () => (calls.push('segmentations'), []),
    segmentation: async (ns, name) => (calls.push(`segmentation ${ns}/${name}`), undefined),
    owned: async (flavor, ns) => (calls.push(`owned ${flavor} ${ns}`), []),
    proposals: async (ns, seg) => (calls.push(`proposals ${ns}/${seg}`), []),
  };
  const informers = {
    segmentations: cache(true, [meta('shop', 'shop'), meta('web', 'web')]),
    // other-r1 was relabelled to shop by someone who may patch proposals: the label binds nothing.
    proposals: cache(true, [proposal('shop', 'shop-r1', 'shop'), proposal('shop', 'other-r1', 'other', 'shop'), proposal('shop', 'shop-r2', 'shop', 'other'), proposal('web', 'web-r1', 'web')]),
    policies: { NetworkPolicy: cache(true, [meta('shop', 'hivewall-cart'), meta('web', 'hivewall-web')]), CiliumNetworkPolicy: cache(false, []) },
  };
  const reads = cachedReads(informers, fallback);

  it('serves synced kinds from the caches, typed, without asking the API server', async () => {
    expect((await reads.segmentations()).map((o) => `${o.apiVersion} ${o.kind} ${o.metadata?.name}`)).toEqual(['hivewall.dev/v1alpha1 Segmentation shop', 'hivewall.dev/v1alpha1 Segmentation web']);
    expect((await reads.segmentations('shop')).map((o) => `${o.kind} ${o.metadata?.namespace}/${o.metadata?.name}`)).toEqual(['Segmentation shop/shop']);
    expect(await reads.segmentation('shop', 'shop')).toMatchObject({ apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', metadata: { name: 'shop' } });
    expect(await reads.segmentation('shop', 'gone')).toBeUndefined();
    expect((await reads.proposals('shop', 'shop')).map((o) => `${o.kind} ${o.metadata?.name}`)).toEqual(['PolicyProposal shop-r1', 'PolicyProposal shop-r2']);
    expect((await reads.owned('NetworkPolicy', 'shop')).map((o) => `${o.apiVersion} ${o.kind} ${o.metadata?.name}`)).toEqual(['networking.k8s.io/v1 NetworkPolicy hivewall-cart']);
    expect(calls).toEqual([]);
  });

  it('hands out the same typed proposal object while the cache keeps the same version (./proposal-cache.ts keys on it)', async () => {
    const first = await reads.proposals('shop', 'shop');
    const again = await reads.proposals('shop', 'shop');
    expect(again[0]).toBe(first[0]);
    expect(again[1]).toBe(first[1]);
  });

  it('asks the API server for a kind whose informer has not synced (e.g. no Cilium CRD)', async () => {
    expect(await reads.owned('CiliumNetworkPolicy', 'shop')).toEqual([]);
    expect(calls).toEqual(['owned CiliumNetworkPolicy shop']);
  });
});
