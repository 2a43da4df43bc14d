/**
 * `observer.GetFlowsResponse` bytes → {@link ParseResult}, read straight from the protobuf wire
 * format (wire.ts) into the raw record the Hubble JSON parser builds flows from (build.ts
 * `flowResult`), so the gRPC source and the export-file parser map one message by the same rules —
 * without building protojson text or generic message objects first. Pure.
 *
 * Only the fields hivewall reads are looked at (numbers from proto/, which proto.test.ts checks
 * against Cilium's); every other field is skipped by its wire type. protobuf rules applied:
 * - the last occurrence of a non-repeated field wins, and of a `oneof` the last member set wins
 *   (the envelope's `response_types`, `Layer4.protocol`, `Layer7.record`);
 * - proto3 scalars absent from the wire are their zero value, which build.ts treats as "not set";
 * - `google.protobuf.Timestamp` must have seconds in 0001-01-01..9999-12-31 and nanos in
 *   [0, 1e9) (as protojson requires); flow times become milliseconds by truncation, as the JSON
 *   parser reads RFC 3339 text;
 * - `google.protobuf.BoolValue` present without `value` is `false`;
 * - enums: a number hivewall knows becomes its name; an unknown number is rejected for the closed
 *   enums (`Verdict`, `TrafficDirection`) and kept as its decimal for the open ones (as protojson
 *   writes, and the JSON parser reads, it).
 *
 * Besides the result, a flow's resume key (see resume.ts) is returned: its time (seconds and nanos) and
 * its identity (`uuid:<uuid>`, else a SHA-256 of the flow's bytes); a lost-events notice's identity
 * is its whole message.
 *
 * Endpoints repeat constantly (the same pods talk all the time): their records are cached by their
 * bytes, so labels are decoded, validated and classified once per distinct endpoint, not per flow.
 * The cache is looked up by a hash of some of the bytes (endpointHash) and a full byte comparison;
 * a bucket holds a few endpoints, so colliding input costs decoding, never a long search.
 *
 * Per flow, nothing is allocated that the result does not keep: timestamps are read into locals,
 * strings are made only for the fields read, with Buffer's native UTF-8 slice (wire.ts).
 */
import { createHash } from 'node:crypto';
import type { ParseResult } from '../../domain/flow.js';
import { flowResult, lostEventsResult, nodeStatusResult, rememberEndpointHint, skip } from '../hubble/build.js';
import { DROP_REASONS, LOST_EVENT_SOURCES, NODE_STATES, TRACE_OBSERVATION_POINTS, TRAFFIC_DIRECTIONS, VERDICTS, enumName } from '../hubble/proto.js';
import type { RawEndpoint, RawFlow } from '../hubble/schema.js';
import { IpTexts, RecentTexts } from './texts.js';
import { LEN, VARINT, WireError, WireReader } from './wire.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** What one message is, with what resuming needs. */
export type DecodedResponse =
  | {
      readonly kind: 'flow';
      readonly result: ParseResult;
      /** The flow's time as a `Timestamp`'s seconds (undefined: no time) and nanos in [0, 1e9). */
      readonly timeSeconds: number | undefined;
      readonly timeNanos: number;
      readonly identity: string;
    }
  | { readonly kind: 'lost-events'; readonly result: ParseResult; readonly identity: string }
  | { readonly kind: 'node-status'; readonly result: ParseResult }
  | { readonly kind: 'skip'; readonly result: ParseResult };

/** Smallest and largest valid `Timestamp.seconds` (0001-01-01T00:00:00Z, 9999-12-31T23:59:59Z). */
const MIN_SECONDS = -62_135_596_800;
const MAX_SECONDS = 253_402_300_799;

/** A schema violation inside a well-formed message (→ `schema-mismatch`). */
class Mismatch extends Error {}

/** Distinct endpoint records cached (by their bytes); the cache is dropped when full. */
const ENDPOINT_CACHE_LIMIT = 8_192;
/** Endpoints kept under one hash value; more are decoded every time. */
const BUCKET_LIMIT = 16;
/** Larger endpoints (a real one is well under 1 KiB) are decoded every time, so the cache stays small. */
const CACHED_ENDPOINT_MAX_BYTES = 4096;

interface CachedEndpoint {
  readonly bytes: Buffer;
  readonly record: RawEndpoint;
}

