/**
 * zod schemas for the parts of Hubble's JSON that hivewall reads: `observer.GetFlowsResponse` /
 * `observer.ExportEvent` envelopes and the `flow.Flow` inside (or a bare `flow.Flow` line, as older
 * `hubble observe -o json` wrote). The output of these schemas is the "raw" record that
 * `build.ts` turns into a {@link ParseResult}; the fast scanner (`scan.ts`) produces the very same
 * record straight from bytes, so every rule here has a twin there.
 *
 * protojson rules implemented here (google.golang.org/protobuf/encoding/protojson, the encoder
 * behind `hubble observe -o json|jsonpb` and the flow exporter):
 * - Field names: the proto name and the lowerCamelCase JSON name are both accepted; a message that
 *   spells one field both ways is rejected ("duplicate field").
 * - `null` is accepted for every field and means "not set" (the proto3 default).
 * - 32-bit integers: a JSON number, or a string holding one. 64-bit integers are written as strings.
 * - Enums: the value name, or its number.
 * - A `oneof` (`Layer4.protocol`, the envelope's `response_types`) may have at most one member set.
 * - Unknown fields are ignored here (forward compatibility with newer Cilium), as are fields
 *   hivewall never reads: their types are not checked.
 */
import { z } from 'zod';
import { canonicalIp } from './ip.js';
import { parseTimestamp } from './time.js';
import {
  AGENT_EVENT_TYPES,
  DROP_REASONS,
  LOST_EVENT_SOURCES,
  NODE_STATES,
  TRACE_OBSERVATION_POINTS,
  TRAFFIC_DIRECTIONS,
  VERDICTS,
  enumName,
  jsonName,
  type EnumNumbers,
} from './proto.js';

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** `-0` is a valid JSON number; the proto value is 0. */
const unsigned = (n: number) => (n === 0 ? 0 : n);

/** proto `uint32`: a JSON number or decimal string in [0, 2^32). */
export const Uint32 = z
  .union([z.number().int(), z.string().regex(DECIMAL, 'not a decimal integer').transform(Number)])
  .pipe(z.number().min(0).max(0xffff_ffff))
  .transform(unsigned);

/** proto `uint64` (protojson writes it as a string): a JSON number or decimal string in [0, 2^64). */
export const Uint64 = z
  .union([
    z.number().int().min(0),
    z.string().refine((s) => DECIMAL.test(s) && BigInt(s) < 2n ** 64n, 'not a decimal integer in the uint64 range').transform(Number),
  ])
  .transform(unsigned);

/** A proto enum number (protojson enums are `int32`). */
const enumNumber = z.number().int().min(-0x8000_0000).max(0x7fff_ffff);

/** A closed enum: one of `names`, or the number of one of them. */
function closedEnum<const T extends string>(names: readonly T[]) {
  return z.union([
    z.enum(names as [T, ...T[]]),
    enumNumber.transform((n, ctx): T => {
      const name = names[n];
      if (name === undefined) {
        ctx.addIssue({ code: 'custom', message: `unknown enum number ${n}` });
        return z.NEVER;
      }
      return name;
    }),
  ]);
}

/** An open enum: any name (Cilium adds values), or a number (its name when known, else the decimal). */
function openEnum(numbers: EnumNumbers) {
  return z.union([z.string(), enumNumber.transform((n) => enumName(numbers, n))]);
}

/** `google.protobuf.Timestamp` → epoch milliseconds. */
export const Timestamp = z.string().transform((text, ctx) => {
  const millis = parseTimestamp(text);
  if (millis === undefined) {
    ctx.addIssue({ code: 'custom', message: 'not an RFC 3339 timestamp' });
    return z.NEVER;
  }
  return millis;
});

/** An IP address string → its canonical text. */
export const IpAddress = z.string().transform((text, ctx) => {
  const ip = canonicalIp(text);
  if (ip === undefined) {
    ctx.addIssue({ code: 'custom', message: 'not an IP address' });
    return z.NEVER;
  }
  return ip;
});

/**
 * A proto message: `z.object(shape)` keyed by proto field names that also accepts each field's
 * JSON name, and rejects a field given under both names.
 */
function message<S extends z.core.$ZodLooseShape>(shape: S) {
  const aliases: (readonly [string, string])[] = [];
  for (const protoName of Object.keys(shape)) {
    const json = jsonName(protoName);
    if (json !== protoName) aliases.push([json, protoName]);
  }
  return z.preprocess((input, ctx) => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
    let renamed: Record<string, unknown> | undefined;
    for (const [json, protoName] of aliases) {
      if (!Object.hasOwn(input, json)) continue;
      if (Object.hasOwn(input, protoName)) {
        ctx.addIssue({ code: 'custom', message: `duplicate field: ${protoName} also given as ${json}`, path: [json], input });
        return input;
      }
      renamed ??= { ...input };
      renamed[protoName] = renamed[json];
      delete renamed[json];
    }
    return renamed ?? input;
  }, z.object(shape));
}

