/**
 * The long-lived learning state's hot counter store: one slot per distinct edge
 * (client, server, server port, protocol) with flow count, first seen and last seen.
 *
 * Peers are interned to small integers; edges live in parallel typed arrays behind an
 * open-addressing hash index, so memory follows distinct edges (about 40–80 bytes each)
 * and nothing is retained per flow. graphology is used later, on the derived graph only.
 *
 * Per namespace the store keeps the positions of the edges that touch it (either side a workload
 * there), so a namespace's view costs its own edges, not the cluster's; and it tells
 * {@link EdgeChanges} feeds which namespaces changed, so the operator reconciles and persists those
 * only (docs/architecture.md, "cost follows change").
 */
import type { Protocol } from './flow.js';
import { workloadNamespace, type PeerKey } from './peer.js';

export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP', 'ICMPv4', 'ICMPv6'];
const PROTOCOL_CODE: Readonly<Record<Protocol, number>> = { TCP: 0, UDP: 1, SCTP: 2, ICMPv4: 3, ICMPv6: 4 };

export interface EdgeRecord {
  readonly client: PeerKey;
  readonly server: PeerKey;
  readonly port: number;
  readonly protocol: Protocol;
  readonly count: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
}

const EMPTY = -1;

/**
 * The namespaces whose edges changed since the feed was last drained: `true` when a new edge
 * appeared there, `false` when only counts or times moved. One feed per consumer.
 */
export class EdgeChanges {
  private changed = new Map<string, boolean>();
  private newEdges = false;

  /** @internal called by the store. */
  mark(namespace: string, newEdge: boolean): void {
    if (newEdge) {
      this.changed.set(namespace, true);
      this.newEdges = true;
    } else if (!this.changed.has(namespace)) {
      this.changed.set(namespace, false);
    }
  }

  get size(): number {
    return this.changed.size;
  }

  /** Whether a new edge appeared since the last drain (not only counts). */
  get hasNewEdge(): boolean {
    return this.newEdges;
  }

  /** The changes since the last call, and forgets them. */
  drain(): Map<string, boolean> {
    const out = this.changed;
    this.changed = new Map();
    this.newEdges = false;
    return out;
  }
}

/**
 * Bounds on the distinct edges a store keeps: in all, and per namespace (an edge counts for the
 * namespace of each workload side). A new edge beyond either bound is refused — counted per
 * namespace in {@link EdgeStore.refusedIn}, never stored, its peers not interned — so memory stays
 * bounded whatever flows or agents send; edges already stored keep counting.
 */
export interface EdgeLimits {
  readonly maxEdges?: number;
  readonly maxEdgesPerNamespace?: number;
}

/** Namespaces whose refusals are counted apart; the rest add up under '*'. */
const MAX_REFUSAL_KEYS = 10_000;

export class EdgeStore {
  private readonly peerIds = new Map<string, number>();
  private readonly peerKeys: PeerKey[] = [];
  private capacity: number;
  private length = 0;
  private client: Uint32Array;
  private server: Uint32Array;
  /** port << 3 | protocol code */
  private portProto: Uint32Array;
  private counts: Float64Array;
  private first: Float64Array;
  private last: Float64Array;
  private index: Int32Array;
  private mask: number;
  private newestEdgeTime = Number.NEGATIVE_INFINITY;
  private readonly maxEdges: number;
  private readonly maxPerNamespace: number;
  /** Stored edges per namespace (only tracked when a per-namespace bound is set). */
  private readonly perNamespace = new Map<string, number>();
  /** New edges refused by the bounds, per namespace ('' for an edge without a workload side). */
  private readonly refused = new Map<string, number>();
  private refusedTotal = 0;
  /** Per peer id: the namespace of a workload peer ('' for anything else). */
  private readonly peerNamespace: string[] = [];
  /** Positions of the edges touching each namespace. */
  private readonly byNamespace = new Map<string, number[]>();
  private readonly feeds: EdgeChanges[] = [];

  constructor(initialCapacity = 256, limits: EdgeLimits = {}) {
    this.maxEdges = limits.maxEdges ?? Number.POSITIVE_INFINITY;
    this.maxPerNamespace = limits.maxEdgesPerNamespace ?? Number.POSITIVE_INFINITY;
    this.capacity = Math.max(16, nextPowerOfTwo(initialCapacity));
    this.client = new Uint32Array(this.capacity);
    this.server = new Uint32Array(this.capacity);
    this.portProto = new Uint32Array(this.capacity);
    this.counts = new Float64Array(this.capacity);
    this.first = new Float64Array(this.capacity);
    this.last = new Float64Array(this.capacity);
    this.index = new Int32Array(this.capacity * 2).fill(EMPTY);
    this.mask = this.capacity * 2 - 1;
  }

  /** Number of distinct edges. */
  get size(): number {
    return this.length;
  }

  /** New edges refused by the bounds, in all. */
  get refusedEdges(): number {
    return this.refusedTotal;
  }

