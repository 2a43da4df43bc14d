import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineSplitter, type LineSplitterOptions } from './lines.js';

type Out = { line: string } | { overlong: number };

/**
 * Splits `input` fed as `chunks` (cut points) and records what the sink saw. With `lineAt`, the sink
 * also takes lines itself, as a parser that finds a line's end would: every line not starting with
 * `b` whose `\n` lies within the limit it is given (it searches no further), recorded as `line()`
 * would have seen it.
 */
function split(input: Buffer, cuts: readonly number[], options: LineSplitterOptions, lineAt = false): Out[] {
  const out: Out[] = [];
  const splitter = new LineSplitter(
    {
      line: (buf, start, end) => out.push({ line: buf.toString('latin1', start, end) }),
      overlong: (bytes) => out.push({ overlong: bytes }),
      ...(lineAt
        ? {
            lineAt: (buf: Buffer, start: number, limit: number) => {
              if (buf[start] === 0x62) return -1;
              const nl = buf.subarray(start, limit).indexOf(0x0a);
              if (nl < 0) return -1;
              const lf = start + nl;
              const end = options.stripCr !== false && lf > start && buf[lf - 1] === 0x0d ? lf - 1 : lf;
              out.push({ line: buf.toString('latin1', start, end) });
              return lf;
            },
          }
        : {}),
    },
    options,
  );
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  let at = 0;
  for (const p of [...points, input.length]) {
    // A reused buffer, like the file reader's: the splitter must copy what it keeps.
    const chunk = Buffer.from(input.subarray(at, p));
    splitter.push(chunk);
    chunk.fill(0x7e);
    at = p;
  }
  splitter.end();
  return out;
}

/** The reference: split on \n, strip one \r, drop the empty tail after a final \n, BOM off line 1. */
function reference(input: Buffer, options: LineSplitterOptions): Out[] {
  const text = input.toString('latin1');
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((raw, i) => {
    let line = options.stripCr === false ? raw : raw.replace(/\r$/, '');
    if (i === 0 && line.startsWith('\u00ef\u00bb\u00bf')) line = line.slice(3);
    return line.length > options.maxLineBytes ? { overlong: line.length } : { line };
  });
}

describe('LineSplitter', () => {
  const cases: readonly { name: string; input: string; expected: Out[] }[] = [
    { name: 'empty input', input: '', expected: [] },
    { name: 'one line with newline', input: 'a\n', expected: [{ line: 'a' }] },
    { name: 'final line without newline', input: 'a\nb', expected: [{ line: 'a' }, { line: 'b' }] },
    { name: 'CRLF', input: 'a\r\nb\r\n', expected: [{ line: 'a' }, { line: 'b' }] },
    { name: 'blank lines', input: '\n\r\n\n', expected: [{ line: '' }, { line: '' }, { line: '' }] },
    { name: 'only one CR is stripped', input: 'a\r\r\n', expected: [{ line: 'a\r' }] },
    { name: 'BOM on the first line only', input: '\u00ef\u00bb\u00bfa\n\u00ef\u00bb\u00bfb\n', expected: [{ line: 'a' }, { line: '\u00ef\u00bb\u00bfb' }] },
    { name: 'NUL bytes stay in the line', input: '\0\0\n', expected: [{ line: '\0\0' }] },
    { name: 'overlong line between short ones', input: `a\n${'x'.repeat(20)}\nb\n`, expected: [{ line: 'a' }, { overlong: 20 }, { line: 'b' }] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const input = Buffer.from(c.input, 'latin1');
      expect(split(input, [], { maxLineBytes: 10 })).toEqual(c.expected);
      expect(split(input, [...Array(input.length).keys()], { maxLineBytes: 10 })).toEqual(c.expected);
      expect(split(input, [], { maxLineBytes: 10 }, true)).toEqual(c.expected);
      expect(split(input, [...Array(input.length).keys()], { maxLineBytes: 10 }, true)).toEqual(c.expected);
    });
  }

  it('matches the reference splitter for any content and any chunking (property)', () => {
    const content = fc.array(fc.constantFrom('a', 'b', '\n', '\r', '\0', '\u00ef', '\u00bb', '\u00bf', 'xxxxx'), { maxLength: 60 }).map((parts) => Buffer.from(parts.join(''), 'latin1'));
    fc.assert(
      fc.property(content, fc.array(fc.nat(), { maxLength: 8 }), fc.integer({ min: 0, max: 12 }), fc.boolean(), (input, cuts, max, stripCr) => {
        const options = { maxLineBytes: max, stripCr };
        expect(split(input, cuts, options)).toEqual(reference(input, options));
      }),
      { numRuns: 1000 },
    );
  });

  it('gives the same lines when the sink takes some lines itself (lineAt), for any content and chunking (property)', () => {
    // The sink must never be offered the first line (its byte order mark), a line continued from an
    // earlier chunk, or bytes past maxLineBytes: each would show here as a line unlike the reference's.
    const content = fc.array(fc.constantFrom('a', 'b', '\n', '\r', '\0', '\u00ef', '\u00bb', '\u00bf', 'xxxxx'), { maxLength: 60 }).map((parts) => Buffer.from(parts.join(''), 'latin1'));
    fc.assert(
      fc.property(content, fc.array(fc.nat(), { maxLength: 8 }), fc.integer({ min: 0, max: 12 }), fc.boolean(), (input, cuts, max, stripCr) => {
        const options = { maxLineBytes: max, stripCr };
        expect(split(input, cuts, options, true)).toEqual(reference(input, options));
      }),
      { numRuns: 1000 },
    );
  });

  it('drops a 10 MB line fed in small chunks without holding it', () => {
    const seen: Out[] = [];
    const splitter = new LineSplitter({ line: (b, s, e) => seen.push({ line: b.toString('latin1', s, e) }), overlong: (n) => seen.push({ overlong: n }) }, { maxLineBytes: 1024 });
    splitter.push(Buffer.from('first\n'));
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    for (let i = 0; i < 160; i++) splitter.push(chunk);
    splitter.push(Buffer.from('\nlast'));
    splitter.end();
    expect(seen).toEqual([{ line: 'first' }, { overlong: 160 * 64 * 1024 }, { line: 'last' }]);
    expect(splitter.lines).toBe(3);
  });
});
