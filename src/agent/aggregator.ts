/**
 * The node agent's learning state: conntrack lines in, **edge deltas** out, with memory bounded
 * by distinct edges — never by conntrack entries or connections.
 *
 * - A {@link Learner} (the same engine as `hivewall learn` and the operator) turns flows into
 *   edges: it deduplicates the many lines of one connection by 5-tuple (dump lines and NEW /
 *   UPDATE / DESTROY events alike), learns only confirmed connections (`[UNREPLIED]` ones are
 *   reported, not learned) and resolves IPs to workloads as of the flow's time.
 * - {@link drain} moves what the Learner counted since the last drain into the **pending**
 *   buffer: one delta per edge (count, first seen, last seen), found by comparing the Learner's
 *   cumulative counts with a baseline kept as two numbers per edge.
 * - {@link nextBatch} freezes up to `maxBatchEdges` pending deltas into a numbered batch
 *   (`seq`). The same batch is returned again and again until {@link ack} confirms it, so a
 *   retry after a timeout carries the same `seq` and the controller can ignore a batch it has
 *   already applied (at-least-once delivery, applied exactly once). Deltas survive a controller
 *   restart: nothing is dropped until it is acknowledged.
 * - An edge has at most one pending delta and one in the in-flight batch: the buffer holds at most
 *   two deltas per distinct edge, however many connections they count.
 * - The buffer is capped: at most `maxBufferedEdges` pending deltas, plus the one in-flight batch
 *   of at most `maxBatchEdges`. While the controller is unreachable, known edges keep merging (no
 *   growth); a *new* edge that does not fit is dropped and counted (`droppedEdges`,
 *   `droppedConnections`).
 * - The Learner's own edge table only grows with distinct edges; past `maxLearnerEdges` it is
 *   drained and replaced by a fresh one (its dedupe table goes with it, so a connection alive
 *   across the swap can be counted once more — counts are evidence, the edge set is what matters).
 *
 * Multi-node rule (optional `localNode` + `nodeOf`): the same pod-to-pod connection is tracked by
 * the conntrack table of the client's node and of the server's node. Each agent counts a flow
 * unless its client is a pod or node address known to live on *another* node — that node's agent
 * counts it — so every connection between two nodes with agents is counted once.
 */
import type { EdgeRecord } from '../domain/edge-store.js';
import type { Flow, ParseResult, Protocol } from '../domain/flow.js';
import type { IdentityResolver } from '../domain/identity.js';
import { Learner, type LearnerOptions } from '../domain/learner.js';
import type { Denial } from '../domain/learner.js';
import type { PeerKey } from '../domain/peer.js';
import { MAX_DENIED_BY, type DeniedDelta } from './wire.js';

/** One edge's change since the last batch (an edge record): `count` adds up; `firstSeen`/`lastSeen` widen. */
export type EdgeDelta = EdgeRecord;

/** A numbered batch of deltas; `seq` grows by one per new batch of this aggregator. */
export interface DeltaBatch {
  readonly seq: number;
  readonly edges: readonly EdgeDelta[];
  /**
   * Connections dropped because the buffer was full, plus events the flow source lost (Hubble
   * `lost_events`), since the previous batch was cut: the controller counts them as lost events
   * (the graph may miss edges; the Segmentation's FlowsComplete says so).
   */
  readonly droppedConnections?: number;
  /**
   * TCP connections that got no reply (`SYN_SENT [UNREPLIED]` for {@link AggregatorOptions.unansweredAfterMs}),
   * per edge: never learned; the controller counts them as denied when an enforced policy covers a side.
   */
  readonly unanswered?: readonly EdgeDelta[];
  /**
   * Connections Cilium's policies dropped (`POLICY_DENIED`, any protocol: a Hubble agent's), per
   * edge, traffic direction and denying policies: never learned; the controller counts them as
   * denials, as it does hubble-relay's drops.
   */
  readonly denied?: readonly DeniedDelta[];
}

