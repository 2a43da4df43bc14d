import { describe, expect, it } from 'vitest';
import type { Denial } from '../domain/learner.js';
import { knownClientsOf } from '../domain/denials.js';
import { DenialRegistry, type EnforcedNamespace } from './denial-registry.js';
import { key } from '../testing/builders.js';

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);
const denial = (over: Partial<Denial> = {}): Denial => ({ client: key('wl:shop/Deployment/frontend'), server: key('wl:shop/Deployment/cart'), port: 8080, protocol: 'TCP', reason: 'POLICY_DENIED', time: T0, ...over });

function setup() {
  let now = T0;
  const crossed: string[] = [];
  const counted: [string, number][] = [];
  const registry = new DenialRegistry({ now: () => now, onCrossed: (ns) => crossed.push(ns), onDenied: (ns, n) => counted.push([ns, n]) });
  const enforce = (namespace: string, maxDenied = 1, policies = ['hivewall-default-deny', 'hivewall-cart', 'hivewall-frontend']) =>
    registry.enforce(namespace, { segmentation: namespace, proposal: `${namespace}-r1`, budget: { maxDenied, windowMs: 60_000 }, policies });
  return { registry, crossed, counted, enforce, tick: (ms: number) => (now += ms) };
}

describe('DenialRegistry', () => {
  const cases: { name: string; enforced: string[]; denial: Denial; counts: [string, number][] }[] = [
    { name: 'INGRESS: the server\'s namespace', enforced: ['shop', 'other'], denial: denial({ client: key('wl:other/Deployment/a'), direction: 'INGRESS' }), counts: [['shop', 1]] },
    { name: 'EGRESS: the client\'s namespace', enforced: ['shop', 'other'], denial: denial({ client: key('wl:other/Deployment/a'), direction: 'EGRESS' }), counts: [['other', 1]] },
    { name: 'no direction (an unanswered SYN): both sides, each once', enforced: ['shop', 'other'], denial: denial({ client: key('wl:other/Deployment/a'), reason: 'UNREPLIED' }), counts: [['other', 1], ['shop', 1]] },
    { name: 'both sides in one namespace count once', enforced: ['shop'], denial: denial(), counts: [['shop', 1]] },
    { name: 'a namespace that enforces nothing is not counted', enforced: ['other'], denial: denial(), counts: [] },
    { name: 'drops for other reasons are not a policy\'s', enforced: ['shop'], denial: denial({ reason: 'CT_MAP_INSERTION_FAILED' }), counts: [] },
    { name: 'Cilium named a hivewall policy of the namespace', enforced: ['shop'], denial: denial({ deniedBy: ['shop/hivewall-cart'] }), counts: [['shop', 1]] },
    { name: 'Cilium named someone else\'s policy: not ours', enforced: ['shop'], denial: denial({ deniedBy: ['shop/team-deny-all', 'other/hivewall-cart'] }), counts: [] },
    { name: 'an entity side has no namespace', enforced: ['shop'], denial: denial({ client: key('en:world:203.0.113.5'), server: key('en:host'), direction: 'INGRESS' }), counts: [] },
  ];
  it.each(cases)('$name', ({ enforced, denial: d, counts }) => {
    const { registry, counted, enforce } = setup();
    for (const ns of enforced) enforce(ns);
    registry.observe(d);
    expect(counted.sort()).toEqual(counts);
  });

  it('keeps whose policy denied the edge (Hubble\'s direction) for the rollback; an unanswered SYN says nothing', () => {
    const { registry, enforce } = setup();
    enforce('shop', 10);
    registry.observe(denial({ direction: 'EGRESS' }));
    registry.observe(denial({ server: key('wl:shop/Deployment/search'), direction: 'INGRESS' }));
    registry.observe(denial({ server: key('wl:shop/StatefulSet/db'), reason: 'UNREPLIED' }));
    expect(registry.view('shop', 'shop-r1')!.recent.map((e) => [e.server, e.direction])).toEqual([
      ['wl:shop/Deployment/cart', 'egress'],
      ['wl:shop/Deployment/search', 'ingress'],
      ['wl:shop/StatefulSet/db', undefined],
    ]);
  });

  it('calls onCrossed once per crossing, again after the window cleared', () => {
    const { registry, crossed, enforce, tick } = setup();
    enforce('shop', 1);
    registry.observe(denial());
    expect(crossed).toEqual([]);
    registry.observe(denial());
    registry.observe(denial());
    expect(crossed).toEqual(['shop']);
    tick(120_000);
    registry.observe(denial());
    registry.observe(denial());
    expect(crossed).toEqual(['shop', 'shop']);
  });

  it('views the counts of the enforced proposal only; a new proposal starts afresh, release stops counting', () => {
    const { registry, enforce } = setup();
    enforce('shop');
    registry.observe(denial(), 3);
    expect(registry.view('shop', 'shop-r1')).toMatchObject({ crossed: true, inWindow: 3, edges: [{ count: 3 }] });
    expect(registry.view('shop', 'shop-r2')).toBeUndefined();
    registry.enforce('shop', { segmentation: 'shop', proposal: 'shop-r2', budget: { maxDenied: 1, windowMs: 60_000 }, policies: [] });
    expect(registry.view('shop', 'shop-r2')).toMatchObject({ crossed: false, edges: [] });
    registry.release('shop', 'another-name'); // not the Segmentation it counts for: kept
    expect(registry.view('shop', 'shop-r2')).toBeDefined();
    registry.release('shop');
    registry.observe(denial());
    expect(registry.view('shop', 'shop-r2')).toBeUndefined();
  });

  it('restores counts stored in status after a restart (not towards the window)', () => {
    const { registry } = setup();
    registry.enforce('shop', { segmentation: 'shop', proposal: 'shop-r1', budget: { maxDenied: 1, windowMs: 60_000 }, policies: [], stored: [{ client: key('wl:shop/Deployment/frontend'), server: key('wl:shop/Deployment/cart'), port: 8080, protocol: 'TCP', count: 7, firstDenied: T0 - 5000, lastDenied: T0 - 1000 }] });
    expect(registry.view('shop', 'shop-r1')).toMatchObject({ crossed: false, since: T0 - 5000, edges: [{ count: 7 }] });
  });
});

