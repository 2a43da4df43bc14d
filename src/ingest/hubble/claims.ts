/**
 * The table the threads of ./parallel.ts share to split one file's byte ranges between them: one
 * Int32 cell per range saying who parses it, claimed with a compare-and-swap so that a range goes
 * to exactly one thread, plus the calling thread's position (the range its sink needs next), a
 * stop flag and, per parser thread, a count of the batches it has posted. Lives in a
 * SharedArrayBuffer; waits and wake-ups are `Atomics.wait`/`Atomics.notify` on these cells.
 */

/** Nobody has claimed the range yet. */
const FREE = 0;
/** The calling thread (the one feeding the sink) parses the range. */
export const SELF = -1;

const DELIVERED = 0;
const STOP = 1;
const POSTED = 2;

export class ClaimBoard {
  /** Cells [0, ranges) are the claims; then the control cells. */
  private readonly cells: Int32Array;
  private readonly base: number;

  /** A board for `ranges` ranges and `parsers` parser threads (each 1-based: parser i claims as i). */
  static create(ranges: number, parsers: number): ClaimBoard {
    return new ClaimBoard(new SharedArrayBuffer((ranges + POSTED + parsers) * 4), ranges);
  }

  constructor(readonly buffer: SharedArrayBuffer, readonly ranges: number) {
    this.cells = new Int32Array(buffer);
    this.base = ranges;
  }

  /** Claims range `r` for `who` (SELF or a parser's number); false when someone has it already. */
  claim(r: number, who: number): boolean {
    return Atomics.compareExchange(this.cells, r, FREE, who) === FREE;
  }

  /** Who has range `r` (FREE, SELF or a parser's number). */
  owner(r: number): number {
    return Atomics.load(this.cells, r);
  }

  /** The range the sink needs next. */
  delivered(): number {
    return Atomics.load(this.cells, this.base + DELIVERED);
  }

  /** The sink needs range `r` next; parser threads waiting for room are woken. */
  setDelivered(r: number): void {
    Atomics.store(this.cells, this.base + DELIVERED, r);
    Atomics.notify(this.cells, this.base + DELIVERED);
  }

  /** Waits (at most `ms`) for the sink to move past range `r`. */
  waitDelivered(r: number, ms: number): void {
    Atomics.wait(this.cells, this.base + DELIVERED, r, ms);
  }

  stop(): void {
    Atomics.store(this.cells, this.base + STOP, 1);
    Atomics.notify(this.cells, this.base + STOP);
  }

  stopped(): boolean {
    return Atomics.load(this.cells, this.base + STOP) === 1;
  }

  /** Waits (at most `ms`) for {@link stop}. */
  waitStop(ms: number): void {
    Atomics.wait(this.cells, this.base + STOP, 0, ms);
  }

  /** How many batches parser `who` has posted. */
  posted(who: number): number {
    return Atomics.load(this.cells, this.base + POSTED + who - 1);
  }

  /** Parser `who` posted one more batch; wakes the calling thread if it waits for it. */
  notePosted(who: number): void {
    Atomics.add(this.cells, this.base + POSTED + who - 1, 1);
    Atomics.notify(this.cells, this.base + POSTED + who - 1);
  }

  /** Waits (at most `ms`) for parser `who` to post past `seen` batches; false when the time ran out. */
  waitPosted(who: number, seen: number, ms: number): boolean {
    return Atomics.wait(this.cells, this.base + POSTED + who - 1, seen, ms) !== 'timed-out';
  }
}
