import fc from 'fast-check';
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { canonicalIp } from './ip.js';

describe('canonicalIp', () => {
  const cases: readonly (readonly [string, string | undefined])[] = [
    ['10.244.1.23', '10.244.1.23'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['256.1.1.1', undefined],
    ['010.1.1.1', undefined],
    ['1.2.3', undefined],
    ['1.2.3.4.5', undefined],
    ['', undefined],
    ['fd00:10:244:1::1f', 'fd00:10:244:1::1f'],
    ['FD00:0010:0244:0001:0000:0000:0000:001F', 'fd00:10:244:1::1f'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8::', '2001:db8::'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'],
    ['::FFFF:a00:1', '::ffff:10.0.0.1'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['fe80::1%eth0', undefined],
    ['1::2::3', undefined],
    [':::', undefined],
    ['12345::', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['1:2:3:4:5:6:7', undefined],
    ['::ffff:1.2.3.4.5', undefined],
    ['localhost', undefined],
  ];
  for (const [input, expected] of cases) it(`${JSON.stringify(input)} → ${String(expected)}`, () => expect(canonicalIp(input)).toBe(expected));

  it('accepts exactly what node:net accepts (without zones) and prints RFC 5952 text (property)', () => {
    const groups = fc.array(fc.oneof(fc.constant(0), fc.nat(0xffff)), { minLength: 8, maxLength: 8 });
    fc.assert(
      fc.property(groups, fc.boolean(), (g, upper) => {
        const full = g.map((x) => (upper ? x.toString(16).toUpperCase() : x.toString(16).padStart(4, '0'))).join(':');
        const canonical = canonicalIp(full);
        // WHATWG URL host serialization is RFC 5952 except for IPv4-mapped addresses.
        const mapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
        if (!mapped) expect(canonical).toBe(new URL(`http://[${full}]/`).hostname.slice(1, -1));
        expect(canonicalIp(canonical!)).toBe(canonical);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 12 }), fc.stringMatching(/^[0-9a-fA-F:.]{0,20}$/)), (text) => {
        expect(canonicalIp(text) !== undefined).toBe(isIP(text) !== 0);
      }),
      { numRuns: 5000 },
    );
  });
});
