import { describe, expect, it } from 'vitest';
import { edgeRefusal, podOwner, RETRYABLE_REFUSALS, type InventoryFreshness, type NodeFacts, type PodStay } from './edge-binding.js';

const T = 1_767_225_600_000;
const node: NodeFacts = {
  ips: new Set(['10.0.0.1']),
  workloads: new Map([
    ['wl:shop/Deployment/web', [{ from: T - 3_600_000 }]],
    ['wl:shop/Job/migrate', [{ from: T - 7_200_000, until: T - 3_600_000 }]],
  ]),
};
const edge = (client: string, server: string, firstSeen = T, lastSeen = T) => ({ client, server, firstSeen, lastSeen });

describe('edgeRefusal: an agent reports only its own node\'s pods and the node itself', () => {
  it.each<[string, ReturnType<typeof edge>, string | undefined]>([
    ['client is a pod on the node', edge('wl:shop/Deployment/web', 'wl:payments/StatefulSet/postgres'), undefined],
    ['server is a pod on the node', edge('en:world:203.0.113.5', 'wl:shop/Deployment/web'), undefined],
    ['the node itself (host)', edge('en:host', 'wl:payments/StatefulSet/postgres'), undefined],
    ['the node\'s own address as remote-node', edge('en:remote-node:10.0.0.1', 'wl:payments/StatefulSet/postgres'), undefined],
    ['neither side on the node (evil → payments)', edge('wl:evil/Pod/attacker', 'wl:payments/StatefulSet/postgres'), 'not-on-node'],
    ['another node\'s address', edge('en:remote-node:10.0.0.2', 'wl:payments/StatefulSet/postgres'), 'not-on-node'],
    ['a workload that left the node before the edge', edge('wl:shop/Job/migrate', 'wl:payments/StatefulSet/postgres', T - 600_000, T), 'not-on-node'],
    ['a workload while it was on the node', edge('wl:shop/Job/migrate', 'wl:payments/StatefulSet/postgres', T - 5_000_000, T - 4_000_000), undefined],
    ['a workload before it came to the node', edge('wl:shop/Deployment/web', 'wl:payments/StatefulSet/postgres', T - 9_000_000, T - 8_000_000), 'not-on-node'],
    ['within the slack of a pod\'s start', edge('wl:shop/Deployment/web', 'wl:payments/StatefulSet/postgres', T - 3_660_000, T - 3_660_000), undefined],
    ['not a peer key', edge('garbage', 'wl:payments/StatefulSet/postgres'), 'not-on-node'],
  ])('%s', (_name, e, want) => {
    expect(edgeRefusal(node, e, 120_000)).toBe(want);
  });

  it('refuses everything from a node the operator does not know', () => {
    expect(edgeRefusal(undefined, edge('en:host', 'wl:shop/Deployment/web'), 0)).toBe('unknown-node');
  });
});

describe('edgeRefusal with the inventory\'s freshness: "not seen yet" is retried, "elsewhere" is refused for good', () => {
  const CATCH_UP = 120_000;
  // evil/Pod/attacker and payments/Pod/postgres are bare pods the inventory has on another node.
  const fresh: InventoryFreshness = { now: T, catchUpMs: CATCH_UP, podKnown: (key) => key === 'wl:evil/Pod/attacker' || key === 'wl:payments/Pod/postgres' };

  it.each<[string, ReturnType<typeof edge>, NodeFacts | undefined, string | undefined]>([
    ['a new Deployment pod the inventory does not show yet, talking to the world', edge('wl:shop/Deployment/checkout', 'en:world:203.0.113.5'), node, 'unknown-placement'],
    ['a new Job pod to a bare pod elsewhere', edge('wl:shop/Job/report', 'wl:payments/Pod/postgres'), node, 'unknown-placement'],
    ['a bare pod the inventory does not know at all (just created)', edge('wl:shop/Pod/debug', 'wl:payments/Pod/postgres'), node, 'unknown-placement'],
    ['a brand-new node (not in the inventory yet), its own host traffic', edge('en:host', 'wl:payments/Pod/postgres'), undefined, 'unknown-placement'],
    ['both sides bare pods known on another node: provably elsewhere', edge('wl:evil/Pod/attacker', 'wl:payments/Pod/postgres'), node, 'not-on-node'],
    ['a bare pod known elsewhere and the world: provably elsewhere', edge('wl:evil/Pod/attacker', 'en:world:203.0.113.5'), node, 'not-on-node'],
    ['another node\'s address and a bare pod known elsewhere', edge('en:remote-node:10.0.0.2', 'wl:payments/Pod/postgres'), node, 'not-on-node'],
    ['the inventory had catchUpMs to show the pod: refused for good', edge('wl:shop/Deployment/checkout', 'en:world:203.0.113.5', T - CATCH_UP - 1_000, T - CATCH_UP - 1), node, 'not-on-node'],
    ['a time beyond the slack in the future (a lie or a broken clock): refused for good', edge('wl:shop/Deployment/checkout', 'en:world:203.0.113.5', T + 600_000, T + 600_000), node, 'not-on-node'],
    ['an unknown node, provably elsewhere', edge('wl:evil/Pod/attacker', 'wl:payments/Pod/postgres'), undefined, 'unknown-node'],
    ['a pod that is on the node is accepted as before', edge('wl:shop/Deployment/web', 'wl:payments/Pod/postgres'), node, undefined],
  ])('%s', (_name, e, facts, want) => {
    expect(edgeRefusal(facts, e, 120_000, fresh)).toBe(want);
  });

  it('only unknown-placement is retryable', () => {
    expect([...RETRYABLE_REFUSALS]).toEqual(['unknown-placement']);
  });
});

