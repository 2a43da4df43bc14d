/**
 * The learning engine: normalized source events in, workload edges out.
 *
 * Rules (docs/architecture.md §1):
 * - Replies (`is_reply`) never create or count an edge.
 * - The same connection observed twice (source egress and destination ingress, two nodes,
 *   conntrack NEW/UPDATE/DESTROY) counts once: observations of one 5-tuple within the
 *   dedupe window are one connection. The window is bounded in time and entries.
 * - DROPPED/ERROR flows never create allow edges; they are counted and reported per pair.
 * - Unconfirmed connections (conntrack [UNREPLIED]) are reported, not learned.
 * - AUDIT (and REDIRECTED) flows are traffic that happened; socket traces (TRACED, TRANSLATED)
 *   are neither traffic proof nor drops and are skipped.
 * - DNS answers and Hubble `destination_names` name external peers, for the client workload that
 *   resolved them only (src/domain/dns-names.ts): a DNS answer belongs to the pod it was sent to.
 * Raw flows are never stored: memory follows edges and distinct peers, not flows.
 */
import type { Flow, ParseResult, SkipReason } from './flow.js';
import { ConnectionTable } from './connection-table.js';
import { DnsNames, type DnsNameDrop, type DnsNameLimits } from './dns-names.js';
import { EdgeStore, type EdgeLimits } from './edge-store.js';
import type { IdentityResolver, Resolution, UnresolvedReason } from './identity.js';
import { entityAddressOf, peerKey, workloadNamespace, type Peer, type PeerKey } from './peer.js';

export interface LearnerOptions {
  /** Observations of the same 5-tuple within this many ms are one connection. */
  readonly dedupeWindowMs?: number;
  /** At most this many recent 5-tuples are remembered for dedupe (memory bound). */
  readonly dedupeCapacity?: number;
  /** Flows before this time (ms) are ignored. */
  readonly since?: number;
  /** Flows at or after this time (ms) are ignored. */
  readonly until?: number;
  /** Bounds on the distinct edges kept (the operator's --max-edges flags); none by default. */
  readonly limits?: EdgeLimits;
  /**
   * Told once per connection that was denied: a drop of a resolved connection (its `reason` is the
   * drop reason, e.g. POLICY_DENIED) or an unconfirmed one given up on (`UNREPLIED`). The operator
   * counts denials of its enforced policies from this; nothing here is learned as an edge.
   */
  readonly onDenied?: (denial: Denial) => void;
  /**
   * Keep the tallies `hivewall learn` prints ({@link Learner.dropped} per denied pair,
   * {@link Learner.unresolved} per unknown address); default true. A learner that runs for the
   * operator's lifetime and never reads them passes false: they would grow with every distinct
   * dropped peer (an internet scan of a denied port adds one per source address) and never shrink.
   * Counters, {@link onDenied} and learning are the same either way.
   */
  readonly tallies?: boolean;
  /**
   * Bounds on {@link Learner.observedPods} (none by default: `hivewall learn` reads a finite input
   * and builds selectors from every pod it saw). The operator's learner lives for the process:
   * pods no snapshot knew (gone before their flows were read, a Job's pod per run, every bare pod a
   * workload of its own) would pile up there, so it keeps the newest pods per workload and the
   * workloads named most recently; an older pod's labels then no longer shape the selectors (which
   * still exclude every known pod of other workloads).
   */
  readonly observedPodLimits?: { readonly podsPerWorkload: number; readonly workloads: number };
  /** Bounds on the DNS names kept per client workload (see DnsNames); the defaults otherwise. */
  readonly dnsLimits?: DnsNameLimits;
  /** Told about DNS names the bounds did not keep (the operator's metric). */
  readonly onDnsNamesDropped?: (reason: DnsNameDrop, names: number) => void;
}

