import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandIPv6, parseIPv4, parseIPv6 } from './ip.js';

describe('parseIPv4', () => {
  it.each([
    ['10.244.0.5', '10.244.0.5'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['256.0.0.1', undefined],
    ['999.1.1.1', undefined],
    ['01.2.3.4', undefined],
    ['1.2.3', undefined],
    ['1.2.3.4.5', undefined],
    ['1..2.3', undefined],
    ['1.2.3.', undefined],
    ['.1.2.3', undefined],
    ['', undefined],
    [' 1.2.3.4', undefined],
    ['1.2.3.4 ', undefined],
    ['1.2.3.x', undefined],
    ['fd00::1', undefined],
  ])('%j → %j', (input, want) => {
    expect(parseIPv4(input)).toBe(want);
  });

  it('reads a slice of a longer string', () => {
    expect(parseIPv4('src=10.1.2.3 dst', 4, 12)).toBe('10.1.2.3');
  });
});

describe('parseIPv6 (RFC 5952 canonical text)', () => {
  it.each([
    ['kernel %pI6 from /proc', 'fd00:0010:0244:0000:0000:0000:0000:0005', 'fd00:10:244::5'],
    ['already canonical', 'fd00:10:244:1::7', 'fd00:10:244:1::7'],
    ['unspecified', '::', '::'],
    ['loopback', '::1', '::1'],
    ['trailing ::', 'fd00::', 'fd00::'],
    ['longest zero run wins', '2001:db8:0:0:1:0:0:0', '2001:db8:0:0:1::'],
    ['first of equally long runs', '2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['a single zero group is not shortened', '2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['upper case', '2001:DB8::AbCd', '2001:db8::abcd'],
    ['leading zeros', '2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['IPv4-mapped dotted', '::ffff:10.0.0.1', '::ffff:10.0.0.1'],
    ['IPv4-mapped hex', '0:0:0:0:0:ffff:0a00:0001', '::ffff:10.0.0.1'],
    ['IPv4-compatible (deprecated) is hex', '::1.2.3.4', '::102:304'],
    [':: standing for one group', '1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
  ])('%s: %s → %s', (_name, input, want) => {
    expect(parseIPv6(input)).toBe(want);
  });

  it.each([
    ':::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::',
    'g::1',
    '1::2::3',
    ':1::',
    '1:',
    ':1',
    '1::2:',
    'fe80::1%eth0',
    '1.2.3.4',
    '::ffff:1.2.3',
    '::ffff:256.1.1.1',
    '1:2:3:4:5:6:7:1.2.3.4',
    '::1:2:3:4:5:6:7:8',
    '',
    ':',
  ])('rejects %j', (input) => {
    expect(parseIPv6(input)).toBeUndefined();
  });

  const groups = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });
  const isMapped = (g: number[]) => g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;

  it('agrees with the WHATWG URL serializer (same RFC 5952 rules) except IPv4-mapped', () => {
    fc.assert(
      fc.property(groups, (g) => {
        fc.pre(!isMapped(g));
        const full = g.map((x) => x.toString(16)).join(':');
        expect(parseIPv6(full)).toBe(new URL(`http://[${full}]/`).hostname.slice(1, -1));
      }),
    );
  });

  it('expandIPv6 (the kernel %pI6 form) round-trips', () => {
    fc.assert(
      fc.property(groups, (g) => {
        const full = g.map((x) => x.toString(16).padStart(4, '0')).join(':');
        const canonical = parseIPv6(full);
        expect(canonical).toBeDefined();
        expect(expandIPv6(canonical as string)).toBe(full);
        expect(parseIPv6(canonical as string)).toBe(canonical);
      }),
    );
  });
});
