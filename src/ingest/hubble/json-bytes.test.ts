import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainRunEnd, skipJson, skipJsonString } from './json-bytes.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');

/** Whether JSON.parse accepts `text` as a whole document. */
function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('plainRunEnd', () => {
  it('stops at a quote, a backslash or a control character, and passes space and !', () => {
    expect(plainRunEnd(bytes('ab c!d"x'), 0)).toBe(6);
    expect(plainRunEnd(bytes('abc\\n"'), 0)).toBe(3);
    expect(plainRunEnd(bytes('ab\tc"'), 0)).toBe(2);
    expect(plainRunEnd(bytes('é ü"'), 0)).toBe(5);
  });

  it('runs to the end of the buffer when nothing stops it', () => {
    expect(plainRunEnd(bytes('abc'), 0)).toBe(3);
    expect(plainRunEnd(bytes('a b '), 1)).toBe(4);
  });
});

describe('skipJsonString / skipJson at the end of a line', () => {
  it('rejects a string that only closes after the line end', () => {
    // The line is `"abc` (end 4); the bytes after it belong to another line.
    const buf = bytes('"abc" tail"');
    expect(skipJsonString(buf, 0, 4)).toBe(-1);
    expect(skipJsonString(buf, 0, 5)).toBe(5);
    expect(skipJson(buf, 0, 4)).toBe(-1);
  });

  it('rejects a string that runs off the end of its buffer', () => {
    expect(skipJsonString(bytes('"abc'), 0, 4)).toBe(-1);
    expect(skipJson(bytes('{"a":"b'), 0, 7)).toBe(-1);
  });

  it('accepts a string exactly when JSON.parse does, whatever follows the line end', () => {
    const chars = fc.constantFrom('a', 'Z', ' ', '!', '#', '"', '\\', 'n', 'u', '0', 'F', '\t', '\n', '\u0001', 'é', '€');
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 12 }), fc.array(chars, { maxLength: 6 }), (inner, after) => {
        const line = `"${inner.join('')}"`;
        const buf = bytes(line + after.join(''));
        const end = Buffer.byteLength(line);
        const p = skipJsonString(buf, 0, end);
        // A string that ends before the line does is valid when JSON.parse takes that prefix.
        if (p >= 0) expect(parses(buf.toString('utf8', 0, p))).toBe(true);
        if (parses(line)) expect(p).toBe(end);
        if (p === end) expect(parses(line)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