describe('DenialRegistry: another tenant cannot roll a namespace back', () => {
  const postgres = key('wl:payments/StatefulSet/postgres');
  const api = key('wl:shop/Deployment/api');
  const evil = key('wl:evil/Deployment/x');
  const web = key('wl:payments/Deployment/web');
  // Hubble: POLICY_DENIED on INGRESS, hivewall's default deny named as the denying policy.
  const drop = (over: Partial<Denial>): Denial => ({ client: evil, server: postgres, port: 5433, protocol: 'TCP', reason: 'POLICY_DENIED', time: T0, direction: 'INGRESS', deniedBy: ['payments/hivewall-default-deny'], ...over });
  // payments' own web denied on EGRESS (Cilium named no policy).
  const ownEgress: Denial = { client: web, server: key('en:world:198.51.100.7'), port: 443, protocol: 'TCP', reason: 'POLICY_DENIED', time: T0, direction: 'EGRESS' };

  /** payments enforces payments-r1 (default budget: 20 within 5m), whose evidence lets shop's api reach postgres on 5432. */
  function payments(stored?: EnforcedNamespace['stored']) {
    const crossed: string[] = [];
    const recorded: [string, number][] = [];
    const registry = new DenialRegistry({ now: () => T0 + 30_000, onCrossed: (ns) => crossed.push(ns), onDenied: (ns, n) => recorded.push([ns, n]) });
    registry.enforce('payments', {
      segmentation: 'payments', proposal: 'payments-r1', budget: { maxDenied: 20, windowMs: 300_000 },
      policies: ['hivewall-default-deny', 'hivewall-postgres', 'hivewall-web'],
      knownClients: knownClientsOf([{ edges: [{ client: api, server: postgres }] }]),
      ...(stored ? { stored } : {}),
    });
    const view = () => registry.view('payments', 'payments-r1')!;
    const sum = (ns: string) => recorded.filter(([n]) => n === ns).reduce((a, [, c]) => a + c, 0);
    return { registry, crossed, view, sum };
  }
  const times = (n: number, d: Denial, registry: DenialRegistry) => {
    for (let i = 0; i < n; i++) registry.observe({ ...d, time: T0 + i });
  };

  it('21 INGRESS drops from a workload of another namespace that is no known peer: recorded, nothing crossed, no edge to roll back', () => {
    const { registry, crossed, view, sum } = payments();
    times(21, drop({}), registry);
    expect(crossed).toEqual([]);
    expect(view()).toMatchObject({ crossed: false, inWindow: 0, recent: [], edges: [{ client: evil, server: postgres, port: 5433, count: 21, direction: 'ingress' }] });
    expect(sum('payments')).toBe(21); // still in hivewall_denied_flows_total and status
  });

  it('21 INGRESS drops from a world client (a LoadBalancer port): recorded, nothing crossed', () => {
    const { registry, crossed, view } = payments();
    times(21, drop({ client: key('en:world:203.0.113.9') }), registry);
    expect(crossed).toEqual([]);
    expect(view()).toMatchObject({ crossed: false, recent: [], edges: [{ count: 21 }] });
  });

  it('21 INGRESS drops from a known peer (allowed on 5432, denied on 5433): crossed, the edge is rolled back as before', () => {
    const { registry, crossed, view } = payments();
    times(21, drop({ client: api }), registry);
    expect(crossed).toEqual(['payments']);
    expect(view()).toMatchObject({ crossed: true, inWindow: 21, recent: [{ client: api, server: postgres, port: 5433, direction: 'ingress' }] });
  });

  it('21 EGRESS drops of payments\' own workload: crossed', () => {
    const { registry, crossed, view } = payments();
    times(21, { ...ownEgress, deniedBy: ['payments/hivewall-web'] }, registry);
    expect(crossed).toEqual(['payments']);
    expect(view()).toMatchObject({ crossed: true, inWindow: 21, recent: [{ client: web, direction: 'egress' }] });
  });

  it('21 unanswered SYNs (conntrack, no direction) from a foreign client: not against payments, but against the client\'s own enforcing namespace', () => {
    const { registry, crossed, view, sum } = payments();
    registry.enforce('evil', { segmentation: 'evil', proposal: 'evil-r1', budget: { maxDenied: 20, windowMs: 300_000 }, policies: [] });
    times(21, { client: evil, server: postgres, port: 5433, protocol: 'TCP', reason: 'UNREPLIED', time: T0 }, registry);
    expect(view()).toMatchObject({ crossed: false, inWindow: 0, recent: [], edges: [{ count: 21 }] });
    expect(sum('payments')).toBe(21);
    expect(crossed).toEqual(['evil']);
  });

  it('the namespace\'s own denials crossing the budget roll back only their edges, never the foreign one', () => {
    const { registry, crossed, view } = payments();
    times(50, drop({}), registry);
    times(21, ownEgress, registry);
    expect(crossed).toEqual(['payments']);
    expect(view().recent.map((e) => e.client)).toEqual([web]);
    expect(view().edges.map((e) => e.client)).toEqual([evil, web]);
  });

  it('after a restart, a foreign edge restored from status is not among the edges a rollback acts on', () => {
    const { registry, view } = payments([{ client: evil, server: postgres, port: 5433, protocol: 'TCP', count: 40, firstDenied: T0, lastDenied: T0 + 20_000 }]);
    times(21, ownEgress, registry);
    expect(view()).toMatchObject({ crossed: true });
    expect(view().recent.map((e) => e.client)).toEqual([web]);
  });
});
