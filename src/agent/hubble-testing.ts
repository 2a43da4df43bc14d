/**
 * Test support for the Hubble agent: scenario lines for test/hubble-server (GetFlowsResponse in
 * protojson, as `hubble observe -o jsonpb` prints them) describing what one node's Hubble sees of
 * a connection, and an in-memory controller that acknowledges edge batches. No vitest import.
 */
import type { Transport } from './shipper.js';
import type { EdgeBatchBody } from './wire.js';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  /** The top-level owner Cilium reports (`workloads[0]`). */
  readonly workload: string;
  readonly kind?: string;
  readonly ip: string;
  /** On another node than the observing one: node-local Hubble then reports no `workloads`. */
  readonly remote?: boolean;
}

export interface FlowLineOptions {
  /** Milliseconds since the epoch (the flow's time; nanoseconds added by `nanos`). */
  readonly ms: number;
  readonly nanos?: number;
  readonly uuid: string;
  readonly node: string;
  readonly client: PodRef | { readonly world: string };
  readonly server: PodRef | { readonly world: string };
  readonly clientPort: number;
  readonly port: number;
  readonly protocol?: 'TCP' | 'UDP';
  /** INGRESS at the server's endpoint (TO_ENDPOINT), or EGRESS at the client's (TO_STACK / TO_OVERLAY). */
  readonly direction: 'INGRESS' | 'EGRESS';
  readonly verdict?: 'FORWARDED' | 'DROPPED';
  readonly reply?: boolean;
  /** A drop's denying policies (`<namespace>/<name>`), as `egress_denied_by` or `ingress_denied_by` by direction. */
  readonly deniedBy?: readonly string[];
}

function endpoint(peer: PodRef | { readonly world: string }): Record<string, unknown> {
  if ('world' in peer) return { identity: 2, labels: ['reserved:world'] };
  return {
    ID: 1000 + Number(peer.ip.split('.').at(-1)),
    identity: 50_000 + Number(peer.ip.split('.').at(-1)),
    namespace: peer.namespace,
    labels: [`k8s:app=${peer.workload}`, `k8s:io.kubernetes.pod.namespace=${peer.namespace}`],
    pod_name: peer.name,
    ...(peer.remote ? {} : { workloads: [{ name: peer.workload, kind: peer.kind ?? 'Deployment' }] }),
  };
}

const ipOf = (peer: PodRef | { readonly world: string }) => ('world' in peer ? peer.world : peer.ip);

/** RFC 3339 with nanoseconds. */
export function rfc3339(ms: number, nanos = 0): string {
  return `${new Date(ms).toISOString().slice(0, 19)}.${String((ms % 1000) * 1_000_000 + nanos).padStart(9, '0')}Z`;
}

/** One flow as a scenario line. */
export function flowLine(o: FlowLineOptions): string {
  const time = rfc3339(o.ms, o.nanos ?? 0);
  const reply = o.reply ?? false;
  const [src, dst, sport, dport] = reply ? [o.server, o.client, o.port, o.clientPort] : [o.client, o.server, o.clientPort, o.port];
  const l4 = { [o.protocol ?? 'TCP']: { source_port: sport, destination_port: dport } };
  const dropped = o.verdict === 'DROPPED';
  const flow: Record<string, unknown> = {
    time, uuid: o.uuid, verdict: o.verdict ?? 'FORWARDED',
    IP: { source: ipOf(src), destination: ipOf(dst), ipVersion: 'IPv4' },
    l4, source: endpoint(src), destination: endpoint(dst), Type: 'L3_L4', node_name: o.node,
    traffic_direction: o.direction, is_reply: reply,
    ...(dropped ? { drop_reason_desc: 'POLICY_DENIED' } : { trace_observation_point: o.direction === 'INGRESS' ? 'TO_ENDPOINT' : 'TO_STACK' }),
    ...(o.deniedBy ? { [o.direction === 'EGRESS' ? 'egress_denied_by' : 'ingress_denied_by']: o.deniedBy.map(policyRef) } : {}),
  };
  return JSON.stringify({ flow, node_name: o.node, time });
}

/** A Cilium `Policy` reference from `<namespace>/<name>`. */
function policyRef(name: string): Record<string, unknown> {
  const [namespace, policy] = name.split('/');
  return { namespace, name: policy, kind: 'CiliumNetworkPolicy' };
}

/** A `lost_events` notice (Hubble's ring buffer overflowed). */
export function lostEventsLine(node: string, ms: number, count: number): string {
  return JSON.stringify({ lost_events: { source: 'HUBBLE_RING_BUFFER', num_events_lost: String(count) }, node_name: node, time: rfc3339(ms) });
}

/** An in-memory controller: acknowledges every batch (once per node, instance and seq) and keeps what it counted. */
export class MemoryController {
  readonly batches: EdgeBatchBody[] = [];
  /** `client server port/protocol` → connections. */
  readonly edges = new Map<string, number>();
  dropped = 0;
  /** `client server port/protocol direction deniedBy…` → connections. */
  readonly denied = new Map<string, number>();
  private readonly applied = new Map<string, number>();

  readonly transport: Transport = async (request) => {
    const body = JSON.parse(request.body) as EdgeBatchBody;
    const key = `${body.node}/${body.instance}`;
    if ((this.applied.get(key) ?? 0) >= body.seq) return { status: 200, body: JSON.stringify({ ack: body.seq, applied: 0, duplicate: true }) };
    this.applied.set(key, body.seq);
    this.batches.push(body);
    for (const e of body.edges) {
      const k = `${e.client} ${e.server} ${e.port}/${e.protocol}`;
      this.edges.set(k, (this.edges.get(k) ?? 0) + e.count);
    }
    this.dropped += body.dropped ?? 0;
    for (const d of body.denied ?? []) {
      const k = `${d.client} ${d.server} ${d.port}/${d.protocol} ${d.direction ?? '-'} ${(d.deniedBy ?? []).join(',')}`;
      this.denied.set(k, (this.denied.get(k) ?? 0) + d.count);
    }
    return { status: 200, body: JSON.stringify({ ack: body.seq, applied: body.edges.length }) };
  };

  total(): number {
    let n = 0;
    for (const c of this.edges.values()) n += c;
    return n;
  }
}
