/**
 * `flow.Endpoint` bytes → what a `Flow` needs of the endpoint: its hint and why its names are
 * invalid (src/ingest/hubble/build.ts `endpointHint`, `invalidEndpointName`, the rules the JSON
 * parser applies), computed once per distinct endpoint. Endpoints repeat constantly (the same pods
 * talk all the time), so results are cached by the endpoint's bytes: looked up by a hash of some of
 * the bytes ({@link endpointHash}) and a full byte comparison; a bucket holds a few endpoints, so
 * colliding input costs decoding, never a long search. Pure.
 */
import type { EndpointHint, FlowEndpoint } from '../../domain/flow.js';
import { endpointHint, endpointOf, invalidEndpointName } from '../hubble/build.js';
import type { RawEndpoint } from '../hubble/schema.js';
import { firstTwoStrings, LEN, VARINT, want, type WireReader } from './wire.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** What a flow takes from one endpoint. */
export class KnownEndpoint {
  /** Whether the hint is a pod's with every field but `reserved` (most endpoints): {@link at} builds it in one go. */
  private readonly pod: boolean;

  constructor(
    /** Frozen: its `labels` and `workload` are shared by every `Flow` of the endpoint. */
    readonly hint: EndpointHint,
    /** Why the endpoint's names are not Kubernetes names (the flow is `invalid-name`), or undefined. */
    readonly invalid: string | undefined,
  ) {
    this.pod = hint.namespace !== undefined && hint.podName !== undefined && hint.labels !== undefined && hint.workload !== undefined && hint.reserved === undefined && hint.identity !== undefined;
  }

  /**
   * The endpoint at `ip`:`port`: build.ts `endpointOf`'s object (same fields, same order), a pod's
   * made as one object literal rather than grown field by field.
   */
  at(ip: string, port: number): FlowEndpoint {
    if (!this.pod) return endpointOf(ip, port, this.hint);
    const h = this.hint;
    return { ip, port, namespace: h.namespace!, podName: h.podName!, labels: h.labels!, workload: h.workload!, identity: h.identity! };
  }
}

class CachedEndpoint extends KnownEndpoint {
  constructor(
    hint: EndpointHint,
    invalid: string | undefined,
    readonly bytes: Buffer,
  ) {
    super(hint, invalid);
  }
}

/** Distinct endpoints cached; the cache is dropped when full. */
const ENDPOINT_CACHE_LIMIT = 8_192;
/** Endpoints kept under one hash value; more are decoded every time. */
const BUCKET_LIMIT = 16;
/** Larger endpoints (a real one is well under 1 KiB) are decoded every time, so the cache stays small. */
const CACHED_ENDPOINT_MAX_BYTES = 4096;

/** Multipliers of the two hash lanes (FNV's prime and a golden-ratio constant). */
const K1 = 0x0100_0193;
const K2 = 0x9e37_79b1;

/**
 * A 30-bit hash of `buf[start, end)`: its length and, as 4-byte words, the first 16 bytes, the
 * last 32 and three words between (endpoint IDs and identities come first, pod and workload names
 * last; what differs between replicas is mostly there); an endpoint under 32 bytes is hashed
 * whole. Fixed positions in two independent lanes, no loop: this runs for every endpoint of every
 * flow, and equal hashes are always confirmed by comparing the bytes. Equal bytes, equal hash. 30
 * bits so it is a small integer to V8 (a Map key without a heap number per lookup).
 */
