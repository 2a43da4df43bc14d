/**
 * Canonical IP text (`Flow.source.ip`): IPv4 dotted quad as Go's `netip.ParseAddr` accepts it (no
 * leading zeros), IPv6 in the RFC 5952 §4 form (lower case, no leading zeros, the longest run of two
 * or more zero groups as `::`, the first one on a tie) and IPv4-mapped addresses as `::ffff:a.b.c.d`
 * (§5). Hubble writes Go's `String()` of the address, which is already canonical; other spellings are
 * normalized so equal addresses compare equal. Zones (`%eth0`) are not addresses. Pure.
 */
import { ipv4Value } from '../../domain/ipv4.js';

/**
 * {@link ipv4Value} of the ASCII text in `bytes[start, end)`, without making a string: the value of a
 * canonical dotted quad, else -1. Accepted bytes are exactly the canonical text of the value, so
 * equal values mean equal texts (the gRPC decoder caches IP strings by it, src/ingest/hubble-grpc).
 */
export function ipv4BytesValue(bytes: Uint8Array, start: number, end: number): number {
  if (end - start > 15) return -1;
  let value = 0;
  let octets = 0;
  let p = start;
  while (p <= end) {
    const octetStart = p;
    let octet = 0;
    while (p < end) {
      const d = bytes[p]! - 0x30;
      if (d < 0 || d > 9) break;
      octet = octet * 10 + d;
      p++;
    }
    const len = p - octetStart;
    if (len === 0 || len > 3 || octet > 255 || (len > 1 && bytes[octetStart] === 0x30)) return -1;
    value = value * 256 + octet;
    octets++;
    if (p === end) break;
    if (bytes[p] !== 0x2e || octets === 4) return -1;
    p++;
  }
  return octets === 4 ? value : -1;
}

/** Parses IPv6 text into 8 groups, or undefined. */
function ipv6Groups(text: string): number[] | undefined {
  const groups: number[] = [];
  let gap = -1;
  let p = 0;
  const end = text.length;
  if (text.startsWith('::')) {
    gap = 0;
    p = 2;
    if (p === end) return [0, 0, 0, 0, 0, 0, 0, 0];
  } else if (text.charCodeAt(0) === 0x3a) {
    return undefined;
  }
  while (p < end) {
    if (groups.length === 8) return undefined;
    const groupStart = p;
    let value = 0;
    while (p < end && p - groupStart < 5) {
      const c = text.charCodeAt(p);
      let d: number;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
      else break;
      value = value * 16 + d;
      p++;
    }
    const len = p - groupStart;
    if (p < end && text.charCodeAt(p) === 0x2e) {
      // Embedded IPv4 in the last 32 bits.
      if (groups.length > 6) return undefined;
      const v4 = ipv4Value(text, groupStart, end);
      if (v4 < 0) return undefined;
      groups.push(Math.floor(v4 / 65536), v4 % 65536);
      break;
    }
    if (len === 0 || len > 4) return undefined;
    groups.push(value);
    if (p === end) break;
    if (text.charCodeAt(p) !== 0x3a) return undefined;
    p++;
    if (text.charCodeAt(p) === 0x3a) {
      if (gap >= 0) return undefined;
      gap = groups.length;
      p++;
      if (p === end) break;
    } else if (p === end) {
      return undefined;
    }
  }
  if (gap < 0) return groups.length === 8 ? groups : undefined;
  if (groups.length > 7) return undefined;
  const zeros = new Array<number>(8 - groups.length).fill(0);
  return [...groups.slice(0, gap), ...zeros, ...groups.slice(gap)];
}

function formatIpv6(groups: readonly number[]): string {
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    const hi = groups[6] ?? 0;
    const lo = groups[7] ?? 0;
    return `::ffff:${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** The canonical text of an IPv4 or IPv6 address, or undefined when `text` is not one. */
export function canonicalIp(text: string): string | undefined {
  if (text.length <= 15 && ipv4Value(text, 0, text.length) >= 0) return text;
  if (text.length < 2 || text.length > 45 || !text.includes(':')) return undefined;
  const groups = ipv6Groups(text);
  if (groups === undefined) return undefined;
  const canonical = formatIpv6(groups);
  return canonical === text ? text : canonical;
}
