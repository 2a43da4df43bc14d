/**
 * Raw Hubble record (schema output, or the scanner's twin of it) → normalized {@link ParseResult}.
 * Shared by the full parser and the fast scanner, so both give the same result by construction
 * for the same raw record. Pure.
 */
import type {
  DnsAnswer,
  EndpointHint,
  Flow,
  FlowEndpoint,
  ParseResult,
  Protocol,
  ReservedIdentity,
  SkipReason,
} from '../../domain/flow.js';
import { invalidLabel, invalidNamespace, invalidObjectName, isDnsName, isKind } from '../../domain/k8s-names.js';
import { DROP_REASONS, RESERVED_IDENTITY_NUMBERS, RESERVED_LABELS, RESERVED_RANK } from './proto.js';
import type { RawAgentEvent, RawEndpoint, RawFlow, RawLostEvent, RawNodeStatus } from './schema.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function skip(reason: SkipReason, detail?: string): ParseResult {
  return detail === undefined ? { kind: 'skip', reason } : { kind: 'skip', reason, detail };
}

/**
 * Cilium label keys that describe the pod's context, not the pod: the policy labels
 * (`io.cilium.k8s.policy.cluster`, `io.cilium.k8s.policy.serviceaccount`, ...), the namespace
 * label Cilium adds to every pod (`io.kubernetes.pod.namespace`; the namespace comes from
 * `Endpoint.namespace`) and the namespace's own labels (`io.cilium.k8s.namespace.labels.*`).
 */
export function isCiliumInternalLabelKey(key: string): boolean {
  return key.startsWith('io.cilium.k8s.policy.') || key.startsWith('io.cilium.k8s.namespace.labels.') || key === 'io.kubernetes.pod.namespace';
}

/**
 * How a Cilium label string `source:key=value` (`pkg/labels.Label.String`) is used:
 * - `k8s:` labels are pod labels, returned without the prefix (unless Cilium-internal);
 * - `reserved:<name>` give the reserved identity;
 * - labels of other sources (`cidr:`, `fqdn:`, `container:`, `unspec:`, ...) are not pod labels;
 * - a label without a source (the `foo=bar` form of `flow.Endpoint.labels`' doc comment) is a pod label.
 * The source is the text before the first `:` when that comes before any `=` (Kubernetes label
 * keys cannot contain `:`).
 */
export type LabelUse = { readonly pod: string } | { readonly reserved: ReservedIdentity } | undefined;

export function classifyLabel(label: string): LabelUse {
  const colon = label.indexOf(':');
  const equals = label.indexOf('=');
  if (colon >= 0 && (equals < 0 || colon < equals)) {
    const source = label.slice(0, colon);
    const rest = label.slice(colon + 1);
    if (source === 'k8s') return podLabel(rest);
    if (source === 'reserved') {
      const reserved = RESERVED_LABELS.get(rest);
      return reserved === undefined ? undefined : { reserved };
    }
    return undefined;
  }
  return podLabel(label);
}

function podLabel(keyValue: string): LabelUse {
  const equals = keyValue.indexOf('=');
  const key = equals < 0 ? keyValue : keyValue.slice(0, equals);
  return isCiliumInternalLabelKey(key) ? undefined : { pod: keyValue };
}

/** Pod labels (sorted, unique) and the highest-precedence reserved identity among `labels`. */
export function normalizeLabels(labels: readonly string[]): { labels: string[]; reserved: ReservedIdentity | undefined } {
  const pod: string[] = [];
  let reserved: ReservedIdentity | undefined;
  for (const label of labels) {
    const use = classifyLabel(label);
    if (use === undefined) continue;
    if ('pod' in use) pod.push(use.pod);
    else if (reserved === undefined || (RESERVED_RANK.get(use.reserved) ?? 0) < (RESERVED_RANK.get(reserved) ?? 0)) reserved = use.reserved;
  }
  pod.sort();
  let unique = pod;
  for (let i = 1; i < pod.length; i++) {
    if (pod[i] === pod[i - 1]) {
      unique = [...new Set(pod)];
      break;
    }
  }
  return { labels: unique, reserved };
}