export function endpointHash(buf: Buffer, start: number, end: number): number {
  const n = end - start;
  let a = Math.imul(n, K2);
  let b = n;
  if (n >= 32) {
    a = Math.imul(a ^ word(buf, start), K1);
    b = Math.imul(b ^ word(buf, start + 4), K2);
    a = Math.imul(a ^ word(buf, start + 8), K1);
    b = Math.imul(b ^ word(buf, start + 12), K2);
    a = Math.imul(a ^ word(buf, start + (n >>> 2)), K1);
    b = Math.imul(b ^ word(buf, start + (n >>> 1)), K2);
    a = Math.imul(a ^ word(buf, end - (n >>> 2) - 4), K1);
    b = Math.imul(b ^ word(buf, end - 32), K2);
    a = Math.imul(a ^ word(buf, end - 28), K1);
    b = Math.imul(b ^ word(buf, end - 24), K2);
    a = Math.imul(a ^ word(buf, end - 20), K1);
    b = Math.imul(b ^ word(buf, end - 16), K2);
    a = Math.imul(a ^ word(buf, end - 12), K1);
    b = Math.imul(b ^ word(buf, end - 8), K2);
    a = Math.imul(a ^ word(buf, end - 4), K1);
  } else {
    let i = start;
    for (; i + 4 <= end; i += 4) a = Math.imul(a ^ word(buf, i), K1);
    for (; i < end; i++) b = Math.imul(b ^ buf[i]!, K2);
  }
  const h = Math.imul(a ^ (b >>> 15) ^ (b << 7), K2);
  return (h ^ (h >>> 30)) & 0x3fff_ffff;
}

/** The 4 bytes at `i` as one 32-bit integer. */
function word(buf: Buffer, i: number): number {
  return buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
}

export class EndpointCache {
  private readonly buckets = new Map<number, CachedEndpoint[]>();
  private size = 0;

  /**
   * The endpoint whose bytes are the length-delimited field at the reader's position; the reader
   * moves past it. Throws WireError for broken bytes (a cached endpoint's bytes were whole).
   */
  read(r: WireReader): KnownEndpoint {
    const start = r.range();
    const end = r.pos;
    const buf = r.buf;
    const length = end - start;
    const hash = endpointHash(buf, start, end);
    const bucket = this.buckets.get(hash);
    if (bucket !== undefined) {
      for (let k = 0; k < bucket.length; k++) {
        const cached = bucket[k]!;
        if (cached.bytes.length === length && buf.compare(cached.bytes, 0, length, start, end) === 0) return cached;
      }
    }
    const outer = r.end;
    r.pos = start;
    r.end = end;
    const raw = rawEndpoint(r);
    r.pos = end;
    r.end = outer;
    const hint = Object.freeze(endpointHint(raw));
    const invalid = invalidEndpointName(hint);
    if (length > CACHED_ENDPOINT_MAX_BYTES || (bucket !== undefined && bucket.length >= BUCKET_LIMIT)) return new KnownEndpoint(hint, invalid);
    if (this.size >= ENDPOINT_CACHE_LIMIT) {
      this.buckets.clear();
      this.size = 0;
    }
    // The bytes are copied: `buf` may be a view of a network chunk.
    const entry = new CachedEndpoint(hint, invalid, Buffer.from(buf.subarray(start, end)));
    const current = this.buckets.get(hash);
    if (current === undefined) this.buckets.set(hash, [entry]);
    else current.push(entry);
    this.size++;
    return entry;
  }
}

/** `flow.Endpoint` → the raw record of src/ingest/hubble/schema.ts (what build.ts reads). */
function rawEndpoint(r: WireReader): RawEndpoint {
  const ep: Mutable<RawEndpoint> = {};
  let labels: string[] | undefined;
  let workloads: { name?: string; kind?: string }[] | undefined;
  for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
    const field = tag >>> 3;
    const wire = tag & 7;
    switch (field) {
      case 2:
        want(field, wire, VARINT);
        ep.identity = r.uint32();
        break;
      case 3:
        want(field, wire, LEN);
        ep.namespace = r.string();
        break;
      case 4:
        want(field, wire, LEN);
        (labels ??= []).push(r.string());
        break;
      case 5:
        want(field, wire, LEN);
        ep.pod_name = r.string();
        break;
      case 6: {
        want(field, wire, LEN);
        const start = r.range();
        const after = r.pos;
        const outer = r.end;
        r.pos = start;
        r.end = after;
        (workloads ??= []).push(workload(r));
        r.pos = after;
        r.end = outer;
        break;
      }
      default:
        r.skip(wire);
    }
  }
  if (labels !== undefined) ep.labels = labels;
  if (workloads !== undefined) ep.workloads = workloads;
  return ep;
}

function workload(r: WireReader): { name?: string; kind?: string } {
  const [name, kind] = firstTwoStrings(r);
  return { ...(name !== undefined ? { name } : {}), ...(kind !== undefined ? { kind } : {}) };
}
