/**
 * A byte-level line splitter for line-oriented flow sources (Hubble NDJSON, conntrack text): splits
 * chunks on `\n` without decoding them, hands each line over as a `(buffer, start, end)` range of the
 * chunk it came in (no copy unless a line spans chunks), strips one trailing `\r` (CRLF files), and
 * never holds more than `maxLineBytes` (+2) of a line: a longer line is counted and dropped unread,
 * so a 10 MB line (or a file with no newline at all) costs no more memory than the limit.
 *
 * The final line is emitted at {@link LineSplitter.end} even without a trailing newline; a file that
 * ends with `\n` has no extra empty last line. Pure (no I/O): feed it chunks from any stream.
 */
import { Buffer } from 'node:buffer';

const LF = 0x0a;
const CR = 0x0d;

export interface LineSink {
  /**
   * One complete line: `buf[start, end)`, without `\n` (and `\r`). The bytes are valid only during
   * the call: the buffer is reused for later chunks.
   */
  line(buf: Buffer, start: number, end: number): void;
  /** A line of `bytes` bytes (more than `maxLineBytes`) was dropped unread. */
  overlong(bytes: number): void;
  /**
   * Optional fast path for a line that starts at `buf[start]` (not the first line, and not one
   * continued from an earlier chunk): handle it whole and return the index of its `\n`, found
   * within `buf[start, limit)`, or return -1 and leave it to `line()`. A line it handles is at most
   * `maxLineBytes` long: `limit` is never past that. A `\n` always lies at or after `limit - 1`
   * in `buf`, so a parser that stops at every `\n` never reads past the end of `buf`. For a parser
   * that finds where a line ends while it parses it, instead of a newline search per line
   * (src/ingest/hubble/scan.ts).
   */
  lineAt?(buf: Buffer, start: number, limit: number): number;
}

export interface LineSplitterOptions {
  /** Longest line handed to `line()`; longer lines go to `overlong()`. */
  readonly maxLineBytes: number;
  /** Strip one trailing `\r` from each line (default true). */
  readonly stripCr?: boolean;
  /** Drop a UTF-8 byte order mark at the start of the first line (default true). */
  readonly stripBom?: boolean;
}

export class LineSplitter {
  private readonly max: number;
  private readonly stripCr: boolean;
  private stripBom: boolean;
  /** The start of a line that spans chunks; `carryLength` bytes of it are in `carry`. */
  private carry: Buffer = Buffer.alloc(0);
  private carryLength = 0;
  /** Bytes of the current line seen so far while it is being dropped (-1: not dropping). */
  private dropped = -1;
  /** Whether the dropped line's last byte so far is `\r` (not counted when stripped). */
  private droppedCr = false;
  private count = 0;

  constructor(
    private readonly sink: LineSink,
    options: LineSplitterOptions,
  ) {
    this.max = options.maxLineBytes;
    this.stripCr = options.stripCr ?? true;
    this.stripBom = options.stripBom ?? true;
  }

  /** Lines completed so far (including dropped ones). */
  get lines(): number {
    return this.count;
  }

  push(chunk: Buffer): void {
    let start = 0;
    const length = chunk.length;
    if (this.dropped >= 0 || this.carryLength > 0) {
      const nl = chunk.indexOf(LF);
      if (nl < 0) {
        this.append(chunk, 0, length);
        return;
      }
      this.append(chunk, 0, nl);
      this.finishCarried();
      start = nl + 1;
    }
    const lineAt = this.sink.lineAt;
    // lineAt is offered only lines that end in this chunk, and never bytes past its last `\n`: a
    // parser that stops at a `\n` then never reads past the chunk.
    const lastLf = lineAt === undefined ? -1 : chunk.lastIndexOf(LF);
    while (start < length) {
      // The first line goes the usual way (its byte order mark is stripped there).
      if (lineAt !== undefined && start <= lastLf && !this.stripBom) {
        const end = lineAt.call(this.sink, chunk, start, Math.min(lastLf + 1, start + this.max + 1));
        if (end >= 0) {
          this.count++;
          start = end + 1;
          continue;
        }
      }
      const nl = chunk.indexOf(LF, start);
      if (nl < 0) {
        this.append(chunk, start, length);
        return;
      }
      this.emit(chunk, start, nl);
      start = nl + 1;
    }
  }

  /** Emits the last line when the input did not end with a newline. */
  end(): void {
    if (this.dropped >= 0 || this.carryLength > 0) this.finishCarried();
  }

  private emit(buf: Buffer, start: number, end: number): void {
    this.count++;
    if (this.stripCr && end > start && buf[end - 1] === CR) end--;
    if (this.stripBom) {
      this.stripBom = false;
      if (end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
    }
    if (end - start > this.max) this.sink.overlong(end - start);
    else this.sink.line(buf, start, end);
  }

  /** Adds `chunk[start, end)` to the line in progress, switching to dropping once it is too long. */
  private append(chunk: Buffer, start: number, end: number): void {
    const n = end - start;
    if (this.dropped >= 0) {
      this.dropped += n;
      if (n > 0) this.droppedCr = chunk[end - 1] === CR;
      return;
    }
    const needed = this.carryLength + n;
    // A line of `max` bytes may still come with its `\r`, and the first line with a BOM.
    if (needed > this.max + (this.stripBom ? 4 : 1)) {
      let bom = false;
      if (this.stripBom) {
        const at = (i: number) => (i < this.carryLength ? this.carry[i] : chunk[start + i - this.carryLength]);
        bom = at(0) === 0xef && at(1) === 0xbb && at(2) === 0xbf;
        this.stripBom = false;
      }
      this.dropped = needed - (bom ? 3 : 0);
      this.droppedCr = n > 0 ? chunk[end - 1] === CR : this.carry[this.carryLength - 1] === CR;
      this.carryLength = 0;
      this.carry = Buffer.alloc(0);
      return;
    }
    if (needed > this.carry.length) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(needed, this.carry.length * 2, 64 * 1024), this.max + 4));
      this.carry.copy(grown, 0, 0, this.carryLength);
      this.carry = grown;
    }
    chunk.copy(this.carry, this.carryLength, start, end);
    this.carryLength = needed;
  }

  private finishCarried(): void {
    if (this.dropped >= 0) {
      const bytes = this.dropped - (this.stripCr && this.droppedCr ? 1 : 0);
      this.dropped = -1;
      this.count++;
      this.sink.overlong(bytes);
      return;
    }
    const length = this.carryLength;
    this.carryLength = 0;
    this.emit(this.carry, 0, length);
  }
}