/**
 * `flow.Endpoint` → endpoint hint. Proto3 defaults (empty string, 0, empty list) mean "not known"
 * and are left out. `reserved` comes from `reserved:` labels, else from a reserved numeric identity.
 */
export function endpointHint(raw: RawEndpoint): EndpointHint {
  const hint: Mutable<EndpointHint> = {};
  if (raw.namespace) hint.namespace = raw.namespace;
  if (raw.pod_name) hint.podName = raw.pod_name;
  let reserved: ReservedIdentity | undefined;
  if (raw.labels != null && raw.labels.length > 0) {
    const normalized = normalizeLabels(raw.labels);
    if (normalized.labels.length > 0) hint.labels = Object.freeze(normalized.labels);
    reserved = normalized.reserved;
  }
  const first = raw.workloads?.[0];
  if (first?.name && first.kind) hint.workload = Object.freeze({ kind: first.kind, name: first.name });
  const identity = raw.identity ?? 0;
  reserved ??= RESERVED_IDENTITY_NUMBERS.get(identity);
  if (reserved !== undefined) hint.reserved = reserved;
  if (identity !== 0) hint.identity = identity;
  return hint;
}

/**
 * What is known of a raw endpoint record that is passed in again and again (the scanner's and the
 * gRPC decoder's endpoint caches): its hint, and why its names are invalid (undefined: valid).
 * Kept on the record itself under a symbol (not enumerable: the record reads as before), a cheaper
 * lookup per flow than a WeakMap.
 */
interface Remembered {
  readonly hint: EndpointHint;
  readonly invalid: string | undefined;
}
const REMEMBERED: unique symbol = Symbol('hivewall.rememberedEndpoint');
type RememberingEndpoint = RawEndpoint & { readonly [REMEMBERED]?: Remembered };

function rememberedOf(raw: RawEndpoint | null | undefined): Remembered | undefined {
  return raw == null ? undefined : (raw as RememberingEndpoint)[REMEMBERED];
}

/**
 * Why an endpoint's names are not Kubernetes names (src/domain/k8s-names.ts), or undefined: the
 * namespace a DNS-1123 label, the pod and workload names DNS-1123 subdomains, the workload kind a
 * kind, every pod label a qualified key and a label value. A flow naming such an endpoint is
 * skipped as `invalid-name`: those names would become peers, policy names and file paths.
 */
export function invalidEndpointName(hint: EndpointHint): string | undefined {
  return (hint.namespace !== undefined ? invalidNamespace(hint.namespace) : undefined)
    ?? (hint.podName !== undefined ? invalidObjectName(hint.podName, 'pod name') : undefined)
    ?? (hint.workload !== undefined
      ? (isKind(hint.workload.kind) ? invalidObjectName(hint.workload.name, 'workload name') : `workload kind ${JSON.stringify(hint.workload.kind)} is not a Kubernetes kind`)
      : undefined)
    ?? firstInvalidLabel(hint.labels);
}

