/**
 * Byte-level JSON (RFC 8259, the grammar `JSON.parse` accepts) for the fast Hubble scanner: byte
 * classes, literals, a validator that skips a whole value without building it, and a table that
 * matches ASCII member names without decoding them. Pure.
 */

/** Deeper nesting than this in a skipped value is left to `JSON.parse` (the caller's fallback). */
const MAX_DEPTH = 64;

// Byte values.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const PLUS = 0x2b;
const DOT = 0x2e;

const encoder = new TextEncoder();

/** The UTF-8 bytes of `text`. */
export function bytesOf(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * The index of the first byte at or after `p` that ends a plain run inside a JSON string: `"`,
 * `\\` or a control character (invalid raw, RFC 8259 §7). It does not stop at the caller's end: it
 * runs on to the next such byte, or past the end of `buf` (a typed array reads `undefined` there,
 * which stops it), so the caller compares the result with its own end. A line's `\n` is such a
 * byte, so on a line followed by its newline it stops there at the latest. One comparison per
 * byte and no bounds test is what makes this the fast path of every string the scanner skips or
 * matches.
 */
export function plainRunEnd(buf: Uint8Array, p: number): number {
  for (;;) {
    let c = buf[p];
    // Bytes from `#` up, except `\\`: the common case, in one tight loop.
    while (c! >= 0x23 && c !== BACKSLASH) c = buf[++p];
    // Space and `!` are plain too (below `"`, above the control characters).
    if (c !== 0x20 && c !== 0x21) return p;
    p++;
  }
}

/**
 * JSON whitespace as the scanner (scan.ts) and {@link skipJson} see it: space, tab, CR — and not
 * LF. A line never holds a `\n` (it ends there), so a value is never skipped across one: scan.ts's
 * `takeScannedLine` finds where a line ends by scanning it, and relies on that. A text with an LF
 * between its tokens goes to the full parser, which gives the same result.
 */
export const WHITESPACE = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0d]) WHITESPACE[c] = 1;

/**
 * Byte strings → small integer ids, matched without decoding (JSON names are ASCII): a hash slot
 * per (length, first byte), then a byte comparison.
 */
export class NameTable {
  private readonly heads = new Int16Array(64 * 128).fill(-1);
  private readonly names: Uint8Array[] = [];
  private readonly ids: number[] = [];
  private readonly next: number[] = [];
  private readonly byName = new Map<string, number>();

  constructor(entries: readonly (readonly [string, number])[]) {
    for (const [name, id] of entries) {
      const bytes = bytesOf(name);
      if (bytes.length === 0 || bytes.length >= 64) throw new Error(`name table: unsupported name ${JSON.stringify(name)}`);
      const slot = (bytes.length << 7) | (bytes[0]! & 127);
      this.names.push(bytes);
      this.ids.push(id);
      this.next.push(this.heads[slot]!);
      this.heads[slot] = this.names.length - 1;
      this.byName.set(name, id);
    }
  }

  /** The id of the name spelled by `buf[start, end)`, or -1. */
  match(buf: Uint8Array, start: number, end: number): number {
    const len = end - start;
    if (len === 0 || len >= 64) return -1;
    const first = buf[start]!;
    let e = this.heads[(len << 7) | (first & 127)]!;
    while (e >= 0) {
      const bytes = this.names[e]!;
      let i = 1;
      while (i < len && buf[start + i] === bytes[i]) i++;
      if (i === len && first === bytes[0]) return this.ids[e]!;
      e = this.next[e]!;
    }
    return -1;
  }

  /** The id of a decoded name, or -1. */
  get(name: string): number {
    return this.byName.get(name) ?? -1;
  }
}

export function startsWith(buf: Uint8Array, start: number, end: number, prefix: Uint8Array): boolean {
  if (end - start < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[start + i] !== prefix[i]) return false;
  return true;
}

const TRUE = bytesOf('true');
const FALSE = bytesOf('false');
const NULL = bytesOf('null');