  /** New edges touching `namespace` refused by the bounds (see {@link EdgeLimits}). */
  refusedIn(namespace: string): number {
    return (this.refused.get(namespace) ?? 0) + (this.refused.get('*') ?? 0);
  }

  /** A new feed of the namespaces whose edges change from now on. */
  changes(): EdgeChanges {
    const feed = new EdgeChanges();
    this.feeds.push(feed);
    return feed;
  }

  /** Namespaces that have at least one edge. */
  namespaces(): IterableIterator<string> {
    return this.byNamespace.keys();
  }

  /** The edges touching `namespace` (either side a workload there), in insertion order. */
  edgesOf(namespace: string): EdgeRecord[] {
    return (this.byNamespace.get(namespace) ?? []).map((i) => this.edgeAt(i));
  }

  /**
   * The edges of every namespace at once, each edge one object shared by the namespaces of both
   * its sides: planning every namespace (`hivewall learn`) would otherwise build each
   * cross-namespace edge twice.
   */
  edgesByNamespace(): Map<string, EdgeRecord[]> {
    const records: (EdgeRecord | undefined)[] = new Array<EdgeRecord | undefined>(this.length);
    const out = new Map<string, EdgeRecord[]>();
    for (const [namespace, indexes] of this.byNamespace) out.set(namespace, indexes.map((i) => (records[i] ??= this.edgeAt(i))));
    return out;
  }

  /** The namespaces of the other side of `namespace`'s edges (its cross-namespace neighbours). */
  neighboursOf(namespace: string): Set<string> {
    const out = new Set<string>();
    for (const i of this.byNamespace.get(namespace) ?? []) {
      for (const ns of [this.peerNamespace[this.client[i]!]!, this.peerNamespace[this.server[i]!]!]) if (ns !== '' && ns !== namespace) out.add(ns);
    }
    return out;
  }

  /** Time the most recent new edge was first seen (ms), or -Infinity when empty. */
  get lastNewEdgeAt(): number {
    return this.newestEdgeTime;
  }

  /** Interns a peer key and returns its id. */
  peerId(key: PeerKey): number {
    let id = this.peerIds.get(key);
    if (id === undefined) {
      id = this.peerKeys.length;
      this.peerKeys.push(key);
      this.peerIds.set(key, id);
      this.peerNamespace.push(workloadNamespace(key) ?? '');
    }
    return id;
  }

  peerKey(id: number): PeerKey {
    const key = this.peerKeys[id];
    if (key === undefined) throw new RangeError(`unknown peer id ${id}`);
    return key;
  }

  /**
   * Counts `count` observations of an edge at `time`; returns true when the edge is new.
   * Merging (restoring persisted state, node agent deltas) passes the earliest first-seen as `time`
   * and the latest as `lastTime`.
   */
  record(clientKey: PeerKey, serverKey: PeerKey, port: number, protocol: Protocol, time: number, count = 1, lastTime = time): boolean {
    const existing = this.find(clientKey, serverKey, port, protocol);
    if (existing !== undefined) {
      this.counts[existing]! += count;
      if (time < this.first[existing]!) this.first[existing] = time;
      if (lastTime > this.last[existing]!) this.last[existing] = lastTime;
      this.tell(existing, false);
      return false;
    }
    const namespaces = edgeNamespaces(clientKey, serverKey);
    if (!this.admits(namespaces)) return false;
    if (this.length === this.capacity) this.grow();
    const c = this.peerId(clientKey);
    const s = this.peerId(serverKey);
    const pp = ((port & 0xffff) << 3) | PROTOCOL_CODE[protocol];
    let slot = hash3(c, s, pp) & this.mask;
    while (this.index[slot] !== EMPTY) slot = (slot + 1) & this.mask;
    const at = this.length++;
    this.client[at] = c;
    this.server[at] = s;
    this.portProto[at] = pp;
    this.counts[at] = count;
    this.first[at] = time;
    this.last[at] = lastTime;
    this.index[slot] = at;
    if (time > this.newestEdgeTime) this.newestEdgeTime = time;
    if (this.maxPerNamespace !== Number.POSITIVE_INFINITY) for (const ns of namespaces) this.perNamespace.set(ns, (this.perNamespace.get(ns) ?? 0) + 1);
    for (const ns of namespaces) {
      let list = this.byNamespace.get(ns);
      if (!list) this.byNamespace.set(ns, (list = []));
      list.push(at);
    }
    this.tell(at, true);
    return true;
  }

  /** Whether the edge is stored. */
  has(clientKey: PeerKey, serverKey: PeerKey, port: number, protocol: Protocol): boolean {
    return this.find(clientKey, serverKey, port, protocol) !== undefined;
  }

