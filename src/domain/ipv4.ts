/** IPv4 dotted-quad text, read without allocating (the dedupe key and the IP canonicalizer use it). */

/** The 32-bit value of the canonical dotted quad in `text[start, end)` (no leading zeros, octets 0..255), else -1. */
export function ipv4Value(text: string, start = 0, end = text.length): number {
  let value = 0;
  let octets = 0;
  let p = start;
  while (p <= end) {
    const octetStart = p;
    let octet = 0;
    while (p < end) {
      const d = text.charCodeAt(p) - 0x30;
      if (d < 0 || d > 9) break;
      octet = octet * 10 + d;
      p++;
    }
    const len = p - octetStart;
    if (len === 0 || len > 3 || octet > 255 || (len > 1 && text.charCodeAt(octetStart) === 0x30)) return -1;
    value = value * 256 + octet;
    octets++;
    if (p === end) break;
    if (text.charCodeAt(p) !== 0x2e || octets === 4) return -1;
    p++;
  }
  return octets === 4 ? value : -1;
}
