import { describe, expect, it } from 'vitest';
import { edgeRefusal, type NodeFacts } from './edge-binding.js';

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
