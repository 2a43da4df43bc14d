/**
 * The learning engine: normalized source events in, workload edges out.
 *
 * Rules (DESIGN.md §1):
 * - Replies (`is_reply`) never create or count an edge.
 * - The same connection observed twice (source egress and destination ingress, two nodes,
 *   conntrack NEW/UPDATE/DESTROY) counts once: observations of one 5-tuple within the
 *   dedupe window are one connection. The window is bounded in time and entries.
 * - DROPPED/ERROR flows never create allow edges; they are counted and reported per pair.
 * - Unconfirmed connections (conntrack [UNREPLIED]) are reported, not learned.
 * - AUDIT (and REDIRECTED/TRACED/TRANSLATED) flows are traffic that happened.
 * - DNS answers and Hubble `destination_names` name external peers.
 * Raw flows are never stored: memory follows edges and distinct peers, not flows.
 */
import type { Flow, ParseResult, SkipReason } from './flow.js';
import { EdgeStore } from './edge-store.js';
import type { IdentityResolver, Resolution, UnresolvedReason } from './identity.js';
import { peerKey, type Peer } from './peer.js';

export interface LearnerOptions {
  /** Observations of the same 5-tuple within this many ms are one connection. */
  readonly dedupeWindowMs?: number;
  /** At most this many recent 5-tuples are remembered for dedupe (memory bound). */
  readonly dedupeCapacity?: number;
  /** Flows before this time (ms) are ignored. */
  readonly since?: number;
  /** Flows at or after this time (ms) are ignored. */
  readonly until?: number;
}

export type FlowSkipReason = 'reply' | 'duplicate' | 'dropped' | 'unconfirmed' | 'unresolved' | 'out-of-window' | 'cilium-internal';

export interface LearnStats {
  /** Every input line or message seen. */
  events: number;
  flows: number;
  /** Flows that counted as a connection on an edge. */
  learned: number;
  skipped: Record<SkipReason | 'non-flow' | FlowSkipReason, number>;
  lostEvents: number;
}

export interface DroppedPair {
  readonly client: string;
  readonly server: string;
  readonly port: number;
  readonly protocol: string;
  readonly reason: string;
  count: number;
}

export interface UnresolvedIp {
  readonly ip: string;
  readonly reason: UnresolvedReason;
  readonly detail?: string;
  count: number;
}

export const DEFAULT_DEDUPE_WINDOW_MS = 120_000;
export const DEFAULT_DEDUPE_CAPACITY = 65_536;

const TRAFFIC_VERDICTS = new Set(['FORWARDED', 'AUDIT', 'REDIRECTED', 'TRACED', 'TRANSLATED']);

export class Learner {
  readonly edges = new EdgeStore();
  readonly stats: LearnStats = {
    events: 0,
    flows: 0,
    learned: 0,
    skipped: {
      empty: 0,
      malformed: 0,
      'schema-mismatch': 0,
      'too-long': 0,
      'unsupported-protocol': 0,
      'non-flow': 0,
      reply: 0,
      duplicate: 0,
      dropped: 0,
      unconfirmed: 0,
      unresolved: 0,
      'out-of-window': 0,
      'cilium-internal': 0,
    },
    lostEvents: 0,
  };
  /** DNS names per external IP (from DNS answers and destination_names). */
  readonly dnsNames = new Map<string, Set<string>>();
  readonly dropped = new Map<string, DroppedPair>();
  readonly unresolved = new Map<string, UnresolvedIp>();
  /** Pod labels reported by the flow source, per workload key and pod name (when no snapshot knows the pod). */
  readonly observedPods = new Map<string, Map<string, readonly string[]>>();
  /** Earliest and latest flow time learned. */
  firstFlowAt = Number.POSITIVE_INFINITY;
  lastFlowAt = Number.NEGATIVE_INFINITY;

  private readonly recent = new Map<string, number>();
  /** Unconfirmed connections (conntrack [UNREPLIED]) waiting for a reply, by 5-tuple. */
  private readonly pending = new Map<string, { clientKey: string; serverKey: string; port: number; flow: Flow }>();
  private readonly dedupeWindowMs: number;
  private readonly dedupeCapacity: number;
  private readonly since: number;
  private readonly until: number;

  constructor(
    private readonly identity: IdentityResolver,
    options: LearnerOptions = {},
  ) {
    this.dedupeWindowMs = options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS;
    this.dedupeCapacity = options.dedupeCapacity ?? DEFAULT_DEDUPE_CAPACITY;
    this.since = options.since ?? Number.NEGATIVE_INFINITY;
    this.until = options.until ?? Number.POSITIVE_INFINITY;
  }

  /** Feeds one parsed input line or message. Never throws on data. */
  ingest(result: ParseResult): void {
    this.stats.events++;
    switch (result.kind) {
      case 'flow':
        this.ingestFlow(result.flow);
        return;
      case 'skip':
        this.stats.skipped[result.reason]++;
        return;
      case 'lost-events':
        this.stats.lostEvents += result.count;
        this.stats.skipped['non-flow']++;
        return;
      default:
        this.stats.skipped['non-flow']++;
    }
  }