/** A denied connection attempt, resolved to peers. */
export interface Denial {
  readonly client: PeerKey;
  readonly server: PeerKey;
  readonly port: number;
  readonly protocol: Flow['protocol'];
  readonly reason: string;
  /** When it was denied (the drop's time; for UNREPLIED the connection's first observation). */
  readonly time: number;
  /** Hubble's traffic direction of the drop: EGRESS (the client's policy) or INGRESS (the server's). */
  readonly direction?: 'INGRESS' | 'EGRESS';
  /** Names (`<namespace>/<name>`) of the policies Cilium reported as denying it, when it did. */
  readonly deniedBy?: readonly string[];
}

export type FlowSkipReason = 'reply' | 'duplicate' | 'dropped' | 'unconfirmed' | 'unresolved' | 'out-of-window' | 'cilium-internal' | 'socket-trace';

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

/** Longer than conntrack's TCP TIME_WAIT (120 s) and UDP stream (180 s) timeouts, so a DESTROY joins its connection. */
export const DEFAULT_DEDUPE_WINDOW_MS = 300_000;
export const DEFAULT_DEDUPE_CAPACITY = 65_536;

const TRAFFIC_VERDICTS = new Set(['FORWARDED', 'AUDIT', 'REDIRECTED']);
/** Socket-level traces (before/after Service translation): neither traffic proof nor a drop. */
const TRACE_VERDICTS = new Set(['TRACED', 'TRANSLATED']);