export interface AggregatorOptions {
  readonly identity: IdentityResolver;
  readonly learner?: LearnerOptions;
  /** At most this many pending deltas (the in-flight batch comes on top). Default 20,000. */
  readonly maxBufferedEdges?: number;
  /** Edges per batch. Default 2,000 (about 300 KB of JSON). */
  readonly maxBatchEdges?: number;
  /** The Learner is drained and replaced past this many edges. Default 100,000. */
  readonly maxLearnerEdges?: number;
  /** This agent's node; with `nodeOf`, flows whose client lives on another node are left to that node's agent. */
  readonly localNode?: string;
  /** The node of a pod IP or node address, when known. */
  readonly nodeOf?: (ip: string) => string | undefined;
  /** A TCP connection with no reply for this long is shipped as unanswered. Default 5 s. */
  readonly unansweredAfterMs?: number;
}

export interface AggregatorStats {
  /** Connections learned (all Learners so far). */
  learned: number;
  /** Flows left to the agent of the client's node. */
  remoteClient: number;
  /** Edges waiting for a batch, and in the unacknowledged batch. */
  pendingEdges: number;
  inflightEdges: number;
  /** New edges that did not fit in the buffer, and the connections they carried. */
  droppedEdges: number;
  droppedConnections: number;
  /** Batches made, acknowledged, and rejected by the controller for good. */
  batches: number;
  ackedBatches: number;
  ackedConnections: number;
  rejectedBatches: number;
  rejectedConnections: number;
  /** Learner tables replaced because they grew past `maxLearnerEdges`. */
  rotations: number;
  /** Events the flow source reported lost before the agent saw them (Hubble `lost_events`, conntrack ENOBUFS). */
  sourceLostEvents: number;
  /** Connections a previous run of this agent counted but never shipped ({@link EdgeAggregator.carryOver}). */
  carriedConnections: number;
  /** Unanswered TCP connections found, and those of new edges that did not fit in the buffer. */
  unanswered: number;
  droppedUnanswered: number;
  /** Policy-denied connections found, and those of new entries that did not fit in the buffer. */
  denied: number;
  droppedDenied: number;
}

interface MutableDelta {
  readonly client: PeerKey;
  readonly server: PeerKey;
  readonly port: number;
  readonly protocol: Protocol;
  count: number;
  firstSeen: number;
  lastSeen: number;
  readonly direction?: 'INGRESS' | 'EGRESS';
  readonly deniedBy?: readonly string[];
}

/**
 * The agents' Learner lives as long as the process: it keeps no per-pair drop or per-address
 * unresolved tallies (`tallies: false`; nothing here reads them, and one unanswered SYN to each of
 * many outside addresses would add an entry each, never removed), and the fewest pods flows named
 * that no inventory knew (`observedPods`: labels for selectors, which an agent never ships). The
 * operator's learner does the same (docs/architecture.md §1, src/domain/learner.ts LearnerOptions).
 */
export const AGENT_LEARNER: LearnerOptions = { tallies: false, observedPodLimits: { podsPerWorkload: 1, workloads: 1 } };

const deltaKey = (client: string, server: string, port: number, protocol: Protocol) => `${client}\n${server}\n${port}\n${protocol}`;

/** Cilium's drop reason for a packet a network policy denied (src/operator/denial-registry.ts counts it). */
const POLICY_DENIED = 'POLICY_DENIED';

/**
 * A policy denial as the wire carries it (./wire.ts): the denying policies only when there are at
 * most {@link MAX_DENIED_BY}; with more, none, which the controller counts as a denial by its own
 * policies, as it does a drop Cilium names no policy for.
 */
function deniedEntry(d: Denial): MutableDelta {
  const deniedBy = d.deniedBy !== undefined && d.deniedBy.length <= MAX_DENIED_BY ? [...d.deniedBy].sort() : undefined;
  return {
    client: d.client, server: d.server, port: d.port, protocol: d.protocol, count: 0, firstSeen: d.time, lastSeen: d.time,
    ...(d.direction ? { direction: d.direction } : {}), ...(deniedBy ? { deniedBy } : {}),
  };
}