  /** Feeds one flow: the core of learning. Returns what happened to it. */
  ingestFlow(flow: Flow): 'learned' | FlowSkipReason {
    this.stats.flows++;
    if (flow.dnsAnswer) this.recordDnsAnswer(flow.dnsAnswer.query, flow.dnsAnswer.ips);
    if (flow.time < this.since || flow.time >= this.until) return this.skip('out-of-window');
    if (flow.isReply) return this.skip('reply');
    if (flow.source.reserved === 'health' || flow.destination.reserved === 'health') return this.skip('cilium-internal');

    const isTraffic = TRAFFIC_VERDICTS.has(flow.verdict);
    // Cheapest test first: most lines of a busy source are second observations.
    if (isTraffic && flow.confirmed && this.isDuplicate(flow)) return this.skip('duplicate');

    const server = this.identity.resolve(flow.destination, 'server', flow.time, flow.source);
    const client = this.identity.resolve(flow.source, 'client', flow.time, flow.destination);
    if (!client.ok || !server.ok) {
      if (!client.ok) this.noteUnresolved(client);
      if (!server.ok) this.noteUnresolved(server);
      return this.skip('unresolved');
    }
    if (flow.destinationNames && flow.destinationNames.length > 0 && server.peer.type === 'entity' && server.peer.ip) {
      for (const name of flow.destinationNames) this.addDnsName(server.peer.ip, name);
    }
    const clientKey = peerKey(client.peer);
    const serverKey = peerKey(server.peer);

    if (!isTraffic) {
      this.noteDropped(clientKey, serverKey, server.port, flow);
      return this.skip('dropped');
    }
    if (!flow.confirmed) {
      this.notePending(flow, clientKey, serverKey, server.port);
      return this.skip('unconfirmed');
    }
    if (this.pending.size > 0) this.pending.delete(fiveTuple(flow));

    this.noteObservedPod(client, clientKey);
    this.noteObservedPod(server, serverKey);
    this.edges.record(clientKey, serverKey, server.port, flow.protocol, flow.time);
    this.stats.learned++;
    if (flow.time < this.firstFlowAt) this.firstFlowAt = flow.time;
    if (flow.time > this.lastFlowAt) this.lastFlowAt = flow.time;
    return 'learned';
  }

  private skip(reason: FlowSkipReason): FlowSkipReason {
    this.stats.skipped[reason]++;
    return reason;
  }

  /** One connection = one 5-tuple within the dedupe window; the map is bounded by capacity. */
  private isDuplicate(flow: Flow): boolean {
    const key = fiveTuple(flow);
    const seen = this.recent.get(key);
    if (seen !== undefined && Math.abs(flow.time - seen) <= this.dedupeWindowMs) {
      return true;
    }
    if (seen !== undefined) this.recent.delete(key);
    this.recent.set(key, flow.time);
    if (this.recent.size > this.dedupeCapacity) {
      // Map keeps insertion order: evict the oldest eighth at once to amortize.
      let evict = this.dedupeCapacity >>> 3;
      for (const oldest of this.recent.keys()) {
        this.recent.delete(oldest);
        if (--evict <= 0) break;
      }
    }
    return false;
  }

  /**
   * An [UNREPLIED] conntrack entry is not proof of a working connection, but every connection
   * starts unreplied: only one never confirmed later (or evicted) is reported as unanswered.
   */
  private notePending(flow: Flow, clientKey: string, serverKey: string, port: number): void {
    const key = fiveTuple(flow);
    if (this.pending.has(key)) return;
    this.pending.set(key, { clientKey, serverKey, port, flow });
    if (this.pending.size > this.dedupeCapacity) {
      const oldest = this.pending.keys().next().value as string;
      this.reportPending(oldest);
    }
  }

  private reportPending(key: string): void {
    const entry = this.pending.get(key);
    if (!entry) return;
    this.pending.delete(key);
    this.noteDropped(entry.clientKey, entry.serverKey, entry.port, entry.flow, 'UNREPLIED');
  }

  /** Ends a batch: connections still unconfirmed are reported as unanswered attempts. */
  finish(): void {
    for (const key of [...this.pending.keys()]) this.reportPending(key);
  }

  private recordDnsAnswer(query: string, ips: readonly string[]): void {
    for (const ip of ips) this.addDnsName(ip, query);
  }

  private addDnsName(ip: string, rawName: string): void {
    const name = rawName.toLowerCase().replace(/\.$/, '');
    if (name.length === 0) return;
    let names = this.dnsNames.get(ip);
    if (!names) this.dnsNames.set(ip, (names = new Set()));
    names.add(name);
  }

  private noteDropped(clientKey: string, serverKey: string, port: number, flow: Flow, reason = flow.dropReason ?? flow.verdict): void {
    const key = `${clientKey} ${serverKey} ${port}/${flow.protocol} ${reason}`;
    const existing = this.dropped.get(key);
    if (existing) existing.count++;
    else this.dropped.set(key, { client: clientKey, server: serverKey, port, protocol: flow.protocol, reason, count: 1 });
  }

  private noteUnresolved(resolution: Extract<Resolution, { ok: false }>): void {
    const existing = this.unresolved.get(resolution.ip);
    if (existing) existing.count++;
    else {
      this.unresolved.set(resolution.ip, {
        ip: resolution.ip,
        reason: resolution.reason,
        ...(resolution.detail !== undefined ? { detail: resolution.detail } : {}),
        count: 1,
      });
    }
  }

  private noteObservedPod(resolution: Extract<Resolution, { ok: true }>, key: string): void {
    if (!resolution.labels || !resolution.podName) return;
    let pods = this.observedPods.get(key);
    if (!pods) this.observedPods.set(key, (pods = new Map()));
    if (!pods.has(resolution.podName)) pods.set(resolution.podName, resolution.labels);
  }
}

function fiveTuple(flow: Flow): string {
  return `${flow.source.ip} ${flow.source.port} ${flow.destination.ip} ${flow.destination.port} ${flow.protocol}`;
}

export type { Peer };