function firstInvalidLabel(labels: readonly string[] | undefined): string | undefined {
  if (labels === undefined) return undefined;
  for (const label of labels) {
    const reason = invalidLabel(label);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/**
 * Computes and keeps the hint of a raw endpoint record that will be passed in again, and checks its
 * names once: its `labels` array and `workload` object are then shared by every `Flow` of that
 * endpoint (they are frozen, whichever path made them).
 */
export function rememberEndpointHint(raw: RawEndpoint): void {
  Object.defineProperty(raw, REMEMBERED, { value: checkedHint(raw), enumerable: false, writable: true, configurable: true });
}

/** A raw endpoint's hint, with why its names are invalid (see {@link invalidEndpointName}). */
function checkedHint(raw: RawEndpoint): Remembered {
  const hint = Object.freeze(endpointHint(raw));
  return { hint, invalid: invalidEndpointName(hint) };
}

function hintOf(raw: RawEndpoint | null | undefined): EndpointHint | undefined {
  return raw == null ? undefined : (rememberedOf(raw)?.hint ?? endpointHint(raw));
}

/** {@link checkedHint}, kept for a remembered endpoint. */
function checkedHintOf(raw: RawEndpoint | null | undefined): Remembered | undefined {
  return raw == null ? undefined : (rememberedOf(raw) ?? checkedHint(raw));
}

/** The endpoint at `ip`:`port` with what `raw` says about it. */
export function endpoint(ip: string, port: number, raw: RawEndpoint | null | undefined): FlowEndpoint {
  return endpointOf(ip, port, hintOf(raw));
}

/** The endpoint at `ip`:`port` with a hint's fields (shared, not copied: labels, workload). */
export function endpointOf(ip: string, port: number, hint: EndpointHint | undefined): FlowEndpoint {
  const ep: Mutable<FlowEndpoint> = { ip, port };
  if (hint === undefined) return ep;
  if (hint.namespace !== undefined) ep.namespace = hint.namespace;
  if (hint.podName !== undefined) ep.podName = hint.podName;
  if (hint.labels !== undefined) ep.labels = hint.labels;
  if (hint.workload !== undefined) ep.workload = hint.workload;
  if (hint.reserved !== undefined) ep.reserved = hint.reserved;
  if (hint.identity !== undefined) ep.identity = hint.identity;
  return ep;
}

/** DNS names are compared without the root dot and case-insensitively (RFC 4343). */
export function normalizeDnsName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

function dnsAnswer(raw: RawFlow): DnsAnswer | undefined {
  const dns = raw.l7?.dns;
  if (dns == null || dns.query == null || dns.ips == null || dns.ips.length === 0) return undefined;
  const query = normalizeDnsName(dns.query);
  // A name that is not a DNS name (control characters, spaces, ...) never names a peer.
  return isDnsName(query) ? { query, ips: dns.ips } : undefined;
}

/**
 * `flow.Flow` (+ the envelope's `node_name` and `time`, used when the flow lacks them) → `Flow`.
 * - No `IP` (an L2-only or non-IP event) → `schema-mismatch`; no `time` at all → `schema-mismatch`.
 * - No `l4` member → `unsupported-protocol`; `ICMPv4`/`ICMPv6` give port 0.
 * - `is_reply` (a `BoolValue`: true / false / absent) decides; when absent the deprecated `reply`
 *   bool is used; when both are absent the flow is not a reply.
 * - Enum zero values (`TRAFFIC_DIRECTION_UNKNOWN`, `UNKNOWN_POINT`, `DROP_REASON_UNKNOWN`) are the
 *   proto3 "not set" and are left out, as are empty `node_name` and `destination_names`.
 * - The deprecated numeric `drop_reason` names the reason of a DROPPED flow without `drop_reason_desc`.
 */
export function flowResult(raw: RawFlow, envelopeNode?: string | null, envelopeTime?: number | null): ParseResult {
  const ip = raw.IP;
  if (ip == null) return skip('schema-mismatch', 'flow has no IP (non-IP flow)');
  if (ip.source == null || ip.destination == null) return skip('schema-mismatch', 'flow IP lacks source or destination address');
  const time = raw.time ?? envelopeTime;
  if (time == null) return skip('schema-mismatch', 'flow has no time');
  const l4 = raw.l4;
  let protocol: Protocol;
  let ports: { source_port?: number | null; destination_port?: number | null } | undefined;
  if (l4 == null) return skip('unsupported-protocol', 'flow has no l4');
  if (l4.TCP != null) {
    protocol = 'TCP';
    ports = l4.TCP;
  } else if (l4.UDP != null) {
    protocol = 'UDP';
    ports = l4.UDP;
  } else if (l4.SCTP != null) {
    protocol = 'SCTP';
    ports = l4.SCTP;
  } else if (l4.ICMPv4 != null) protocol = 'ICMPv4';
  else if (l4.ICMPv6 != null) protocol = 'ICMPv6';
  else return skip('unsupported-protocol', 'flow has no l4');

  const source = checkedHintOf(raw.source);
  const destination = checkedHintOf(raw.destination);
  const invalid = source?.invalid ?? destination?.invalid;
  if (invalid) return skip('invalid-name', invalid);
  const sourceHint = source?.hint;
  const destinationHint = destination?.hint;
  const verdict = raw.verdict ?? 'VERDICT_UNKNOWN';
  const flow: Mutable<Flow> = {
    time,
    source: endpointOf(ip.source, ports?.source_port ?? 0, sourceHint),
    destination: endpointOf(ip.destination, ports?.destination_port ?? 0, destinationHint),
    protocol,
    verdict,
    isReply: raw.is_reply ?? raw.reply ?? false,
    confirmed: true,
  };
  const node = raw.node_name || envelopeNode;
  if (node) flow.node = node;
  const point = raw.trace_observation_point;
  if (point != null && point !== 'UNKNOWN_POINT') flow.observationPoint = point;
  const direction = raw.traffic_direction;
  if (direction != null && direction !== 'TRAFFIC_DIRECTION_UNKNOWN') flow.trafficDirection = direction;
  if (raw.destination_names != null && raw.destination_names.length > 0) {
    const names = raw.destination_names.filter((name) => isDnsName(normalizeDnsName(name)));
    if (names.length > 0) flow.destinationNames = names;
  }
  const answer = dnsAnswer(raw);
  if (answer !== undefined) flow.dnsAnswer = answer;
  const dropReason = raw.drop_reason_desc ?? (verdict === 'DROPPED' && raw.drop_reason ? DROP_REASONS.get(raw.drop_reason) : undefined);
  if (dropReason != null && dropReason !== 'DROP_REASON_UNKNOWN') flow.dropReason = dropReason;
  const deniedBy = policyNames(raw.egress_denied_by, raw.ingress_denied_by);
  if (deniedBy !== undefined) flow.deniedBy = deniedBy;
  return { kind: 'flow', flow };
}

/**
 * Cilium's `egress_denied_by` / `ingress_denied_by` (the policies that denied a DROPPED flow) as
 * sorted `<namespace>/<name>`; policies without a name are left out, none at all → undefined.
 */
export type PolicyRefs = readonly { name?: string | null; namespace?: string | null }[] | null | undefined;

export function policyNames(egress: PolicyRefs, ingress: PolicyRefs): string[] | undefined {
  if ((egress == null || egress.length === 0) && (ingress == null || ingress.length === 0)) return undefined; // almost every flow
  const names = new Set<string>();
  for (const list of [egress, ingress]) for (const p of list ?? []) if (p.name) names.add(`${p.namespace ?? ''}/${p.name}`);
  return names.size > 0 ? [...names].sort() : undefined;
}

/** `flow.LostEvent` → `lost-events` (proto3 defaults: source `UNKNOWN_LOST_EVENT_SOURCE`, count 0). */
export function lostEventsResult(raw: RawLostEvent): ParseResult {
  return { kind: 'lost-events', source: raw.source ?? 'UNKNOWN_LOST_EVENT_SOURCE', count: raw.num_events_lost ?? 0 };
}

/**
 * `relay.NodeStatusEvent` → `node-status`: `node` lists the `node_names` it is about (comma-joined),
 * else the envelope's `node_name`; `detail` is the state change and the message.
 */
export function nodeStatusResult(raw: RawNodeStatus, envelopeNode?: string | null): ParseResult {
  const state = raw.state_change ?? 'UNKNOWN_NODE_STATE';
  const detail = raw.message ? `${state}: ${raw.message}` : state;
  const node = raw.node_names != null && raw.node_names.length > 0 ? raw.node_names.join(',') : envelopeNode;
  return node ? { kind: 'node-status', node, detail } : { kind: 'node-status', detail };
}

/** `flow.AgentEvent` → `agent-event` with the event type name as detail. */
export function agentEventResult(raw: RawAgentEvent): ParseResult {
  return { kind: 'agent-event', detail: raw.type ?? 'AGENT_EVENT_UNKNOWN' };
}