export class EdgeAggregator {
  readonly stats: AggregatorStats = {
    learned: 0,
    remoteClient: 0,
    pendingEdges: 0,
    inflightEdges: 0,
    droppedEdges: 0,
    droppedConnections: 0,
    batches: 0,
    ackedBatches: 0,
    ackedConnections: 0,
    rejectedBatches: 0,
    rejectedConnections: 0,
    rotations: 0,
    sourceLostEvents: 0,
    carriedConnections: 0,
    unanswered: 0,
    droppedUnanswered: 0,
    denied: 0,
    droppedDenied: 0,
  };

  readonly #opts: AggregatorOptions;
  readonly #maxBuffered: number;
  readonly #maxBatch: number;
  readonly #maxLearnerEdges: number;
  readonly #identity: IdentityResolver;
  #learner: Learner;
  /** Learned connections of the Learners already replaced. */
  #learnedBefore = 0;
  /** Count already drained, per edge index of the current Learner's table (insertion order). */
  #baseCount = new Float64Array(256);
  #baseLength = 0;
  readonly #pending = new Map<string, MutableDelta>();
  /** Unanswered connections per edge, waiting for a batch (never learned). */
  readonly #unanswered = new Map<string, MutableDelta>();
  /** Policy-denied connections per edge, direction and denying policies, waiting for a batch (never learned). */
  readonly #denied = new Map<string, MutableDelta>();
  #inflight: DeltaBatch | undefined;
  #seq = 0;
  /** {@link #lost} as of the last batch cut (the rest is reported with the next). */
  #reportedDropped = 0;

  constructor(opts: AggregatorOptions) {
    this.#opts = opts;
    this.#maxBuffered = opts.maxBufferedEdges ?? 20_000;
    this.#maxBatch = Math.max(1, opts.maxBatchEdges ?? 2_000);
    this.#maxLearnerEdges = opts.maxLearnerEdges ?? 100_000;
    this.#identity = opts.identity;
    this.#learner = this.#newLearner();
  }

  /** A Learner whose unanswered TCP connections land in {@link #unanswered}, its policy denials in {@link #denied}. */
  #newLearner(): Learner {
    return new Learner(this.#identity, { ...AGENT_LEARNER, ...this.#opts.learner, onDenied: (d) => this.#onDenied(d) });
  }

  /**
   * An unanswered TCP connection (conntrack `SYN_SENT [UNREPLIED]`), or a connection Cilium dropped
   * with `POLICY_DENIED` (any protocol: the drop is the proof), kept to be shipped. Other drop
   * reasons are not a policy's doing and are not shipped.
   */
  #onDenied(d: Denial): void {
    if (d.reason === 'UNREPLIED' && d.protocol === 'TCP') {
      this.stats.unanswered++;
      if (!this.#buffer(this.#unanswered, deltaKey(d.client, d.server, d.port, d.protocol), d.time, () => ({ client: d.client, server: d.server, port: d.port, protocol: d.protocol, count: 0, firstSeen: d.time, lastSeen: d.time }))) this.stats.droppedUnanswered++;
    } else if (d.reason === POLICY_DENIED) {
      this.stats.denied++;
      const entry = deniedEntry(d);
      const key = `${deltaKey(d.client, d.server, d.port, d.protocol)}\n${entry.direction ?? ''}\n${entry.deniedBy?.join(',') ?? ''}`;
      if (!this.#buffer(this.#denied, key, d.time, () => entry)) this.stats.droppedDenied++;
    }
  }

  /** Counts one connection at `time` on the buffer's entry `key` (made when new and there is room); false when it did not fit. */
  #buffer(buffer: Map<string, MutableDelta>, key: string, time: number, make: () => MutableDelta): boolean {
    let entry = buffer.get(key);
    if (!entry) {
      if (buffer.size >= this.#maxBuffered) return false;
      buffer.set(key, (entry = make()));
    }
    entry.count++;
    if (time < entry.firstSeen) entry.firstSeen = time;
    if (time > entry.lastSeen) entry.lastSeen = time;
    return true;
  }

  /** The current Learner (its stats: skipped lines, unresolved IPs, unanswered attempts). */
  get learner(): Learner {
    return this.#learner;
  }

  /** Connections learned so far, across Learner replacements. */
  get learnedTotal(): number {
    return this.#learnedBefore + this.#learner.stats.learned;
  }

  /** The sequence number of the last batch made (0 before the first). */
  get lastSeq(): number {
    return this.#seq;
  }

  /** Every connection or event lost so far: buffer full, the source's losses, a previous run's unshipped connections. */
  get #lost(): number {
    return this.stats.droppedConnections + this.stats.sourceLostEvents + this.stats.carriedConnections;
  }

