import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalIp, ipv4BytesValue } from '../hubble/ip.js';
import { IpTexts, RecentTexts } from './texts.js';

/** `text` at an offset inside a larger buffer, as a field sits inside a message. */
function embedded(text: string | Uint8Array): { buf: Buffer; start: number; end: number } {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text);
  return { buf: Buffer.concat([Buffer.from('xx'), bytes, Buffer.from('yy')]), start: 2, end: 2 + bytes.length };
}

const ipLike = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.string({ unit: fc.constantFrom('0', '1', '2', '5', '9', '.', ':', 'a', 'F', ' ', '\u00e9'), maxLength: 18 }),
  fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300), fc.boolean()).map(([a, b, c, d, zero]) => `${zero ? '0' : ''}${a}.${b}.${c}.${d}`),
);

describe('ipv4BytesValue', () => {
  it('accepts exactly the canonical dotted quads, each with its own value', () => {
    fc.assert(
      fc.property(ipLike, (text) => {
        const { buf, start, end } = embedded(text);
        const value = ipv4BytesValue(buf, start, end);
        const canonical = /^[0-9.]*$/.test(text) ? canonicalIp(text) : undefined;
        if (canonical === text) {
          expect(value).toBe(text.split('.').reduce((v, octet) => v * 256 + Number(octet), 0));
        } else expect(value).toBe(-1);
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('IpTexts', () => {
  it('gives canonicalIp of the UTF-8 text, and the same string again for the same bytes', () => {
    const ips = new IpTexts();
    fc.assert(
      fc.property(ipLike, (text) => {
        const { buf, start, end } = embedded(text);
        const want = canonicalIp(buf.toString('utf8', start, end));
        expect(ips.text(buf, start, end)).toBe(want);
        expect(ips.text(buf, start, end)).toBe(want);
      }),
      { numRuns: 5_000 },
    );
  });

  it('reads invalid UTF-8 as the decoder would (never an address)', () => {
    const { buf, start, end } = embedded(new Uint8Array([0x31, 0x2e, 0xff, 0x2e, 0x31, 0x2e, 0x31]));
    expect(new IpTexts().text(buf, start, end)).toBeUndefined();
  });
});

describe('RecentTexts', () => {
  it('gives the UTF-8 text of the bytes, whatever was seen before', () => {
    const texts = new RecentTexts();
    const names = fc.oneof(fc.constantFrom('node-a', 'node-b', 'node-c', 'node-aa', 'node-', '', 'x'.repeat(300)), fc.string({ maxLength: 12 }), fc.uint8Array({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(names, { maxLength: 40 }), (list) => {
        for (const name of list) {
          const { buf, start, end } = embedded(name);
          expect(texts.text(buf, start, end)).toBe(buf.toString('utf8', start, end));
        }
      }),
    );
  });
});
