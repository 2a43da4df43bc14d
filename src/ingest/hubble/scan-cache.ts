/**
 * Byte-keyed caches of the fast scanner: values that repeat from line to line are recognised by
 * their exact bytes and reused. A cache maps byte strings to what those bytes parse to, and a hit
 * must match every byte, so a cache can save work but never change a result. Pure (module state
 * only).
 */
import { Buffer } from 'node:buffer';
import { rememberEndpointHint } from './build.js';
import type { RawEndpoint } from './schema.js';

/**
 * Endpoints repeat: the same pod's `source`/`destination` object, byte for byte, in thousands of
 * lines. A JSON object value parses the same wherever it appears, so an endpoint whose bytes equal
 * those of one already scanned (and so validated) reuses that raw record — and build.ts its
 * normalized hint — without being scanned again. Looked up by a hash of its first
 * {@link EndpointCache.PREFIX} bytes and confirmed by comparing all its bytes. Bounded: cleared when
 * full. Endpoints shorter than the prefix are not cached (cheap to scan, and their hash would
 * cover bytes after them).
 */
export class EndpointCache {
  static readonly PREFIX = 48;
  private static readonly MAX_ENTRIES = 4096;
  private readonly entries = new Map<number, { readonly bytes: Buffer; readonly raw: RawEndpoint }>();

  /**
   * Hash of `buf[start, start + PREFIX)`, or -1 when the line has fewer bytes left: FNV-1a over
   * four interleaved lanes (byte i goes to lane i % 4), so the four multiply chains run side by
   * side instead of one 48 multiplies long, then the lanes mixed.
   */
  hash(buf: Uint8Array, start: number, end: number): number {
    if (end - start < EndpointCache.PREFIX) return -1;
    let a = 0x811c9dc5;
    let b = 0x050c5d1f;
    let c = 0x1b873593;
    let d = 0x7feb352d;
    for (let i = start; i < start + EndpointCache.PREFIX; i += 4) {
      a = Math.imul(a ^ buf[i]!, 0x01000193);
      b = Math.imul(b ^ buf[i + 1]!, 0x01000193);
      c = Math.imul(c ^ buf[i + 2]!, 0x01000193);
      d = Math.imul(d ^ buf[i + 3]!, 0x01000193);
    }
    let h = Math.imul(a ^ (b >>> 15), 0x85ebca6b);
    h = Math.imul(h ^ c ^ (h >>> 13), 0xc2b2ae35);
    h = Math.imul(h ^ d ^ (h >>> 16), 0x27d4eb2f);
    return (h ^ (h >>> 15)) >>> 0;
  }

  /** The cached endpoint whose bytes start at `buf[start]`, if any. */
  lookup(buf: Buffer, start: number, end: number, hash: number): { readonly bytes: Buffer; readonly raw: RawEndpoint } | undefined {
    if (hash < 0) return undefined;
    const entry = this.entries.get(hash);
    if (entry === undefined) return undefined;
    const length = entry.bytes.length;
    if (start + length > end || buf.compare(entry.bytes, 0, length, start, start + length) !== 0) return undefined;
    return entry;
  }

  remember(buf: Buffer, start: number, stop: number, hash: number, raw: RawEndpoint): void {
    if (hash < 0 || stop - start < EndpointCache.PREFIX) return;
    if (this.entries.size >= EndpointCache.MAX_ENTRIES) this.entries.clear();
    rememberEndpointHint(raw);
    this.entries.set(hash, { bytes: Buffer.from(buf.subarray(start, stop)), raw });
  }
}

export const endpointCache = new EndpointCache();

/**
 * A direct-mapped memo from short raw string bytes (no escapes) to what they decode to: node names
 * and IP addresses repeat across lines (and within one: the envelope repeats the flow's
 * `node_name`). A hit must match every byte, so it is exact; a collision just misses.
 */
export class ByteMemo<T> {
  private static readonly SLOTS = 256;
  private static readonly MAX_BYTES = 64;
  /** Slot i's key bytes live at `keys[i * MAX_BYTES]`, `lengths[i]` of them (0: empty slot). */
  private readonly keys = new Uint8Array(ByteMemo.SLOTS * ByteMemo.MAX_BYTES);
  private readonly lengths = new Int32Array(ByteMemo.SLOTS);
  private readonly values: (T | undefined)[] = new Array<T | undefined>(ByteMemo.SLOTS).fill(undefined);

  slot(buf: Uint8Array, start: number, end: number): number {
    const len = end - start;
    if (len === 0 || len > ByteMemo.MAX_BYTES) return -1;
    return (len * 31 + buf[start]! * 7 + buf[end - 1]! * 13 + buf[start + (len >> 1)]! * 3 + buf[start + (len >> 2)]!) & (ByteMemo.SLOTS - 1);
  }

  get(buf: Uint8Array, start: number, end: number, slot: number): T | undefined {
    if (slot < 0) return undefined;
    const len = end - start;
    if (this.lengths[slot] !== len) return undefined;
    const keys = this.keys;
    const base = slot * ByteMemo.MAX_BYTES;
    // Backwards: timestamps and addresses that differ, differ at the end.
    for (let i = len - 1; i >= 0; i--) if (keys[base + i] !== buf[start + i]) return undefined;
    return this.values[slot];
  }

  set(buf: Uint8Array, start: number, end: number, slot: number, value: T): void {
    if (slot < 0) return;
    const keys = this.keys;
    const base = slot * ByteMemo.MAX_BYTES;
    for (let i = start; i < end; i++) keys[base + i - start] = buf[i]!;
    this.lengths[slot] = end - start;
    this.values[slot] = value;
  }
}

export const nameMemo = new ByteMemo<string>();
export const ipMemo = new ByteMemo<string>();


