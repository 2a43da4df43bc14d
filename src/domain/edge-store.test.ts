import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EdgeStore } from './edge-store.js';

describe('EdgeStore', () => {
  it('counts repeated edges once with count, first and last seen', () => {
    const store = new EdgeStore(16);
    expect(store.record('a', 'b', 80, 'TCP', 200)).toBe(true);
    expect(store.record('a', 'b', 80, 'TCP', 100)).toBe(false);
    expect(store.record('a', 'b', 80, 'TCP', 300)).toBe(false);
    expect(store.record('a', 'b', 80, 'UDP', 300)).toBe(true);
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
          store.record(`p${o.c}`, `p${o.s}`, o.port, o.proto, o.t);
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
