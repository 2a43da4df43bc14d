/**
 * Protocol names as conntrack prints them.
 *
 * Layer 4: `%-8s %u` of the name and IP protocol number. The kernel uses `l4proto_name()`
 * (nf_conntrack_standalone.c: tcp, udp, udplite, icmp, icmpv6, sctp, dccp, gre, else "unknown");
 * conntrack-tools uses `__proto2str()` with the same names. Only protocols a NetworkPolicy or
 * CiliumNetworkPolicy can name (plus ICMP, recorded but never a policy port) become flows; the
 * rest (udplite 136, dccp 33, gre 47, `unknown` N, …) are skipped as `unsupported-protocol`.
 *
 * Layer 3: `%-8s %u` of `l3proto_name()` and the address family (`ipv4 2`, `ipv6 10`).
 */
import type { Protocol } from '../../domain/flow.js';
import type { ConntrackFamily } from './types.js';

export interface L4Info {
  readonly name: string;
  readonly number: number;
  readonly protocol: Protocol;
  /** `sport=`/`dport=` tuples (TCP, UDP, SCTP) versus `type=`/`code=`/`id=` (ICMP, ICMPv6). */
  readonly ports: boolean;
  /** The only family the protocol exists in, if any. */
  readonly family: ConntrackFamily | undefined;
}

export const L4_BY_PROTOCOL: Readonly<Record<Protocol, L4Info>> = {
  TCP: { name: 'tcp', number: 6, protocol: 'TCP', ports: true, family: undefined },
  UDP: { name: 'udp', number: 17, protocol: 'UDP', ports: true, family: undefined },
  SCTP: { name: 'sctp', number: 132, protocol: 'SCTP', ports: true, family: undefined },
  ICMPv4: { name: 'icmp', number: 1, protocol: 'ICMPv4', ports: false, family: 'ipv4' },
  ICMPv6: { name: 'icmpv6', number: 58, protocol: 'ICMPv6', ports: false, family: 'ipv6' },
};

/** Supported layer 4 protocol by the name conntrack prints. */
export function l4ByName(s: string, start: number, end: number): L4Info | undefined {
  switch (end - start) {
    case 3:
      if (s.startsWith('tcp', start)) return L4_BY_PROTOCOL.TCP;
      if (s.startsWith('udp', start)) return L4_BY_PROTOCOL.UDP;
      return undefined;
    case 4:
      if (s.startsWith('icmp', start)) return L4_BY_PROTOCOL.ICMPv4;
      if (s.startsWith('sctp', start)) return L4_BY_PROTOCOL.SCTP;
      return undefined;
    case 6:
      return s.startsWith('icmpv6', start) ? L4_BY_PROTOCOL.ICMPv6 : undefined;
    default:
      return undefined;
  }
}

/** Address family number printed after the layer 3 name (`AF_INET` 2, `AF_INET6` 10). */
export const FAMILY_NUMBER: Readonly<Record<ConntrackFamily, number>> = { ipv4: 2, ipv6: 10 };
