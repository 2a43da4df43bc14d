import { describe, expect, it } from 'vitest';
import { countsTowardsRollback, DenialTracker, describeDeniedEdge, knownClientsOf, rollbackPolicyNames, workloadsOfDenials, type DeniedDirection } from './denials.js';
import { key } from '../testing/builders.js';

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);
const edge = (server: string, port = 8080) => ({ client: key('wl:shop/Deployment/frontend'), server: key(server), port, protocol: 'TCP' as const });
const cart = edge('wl:shop/Deployment/cart');
const db = edge('wl:shop/StatefulSet/db', 5432);

describe('DenialTracker', () => {
  const cases: { name: string; maxDenied: number; denials: [typeof cart, number][]; at: number; crossed: boolean; inWindow: number }[] = [
    { name: 'at the budget is not past it', maxDenied: 3, denials: [[cart, T0], [cart, T0 + 1000], [db, T0 + 2000]], at: T0 + 3000, crossed: false, inWindow: 3 },
    { name: 'one more than the budget crosses it', maxDenied: 3, denials: [[cart, T0], [cart, T0 + 1000], [db, T0 + 2000], [db, T0 + 2500]], at: T0 + 3000, crossed: true, inWindow: 4 },
    { name: 'denials older than the window no longer count', maxDenied: 3, denials: [[cart, T0], [cart, T0 + 1000], [db, T0 + 2000], [db, T0 + 2500]], at: T0 + 62_000, crossed: false, inWindow: 2 },
    { name: 'maxDenied -1 never crosses', maxDenied: -1, denials: Array.from({ length: 50 }, (_, i) => [cart, T0 + i] as [typeof cart, number]), at: T0 + 100, crossed: false, inWindow: 50 },
    { name: 'maxDenied 0 rolls back on the first denial', maxDenied: 0, denials: [[cart, T0]], at: T0, crossed: true, inWindow: 1 },
  ];
  it.each(cases)('$name', ({ maxDenied, denials, at, crossed, inWindow }) => {
    const tracker = new DenialTracker({ maxDenied, windowMs: 60_000 });
    for (const [e, time] of denials) tracker.record(e, time);
    expect(tracker.inWindow(at)).toBe(inWindow);
    expect(tracker.crossed(at)).toBe(crossed);
  });

  it('counts per edge since tracking began, with first and last denial', () => {
    const tracker = new DenialTracker({ maxDenied: 20, windowMs: 60_000 });
    tracker.record(db, T0 + 5000, 2);
    tracker.record(cart, T0 + 1000);
    tracker.record(cart, T0);
    expect(tracker.edges()).toEqual([
      { ...cart, count: 2, firstDenied: T0, lastDenied: T0 + 1000 },
      { ...db, count: 2, firstDenied: T0 + 5000, lastDenied: T0 + 5000 },
    ]);
    expect(tracker.totalDenied).toBe(4);
    expect(tracker.recentEdges(T0 + 61_500)).toEqual([{ ...db, count: 2, firstDenied: T0 + 5000, lastDenied: T0 + 5000 }]);
  });

  it('seeded counts (stored before a restart) add to the edges but not to the window', () => {
    const tracker = new DenialTracker({ maxDenied: 1, windowMs: 60_000 });
    tracker.seed([{ ...cart, count: 5, firstDenied: T0 - 1000, lastDenied: T0 }]);
    tracker.record(cart, T0 + 10);
    expect(tracker.edges()).toEqual([{ ...cart, count: 6, firstDenied: T0 - 1000, lastDenied: T0 + 10 }]);
    expect(tracker.crossed(T0 + 10)).toBe(false);
  });

  it('keeps a bounded number of edges, dropping the least recently denied; every denial still counts', () => {
    const tracker = new DenialTracker({ maxDenied: -1, windowMs: 60_000 }, 3);
    tracker.record(cart, T0);
    tracker.record(db, T0 + 1);
    tracker.record(cart, T0 + 2); // cart denied again: now the most recent
    // A probe of 100 world addresses: each a new edge.
    for (let i = 0; i < 100; i++) tracker.record(edge(`en:world:203.0.113.${i}`, 443), T0 + 10 + i);
    tracker.record(cart, T0 + 200);
    expect(tracker.edges().map((e) => `${e.server} x${e.count}`)).toEqual(['en:world:203.0.113.98 x1', 'en:world:203.0.113.99 x1', 'wl:shop/Deployment/cart x1']);
    expect(tracker.evictedEdges).toBe(100);
    expect(tracker.totalDenied).toBe(104);
    expect(tracker.inWindow(T0 + 200)).toBe(104);
  });

  it('counts denials that arrive out of time order within the window, and only those', () => {
    const tracker = new DenialTracker({ maxDenied: 100, windowMs: 10_000 });
    tracker.record(cart, T0 + 9_000);
    expect(tracker.inWindow(T0 + 9_000)).toBe(1);
    tracker.record(db, T0 + 500, 2); // an agent's delta, older than what came before
    tracker.record(cart, T0 + 5_000);
    expect(tracker.inWindow(T0 + 10_000)).toBe(4);
    expect(tracker.inWindow(T0 + 11_000)).toBe(2); // the T0+500 bucket left the window
    expect(tracker.inWindow(T0 + 16_500)).toBe(1);
    tracker.record(db, T0 + 14_000);
    expect(tracker.inWindow(T0 + 19_500)).toBe(2);
    expect(tracker.inWindow(T0 + 20_500)).toBe(1);
    expect(tracker.inWindow(T0 + 30_000)).toBe(0);
  });

  it('ignores non-positive counts and invalid times', () => {
    const tracker = new DenialTracker({ maxDenied: 0, windowMs: 60_000 });
    tracker.record(cart, T0, 0);
    tracker.record(cart, Number.NaN);
    expect(tracker.edges()).toEqual([]);
    expect(tracker.crossed(T0)).toBe(false);
  });
});

