/**
 * `google.protobuf.Timestamp` in protojson: "an RFC 3339 string ... Uses 'Z'-normalized UTC on output
 * with 0, 3, 6 or 9 fractional digits; offsets other than 'Z' are also accepted" — e.g.
 * `2024-05-02T09:14:03.512874321Z`. Parsed exactly (no `Date.parse` leniency) into epoch
 * milliseconds; digits beyond milliseconds are truncated. Pure.
 */

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/** Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's `days_from_civil`). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Reads `count` ASCII digits at `at`; -1 when any is not a digit. */
function digits(buf: Uint8Array, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const d = (buf[i] ?? 0) - 0x30;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/**
 * Parses `YYYY-MM-DDTHH:MM:SS[.F{1,9}](Z|±HH:MM)` in `buf[start, end)` to epoch milliseconds,
 * or undefined when the text is not such a timestamp (calendar-checked, year 0001–9999, second ≤ 59).
 */
export function parseTimestampBytes(buf: Uint8Array, start: number, end: number): number | undefined {
  const len = end - start;
  if (len < 20) return undefined;
  const year = digits(buf, start, 4);
  const month = digits(buf, start + 5, 2);
  const day = digits(buf, start + 8, 2);
  const hour = digits(buf, start + 11, 2);
  const minute = digits(buf, start + 14, 2);
  const second = digits(buf, start + 17, 2);
  if (
    buf[start + 4] !== 0x2d || buf[start + 7] !== 0x2d || buf[start + 10] !== 0x54 ||
    buf[start + 13] !== 0x3a || buf[start + 16] !== 0x3a
  ) return undefined;
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
    return undefined;
  }
  const monthDays = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1] ?? 0;
  if (day > monthDays) return undefined;
  let p = start + 19;
  let millis = 0;
  if (buf[p] === 0x2e) {
    p++;
    const fracStart = p;
    while (p < end && p - fracStart < 10) {
      const d = (buf[p] ?? 0) - 0x30;
      if (d < 0 || d > 9) break;
      if (p - fracStart < 3) millis = millis * 10 + d;
      p++;
    }
    const fracLen = p - fracStart;
    if (fracLen === 0 || fracLen > 9) return undefined;
    for (let i = fracLen; i < 3; i++) millis *= 10;
  }
  let offsetMinutes = 0;
  const zone = buf[p];
  if (zone === 0x5a && p + 1 === end) {
    // UTC
  } else if ((zone === 0x2b || zone === 0x2d) && p + 6 === end && buf[p + 3] === 0x3a) {
    const oh = digits(buf, p + 1, 2);
    const om = digits(buf, p + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return undefined;
    offsetMinutes = (zone === 0x2d ? -1 : 1) * (oh * 60 + om);
  } else {
    return undefined;
  }
  const days = daysFromCivil(year, month, day);
  const seconds = days * 86400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  return seconds * 1000 + millis;
}

/** {@link parseTimestampBytes} for a decoded string (non-ASCII text is never a timestamp). */
export function parseTimestamp(text: string): number | undefined {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return undefined;
    bytes[i] = c;
  }
  return parseTimestampBytes(bytes, 0, bytes.length);
}
