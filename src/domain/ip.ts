/**
 * Small, exact IP helpers for identity and policy CIDRs (IPv4 and IPv6), pure.
 */

/** Parses dotted-quad IPv4 into an unsigned 32-bit number, or undefined when not valid IPv4. */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (part.length === 0 || part.length > 3 || !/^\d+$/.test(part)) return undefined;
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

/** Parses IPv6 text (with `::` compression and an optional embedded IPv4 tail) into a 128-bit bigint. */
export function parseIPv6(text: string): bigint | undefined {
  if (!text.includes(':')) return undefined;
  let head = text;
  let v4Tail: number | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    v4Tail = parseIPv4(text.slice(lastColon + 1));
    if (v4Tail === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const groups = s.split(':');
    const out: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = parseGroups(halves[0] ?? '');
  const right = halves.length === 2 ? parseGroups(halves[1] ?? '') : [];
  if (!left || !right) return undefined;
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...left, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...right];
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  if (v4Tail !== undefined) value = (value & ~0xffffffffn) | BigInt(v4Tail);
  return value;
}

export type IpFamily = 4 | 6;

const MAPPED_PREFIX = '::ffff:';

/**
 * The IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2, in the
 * canonical text both flow parsers write) stands for; undefined for any other address. A mapped
 * address names that IPv4 host: identity must resolve it as one (a pod's address stays a pod's),
 * and Go's net.IPNet, which NetworkPolicy implementations use, matches `::ffff:a.b.c.d/128` as
 * `a.b.c.d/32` anyway.
 */
export function mappedIpv4(ip: string): string | undefined {
  if (!ip.startsWith(MAPPED_PREFIX)) return undefined;
  const v4 = ip.slice(MAPPED_PREFIX.length);
  return parseIPv4(v4) !== undefined ? v4 : undefined;
}

export function ipFamily(ip: string): IpFamily | undefined {
  if (parseIPv4(ip) !== undefined) return 4;
  if (parseIPv6(ip) !== undefined) return 6;
  return undefined;
}

export function isValidIp(ip: string): boolean {
  return ipFamily(ip) !== undefined;
}

/** A parsed CIDR that can test membership quickly. */
export interface Cidr {
  readonly text: string;
  readonly family: IpFamily;
  contains(ip: string): boolean;
}

/** Parses `a.b.c.d/n` or `x::/n`; a bare address is a host route (/32 or /128). */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? undefined : text.slice(slash + 1);
  const v4 = parseIPv4(addr);
  if (v4 !== undefined) {
    const prefix = prefixText === undefined ? 32 : Number(prefixText);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32 || (prefixText !== undefined && !/^\d+$/.test(prefixText))) return undefined;
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const network = (v4 & mask) >>> 0;
    return {
      text,
      family: 4,
      contains(ip: string): boolean {
        const x = parseIPv4(ip);
        return x !== undefined && ((x & mask) >>> 0) === network;
      },
    };
  }
  const v6 = parseIPv6(addr);
  if (v6 !== undefined) {
    const prefix = prefixText === undefined ? 128 : Number(prefixText);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > 128 || (prefixText !== undefined && !/^\d+$/.test(prefixText))) return undefined;
    const all = (1n << 128n) - 1n;
    const mask = prefix === 0 ? 0n : (all << BigInt(128 - prefix)) & all;
    const network = v6 & mask;
    return {
      text,
      family: 6,
      contains(ip: string): boolean {
        const x = parseIPv6(ip);
        return x !== undefined && (x & mask) === network;
      },
    };
  }
  return undefined;
}

/** The single-address CIDR of an IP: `/32` for IPv4, `/128` for IPv6 (NetworkPolicy ipBlock form). */
export function hostCidr(ip: string): string {
  return ipFamily(ip) === 6 ? `${ip}/128` : `${ip}/32`;
}

/** Sort key that orders IPv4 numerically before IPv6, stable for any text. */
export function compareIps(a: string, b: string): number {
  const a4 = parseIPv4(a);
  const b4 = parseIPv4(b);
  if (a4 !== undefined && b4 !== undefined) return a4 - b4;
  if (a4 !== undefined) return -1;
  if (b4 !== undefined) return 1;
  const a6 = parseIPv6(a);
  const b6 = parseIPv6(b);
  if (a6 !== undefined && b6 !== undefined) return a6 < b6 ? -1 : a6 > b6 ? 1 : 0;
  return a < b ? -1 : a > b ? 1 : 0;
}