/**
 * A 30-bit hash of `buf[start, end)` for the endpoint cache: the length, the first 16 and the last
 * 32 bytes, and every 8th byte between (endpoint IDs and identities come first, pod and workload
 * names last; what differs between replicas is mostly there). Equal bytes, equal hash. 30 bits so
 * it is a small integer to V8 (a Map key without a heap number per lookup).
 */
function endpointHash(buf: Buffer, start: number, end: number): number {
  let h = Math.imul(end - start, 0x9e37_79b1);
  const head = Math.min(end, start + 16);
  const tail = Math.max(head, end - 32);
  let i = start;
  for (; i < head; i++) h = Math.imul(h ^ buf[i]!, 0x0100_0193);
  for (; i < tail; i += 8) h = Math.imul(h ^ buf[i]!, 0x0100_0193);
  for (i = tail; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x0100_0193);
  return (h ^ (h >>> 30)) & 0x3fff_ffff;
}

/**
 * The last `google.protobuf.Timestamp` read by {@link timestamp} (module scratch, so no object per
 * flow; copied to locals right away).
 */
let tsSeconds = 0;
let tsNanos = 0;

export class GetFlowsDecoder {
  private readonly endpoints = new Map<number, CachedEndpoint[]>();
  private cachedEndpoints = 0;
  /** Node names by their bytes: a stream names the same few nodes over and over. */
  private readonly nodeNames = new RecentTexts();
  /** IP address texts by their bytes. */
  private readonly ips = new IpTexts();
  private readonly reader = new WireReader(Buffer.alloc(0));
  /**
   * The raw record and its `IP` member, reused for every flow: build.ts `flowResult` keeps neither
   * (it copies what it needs into the `Flow`), and one shape for every flow keeps its reads fast.
   */
  private readonly raw: Mutable<RawFlow> = emptyRawFlow();
  private readonly rawIp: { source?: string | undefined; destination?: string | undefined } = { source: undefined, destination: undefined };
  /** What {@link flow} read besides the raw record (fields, so no object per flow). */
  private flowUuid: string | undefined;
  private flowHasTime = false;
  private flowSeconds = 0;
  private flowNanos = 0;

  /**
   * Decodes one message, `bytes[start, end)` (a view of a network chunk needs no copy). Never throws:
   * undecodable bytes are a `malformed` skip, wrong values `schema-mismatch`.
   */
  decode(bytes: Buffer, start = 0, end = bytes.length): DecodedResponse {
    try {
      return this.response(bytes, start, end);
    } catch (error) {
      if (error instanceof Mismatch) return { kind: 'skip', result: skip('schema-mismatch', error.message) };
      const detail = error instanceof WireError ? error.message : String(error);
      return { kind: 'skip', result: skip('malformed', `undecodable GetFlowsResponse: ${detail}`) };
    }
  }

