import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { contentDigest } from '../../domain/approval.js';
import { readProposals } from './proposal-cache.js';

const raw = (name: string, phase?: string): KubernetesObject => ({
  apiVersion: 'hivewall.dev/v1alpha1',
  kind: 'PolicyProposal',
  metadata: { name, namespace: 'shop', uid: `uid-${name}`, ownerReferences: [{ apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', name: 'shop', uid: 'seg', controller: true }] },
  spec: {
    content: {
      segmentation: 'shop', revision: 1, flavor: 'NetworkPolicy', digest: 'd1',
      objects: [{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'hivewall-cart', namespace: 'shop' }, spec: { podSelector: {} } }],
      evidence: [], diff: {},
    },
    review: { decision: 'Pending' },
  },
  ...(phase ? { status: { phase } } : {}),
} as KubernetesObject);

describe('readProposals', () => {
  it('parses and judges an object once: the same object gives the same result, with the content digest the approval rules compute', () => {
    const object = raw('shop-r1');
    const [first] = readProposals([object]);
    const [again] = readProposals([object]);
    expect(again).toBe(first);
    expect(first!.candidate).toMatchObject({ name: 'shop-r1', revision: 1, ownerUid: 'seg', computedDigest: contentDigest(first!.proposal.spec.content) });
    expect(first!.proposal.spec.content.diff).toEqual({ added: [], changed: [], removed: [], unified: '' }); // the schema's defaults
  });

  it('a new version of the object (a status or review change) is read afresh', () => {
    const [before] = readProposals([raw('shop-r1')]);
    const [after] = readProposals([raw('shop-r1', 'Superseded')]);
    expect(after).not.toBe(before);
    expect(after!.candidate.superseded).toBe(true);
    expect(before!.candidate.superseded).toBeUndefined();
  });

  it('skips what is not a PolicyProposal, every time', () => {
    const broken = { ...raw('shop-r2'), spec: { content: { revision: 'two' } } } as KubernetesObject;
    expect(readProposals([broken, raw('shop-r3')]).map((r) => r.proposal.metadata.name)).toEqual(['shop-r3']);
    expect(readProposals([broken]).map((r) => r.proposal.metadata.name)).toEqual([]);
  });

  it('hands out frozen results: a reconcile cannot change what the next one reads', () => {
    const [read] = readProposals([raw('shop-r4')]);
    expect(() => {
      (read!.proposal.spec.content.objects as unknown[]).push({});
    }).toThrow(TypeError);
    expect(() => {
      (read!.proposal.metadata as { name: string }).name = 'x';
    }).toThrow(TypeError);
    expect(Object.isFrozen(read!.candidate)).toBe(true);
  });
});