describe('DenialTracker: which side denied', () => {
  it('keeps the direction while every denial of the edge says the same one; unknown or mixed means both sides', () => {
    const tracker = new DenialTracker({ maxDenied: 20, windowMs: 60_000 });
    tracker.record(cart, T0, 1, 'egress');
    tracker.record(cart, T0 + 1, 2, 'egress');
    tracker.record(db, T0, 1, 'ingress');
    tracker.record(db, T0 + 1, 1, 'egress');
    const other = edge('wl:shop/Deployment/search');
    tracker.record(other, T0, 1, 'ingress');
    tracker.record(other, T0 + 1); // an unanswered SYN: no direction
    expect(tracker.edges().map((e) => [e.server, e.count, e.direction])).toEqual([
      ['wl:shop/Deployment/cart', 3, 'egress'],
      ['wl:shop/Deployment/search', 2, undefined],
      ['wl:shop/StatefulSet/db', 2, undefined],
    ]);
  });

  it('a count restored from status without a direction stays both-sided', () => {
    const tracker = new DenialTracker({ maxDenied: 20, windowMs: 60_000 });
    tracker.seed([{ ...cart, count: 5, firstDenied: T0 - 1000, lastDenied: T0 }]);
    tracker.record(cart, T0 + 10, 1, 'ingress');
    expect(tracker.edges()[0]!.direction).toBeUndefined();
  });
});

