// The operator keeps one IdentityResolver and replaces a namespace's share whenever that
// namespace's objects change. Whatever the history of replacements, the resolver must answer
// exactly as one built afresh from the cluster as it is now — including for addresses several
// namespaces claim (a reused pod IP, a duplicate ClusterIP, a host-network pod on a node address).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdentityResolver, type NamespaceInventory } from './identity.js';
import type { ClusterInventory, ControllerInfo, EndpointSliceInfo, NodeInfo, PodInfo, ServiceInfo } from './inventory.js';

const NAMESPACES = ['default', 'shop', 'evil'] as const;
const POD_IPS = ['10.244.0.1', '10.244.0.2', '10.244.0.3', '172.18.0.2'];
const SERVICE_IPS = ['10.96.0.1', '10.96.0.10'];
const T = Date.UTC(2026, 0, 1);

const pod = fc.record({
  namespace: fc.constantFrom(...NAMESPACES),
  name: fc.constantFrom('web-1', 'web-2', 'db-0'),
  ips: fc.subarray(POD_IPS, { minLength: 1, maxLength: 2 }),
  nodeName: fc.constantFrom('node-a', 'node-b'),
  hostNetwork: fc.constantFrom(false, false, false, false, true),
  owner: fc.constantFrom('web-6c9f', 'db', undefined),
  createdAt: fc.constantFrom(T, T + 60_000),
}).map(({ owner, ...p }): PodInfo => ({
  ...p,
  labels: owner === 'web-6c9f' ? { 'pod-template-hash': '6c9f' } : {},
  owners: owner === undefined ? [] : [{ kind: owner === 'db' ? 'StatefulSet' : 'ReplicaSet', name: owner, controller: true }],
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
}));

const controller = fc.record({ namespace: fc.constantFrom(...NAMESPACES), deployment: fc.constantFrom('web', 'site') })
  .map(({ namespace, deployment }): ControllerInfo => ({ kind: 'ReplicaSet', namespace, name: 'web-6c9f', owners: [{ kind: 'Deployment', name: deployment, controller: true }] }));

const service = fc.record({ namespace: fc.constantFrom(...NAMESPACES), name: fc.constantFrom('kubernetes', 'web'), ip: fc.constantFrom(...SERVICE_IPS) })
  .map(({ namespace, name, ip }): ServiceInfo => ({ namespace, name, type: 'ClusterIP', clusterIPs: [ip], ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 8080 }] }));

const slice = fc.record({ namespace: fc.constantFrom(...NAMESPACES), serviceName: fc.constantFrom('kubernetes', 'web'), ip: fc.constantFrom(...POD_IPS) })
  .map(({ namespace, serviceName, ip }): EndpointSliceInfo => ({ namespace, serviceName, endpoints: [{ addresses: [ip] }], ports: [{ name: 'https', port: 8080, protocol: 'TCP' }] }));

const nodes = fc.subarray<NodeInfo>([
  { name: 'node-a', ips: ['172.18.0.2'], podCIDRs: ['10.244.0.0/24'] },
  { name: 'node-b', ips: ['172.18.0.3'], podCIDRs: ['10.244.1.0/24'] },
]);

/** A cluster: names are unique per kind and namespace, as the API server keeps them. */
const cluster = fc.record({
  pods: fc.uniqueArray(pod, { maxLength: 6, selector: (p) => `${p.namespace}/${p.name}` }),
  controllers: fc.uniqueArray(controller, { maxLength: 3, selector: (c) => c.namespace }),
  services: fc.uniqueArray(service, { maxLength: 4, selector: (s) => `${s.namespace}/${s.name}` }),
  endpointSlices: fc.uniqueArray(slice, { maxLength: 3, selector: (s) => `${s.namespace}/${s.serviceName}` }),
  nodes,
}).map((parts): ClusterInventory => ({ namespaces: [], ...parts }));

