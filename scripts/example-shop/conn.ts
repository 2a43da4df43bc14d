/** One simulated connection (TCP) or exchange (UDP) — what every writer renders from. */
import type { NodeModel, PodModel } from './model.js';
import type { TrafficRow } from './traffic.js';

export type Peer =
  | { kind: 'pod'; pod: PodModel }
  | { kind: 'world'; ip: string; name?: string }
  | { kind: 'host'; node: NodeModel }
  | { kind: 'apiserver'; ip: string };

export interface DnsAnswer {
  /** FQDN asked, with the trailing dot. */
  query: string;
  ips: string[];
  ttl: number;
  /** 0 NOERROR, 3 NXDOMAIN. */
  rcode: number;
}

export interface Conn {
  seq: number;
  proto: 'TCP' | 'UDP';
  client: Peer;
  server: Peer;
  clientIp: string;
  sport: number;
  /** What the client addressed: ClusterIP:port, LB IP:80, a pod IP or an internet address. */
  dialIp: string;
  dialPort: number;
  /** Where it went after Service translation. */
  serverIp: string;
  dport: number;
  /** The Service the destination was reached through (`destination_service`). */
  service?: { name: string; namespace: string };
  /** The client's packets leave the cluster masqueraded to this node IP (pod → internet). */
  snatIp?: string;
  /** True time (ns after 10:00) the first SYN / request leaves the client. */
  t: number;
  denied: boolean;
  /** SYN (re)transmissions of a denied attempt, ns after `t`. */
  synOffsets: number[];
  /** One-way latency client → server. */
  netNs: number;
  /** Server turnaround (SYN → SYN-ACK, or DNS processing). */
  serverNs: number;
  /** Time from ESTABLISHED until the client closes. */
  durationNs: number;
  dns?: DnsAnswer;
  /** The traffic-table row it comes from (undefined: DNS lookups, the pre-capture connection). */
  row?: TrafficRow;
  /** A DNS lookup made on behalf of this row. */
  dnsFor?: TrafficRow;
}

/** The node a peer lives on (undefined for internet peers). */
export function nodeOf(peer: Peer, nodes: readonly NodeModel[]): NodeModel | undefined {
  switch (peer.kind) {
    case 'pod': return peer.pod.node;
    case 'host': return peer.node;
    case 'apiserver': return nodes.find((n) => n.ip === peer.ip);
    case 'world': return undefined;
  }
}
