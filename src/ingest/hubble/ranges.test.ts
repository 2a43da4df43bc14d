import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ParseResult } from '../../domain/flow.js';
import { parseHubbleLine } from './parse.js';
import { parseRange, tileRanges, type ByteRange, type ReadAt } from './ranges.js';
import { readHubble } from './reader.js';

const fixtureLines = readFileSync(new URL('./testdata/observe.jsonl', import.meta.url), 'utf8').split('\n').filter((l) => l !== '');
const exampleLines = readFileSync(new URL('../../../examples/shop/flows.hubble.jsonl', import.meta.url), 'utf8').split('\n').slice(0, 400).filter((l) => l !== '');

/** What the single-thread reader gives for these bytes. */
async function singleThread(bytes: Buffer, maxLineBytes: number): Promise<ParseResult[]> {
  const results: ParseResult[] = [];
  await readHubble((async function* () { yield bytes; })(), (r) => results.push(r), { maxLineBytes });
  return results;
}

const readFrom = (bytes: Buffer): ReadAt => (buffer, position) => (position >= bytes.length ? 0 : bytes.copy(buffer, 0, position, Math.min(bytes.length, position + buffer.length)));

/** Ranges cut at the given (sorted, distinct) points inside [0, size). */
function cutAt(size: number, cuts: readonly number[]): ByteRange[] {
  const points = [...new Set(cuts.map((c) => c % Math.max(1, size)))].filter((c) => c > 0).sort((a, b) => a - b);
  const bounds = [0, ...points, size];
  return bounds.slice(1).map((end, i) => ({ start: bounds[i]!, end }));
}

function inRanges(bytes: Buffer, ranges: readonly ByteRange[], blockBytes: number, maxLineBytes: number): ParseResult[] {
  return ranges.flatMap((range) => parseRange(readFrom(bytes), range, (line) => parseHubbleLine(line, { maxLineBytes }), { blockBytes, maxLineBytes }));
}

/** Lines of the fixtures plus the awkward ones: blank, CRLF, non-JSON, overlong, a BOM mid-file. */
const line = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...fixtureLines, ...exampleLines) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', 'not json', '{"flow":', '\uFEFF{"flow":{}}', '{"lost_events":{"num_events_lost":"3"}}') },
  { weight: 1, arbitrary: fc.constantFrom(...fixtureLines).map((l) => `${l}\r`) },
  { weight: 1, arbitrary: fc.integer({ min: 300, max: 3000 }).map((n) => `{"flow":{"x":"${'a'.repeat(n)}"}}`) },
);

const file = fc.record({
  lines: fc.array(line, { minLength: 0, maxLength: 60 }),
  bom: fc.boolean(),
  trailingNewline: fc.boolean(),
}).map(({ lines, bom, trailingNewline }) => Buffer.from(`${bom ? '\uFEFF' : ''}${lines.join('\n')}${trailingNewline && lines.length > 0 ? '\n' : ''}`, 'utf8'));

describe('parseRange', () => {
  it('ranges cut anywhere, joined in order, give exactly the single-thread reader\'s results', async () => {
    await fc.assert(
      fc.asyncProperty(
        file,
        fc.array(fc.nat(), { maxLength: 12 }),
        // Cuts next to a newline (just before, on, just after), where an off-by-one would show.
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: -1, max: 1 })), { maxLength: 8 }),
        fc.integer({ min: 2, max: 5000 }),
        fc.constantFrom(1024 * 1024, 2000),
        async (bytes, cuts, nearNewlines, blockBytes, maxLineBytes) => {
          const newlines = [...bytes.entries()].filter(([, b]) => b === 0x0a).map(([i]) => i);
          const near = newlines.length === 0 ? [] : nearNewlines.map(([i, d]) => Math.max(0, newlines[i % newlines.length]! + 1 + d));
          const expected = await singleThread(bytes, maxLineBytes);
          expect(inRanges(bytes, cutAt(bytes.length, [...cuts, ...near]), blockBytes, maxLineBytes)).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  const cases: { name: string; text: string; ranges: ByteRange[] }[] = [
    { name: 'a cut right after a newline', text: 'a\nb\n', ranges: [{ start: 0, end: 2 }, { start: 2, end: 4 }] },
    { name: 'a cut right before a newline', text: 'a\nb\n', ranges: [{ start: 0, end: 1 }, { start: 1, end: 4 }] },
    { name: 'a range inside one line owns nothing', text: 'aaaaaaaa\nb', ranges: [{ start: 0, end: 1 }, { start: 1, end: 5 }, { start: 5, end: 10 }] },
    { name: 'no trailing newline', text: 'a\nbbb', ranges: [{ start: 0, end: 3 }, { start: 3, end: 5 }] },
    { name: 'empty lines at a cut', text: '\n\n\n', ranges: [{ start: 0, end: 1 }, { start: 1, end: 2 }, { start: 2, end: 3 }] },
  ];
  for (const c of cases) {
    it(`${c.name}: every line once, in order`, async () => {
      const bytes = Buffer.from(c.text);
      expect(inRanges(bytes, c.ranges, 3, 1024)).toEqual(await singleThread(bytes, 1024));
    });
  }
});

describe('tileRanges', () => {
  it('covers [0, size) without gaps or overlaps', () => {
    fc.assert(fc.property(fc.nat({ max: 100_000 }), fc.integer({ min: 1, max: 10_000 }), (size, bytes) => {
      const ranges = tileRanges(size, bytes);
      expect(ranges.reduce((at, r) => (r.start === at && r.end > r.start ? r.end : -1), 0)).toBe(size);
    }));
  });
});
