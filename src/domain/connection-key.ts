/**
 * The Learner's dedupe key of a connection (src/domain/learner.ts): its 5-tuple as a short string,
 * built with few allocations because it is made for every flow. Two keys are equal exactly when
 * their 5-tuples are (the addresses compared as strings, as the earlier
 * `"<srcIp> <srcPort> <dstIp> <dstPort> <protocol>"` key did). Three layouts, a bracket being one
 * UTF-16 code unit:
 *
 * - IPv4 (both addresses canonical dotted quads, ports 0..65535, a known protocol), 7 units, made
 *   by one `String.fromCharCode`: `[srcIp hi][srcIp lo][srcPort][dstIp hi][dstIp lo][dstPort][protocol 1..5]`.
 *   A canonical dotted quad (no leading zeros) is the only text of its 32-bit value.
 * - Any other addresses: `[len(srcIp)][len(dstIp)] srcIp [srcPort][dstPort] dstIp protocol [0]`:
 *   every part's position follows from what comes before it; it never ends like the IPv4 layout.
 * - A port outside 0..65535 or an address of 65,535 units or more (nothing a real flow has):
 *   U+FFFF then the textual key (longer than 7 units; no other layout starts with U+FFFF except
 *   an IPv4 key, which is 7 units long).
 *
 * Pure.
 */
import { ipv4Value } from './ipv4.js';

const MAX_UNIT = 0xffff;

const PROTOCOL_CODES: Readonly<Record<string, number>> = { TCP: 1, UDP: 2, SCTP: 3, ICMPv4: 4, ICMPv6: 5 };

export function connectionKey(srcIp: string, srcPort: number, dstIp: string, dstPort: number, protocol: string): string {
  if ((srcPort & MAX_UNIT) !== srcPort || (dstPort & MAX_UNIT) !== dstPort || srcIp.length >= MAX_UNIT || dstIp.length >= MAX_UNIT) {
    return `\uffff${srcIp} ${srcPort} ${dstIp} ${dstPort} ${protocol}`;
  }
  const code = PROTOCOL_CODES[protocol];
  if (code !== undefined) {
    const src = ipv4Value(srcIp);
    const dst = src < 0 ? -1 : ipv4Value(dstIp);
    if (dst >= 0) return String.fromCharCode(src >>> 16, src & MAX_UNIT, srcPort, dst >>> 16, dst & MAX_UNIT, dstPort, code);
  }
  return String.fromCharCode(srcIp.length, dstIp.length) + srcIp + String.fromCharCode(srcPort, dstPort) + dstIp + protocol + '\u0000';
}