export const SIMPLE_ESCAPES: Record<number, string> = { 0x22: '"', 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t' };

export function hexValue(c: number): number {
  if (c >= ZERO && c <= NINE) return c - ZERO;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** The index after the string whose opening quote is at `p`, validated; -1 when invalid. */
export function skipJsonString(buf: Uint8Array, p: number, end: number): number {
  p++;
  for (;;) {
    p = plainRunEnd(buf, p);
    if (p >= end) return -1;
    const c = buf[p]!;
    if (c === QUOTE) return p + 1;
    if (c !== BACKSLASH || p + 1 >= end) return -1;
    const e = buf[p + 1]!;
    if (e === 0x75) {
      if (p + 6 > end || hexValue(buf[p + 2]!) < 0 || hexValue(buf[p + 3]!) < 0 || hexValue(buf[p + 4]!) < 0 || hexValue(buf[p + 5]!) < 0) return -1;
      p += 6;
    } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
      p += 2;
    } else {
      return -1;
    }
  }
}

/** Containers open in {@link skipJson}: 1 object, 2 array. */
const SKIP_STACK = new Uint8Array(MAX_DEPTH);

/**
 * Validates the JSON value at `buf[p]` (after optional whitespace) without building it — RFC 8259
 * grammar, as `JSON.parse` accepts it — and returns the index after it, or -1 when it is not valid
 * (or nests deeper than {@link MAX_DEPTH}). One iterative loop over local variables: this is where
 * the bytes of the fields hivewall does not read go.
 */
export function skipJson(buf: Uint8Array, p: number, end: number): number {
  let depth = 0;
  for (;;) {
    // A value.
    while (p < end && WHITESPACE[buf[p]!] === 1) p++;
    if (p >= end) return -1;
    const c = buf[p]!;
    if (c === QUOTE) {
      p = skipJsonString(buf, p, end);
      if (p < 0) return -1;
    } else if (c === LBRACE || c === LBRACKET) {
      p++;
      while (p < end && WHITESPACE[buf[p]!] === 1) p++;
      if (p >= end) return -1;
      if (buf[p] === (c === LBRACE ? RBRACE : RBRACKET)) {
        p++;
      } else {
        if (depth >= MAX_DEPTH) return -1;
        SKIP_STACK[depth++] = c === LBRACE ? 1 : 2;
        if (c === LBRACE) {
          // The first key and its colon; the value follows.
          if (buf[p] !== QUOTE) return -1;
          p = skipJsonString(buf, p, end);
          if (p < 0) return -1;
          while (p < end && WHITESPACE[buf[p]!] === 1) p++;
          if (p >= end || buf[p] !== COLON) return -1;
          p++;
        }
        continue;
      }
    } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
      const word = c === 0x74 ? TRUE : c === 0x66 ? FALSE : NULL;
      if (p + word.length > end) return -1;
      for (let i = 1; i < word.length; i++) if (buf[p + i] !== word[i]) return -1;
      p += word.length;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      if (c === MINUS) p++;
      const first = p;
      while (p < end && buf[p]! >= ZERO && buf[p]! <= NINE) p++;
      if (p === first || (buf[first] === ZERO && p > first + 1)) return -1;
      if (p < end && buf[p] === DOT) {
        const fraction = ++p;
        while (p < end && buf[p]! >= ZERO && buf[p]! <= NINE) p++;
        if (p === fraction) return -1;
      }
      if (p < end && (buf[p] === 0x65 || buf[p] === 0x45)) {
        p++;
        if (p < end && (buf[p] === PLUS || buf[p] === MINUS)) p++;
        const exponent = p;
        while (p < end && buf[p]! >= ZERO && buf[p]! <= NINE) p++;
        if (p === exponent) return -1;
      }
    } else {
      return -1;
    }
    // After a value: close containers, or go on to the next member / element.
    for (;;) {
      if (depth === 0) return p;
      while (p < end && WHITESPACE[buf[p]!] === 1) p++;
      if (p >= end) return -1;
      const d = buf[p]!;
      const inObject = SKIP_STACK[depth - 1] === 1;
      if (d === COMMA) {
        p++;
        if (inObject) {
          while (p < end && WHITESPACE[buf[p]!] === 1) p++;
          if (p >= end || buf[p] !== QUOTE) return -1;
          p = skipJsonString(buf, p, end);
          if (p < 0) return -1;
          while (p < end && WHITESPACE[buf[p]!] === 1) p++;
          if (p >= end || buf[p] !== COLON) return -1;
          p++;
        }
        break;
      }
      if (d !== (inObject ? RBRACE : RBRACKET)) return -1;
      p++;
      depth--;
    }
  }
}

