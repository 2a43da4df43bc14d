import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EdgeStore } from './edge-store.js';
import { key } from '../testing/builders.js';
import { workloadKey, type PeerKey } from './peer.js';

/** The store's counting treats keys as opaque text: these tests use short names, not real peers. */
const opaque = (text: string) => text as PeerKey;

describe('EdgeStore', () => {
  it('counts repeated edges once with count, first and last seen', () => {
    const store = new EdgeStore(16);
    expect(store.record(opaque('a'), opaque('b'), 80, 'TCP', 200)).toBe(true);
    expect(store.record(opaque('a'), opaque('b'), 80, 'TCP', 100)).toBe(false);
    expect(store.record(opaque('a'), opaque('b'), 80, 'TCP', 300)).toBe(false);
    expect(store.record(opaque('a'), opaque('b'), 80, 'UDP', 300)).toBe(true);
    expect(store.size).toBe(2);
    expect([...store.edges()][0]).toEqual({ client: 'a', server: 'b', port: 80, protocol: 'TCP', count: 3, firstSeen: 100, lastSeen: 300 });
    expect(store.lastNewEdgeAt).toBe(300);
  });

  it('agrees with a plain Map model for any sequence of observations (through growth)', () => {
    const obs = fc.record({
      c: fc.integer({ min: 0, max: 30 }),
      s: fc.integer({ min: 0, max: 30 }),
      port: fc.integer({ min: 0, max: 65535 }),
      proto: fc.constantFrom('TCP' as const, 'UDP' as const, 'SCTP' as const),
      t: fc.integer({ min: 0, max: 1e9 }),
    });
    fc.assert(
      fc.property(fc.array(obs, { maxLength: 400 }), (list) => {
        const store = new EdgeStore(16);
        const model = new Map<string, { count: number; first: number; last: number }>();
        for (const o of list) {
          store.record(opaque(`p${o.c}`), opaque(`p${o.s}`), o.port, o.proto, o.t);
          const key = `p${o.c} p${o.s} ${o.port} ${o.proto}`;
          const m = model.get(key);
          if (m) {
            m.count++;
            m.first = Math.min(m.first, o.t);
            m.last = Math.max(m.last, o.t);
          } else model.set(key, { count: 1, first: o.t, last: o.t });
        }
        expect(store.size).toBe(model.size);
        for (const e of store.edges()) {
          expect(model.get(`${e.client} ${e.server} ${e.port} ${e.protocol}`)).toEqual({ count: e.count, first: e.firstSeen, last: e.lastSeen });
        }
      }),
    );
  });
});

describe('EdgeStore limits', () => {
  const wl = (ns: string, name: string) => workloadKey(ns, 'Deployment', name);

  it('refuses new edges beyond the per-namespace bound, counts them for that namespace, keeps counting stored ones', () => {
    const store = new EdgeStore(16, { maxEdgesPerNamespace: 2 });
    expect(store.record(wl('evil', 'a'), wl('evil', 'b'), 80, 'TCP', 1)).toBe(true);
    expect(store.record(wl('evil', 'a'), wl('evil', 'c'), 80, 'TCP', 1)).toBe(true);
    for (let i = 0; i < 1000; i++) expect(store.record(wl('evil', `x${i}`), wl('evil', 'b'), 80, 'TCP', 2)).toBe(false);
    // Another namespace still learns; an existing edge still counts.
    expect(store.record(wl('shop', 'web'), wl('shop', 'cart'), 8080, 'TCP', 3)).toBe(true);
    expect(store.record(wl('evil', 'a'), wl('evil', 'b'), 80, 'TCP', 4)).toBe(false);
    expect(store.size).toBe(3);
    expect([...store.edges()].find((e) => e.server === wl('evil', 'b'))?.count).toBe(2);
    expect(store.refusedIn('evil')).toBe(1000);
    expect(store.refusedIn('shop')).toBe(0);
    expect(store.refusedEdges).toBe(1000);
    // A cross-namespace edge into a full namespace is refused for both namespaces it touches.
    expect(store.record(wl('shop', 'web'), wl('evil', 'z'), 80, 'TCP', 5)).toBe(false);
    expect(store.refusedIn('shop')).toBe(1);
    // Refused peers are not interned: memory does not follow them.
    expect(() => store.peerKey(5)).toThrow(RangeError);
  });

  it('refuses new edges beyond the overall bound, whatever the namespace', () => {
    const store = new EdgeStore(16, { maxEdges: 3 });
    for (let i = 0; i < 10; i++) store.record(wl(`ns${i}`, 'a'), key('en:world:203.0.113.5'), 443, 'TCP', i);
    expect(store.size).toBe(3);
    expect(store.refusedEdges).toBe(7);
    expect(store.refusedIn('ns9')).toBe(1);
    expect(store.refusedIn('ns0')).toBe(0);
  });

  it('restoring a profile is bounded the same way', () => {
    const store = new EdgeStore(16, { maxEdgesPerNamespace: 1 });
    store.restore(wl('shop', 'a'), wl('shop', 'b'), 80, 'TCP', 3, 1, 2);
    store.restore(wl('shop', 'a'), wl('shop', 'c'), 80, 'TCP', 3, 1, 2);
    expect(store.size).toBe(1);
    expect(store.refusedIn('shop')).toBe(1);
  });
});
