/**
 * wire.ts against protobufjs's writer: every reader method gives the value written, for varints of
 * every length (the one- and two-byte fast paths and the general read), and every truncation of
 * a field throws WireError.
 */
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { FIXED32, FIXED64, LEN, VARINT, WireError, WireReader } from './wire.js';

const bytes = (write: (w: protobuf.Writer) => unknown): Buffer => {
  const w = protobuf.Writer.create();
  write(w);
  return Buffer.from(w.finish());
};
const reader = (buf: Buffer) => new WireReader(buf, 0, buf.length);

const U32 = [0, 1, 127, 128, 255, 300, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455, 268_435_456, 4_294_967_295];
const I32 = [0, 1, 127, 128, -1, -128, -2_147_483_648, 2_147_483_647, 65_535];
const I64 = [0, 1, 1_714_641_243, -62_135_596_800, 253_402_300_799, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];

describe('WireReader', () => {
  it.each(U32)('uint32 %d', (n) => expect(reader(bytes((w) => w.uint32(n))).uint32()).toBe(n));
  it.each(I32)('int32 %d (negative: a 10-byte varint)', (n) => expect(reader(bytes((w) => w.int32(n))).int32()).toBe(n));
  it.each(I64)('int64 %d', (n) => expect(reader(bytes((w) => w.int64(n))).int64()).toBe(n));
  it.each([0, 1, 2 ** 32, Number.MAX_SAFE_INTEGER])('uint64 %d', (n) => expect(reader(bytes((w) => w.uint64(n))).uint64()).toBe(n));
  it.each([true, false])('bool %s', (b) => expect(reader(bytes((w) => w.bool(b))).bool()).toBe(b));

  it.each([1, 15, 16, 100, 1000, 1001, 2047, 2048, 536_870_911])('tag of field %d, every wire type', (field) => {
    for (const wire of [VARINT, FIXED64, LEN, FIXED32]) expect(reader(bytes((w) => w.uint32((field << 3) | wire))).tag()).toBe(((field << 3) | wire) >>> 0);
  });

  it('tag is 0 at the end of the range and rejects field number 0 (one-byte and longer encodings)', () => {
    expect(new WireReader(Buffer.from([0x08]), 1, 1).tag()).toBe(0);
    for (const b of [[0x00], [0x02], [0x07], [0x80, 0x00], [0x85, 0x80, 0x00]]) expect(() => reader(Buffer.from(b)).tag()).toThrow(WireError);
  });

  it.each([0, 1, 127, 128, 300, 16_383, 16_384, 70_000])('range / string of %d bytes', (length) => {
    const text = 'é'.repeat(length >> 1) + 'x'.repeat(length & 1);
    const buf = bytes((w) => w.string(text).uint32(8));
    const r = reader(buf);
    expect(r.string()).toBe(text);
    expect(r.uint32()).toBe(8);
    expect(r.pos).toBe(buf.length);
    const s = reader(buf);
    const start = s.range();
    expect(s.pos - start).toBe(Buffer.byteLength(text));
  });

  it('skips every wire type and rejects groups', () => {
    const buf = bytes((w) => w.uint32(8).uint64(2 ** 40).uint32(9).fixed64(1).uint32(18).bytes(Buffer.alloc(200)).uint32(21).fixed32(7).uint32(16).uint32(5));
    const r = reader(buf);
    for (let tag = r.tag(); tag !== 0 && tag !== 16; tag = r.tag()) r.skip(tag & 7);
    expect(r.uint32()).toBe(5);
    expect(() => reader(Buffer.from([0x0b])).skip(3)).toThrow(WireError);
    expect(() => reader(Buffer.from([0x0c])).skip(4)).toThrow(WireError);
  });

  it('throws WireError for every truncation of a field (tags, varints, lengths, fixed values, a range past its message)', () => {
    const fields = [
      bytes((w) => w.uint32((1000 << 3) | 2).string('x'.repeat(300))),
      bytes((w) => w.uint32(8).int32(-5)),
      bytes((w) => w.uint32(9).fixed64(3)),
      bytes((w) => w.uint32(13).fixed32(3)),
      bytes((w) => w.uint32(18).string('abc')),
    ];
    for (const whole of fields) {
      for (let cut = 1; cut < whole.length; cut++) {
        const r = new WireReader(whole, 0, cut);
        expect(() => {
          for (let tag = r.tag(); tag !== 0; tag = r.tag()) r.skip(tag & 7);
        }, `${whole.toString('hex')} cut at ${cut}`).toThrow(WireError);
      }
    }
    expect(() => reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).uint64()).toThrow(WireError);
    // A length whose high bits are set (over 2^32) is past any message.
    expect(() => reader(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])).range()).toThrow(WireError);
  });
});