  private response(bytes: Buffer, start: number, end: number): DecodedResponse {
    const r = this.reader;
    r.reset(bytes, start, end);
    let member = 0;
    let memberStart = 0;
    let memberEnd = 0;
    let nodeName: string | undefined;
    let hasTime = false;
    let seconds = 0;
    let nanos = 0;
    for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
      const field = tag >>> 3;
      const wire = tag & 7;
      switch (field) {
        case 1: // flow
        case 2: // node_status
        case 3: // lost_events
          want(field, wire, LEN);
          memberStart = r.range();
          memberEnd = r.pos;
          member = field;
          break;
        case 1000: // node_name
          want(field, wire, LEN);
          nodeName = this.nodeName(r);
          break;
        case 1001: // time
          want(field, wire, LEN);
          within(r, timestamp);
          hasTime = true;
          seconds = tsSeconds;
          nanos = tsNanos;
          break;
        default:
          r.skip(wire);
      }
    }
    if (hasTime && !validTimestamp(seconds, nanos)) throw new Mismatch('time: not an RFC 3339 timestamp');
    switch (member) {
      case 1: {
        r.pos = memberStart;
        r.end = memberEnd;
        const raw = this.flow(r);
        let timeSeconds: number | undefined;
        let timeNanos = 0;
        if (hasTime) {
          timeSeconds = seconds;
          timeNanos = nanos;
        } else if (this.flowHasTime) {
          timeSeconds = this.flowSeconds;
          timeNanos = this.flowNanos;
        }
        const uuid = this.flowUuid;
        const identity = uuid ? `uuid:${uuid}` : `sha256:${createHash('sha256').update(bytes.subarray(memberStart, memberEnd)).digest('base64url')}`;
        return { kind: 'flow', result: flowResult(raw, nodeName, hasTime ? millis(seconds, nanos) : undefined), timeSeconds, timeNanos, identity };
      }
      case 3: {
        r.pos = memberStart;
        r.end = memberEnd;
        return { kind: 'lost-events', result: lostEventsResult(lostEvent(r)), identity: `lost:${bytes.toString('base64', start, end)}` };
      }
      case 2: {
        r.pos = memberStart;
        r.end = memberEnd;
        return { kind: 'node-status', result: nodeStatusResult(nodeStatus(r), nodeName) };
      }
      default:
        return { kind: 'skip', result: skip('schema-mismatch', 'GetFlowsResponse has no flow, node_status or lost_events') };
    }
  }

  /** The node name at the reader (a string field), decoded once per distinct recent name (texts.ts). */
  private nodeName(r: WireReader): string {
    const start = r.range();
    return this.nodeNames.text(r.buf, start, r.pos);
  }

  /** The IP address at the reader (a string field) as canonical text (texts.ts); `what` names it in the error. */
  private ip(r: WireReader, what: string): string {
    const start = r.range();
    const text = this.ips.text(r.buf, start, r.pos);
    if (text === undefined) throw new Mismatch(`${what}: not an IP address`);
    return text;
  }

  private readonly ipAddresses = (r: WireReader): { source?: string | undefined; destination?: string | undefined } => {
    const out = this.rawIp;
    out.source = undefined;
    out.destination = undefined;
    for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1) {
        want(field, wire, LEN);
        out.source = this.ip(r, 'flow.IP.source');
      } else if (field === 2) {
        want(field, wire, LEN);
        out.destination = this.ip(r, 'flow.IP.destination');
      } else r.skip(wire);
    }
    return out;
  };

  /** `flow.Layer7`: only the DNS record (`oneof record`: a later `http` clears it). */
  private readonly layer7 = (r: WireReader): NonNullable<RawFlow['l7']> => {
    let dns: { query?: string; ips?: string[] } | undefined;
    for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 100) {
        want(field, wire, LEN);
        dns = within(r, this.dnsRecord);
      } else {
        if (field === 101 || field === 102) dns = undefined;
        r.skip(wire);
      }
    }
    return dns === undefined ? {} : { dns };
  };

  private readonly dnsRecord = (r: WireReader): { query?: string; ips?: string[] } => {
    const out: { query?: string; ips?: string[] } = {};
    for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1) {
        want(field, wire, LEN);
        out.query = r.string();
      } else if (field === 2) {
        want(field, wire, LEN);
        (out.ips ??= []).push(this.ip(r, 'flow.l7.dns.ips'));
      } else r.skip(wire);
    }
    return out;
  };

  /**
   * `flow.Flow` → the raw record of build.ts (schema.ts `Flow`'s output); its uuid and time are left
   * in {@link flowUuid}, {@link flowHasTime}, {@link flowSeconds}, {@link flowNanos}.
   */
  private flow(r: WireReader): RawFlow {
    const raw = this.raw;
    clearRawFlow(raw);
    let uuid: string | undefined;
    let hasTime = false;
    let seconds = 0;
    let nanos = 0;
    let destinationNames: string[] | undefined;
    for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
      const field = tag >>> 3;
      const wire = tag & 7;
      switch (field) {
        case 1: // time
          want(field, wire, LEN);
          within(r, timestamp);
          hasTime = true;
          seconds = tsSeconds;
          nanos = tsNanos;
          break;
        case 34: // uuid
          want(field, wire, LEN);
          uuid = r.string();
          break;
        case 2: { // verdict (closed)
          want(field, wire, VARINT);
          const n = r.int32();
          const name = VERDICTS[n];
          if (name === undefined) throw new Mismatch('flow.verdict: Invalid input'); // the JSON parser's words for a value outside a closed enum
          raw.verdict = name;
          break;
        }
        case 3: // drop_reason (deprecated number)
          want(field, wire, VARINT);
          raw.drop_reason = r.uint32();
          break;
        case 5: // IP
          want(field, wire, LEN);
          raw.IP = within(r, this.ipAddresses);
          break;
        case 6: // l4
          want(field, wire, LEN);
          raw.l4 = within(r, layer4);
          break;
        case 8: // source
          want(field, wire, LEN);
          raw.source = this.endpoint(r);
          break;
        case 9: // destination
          want(field, wire, LEN);
          raw.destination = this.endpoint(r);
          break;
        case 11: // node_name
          want(field, wire, LEN);
          raw.node_name = this.nodeName(r);
          break;
        case 14: // destination_names
          want(field, wire, LEN);
          (destinationNames ??= []).push(r.string());
          break;
        case 15: // l7
          want(field, wire, LEN);
          raw.l7 = within(r, this.layer7);
          break;
        case 16: // reply (deprecated)
          want(field, wire, VARINT);
          raw.reply = r.bool();
          break;
        case 22: { // traffic_direction (closed)
          want(field, wire, VARINT);
          const n = r.int32();
          const name = TRAFFIC_DIRECTIONS[n];
          if (name === undefined) throw new Mismatch('flow.traffic_direction: Invalid input');
          raw.traffic_direction = name;
          break;
        }
        case 24: // trace_observation_point (open)
          want(field, wire, VARINT);
          raw.trace_observation_point = enumName(TRACE_OBSERVATION_POINTS, r.int32());
          break;
        case 25: // drop_reason_desc (open)
          want(field, wire, VARINT);
          raw.drop_reason_desc = enumName(DROP_REASONS, r.int32());
          break;
        case 26: // is_reply (BoolValue)
          want(field, wire, LEN);
          raw.is_reply = within(r, boolValue);
          break;
        default:
          r.skip(wire);
      }
    }
    if (hasTime) {
      if (!validTimestamp(seconds, nanos)) throw new Mismatch('flow.time: not an RFC 3339 timestamp');
      raw.time = millis(seconds, nanos);
    }
    if (destinationNames !== undefined) raw.destination_names = destinationNames;
    this.flowUuid = uuid;
    this.flowHasTime = hasTime;
    this.flowSeconds = seconds;
    this.flowNanos = nanos;
    return raw;
  }

  /** `flow.Endpoint`, cached by its bytes (its hint computed once, build.ts rememberEndpointHint). */
  private endpoint(r: WireReader): RawEndpoint {
    const start = r.range();
    const end = r.pos;
    const buf = r.buf;
    const length = end - start;
    const hash = endpointHash(buf, start, end);
    const bucket = this.endpoints.get(hash);
    if (bucket !== undefined) {
      for (const cached of bucket) {
        if (cached.bytes.length === length && buf.compare(cached.bytes, 0, length, start, end) === 0) return cached.record;
      }
    }
    const outer = r.end;
    r.pos = start;
    r.end = end;
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
        case 6:
          want(field, wire, LEN);
          (workloads ??= []).push(within(r, workload));
          break;
        default:
          r.skip(wire);
      }
    }
    r.pos = end;
    r.end = outer;
    if (labels !== undefined) ep.labels = labels;
    if (workloads !== undefined) ep.workloads = workloads;
    rememberEndpointHint(ep);
    if (length > CACHED_ENDPOINT_MAX_BYTES || (bucket !== undefined && bucket.length >= BUCKET_LIMIT)) return ep;
    if (this.cachedEndpoints >= ENDPOINT_CACHE_LIMIT) {
      this.endpoints.clear();
      this.cachedEndpoints = 0;
    }
    // The bytes are copied: `buf` may be a view of a network chunk.
    const entry: CachedEndpoint = { bytes: Buffer.from(buf.subarray(start, end)), record: ep };
    const current = this.endpoints.get(hash);
    if (current === undefined) this.endpoints.set(hash, [entry]);
    else current.push(entry);
    this.cachedEndpoints++;
    return ep;
  }
}

