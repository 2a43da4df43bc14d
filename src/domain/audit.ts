/**
 * Audit: every live flow of a namespace in Audit or Enforce is evaluated against the approved
 * policies with the independent policy simulator; flows the policies would deny are counted and
 * sampled (for status, Events and metrics). One engine per namespace, reset when the approved
 * proposal changes. Bounded memory: a fixed dedupe window, a fixed number of samples, and a fixed
 * number of new findings between two drains.
 */
import type { Flow } from './flow.js';
import { entityKey, isWorkloadOf, peerFromKey } from './peer.js';
import { createEvaluator, type ClusterLookup, type ClusterModel, type Evaluator, type Peer, type Policy } from './simulate/index.js';

const SAMPLE_LIMIT = 10;
const DEDUPE_LIMIT = 16_384;
/** Would-deny pairs announced (one Event each) per drain; past it they are counted as `more`. */
const FRESH_LIMIT = 100;
const TRAFFIC = new Set(['FORWARDED', 'AUDIT', 'REDIRECTED', 'TRACED', 'TRANSLATED']);

export interface AuditSample {
  time: string;
  /** As seen: `ns/pod`, `ns/Kind/name` (agents) or `<entity> <ip>`. */
  client: string;
  server: string;
  port: number;
  protocol: string;
  count: number;
  /** The workload or entity behind each side, as a peer key, when known (reports group by it). */
  clientKey?: string;
  serverKey?: string;
}

/** The workload of a pod as a peer key (`wl:<ns>/<Kind>/<name>`), if the inventory knows the pod. */
export type WorkloadKeyOf = (namespace: string, pod: string) => string | undefined;

export class AuditEngine {
  flows = 0;
  wouldDeny = 0;
  private readonly samples = new Map<string, AuditSample>();
  private readonly seen = new Set<string>();
  private readonly evaluator: Evaluator;
  /** New would-deny pairs since the last drain, for Events ({@link FRESH_LIMIT} at most). */
  private fresh: AuditSample[] = [];
  /** New pairs past {@link FRESH_LIMIT} since the last drain. */
  private freshMore = 0;
  /** Pairs already announced (cleared past {@link DEDUPE_LIMIT}, as {@link seen}). */
  private readonly announced = new Set<string>();

  /**
   * @param cluster a fixed model, or the operator's live {@link ClusterLookup}: flows are then judged
   *   against the cluster as it is when they arrive (pods that came and went), with no rebuild.
   */
  constructor(readonly namespace: string, readonly segmentation: string, readonly proposal: string, policies: readonly Policy[], cluster: ClusterModel | ClusterLookup, enforcer: 'generic' | 'cilium') {
    this.evaluator = createEvaluator(cluster, policies, { networkPolicyEnforcer: enforcer });
  }

  /** Evaluates one flow if it is a new connection touching this namespace. */
  observe(flow: Flow, workloadKeyOf?: WorkloadKeyOf): void {
    if (flow.isReply || !TRAFFIC.has(flow.verdict) || !flow.confirmed) return;
    if (flow.protocol !== 'TCP' && flow.protocol !== 'UDP' && flow.protocol !== 'SCTP') return;
    if (flow.source.namespace !== this.namespace && flow.destination.namespace !== this.namespace) return;
    const key = `${flow.source.ip} ${flow.source.port} ${flow.destination.ip} ${flow.destination.port} ${flow.protocol}`;
    if (this.seen.has(key)) return;
    if (this.seen.size >= DEDUPE_LIMIT) this.seen.clear();
    this.seen.add(key);
    this.evaluate(toPeer(flow.source), toPeer(flow.destination, flow.destinationNames), flow.destination.port, flow.protocol, flow.time, 1, () => ({
      client: describe(flow.source), server: describe(flow.destination),
      clientKey: endpointKey(flow.source, workloadKeyOf), serverKey: endpointKey(flow.destination, workloadKeyOf),
    }));
  }

  /**
   * Evaluates an edge delta a node agent pushed: `count` connections between two peers (workload
   * keys `wl:<ns>/<Kind>/<name>` or entities). Agents aggregate per workload, so each workload side
   * is evaluated as one of its live pods (`podOf`); a workload with no live pod left cannot be
   * evaluated and is skipped (its policies select nothing now).
   */
  observeEdge(edge: { readonly client: string; readonly server: string; readonly port: number; readonly protocol: string; readonly count: number; readonly lastSeen: number }, podOf: (workloadKey: string) => string | undefined): void {
    if (edge.protocol !== 'TCP' && edge.protocol !== 'UDP' && edge.protocol !== 'SCTP') return;
    if (!isWorkloadOf(edge.client, this.namespace) && !isWorkloadOf(edge.server, this.namespace)) return;
    const client = keyToPeer(edge.client, podOf);
    const server = keyToPeer(edge.server, podOf);
    if (!client || !server) return;
    this.evaluate(client, server, edge.port, edge.protocol, edge.lastSeen, edge.count, () => ({
      client: keyLabel(edge.client), server: keyLabel(edge.server), clientKey: edge.client, serverKey: edge.server,
    }));
  }