describe('edgeRefusal: a denial with a direction is bound to the side whose policy denied it', () => {
  const remote = 'wl:data/StatefulSet/db';
  it.each<[string, 'client' | 'server', string, string, string | undefined]>([
    ['EGRESS: the client is on the node', 'client', 'wl:shop/Deployment/web', remote, undefined],
    ['EGRESS: only the server is on the node', 'client', remote, 'wl:shop/Deployment/web', 'not-on-node'],
    ['INGRESS: the server is on the node', 'server', remote, 'wl:shop/Deployment/web', undefined],
    ['INGRESS: only the client is on the node', 'server', 'wl:shop/Deployment/web', remote, 'not-on-node'],
  ])('%s', (_name, on, client, server, want) => {
    expect(edgeRefusal(node, { ...edge(client, server), on }, 120_000)).toBe(want);
  });
});

describe('podOwner: a bare-pod key is the workload the inventory has for that pod at the edge\'s time', () => {
  const key = 'wl:shop/Pod/frontend-6d4cf56db6-zzzzz';
  const stay = (workload: string, from: number, until?: number): PodStay => ({ workload, placement: { from, ...(until !== undefined ? { until } : {}) } });
  const fresh: InventoryFreshness = { now: T, catchUpMs: 120_000, podKnown: () => false };
  it.each<[string, readonly PodStay[], ReturnType<typeof edge>, string]>([
    ['a Deployment\'s pod', [stay('wl:shop/Deployment/frontend', T - 3_600_000)], edge(key, 'wl:shop/Deployment/cart'), 'wl:shop/Deployment/frontend'],
    ['a bare pod (no controller) stays the pod', [stay(key, T - 3_600_000)], edge(key, 'wl:shop/Deployment/cart'), key],
    ['a deleted pod, at a time it ran', [stay('wl:shop/Deployment/frontend', T - 3_600_000, T - 60_000)], edge(key, 'wl:shop/Deployment/cart', T - 600_000, T - 600_000), 'wl:shop/Deployment/frontend'],
    ['the name reused by pods of two owners at that time: the pod', [stay('wl:shop/Deployment/frontend', T - 3_600_000, T - 10_000), stay(key, T - 5_000)], edge(key, 'wl:shop/Deployment/cart', T - 20_000, T), key],
    ['the name reused later: the owner of the pod that ran then', [stay('wl:shop/Deployment/frontend', T - 3_600_000, T - 1_800_000), stay(key, T - 5_000)], edge(key, 'wl:shop/Deployment/cart', T - 2_000_000, T - 2_000_000), 'wl:shop/Deployment/frontend'],
    ['no such pod, recent: retried', [], edge(key, 'wl:shop/Deployment/cart'), 'unknown-placement'],
    ['no such pod, old enough for the inventory to show it: the key as sent', [], edge(key, 'wl:shop/Deployment/cart', T - 600_000, T - 600_000), key],
  ])('%s', (_name, stays, e, want) => {
    expect(podOwner(key, stays, e, 120_000, fresh)).toBe(want);
  });
});
