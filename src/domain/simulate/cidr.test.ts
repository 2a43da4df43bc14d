import { describe, expect, it } from 'vitest';
import { addressKey, cidrContains, inCIDRExcept, parseAddress, parseCIDR } from './cidr.js';

describe('addresses', () => {
  const table: readonly (readonly [string, 4 | 6 | undefined])[] = [
    ['10.0.0.1', 4],
    ['255.255.255.255', 4],
    ['256.0.0.1', undefined],
    ['10.0.0', undefined],
    ['::', 6],
    ['::1', 6],
    ['2001:db8::1', 6],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', 6],
    ['::ffff:10.0.0.1', 6],
    ['fe80::1%eth0', 6],
    ['2001:db8::1::2', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['gggg::1', undefined],
    ['example.com', undefined],
  ];
  for (const [text, family] of table) it(`${text} → ${String(family)}`, () => expect(parseAddress(text)?.family).toBe(family));

  it('equal addresses share a key whatever their spelling', () => {
    expect(addressKey('2001:db8::1')).toBe(addressKey('2001:0db8:0:0::0001'));
    expect(addressKey('::ffff:10.0.0.1')).toBe(addressKey('::ffff:a00:1'));
    expect(addressKey('10.0.0.1')).not.toBe(addressKey('::ffff:10.0.0.1'));
  });
});

describe('CIDRs', () => {
  const table: readonly (readonly [string, string, boolean])[] = [
    ['172.17.0.0/16', '172.17.255.255', true],
    ['172.17.0.0/16', '172.18.0.0', false],
    ['10.0.0.5/24', '10.0.0.200', true],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['0.0.0.0/0', '2001:db8::1', false],
    ['20.1.1.1', '20.1.1.1', true],
    ['20.1.1.1', '20.1.1.2', false],
    ['10.96.0.0/12', '10.111.255.255', true],
    ['10.96.0.0/12', '10.112.0.0', false],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['::/0', '::1', true],
    ['fd00::/8', '10.0.0.1', false],
    ['10.0.0.0/33', '10.0.0.1', false],
    ['not-a-cidr', '10.0.0.1', false],
  ];
  for (const [cidr, ip, expected] of table) it(`${cidr} ∋ ${ip}: ${String(expected)}`, () => expect(cidrContains(cidr, ip)).toBe(expected));

  it('clears host bits', () => {
    expect(parseCIDR('10.0.0.5/24')).toEqual({ family: 4, network: 0x0a000000n, prefix: 24 });
  });

  it('"all of 172.17.0.0/16 except 172.17.1.0/24"', () => {
    expect(inCIDRExcept('172.17.0.0/16', ['172.17.1.0/24'], '172.17.0.255')).toBe(true);
    expect(inCIDRExcept('172.17.0.0/16', ['172.17.1.0/24'], '172.17.1.0')).toBe(false);
    expect(inCIDRExcept('172.17.0.0/16', ['172.17.1.0/24'], '172.17.2.0')).toBe(true);
  });
});
