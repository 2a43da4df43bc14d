import { describe, expect, it } from 'vitest';
import type { FlowEndpoint } from '../domain/flow.js';
import { captureLogger } from '../runtime/testing.js';
import { endpoint, flow } from '../testing/builders.js';
import { HubbleAgent } from './hubble-agent.js';
import { HubbleIdentity } from './hubble-identity.js';

const T0 = Date.UTC(2026, 0, 1);
const server = endpoint('10.0.2.3', 443, { namespace: 'payments', podName: 'api-0', workload: { kind: 'StatefulSet', name: 'api' } });

/** The edges the Hubble agent ships for flows arriving at a local pod (as its node's Hubble reports them). */
function shipped(...clients: FlowEndpoint[]): string[] {
  const agent = new HubbleAgent({ node: 'node-a', controllerUrl: 'https://ctl:8443', token: async () => 't', logger: captureLogger().logger });
  for (const [i, client] of clients.entries()) {
    agent.aggregator.ingest({ kind: 'flow', flow: flow({ ...client, port: 40_000 + i }, server, { time: T0, trafficDirection: 'INGRESS', observationPoint: 'TO_ENDPOINT' }) });
  }
  agent.aggregator.drain();
  return (agent.aggregator.nextBatch()?.edges ?? []).map((e) => `${e.client} -> ${e.server}:${e.port}`);
}

describe('Hubble agent identity: a pod is its Cilium workload, else the bare pod', () => {
  it.each([
    {
      name: 'a bare pod named and labelled like a Deployment\'s pod stays a bare pod',
      client: endpoint('10.0.1.66', 0, { namespace: 'shop', podName: 'frontend-6d4cf56db6-zzzzz', labels: ['pod-template-hash=6d4cf56db6', 'app=rogue'] }),
      edge: 'wl:shop/Pod/frontend-6d4cf56db6-zzzzz -> wl:payments/StatefulSet/api:443',
    },
    {
      name: 'a bare pod named and labelled like a StatefulSet\'s pod stays a bare pod',
      client: endpoint('10.0.1.67', 0, { namespace: 'shop', podName: 'cart-0', labels: ['statefulset.kubernetes.io/pod-name=cart-0'] }),
      edge: 'wl:shop/Pod/cart-0 -> wl:payments/StatefulSet/api:443',
    },
    {
      name: 'a pod Cilium reports a workload for is that workload',
      client: endpoint('10.0.1.5', 0, { namespace: 'shop', podName: 'frontend-6d4cf56db6-abcde', labels: ['pod-template-hash=6d4cf56db6'], workload: { kind: 'Deployment', name: 'frontend' } }),
      edge: 'wl:shop/Deployment/frontend -> wl:payments/StatefulSet/api:443',
    },
  ])('$name', ({ client, edge }) => {
    expect(shipped(client)).toEqual([edge]);
  });

  it('never keeps labels (agents ship none) and resolves reserved identities and bare addresses as the domain does', () => {
    const identity = new HubbleIdentity();
    const labelled = identity.resolve(endpoint('10.0.1.5', 1, { namespace: 'shop', podName: 'web-1', labels: ['app=web'] }), 'client', T0);
    expect(labelled).toEqual({ ok: true, peer: { type: 'workload', namespace: 'shop', kind: 'Pod', name: 'web-1' }, key: 'wl:shop/Pod/web-1', port: 1, podName: 'web-1' });
    expect(identity.resolve(endpoint('192.0.2.1', 443, { reserved: 'world' }), 'server', T0)).toMatchObject({ ok: true, peer: { type: 'entity', entity: 'world', ip: '192.0.2.1' } });
    expect(identity.resolve(endpoint('10.0.9.9', 80), 'server', T0)).toMatchObject({ ok: false, reason: 'no-identity' });
  });

  it('follows what Cilium reports for a pod: a workload reported later replaces the bare pod', () => {
    const identity = new HubbleIdentity();
    const pod = endpoint('10.0.1.5', 1, { namespace: 'shop', podName: 'web-7d9f-abcde' });
    expect(identity.resolve(pod, 'client', T0)).toMatchObject({ key: 'wl:shop/Pod/web-7d9f-abcde' });
    expect(identity.resolve({ ...pod, workload: { kind: 'Deployment', name: 'web' } }, 'client', T0)).toMatchObject({ key: 'wl:shop/Deployment/web' });
    expect(identity.cachedPods).toBe(1);
  });

  it('caches at most its limit of pods over all namespaces, however many namespaces and pods flows name', () => {
    const identity = new HubbleIdentity(100);
    for (let i = 0; i < 10_000; i++) {
      const pod = endpoint('10.0.1.5', 1, { namespace: `ci-${i % 500}`, podName: `job-${i}` });
      expect(identity.resolve(pod, 'client', T0)).toMatchObject({ key: `wl:ci-${i % 500}/Pod/job-${i}` });
      expect(identity.cachedPods).toBeLessThanOrEqual(100);
    }
  });
});
