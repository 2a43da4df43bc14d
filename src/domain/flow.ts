/**
 * The normalized flow: one observed connection attempt, whatever source saw it
 * (Hubble Observer, Hubble export file, conntrack). Every ingest path produces this
 * shape; everything downstream (identity, graph, audit) consumes only this shape.
 *
 * Pure data, no behaviour beyond small constructors: src/domain never does I/O.
 */

/** L4 protocols a NetworkPolicy / CiliumNetworkPolicy port can name (plus ICMP, never a policy port). */
export type Protocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMPv4' | 'ICMPv6';

/** Hubble's `flow.Verdict` names; conntrack entries map to FORWARDED (unreplied ones are `confirmed: false`). */
export type Verdict =
  | 'FORWARDED'
  | 'DROPPED'
  | 'AUDIT'
  | 'ERROR'
  | 'REDIRECTED'
  | 'TRACED'
  | 'TRANSLATED'
  | 'VERDICT_UNKNOWN';

/**
 * Cilium reserved identities (`reserved:<name>` labels) that hivewall turns into entities.
 * `world` is anything outside the cluster; `host` the local node; `remote-node` another node.
 */
export type ReservedIdentity = 'world' | 'host' | 'remote-node' | 'kube-apiserver' | 'health' | 'init' | 'unmanaged' | 'ingress';

/** What a source may already know about an endpoint (Hubble does; conntrack does not). */
export interface EndpointHint {
  /** Kubernetes namespace of the pod, when the endpoint is a pod. */
  readonly namespace?: string;
  readonly podName?: string;
  /** Pod labels as `key=value` without Cilium's `k8s:` source prefix, sorted. */
  readonly labels?: readonly string[];
  /** Top-level owner as reported by Hubble `workloads[0]` (Deployment, StatefulSet, ...). */
  readonly workload?: { readonly kind: string; readonly name: string };
  /** A Cilium reserved identity, when the endpoint carries one. */
  readonly reserved?: ReservedIdentity;
  /** Numeric Cilium security identity, when known (informational only). */
  readonly identity?: number;
}

export interface FlowEndpoint extends EndpointHint {
  /** IPv4 or IPv6 address in canonical text form. */
  readonly ip: string;
  /** L4 port; 0 when the protocol has none (ICMP). */
  readonly port: number;
}

export interface DnsAnswer {
  /** Queried name without trailing dot, lower case. */
  readonly query: string;
  /** Addresses in the answer (A / AAAA). */
  readonly ips: readonly string[];
}

export interface Flow {
  /** Observation time, milliseconds since the Unix epoch. */
  readonly time: number;
  /** The sender of this packet: the client, or for a reply (isReply) the server. */
  readonly source: FlowEndpoint;
  /** The server side as observed: for conntrack, already the real backend after DNAT. */
  readonly destination: FlowEndpoint;
  readonly protocol: Protocol;
  readonly verdict: Verdict;
  /** Hubble `is_reply`: a reply packet of an existing connection. Never creates an edge. */
  readonly isReply: boolean;
  /** Node that observed the flow (Hubble `node_name`), when known. */
  readonly node?: string;
  /** Hubble `trace_observation_point` name, when known (e.g. TO_ENDPOINT, TO_STACK). */
  readonly observationPoint?: string;
  /** Hubble `traffic_direction`: INGRESS or EGRESS relative to the observing endpoint. */
  readonly trafficDirection?: 'INGRESS' | 'EGRESS' | 'TRAFFIC_DIRECTION_UNKNOWN';
  /** DNS names known for the destination (Hubble `destination_names`). */
  readonly destinationNames?: readonly string[];
  /** A DNS response carried by this flow (Hubble `l7.dns` with `ips`), giving names to external peers. */
  readonly dnsAnswer?: DnsAnswer;
  /** Hubble drop reason name for DROPPED flows. */
  readonly dropReason?: string;
  /**
   * The policies Cilium names as denying this flow (Hubble `egress_denied_by` / `ingress_denied_by`),
   * as `<namespace>/<name>`, when the source reports them.
   */
  readonly deniedBy?: readonly string[];
  /**
   * Proof the connection worked in both directions (conntrack: not [UNREPLIED]).
   * Hubble flows are confirmed by definition of their verdict; false means "report, don't learn".
   */
  readonly confirmed: boolean;
  /** conntrack's protocol state word (`SYN_SENT`, `ESTABLISHED`, …), when the source reports one. */
  readonly connectionState?: string;
  /** conntrack `[DESTROY]`: the kernel removed the connection's entry. */
  readonly ended?: boolean;
}

/** Non-flow lines a flow source may deliver (Hubble `GetFlowsResponse` envelope variants). */
export type SourceEvent =
  | { readonly kind: 'flow'; readonly flow: Flow }
  | { readonly kind: 'lost-events'; readonly source: string; readonly count: number }
  | { readonly kind: 'node-status'; readonly node?: string; readonly detail: string }
  | { readonly kind: 'agent-event'; readonly detail: string }
  | { readonly kind: 'debug-event' };

/** Why an input line was skipped; the CLI summary and metrics count these. */
export type SkipReason =
  | 'empty'
  | 'malformed'
  | 'schema-mismatch'
  | 'too-long'
  | 'unsupported-protocol'
  /** A namespace, pod, workload or label that breaks Kubernetes name syntax (src/domain/k8s-names.ts). */
  | 'invalid-name';

export type ParseResult = SourceEvent | { readonly kind: 'skip'; readonly reason: SkipReason; readonly detail?: string };
