/**
 * IPv4 / IPv6 address and CIDR matching for `ipBlock` (NetworkPolicy) and `toCIDR` / `toCIDRSet`
 * (Cilium). Written for the evaluator alone, independent of the rest of hivewall.
 *
 * Addresses of different families never match each other (an IPv4-mapped IPv6 address is IPv6).
 */

export interface ParsedAddress {
  readonly family: 4 | 6;
  readonly value: bigint;
}

export interface ParsedCIDR {
  readonly family: 4 | 6;
  /** The network address (host bits cleared). */
  readonly network: bigint;
  readonly prefix: number;
}

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseHextets(groups: readonly string[]): bigint[] | undefined {
  const out: bigint[] = [];
  for (const group of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    out.push(BigInt(`0x${group}`));
  }
  return out;
}

function parseIPv6(input: string): bigint | undefined {
  let text = input;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (!text.includes(':')) return undefined;
  // An embedded IPv4 tail (::ffff:10.0.0.1) stands for the last two hextets.
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIPv4(last);
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const headText = halves[0] ?? '';
  const head = headText === '' ? [] : parseHextets(headText.split(':'));
  if (head === undefined) return undefined;
  let groups: bigint[];
  if (halves.length === 2) {
    const backText = halves[1] ?? '';
    const back = backText === '' ? [] : parseHextets(backText.split(':'));
    if (back === undefined) return undefined;
    const missing = 8 - head.length - back.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<bigint>(missing).fill(0n), ...back];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  return groups.reduce((acc, group) => (acc << 16n) | group, 0n);
}

/** Parses an IPv4 or IPv6 address in text form; `undefined` when it is not one. */
export function parseAddress(text: string): ParsedAddress | undefined {
  const trimmed = text.trim();
  const v4 = parseIPv4(trimmed);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIPv6(trimmed);
  if (v6 !== undefined) return { family: 6, value: v6 };
  return undefined;
}

/**
 * Parses `address/prefix`. A bare address is a host prefix (/32 or /128), as Cilium accepts in
 * `toCIDR`. Host bits are cleared (`10.0.0.5/24` is `10.0.0.0/24`). `undefined` when malformed.
 */
export function parseCIDR(text: string): ParsedCIDR | undefined {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseAddress(addressText);
  if (address === undefined) return undefined;
  const width = address.family === 4 ? 32 : 128;
  let prefix = width;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1).trim();
    if (!/^\d{1,3}$/.test(prefixText)) return undefined;
    prefix = Number(prefixText);
    if (prefix > width) return undefined;
  }
  const hostBits = BigInt(width - prefix);
  const network = (address.value >> hostBits) << hostBits;
  return { family: address.family, network, prefix };
}

/** True when `address` lies inside `cidr` (same family, same leading `prefix` bits). */
export function cidrContainsAddress(cidr: ParsedCIDR, address: ParsedAddress): boolean {
  if (cidr.family !== address.family) return false;
  const width = cidr.family === 4 ? 32 : 128;
  const hostBits = BigInt(width - cidr.prefix);
  return (address.value >> hostBits) << hostBits === cidr.network;
}

/** True when `ip` lies inside `cidr`; false when either does not parse. */
export function cidrContains(cidr: string, ip: string): boolean {
  const parsedCIDR = parseCIDR(cidr);
  const parsedIP = parseAddress(ip);
  if (parsedCIDR === undefined || parsedIP === undefined) return false;
  return cidrContainsAddress(parsedCIDR, parsedIP);
}

/**
 * `ipBlock` / `CIDRRule` semantics: inside `cidr` and inside none of `except`.
 * NetworkPolicy API: "except is a slice of CIDRs that should not be included within an IPBlock".
 * Cilium: "an optional list of prefixes/CIDRs ... that are subnets of the ... prefix/CIDR to which
 * communication is not allowed".
 */
export function inCIDRExcept(cidr: string, except: readonly string[], ip: string): boolean {
  return cidrContains(cidr, ip) && !except.some((excluded) => cidrContains(excluded, ip));
}

/** Canonical comparison key for an address (so `fd00::1` and `fd00:0::1` are the same address). */
export function addressKey(ip: string): string | undefined {
  const parsed = parseAddress(ip);
  return parsed === undefined ? undefined : `${parsed.family}:${parsed.value.toString(16)}`;
}