/** Rejects a message whose `oneof` has more than one member set (protojson: "oneof is already set"). */
function oneof<T extends Record<string, unknown>>(members: readonly (keyof T & string)[]) {
  return (value: T, ctx: z.core.$RefinementCtx<T>) => {
    const set = members.filter((m) => value[m] != null);
    if (set.length > 1) ctx.addIssue({ code: 'custom', message: `oneof has more than one member set: ${set.join(', ')}`, input: value });
  };
}

/** `flow.TCP` / `flow.UDP` / `flow.SCTP` (only the ports). */
export const Ports = message({ source_port: Uint32.nullish(), destination_port: Uint32.nullish() });

/** `flow.ICMPv4` / `flow.ICMPv6`: only its presence matters (port 0). */
const Icmp = z.object({});

const L4_MEMBERS = ['TCP', 'UDP', 'SCTP', 'ICMPv4', 'ICMPv6'] as const;

/** `flow.Layer4`: `oneof protocol { TCP, UDP, ICMPv4, ICMPv6, SCTP }`. */
export const Layer4 = message({
  TCP: Ports.nullish(),
  UDP: Ports.nullish(),
  SCTP: Ports.nullish(),
  ICMPv4: Icmp.nullish(),
  ICMPv6: Icmp.nullish(),
}).superRefine(oneof(L4_MEMBERS));

/** `flow.IP` (source and destination addresses). */
export const IP = message({ source: IpAddress.nullish(), destination: IpAddress.nullish() });

/** `flow.Workload`. */
export const Workload = message({ name: z.string().nullish(), kind: z.string().nullish() });

/** `flow.Endpoint` (the `ID` endpoint id is not read). */
export const Endpoint = message({
  identity: Uint32.nullish(),
  namespace: z.string().nullish(),
  labels: z.array(z.string()).nullish(),
  pod_name: z.string().nullish(),
  workloads: z.array(Workload).nullish(),
});

/** `flow.DNS` (query and answer addresses). */
export const DNS = message({ query: z.string().nullish(), ips: z.array(IpAddress).nullish() });

/** `flow.Layer7` (only the DNS record). */
export const Layer7 = message({ dns: DNS.nullish() });

/** `flow.Policy` (name and namespace; labels, revision and kind are not read). */
export const Policy = message({ name: z.string().nullish(), namespace: z.string().nullish() });

/** `flow.Flow`: the fields a `Flow` is made of. */
export const Flow = message({
  time: Timestamp.nullish(),
  verdict: closedEnum(VERDICTS).nullish(),
  drop_reason: Uint32.nullish(),
  drop_reason_desc: openEnum(DROP_REASONS).nullish(),
  IP: IP.nullish(),
  l4: Layer4.nullish(),
  source: Endpoint.nullish(),
  destination: Endpoint.nullish(),
  node_name: z.string().nullish(),
  destination_names: z.array(z.string()).nullish(),
  l7: Layer7.nullish(),
  reply: z.boolean().nullish(),
  is_reply: z.boolean().nullish(),
  traffic_direction: closedEnum(TRAFFIC_DIRECTIONS).nullish(),
  trace_observation_point: openEnum(TRACE_OBSERVATION_POINTS).nullish(),
  egress_denied_by: z.array(Policy).nullish(),
  ingress_denied_by: z.array(Policy).nullish(),
});

/** `flow.LostEvent`. */
export const LostEvent = message({ source: openEnum(LOST_EVENT_SOURCES).nullish(), num_events_lost: Uint64.nullish() });

/** `relay.NodeStatusEvent`. */
export const NodeStatusEvent = message({
  state_change: openEnum(NODE_STATES).nullish(),
  node_names: z.array(z.string()).nullish(),
  message: z.string().nullish(),
});

/** `flow.AgentEvent` (only its type). */
export const AgentEvent = message({ type: openEnum(AGENT_EVENT_TYPES).nullish() });

/** `flow.DebugEvent`: content not read. */
export const DebugEvent = z.object({});

const RESPONSE_TYPES = ['flow', 'node_status', 'lost_events', 'agent_event', 'debug_event'] as const;

/**
 * `observer.ExportEvent` (a superset of `observer.GetFlowsResponse`, `GetAgentEventsResponse` and
 * `GetDebugEventsResponse`): `oneof response_types { flow, node_status, lost_events, agent_event,
 * debug_event }` plus `node_name` and `time`.
 */
export const Envelope = message({
  flow: Flow.nullish(),
  node_status: NodeStatusEvent.nullish(),
  lost_events: LostEvent.nullish(),
  agent_event: AgentEvent.nullish(),
  debug_event: DebugEvent.nullish(),
  node_name: z.string().nullish(),
  time: Timestamp.nullish(),
}).superRefine(oneof(RESPONSE_TYPES));

export type RawFlow = z.output<typeof Flow>;
export type RawEndpoint = z.output<typeof Endpoint>;
export type RawEnvelope = z.output<typeof Envelope>;
export type RawLostEvent = z.output<typeof LostEvent>;
export type RawNodeStatus = z.output<typeof NodeStatusEvent>;
export type RawAgentEvent = z.output<typeof AgentEvent>;