  /** Tells every feed that the edge at `at` changed. */
  private tell(at: number, newEdge: boolean): void {
    if (this.feeds.length === 0) return;
    const c = this.peerNamespace[this.client[at]!]!;
    const s = this.peerNamespace[this.server[at]!]!;
    for (const feed of this.feeds) {
      if (c !== '') feed.mark(c, newEdge);
      if (s !== '' && s !== c) feed.mark(s, newEdge);
    }
  }

  /** Whether a new edge of these namespaces fits the bounds; counts the refusal when not. */
  private admits(namespaces: readonly string[]): boolean {
    const full = this.length >= this.maxEdges || namespaces.some((ns) => (this.perNamespace.get(ns) ?? 0) >= this.maxPerNamespace);
    if (!full) return true;
    this.refusedTotal++;
    for (const ns of namespaces.length > 0 ? namespaces : ['']) {
      const key = this.refused.has(ns) || this.refused.size < MAX_REFUSAL_KEYS ? ns : '*';
      this.refused.set(key, (this.refused.get(key) ?? 0) + 1);
    }
    return false;
  }

  /**
   * Restores a persisted edge: the same edge restored twice (a cross-namespace edge kept in both
   * namespaces' profiles) is counted once — count is the larger, first/last the widest.
   */
  restore(clientKey: PeerKey, serverKey: PeerKey, port: number, protocol: Protocol, count: number, firstSeen: number, lastSeen: number): void {
    const existing = this.find(clientKey, serverKey, port, protocol);
    if (existing === undefined) {
      this.record(clientKey, serverKey, port, protocol, firstSeen, count, lastSeen);
      return;
    }
    const moved = count > this.counts[existing]! || firstSeen < this.first[existing]! || lastSeen > this.last[existing]!;
    this.counts[existing] = Math.max(count, this.counts[existing]!);
    this.first[existing] = Math.min(firstSeen, this.first[existing]!);
    this.last[existing] = Math.max(lastSeen, this.last[existing]!);
    if (moved) this.tell(existing, false);
  }

  private find(clientKey: string, serverKey: string, port: number, protocol: Protocol): number | undefined {
    const c = this.peerIds.get(clientKey);
    const s = this.peerIds.get(serverKey);
    if (c === undefined || s === undefined) return undefined;
    const pp = ((port & 0xffff) << 3) | PROTOCOL_CODE[protocol];
    let slot = hash3(c, s, pp) & this.mask;
    for (;;) {
      const at = this.index[slot]!;
      if (at === EMPTY) return undefined;
      if (this.client[at] === c && this.server[at] === s && this.portProto[at] === pp) return at;
      slot = (slot + 1) & this.mask;
    }
  }

  /** All edges in insertion order. */
  *edges(): IterableIterator<EdgeRecord> {
    for (let i = 0; i < this.length; i++) yield this.edgeAt(i);
  }

  private edgeAt(i: number): EdgeRecord {
    const pp = this.portProto[i]!;
    return {
      client: this.peerKeys[this.client[i]!]!,
      server: this.peerKeys[this.server[i]!]!,
      port: pp >>> 3,
      protocol: PROTOCOLS[pp & 7]!,
      count: this.counts[i]!,
      firstSeen: this.first[i]!,
      lastSeen: this.last[i]!,
    };
  }

  private grow(): void {
    const old = {
      client: this.client,
      server: this.server,
      portProto: this.portProto,
      counts: this.counts,
      first: this.first,
      last: this.last,
    };
    this.capacity *= 2;
    this.client = copyInto(new Uint32Array(this.capacity), old.client);
    this.server = copyInto(new Uint32Array(this.capacity), old.server);
    this.portProto = copyInto(new Uint32Array(this.capacity), old.portProto);
    this.counts = copyInto(new Float64Array(this.capacity), old.counts);
    this.first = copyInto(new Float64Array(this.capacity), old.first);
    this.last = copyInto(new Float64Array(this.capacity), old.last);
    this.index = new Int32Array(this.capacity * 2).fill(EMPTY);
    this.mask = this.capacity * 2 - 1;
    for (let i = 0; i < this.length; i++) {
      let slot = hash3(this.client[i]!, this.server[i]!, this.portProto[i]!) & this.mask;
      while (this.index[slot] !== EMPTY) slot = (slot + 1) & this.mask;
      this.index[slot] = i;
    }
  }
}

/** The namespaces of an edge's workload sides (`wl:<ns>/...`), without repeats. */
function edgeNamespaces(clientKey: string, serverKey: string): string[] {
  const out: string[] = [];
  for (const key of [clientKey, serverKey]) {
    const ns = workloadNamespace(key);
    if (ns && !out.includes(ns)) out.push(ns);
  }
  return out;
}

function copyInto<T extends Uint32Array | Float64Array>(target: T, source: T): T {
  target.set(source);
  return target;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** A small integer mix (murmur3 finalizer style) of three 32-bit values. */
function hash3(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ b, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ c, 0x27d4eb2f);
  return (h ^ (h >>> 15)) >>> 0;
}
