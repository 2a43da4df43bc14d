import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTimestamp } from './time.js';

describe('parseTimestamp (protojson google.protobuf.Timestamp)', () => {
  const cases: readonly (readonly [string, number | undefined])[] = [
    ['2024-05-02T09:14:03.512874321Z', Date.UTC(2024, 4, 2, 9, 14, 3, 512)],
    ['2024-05-02T09:14:03Z', Date.UTC(2024, 4, 2, 9, 14, 3)],
    ['2024-05-02T09:14:03.5Z', Date.UTC(2024, 4, 2, 9, 14, 3, 500)],
    ['2024-05-02T11:14:03.000001+02:00', Date.UTC(2024, 4, 2, 9, 14, 3, 0)],
    ['2024-05-02T09:14:03-00:30', Date.UTC(2024, 4, 2, 9, 44, 3)],
    ['1969-12-31T23:59:59.999Z', -1],
    ['0001-01-01T00:00:00Z', -62135596800000],
    ['9999-12-31T23:59:59.999999999Z', 253402300799999],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2023-02-29T00:00:00Z', undefined],
    ['2024-13-01T00:00:00Z', undefined],
    ['2024-05-02T24:00:00Z', undefined],
    ['2024-05-02T09:14:60Z', undefined],
    ['0000-01-01T00:00:00Z', undefined],
    ['2024-05-02T09:14:03.Z', undefined],
    ['2024-05-02T09:14:03.1234567890Z', undefined],
    ['2024-05-02T09:14:03z', undefined],
    ['2024-05-02t09:14:03Z', undefined],
    ['2024-05-02 09:14:03Z', undefined],
    ['2024-05-02T09:14:03', undefined],
    ['2024-05-02T09:14:03+0200', undefined],
    ['2024-05-02T09:14:03+24:00', undefined],
    ['2024-05-02T09:14:03ZZ', undefined],
    ['２024-05-02T09:14:03Z', undefined],
    ['', undefined],
  ];
  for (const [text, expected] of cases) it(JSON.stringify(text), () => expect(parseTimestamp(text)).toBe(expected));

  it('agrees with Date.parse on valid timestamps, truncated to milliseconds (property)', () => {
    const ts = fc.record({
      date: fc.date({ min: new Date('0100-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true }),
      frac: fc.stringMatching(/^[0-9]{0,9}$/),
      offset: fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
    });
    fc.assert(
      fc.property(ts, ({ date, frac, offset }) => {
        const local = new Date(date.getTime() + offset * 60_000).toISOString().slice(0, 19);
        const zone = offset === 0 ? 'Z' : `${offset < 0 ? '-' : '+'}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
        const text = `${local}${frac === '' ? '' : `.${frac}`}${zone}`;
        const reference = Date.parse(`${local}.${frac.padEnd(3, '0').slice(0, 3)}${zone}`);
        expect(parseTimestamp(text)).toBe(reference);
      }),
      { numRuns: 2000 },
    );
  });
});