function share(inventory: ClusterInventory, namespace: string): NamespaceInventory {
  return {
    pods: inventory.pods.filter((p) => p.namespace === namespace),
    controllers: inventory.controllers.filter((c) => c.namespace === namespace),
    services: inventory.services.filter((s) => s.namespace === namespace),
    endpointSlices: inventory.endpointSlices.filter((s) => s.namespace === namespace),
  };
}

/** Everything a caller can ask the resolver, as plain data. */
function answers(identity: IdentityResolver): unknown {
  const probes = [...POD_IPS, ...SERVICE_IPS, '8.8.8.8', '10.244.1.77'];
  const resolved = [];
  for (const ip of probes) {
    for (const other of ['10.244.0.1', '172.18.0.3']) {
      for (const time of [T - 1, T + 30_000, T + 120_000]) {
        resolved.push(identity.resolve({ ip, port: 443 }, 'server', time, { ip: other, port: 5000 }));
        resolved.push(identity.resolve({ ip, port: 5000 }, 'client', time, { ip: other, port: 443 }));
      }
    }
  }
  const perNamespace = NAMESPACES.map((ns) => ({
    pods: identity.podsWithWorkloadsIn(ns),
    controllers: identity.controllersIn(ns),
    services: identity.servicesIn(ns),
    slices: ['kubernetes', 'web'].map((s) => identity.slicesOf(ns, s)),
    named: ['web-1', 'web-2', 'db-0'].map((p) => identity.workloadOfPod(ns, p)),
    hinted: identity.resolve({ ip: '10.244.9.9', port: 1, namespace: ns, podName: 'web-1' }, 'client', T),
  }));
  return { resolved, perNamespace, nodes: identity.nodes };
}

describe('IdentityResolver.replaceNamespace', () => {
  it('after any history of namespace and Node replacements, answers as a resolver built from the cluster as it now is', () => {
    fc.assert(fc.property(cluster, fc.array(fc.tuple(fc.constantFrom(...NAMESPACES), cluster), { maxLength: 4 }), cluster, (start, history, end) => {
      const live = new IdentityResolver(start);
      for (const [namespace, state] of history) {
        answers(live); // fills the resolver's caches, which a replacement must not leave stale
        live.replaceNamespace(namespace, share(state, namespace));
      }
      answers(live);
      for (const namespace of NAMESPACES) live.replaceNamespace(namespace, share(end, namespace));
      live.replaceNodes(end.nodes);
      expect(answers(live)).toEqual(answers(new IdentityResolver(end)));
    }), { numRuns: 400 });
  });

  it('replacing one namespace leaves the others\' indexes as they were (the same arrays, not rebuilt)', () => {
    const start: ClusterInventory = {
      namespaces: [], nodes: [], controllers: [], endpointSlices: [],
      pods: [
        { namespace: 'shop', name: 'web-1', labels: {}, ips: ['10.244.0.1'], hostNetwork: false, owners: [], ports: [] },
        { namespace: 'evil', name: 'x', labels: {}, ips: ['10.244.0.2'], hostNetwork: false, owners: [], ports: [] },
      ],
      services: [],
    };
    const identity = new IdentityResolver(start);
    const shopPods = identity.podsWithWorkloadsIn('shop');
    identity.replaceNamespace('evil', { pods: [], controllers: [], services: [], endpointSlices: [] });
    expect(identity.podsWithWorkloadsIn('shop')).toBe(shopPods);
    expect(identity.podsWithWorkloadsIn('evil')).toEqual([]);
    expect(identity.resolve({ ip: '10.244.0.2', port: 80 }, 'server', 0)).toMatchObject({ ok: true, peer: { type: 'entity', entity: 'world' } });
    expect(identity.resolve({ ip: '10.244.0.1', port: 80 }, 'server', 0)).toMatchObject({ ok: true, peer: { namespace: 'shop', name: 'web-1' } });
  });
});
