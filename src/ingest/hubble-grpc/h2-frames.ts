/**
 * HTTP/2 framing (RFC 9113 §4, §6): the frame types, flags and error codes a client uses, the
 * frames it writes, and {@link FrameReader}, which cuts the frames out of the bytes read from the
 * connection. Pure.
 */

export const CONNECTION_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FRAME_HEADER_BYTES = 9;
/** SETTINGS_MAX_FRAME_SIZE's initial value, and the largest frame a client that never raises it receives. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
/** Flow-control windows start at 65,535 (§6.9.2) and may not exceed 2^31 - 1 (§6.9.1). */
export const DEFAULT_WINDOW = 65_535;
export const MAX_WINDOW = 0x7fff_ffff;

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** A violation of HTTP/2 by the peer that ends the connection with `code` (a connection error, §5.4.1). */
export class ConnectionError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** One frame: 9-byte header (24-bit length, type, flags, 31-bit stream id) and payload. */
export function frame(type: number, flags: number, streamId: number, payload: Uint8Array = EMPTY): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId & MAX_WINDOW, 5);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

const EMPTY = Buffer.alloc(0);

export function settingsFrame(settings: readonly (readonly [id: number, value: number])[]): Buffer {
  const payload = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, payload);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment, 0);
  return frame(FrameType.WINDOW_UPDATE, 0, streamId, payload);
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(code, 0);
  return frame(FrameType.RST_STREAM, 0, streamId, payload);
}

export function goawayFrame(lastStreamId: number, code: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeUInt32BE(lastStreamId, 0);
  payload.writeUInt32BE(code, 4);
  return frame(FrameType.GOAWAY, 0, 0, payload);
}

/**
 * Receives each complete frame: its payload is `buf[start, end)`, valid only during the call
 * (`buf` is reused afterwards; copy what is kept).
 */
export type FrameHandler = (type: number, flags: number, streamId: number, buf: Buffer, start: number, end: number) => void;

/**
 * Cuts frames out of the connection's bytes. A frame inside one chunk is handed on as a range of
 * that chunk; the bytes of a frame that spans chunks are collected in a buffer of its own. The
 * chunk may be overwritten once {@link push} returns (a socket read buffer that is reused): what
 * it holds of an unfinished frame is copied. A frame longer than `maxFrameSize` (the
 * SETTINGS_MAX_FRAME_SIZE this side announced) is a FRAME_SIZE_ERROR (§4.2).
 */
export class FrameReader {
  /** An unfinished frame: its bytes so far (header first). */
  private readonly partial: Buffer;
  private partialFill = 0;

  constructor(
    private readonly onFrame: FrameHandler,
    private readonly maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
  ) {
    this.partial = Buffer.allocUnsafe(FRAME_HEADER_BYTES + maxFrameSize);
  }

  /** True between frames. */
  get idle(): boolean {
    return this.partialFill === 0;
  }

  /** Reads `chunk[start, end)`, calling the handler for every frame it completes. Throws {@link ConnectionError}. */
  push(chunk: Buffer, start = 0, end = chunk.length): void {
    let pos = start;
    if (this.partialFill > 0) {
      pos = this.continuePartial(chunk, pos, end);
      if (this.partialFill > 0) return;
    }
    while (end - pos >= FRAME_HEADER_BYTES) {
      const length = (chunk[pos]! << 16) | (chunk[pos + 1]! << 8) | chunk[pos + 2]!;
      this.checkLength(length);
      const payloadStart = pos + FRAME_HEADER_BYTES;
      if (end - payloadStart < length) break;
      this.onFrame(chunk[pos + 3]!, chunk[pos + 4]!, chunk.readUInt32BE(pos + 5) & MAX_WINDOW, chunk, payloadStart, payloadStart + length);
      pos = payloadStart + length;
    }
    if (pos < end) {
      chunk.copy(this.partial, 0, pos, end);
      this.partialFill = end - pos;
    }
  }

  /** Adds to the unfinished frame from `chunk[pos, end)`; delivers it once complete. Returns the new position. */
  private continuePartial(chunk: Buffer, pos: number, end: number): number {
    const partial = this.partial;
    if (this.partialFill < FRAME_HEADER_BYTES) {
      const take = Math.min(FRAME_HEADER_BYTES - this.partialFill, end - pos);
      chunk.copy(partial, this.partialFill, pos, pos + take);
      this.partialFill += take;
      pos += take;
      if (this.partialFill < FRAME_HEADER_BYTES) return pos;
    }
    const length = (partial[0]! << 16) | (partial[1]! << 8) | partial[2]!;
    this.checkLength(length);
    const total = FRAME_HEADER_BYTES + length;
    const take = Math.min(total - this.partialFill, end - pos);
    chunk.copy(partial, this.partialFill, pos, pos + take);
    this.partialFill += take;
    pos += take;
    if (this.partialFill === total) {
      this.partialFill = 0;
      this.onFrame(partial[3]!, partial[4]!, partial.readUInt32BE(5) & MAX_WINDOW, partial, FRAME_HEADER_BYTES, total);
    }
    return pos;
  }

  private checkLength(length: number): void {
    if (length > this.maxFrameSize) throw new ConnectionError(`frame of ${length} bytes, above SETTINGS_MAX_FRAME_SIZE ${this.maxFrameSize}`, ErrorCode.FRAME_SIZE_ERROR);
  }
}
