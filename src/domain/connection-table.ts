/**
 * The Learner's dedupe table (src/domain/learner.ts): values by connection 5-tuple, in insertion
 * order, holding what a `Map` keyed by connection-key.ts's string would hold and in the same order,
 * without making a key string and hashing it for every flow.
 *
 * A 5-tuple of two canonical IPv4 addresses, ports 0..65535 and a known protocol (nearly every flow)
 * is four numbers in an open-addressed index (linear probing, backward-shift deletion) over typed
 * arrays; any other 5-tuple goes by its connection-key.ts string in a `Map`. A canonical dotted quad
 * is the only text of its value, so two 5-tuples share an entry exactly when they are equal as text.
 * Entries are records (small integers, reused once deleted) on one doubly linked list in insertion
 * order, whichever index holds them, so the oldest is found first (the Learner's eviction).
 */
import { connectionKey } from './connection-key.js';
import { ipv4Value } from './ipv4.js';

const NONE = -1;
/** Numbers per record in {@link ConnectionTable.keys}: source, destination, ports, protocol code (0: a record keyed by text). */
const K = 4;
const PROTOCOL_CODES: Readonly<Record<string, number>> = { TCP: 1, UDP: 2, SCTP: 3, ICMPv4: 4, ICMPv6: 5 };

export class ConnectionTable<V> {
  private keys = new Int32Array(16 * K);
  /** Per record: the hash of its numeric key (its home slot in {@link index}). */
  private hashes = new Int32Array(16);
  private prev = new Int32Array(16);
  /** Per record: the next one in insertion order, or in the free list. */
  private next = new Int32Array(16);
  private values: (V | undefined)[] = [];
  /** Per record keyed by text: its key. */
  private texts: (string | undefined)[] = [];
  private readonly byText = new Map<string, number>();
  /** Slot → record, or {@link NONE}. */
  private index = new Int32Array(32).fill(NONE);
  private mask = 31;
  private numeric = 0;
  private records = 0;
  private freeList = NONE;
  private head = NONE;
  private tail = NONE;
  private count = 0;
  /** The key {@link encode} made: a numeric one unless `text` is set. */
  private src = 0;
  private dst = 0;
  private ports = 0;
  private code = 0;
  private text: string | undefined;
  /** The 5-tuple {@link encode} was last given. */
  private lastSrcIp: string | undefined;
  private lastDstIp: string | undefined;
  private lastSrcPort = -1;
  private lastDstPort = -1;
  private lastProtocol: string | undefined;

  get size(): number {
    return this.count;
  }

  /** The oldest record, or -1 when empty. */
  get first(): number {
    return this.head;
  }

  /** The record added after `record`, or -1. */
  after(record: number): number {
    return this.next[record]!;
  }

  value(record: number): V {
    return this.values[record]!;
  }

  /** The record of a 5-tuple, or -1. */
  find(srcIp: string, srcPort: number, dstIp: string, dstPort: number, protocol: string): number {
    if (!this.encode(srcIp, srcPort, dstIp, dstPort, protocol)) return this.byText.get(this.text!) ?? NONE;
    const { keys, index, mask, src, dst, ports, code } = this;
    for (let slot = hash(src, dst, ports, code) & mask; ; slot = (slot + 1) & mask) {
      const r = index[slot]!;
      if (r === NONE) return NONE;
      const at = r * K;
      if (keys[at] === src && keys[at + 1] === dst && keys[at + 2] === ports && keys[at + 3] === code) return r;
    }
  }

  /** Adds a 5-tuple that is not in the table, as the newest; returns its record. */
  add(srcIp: string, srcPort: number, dstIp: string, dstPort: number, protocol: string, value: V): number {
    const numeric = this.encode(srcIp, srcPort, dstIp, dstPort, protocol);
    const r = this.newRecord();
    this.values[r] = value;
    const at = r * K;
    if (numeric) {
      if ((this.numeric + 1) * 2 > this.index.length) this.growIndex();
      const h = hash(this.src, this.dst, this.ports, this.code);
      this.keys[at] = this.src;
      this.keys[at + 1] = this.dst;
      this.keys[at + 2] = this.ports;
      this.keys[at + 3] = this.code;
      this.hashes[r] = h;
      this.place(r, h);
      this.numeric++;
    } else {
      this.keys[at + 3] = 0;
      this.texts[r] = this.text;
      this.byText.set(this.text!, r);
    }
    this.prev[r] = this.tail;
    this.next[r] = NONE;
    if (this.tail === NONE) this.head = r;
    else this.next[this.tail] = r;
    this.tail = r;
    this.count++;
    return r;
  }

