// NodePlacements on inventories as the operator rebuilds them: a pod the agent already sees but
// the inventory does not show yet is retried (unknown-placement) until the inventory has had time
// to catch up; then it is accepted (it showed up) or refused for good (it never did).
import { describe, expect, it } from 'vitest';
import { IdentityResolver } from '../domain/identity.js';
import type { ClusterInventory, PodInfo } from '../domain/inventory.js';
import { deploymentPod, inventory } from '../testing/builders.js';
import type { PeerKey } from '../domain/peer.js';
import { NodePlacements } from './node-binding.js';

const T = Date.UTC(2026, 0, 1, 12);
const nodes = [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: [] }, { name: 'node-b', ips: ['172.18.0.3'], podCIDRs: [] }];
const web = deploymentPod('shop', 'web', '10.244.0.2', {}, { nodeName: 'node-a', createdAt: T - 3_600_000 });
const checkout = deploymentPod('shop', 'checkout', '10.244.0.3', {}, { nodeName: 'node-a', createdAt: T - 5_000 });
const bare = (namespace: string, name: string, node: string): PodInfo => ({ namespace, name, labels: {}, ips: ['10.244.1.9'], nodeName: node, hostNetwork: false, owners: [], ports: [], createdAt: T - 3_600_000 });
const attacker = bare('evil', 'attacker', 'node-b');
const postgres = bare('payments', 'postgres', 'node-b');

/** What the cluster cache does when these namespaces and the Nodes changed. */
function follow(p: NodePlacements, inv: ClusterInventory, now: number, namespaces = new Set(inv.pods.map((pod) => pod.namespace))): void {
  const identity = new IdentityResolver(inv);
  p.updateNodes(inv.nodes);
  for (const namespace of namespaces) p.updateNamespace(namespace, identity.podsWithWorkloadsIn(namespace), now);
}

function placements(clock: { now: number }, inv: ClusterInventory) {
  const p = new NodePlacements({ now: () => clock.now });
  follow(p, inv, clock.now);
  return p;
}
const edge = (client: string, server: string, at: number) => ({ client, server, firstSeen: at, lastSeen: at });

describe('NodePlacements: a pod newer than the inventory', () => {
  it('is retried until the inventory shows it, then accepted', () => {
    const clock = { now: T };
    const before = inventory({ nodes, pods: [web, attacker, postgres] });
    const p = placements(clock, before);
    const e = edge('wl:shop/Deployment/checkout', 'wl:payments/Pod/postgres', T - 1_000);
    expect(p.refusal('node-a', e)).toBe('unknown-placement');
    clock.now += 3_000;
    const after = inventory({ nodes, pods: [web, checkout, attacker, postgres] });
    follow(p, after, clock.now, new Set(['shop']));
    expect(p.refusal('node-a', e)).toBeUndefined();
  });

  it('is refused for good once the inventory had catchUpMs to show it and did not', () => {
    const clock = { now: T };
    const p = placements(clock, inventory({ nodes, pods: [web, attacker, postgres] }));
    const e = edge('wl:shop/Deployment/checkout', 'wl:payments/Pod/postgres', T - 1_000);
    expect(p.refusal('node-a', e)).toBe('unknown-placement');
    clock.now += 121_000;
    expect(p.refusal('node-a', e)).toBe('not-on-node');
  });

  it('an edge between bare pods the inventory has on another node is refused at once', () => {
    const clock = { now: T };
    const p = placements(clock, inventory({ nodes, pods: [web, attacker, postgres] }));
    expect(p.refusal('node-a', edge('wl:evil/Pod/attacker', 'wl:payments/Pod/postgres', T))).toBe('not-on-node');
  });

  it('a node the inventory does not know yet: its own traffic is retried, provably foreign edges are refused', () => {
    const clock = { now: T };
    const p = placements(clock, inventory({ nodes, pods: [web, attacker, postgres] }));
    expect(p.refusal('node-new', edge('en:host', 'wl:payments/Pod/postgres', T))).toBe('unknown-placement');
    expect(p.refusal('node-new', edge('wl:evil/Pod/attacker', 'wl:payments/Pod/postgres', T))).toBe('unknown-node');
  });
});

