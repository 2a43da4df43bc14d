/**
 * `observer.GetFlowsResponse` bytes → {@link ParseResult}, read straight from the protobuf wire
 * format (wire.ts) into hivewall's `Flow` by the rules the Hubble JSON parser maps a flow with
 * (src/ingest/hubble/build.ts `flowResult`, whose endpoint helpers it shares), so the gRPC source and
 * the export-file parser give the same result for one message (decode.test.ts and source.test.ts
 * compare them) — without building protojson text, generic message objects or the JSON parser's raw
 * record first. Pure.
 *
 * Only the fields hivewall reads are looked at (numbers from proto/, which proto.test.ts checks
 * against Cilium's); every other field is skipped by its wire type. protobuf rules applied:
 * - the last occurrence of a non-repeated field wins, and of a `oneof` the last member set wins
 *   (the envelope's `response_types`, `Layer4.protocol`, `Layer7.record`);
 * - proto3 scalars absent from the wire are their zero value, which is treated as "not set";
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
 * Endpoints are looked up by their bytes (endpoint-cache.ts): labels are decoded, validated and
 * classified once per distinct endpoint, not per flow. Per flow, nothing is allocated that the
 * result does not keep: fields are read into locals and decoder fields, strings are made only for
 * the fields read, with Buffer's native UTF-8 slice (wire.ts).
 */
import { createHash } from 'node:crypto';
import type { DnsAnswer, Flow, ParseResult, Protocol, Verdict } from '../../domain/flow.js';
import { isDnsName } from '../../domain/k8s-names.js';
import { lostEventsResult, nodeStatusResult, normalizeDnsName, policyNames, skip } from '../hubble/build.js';
import {
  DROP_REASONS,
  LOST_EVENT_SOURCES,
  NODE_STATES,
  TRACE_OBSERVATION_POINTS,
  TRAFFIC_DIRECTIONS,
  VERDICTS,
  enumName,
  type TrafficDirectionName,
} from '../hubble/proto.js';
import { EndpointCache, type KnownEndpoint } from './endpoint-cache.js';
import { IpTexts, RecentTexts } from './texts.js';
import { firstTwoStrings, LEN, VARINT, WireError, WireReader, want } from './wire.js';

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

/**
 * The last `google.protobuf.Timestamp` read by {@link timestamp} (module scratch, so no object per
 * flow; copied to locals right away).
 */
let tsSeconds = 0;
let tsNanos = 0;

/** `Layer4.protocol` members by field number (1..5); VRRP and IGMP are not read. */
const L4_PROTOCOLS: readonly (Protocol | undefined)[] = [undefined, 'TCP', 'UDP', 'ICMPv4', 'ICMPv6', 'SCTP'];

export class GetFlowsDecoder {
  private readonly endpoints = new EndpointCache();
  /** Node names by their bytes: a stream names the same few nodes over and over. */
  private readonly nodeNames = new RecentTexts();
  /** IP address texts by their bytes. */
  private readonly ips = new IpTexts();
  private readonly reader = new WireReader(Buffer.alloc(0));
  /** The last `flow.IP` read ({@link ipAddresses}): fields, so no object per flow. */
  private ipSource: string | undefined;
  private ipDestination: string | undefined;
  /** The last `flow.Layer4` read ({@link layer4}): its protocol (undefined: none hivewall reads) and ports (0: absent). */
  private l4Protocol: Protocol | undefined;
  private l4SourcePort = 0;
  private l4DestinationPort = 0;
  /** The last `flow.Layer7` read ({@link layer7}): whether it holds a DNS record, and that record's query and ips. */
  private hasDns = false;
  private dnsQuery: string | undefined;
  private dnsIps: string[] | undefined;
  /** What {@link flow} read for resuming (fields, so no object per flow). */
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
        const result = this.flow(r, nodeName, hasTime ? millis(seconds, nanos) : undefined);
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
        return { kind: 'flow', result, timeSeconds, timeNanos, identity };
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

