/**
 * String fields that repeat across a GetFlows stream, made into strings once: IP addresses (a
 * cluster's flows name the same few thousand addresses over and over) and node names (a handful).
 * Each returns exactly what decoding the bytes afresh would (decode.ts), and the same string object
 * for the same bytes, so what keys on these strings downstream (the Learner's dedupe table) hashes
 * each one once. Bounded: a cache that fills up is dropped. Pure.
 */
import { canonicalIp, ipv4BytesValue } from '../hubble/ip.js';

/** Distinct IPv4 addresses kept; past this the cache starts over. */
const IP_CACHE_LIMIT = 65_536;

/** Canonical IP texts by their bytes. */
export class IpTexts {
  private readonly ipv4 = new Map<number, string>();

  /** The canonical text of the IP address written in `buf[start, end)` (UTF-8), or undefined when it is not one. */
  text(buf: Buffer, start: number, end: number): string | undefined {
    // A canonical dotted quad (what Hubble sends) is its own canonical text, and its value names it.
    const value = ipv4BytesValue(buf, start, end);
    if (value < 0) return canonicalIp(buf.toString('utf8', start, end));
    const known = this.ipv4.get(value);
    if (known !== undefined) return known;
    if (this.ipv4.size >= IP_CACHE_LIMIT) this.ipv4.clear();
    const text = buf.toString('latin1', start, end);
    this.ipv4.set(value, text);
    return text;
  }
}

/** Texts remembered (their bytes compared in full); the oldest is replaced. */
const RECENT_LIMIT = 8;
/** Longer texts are not remembered (a node name is at most 253 bytes). */
const RECENT_MAX_BYTES = 253;

/** The last few distinct UTF-8 texts decoded (node names), found again by their bytes. */
export class RecentTexts {
  private readonly bytes: Buffer[] = [];
  private readonly texts: string[] = [];
  private next = 0;
  /** Where the last text was found: looked at first (a flow and its envelope name the same node). */
  private last = 0;

  /** `buf[start, end)` as UTF-8 text (invalid sequences → U+FFFD). */
  text(buf: Buffer, start: number, end: number): string {
    const all = this.bytes;
    if (this.last < all.length && equalBytes(all[this.last]!, buf, start, end)) return this.texts[this.last]!;
    for (let k = 0; k < all.length; k++) {
      if (k !== this.last && equalBytes(all[k]!, buf, start, end)) {
        this.last = k;
        return this.texts[k]!;
      }
    }
    const text = buf.toString('utf8', start, end);
    if (end - start > RECENT_MAX_BYTES) return text;
    all[this.next] = Buffer.from(buf.subarray(start, end));
    this.texts[this.next] = text;
    this.last = this.next;
    this.next = (this.next + 1) % RECENT_LIMIT;
    return text;
  }
}

/** Whether `known` holds the bytes `buf[start, end)`; compared from the end, where names of one cluster's nodes tend to differ (`...-worker-a1`, `...-worker-b2`). */
function equalBytes(known: Buffer, buf: Buffer, start: number, end: number): boolean {
  const length = end - start;
  if (known.length !== length) return false;
  let i = length;
  while (i > 0 && buf[start + i - 1] === known[i - 1]) i--;
  return i === 0;
}