export class Learner {
  readonly edges: EdgeStore;
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
      'invalid-name': 0,
      'non-flow': 0,
      reply: 0,
      duplicate: 0,
      dropped: 0,
      unconfirmed: 0,
      unresolved: 0,
      'out-of-window': 0,
      'cilium-internal': 0,
      'socket-trace': 0,
    },
    lostEvents: 0,
  };
  /** DNS names of external IPs per client workload (from DNS answers and destination_names). */
  readonly dnsNames: DnsNames;
  readonly dropped = new Map<string, DroppedPair>();
  readonly unresolved = new Map<string, UnresolvedIp>();
  /** Pod labels reported by the flow source, per workload key and pod name (when no snapshot knows the pod). */
  readonly observedPods = new Map<string, Map<string, readonly string[]>>();
  /** The keys of {@link observedPods} per namespace. */
  private readonly observedByNamespace = new Map<string, Set<string>>();
  /** Earliest and latest flow time learned. */
  firstFlowAt = Number.POSITIVE_INFINITY;
  lastFlowAt = Number.NEGATIVE_INFINITY;

  /** Recent connections by 5-tuple, oldest first: dedupe, and the pending ones waiting for proof or a drop. */
  private readonly recent = new ConnectionTable<Connection>();
  private readonly dedupeWindowMs: number;
  private readonly dedupeCapacity: number;
  private readonly since: number;
  private readonly until: number;
  private readonly onDenied: ((denial: Denial) => void) | undefined;
  private readonly tallies: boolean;
  private readonly observedPodsPerWorkload: number;
  private readonly observedWorkloads: number;
  /** Connections waiting for a reply ({@link expireUnanswered} looks only at these). */
  private readonly unreplied = new Set<Connection>();
  /** Released connection records kept for reuse ({@link connection}). */
  private readonly spare: Connection[] = [];

  constructor(
    private readonly identity: IdentityResolver,
    options: LearnerOptions = {},
  ) {
    this.edges = new EdgeStore(256, options.limits);
    this.dnsNames = new DnsNames(options.dnsLimits, options.onDnsNamesDropped);
    this.dedupeWindowMs = options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS;
    this.dedupeCapacity = options.dedupeCapacity ?? DEFAULT_DEDUPE_CAPACITY;
    this.since = options.since ?? Number.NEGATIVE_INFINITY;
    this.until = options.until ?? Number.POSITIVE_INFINITY;
    this.onDenied = options.onDenied;
    this.tallies = options.tallies ?? true;
    this.observedPodsPerWorkload = Math.max(1, options.observedPodLimits?.podsPerWorkload ?? Number.POSITIVE_INFINITY);
    this.observedWorkloads = Math.max(1, options.observedPodLimits?.workloads ?? Number.POSITIVE_INFINITY);
  }

  /** The workload keys of a namespace whose pods the flow source named (see {@link observedPods}). */
  observedKeysIn(namespace: string): Iterable<string> {
    return this.observedByNamespace.get(namespace) ?? [];
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

  /**
   * Feeds one flow: the core of learning. A connection is learned once it is proven: the
   * destination endpoint accepted it (Hubble TO_ENDPOINT), a reply was seen, or conntrack saw the
   * reply direction. A connection only seen leaving its source stays pending: a later DROPPED
   * observation of the same 5-tuple (the destination's ingress policy) denies it; otherwise it is
   * learned when it leaves the dedupe table or at {@link finish}.
   */
  ingestFlow(flow: Flow): 'learned' | 'pending' | FlowSkipReason {
    this.stats.flows++;
    if (flow.dnsAnswer) this.recordDnsAnswer(flow);
    if (flow.time < this.since || flow.time >= this.until) return this.skip('out-of-window');
    if (flow.source.reserved === 'health' || flow.destination.reserved === 'health') return this.skip('cilium-internal');
    if (TRACE_VERDICTS.has(flow.verdict)) return this.skip('socket-trace');
    const { source, destination } = flow;
    if (flow.isReply) {
      const record = this.recent.find(destination.ip, destination.port, source.ip, source.port, flow.protocol);
      const conn = record < 0 ? undefined : this.recent.value(record);
      if (conn && conn.state !== LEARNED && conn.state !== DENIED) this.learn(conn);
      return this.skip('reply');
    }

    const isTraffic = TRAFFIC_VERDICTS.has(flow.verdict);
    const record = this.recent.find(source.ip, source.port, destination.ip, destination.port, flow.protocol);
    const known = record < 0 ? undefined : this.recent.value(record);
    if (known && Math.abs(flow.time - known.lastSeen) <= this.dedupeWindowMs) {
      // A sliding window: NEW, UPDATE, DESTROY and later dumps of one long connection stay one.
      if (flow.time > known.lastSeen) known.lastSeen = flow.time;
      if (!isTraffic) {
        if (!known.denied) this.denied(known, dropReason(flow), flow.time, flow);
        if (known.state !== LEARNED) known.state = DENIED;
        this.unreplied.delete(known);
        this.noteDropped(known.clientKey, known.serverKey, known.port, flow.protocol, dropReason(flow));
        return this.skip('dropped');
      }
      if (known.state === PENDING_UNREPLIED) known.silent = silentlyDropped(flow, known.silent);
      if (flow.confirmed && (known.state === PENDING_UNREPLIED || (known.state === PENDING_FORWARDED && provesDelivery(flow)))) {
        this.unreplied.delete(known);
        this.learn(known);
        return 'learned';
      }
      return this.skip('duplicate');
    }
    if (known) this.release(known);

    const server = this.identity.resolve(flow.destination, 'server', flow.time, flow.source);
    const client = this.identity.resolve(flow.source, 'client', flow.time, flow.destination);
    if (!client.ok || !server.ok) {
      if (!client.ok) this.noteUnresolved(client);
      if (!server.ok) this.noteUnresolved(server);
      return this.skip('unresolved');
    }
    const clientKey = client.key ?? peerKey(client.peer);
    const serverKey = server.key ?? peerKey(server.peer);
    // Hubble's destination_names come from the source endpoint's own DNS lookups.
    if (flow.destinationNames && flow.destinationNames.length > 0 && client.peer.type === 'workload' && server.peer.type === 'entity' && server.peer.ip) {
      for (const name of flow.destinationNames) this.addDnsName(clientKey, server.peer.ip, name);
    }
    const conn = this.connection(flow.time, clientKey, serverKey, server.port, flow.protocol, silentlyDropped(flow, true));
    this.remember(flow, conn);
    if (!isTraffic) {
      conn.state = DENIED;
      this.denied(conn, dropReason(flow), flow.time, flow);
      this.noteDropped(clientKey, serverKey, server.port, flow.protocol, dropReason(flow));
      return this.skip('dropped');
    }
    this.noteObservedPod(client, clientKey);
    this.noteObservedPod(server, serverKey);
    if (!flow.confirmed) {
      conn.state = PENDING_UNREPLIED;
      this.unreplied.add(conn);
      return this.skip('unconfirmed');
    }
    if (provesDelivery(flow)) {
      this.learn(conn);
      return 'learned';
    }
    return 'pending';
  }

  /**
   * Learns every connection still waiting for proof of delivery (seen leaving its source, no drop
   * seen) and keeps it in the dedupe table, so later observations of it stay duplicates. For a
   * source whose every counted flow is complete where it is observed (a Hubble node agent: see
   * src/agent/hubble-agent.ts), nothing later can deny such a connection; waiting for a reply the
   * agent does not ask for would only delay the edge. Conntrack's unreplied entries stay pending.
   */
  settlePending(): void {
    for (let r = this.recent.first; r >= 0; r = this.recent.after(r)) {
      const conn = this.recent.value(r);
      if (conn.state === PENDING_FORWARDED) this.learn(conn);
    }
  }

  /** Ends a batch: pending connections are resolved (learned, or reported as unanswered). */
  finish(): void {
    while (this.recent.first >= 0) this.release(this.recent.value(this.recent.first));
  }

  /**
   * Gives up on connections that got no reply for `afterMs` by `now`: they are reported as
   * unanswered (`UNREPLIED`, see {@link LearnerOptions.onDenied}), never learned. A TCP SYN that a
   * NetworkPolicy drops leaves its conntrack entry `SYN_SENT [UNREPLIED]` while the client retries
   * (1 s, 3 s, 7 s, …), so a few seconds without a reply tell a dropped connection from a slow one.
   * Only the connections waiting for a reply are looked at.
   */
  expireUnanswered(now: number, afterMs: number): number {
    let expired = 0;
    for (const conn of this.unreplied) {
      if (conn.state !== PENDING_UNREPLIED) {
        this.unreplied.delete(conn);
        continue;
      }
      if (now - conn.time < afterMs) continue;
      this.unreplied.delete(conn);
      conn.state = DENIED;
      if (conn.silent) this.denied(conn, 'UNREPLIED', conn.time);
      this.noteDropped(conn.clientKey, conn.serverKey, conn.port, conn.protocol, 'UNREPLIED');
      expired++;
    }
    return expired;
  }

  private skip(reason: FlowSkipReason): FlowSkipReason {
    this.stats.skipped[reason]++;
    return reason;
  }

  private learn(conn: Connection): void {
    conn.state = LEARNED;
    const isNew = this.edges.record(conn.clientKey, conn.serverKey, conn.port, conn.protocol, conn.time);
    if (conn.serverKey.startsWith('en:') && this.dnsNames.has(conn.clientKey)) this.pinNames(conn, isNew);
    this.stats.learned++;
    if (conn.time < this.firstFlowAt) this.firstFlowAt = conn.time;
    if (conn.time > this.lastFlowAt) this.lastFlowAt = conn.time;
  }

  /**
   * A learned edge to an external address keeps the names its client resolved for it (they make
   * the edge's FQDN rule: DnsNames.pin). Only for an edge the store holds: one refused by the edge
   * limits pins nothing, so the limits bound the pinned names too.
   */
  private pinNames(conn: Connection, isNew: boolean): void {
    const ip = entityAddressOf(conn.serverKey);
    if (ip === undefined) return;
    if (isNew || this.edges.has(conn.clientKey, conn.serverKey, conn.port, conn.protocol)) this.dnsNames.pin(conn.clientKey, ip);
  }

  /**
   * A connection leaves the table: one seen leaving its source with no drop is learned; an
   * [UNREPLIED] conntrack entry never confirmed is not proof of a working connection and is
   * reported as an unanswered attempt instead.
   */
  private release(conn: Connection): void {
    this.recent.delete(conn.record);
    this.unreplied.delete(conn);
    if (conn.state === PENDING_FORWARDED) this.learn(conn);
    else if (conn.state === PENDING_UNREPLIED) {
      conn.state = DENIED;
      if (conn.silent) this.denied(conn, 'UNREPLIED', conn.time);
      this.noteDropped(conn.clientKey, conn.serverKey, conn.port, conn.protocol, 'UNREPLIED');
    }
    if (this.spare.length < SPARE_CONNECTIONS) this.spare.push(conn);
  }

  /**
   * A connection record, reusing one released earlier: the table churns through a connection per
   * new 5-tuple, and records that lived a whole dedupe window would otherwise pile up as old-space
   * garbage, so memory would follow flows rather than the table's capacity (bench: rss_growth).
   * Nothing keeps a record once it left the table (denials are told as new objects).
   */
  private connection(time: number, clientKey: PeerKey, serverKey: PeerKey, port: number, protocol: Flow['protocol'], silent: boolean): Connection {
    const conn = this.spare.pop();
    if (conn === undefined) return { time, lastSeen: time, state: PENDING_FORWARDED, clientKey, serverKey, port, protocol, denied: false, silent, record: -1 };
    conn.time = time;
    conn.lastSeen = time;
    conn.state = PENDING_FORWARDED;
    conn.clientKey = clientKey;
    conn.serverKey = serverKey;
    conn.port = port;
    conn.protocol = protocol;
    conn.denied = false;
    conn.silent = silent;
    return conn;
  }

  /** Bounded table: past capacity the oldest eighth (at least one) is released at once (amortized). */
  private remember(flow: Flow, conn: Connection): void {
    const { source, destination } = flow;
    conn.record = this.recent.add(source.ip, source.port, destination.ip, destination.port, flow.protocol, conn);
    if (this.recent.size <= this.dedupeCapacity) return;
    let evict = this.dedupeCapacity >>> 3;
    do this.release(this.recent.value(this.recent.first));
    while (--evict > 0);
  }

  /** Tells {@link LearnerOptions.onDenied} about a connection, once. */
  private denied(conn: Connection, reason: string, time: number, flow?: Flow): void {
    conn.denied = true;
    if (!this.onDenied) return;
    const direction = flow?.trafficDirection === 'INGRESS' || flow?.trafficDirection === 'EGRESS' ? flow.trafficDirection : undefined;
    this.onDenied({
      client: conn.clientKey, server: conn.serverKey, port: conn.port, protocol: conn.protocol, reason, time,
      ...(direction ? { direction } : {}),
      ...(flow?.deniedBy && flow.deniedBy.length > 0 ? { deniedBy: flow.deniedBy } : {}),
    });
  }

  /**
   * A DNS answer names its addresses for the workload it was sent to (the destination of a reply;
   * the sender of anything else) and for no one else. An answer to no known workload names nothing.
   */
  private recordDnsAnswer(flow: Flow): void {
    const answer = flow.dnsAnswer!;
    const [clientEnd, serverEnd] = flow.isReply ? [flow.destination, flow.source] : [flow.source, flow.destination];
    const client = this.identity.resolve(clientEnd, 'client', flow.time, serverEnd);
    if (!client.ok || client.peer.type !== 'workload') return;
    const clientKey = client.key ?? peerKey(client.peer);
    for (const ip of answer.ips) this.addDnsName(clientKey, ip, answer.query);
  }

  private addDnsName(client: string, ip: string, rawName: string): void {
    const lower = rawName.toLowerCase();
    const name = lower.endsWith('.') ? lower.slice(0, -1) : lower;
    if (name.length === 0) return;
    this.dnsNames.add(client, ip, name);
  }

  private noteDropped(clientKey: string, serverKey: string, port: number, protocol: string, reason: string): void {
    if (!this.tallies) return;
    const key = `${clientKey} ${serverKey} ${port}/${protocol} ${reason}`;
    const existing = this.dropped.get(key);
    if (existing) existing.count++;
    else this.dropped.set(key, { client: clientKey, server: serverKey, port, protocol, reason, count: 1 });
  }

  private noteUnresolved(resolution: Extract<Resolution, { ok: false }>): void {
    if (!this.tallies) return;
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
    if (pods !== undefined && this.observedWorkloads !== Number.POSITIVE_INFINITY) {
      // Bounded: named again, so the most recent (the bound drops the one named longest ago).
      this.observedPods.delete(key);
      this.observedPods.set(key, pods);
    }
    if (!pods) {
      if (this.observedPods.size >= this.observedWorkloads) this.forgetObservedWorkload(this.observedPods.keys().next().value!);
      this.observedPods.set(key, (pods = new Map()));
      if (resolution.peer.type === 'workload') {
        let keys = this.observedByNamespace.get(resolution.peer.namespace);
        if (!keys) this.observedByNamespace.set(resolution.peer.namespace, (keys = new Set()));
        keys.add(key);
      }
    }
    if (pods.has(resolution.podName)) return;
    if (pods.size >= this.observedPodsPerWorkload) pods.delete(pods.keys().next().value!);
    pods.set(resolution.podName, resolution.labels);
  }

  /** Drops a workload's observed pods (the one named longest ago, past the bound). */
  private forgetObservedWorkload(key: string): void {
    this.observedPods.delete(key);
    const namespace = workloadNamespace(key);
    if (namespace === undefined) return;
    const keys = this.observedByNamespace.get(namespace);
    keys?.delete(key);
    if (keys?.size === 0) this.observedByNamespace.delete(namespace);
  }
}

