/**
 * The text key of a connection 5-tuple that the Learner's dedupe table (./connection-table.ts)
 * cannot key by numbers (not two canonical IPv4 addresses, a port outside 0..65535, an unknown
 * protocol). Two keys are equal exactly when their 5-tuples are (the addresses compared as
 * strings, as the earlier `"<srcIp> <srcPort> <dstIp> <dstPort> <protocol>"` key did). Two layouts,
 * a bracket being one UTF-16 code unit:
 *
 * - `[len(srcIp)][len(dstIp)] srcIp [srcPort][dstPort] dstIp protocol [0]`: every part's position
 *   follows from what comes before it.
 * - A port outside 0..65535 or an address of 65,535 units or more (nothing a real flow has):
 *   U+FFFF then the textual key (the first layout never starts with U+FFFF, since its first unit
 *   is a length below 65,535).
 *
 * Pure.
 */

const MAX_UNIT = 0xffff;

export function connectionKey(srcIp: string, srcPort: number, dstIp: string, dstPort: number, protocol: string): string {
  if ((srcPort & MAX_UNIT) !== srcPort || (dstPort & MAX_UNIT) !== dstPort || srcIp.length >= MAX_UNIT || dstIp.length >= MAX_UNIT) {
    return `\uffff${srcIp} ${srcPort} ${dstIp} ${dstPort} ${protocol}`;
  }
  return String.fromCharCode(srcIp.length, dstIp.length) + srcIp + String.fromCharCode(srcPort, dstPort) + dstIp + protocol + '\u0000';
}
