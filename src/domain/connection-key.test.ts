import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { connectionKey } from './connection-key.js';

type Tuple = readonly [string, number, string, number, string];

/** The key the Learner used before connection-key.ts. */
const textKey = ([a, ap, b, bp, p]: Tuple) => `${a} ${ap} ${b} ${bp} ${p}`;
const key = ([a, ap, b, bp, p]: Tuple) => connectionKey(a, ap, b, bp, p);

// Small alphabets so that different tuples often share parts, and the parts' boundaries move.
const ip = fc.oneof(fc.constantFrom('10.0.0.1', '10.0.0.11', '1.2.3.4', 'fd00::1', '', ' ', '1 2'), fc.string({ unit: fc.constantFrom('1', '0', '.', ':', ' ', '\uffff', '\u0001'), maxLength: 6 }));
const port = fc.oneof(fc.integer({ min: 0, max: 65_535 }), fc.constantFrom(0, 1, 32, 49, 8080, 65_535, 65_536, -1, 1.5, Number.NaN, Infinity, 2 ** 32 + 1));
const protocol = fc.constantFrom('TCP', 'UDP', 'SCTP', 'ICMPv4', 'ICMPv6', '', 'TC');
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
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});
