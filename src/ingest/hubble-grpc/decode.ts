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
 * Besides the result, a flow's resume key (see resume.ts) is returned: its time in nanoseconds and
 * its identity (`uuid:<uuid>`, else a SHA-256 of the flow's bytes); a lost-events notice's identity
 * is its whole message.
 *
 * Endpoints repeat constantly (the same pods talk all the time): their records are cached by their
 * bytes, so labels are decoded and classified once per distinct endpoint, not per flow.
 */
import { createHash } from 'node:crypto';
import type { ParseResult } from '../../domain/flow.js';
import { flowResult, lostEventsResult, nodeStatusResult, rememberEndpointHint, skip } from '../hubble/build.js';
import { canonicalIp } from '../hubble/ip.js';
import { DROP_REASONS, LOST_EVENT_SOURCES, NODE_STATES, TRACE_OBSERVATION_POINTS, TRAFFIC_DIRECTIONS, VERDICTS, enumName } from '../hubble/proto.js';
import type { RawEndpoint, RawFlow } from '../hubble/schema.js';
import { LEN, VARINT, WireError, WireReader } from './wire.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** What one message is, with what resuming needs. */
export type DecodedResponse =
  | { readonly kind: 'flow'; readonly result: ParseResult; readonly timeNs: bigint | undefined; readonly identity: string }
  | { readonly kind: 'lost-events'; readonly result: ParseResult; readonly identity: string }
  | { readonly kind: 'node-status'; readonly result: ParseResult }
  | { readonly kind: 'skip'; readonly result: ParseResult };

/** Smallest and largest valid `Timestamp.seconds` (0001-01-01T00:00:00Z, 9999-12-31T23:59:59Z). */
const MIN_SECONDS = -62_135_596_800;
const MAX_SECONDS = 253_402_300_799;

/** A schema violation inside a well-formed message (→ `schema-mismatch`). */
class Mismatch extends Error {}

interface Timestamp {
  readonly seconds: number;
  readonly nanos: number;
}

/** Distinct endpoint records cached (by their bytes); the cache is dropped when full. */
const ENDPOINT_CACHE_LIMIT = 8_192;

export class GetFlowsDecoder {
  private readonly endpoints = new Map<string, RawEndpoint>();

  /** Decodes one message. Never throws: undecodable bytes are a `malformed` skip, wrong values `schema-mismatch`. */
  decode(bytes: Buffer): DecodedResponse {
    try {
      return this.response(bytes);
    } catch (error) {
      if (error instanceof Mismatch) return { kind: 'skip', result: skip('schema-mismatch', error.message) };
      const detail = error instanceof WireError ? error.message : String(error);
      return { kind: 'skip', result: skip('malformed', `undecodable GetFlowsResponse: ${detail}`) };
    }
  }

  private response(bytes: Buffer): DecodedResponse {
    const r = new WireReader(bytes);
    let member = 0;
    let memberStart = 0;
    let memberEnd = 0;
    let nodeName: string | undefined;
    let time: Timestamp | undefined;
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
          nodeName = r.string();
          break;
        case 1001: // time
          want(field, wire, LEN);
          time = within(r, timestamp);
          break;
        default:
          r.skip(wire);
      }
    }
    if (time !== undefined && !validTimestamp(time)) throw new Mismatch('time: not an RFC 3339 timestamp');
    switch (member) {
      case 1: {
        r.pos = memberStart;
        r.end = memberEnd;
        const { raw, uuid, flowTime } = this.flow(r);
        const stamp = time ?? flowTime;
        const timeNs = stamp === undefined ? undefined : BigInt(stamp.seconds) * 1_000_000_000n + BigInt(stamp.nanos);
        const identity = uuid ? `uuid:${uuid}` : `sha256:${createHash('sha256').update(bytes.subarray(memberStart, memberEnd)).digest('base64url')}`;
        return { kind: 'flow', result: flowResult(raw, nodeName, time === undefined ? undefined : millis(time)), timeNs, identity };
      }
      case 3: {
        r.pos = memberStart;
        r.end = memberEnd;
        return { kind: 'lost-events', result: lostEventsResult(lostEvent(r)), identity: `lost:${bytes.toString('base64')}` };
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

  /** `flow.Flow` → the raw record of build.ts (schema.ts `Flow`'s output). */
  private flow(r: WireReader): { raw: RawFlow; uuid: string | undefined; flowTime: Timestamp | undefined } {
    const raw: Mutable<RawFlow> = {};
    let uuid: string | undefined;
    let flowTime: Timestamp | undefined;
    let destinationNames: string[] | undefined;
    for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
      const field = tag >>> 3;
      const wire = tag & 7;
      switch (field) {
        case 1: // time
          want(field, wire, LEN);
          flowTime = within(r, timestamp);
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
          raw.IP = within(r, ipAddresses);
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
          raw.node_name = r.string();
          break;
        case 14: // destination_names
          want(field, wire, LEN);
          (destinationNames ??= []).push(r.string());
          break;
        case 15: // l7
          want(field, wire, LEN);
          raw.l7 = within(r, layer7);
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
    if (flowTime !== undefined) {
      if (!validTimestamp(flowTime)) throw new Mismatch('flow.time: not an RFC 3339 timestamp');
      raw.time = millis(flowTime);
    }
    if (destinationNames !== undefined) raw.destination_names = destinationNames;
    return { raw, uuid, flowTime };
  }

  /** `flow.Endpoint`, cached by its bytes (its hint computed once, build.ts rememberEndpointHint). */
  private endpoint(r: WireReader): RawEndpoint {
    const start = r.range();
    const end = r.pos;
    const key = r.buf.toString('latin1', start, end);
    const cached = this.endpoints.get(key);
    if (cached !== undefined) return cached;
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
    if (this.endpoints.size >= ENDPOINT_CACHE_LIMIT) this.endpoints.clear();
    rememberEndpointHint(ep);
    this.endpoints.set(key, ep);
    return ep;
  }
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

function timestamp(r: WireReader): Timestamp {
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
  return { seconds, nanos };
}

function validTimestamp(t: Timestamp): boolean {
  return Number.isSafeInteger(t.seconds) && t.seconds >= MIN_SECONDS && t.seconds <= MAX_SECONDS && t.nanos >= 0 && t.nanos <= 999_999_999;
}

/** Epoch milliseconds, the fraction truncated (as the JSON parser reads the RFC 3339 text). */
function millis(t: Timestamp): number {
  return t.seconds * 1000 + Math.floor(t.nanos / 1_000_000);
}

function ip(text: string, what: string): string {
  const canonical = canonicalIp(text);
  if (canonical === undefined) throw new Mismatch(`${what}: not an IP address`);
  return canonical;
}

function ipAddresses(r: WireReader): { source?: string; destination?: string } {
  const out: { source?: string; destination?: string } = {};
  for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) {
      want(field, wire, LEN);
      out.source = ip(r.string(), 'flow.IP.source');
    } else if (field === 2) {
      want(field, wire, LEN);
      out.destination = ip(r.string(), 'flow.IP.destination');
    } else r.skip(wire);
  }
  return out;
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

const L4_MEMBERS = [undefined, 'TCP', 'UDP', 'ICMPv4', 'ICMPv6', 'SCTP'] as const;

/** `flow.Layer4`: `oneof protocol` (the last member on the wire wins; VRRP / IGMP are skipped). */
function layer4(r: WireReader): NonNullable<RawFlow['l4']> {
  let out: NonNullable<RawFlow['l4']> = {};
  for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
    const field = tag >>> 3;
    const wire = tag & 7;
    const member = L4_MEMBERS[field];
    if (member === undefined) {
      r.skip(wire);
      continue;
    }
    want(field, wire, LEN);
    if (member === 'ICMPv4' || member === 'ICMPv6') {
      r.range();
      out = { [member]: {} };
    } else {
      out = { [member]: within(r, ports) };
    }
  }
  return out;
}

/** `flow.Layer7`: only the DNS record (`oneof record`: a later `http` clears it). */
function layer7(r: WireReader): NonNullable<RawFlow['l7']> {
  let dns: { query?: string; ips?: string[] } | undefined;
  for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 100) {
      want(field, wire, LEN);
      dns = within(r, dnsRecord);
    } else {
      if (field === 101 || field === 102) dns = undefined;
      r.skip(wire);
    }
  }
  return dns === undefined ? {} : { dns };
}

function dnsRecord(r: WireReader): { query?: string; ips?: string[] } {
  const out: { query?: string; ips?: string[] } = {};
  for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) {
      want(field, wire, LEN);
      out.query = r.string();
    } else if (field === 2) {
      want(field, wire, LEN);
      (out.ips ??= []).push(ip(r.string(), 'flow.l7.dns.ips'));
    } else r.skip(wire);
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
