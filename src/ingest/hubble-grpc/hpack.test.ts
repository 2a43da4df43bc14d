/**
 * HPACK: the examples of RFC 7541 Appendix C (each series decoded on one decoder, so later blocks
 * rely on the dynamic table the earlier ones built and evicted), the table's contents afterwards
 * read back through indexed fields, every error path, and the request encoder read back. The
 * decoder against a real encoder (nghttp2's, with its own table and Huffman choices) is in
 * http2-stream.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HpackDecoder, HpackError, encodeHeaderBlock, huffmanDecode, type HeaderField } from './hpack.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

interface Step {
  readonly block: string;
  readonly fields: HeaderField[];
  /** The dynamic table afterwards, newest first (RFC 7541's listing). */
  readonly table: HeaderField[];
}

/** Decodes the series on one decoder; after each step reads the whole dynamic table back (indexes 62..) and checks that the next index is beyond it. */
function series(size: number, steps: readonly Step[]): void {
  const decoder = new HpackDecoder(size);
  for (const step of steps) {
    expect(decoder.decode(hex(step.block))).toEqual(step.fields);
    // An indexed field (§6.1) per dynamic entry: 0x80 | index, one octet up to 126.
    const indexes = step.table.map((_, i) => 0x80 | (62 + i));
    expect(decoder.decode(Buffer.from(indexes))).toEqual(step.table);
    expect(() => decoder.decode(Buffer.from([0x80 | (62 + step.table.length)]))).toThrow(/beyond the dynamic table/);
  }
}