  /** `flow.IP` into {@link ipSource} / {@link ipDestination}. */
  private readonly ipAddresses = (r: WireReader): void => {
    let source: string | undefined;
    let destination: string | undefined;
    for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1) {
        want(field, wire, LEN);
        source = this.ip(r, 'flow.IP.source');
      } else if (field === 2) {
        want(field, wire, LEN);
        destination = this.ip(r, 'flow.IP.destination');
      } else r.skip(wire);
    }
    this.ipSource = source;
    this.ipDestination = destination;
  };

  /**
   * `flow.Layer4` into {@link l4Protocol} and the ports: `oneof protocol`, the last member on the
   * wire wins (VRRP / IGMP are skipped); ICMP has no ports.
   */
  private readonly layer4 = (r: WireReader): void => {
    let protocol: Protocol | undefined;
    let sourcePort = 0;
    let destinationPort = 0;
    for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field < 1 || field > 5) {
        r.skip(wire);
        continue;
      }
      want(field, wire, LEN);
      protocol = L4_PROTOCOLS[field];
      sourcePort = 0;
      destinationPort = 0;
      if (field === 3 || field === 4) {
        r.range();
        continue;
      }
      // TCP, UDP, SCTP: the ports
      const start = r.range();
      const after = r.pos;
      const outer = r.end;
      r.pos = start;
      r.end = after;
      for (let t = r.tag(); t !== 0; t = r.tag()) {
        const f = t >>> 3;
        const w = t & 7;
        if (f === 1) {
          want(f, w, VARINT);
          sourcePort = r.uint32();
        } else if (f === 2) {
          want(f, w, VARINT);
          destinationPort = r.uint32();
        } else r.skip(w);
      }
      r.pos = after;
      r.end = outer;
    }
    this.l4Protocol = protocol;
    this.l4SourcePort = sourcePort;
    this.l4DestinationPort = destinationPort;
  };

  /** `flow.Layer7` into {@link hasDns} / {@link dnsQuery} / {@link dnsIps}: only the DNS record (`oneof record`: a later `http` clears it). */
  private readonly layer7 = (r: WireReader): void => {
    let hasDns = false;
    let query: string | undefined;
    let ips: string[] | undefined;
    for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 100) {
        want(field, wire, LEN);
        within(r, this.dnsRecord);
        hasDns = true;
        query = this.dnsQuery;
        ips = this.dnsIps;
      } else {
        if (field === 101 || field === 102) hasDns = false;
        r.skip(wire);
      }
    }
    this.hasDns = hasDns;
    this.dnsQuery = query;
    this.dnsIps = ips;
  };

  /** `flow.DNS` into {@link dnsQuery} / {@link dnsIps}. */
  private readonly dnsRecord = (r: WireReader): void => {
    let query: string | undefined;
    let ips: string[] | undefined;
    for (let tag = r.tag(); tag !== 0; tag = r.tag()) {
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1) {
        want(field, wire, LEN);
        query = r.string();
      } else if (field === 2) {
        want(field, wire, LEN);
        (ips ??= []).push(this.ip(r, 'flow.l7.dns.ips'));
      } else r.skip(wire);
    }
    this.dnsQuery = query;
    this.dnsIps = ips;
  };

  /**
   * `flow.Flow` → `Flow` (or a skip), by the rules of build.ts `flowResult` (the JSON parser's),
   * read straight into locals: no raw record in between. `envelopeNode` / `envelopeTime` (epoch ms)
   * are the envelope's, used when the flow lacks them. Its uuid and time are left in
   * {@link flowUuid}, {@link flowHasTime}, {@link flowSeconds}, {@link flowNanos}.
   */
  private flow(r: WireReader, envelopeNode: string | undefined, envelopeTime: number | undefined): ParseResult {
    let uuid: string | undefined;
    let hasTime = false;
    let seconds = 0;
    let nanos = 0;
    let verdict: Verdict | undefined;
    let dropReason = 0;
    let dropReasonDesc: string | undefined;
    let hasIp = false;
    let hasL4 = false;
    let source: KnownEndpoint | undefined;
    let destination: KnownEndpoint | undefined;
    let nodeName: string | undefined;
    let destinationNames: string[] | undefined;
    let hasL7 = false;
    let reply: boolean | undefined;
    let isReply: boolean | undefined;
    let direction: TrafficDirectionName | undefined;
    let point: string | undefined;
    let egressDeniedBy: PolicyRef[] | undefined;
    let ingressDeniedBy: PolicyRef[] | undefined;
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
          const name = VERDICTS[r.int32()];
          if (name === undefined) throw new Mismatch('flow.verdict: Invalid input'); // the JSON parser's words for a value outside a closed enum
          verdict = name;
          break;
        }
        case 3: // drop_reason (deprecated number)
          want(field, wire, VARINT);
          dropReason = r.uint32();
          break;
        case 5: // IP
          want(field, wire, LEN);
          within(r, this.ipAddresses);
          hasIp = true;
          break;
        case 6: // l4
          want(field, wire, LEN);
          within(r, this.layer4);
          hasL4 = true;
          break;
        case 8: // source
          want(field, wire, LEN);
          source = this.endpoints.read(r);
          break;
        case 9: // destination
          want(field, wire, LEN);
          destination = this.endpoints.read(r);
          break;
        case 11: // node_name
          want(field, wire, LEN);
          nodeName = this.nodeName(r);
          break;
        case 14: // destination_names
          want(field, wire, LEN);
          (destinationNames ??= []).push(r.string());
          break;
        case 15: // l7
          want(field, wire, LEN);
          within(r, this.layer7);
          hasL7 = true;
          break;
        case 16: // reply (deprecated)
          want(field, wire, VARINT);
          reply = r.bool();
          break;
        case 22: { // traffic_direction (closed)
          want(field, wire, VARINT);
          const name = TRAFFIC_DIRECTIONS[r.int32()];
          if (name === undefined) throw new Mismatch('flow.traffic_direction: Invalid input');
          direction = name;
          break;
        }
        case 24: // trace_observation_point (open)
          want(field, wire, VARINT);
          point = enumName(TRACE_OBSERVATION_POINTS, r.int32());
          break;
        case 25: // drop_reason_desc (open)
          want(field, wire, VARINT);
          dropReasonDesc = enumName(DROP_REASONS, r.int32());
          break;
        case 26: // is_reply (BoolValue)
          want(field, wire, LEN);
          isReply = within(r, boolValue);
          break;
        case 21004: // egress_denied_by
          want(field, wire, LEN);
          (egressDeniedBy ??= []).push(within(r, policy));
          break;
        case 21005: // ingress_denied_by
          want(field, wire, LEN);
          (ingressDeniedBy ??= []).push(within(r, policy));
          break;
        default:
          r.skip(wire);
      }
    }
    if (hasTime && !validTimestamp(seconds, nanos)) throw new Mismatch('flow.time: not an RFC 3339 timestamp');
    this.flowUuid = uuid;
    this.flowHasTime = hasTime;
    this.flowSeconds = seconds;
    this.flowNanos = nanos;

    // From here on, build.ts flowResult's checks and fields, in its order.
    if (!hasIp) return skip('schema-mismatch', 'flow has no IP (non-IP flow)');
    const sourceIp = this.ipSource;
    const destinationIp = this.ipDestination;
    if (sourceIp === undefined || destinationIp === undefined) return skip('schema-mismatch', 'flow IP lacks source or destination address');
    const time = hasTime ? millis(seconds, nanos) : envelopeTime;
    if (time === undefined) return skip('schema-mismatch', 'flow has no time');
    const protocol = hasL4 ? this.l4Protocol : undefined;
    if (protocol === undefined) return skip('unsupported-protocol', 'flow has no l4');
    const invalid = source?.invalid ?? destination?.invalid;
    if (invalid) return skip('invalid-name', invalid);
    const finalVerdict = verdict ?? 'VERDICT_UNKNOWN';
    const sourceEndpoint = source === undefined ? { ip: sourceIp, port: this.l4SourcePort } : source.at(sourceIp, this.l4SourcePort);
    const destinationEndpoint = destination === undefined ? { ip: destinationIp, port: this.l4DestinationPort } : destination.at(destinationIp, this.l4DestinationPort);
    const replied = isReply ?? reply ?? false;
    const node = nodeName || envelopeNode;
    const observationPoint = point !== 'UNKNOWN_POINT' ? point : undefined;
    const trafficDirection = direction !== 'TRAFFIC_DIRECTION_UNKNOWN' ? direction : undefined;
    // Grown field by field as build.ts grows it, for every flow: one family of hidden classes, so
    // the Learner's property reads stay monomorphic (an object literal for the common case made
    // its reads polymorphic and the Learner slower than the decoding saved).
    const flow: Mutable<Flow> = { time, source: sourceEndpoint, destination: destinationEndpoint, protocol, verdict: finalVerdict, isReply: replied, confirmed: true };
    if (node) flow.node = node;
    if (observationPoint !== undefined) flow.observationPoint = observationPoint;
    if (trafficDirection !== undefined) flow.trafficDirection = trafficDirection;
    if (destinationNames !== undefined) {
      const names = destinationNames.filter((name) => isDnsName(normalizeDnsName(name)));
      if (names.length > 0) flow.destinationNames = names;
    }
    if (hasL7) {
      const answer = this.dnsAnswer();
      if (answer !== undefined) flow.dnsAnswer = answer;
    }
    const reason = dropReasonDesc ?? (finalVerdict === 'DROPPED' && dropReason ? DROP_REASONS.get(dropReason) : undefined);
    if (reason !== undefined && reason !== 'DROP_REASON_UNKNOWN') flow.dropReason = reason;
    const deniedBy = policyNames(egressDeniedBy, ingressDeniedBy);
    if (deniedBy !== undefined) flow.deniedBy = deniedBy;
    return { kind: 'flow', flow };
  }

  /** The DNS answer of the last `l7` read (build.ts `dnsAnswer`'s rule). */
  private dnsAnswer(): DnsAnswer | undefined {
    const query = this.dnsQuery;
    const ips = this.dnsIps;
    if (!this.hasDns || query === undefined || ips === undefined || ips.length === 0) return undefined;
    const name = normalizeDnsName(query);
    // A name that is not a DNS name (control characters, spaces, ...) never names a peer.
    return isDnsName(name) ? { query: name, ips } : undefined;
  }
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

/** A `flow.Policy`'s name and namespace (labels, revision and kind are not read; schema.ts `Policy`). */
interface PolicyRef {
  name?: string;
  namespace?: string;
}

function policy(r: WireReader): PolicyRef {
  const [name, namespace] = firstTwoStrings(r);
  return { ...(name !== undefined ? { name } : {}), ...(namespace !== undefined ? { namespace } : {}) };
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