  /** Removes a record (its number may be given to a later {@link add}). */
  delete(record: number): void {
    if (this.keys[record * K + 3] === 0) {
      this.byText.delete(this.texts[record]!);
      this.texts[record] = undefined;
    } else {
      this.unplace(record);
      this.numeric--;
    }
    const p = this.prev[record]!;
    const n = this.next[record]!;
    if (p === NONE) this.head = n;
    else this.next[p] = n;
    if (n === NONE) this.tail = p;
    else this.prev[n] = p;
    this.values[record] = undefined;
    this.next[record] = this.freeList;
    this.freeList = record;
    this.count--;
  }

  /**
   * Sets the key fields from a 5-tuple; false when it is keyed by text ({@link text}). The same
   * 5-tuple as the last one (the Learner adds what it just failed to find) keeps the fields as they are.
   */
  private encode(srcIp: string, srcPort: number, dstIp: string, dstPort: number, protocol: string): boolean {
    if (srcIp === this.lastSrcIp && dstIp === this.lastDstIp && srcPort === this.lastSrcPort && dstPort === this.lastDstPort && protocol === this.lastProtocol) {
      return this.text === undefined;
    }
    this.lastSrcIp = srcIp;
    this.lastDstIp = dstIp;
    this.lastSrcPort = srcPort;
    this.lastDstPort = dstPort;
    this.lastProtocol = protocol;
    this.text = undefined;
    const code = PROTOCOL_CODES[protocol];
    if (code !== undefined && (srcPort & 0xffff) === srcPort && (dstPort & 0xffff) === dstPort) {
      const src = ipv4Value(srcIp);
      const dst = src < 0 ? -1 : ipv4Value(dstIp);
      if (dst >= 0) {
        this.src = src | 0;
        this.dst = dst | 0;
        this.ports = (srcPort << 16) | dstPort;
        this.code = code;
        return true;
      }
    }
    this.text = connectionKey(srcIp, srcPort, dstIp, dstPort, protocol);
    return false;
  }

  private newRecord(): number {
    if (this.freeList !== NONE) {
      const r = this.freeList;
      this.freeList = this.next[r]!;
      return r;
    }
    if (this.records === this.hashes.length) this.growRecords();
    return this.records++;
  }

  /** Puts a record in the first free slot from its home slot. */
  private place(record: number, h: number): void {
    const { index, mask } = this;
    let slot = h & mask;
    while (index[slot] !== NONE) slot = (slot + 1) & mask;
    index[slot] = record;
  }

  /** Takes a record out of the index, shifting back the ones after it that probed past its slot. */
  private unplace(record: number): void {
    const { index, mask, hashes } = this;
    let hole = hashes[record]! & mask;
    while (index[hole] !== record) hole = (hole + 1) & mask;
    for (let slot = (hole + 1) & mask; ; slot = (slot + 1) & mask) {
      const r = index[slot]!;
      if (r === NONE) break;
      // r may fill the hole unless its home slot lies cyclically in (hole, slot].
      const home = hashes[r]! & mask;
      if (((slot - home) & mask) >= ((slot - hole) & mask)) {
        index[hole] = r;
        hole = slot;
      }
    }
    index[hole] = NONE;
  }

  private growIndex(): void {
    this.index = new Int32Array(this.index.length * 2).fill(NONE);
    this.mask = this.index.length - 1;
    for (let r = this.head; r !== NONE; r = this.next[r]!) if (this.keys[r * K + 3] !== 0) this.place(r, this.hashes[r]!);
  }

  private growRecords(): void {
    const grow = (a: Int32Array, n: number) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    const n = this.hashes.length * 2;
    this.keys = grow(this.keys, n * K);
    this.hashes = grow(this.hashes, n);
    this.prev = grow(this.prev, n);
    this.next = grow(this.next, n);
  }
}

/** A 32-bit mix (murmur3 finalizer style) of a numeric key. */
function hash(a: number, b: number, c: number, d: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ b, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ c, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15) ^ d, 0x165667b1);
  return h ^ (h >>> 16);
}
