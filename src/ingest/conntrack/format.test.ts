import { describe, expect, it } from 'vitest';
import { formatConntrackEntry, formatEpoch, type ConntrackFormat } from './format.js';
import { parseConntrackLine } from './parse.js';
import { fixtureLines } from './test-support.js';

/**
 * The renderer is what the round-trip properties rely on, so it must print exactly what the
 * kernel and conntrack-tools print: every supported line of these real captures is re-rendered
 * byte for byte. (Captures with accounting also carry delta-time= / [USERSPACE], which the
 * renderer does not produce; they are covered by the parser tests.)
 */
const cases: ReadonlyArray<{ fixture: string; format: ConntrackFormat }> = [
  { fixture: 'proc.basic.txt', format: 'proc' },
  { fixture: 'list.basic.extended.txt', format: 'extended' },
  { fixture: 'list.basic.ipv6-extended.txt', format: 'extended' },
  { fixture: 'list.basic.plain.txt', format: 'plain' },
  { fixture: 'events.basic.plain.txt', format: 'event' },
  { fixture: 'events.basic.extended.txt', format: 'event-extended' },
  { fixture: 'events.basic.timestamp.txt', format: 'event-timestamp' },
  { fixture: 'events.basic.timestamp-extended.txt', format: 'event-timestamp-extended' },
  { fixture: 'events.acct.plain.txt', format: 'event' },
  { fixture: 'events.expiry.timestamp-extended.txt', format: 'event-timestamp-extended' },
];

describe('formatConntrackEntry reproduces real output', () => {
  it.each(cases)('$fixture as $format', ({ fixture, format }) => {
    let checked = 0;
    for (const line of fixtureLines(fixture)) {
      if (line.includes('[USERSPACE]') || line.includes('packets=')) continue;
      const r = parseConntrackLine(line);
      if (r.kind !== 'entry') continue;
      expect(formatConntrackEntry(r.entry, format)).toBe(line);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  });
});

describe('formatEpoch', () => {
  it.each([
    [1_795_752_793_629.968, '[1795752793.629968]'],
    [1_700_000_000_000, '[1700000000.000000]'],
    [1_700_000_000_000.001, '[1700000000.000001]'],
    [1_700_000_000_999.9995, '[1700000001.000000]'],
  ])('%d → %s', (ms, want) => {
    expect(formatEpoch(ms)).toBe(want);
  });
});
