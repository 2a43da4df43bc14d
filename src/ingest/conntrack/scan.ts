/**
 * Character-level helpers for the conntrack line parser. Conntrack lines are ASCII tokens
 * separated by spaces (the `%-8s` padding makes runs of them) and, after the `-o timestamp`
 * prefix, a tab; scanning with `charCodeAt` avoids a regular expression or array per token.
 */

/** Space, tab, CR, LF, VT, FF. */
export function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** Index of the first non-space character at or after `i`. */
export function skipSpaces(s: string, i: number, end: number): number {
  while (i < end && isSpace(s.charCodeAt(i))) i++;
  return i;
}

/** Index just past the token starting at `i`. */
export function tokenEnd(s: string, i: number, end: number): number {
  while (i < end && !isSpace(s.charCodeAt(i))) i++;
  return i;
}

/**
 * The unsigned decimal in `s[start, end)`, or -1 when it is empty, has a non-digit, or exceeds
 * `max` (kernel values are `%u` / `%llu`, never signed, never with a `+`).
 */
export function parseUint(s: string, start: number, end: number, max: number): number {
  if (start >= end || end - start > 20) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    value = value * 10 + c;
  }
  return value > max ? -1 : value;
}

/** Where the last `read*` call stopped: just past the token it read. */
export const cursor = { end: 0 };

/**
 * Like {@link parseUint} but for a value that runs from `start` to the next white space (or
 * `lineEnd`): one pass instead of finding the token end first. Sets `cursor.end`.
 */
export function readUint(s: string, start: number, lineEnd: number, max: number): number {
  let value = 0;
  let i = start;
  for (; i < lineEnd; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
    } else if (c === 32 || (c >= 9 && c <= 13)) {
      break;
    } else {
      cursor.end = tokenEnd(s, i, lineEnd);
      return -1;
    }
  }
  cursor.end = i;
  if (i === start || i - start > 20 || value > max) return -1;
  return value;
}

/** Up to 64 characters of `s[start, end)`, for skip details. */
export function excerpt(s: string, start: number, end: number): string {
  return end - start > 64 ? `${s.slice(start, start + 61)}...` : s.slice(start, end);
}
