/**
 * Hubble flows (cilium `flow.Flow`, protojson with proto field names) for the simulated
 * connections. Every L3/L4 flow is one observed packet:
 *   SYN      at the client's egress   (client node, TO_STACK,    EGRESS,  is_reply false)
 *   SYN      at the server's ingress  (server node, TO_ENDPOINT, INGRESS, is_reply false)
 *   SYN-ACK  leaving the server       (server node, TO_STACK,    INGRESS, is_reply true)
 *   SYN-ACK  delivered to the client  (client node, TO_ENDPOINT, EGRESS,  is_reply true)
 * (only the points that are Cilium endpoints: no egress point for internet / host clients, no
 * ingress point for internet / kube-apiserver servers). A policy drop is a DROPPED flow at the
 * server's ingress. A DNS lookup is the UDP request at the client's egress plus an L7 DNS
 * RESPONSE flow from the Cilium DNS proxy.
 */
import { type Conn, type Peer } from './conn.js';
import { CLUSTER_NAME, type NodeModel } from './model.js';
import type { Rng } from './rand.js';

type Obj = Record<string, unknown>;

export interface HubbleEvent {
  /** Observing node's clock, ns after 10:00. */
  t: number;
  node: string;
  flow: Obj;
  conn: Conn;
}

const HIDDEN_LABELS = new Set(['pod-template-hash', 'controller-revision-hash', 'pod-template-generation']);

export function endpointJson(peer: Peer): Obj {
  switch (peer.kind) {
    case 'world': return { identity: 2, labels: ['reserved:world'] };
    case 'host': return { identity: 1, labels: ['reserved:host'] };
    case 'apiserver': return { identity: 7, labels: ['reserved:kube-apiserver'] };
    case 'pod': {
      const p = peer.pod;
      const labels = Object.entries(p.labels).filter(([k]) => !HIDDEN_LABELS.has(k)).map(([k, v]) => `k8s:${k}=${v}`);
      labels.push(
        `k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=${p.namespace}`,
        `k8s:io.cilium.k8s.policy.cluster=${CLUSTER_NAME}`,
        `k8s:io.cilium.k8s.policy.serviceaccount=${p.app.serviceAccount}`,
        `k8s:io.kubernetes.pod.namespace=${p.namespace}`,
      );
      return {
        ID: p.endpointId, identity: p.identity, cluster_name: CLUSTER_NAME, namespace: p.namespace,
        labels: labels.sort(), pod_name: p.name, workloads: [{ name: p.app.name, kind: p.app.kind }],
      };
    }
  }
}

interface Packet {
  reply: boolean;
  /** Where: 'egress' = leaving the client side's endpoint, … */
  point: 'TO_STACK' | 'TO_ENDPOINT' | 'DROP';
  direction: 'EGRESS' | 'INGRESS';
  node: NodeModel;
  t: number;
  flags?: Obj;
}

function l3l4(rng: Rng, c: Conn, p: Packet): Obj {
  const [src, dst] = p.reply ? [c.server, c.client] : [c.client, c.server];
  const [sip, dip] = p.reply ? [c.serverIp, c.clientIp] : [c.clientIp, c.serverIp];
  const [sport, dport] = p.reply ? [c.dport, c.sport] : [c.sport, c.dport];
  const l4 = c.proto === 'TCP'
    ? { TCP: { source_port: sport, destination_port: dport, flags: p.flags } }
    : { UDP: { source_port: sport, destination_port: dport } };
  const flow: Obj = {
    time: '', uuid: rng.uuid(), verdict: p.point === 'DROP' ? 'DROPPED' : 'FORWARDED',
  };
  if (p.point === 'DROP') flow['drop_reason'] = 133;
  Object.assign(flow, {
    IP: { source: sip, destination: dip, ipVersion: 'IPv4' }, l4,
    source: endpointJson(src), destination: endpointJson(dst), Type: 'L3_L4', node_name: p.node.name,
  });
  if (c.server.kind === 'world' && c.server.name) flow[p.reply ? 'source_names' : 'destination_names'] = [c.server.name];
  flow['event_type'] = p.point === 'DROP' ? { type: 1, sub_type: 133 } : p.point === 'TO_STACK' ? { type: 4, sub_type: 3 } : { type: 4 };
  if (c.service && !p.reply) flow['destination_service'] = { ...c.service };
  flow['traffic_direction'] = p.direction;
  if (p.point !== 'DROP') {
    flow['trace_observation_point'] = p.point;
    flow['trace_reason'] = p.reply ? 'REPLY' : 'NEW';
  } else {
    flow['drop_reason_desc'] = 'POLICY_DENIED';
  }
  flow['is_reply'] = p.reply;
  if (p.point === 'TO_ENDPOINT') {
    const local = p.reply ? c.client : c.server;
    if (local.kind === 'pod') flow['interface'] = { index: local.pod.ifindex, name: local.pod.lxc };
  }
  const f = p.flags as { SYN?: boolean; ACK?: boolean } | undefined;
  flow['Summary'] = c.proto === 'UDP' ? 'UDP' : `TCP Flags: ${f?.SYN ? 'SYN' : ''}${f?.ACK ? ', ACK' : ''}`;
  return flow;
}