describe('NodePlacements: updated namespace by namespace', () => {
  it('a pod deleted from its namespace stays on its node for retentionMs, then its edges are refused', () => {
    const clock = { now: T };
    const p = new NodePlacements({ now: () => clock.now, retentionMs: 60_000, catchUpMs: 0 });
    follow(p, inventory({ nodes, pods: [web, attacker, postgres] }), clock.now);
    const seenBefore = edge('wl:shop/Deployment/web', 'wl:payments/Pod/postgres', T - 1_000);
    clock.now += 10_000;
    p.updateNamespace('shop', [], clock.now); // the namespace's pods are gone
    expect(p.refusal('node-a', seenBefore)).toBeUndefined();
    clock.now += 61_000;
    p.updateNamespace('evil', new IdentityResolver(inventory({ pods: [attacker] })).podsWithWorkloadsIn('evil'), clock.now);
    expect(p.refusal('node-a', seenBefore)).toBe('not-on-node');
  });

  it('updating one namespace leaves the placements of the others as they were', () => {
    const clock = { now: T };
    const p = placements(clock, inventory({ nodes, pods: [web, attacker, postgres] }));
    p.updateNamespace('evil', [], clock.now);
    expect(p.refusal('node-b', edge('wl:payments/Pod/postgres', 'en:world:203.0.113.5', T))).toBeUndefined();
    expect(p.refusal('node-a', edge('wl:shop/Deployment/web', 'en:world:203.0.113.5', T))).toBeUndefined();
    expect(p.refusal('node-b', edge('wl:evil/Pod/attacker', 'en:world:203.0.113.5', T + 200_000))).toBe('not-on-node');
  });

  it('a Node\'s addresses follow updateNodes', () => {
    const clock = { now: T };
    const p = placements(clock, inventory({ nodes, pods: [web] }));
    expect(p.refusal('node-a', edge('en:remote-node:172.18.0.2', 'wl:shop/Deployment/web', T))).toBeUndefined();
    p.updateNodes([{ name: 'node-a', ips: ['172.18.0.9'], podCIDRs: [] }]);
    expect(p.refusal('node-a', edge('en:remote-node:172.18.0.9', 'en:world:203.0.113.5', T))).toBeUndefined();
    expect(p.refusal('node-a', edge('en:remote-node:172.18.0.2', 'en:world:203.0.113.5', T))).toBe('not-on-node');
  });
});

describe('NodePlacements.workloadOf: a bare-pod key a Hubble agent sends for a pod on another node', () => {
  const frontend = deploymentPod('shop', 'frontend', '10.244.1.4', {}, { name: 'frontend-6d4cf56db6-zzzzz', nodeName: 'node-b', createdAt: T - 3_600_000 });
  // Named and labelled like a Deployment's pod, but no controller owns it.
  const crafted: PodInfo = { ...bare('shop', 'cart-6d4cf56db6-xxxxx', 'node-b'), labels: { 'pod-template-hash': '6d4cf56db6' } };
  const bareKey = (pod: PodInfo) => `wl:${pod.namespace}/Pod/${pod.name}` as PeerKey;

  it('is the pod\'s top owner when a controller owns it, else the bare pod; other keys as they are', () => {
    const clock = { now: T };
    const p = placements(clock, inventory({ nodes, pods: [web, frontend, crafted, postgres] }));
    const at = edge('x', 'y', T - 1_000);
    expect(p.workloadOf(bareKey(frontend), at)).toBe('wl:shop/Deployment/frontend');
    expect(p.workloadOf(bareKey(postgres), at)).toBe('wl:payments/Pod/postgres');
    expect(p.workloadOf(bareKey(crafted), at)).toBe(bareKey(crafted));
    expect(p.workloadOf('wl:shop/Deployment/web' as PeerKey, at)).toBe('wl:shop/Deployment/web');
    expect(p.workloadOf('en:world:203.0.113.5' as PeerKey, at)).toBe('en:world:203.0.113.5');
  });

  it('a pod the inventory does not show is retried until it had catchUpMs to show it, then taken as sent', () => {
    const clock = { now: T };
    const p = placements(clock, inventory({ nodes, pods: [web] }));
    const e = edge('x', 'y', T - 1_000);
    expect(p.workloadOf(bareKey(frontend), e)).toBe('unknown-placement');
    clock.now += 121_000;
    expect(p.workloadOf(bareKey(frontend), e)).toBe(bareKey(frontend));
  });

  it('a deleted pod is resolved for retentionMs, like its placement', () => {
    const clock = { now: T };
    const p = new NodePlacements({ now: () => clock.now, retentionMs: 60_000, catchUpMs: 0 });
    follow(p, inventory({ nodes, pods: [web, frontend] }), clock.now);
    const seenBefore = edge('x', 'y', T - 1_000);
    clock.now += 10_000;
    p.updateNamespace('shop', [], clock.now);
    expect(p.workloadOf(bareKey(frontend), seenBefore)).toBe('wl:shop/Deployment/frontend');
    clock.now += 61_000;
    p.updateNamespace('evil', new IdentityResolver(inventory({ pods: [attacker] })).podsWithWorkloadsIn('evil'), clock.now);
    expect(p.workloadOf(bareKey(frontend), seenBefore)).toBe(bareKey(frontend));
  });
});