describe('countsTowardsRollback: only the namespace\'s own traffic counts towards its budget', () => {
  const postgres = 'wl:payments/StatefulSet/postgres';
  // The enforced proposal allows shop's api to reach postgres (on 5432).
  const known = knownClientsOf([{ edges: [{ client: 'wl:shop/Deployment/api', server: postgres }, { client: 'wl:payments/Deployment/web', server: 'en:world:198.51.100.7' }] }]);
  const cases: { name: string; client: string; server: string; direction?: DeniedDirection; counts: boolean }[] = [
    { name: 'ingress from another namespace\'s workload that is no known peer', client: 'wl:evil/Deployment/x', server: postgres, direction: 'ingress', counts: false },
    { name: 'ingress from a world address (a LoadBalancer client)', client: 'en:world:203.0.113.9', server: postgres, direction: 'ingress', counts: false },
    { name: 'ingress from a known peer (allowed on another port)', client: 'wl:shop/Deployment/api', server: postgres, direction: 'ingress', counts: true },
    { name: 'ingress from a workload of the same namespace', client: 'wl:payments/Deployment/web', server: postgres, direction: 'ingress', counts: true },
    { name: 'a peer known to another server only is not known to this one', client: 'wl:shop/Deployment/api', server: 'wl:payments/Deployment/ledger', direction: 'ingress', counts: false },
    { name: 'egress of the namespace\'s own workload, anywhere', client: 'wl:payments/Deployment/web', server: 'en:world:203.0.113.9', direction: 'egress', counts: true },
    { name: 'an unanswered SYN of a foreign client does not count against the server\'s namespace', client: 'wl:evil/Deployment/x', server: postgres, counts: false },
    { name: 'an unanswered SYN of the namespace\'s own client counts', client: 'wl:payments/Deployment/web', server: 'wl:shop/Deployment/api', counts: true },
    { name: 'an unanswered SYN from a known peer counts against the server\'s namespace', client: 'wl:shop/Deployment/api', server: postgres, counts: true },
    { name: 'neither side is the namespace\'s', client: 'wl:evil/Deployment/x', server: 'wl:shop/Deployment/api', counts: false },
    { name: 'egress said, but the client is not the namespace\'s', client: 'wl:evil/Deployment/x', server: postgres, direction: 'egress', counts: false },
    { name: 'ingress said, but the server is not the namespace\'s (its own client)', client: 'wl:payments/Deployment/web', server: 'wl:shop/Deployment/api', direction: 'ingress', counts: false },
  ];
  it.each(cases)('$name: $counts', ({ client, server, direction, counts }) => {
    expect(countsTowardsRollback({ client, server, ...(direction ? { direction } : {}) }, 'payments', known)).toBe(counts);
  });

  it('knownClientsOf: every client its evidence shows per server, whatever the rule', () => {
    expect(knownClientsOf([
      { edges: [{ client: 'wl:a/Deployment/x', server: 'wl:b/Deployment/y' }, { client: 'wl:c/Deployment/z', server: 'wl:b/Deployment/y' }] },
      { edges: [{ client: 'wl:a/Deployment/x', server: 'wl:b/Deployment/y' }] },
    ])).toEqual(new Map([['wl:b/Deployment/y', new Set(['wl:a/Deployment/x', 'wl:c/Deployment/z'])]]));
  });
});

describe('DenialTracker: denials that do not count towards the budget', () => {
  const foreign = { client: key('wl:evil/Deployment/x'), server: key('wl:shop/StatefulSet/db'), port: 5433, protocol: 'TCP' as const };

  it('are recorded (edges, total) but neither fill the window nor are edges a rollback acts on', () => {
    const tracker = new DenialTracker({ maxDenied: 20, windowMs: 60_000 });
    for (let i = 0; i < 21; i++) tracker.record(foreign, T0 + i, 1, 'ingress', false);
    expect(tracker.edges()).toEqual([{ ...foreign, count: 21, firstDenied: T0, lastDenied: T0 + 20, direction: 'ingress' }]);
    expect(tracker.totalDenied).toBe(21);
    expect(tracker.inWindow(T0 + 20)).toBe(0);
    expect(tracker.crossed(T0 + 20)).toBe(false);
    expect(tracker.recentEdges(T0 + 20)).toEqual([]);
    // The namespace's own denials cross the budget: the rollback acts on them only, never on the foreign edge.
    for (let i = 0; i < 21; i++) tracker.record(cart, T0 + 100 + i, 1, 'egress');
    expect(tracker.crossed(T0 + 200)).toBe(true);
    expect(tracker.inWindow(T0 + 200)).toBe(21);
    expect(tracker.recentEdges(T0 + 200).map((e) => e.server)).toEqual([cart.server]);
  });

  it('a flood of foreign edges evicts foreign edges first: the namespace\'s own recent edges stay', () => {
    const tracker = new DenialTracker({ maxDenied: -1, windowMs: 60_000 }, 3);
    tracker.record(cart, T0);
    tracker.record(db, T0 + 1);
    for (let i = 0; i < 100; i++) tracker.record({ ...foreign, port: 10_000 + i }, T0 + 10 + i, 1, 'ingress', false);
    const kept = () => tracker.edges().map((e) => `${e.server}:${e.port}`).sort();
    expect(kept()).toEqual(['wl:shop/Deployment/cart:8080', 'wl:shop/StatefulSet/db:10099', 'wl:shop/StatefulSet/db:5432']);
    expect(tracker.recentEdges(T0 + 200).map((e) => e.port)).toEqual([8080, 5432]);
    expect(tracker.evictedEdges).toBe(99);
    // Only counted edges left: the least recently denied goes, as before.
    tracker.record({ ...foreign, port: 10_099 }, T0 + 300); // the foreign edge now counted (say a known peer's)
    tracker.record(edge('wl:shop/Deployment/search'), T0 + 301);
    expect(kept()).toEqual(['wl:shop/Deployment/search:8080', 'wl:shop/StatefulSet/db:10099', 'wl:shop/StatefulSet/db:5432']);
  });

  it('seeded edges (restored from status) are judged by the caller: one that does not count is never recent', () => {
    const tracker = new DenialTracker({ maxDenied: 1, windowMs: 60_000 });
    tracker.seed([{ ...cart, count: 5, firstDenied: T0 - 1000, lastDenied: T0 }, { ...foreign, count: 30, firstDenied: T0 - 1000, lastDenied: T0 }], (e) => e.client !== foreign.client);
    expect(tracker.edges().map((e) => e.count)).toEqual([30, 5]);
    expect(tracker.recentEdges(T0 + 10).map((e) => e.client)).toEqual([cart.client]);
  });
});