const REQUESTS: readonly HeaderField[][] = [
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
  [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
];
const REQUEST_TABLES: readonly HeaderField[][] = [
  [[':authority', 'www.example.com']],
  [['cache-control', 'no-cache'], [':authority', 'www.example.com']],
  [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']],
];
const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const RESPONSES: readonly HeaderField[][] = [
  [[':status', '302'], ['cache-control', 'private'], ['date', DATE1], ['location', 'https://www.example.com']],
  [[':status', '307'], ['cache-control', 'private'], ['date', DATE1], ['location', 'https://www.example.com']],
  [[':status', '200'], ['cache-control', 'private'], ['date', DATE2], ['location', 'https://www.example.com'], ['content-encoding', 'gzip'], ['set-cookie', COOKIE]],
];
const RESPONSE_TABLES: readonly HeaderField[][] = [
  [['location', 'https://www.example.com'], ['date', DATE1], ['cache-control', 'private'], [':status', '302']],
  [[':status', '307'], ['location', 'https://www.example.com'], ['date', DATE1], ['cache-control', 'private']],
  [['set-cookie', COOKIE], ['content-encoding', 'gzip'], ['date', DATE2]],
];
const steps = (blocks: string[], fields: readonly HeaderField[][], tables: readonly HeaderField[][]): Step[] =>
  blocks.map((block, i) => ({ block, fields: fields[i]!, table: tables[i]! }));

describe('HpackDecoder: RFC 7541 Appendix C', () => {
  it('C.3 requests without Huffman coding', () => {
    series(4096, steps([
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ], REQUESTS, REQUEST_TABLES));
  });

  it('C.4 requests with Huffman coding', () => {
    series(4096, steps([
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
      '8286 84be 5886 a8eb 1064 9cbf',
      '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
    ], REQUESTS, REQUEST_TABLES));
  });

  it('C.5 responses without Huffman coding, evicting within a 256-octet table', () => {
    series(256, steps([
      `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
       2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
      '4803 3330 37c1 c0bf',
      `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
       54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
       5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
    ], RESPONSES, RESPONSE_TABLES));
  });

  it('C.6 responses with Huffman coding, evicting within a 256-octet table', () => {
    series(256, steps([
      `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
       2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
      '4883 640e ffc1 c0bf',
      `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
       77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
       9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
    ], RESPONSES, RESPONSE_TABLES));
  });
});

describe('HpackDecoder: tables and limits', () => {
  it('a literal never indexed / without indexing does not enter the table; one with indexing does', () => {
    const decoder = new HpackDecoder();
    // 0x10: never indexed, new name; 0x00: without indexing, new name.
    expect(decoder.decode(hex('1003 6162 6301 78 0003 6465 6601 79'))).toEqual([['abc', 'x'], ['def', 'y']]);
    expect(() => decoder.decode(Buffer.from([0x80 | 62]))).toThrow(HpackError);
    // 0x41: with incremental indexing, the name by static index 1 (:authority).
    expect(decoder.decode(hex('4101 61'))).toEqual([[':authority', 'a']]);
    expect(decoder.decode(Buffer.from([0x80 | 62]))).toEqual([[':authority', 'a']]);
  });

  it('a size update shrinks the table (evicting) and must come first in its block', () => {
    const decoder = new HpackDecoder(4096);
    decoder.decode(hex('4101 61 4101 62')); // two entries of 33 + 32 octets: [b, a]
    expect(decoder.decode(Buffer.from([0x80 | 62, 0x80 | 63]))).toEqual([[':authority', 'b'], [':authority', 'a']]);
    // 0x3f 0x0b: a size update to 31 + 11 = 42 octets; each entry counts 10 + 1 + 32 = 43, so none stays.
    expect(decoder.decode(hex('3f0b'))).toEqual([]);
    expect(() => decoder.decode(Buffer.from([0x80 | 62]))).toThrow(/beyond the dynamic table/);
    expect(() => decoder.decode(hex('82 3f0b'))).toThrow(/size update after a header field/);
    expect(() => decoder.decode(hex('3fe21f'))).toThrow(/above the announced 4096/); // 31 + 0x62 + 0x1f·128 = 4097
  });

  it('an entry larger than the whole table empties it and is not added', () => {
    const decoder = new HpackDecoder(64);
    decoder.decode(hex('4101 61')); // 43 octets
    const long = 'x'.repeat(40); // ':authority' 10 + 40 + 32 = 82 > 64
    expect(decoder.decode(Buffer.concat([hex('41 28'), Buffer.from(long)]))).toEqual([[':authority', long]]);
    expect(() => decoder.decode(Buffer.from([0x80 | 62]))).toThrow(/beyond the dynamic table/);
  });

  it.each([
    ['index 0', '80', /index 0/],
    ['an index past the static table with an empty dynamic table', 'be', /beyond the dynamic table/],
    ['a string running past the block', '0003 6162', /runs past/],
    ['a block ending inside an integer', 'ff', /inside an integer/],
    ['an integer too large', 'ff ffffffff7f', /too large/],
    ['Huffman padding of 8 bits or more', '0081 ff', /padding/],
    ['Huffman padding with a zero bit ("a" is 00011, then 110)', '0081 1e', /padding/],
    ['EOS inside a Huffman string', '0084 ffffffff', /EOS/],
  ])('rejects %s', (_, block, message) => {
    expect(() => new HpackDecoder().decode(hex(block))).toThrow(message);
  });

  it('rejects a header list above its limit, counting 32 octets per field', () => {
    const decoder = new HpackDecoder(4096, 100);
    expect(decoder.decode(hex('000161 0178 000162 0179'))).toHaveLength(2); // 2 × (1 + 1 + 32)
    expect(() => decoder.decode(hex('000161 0178 000162 0179 000163 017a'))).toThrow(/header list larger than 100/);
  });
});

describe('encodeHeaderBlock', () => {
  it('writes literals without indexing, new names, raw strings (RFC 7541 §6.2.2)', () => {
    expect(encodeHeaderBlock([['te', 'trailers']]).toString('hex')).toBe('00027465087472' + '61696c657273');
  });

  it('reads back as the same fields, long lengths (multi-octet integers) included, and leaves the table empty', () => {
    const text = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 300 });
    fc.assert(fc.property(fc.array(fc.tuple(text, text), { maxLength: 8 }), (fields) => {
      const decoder = new HpackDecoder();
      expect(decoder.decode(encodeHeaderBlock(fields))).toEqual(fields);
      expect(() => decoder.decode(Buffer.from([0x80 | 62]))).toThrow(HpackError);
    }));
  });
});

describe('huffmanDecode', () => {
  it('decodes the RFC 7541 C.4.1 string', () => {
    const bytes = hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff');
    expect(huffmanDecode(bytes, 0, bytes.length)).toBe('www.example.com');
  });
});
