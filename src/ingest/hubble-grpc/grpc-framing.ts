/**
 * gRPC message framing (gRPC over HTTP/2, "Length-Prefixed-Message"): every message on a call's
 * DATA stream is a 1-byte Compressed-Flag, a 4-byte big-endian Message-Length and that many bytes.
 * HTTP/2 does not align DATA frames with messages, so one chunk may hold several messages and one
 * message (or its 5-byte prefix) may span several chunks. Pure.
 *
 * - {@link frameMessage}: prefixes an (uncompressed) request message.
 * - {@link MessageReader}: cuts the messages out of the incoming chunks. A message inside one chunk
 *   is handed on as its range of that chunk (no copy, no view object); only a message split across
 *   chunks is copied, into one buffer of its declared length.
 *
 * Rules enforced (each a {@link FramingError}): a Compressed-Flag of 1 (hivewall never sends
 * `grpc-accept-encoding`, so a compressed message is a protocol error), any other flag value, and a
 * Message-Length above the receive limit (gRPC's default is 4 MiB), checked before anything is
 * buffered.
 */

/** gRPC's default maximum received message size. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export const PREFIX_BYTES = 5;

/** A violation of the framing rules; `code` is the gRPC status it ends the call with. */
export class FramingError extends Error {
  constructor(
    message: string,
    readonly code: 'INTERNAL' | 'RESOURCE_EXHAUSTED',
  ) {
    super(message);
  }
}

/** `message` with its 5-byte prefix (Compressed-Flag 0). */
export function frameMessage(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, PREFIX_BYTES);
  return framed;
}

export class MessageReader {
  /** The prefix being read when it spans chunks (`prefixFill` bytes of it so far). */
  private readonly prefix = Buffer.alloc(PREFIX_BYTES);
  private prefixFill = 0;
  /** The message being assembled across chunks (`bodyFill` bytes of it so far). */
  private body: Buffer | undefined;
  private bodyFill = 0;

  constructor(
    /** One message: `buf[start, end)`. */
    private readonly onMessage: (buf: Buffer, start: number, end: number) => void,
    private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES,
  ) {}

  /** True between messages: nothing of a message is pending (a stream may end cleanly here). */
  get idle(): boolean {
    return this.prefixFill === 0 && this.body === undefined;
  }

  /**
   * Reads `chunk[start, end)`, calling `onMessage` for every message it completes. The chunk may be
   * overwritten once this returns: what it holds of an unfinished message is copied. Throws
   * {@link FramingError}.
   */
  push(chunk: Buffer, start = 0, end = chunk.length): void {
    let pos = start;
    if (this.body !== undefined) pos = this.continueBody(chunk, pos, end);
    while (pos < end) {
      let length: number;
      if (this.prefixFill === 0 && end - pos >= PREFIX_BYTES) {
        this.checkFlag(chunk[pos]!);
        length = chunk.readUInt32BE(pos + 1);
        pos += PREFIX_BYTES;
      } else {
        const take = Math.min(PREFIX_BYTES - this.prefixFill, end - pos);
        chunk.copy(this.prefix, this.prefixFill, pos, pos + take);
        this.prefixFill += take;
        pos += take;
        if (this.prefixFill < PREFIX_BYTES) return;
        this.prefixFill = 0;
        this.checkFlag(this.prefix[0]!);
        length = this.prefix.readUInt32BE(1);
      }
      if (length > this.maxMessageBytes) {
        throw new FramingError(`received message of ${length} bytes, more than the limit of ${this.maxMessageBytes}`, 'RESOURCE_EXHAUSTED');
      }
      if (end - pos >= length) {
        this.onMessage(chunk, pos, pos + length);
        pos += length;
      } else {
        this.body = Buffer.allocUnsafe(length);
        this.bodyFill = 0;
        pos = this.continueBody(chunk, pos, end);
      }
    }
  }

  /** Copies what `chunk[pos, end)` holds of the pending message; delivers it when complete. Returns the new position. */
  private continueBody(chunk: Buffer, pos: number, end: number): number {
    const body = this.body!;
    const take = Math.min(body.length - this.bodyFill, end - pos);
    chunk.copy(body, this.bodyFill, pos, pos + take);
    this.bodyFill += take;
    if (this.bodyFill === body.length) {
      this.body = undefined;
      this.onMessage(body, 0, body.length);
    }
    return pos + take;
  }

  private checkFlag(flag: number): void {
    if (flag === 0) return;
    if (flag === 1) throw new FramingError('received a compressed message, but no compression was negotiated', 'INTERNAL');
    throw new FramingError(`invalid Compressed-Flag ${flag} in a message prefix`, 'INTERNAL');
  }
}