  /**
   * Connections a previous run of this agent counted but could not ship before it stopped (its
   * state file, src/agent/agent.ts): reported as dropped with the next batch, as a full buffer is.
   */
  carryOver(connections: number): void {
    if (connections > 0) this.stats.carriedConnections += connections;
  }

  /** Feeds one parsed conntrack line or Hubble message. Never throws on data. */
  ingest(result: ParseResult): void {
    if (result.kind === 'lost-events') this.stats.sourceLostEvents += result.count;
    if (result.kind === 'flow' && this.#isRemoteClient(result.flow)) {
      this.stats.remoteClient++;
      return;
    }
    this.#learner.ingest(result);
    this.stats.learned = this.learnedTotal;
  }

  #isRemoteClient(flow: Flow): boolean {
    const local = this.#opts.localNode;
    if (local === undefined || this.#opts.nodeOf === undefined || flow.isReply) return false;
    const node = this.#opts.nodeOf(flow.source.ip);
    return node !== undefined && node !== local;
  }

  /**
   * Moves everything the Learner counted since the last drain into the pending buffer (new
   * edges only while the buffer has room; the rest are dropped and counted). With `now`, TCP
   * connections unanswered for `unansweredAfterMs` by then are given up on and shipped as unanswered.
   */
  drain(now?: number): void {
    if (now !== undefined) this.#learner.expireUnanswered(now, this.#opts.unansweredAfterMs ?? 5000);
    const store = this.#learner.edges;
    if (store.size > this.#baseCount.length) {
      let size = this.#baseCount.length;
      while (size < store.size) size *= 2;
      const grown = new Float64Array(size);
      grown.set(this.#baseCount);
      this.#baseCount = grown;
    }
    let i = 0;
    for (const edge of store.edges()) {
      const before = i < this.#baseLength ? this.#baseCount[i]! : 0;
      const delta = edge.count - before;
      this.#baseCount[i] = edge.count;
      i++;
      if (delta <= 0) continue;
      const key = deltaKey(edge.client, edge.server, edge.port, edge.protocol);
      const pending = this.#pending.get(key);
      if (pending) {
        pending.count += delta;
        if (edge.firstSeen < pending.firstSeen) pending.firstSeen = edge.firstSeen;
        if (edge.lastSeen > pending.lastSeen) pending.lastSeen = edge.lastSeen;
      } else if (this.#pending.size < this.#maxBuffered) {
        this.#pending.set(key, { client: edge.client, server: edge.server, port: edge.port, protocol: edge.protocol, count: delta, firstSeen: edge.firstSeen, lastSeen: edge.lastSeen });
      } else {
        this.stats.droppedEdges++;
        this.stats.droppedConnections += delta;
      }
    }
    this.#baseLength = i;
    if (store.size > this.#maxLearnerEdges) this.#rotate();
    this.#updateGauges();
  }

  /** A fresh Learner (its table fully drained above): bounds the edge table, resets the baseline. */
  #rotate(): void {
    this.#learnedBefore += this.#learner.stats.learned;
    this.#learner = this.#newLearner();
    this.#baseCount = new Float64Array(256);
    this.#baseLength = 0;
    this.stats.rotations++;
  }

  /**
   * The batch to send: the unacknowledged one again (same `seq`, same deltas), or a new one from
   * the pending buffer. Undefined when there is nothing to send. Call {@link drain} first.
   */
  nextBatch(): DeltaBatch | undefined {
    if (this.#inflight) return this.#inflight;
    const dropped = this.#lost - this.#reportedDropped;
    if (this.#pending.size === 0 && this.#unanswered.size === 0 && this.#denied.size === 0 && dropped === 0) return undefined;
    const edges = takeUpTo(this.#pending, this.#maxBatch);
    const unanswered = takeUpTo(this.#unanswered, this.#maxBatch);
    const denied = takeUpTo(this.#denied, Math.min(this.#maxBatch, MAX_DENIALS_PER_BATCH));
    this.#reportedDropped = this.#lost;
    this.#inflight = {
      seq: ++this.#seq, edges, ...(dropped > 0 ? { droppedConnections: dropped } : {}),
      ...(unanswered.length > 0 ? { unanswered } : {}), ...(denied.length > 0 ? { denied: denied.map(asDenied) } : {}),
    };
    this.stats.batches++;
    this.#updateGauges();
    return this.#inflight;
  }

  /** The controller applied batch `seq`: its deltas are gone for good. False for any other seq. */
  ack(seq: number): boolean {
    if (this.#inflight?.seq !== seq) return false;
    this.stats.ackedBatches++;
    this.stats.ackedConnections += sumCounts(this.#inflight.edges);
    this.#inflight = undefined;
    this.#updateGauges();
    return true;
  }

  /**
   * The controller refused batch `seq` for good (400: it can never accept it): drop it, counted,
   * so that one bad batch cannot block every later one.
   */
  reject(seq: number): boolean {
    if (this.#inflight?.seq !== seq) return false;
    this.stats.rejectedBatches++;
    this.stats.rejectedConnections += sumCounts(this.#inflight.edges);
    this.#inflight = undefined;
    this.#updateGauges();
    return true;
  }

  /** Nothing to send: no pending or in-flight deltas, unanswered or denied connections, no drop or loss left to report. */
  get idle(): boolean {
    return this.#pending.size === 0 && this.#unanswered.size === 0 && this.#denied.size === 0 && this.#inflight === undefined && this.#lost === this.#reportedDropped;
  }

  /**
   * What the controller has not acknowledged: connections in pending and in-flight deltas, and
   * lost ones not yet reported in an acknowledged batch. What a run that stops now leaves unshipped.
   */
  unacknowledged(): number {
    return this.bufferedConnections() + (this.#inflight?.droppedConnections ?? 0) + this.#lost - this.#reportedDropped;
  }

  /** Connections counted in pending and in-flight deltas (not yet acknowledged). */
  bufferedConnections(): number {
    let n = this.#inflight ? sumCounts(this.#inflight.edges) : 0;
    for (const d of this.#pending.values()) n += d.count;
    return n;
  }

  #updateGauges(): void {
    this.stats.pendingEdges = this.#pending.size;
    this.stats.inflightEdges = this.#inflight?.edges.length ?? 0;
    this.stats.learned = this.learnedTotal;
  }
}

/**
 * Policy denials per batch: each may name {@link MAX_DENIED_BY} policies of up to 317 characters,
 * so 500 of them stay far below the receiver's 4 MiB body limit together with a batch's edges.
 */
const MAX_DENIALS_PER_BATCH = 500;

/** Removes and returns up to `max` deltas of a buffer, oldest first. */
function takeUpTo(buffer: Map<string, MutableDelta>, max: number): Readonly<MutableDelta>[] {
  const out: MutableDelta[] = [];
  for (const [key, delta] of buffer) {
    if (out.length >= max) break;
    buffer.delete(key);
    out.push({ ...delta });
  }
  return out;
}

/** A buffered denial as the wire's type has it (`deniedBy` a fresh array). */
function asDenied({ deniedBy, ...d }: Readonly<MutableDelta>): DeniedDelta {
  return { ...d, ...(deniedBy ? { deniedBy: [...deniedBy] } : {}) };
}

function sumCounts(edges: readonly EdgeDelta[]): number {
  let n = 0;
  for (const e of edges) n += e.count;
  return n;
}
