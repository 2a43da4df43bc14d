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
    const d = new DnsNames({ recentAddressesPerClient: 3 }, (reason, n) => told.push([reason, n]));
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
    expect(d.namesFor(web, '203.0.113.1')).toEqual(['one.example', 'uno.example']);
    for (let i = 0; i < 1000; i++) d.add(web, `198.51.100.${i % 250}`, `n${i}.example`);
    expect(d.namesFor(web, '203.0.113.1')).toEqual(['one.example', 'uno.example']);
    expect(d.addresses).toBe(1 + 3);
    expect(told[0]).toEqual(['evicted', 1]);
    expect(d.dropped.evicted).toBe(told.reduce((n, [, k]) => n + k, 0));
    // Every name not kept was counted: 1,004 names added to recent addresses, 3 kept.
    expect(d.dropped.evicted).toBe(4 + 1000 - 3);
  });

  it('bounds one client, not its neighbours', () => {
    const d = new DnsNames({ recentAddressesPerClient: 2 });
    d.add(api, '203.0.113.9', 'api.example');
    for (let i = 0; i < 100; i++) d.add(web, `198.51.100.${i}`, `n${i}.example`);
    expect(d.namesFor(api, '203.0.113.9')).toEqual(['api.example']);
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
    const d = new DnsNames({ recentAddressesPerClient: 1 });
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
