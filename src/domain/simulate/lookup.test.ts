// Audit mode keeps one ClusterLookup current namespace by namespace. Whatever the history of
// replacements, it must answer as the lookup of the model the cluster now is.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressKey } from './cidr.js';
import { ClusterLookup } from './lookup.js';
import type { ClusterModel, NamespaceModel, PodModel } from './model.js';

const NAMESPACES = ['default', 'shop', 'evil'];
const IPS = ['10.244.0.1', '10.244.0.2', 'fd00::1'];

const pod = fc.record({
  namespace: fc.constantFrom(...NAMESPACES),
  name: fc.constantFrom('a', 'b'),
  ips: fc.subarray(IPS, { minLength: 1, maxLength: 2 }),
  hostNetwork: fc.constantFrom(false, false, false, true),
  app: fc.constantFrom('web', 'db'),
}).map(({ app, ...p }): PodModel => ({ ...p, labels: { app }, ports: [], serviceAccount: 'default', nodeName: 'node-a' }));

const model = fc.record({
  pods: fc.uniqueArray(pod, { maxLength: 5, selector: (p) => `${p.namespace}/${p.name}` }),
  namespaces: fc.subarray(NAMESPACES).map((names) => names.map((name): NamespaceModel => ({ name, labels: { team: name.toUpperCase() } }))),
}).map((parts): ClusterModel => ({ ...parts, nodes: [{ name: 'node-a', internalIPs: ['172.18.0.2'] }], kubeApiserverIPs: ['172.18.0.2'] }));

function replace(lookup: ClusterLookup, cluster: ClusterModel, namespace: string): void {
  lookup.replaceNamespace(namespace, cluster.namespaces.find((n) => n.name === namespace), cluster.pods.filter((p) => p.namespace === namespace));
}

function answers(lookup: ClusterLookup): unknown {
  return {
    namespaces: NAMESPACES.map((n) => lookup.namespace(n)),
    pods: NAMESPACES.flatMap((n) => ['a', 'b'].map((p) => lookup.pod(n, p))),
    byAddress: IPS.map((ip) => lookup.podAt(addressKey(ip)!)),
    node: lookup.nodeAt(addressKey('172.18.0.2')!)?.name,
    apiserver: lookup.isApiserver(addressKey('172.18.0.2')!),
  };
}

describe('ClusterLookup.replaceNamespace', () => {
  it('after any history of replacements, answers as the lookup of the current model', () => {
    fc.assert(fc.property(model, fc.array(fc.tuple(fc.constantFrom(...NAMESPACES), model), { maxLength: 4 }), model, (start, history, end) => {
      const live = ClusterLookup.of(start);
      for (const [namespace, state] of history) replace(live, state, namespace);
      for (const namespace of NAMESPACES) replace(live, end, namespace);
      expect(answers(live)).toEqual(answers(ClusterLookup.of(end)));
    }), { numRuns: 300 });
  });

  it('a namespace that is replaced by nothing is gone, and its addresses fall back to the other claimant', () => {
    const web: PodModel = { namespace: 'shop', name: 'web', labels: {}, ips: ['10.244.0.1'], ports: [], hostNetwork: false, serviceAccount: 'default' };
    const thief: PodModel = { ...web, namespace: 'zz-evil', name: 'thief' };
    const lookup = ClusterLookup.of({ namespaces: [], pods: [web, thief], nodes: [], kubeApiserverIPs: [] });
    expect(lookup.podAt(addressKey('10.244.0.1')!)).toBe(thief);
    lookup.replaceNamespace('zz-evil', undefined, []);
    expect(lookup.podAt(addressKey('10.244.0.1')!)).toBe(web);
    expect(lookup.pod('zz-evil', 'thief')).toBeUndefined();
  });
});