function dnsResponse(rng: Rng, c: Conn, node: NodeModel): Obj {
  const dns = c.dns as NonNullable<Conn['dns']>;
  const record: Obj = { query: dns.query };
  if (dns.ips.length > 0) record['ips'] = dns.ips;
  record['ttl'] = dns.ttl;
  record['observation_source'] = 'proxy';
  if (dns.rcode !== 0) record['rcode'] = dns.rcode;
  record['qtypes'] = ['A'];
  if (dns.ips.length > 0) record['rrtypes'] = ['A'];
  const l4 = c.proto === 'TCP' ? { TCP: { source_port: 53, destination_port: c.sport } } : { UDP: { source_port: 53, destination_port: c.sport } };
  const answer = dns.rcode === 0 ? `"${dns.ips.join(',')}"` : 'RCode: Non-Existent Domain';
  return {
    time: '', uuid: rng.uuid(), verdict: 'FORWARDED',
    IP: { source: c.serverIp, destination: c.clientIp, ipVersion: 'IPv4' }, l4,
    source: endpointJson(c.server), destination: endpointJson(c.client), Type: 'L7', node_name: node.name,
    l7: { type: 'RESPONSE', latency_ns: String(2 * c.netNs + c.serverNs), dns: record },
    event_type: { type: 129 }, traffic_direction: 'EGRESS', is_reply: true,
    Summary: `DNS Answer ${answer} TTL: ${dns.ttl} (Proxy ${dns.query} A)`,
  };
}

function nodeOfPeer(peer: Peer): NodeModel | undefined {
  return peer.kind === 'pod' ? peer.pod.node : undefined;
}

/** All Hubble flows of one connection (true times; the caller applies node clocks and the window). */
export function hubbleFlows(rng: Rng, c: Conn): HubbleEvent[] {
  const out: HubbleEvent[] = [];
  const emit = (p: Packet, flow: Obj = l3l4(rng, c, p)) => out.push({ t: p.t + p.node.skewNs, node: p.node.name, flow, conn: c });
  const cn = nodeOfPeer(c.client);
  const sn = nodeOfPeer(c.server);
  const syn = { SYN: true };
  const synAck = { SYN: true, ACK: true };
  if (c.denied) {
    for (const o of c.synOffsets) {
      if (cn) emit({ reply: false, point: 'TO_STACK', direction: 'EGRESS', node: cn, t: c.t + o, flags: syn });
      if (sn) emit({ reply: false, point: 'DROP', direction: 'INGRESS', node: sn, t: c.t + o + c.netNs, flags: syn });
    }
    return out;
  }
  const arrive = c.t + c.netNs;
  const answer = arrive + c.serverNs;
  const back = answer + c.netNs;
  const flags = c.proto === 'TCP';
  if (cn) emit({ reply: false, point: 'TO_STACK', direction: 'EGRESS', node: cn, t: c.t, flags: flags ? syn : undefined });
  if (c.proto === 'UDP') {
    if (cn && c.dns) emit({ reply: true, point: 'TO_ENDPOINT', direction: 'EGRESS', node: cn, t: back + 31_000 }, dnsResponse(rng, c, cn));
    return out;
  }
  if (sn) emit({ reply: false, point: 'TO_ENDPOINT', direction: 'INGRESS', node: sn, t: arrive, flags: syn });
  if (sn) emit({ reply: true, point: 'TO_STACK', direction: 'INGRESS', node: sn, t: answer, flags: synAck });
  if (cn) emit({ reply: true, point: 'TO_ENDPOINT', direction: 'EGRESS', node: cn, t: back, flags: synAck });
  if (cn && c.dns) emit({ reply: true, point: 'TO_ENDPOINT', direction: 'EGRESS', node: cn, t: back + c.durationNs }, dnsResponse(rng, c, cn));
  return out;
}
