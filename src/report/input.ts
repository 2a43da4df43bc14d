/**
 * What a report is made from. `hivewall learn --report` passes the learned graph, the generated
 * policies and the learner's denied pairs; `kubectl hivewall report` passes the graph of the
 * TrafficProfiles, the policies of a stored PolicyProposal (`proposed`), what the live policies
 * allow (`enforced`) and what the audit found they would deny (`wouldDeny`).
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

/** A rule of a stored proposal with the learned edges behind it (the proposal's evidence). */
export interface ProposedRule extends PolicyRuleRef {
  readonly description: string;
  /** Set when the rule allows more than was observed because the Segmentation asks for it. */
  readonly allowance?: string;
  readonly edges: readonly EdgeIdentity[];
}

/**
 * The policies of one namespace as a stored PolicyProposal records them (objects, and evidence per
 * rule), for when no policy model is at hand: what the cluster's report shows as proposed.
 */
export interface ProposedNamespace {
  readonly namespace: string;
  /** Policy objects in the proposal (default deny included). */
  readonly policies: number;
  /** The workload (peer key) each policy selects, with the labels it selects it by. */
  readonly workloads: readonly { readonly workload: string; readonly policy: string; readonly matchLabels: Readonly<Record<string, string>> }[];
  readonly rules: readonly ProposedRule[];
  /** Workloads (peer keys) with traffic that got no policy, and why. */
  readonly skipped: readonly { readonly workload: string; readonly reason: string }[];
  /** Rules left out: the workload (peer key), the direction, the peer (peer key), why. */
  readonly droppedRules: readonly { readonly workload: string; readonly direction: 'ingress' | 'egress'; readonly peer: string; readonly reason: string }[];
}

/**
 * An edge the enforced policies denied: counted by the safety net (status.enforcement.denied; the
 * edge is shown as denied), or only marked in the shown proposal's evidence (`proposed`).
 */
export interface DeniedEnforcedEdge extends EdgeIdentity {
  readonly count: number;
  /** Epoch milliseconds. */
  readonly firstDenied?: number;
  readonly lastDenied?: number;
  readonly rolledBack?: boolean;
  /** The proposal shown proposes it (marked "denied N times since … while enforced"). */
  readonly proposed?: boolean;
}

/** A workload the learning window could not have seen (src/domain/coverage.ts). */
export interface CoverageGap {
  readonly namespace: string;
  /** Peer key of the workload (`wl:<ns>/<Kind>/<name>`). */
  readonly workload: string;
  readonly reason: string;
  readonly message: string;
}

/** A rollback of enforced policies (status.enforcement.rolledBack). */
export interface RollbackFact {
  readonly namespace: string;
  readonly proposal: string;
  readonly at: string;
  /** Peer keys. */
  readonly workloads: readonly string[];
  readonly policies: readonly string[];
}

export interface ReportInput {
  /** The learned graph (nodes: workloads and entities; edges: allowed connections with evidence). */
  readonly graph: TrafficGraph;
  /** The generated (proposed) policies: their model carries the evidence behind every rule. */
  readonly generated: readonly GeneratedNamespace[];
  /** Proposed policies as stored PolicyProposals record them (in addition to `generated`). */
  readonly proposed?: readonly ProposedNamespace[];
  readonly flavor: Flavor;
  readonly title?: string;
  /** Where the data came from, shown under the title. */
  readonly source?: string;
  readonly stats?: ReportStats;
  /** What live policies allow. Absent: the live state is unknown and no edge is shown as enforced. */
  readonly enforced?: readonly EnforcedEdge[];
  /** Observed flows the policies would deny. Edges not in the graph are added to it. */
  readonly wouldDeny?: readonly WouldDenyEdge[];
  /** Edges the enforced policies denied (the safety net). Edges not in the graph are added to it. */
  readonly denied?: readonly DeniedEnforcedEdge[];
  /** What the learning window could not have seen; absent when unknown. */
  readonly coverage?: readonly CoverageGap[];
  readonly rollbacks?: readonly RollbackFact[];
}
