// NodePlacements on inventories as the operator rebuilds them: a pod the agent already sees but
// the inventory does not show yet is retried (unknown-placement) until the inventory has had time
// to catch up; then it is accepted (it showed up) or refused for good (it never did).
import { describe, expect, it } from 'vitest';
import { IdentityResolver } from '../domain/identity.js';
import type { ClusterInventory, PodInfo } from '../domain/inventory.js';
import { deploymentPod, inventory } from '../testing/builders.js';
import { NodePlacements } from './node-binding.js';

const T = Date.UTC(2026, 0, 1, 12);
const nodes = [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: [] }, { name: 'node-b', ips: ['172.18.0.3'], podCIDRs: [] }];
const web = deploymentPod('shop', 'web', '10.244.0.2', {}, { nodeName: 'node-a', createdAt: T - 3_600_000 });
const checkout = deploymentPod('shop', 'checkout', '10.244.0.3', {}, { nodeName: 'node-a', createdAt: T - 5_000 });
const bare = (namespace: string, name: string, node: string): PodInfo => ({ namespace, name, labels: {}, ips: ['10.244.1.9'], nodeName: node, hostNetwork: false, owners: [], ports: [], createdAt: T - 3_600_000 });
const attacker = bare('evil', 'attacker', 'node-b');
const postgres = bare('payments', 'postgres', 'node-b');

function placements(clock: { now: number }, inv: ClusterInventory) {
  const p = new NodePlacements({ now: () => clock.now });
  p.update(inv, new IdentityResolver(inv), clock.now);
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
    p.update(after, new IdentityResolver(after), clock.now);
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
