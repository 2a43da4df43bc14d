import { describe, expect, it } from 'vitest';
import { DnsNames, type DnsNameDrop } from './dns-names.js';

const web = 'wl:shop/Deployment/web';
const api = 'wl:shop/Deployment/api';

describe('DnsNames', () => {
  it('keeps names per client and address, sorted', () => {
    const d = new DnsNames();
    d.add(web, '203.0.113.1', 'b.example');
    d.add(web, '203.0.113.1', 'a.example');
    d.add(web, '203.0.113.1', 'a.example');
    expect(d.namesFor(web, '203.0.113.1')).toEqual(['a.example', 'b.example']);
    expect(d.namesFor(api, '203.0.113.1')).toEqual([]);
    expect(d.namesForIp('203.0.113.1')).toEqual(['a.example', 'b.example']);
  });

  it('evicts the address resolved longest ago past the per-client bound, never a pinned one, and counts what it dropped', () => {
    const told: [DnsNameDrop, number][] = [];
    const d = new DnsNames({ recentNamesPerClient: 3 }, (reason, n) => told.push([reason, n]));
    d.add(web, '203.0.113.1', 'one.example');
    d.add(web, '203.0.113.1', 'uno.example');
    d.pin(web, '203.0.113.1'); // a learned edge
    d.add(web, '203.0.113.2', 'two.example');
    d.add(web, '203.0.113.3', 'three.example');
    d.add(web, '203.0.113.4', 'four.example');
    d.add(web, '203.0.113.2', 'two.example'); // resolved again: now the most recent
    d.add(web, '203.0.113.5', 'five.example'); // evicts .3, the oldest recent one
    expect(d.namesFor(web, '203.0.113.3')).toEqual([]);
    expect(d.namesFor(web, '203.0.113.2')).toEqual(['two.example']);
    d.add(web, '203.0.113.6', 'six.example'); // evicts .4: .2 went to the end when it was passed over
    expect(d.namesFor(web, '203.0.113.4')).toEqual([]);
    expect(d.namesFor(web, '203.0.113.2')).toEqual(['two.example']);
    expect(d.namesFor(web, '203.0.113.1')).toEqual(['one.example', 'uno.example']);
    for (let i = 0; i < 1000; i++) d.add(web, `198.51.100.${i % 250}`, `n${i}.example`);
    expect(d.namesFor(web, '203.0.113.1')).toEqual(['one.example', 'uno.example']);
    expect(d.addresses).toBe(1 + 3);
    expect(told[0]).toEqual(['evicted', 1]);
    expect(d.dropped.evicted).toBe(told.reduce((n, [, k]) => n + k, 0));
    // Every name not kept was counted: 1,005 names added to recent addresses, 3 kept.
    expect(d.dropped.evicted).toBe(5 + 1000 - 3);
  });

  it('bounds one client, not its neighbours', () => {
    const d = new DnsNames({ recentNamesPerClient: 2 });
    d.add(api, '203.0.113.9', 'api.example');
    for (let i = 0; i < 100; i++) d.add(web, `198.51.100.${i}`, `n${i}.example`);
    expect(d.namesFor(api, '203.0.113.9')).toEqual(['api.example']);
  });

  it('bounds a client by names, not addresses: one address with many names counts for all of them', () => {
    const d = new DnsNames({ recentNamesPerClient: 4 });
    d.add(web, '203.0.113.1', 'a.example');
    for (const name of ['b', 'c', 'd', 'e']) d.add(web, '203.0.113.2', `${name}.example`);
    expect(d.namesFor(web, '203.0.113.1')).toEqual([]);
    expect(d.namesFor(web, '203.0.113.2')).toHaveLength(4);
    expect(d.dropped.evicted).toBe(1);
  });

  it('bounds all clients together, evicting the addresses added longest ago, and forgets a client left with nothing', () => {
    const d = new DnsNames({ recentNames: 100 });
    d.add(api, '203.0.113.9', 'api.example');
    d.add(api, '203.0.113.10', 'kept.example');
    d.pin(api, '203.0.113.10');
    // 1,000 bare pods, each a client of its own, resolving one name each.
    for (let i = 0; i < 1000; i++) d.add(`wl:shop/Pod/scraper-${i}`, `198.51.100.${i % 250}`, `n${i}.example`);
    expect(d.namesFor(api, '203.0.113.9')).toEqual([]);
    expect(d.namesFor(api, '203.0.113.10')).toEqual(['kept.example']); // pinned: not counted, not evicted
    expect(d.clients).toBe(100 + 1);
    expect(d.addresses).toBe(100 + 1);
    expect(d.has('wl:shop/Pod/scraper-0')).toBe(false);
    expect(d.dropped.evicted).toBe(1 + 900);
  });

  it('refuses names past the per-address bound, pinned or not', () => {
    const d = new DnsNames({ namesPerAddress: 2 });
    for (const name of ['a.example', 'b.example', 'c.example']) d.add(web, '203.0.113.1', name);
    expect(d.namesFor(web, '203.0.113.1')).toEqual(['a.example', 'b.example']);
    d.pin(web, '203.0.113.1');
    d.add(web, '203.0.113.1', 'd.example');
    d.add(web, '203.0.113.1', 'a.example'); // already kept: not a drop
    expect(d.namesFor(web, '203.0.113.1')).toEqual(['a.example', 'b.example']);
    expect(d.dropped['over-limit']).toBe(2);
  });

  it('a pin before the answer keeps the names that arrive after it', () => {
    const d = new DnsNames({ recentNamesPerClient: 1 });
    d.add(web, '203.0.113.7', 'first.example');
    d.pin(web, '203.0.113.1'); // connected before its answer arrived
    d.add(web, '203.0.113.1', 'late.example');
    for (let i = 0; i < 10; i++) d.add(web, `198.51.100.${i}`, `n${i}.example`);
    expect(d.namesFor(web, '203.0.113.1')).toEqual(['late.example']);
    // A client that never resolved anything gets no entry from a pin.
    d.pin(api, '203.0.113.1');
    expect(d.has(api)).toBe(false);
  });
});
