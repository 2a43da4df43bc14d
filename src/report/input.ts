/**
 * What a report is made from. `hivewall learn --report` passes the learned graph, the generated
 * policies and the learner's denied pairs; the operator will also pass what its live policies
 * allow (`enforced`) and what its audit found they would deny (`wouldDeny`).
 */
import type { Flavor, GeneratedNamespace } from '../domain/generate.js';
import type { TrafficGraph } from '../domain/graph.js';

/** One directed edge: client peer key, server peer key, server port, protocol. */
export interface EdgeIdentity {
  /** Peer key of the client (`wl:<ns>/<Kind>/<name>`, `en:<entity>[:<ip>]`). */
  readonly client: string;
  readonly server: string;
  readonly port: number;
  readonly protocol: string;
}

/** A rule of a live (or any named) policy. */
export interface PolicyRuleRef {
  readonly namespace: string;
  readonly policy: string;
  readonly direction: 'ingress' | 'egress';
  /** 1-based rule position within that direction, when known. */
  readonly rule?: number;
  readonly description?: string;
}

/** An edge that live policies allow, with the rules that allow it. */
export interface EnforcedEdge extends EdgeIdentity {
  readonly rules: readonly PolicyRuleRef[];
}

/** Observed flows the policies would deny (audit findings, or flows the network dropped). */
export interface WouldDenyEdge extends EdgeIdentity {
  readonly count: number;
  /** `POLICY_DENIED`, `UNREPLIED`, an audit finding, … */
  readonly reason: string;
  /** Epoch milliseconds. */
  readonly firstSeen?: number;
  readonly lastSeen?: number;
}

export interface ReportStats {
  /** Flows read. */
  readonly flows?: number;
  /** Connections counted on edges. */
  readonly connections?: number;
  /** Events the flow source reported lost. */
  readonly lostEvents?: number;
  /** Epoch ms of the first and last learned connection. */
  readonly firstFlowAt?: number;
  readonly lastFlowAt?: number;
}

export interface ReportInput {
  /** The learned graph (nodes: workloads and entities; edges: allowed connections with evidence). */
  readonly graph: TrafficGraph;
  /** The generated (proposed) policies: their model carries the evidence behind every rule. */
  readonly generated: readonly GeneratedNamespace[];
  readonly flavor: Flavor;
  readonly title?: string;
  /** Where the data came from, shown under the title. */
  readonly source?: string;
  readonly stats?: ReportStats;
  /** What live policies allow. Absent: the live state is unknown and no edge is shown as enforced. */
  readonly enforced?: readonly EnforcedEdge[];
  /** Observed flows the policies would deny. Edges not in the graph are added to it. */
  readonly wouldDeny?: readonly WouldDenyEdge[];
}