  /** Evaluates `count` connections; `names` says how to show them, asked only when they would be denied. */
  private evaluate(source: Peer, destination: Peer, port: number, protocol: 'TCP' | 'UDP' | 'SCTP', at: number, count: number,
    names: () => { client: string; server: string; clientKey?: string | undefined; serverKey?: string | undefined }): void {
    this.flows += count;
    const result = this.evaluator.evaluate({ source, destination, port, protocol });
    if (result.allowed) return;
    this.wouldDeny += count;
    const { client, server, clientKey, serverKey } = names();
    const id = `${client} ${server} ${port}/${protocol}`;
    const existing = this.samples.get(id);
    const time = new Date(at).toISOString();
    if (existing) {
      existing.count += count;
      existing.time = time;
      return;
    }
    const sample: AuditSample = { time, client, server, port, protocol, count, ...(clientKey ? { clientKey } : {}), ...(serverKey ? { serverKey } : {}) };
    if (this.samples.size < SAMPLE_LIMIT) this.samples.set(id, sample);
    // Announced once per pair, and a bounded number per drain: a pod trying thousands of
    // addresses or ports must not grow this list (or the Events) without end.
    if (this.announced.has(id)) return;
    if (this.announced.size >= DEDUPE_LIMIT) this.announced.clear();
    this.announced.add(id);
    if (this.fresh.length < FRESH_LIMIT) this.fresh.push(sample);
    else this.freshMore++;
  }

  sampleList(): AuditSample[] {
    return [...this.samples.values()].sort((a, b) => (a.client + a.server < b.client + b.server ? -1 : 1)).map((s) => ({ ...s }));
  }

  /** Would-deny pairs first seen since the last call (for Events): the first ones, and how many more there were. */
  drainFresh(): { samples: AuditSample[]; more: number } {
    const out = { samples: this.fresh, more: this.freshMore };
    this.fresh = [];
    this.freshMore = 0;
    return out;
  }
}

function toPeer(e: Flow['source'], names?: readonly string[]): Peer {
  if (e.namespace && e.podName) return { kind: 'pod', namespace: e.namespace, name: e.podName };
  const entity = e.reserved === 'world' || e.reserved === 'host' || e.reserved === 'remote-node' || e.reserved === 'kube-apiserver' ? e.reserved : undefined;
  return { kind: 'ip', ip: e.ip, ...(entity ? { entity } : {}), ...(names && names.length > 0 ? { dnsNames: names } : {}) };
}

/** A peer key as the simulator's peer: a workload as one of its pods, an entity by its address. */
function keyToPeer(key: string, podOf: (workloadKey: string) => string | undefined): Peer | undefined {
  const peer = peerFromKey(key);
  if (peer.type === 'workload') {
    const pod = podOf(key);
    return pod === undefined ? undefined : { kind: 'pod', namespace: peer.namespace, name: pod };
  }
  if (!peer.ip) return undefined; // an entity without an address (e.g. `host` from a node agent) names no IP to evaluate
  return { kind: 'ip', ip: peer.ip, entity: peer.entity };
}

/** How an agent edge's side is shown in samples: `ns/Kind/name` or `entity ip`. */
function keyLabel(key: string): string {
  const peer = peerFromKey(key);
  return peer.type === 'workload' ? `${peer.namespace}/${peer.kind}/${peer.name}` : `${peer.entity}${peer.ip ? ` ${peer.ip}` : ''}`;
}

/** A flow endpoint's peer key: its pod's workload, or the entity and address. */
function endpointKey(e: Flow['source'], workloadKeyOf: WorkloadKeyOf | undefined): string | undefined {
  if (e.namespace && e.podName) return workloadKeyOf?.(e.namespace, e.podName);
  if (e.reserved === 'host') return entityKey('host');
  if (e.reserved === 'world' || e.reserved === 'remote-node' || e.reserved === 'kube-apiserver') return entityKey(e.reserved, e.ip);
  return undefined;
}

function describe(e: Flow['source']): string {
  if (e.namespace && e.podName) return `${e.namespace}/${e.podName}`;
  return e.reserved ? `${e.reserved} ${e.ip}` : e.ip;
}