const PENDING_FORWARDED = 0;
const PENDING_UNREPLIED = 1;
const LEARNED = 2;
const DENIED = 3;

/** Released connection records kept for reuse: at most one eviction's worth (see `remember`). */
const SPARE_CONNECTIONS = 8192;

/** One connection in the dedupe table (no raw flow is kept); records are reused once released. */
interface Connection {
  /** First observation. */
  time: number;
  /** Latest observation: the dedupe window slides with it. */
  lastSeen: number;
  state: typeof PENDING_FORWARDED | typeof PENDING_UNREPLIED | typeof LEARNED | typeof DENIED;
  clientKey: PeerKey;
  serverKey: PeerKey;
  port: number;
  protocol: Flow['protocol'];
  /** Whether {@link LearnerOptions.onDenied} was told about it (once per connection). */
  denied: boolean;
  /**
   * For an unanswered connection: nothing but silence so far (a TCP entry still SYN_SENT, or a
   * source without states). A refused connect (RST: conntrack moves to CLOSE) or an entry the
   * kernel destroyed is not a silent drop and is never told as one.
   */
  silent: boolean;
  /** Its record in the dedupe table, while it is there. */
  record: number;
}

/** Whether an observation of an unanswered connection keeps it a silent drop (see {@link Connection.silent}). */
function silentlyDropped(flow: Flow, before: boolean): boolean {
  if (flow.ended) return false;
  if (flow.connectionState !== undefined && flow.connectionState !== 'SYN_SENT' && flow.protocol === 'TCP') return false;
  return before;
}

/**
 * Whether this observation proves the destination accepted the connection: Hubble's TO_ENDPOINT
 * point is after the destination's ingress policy; a flow with no observation point (conntrack,
 * which reports only what the kernel tracked both ways) is proof by itself. A Hubble flow seen
 * only leaving its source (TO_STACK, TO_OVERLAY, ...) may still be dropped at the destination.
 */
function provesDelivery(flow: Flow): boolean {
  return flow.observationPoint === undefined || flow.observationPoint === 'TO_ENDPOINT';
}

function dropReason(flow: Flow): string {
  return flow.dropReason ?? flow.verdict;
}

export type { Peer };
