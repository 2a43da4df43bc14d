/**
 * A minimal protobuf wire-format reader (https://protobuf.dev/programming-guides/encoding/): tags,
 * varints, fixed 32/64-bit values and length-delimited ranges over one Buffer, without allocating
 * per field. decode.ts uses it to read `observer.GetFlowsResponse` straight into hivewall's records.
 * Pure. Any structural error (truncated varint or range, group wire types, field number 0) throws
 * {@link WireError}.
 */

export class WireError extends Error {}

export const VARINT = 0;
export const FIXED64 = 1;
export const LEN = 2;
export const FIXED32 = 5;

const TWO_32 = 4_294_967_296;

/**
 * `buf.toString('utf8', start, end)` without its argument handling: Node's Buffer has the native
 * `utf8Slice` that toString ends in (same decoding, invalid sequences → U+FFFD), used when present.
 */
interface Utf8Sliceable {
  utf8Slice(start: number, end: number): string;
}
const utf8Slice: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as Partial<Utf8Sliceable>).utf8Slice === 'function'
    ? (buf, start, end) => (buf as unknown as Utf8Sliceable).utf8Slice(start, end)
    : (buf, start, end) => buf.toString('utf8', start, end);

/** Throws a {@link WireError} unless field `field` came with the wire type its schema gives it. */
export function want(field: number, wire: number, expected: number): void {
  if (wire !== expected) throw new WireError(`field ${field} has wire type ${wire}, expected ${expected}`);
}

export class WireReader {
  pos: number;
  end: number;
  /** The last varint's low and high 32 bits (set by {@link varint}). */
  lo = 0;
  hi = 0;

  constructor(
    public buf: Buffer,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  /** Reads `buf[start, end)` from now on (one reader serves many messages). */
  reset(buf: Buffer, start: number, end: number): void {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.lo = 0;
    this.hi = 0;
  }

  /** Reads a varint into {@link lo} / {@link hi} (up to 10 bytes). */
  varint(): void {
    const buf = this.buf;
    let lo = 0;
    let b: number;
    for (let shift = 0; shift < 28; shift += 7) {
      if (this.pos >= this.end) throw new WireError('truncated varint');
      b = buf[this.pos++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.lo = lo >>> 0;
        this.hi = 0;
        return;
      }
    }
    if (this.pos >= this.end) throw new WireError('truncated varint');
    b = buf[this.pos++]!;
    lo |= (b & 0x0f) << 28;
    let hi = (b & 0x7f) >> 4;
    if (b >= 0x80) {
      for (let shift = 3; ; shift += 7) {
        if (shift > 31) throw new WireError('varint longer than 10 bytes');
        if (this.pos >= this.end) throw new WireError('truncated varint');
        b = buf[this.pos++]!;
        hi |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /** A field's tag: `field << 3 | wireType`; 0 at the end of the range. */
  tag(): number {
    const pos = this.pos;
    if (pos >= this.end) return 0;
    const b = this.buf[pos]!;
    // One- and two-byte tags (fields 1..2047) are all hivewall reads: no general varint read.
    if (b >= 0x08 && b < 0x80) {
      this.pos = pos + 1;
      return b;
    }
    if (b >= 0x80 && pos + 1 < this.end) {
      const b1 = this.buf[pos + 1]!;
      if (b1 !== 0 && b1 < 0x80) {
        this.pos = pos + 2;
        return (b & 0x7f) | (b1 << 7);
      }
    }
    this.varint();
    const tag = this.lo;
    if (tag >>> 3 === 0) throw new WireError('field number 0');
    return tag;
  }

  uint32(): number {
    const pos = this.pos;
    if (pos < this.end && this.buf[pos]! < 0x80) {
      this.pos = pos + 1;
      return this.buf[pos]!;
    }
    this.varint();
    return this.lo;
  }

  /** int32 / enum: the low 32 bits, signed (negative values are sign-extended 10-byte varints). */
  int32(): number {
    const pos = this.pos;
    if (pos < this.end && this.buf[pos]! < 0x80) {
      this.pos = pos + 1;
      return this.buf[pos]!;
    }
    this.varint();
    return this.lo | 0;
  }

  /** int64 as a Number (exact within ±2^53). */
  int64(): number {
    this.varint();
    return (this.hi | 0) * TWO_32 + this.lo;
  }

  /** uint64 as a Number (exact below 2^53). */
  uint64(): number {
    this.varint();
    return this.hi * TWO_32 + this.lo;
  }

  bool(): boolean {
    this.varint();
    return this.lo !== 0 || this.hi !== 0;
  }

  /** A length-delimited field's range: returns its start; the reader moves past it ({@link end} of the field = the returned start + length). */
  range(): number {
    let length: number;
    const pos = this.pos;
    const buf = this.buf;
    // Lengths under 16 KiB (one or two bytes) without the general varint read.
    if (pos < this.end && buf[pos]! < 0x80) {
      length = buf[pos]!;
      this.pos = pos + 1;
    } else if (pos + 1 < this.end && buf[pos + 1]! < 0x80) {
      length = (buf[pos]! & 0x7f) | (buf[pos + 1]! << 7);
      this.pos = pos + 2;
    } else {
      this.varint();
      length = this.lo;
      if (this.hi !== 0) throw new WireError('length-delimited field past the end of its message');
    }
    if (length > this.end - this.pos) throw new WireError('length-delimited field past the end of its message');
    const start = this.pos;
    this.pos += length;
    return start;
  }

  /** A string field (UTF-8; invalid sequences become U+FFFD). */
  string(): string {
    const start = this.range();
    return utf8Slice(this.buf, start, this.pos);
  }

  /** Skips a field of this wire type. */
  skip(wireType: number): void {
    switch (wireType) {
      case VARINT:
        this.varint();
        return;
      case FIXED64:
        this.advance(8);
        return;
      case LEN:
        this.range();
        return;
      case FIXED32:
        this.advance(4);
        return;
      default:
        throw new WireError(`unsupported wire type ${wireType}`);
    }
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw new WireError('truncated fixed-width field');
    this.pos += n;
  }
}

/**
 * Fields 1 and 2 of a message that starts with two strings (flow.Workload: name, kind;
 * flow.Policy: name, namespace), each undefined when absent; every other field is skipped.
 */
export function firstTwoStrings(r: WireReader): [string | undefined, string | undefined] {
  let first: string | undefined;
  let second: string | undefined;
  for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) {
      want(field, wire, LEN);
      first = r.string();
    } else if (field === 2) {
      want(field, wire, LEN);
      second = r.string();
    } else r.skip(wire);
  }
  return [first, second];
}