/** A raw flow record with every field present and unset (one hidden class for all of them). */
function emptyRawFlow(): Mutable<RawFlow> {
  const raw: Mutable<RawFlow> = {};
  clearRawFlow(raw);
  return raw;
}

/** Unsets every field of `raw` that {@link GetFlowsDecoder} sets or build.ts reads. */
function clearRawFlow(raw: Mutable<RawFlow>): void {
  raw.time = undefined;
  raw.verdict = undefined;
  raw.drop_reason = undefined;
  raw.drop_reason_desc = undefined;
  raw.IP = undefined;
  raw.l4 = undefined;
  raw.source = undefined;
  raw.destination = undefined;
  raw.node_name = undefined;
  raw.destination_names = undefined;
  raw.l7 = undefined;
  raw.reply = undefined;
  raw.is_reply = undefined;
  raw.traffic_direction = undefined;
  raw.trace_observation_point = undefined;
  raw.egress_denied_by = undefined;
  raw.ingress_denied_by = undefined;
}

function want(field: number, wire: number, expected: number): void {
  if (wire !== expected) throw new WireError(`field ${field} has wire type ${wire}, expected ${expected}`);
}

/** Reads the length-delimited field at the reader's position with `read`, limited to its range. */
function within<T>(r: WireReader, read: (r: WireReader) => T): T {
  const start = r.range();
  const after = r.pos;
  const outer = r.end;
  r.pos = start;
  r.end = after;
  const value = read(r);
  r.pos = after;
  r.end = outer;
  return value;
}