describe('workloadsOfDenials', () => {
  it('an ingress denial names only the server (its ingress rules refused it), an egress denial only the client', () => {
    expect(workloadsOfDenials([{ ...cart, direction: 'ingress' }], 'shop')).toEqual(['wl:shop/Deployment/cart']);
    expect(workloadsOfDenials([{ ...cart, direction: 'egress' }], 'shop')).toEqual(['wl:shop/Deployment/frontend']);
    expect(workloadsOfDenials([{ ...cart, direction: 'egress' }, { ...db, direction: 'ingress' }], 'shop')).toEqual(['wl:shop/Deployment/frontend', 'wl:shop/StatefulSet/db']);
    // The denying side in another namespace: nothing of this namespace is rolled back for it.
    expect(workloadsOfDenials([{ client: 'wl:other/Deployment/x', server: 'wl:shop/Deployment/cart', port: 80, protocol: 'TCP', direction: 'egress' }], 'shop')).toEqual([]);
  });

  it('names both sides that are workloads of the namespace, once each', () => {
    expect(workloadsOfDenials([cart, db, { client: 'wl:other/Deployment/x', server: 'wl:shop/Deployment/cart', port: 80, protocol: 'TCP' }, { client: 'wl:shop/Deployment/cart', server: 'en:world:203.0.113.5', port: 443, protocol: 'TCP' }], 'shop'))
      .toEqual(['wl:shop/Deployment/cart', 'wl:shop/Deployment/frontend', 'wl:shop/StatefulSet/db']);
  });
  it('a namespace with a similar prefix is not the namespace', () => {
    expect(workloadsOfDenials([{ client: 'wl:shop2/Deployment/a', server: 'en:host', port: 1, protocol: 'TCP' }], 'shop')).toEqual([]);
  });
});

describe('rollbackPolicyNames', () => {
  const policy = (name: string, workload?: string) => ({ metadata: { name, ...(workload ? { annotations: { 'hivewall.dev/workload': workload } } : {}) } });
  const objects = [policy('hivewall-default-deny'), policy('hivewall-cart', 'Deployment/cart'), policy('hivewall-db', 'StatefulSet/db'), policy('hivewall-frontend', 'Deployment/frontend')];
  it('removes the workloads\' own policies and the default deny, keeps the others', () => {
    expect(rollbackPolicyNames(objects, 'shop', ['wl:shop/Deployment/cart'])).toEqual(['hivewall-cart', 'hivewall-default-deny']);
  });
  it('nothing to roll back removes nothing', () => {
    expect(rollbackPolicyNames(objects, 'shop', [])).toEqual([]);
  });
  it('a workload of another namespace with the same name is not matched', () => {
    expect(rollbackPolicyNames(objects, 'shop', ['wl:other/Deployment/cart'])).toEqual(['hivewall-default-deny']);
  });
});

describe('describeDeniedEdge', () => {
  it('names peers without their key prefixes', () => {
    expect(describeDeniedEdge({ ...cart, count: 3 })).toBe('shop/Deployment/frontend -> shop/Deployment/cart 8080/TCP (3x)');
  });
});
