/**
 * Names and numbers from Cilium's Hubble API (`api/v1/flow/flow.proto`, `api/v1/observer/observer.proto`,
 * `api/v1/relay/relay.proto`) that the Hubble line parsers need. Pure constants, no behaviour.
 *
 * protojson rules these tables serve:
 * - "Enums: the name of the enum value as specified in proto is used. Parsers accept both enum names
 *   and integer values." Hubble writes names; a number is looked up here.
 * - Field names: the JSON name is the lowerCamelCase of the proto name (`node_name` → `nodeName`);
 *   "Parsers accept both the lowerCamelCase name (or the one specified by the json_name option) and
 *   the original proto field name." Hubble (`UseProtoNames: true`) writes the proto names.
 */
import type { ReservedIdentity, Verdict } from '../../domain/flow.js';

/** protoc's default `json_name`: drop each `_` and upper-case the letter after it (`is_reply` → `isReply`). */
export function jsonName(protoName: string): string {
  return protoName.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** `flow.Verdict` (closed: any other name is a schema mismatch). */
export const VERDICTS: readonly Verdict[] = [
  'VERDICT_UNKNOWN', // 0
  'FORWARDED', // 1
  'DROPPED', // 2
  'ERROR', // 3
  'AUDIT', // 4
  'REDIRECTED', // 5
  'TRACED', // 6
  'TRANSLATED', // 7
];

/** `flow.TrafficDirection` (closed). */
export const TRAFFIC_DIRECTIONS = ['TRAFFIC_DIRECTION_UNKNOWN', 'INGRESS', 'EGRESS'] as const;
export type TrafficDirectionName = (typeof TRAFFIC_DIRECTIONS)[number];

/** Open enums: a name we do not know is passed through (Cilium adds values); a number is looked up. */
export type EnumNumbers = ReadonlyMap<number, string>;

function numbered(entries: readonly (readonly [number, string])[]): EnumNumbers {
  return new Map(entries);
}

/** `flow.TraceObservationPoint`. */
export const TRACE_OBSERVATION_POINTS: EnumNumbers = numbered([
  [0, 'UNKNOWN_POINT'],
  [1, 'TO_PROXY'],
  [2, 'TO_HOST'],
  [3, 'TO_STACK'],
  [4, 'TO_OVERLAY'],
  [101, 'TO_ENDPOINT'],
  [5, 'FROM_ENDPOINT'],
  [6, 'FROM_PROXY'],
  [7, 'FROM_HOST'],
  [8, 'FROM_STACK'],
  [9, 'FROM_OVERLAY'],
  [10, 'FROM_NETWORK'],
  [11, 'TO_NETWORK'],
]);

/** `flow.DropReason` (values below 130 are not drop reasons). */
export const DROP_REASONS: EnumNumbers = numbered([
  [0, 'DROP_REASON_UNKNOWN'],
  [130, 'INVALID_SOURCE_MAC'],
  [131, 'INVALID_DESTINATION_MAC'],
  [132, 'INVALID_SOURCE_IP'],
  [133, 'POLICY_DENIED'],
  [134, 'INVALID_PACKET_DROPPED'],
  [135, 'CT_TRUNCATED_OR_INVALID_HEADER'],
  [136, 'CT_MISSING_TCP_ACK_FLAG'],
  [137, 'CT_UNKNOWN_L4_PROTOCOL'],
  [138, 'CT_CANNOT_CREATE_ENTRY_FROM_PACKET'],
  [139, 'UNSUPPORTED_L3_PROTOCOL'],
  [140, 'MISSED_TAIL_CALL'],
  [141, 'ERROR_WRITING_TO_PACKET'],
  [142, 'UNKNOWN_L4_PROTOCOL'],
  [143, 'UNKNOWN_ICMPV4_CODE'],
  [144, 'UNKNOWN_ICMPV4_TYPE'],
  [145, 'UNKNOWN_ICMPV6_CODE'],
  [146, 'UNKNOWN_ICMPV6_TYPE'],
  [147, 'ERROR_RETRIEVING_TUNNEL_KEY'],
  [148, 'ERROR_RETRIEVING_TUNNEL_OPTIONS'],
  [149, 'INVALID_GENEVE_OPTION'],
  [150, 'UNKNOWN_L3_TARGET_ADDRESS'],
  [151, 'STALE_OR_UNROUTABLE_IP'],
  [152, 'NO_MATCHING_LOCAL_CONTAINER_FOUND'],
  [153, 'ERROR_WHILE_CORRECTING_L3_CHECKSUM'],
  [154, 'ERROR_WHILE_CORRECTING_L4_CHECKSUM'],
  [155, 'CT_MAP_INSERTION_FAILED'],
  [156, 'INVALID_IPV6_EXTENSION_HEADER'],
  [157, 'IP_FRAGMENTATION_NOT_SUPPORTED'],
  [158, 'SERVICE_BACKEND_NOT_FOUND'],
  [160, 'NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT'],
  [161, 'FAILED_TO_INSERT_INTO_PROXYMAP'],
  [162, 'REACHED_EDT_RATE_LIMITING_DROP_HORIZON'],
  [163, 'UNKNOWN_CONNECTION_TRACKING_STATE'],
  [164, 'LOCAL_HOST_IS_UNREACHABLE'],
  [165, 'NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION'],
  [166, 'UNSUPPORTED_L2_PROTOCOL'],
  [167, 'NO_MAPPING_FOR_NAT_MASQUERADE'],
  [168, 'UNSUPPORTED_PROTOCOL_FOR_NAT_MASQUERADE'],
  [169, 'FIB_LOOKUP_FAILED'],
  [170, 'ENCAPSULATION_TRAFFIC_IS_PROHIBITED'],
  [171, 'INVALID_IDENTITY'],
  [172, 'UNKNOWN_SENDER'],
  [173, 'NAT_NOT_NEEDED'],
  [174, 'IS_A_CLUSTERIP'],
  [175, 'FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND'],
  [176, 'FORBIDDEN_ICMPV6_MESSAGE'],
  [177, 'DENIED_BY_LB_SRC_RANGE_CHECK'],
  [178, 'SOCKET_LOOKUP_FAILED'],
  [179, 'SOCKET_ASSIGN_FAILED'],
  [180, 'PROXY_REDIRECTION_NOT_SUPPORTED_FOR_PROTOCOL'],
  [181, 'POLICY_DENY'],
  [182, 'VLAN_FILTERED'],
  [183, 'INVALID_VNI'],
  [184, 'INVALID_TC_BUFFER'],
  [185, 'NO_SID'],
  [186, 'MISSING_SRV6_STATE'],
  [187, 'NAT46'],
  [188, 'NAT64'],
  [189, 'AUTH_REQUIRED'],
  [190, 'CT_NO_MAP_FOUND'],
  [191, 'SNAT_NO_MAP_FOUND'],
  [192, 'INVALID_CLUSTER_ID'],
  [193, 'UNSUPPORTED_PROTOCOL_FOR_DSR_ENCAP'],
  [194, 'NO_EGRESS_GATEWAY'],
  [196, 'TTL_EXCEEDED'],
  [197, 'NO_NODE_ID'],
  [202, 'DROP_HOST_NOT_READY'],
  [203, 'DROP_EP_NOT_READY'],
]);

/** `flow.LostEventSource`. */
export const LOST_EVENT_SOURCES: EnumNumbers = numbered([
  [0, 'UNKNOWN_LOST_EVENT_SOURCE'],
  [1, 'PERF_EVENT_RING_BUFFER'],
  [2, 'OBSERVER_EVENTS_QUEUE'],
  [3, 'HUBBLE_RING_BUFFER'],
]);

/** `relay.NodeState`. */
export const NODE_STATES: EnumNumbers = numbered([
  [0, 'UNKNOWN_NODE_STATE'],
  [1, 'NODE_CONNECTED'],
  [2, 'NODE_UNAVAILABLE'],
  [3, 'NODE_GONE'],
  [4, 'NODE_ERROR'],
]);

/** `flow.AgentEventType` (1 is reserved). */
export const AGENT_EVENT_TYPES: EnumNumbers = numbered([
  [0, 'AGENT_EVENT_UNKNOWN'],
  [2, 'AGENT_STARTED'],
  [3, 'POLICY_UPDATED'],
  [4, 'POLICY_DELETED'],
  [5, 'ENDPOINT_REGENERATE_SUCCESS'],
  [6, 'ENDPOINT_REGENERATE_FAILURE'],
  [7, 'ENDPOINT_CREATED'],
  [8, 'ENDPOINT_DELETED'],
  [9, 'IPCACHE_UPSERTED'],
  [10, 'IPCACHE_DELETED'],
  [11, 'SERVICE_UPSERTED'],
  [12, 'SERVICE_DELETED'],
]);

/** The name of an open-enum number: the proto name when known, else the number in decimal. */
export function enumName(table: EnumNumbers, value: number): string {
  return table.get(value) ?? String(value);
}

/**
 * Cilium's reserved numeric identities (`pkg/identity/numericidentity.go`): 1 host, 2 world,
 * 3 unmanaged, 4 health, 5 init, 6 remote-node, 7 kube-apiserver, 8 ingress, and in dual-stack
 * clusters 9 world-ipv4 and 10 world-ipv6 (both the `world` entity).
 */
export const RESERVED_IDENTITY_NUMBERS: ReadonlyMap<number, ReservedIdentity> = new Map<number, ReservedIdentity>([
  [1, 'host'],
  [2, 'world'],
  [3, 'unmanaged'],
  [4, 'health'],
  [5, 'init'],
  [6, 'remote-node'],
  [7, 'kube-apiserver'],
  [8, 'ingress'],
  [9, 'world'],
  [10, 'world'],
]);

/**
 * `reserved:<name>` label names (`pkg/labels`: `LabelWorld`, `LabelWorldIPv4`, `LabelWorldIPv6`, ...).
 * The map order is the precedence when an identity carries several reserved labels: the host
 * identity of a control-plane node carries both `reserved:host` and `reserved:kube-apiserver`, and
 * traffic to it is traffic to the API server (`toEntities: [kube-apiserver]`).
 */
export const RESERVED_LABELS: ReadonlyMap<string, ReservedIdentity> = new Map<string, ReservedIdentity>([
  ['kube-apiserver', 'kube-apiserver'],
  ['host', 'host'],
  ['remote-node', 'remote-node'],
  ['health', 'health'],
  ['ingress', 'ingress'],
  ['init', 'init'],
  ['unmanaged', 'unmanaged'],
  ['world', 'world'],
  ['world-ipv4', 'world'],
  ['world-ipv6', 'world'],
]);

/** Precedence rank of each reserved identity (lower wins); see {@link RESERVED_LABELS}. */
export const RESERVED_RANK: ReadonlyMap<ReservedIdentity, number> = new Map(
  [...new Set(RESERVED_LABELS.values())].map((name, index) => [name, index] as const),
);
