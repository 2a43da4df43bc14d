/**
 * IP address validation and canonical text form for conntrack tuples.
 *
 * - IPv4: `inet_ntoa()` (conntrack-tools) and `%pI4` (kernel /proc) both print a plain dotted quad;
 *   anything else (leading zeros, octets > 255, missing octets) is rejected.
 * - IPv6: conntrack-tools prints `inet_ntop()` output (compressed), but /proc/net/nf_conntrack uses
 *   the kernel's `%pI6`, which prints all eight groups zero-padded
 *   (`fd00:0010:0244:0000:0000:0000:0000:0005`). Both are turned into the RFC 5952 §4 canonical
 *   form (lower case, no leading zeros, the longest run of two or more zero groups shortened to
 *   `::`, the first on a tie) with IPv4-mapped addresses in RFC 5952 §5 dotted form
 *   (`::ffff:10.0.0.1`) — the same text Go's `netip.Addr.String()` gives, hence the same as Hubble.
 */

import { cursor, tokenEnd } from './scan.js';

const CACHE_LIMIT = 4096;
const V4_CACHE_LIMIT = 65536;
/** Raw IPv6 text → canonical text. Conntrack tables repeat the same few addresses on every line. */
const v6Cache = new Map<string, string>();

/** Dotted quad by its 32-bit value: the same few hundred addresses fill a conntrack table. */
const v4Cache = new Map<number, string>();

/**
 * Reads the IPv4 address starting at `start` and running to the next white space (or `lineEnd`),
 * sets `cursor.end` past it, and returns its canonical text (interned: repeated addresses share one
 * string) or `undefined` if it is not a plain dotted quad.
 */
export function readIPv4(s: string, start: number, lineEnd: number): string | undefined {
  let dots = 0;
  let digits = 0;
  let octet = 0;
  let value = 0;
  let i = start;
  for (; i < lineEnd; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 1 && octet === 0) break; // leading zero: ambiguous (octal in inet_aton)
      octet = octet * 10 + (c - 48);
      if (octet > 255) break;
      digits++;
    } else if (c === 46) {
      if (digits === 0 || dots === 3) break;
      value = value * 256 + octet;
      dots++;
      digits = 0;
      octet = 0;
    } else if (c === 32 || (c >= 9 && c <= 13)) {
      cursor.end = i;
      return finishIPv4(s, start, i, dots, digits, value * 256 + octet);
    } else {
      break;
    }
  }
  if (i === lineEnd) {
    cursor.end = i;
    return finishIPv4(s, start, i, dots, digits, value * 256 + octet);
  }
  cursor.end = tokenEnd(s, i, lineEnd);
  return undefined;
}

function finishIPv4(s: string, start: number, end: number, dots: number, digits: number, value: number): string | undefined {
  if (dots !== 3 || digits === 0) return undefined;
  const hit = v4Cache.get(value);
  if (hit !== undefined) return hit;
  const text = start === 0 && end === s.length ? s : s.slice(start, end);
  if (v4Cache.size >= V4_CACHE_LIMIT) v4Cache.clear();
  v4Cache.set(value, text);
  return text;
}

/** The address in `s[start, end)` as a canonical IPv4 string, or `undefined` if it is not one. */
export function parseIPv4(s: string, start = 0, end = s.length): string | undefined {
  const text = readIPv4(s, start, end);
  return text !== undefined && cursor.end === end ? text : undefined;
}

const groups = new Uint16Array(8);

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Parses `s[start, end)` into `groups`; false when it is not an IPv6 address. */
function parseIPv6Groups(s: string, start: number, end: number): boolean {
  let n = 0; // groups written
  let gap = -1; // index in groups where `::` was
  let i = start;
  if (end - start < 2) return false;
  if (s.charCodeAt(i) === 58) {
    if (s.charCodeAt(i + 1) !== 58) return false; // a lone leading ':'
    gap = 0;
    i += 2;
    if (i === end) {
      groups.fill(0);
      return true;
    }
  }
  while (i < end) {
    if (n === 8) return false;
    // one group: 1–4 hex digits, or a trailing dotted IPv4 worth two groups
    let value = 0;
    let digits = 0;
    const groupStart = i;
    while (i < end) {
      const h = hexValue(s.charCodeAt(i));
      if (h < 0) break;
      value = value * 16 + h;
      digits++;
      i++;
    }
    if (i < end && s.charCodeAt(i) === 46) {
      const v4 = parseIPv4(s, groupStart, end);
      if (v4 === undefined || n > 6) return false;
      let a = 0;
      let octet = 0;
      for (let k = groupStart; k <= end; k++) {
        const c = k < end ? s.charCodeAt(k) : 46;
        if (c === 46) {
          a = a * 256 + octet;
          octet = 0;
        } else {
          octet = octet * 10 + (c - 48);
        }
      }
      groups[n++] = Math.floor(a / 65536);
      groups[n++] = a % 65536;
      break; // the dotted quad ran to the end (parseIPv4 checked)
    }
    if (digits === 0 || digits > 4) return false;
    groups[n++] = value;
    if (i === end) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < end && s.charCodeAt(i) === 58) {
      if (gap >= 0) return false; // a second `::`
      gap = n;
      i++;
    } else if (i === end) {
      return false; // a trailing single ':'
    }
  }
  if (gap < 0) return n === 8;
  if (n === 8) return false; // `::` must stand for at least one group
  const tail = n - gap;
  for (let k = 0; k < tail; k++) groups[7 - k] = groups[n - 1 - k] as number;
  for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  return true;
}

/** RFC 5952 text of `groups`. */
function formatGroups(): string {
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    const hi = groups[6] as number;
    const lo = groups[7] as number;
    return `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never shortened (RFC 5952 §4.2.2)
  for (let k = 0; k < 8; ) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && groups[e] === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  let out = '';
  for (let k = 0; k < 8; k++) {
    if (k === bestStart) {
      out += '::';
      k += bestLen - 1;
      continue;
    }
    if (out.length > 0 && !out.endsWith(':')) out += ':';
    out += (groups[k] as number).toString(16);
  }
  return out;
}

/** The address in `s[start, end)` as a canonical (RFC 5952) IPv6 string, or `undefined`. */
export function parseIPv6(s: string, start = 0, end = s.length): string | undefined {
  const raw = start === 0 && end === s.length ? s : s.slice(start, end);
  const hit = v6Cache.get(raw);
  if (hit !== undefined) return hit;
  if (!parseIPv6Groups(raw, 0, raw.length)) return undefined;
  const canonical = formatGroups();
  if (v6Cache.size >= CACHE_LIMIT) v6Cache.clear();
  v6Cache.set(raw, canonical);
  return canonical;
}

/**
 * The kernel's `%pI6` text of a canonical IPv6 address: eight zero-padded groups, no `::`
 * (what /proc/net/nf_conntrack prints). Returns `undefined` for a non-IPv6 string.
 */
export function expandIPv6(address: string): string | undefined {
  if (!parseIPv6Groups(address, 0, address.length)) return undefined;
  let out = '';
  for (let k = 0; k < 8; k++) {
    if (k > 0) out += ':';
    out += (groups[k] as number).toString(16).padStart(4, '0');
  }
  return out;
}
