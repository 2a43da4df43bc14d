/**
 * The Learner's dedupe key of a connection (src/domain/learner.ts): its 5-tuple as a short string,
 * built with few allocations because it is made for every flow. Layout:
 *
 *   [len(srcIp)][len(dstIp)] srcIp [srcPort][dstPort] dstIp protocol
 *
 * where a bracket is one UTF-16 code unit. Every part's position follows from what comes before
 * it, so two keys are equal exactly when their 5-tuples are (the IPs compared as strings, as the
 * earlier `"<srcIp> <srcPort> <dstIp> <dstPort> <protocol>"` key did). A port outside
 * 0..65535 or an address of 65,535 code units or more (nothing a real flow has) takes the
 * textual form behind a U+FFFF, which no compact key starts with. Pure.
 */

const MAX_UNIT = 0xffff;

export function connectionKey(srcIp: string, srcPort: number, dstIp: string, dstPort: number, protocol: string): string {
  if ((srcPort & MAX_UNIT) === srcPort && (dstPort & MAX_UNIT) === dstPort && srcIp.length < MAX_UNIT && dstIp.length < MAX_UNIT) {
    return String.fromCharCode(srcIp.length, dstIp.length) + srcIp + String.fromCharCode(srcPort, dstPort) + dstIp + protocol;
  }
  return `\uffff${srcIp} ${srcPort} ${dstIp} ${dstPort} ${protocol}`;
}
