import { describe, expect, it } from 'vitest';
import { generateConntrackLines, runConntrackParseBench } from '../../../bench/conntrack-parse.js';
import { parseConntrackLine } from './parse.js';

describe('bench/conntrack-parse', () => {
  it('generates lines the parser accepts, except the deliberate unsupported and damaged ones', () => {
    const counts: Record<string, number> = {};
    for (const line of generateConntrackLines(20_000, 7)) {
      const r = parseConntrackLine(line);
      const k = r.kind === 'entry' ? 'entry' : r.reason;
      counts[k] = (counts[k] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).toEqual(['empty', 'entry', 'malformed', 'unsupported-protocol']);
    expect(counts.entry).toBeGreaterThan(19_000);
  });

  it('is deterministic for a seed', () => {
    expect(generateConntrackLines(500, 3)).toEqual(generateConntrackLines(500, 3));
  });

  it('returns its numbers', async () => {
    const r = await runConntrackParseBench({ lines: 3000, rounds: 1 });
    expect(r.lines).toBe(3000);
    expect(r.entries + r.skipped).toBe(3000);
    expect(r.linesPerSecond).toBeGreaterThan(0);
    expect(r.readerLinesPerSecond).toBeGreaterThan(0);
  });
});
