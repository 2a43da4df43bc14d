/**
 * HTTP/2 framing: the frame layout (RFC 9113 §4.1) and FrameReader over every way of cutting the
 * bytes into reads, with the read buffer overwritten after each read as the socket reader does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConnectionError, ErrorCode, Flag, FrameReader, FrameType, frame, goawayFrame, rstStreamFrame, settingsFrame, windowUpdateFrame } from './h2-frames.js';

interface Seen {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly payload: string;
}

/**
 * Feeds `bytes` cut at `at` through one reused read buffer (each piece copied in, pushed, then the
 * buffer scribbled over) and returns the frames, their payloads copied at delivery.
 */
function readThroughReusedBuffer(bytes: Buffer, at: readonly number[], maxFrameSize?: number): Seen[] {
  const seen: Seen[] = [];
  const reader = new FrameReader((type, flags, stream, buf, start, end) => seen.push({ type, flags, stream, payload: buf.toString('hex', start, end) }), maxFrameSize);
  const points = [...new Set(at)].filter((p) => p > 0 && p < bytes.length).sort((a, b) => a - b);
  const readBuffer = Buffer.alloc(bytes.length);
  let from = 0;
  for (const to of [...points, bytes.length]) {
    bytes.copy(readBuffer, 0, from, to);
    reader.push(readBuffer, 0, to - from);
    readBuffer.fill(0xee);
    from = to;
  }
  expect(reader.idle).toBe(true);
  return seen;
}

describe('frames', () => {
  it('lays out the 9-octet header: 24-bit length, type, flags, stream id with the reserved bit clear', () => {
    expect(frame(FrameType.DATA, Flag.END_STREAM, 0x8000_0001, Buffer.from('abc')).toString('hex')).toBe('000003000100000001616263');
    expect(settingsFrame([[2, 0], [4, 0x10_0000]]).toString('hex')).toBe('00000c040000000000' + '000200000000' + '000400100000');
    expect(windowUpdateFrame(1, 0x3f_0001).toString('hex')).toBe('000004080000000001003f0001');
    expect(rstStreamFrame(1, ErrorCode.CANCEL).toString('hex')).toBe('00000403000000000100000008');
    expect(goawayFrame(0, ErrorCode.PROTOCOL_ERROR).toString('hex')).toBe('0000080700000000000000000000000001');
  });
});

describe('FrameReader', () => {
  const frames = [
    frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(12, 1)),
    frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from('8288', 'hex')),
    frame(FrameType.DATA, 0, 1, Buffer.alloc(0)),
    frame(FrameType.DATA, Flag.PADDED, 1, Buffer.alloc(700, 7)),
    frame(FrameType.PING, Flag.ACK, 0, Buffer.alloc(8, 9)),
    frame(FrameType.DATA, Flag.END_STREAM, 3, Buffer.from('ff'.repeat(40), 'hex')),
  ];
  const bytes = Buffer.concat(frames);
  const want = frames.map((f) => ({ type: f[3]!, flags: f[4]!, stream: f.readUInt32BE(5), payload: f.toString('hex', 9) }));

  it('reads frames packed in one read, as ranges of it', () => {
    expect(readThroughReusedBuffer(bytes, [])).toEqual(want);
  });

  it('gives the same frames for every way of cutting the bytes, one byte at a time included, with the read buffer reused', () => {
    expect(readThroughReusedBuffer(bytes, Array.from({ length: bytes.length }, (_, i) => i))).toEqual(want);
    fc.assert(fc.property(fc.array(fc.nat(bytes.length), { maxLength: 20 }), (at) => {
      expect(readThroughReusedBuffer(bytes, at)).toEqual(want);
    }));
  });

  it('rejects a frame above SETTINGS_MAX_FRAME_SIZE from its header alone (FRAME_SIZE_ERROR)', () => {
    const big = frame(FrameType.DATA, 0, 1, Buffer.alloc(101));
    expect(() => readThroughReusedBuffer(big.subarray(0, 9), [], 100)).toThrow(ConnectionError);
    expect(() => readThroughReusedBuffer(big.subarray(0, 9), [4], 100)).toThrow(expect.objectContaining({ code: ErrorCode.FRAME_SIZE_ERROR }));
    expect(readThroughReusedBuffer(frame(FrameType.DATA, 0, 1, Buffer.alloc(100)), [50], 100)).toHaveLength(1);
  });

  it('is not idle inside a frame', () => {
    const reader = new FrameReader(() => undefined);
    reader.push(bytes, 0, 12);
    expect(reader.idle).toBe(false);
  });
});
