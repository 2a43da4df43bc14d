import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { connectionKey } from './connection-key.js';

type Tuple = readonly [string, number, string, number, string];

/** The key the Learner used before connection-key.ts. */
const textKey = ([a, ap, b, bp, p]: Tuple) => `${a} ${ap} ${b} ${bp} ${p}`;
const key = ([a, ap, b, bp, p]: Tuple) => connectionKey(a, ap, b, bp, p);

// Small alphabets so that different tuples often share parts, and the parts' boundaries move.
const ip = fc.oneof(
  fc.constantFrom('10.0.0.1', '10.0.0.11', '1.2.3.4', '255.255.255.255', '0.0.0.0', '010.0.0.1', '1.2.3.4.', '1.2.3', 'fd00::1', '', ' ', '1 2'),
  fc.ipV4(),
  fc.tuple(...Array.from({ length: 4 }, () => fc.constantFrom(0, 1, 2, 10, 255, 256))).map((octets) => octets.join('.')), // near neighbours
  fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300)).map((octets) => octets.join('.')),
  fc.string({ unit: fc.constantFrom('1', '0', '.', ':', ' ', '\uffff', '\u0001', '\u0000'), maxLength: 8 }),
);
const port = fc.oneof(fc.integer({ min: 0, max: 65_535 }), fc.constantFrom(0, 1, 32, 49, 8080, 65_535, 65_536, -1, 1.5, Number.NaN, Infinity, 2 ** 32 + 1));
const protocol = fc.constantFrom('TCP', 'UDP', 'SCTP', 'ICMPv4', 'ICMPv6', '', 'TC', '\u0001', 'TCP\u0000');
const tuple = fc.tuple(ip, port, ip, port, protocol);

describe('connectionKey', () => {
  it('tells apart every two 5-tuples the textual key told apart', () => {
    fc.assert(
      fc.property(tuple, tuple, (a, b) => {
        if (key(a) === key(b)) expect(textKey(a)).toBe(textKey(b));
      }),
      { numRuns: 20_000 },
    );
  });

  it('is equal exactly when the 5-tuples are (ports 0..65535)', () => {
    const validTuple = fc.tuple(ip, fc.integer({ min: 0, max: 65_535 }), ip, fc.integer({ min: 0, max: 65_535 }), protocol);
    fc.assert(
      fc.property(validTuple, validTuple, (a, b) => {
        expect(key(a) === key(b)).toBe(a.every((part, i) => Object.is(part, b[i])));
        expect(key(a)).toBe(key([...a] as unknown as Tuple));
      }),
      { numRuns: 20_000 },
    );
  });

  it('tells a 5-tuple apart from the same one with one part changed', () => {
    fc.assert(
      fc.property(tuple, fc.nat(4), fc.oneof(ip, port, protocol), (a, i, value) => {
        fc.pre(typeof value === typeof a[i]);
        const b = a.map((part, j) => (j === i ? value : part)) as unknown as Tuple;
        if (textKey(a) !== textKey(b)) expect(key(a)).not.toBe(key(b));
      }),
      { numRuns: 20_000 },
    );
  });

  it('tells apart IPv4 5-tuples one bit apart in an address or a port', () => {
    const quad = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
    const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
    const u16 = fc.integer({ min: 0, max: 65_535 });
    fc.assert(
      fc.property(u32, u16, u32, u16, protocol, fc.nat(3), fc.nat(31), (s, sp, d, dp, p, part, bit) => {
        const a: [number, number, number, number] = [s, sp, d, dp];
        const b: [number, number, number, number] = [s, sp, d, dp];
        b[part] = (b[part]! ^ 2 ** (part % 2 === 0 ? bit : bit % 16)) >>> 0;
        const render = ([s2, sp2, d2, dp2]: number[]): Tuple => [quad(s2!), sp2!, quad(d2!), dp2!, p];
        expect(key(render(a))).not.toBe(key(render(b)));
      }),
      { numRuns: 20_000 },
    );
  });

  it('keeps ports and addresses apart that share digits or shift boundaries', () => {
    const keys = [
      key(['10.0.0.1', 1, '10.0.0.2', 80, 'TCP']),
      key(['10.0.0.11', 1, '0.0.0.2', 80, 'TCP']),
      key(['10.0.0.1', 80, '10.0.0.2', 1, 'TCP']),
      key(['10.0.0.2', 80, '10.0.0.1', 1, 'TCP']),
      key(['10.0.0.1', 1, '10.0.0.2', 80, 'UDP']),
      key(['10.0.0.1', 65_537, '10.0.0.2', 80, 'TCP']), // 65537 & 0xffff = 1: the textual form
      key(['10.0.0.1', -1, '10.0.0.2', 80, 'TCP']),
      key(['10.0.0.1', 65_535, '10.0.0.2', 80, 'TCP']),
      key(['10.0.0.1', 1, '10.0.0.2', 80, 'GRE']), // not a known protocol: the general layout
      key(['010.0.0.1', 1, '10.0.0.2', 80, 'TCP']), // not canonical: the general layout
      key(['', 1, '', 2, 'TCP']), // 7 units in the general layout too
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});