/** Reads a `google.protobuf.Timestamp` into {@link tsSeconds} / {@link tsNanos}. */
function timestamp(r: WireReader): void {
  let seconds = 0;
  let nanos = 0;
  for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) {
      want(field, wire, VARINT);
      seconds = r.int64();
    } else if (field === 2) {
      want(field, wire, VARINT);
      nanos = r.int32();
    } else r.skip(wire);
  }
  tsSeconds = seconds;
  tsNanos = nanos;
}

function validTimestamp(seconds: number, nanos: number): boolean {
  return Number.isSafeInteger(seconds) && seconds >= MIN_SECONDS && seconds <= MAX_SECONDS && nanos >= 0 && nanos <= 999_999_999;
}

/** Epoch milliseconds, the fraction truncated (as the JSON parser reads the RFC 3339 text). */
function millis(seconds: number, nanos: number): number {
  return seconds * 1000 + Math.floor(nanos / 1_000_000);
}

type Ports = { source_port?: number; destination_port?: number };

function ports(r: WireReader): Ports {
  const out: Ports = {};
  for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) {
      want(field, wire, VARINT);
      out.source_port = r.uint32();
    } else if (field === 2) {
      want(field, wire, VARINT);
      out.destination_port = r.uint32();
    } else r.skip(wire);
  }
  return out;
}

/** `flow.Layer4`: `oneof protocol` (the last member on the wire wins; VRRP / IGMP are skipped). */
function layer4(r: WireReader): NonNullable<RawFlow['l4']> {
  let out: NonNullable<RawFlow['l4']> = {};
  for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field < 1 || field > 5) {
      r.skip(wire);
      continue;
    }
    want(field, wire, LEN);
    switch (field) {
      case 1:
        out = { TCP: within(r, ports) };
        break;
      case 2:
        out = { UDP: within(r, ports) };
        break;
      case 3:
        r.range();
        out = { ICMPv4: {} };
        break;
      case 4:
        r.range();
        out = { ICMPv6: {} };
        break;
      default:
        out = { SCTP: within(r, ports) };
    }
  }
  return out;
}

function boolValue(r: WireReader): boolean {
  let value = false;
  for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
    if (tag >>> 3 === 1) {
      want(1, tag & 7, VARINT);
      value = r.bool();
    } else r.skip(tag & 7);
  }
  return value;
}

function workload(r: WireReader): { name?: string; kind?: string } {
  const out: { name?: string; kind?: string } = {};
  for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) {
      want(field, wire, LEN);
      out.name = r.string();
    } else if (field === 2) {
      want(field, wire, LEN);
      out.kind = r.string();
    } else r.skip(wire);
  }
  return out;
}

function lostEvent(r: WireReader): { source?: string; num_events_lost?: number } {
  const out: { source?: string; num_events_lost?: number } = {};
  for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) {
      want(field, wire, VARINT);
      out.source = enumName(LOST_EVENT_SOURCES, r.int32());
    } else if (field === 2) {
      want(field, wire, VARINT);
      out.num_events_lost = r.uint64();
    } else r.skip(wire);
  }
  return out;
}

function nodeStatus(r: WireReader): { state_change?: string; node_names?: string[]; message?: string } {
  const out: { state_change?: string; node_names?: string[]; message?: string } = {};
  for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) {
      want(field, wire, VARINT);
      out.state_change = enumName(NODE_STATES, r.int32());
    } else if (field === 2) {
      want(field, wire, LEN);
      (out.node_names ??= []).push(r.string());
    } else if (field === 3) {
      want(field, wire, LEN);
      out.message = r.string();
    } else r.skip(wire);
  }
  return out;
}
