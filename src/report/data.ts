/**
 * The JSON document a report embeds (`<script type="application/json" id="hivewall-data">`) and
 * its browser code reads. Plain data only, no imports: this file is compiled both for Node (the
 * renderer) and for the browser bundle. Times are RFC 3339 strings in UTC, so the document reads
 * the same in every time zone and the same input gives the same bytes.
 */

/** How an observed edge stands against policies, in the order the report ranks them. */
export type EdgeStatus = 'would-deny' | 'enforced' | 'proposed' | 'unmanaged';

export const EDGE_STATUSES: readonly EdgeStatus[] = ['proposed', 'enforced', 'would-deny', 'unmanaged'];

export interface ReportData {
  readonly version: 1;
  readonly title: string;
  /** Where the data came from (flow files, cluster), free text. */
  readonly source?: string;
  /** `NetworkPolicy` or `CiliumNetworkPolicy`. */
  readonly policyKind: string;
  /** The learning window: first and last learned flow. */
  readonly window?: { readonly first: string; readonly last: string };
  readonly summary: ReportSummary;
  readonly namespaces: readonly ReportNamespace[];
  readonly nodes: readonly ReportNode[];
  readonly edges: readonly ReportEdge[];
  /**
   * What the learning window could not have seen (a proposal's `spec.content.coverage`): workloads
   * whose traffic may be missing from the proposed policies. Absent when unknown (no stored
   * proposal), empty when the proposal names none.
   */
  readonly coverage?: readonly ReportCoverage[];
  /** Enforced policies removed by the safety net after denials (a Segmentation's `status.enforcement.rolledBack`). */
  readonly rollbacks?: readonly ReportRollback[];
}

export interface ReportCoverage {
  readonly namespace: string;
  /** `shop/CronJob/report`. */
  readonly workload: string;
  /** The workload's node id, when it is on the graph. */
  readonly node?: string;
  /** `CronJobDidNotRun`, `CronJobPeriodLongerThanWindow`, `ScaledToZero`, `CreatedLate`, `NoFlows`. */
  readonly reason: string;
  readonly message: string;
}

export interface ReportRollback {
  readonly namespace: string;
  /** The approved proposal whose policies were rolled back. */
  readonly proposal: string;
  readonly at: string;
  /** Workloads whose policies were removed (`shop/Deployment/cart`). */
  readonly workloads: readonly string[];
  readonly policies: readonly string[];
}

export interface ReportSummary {
  readonly workloads: number;
  readonly entities: number;
  readonly edges: number;
  readonly byStatus: Readonly<Record<EdgeStatus, number>>;
  /** Generated policy objects (one default deny per namespace plus one per workload). */
  readonly policies: number;
  /** Flows read, when known. */
  readonly flows?: number;
  /** Connections learned (flows that counted on an edge), when known. */
  readonly connections?: number;
  /** Events the flow source reported lost, when known. */
  readonly lostEvents?: number;
  /** Workloads with traffic that got no policy, with the reason. */
  readonly skipped: readonly { readonly workload: string; readonly reason: string }[];
  /** Edges the enforced policies denied (ReportEdge.denied), when any. */
  readonly denied?: number;
}

export interface ReportNamespace {
  readonly name: string;
  readonly color: string;
  /** Policies were generated for this namespace. */
  readonly inScope: boolean;
  readonly workloads: number;
}

export interface ReportNode {
  /** Element id in the page (`n0`, `n1`, …). */
  readonly id: string;
  /** hivewall peer key (`wl:<ns>/<Kind>/<name>`, `en:<entity>[:<ip>]`). */
  readonly key: string;
  readonly type: 'workload' | 'entity';
  /** Short label drawn on the graph. */
  readonly label: string;
  /** Full name: `shop/Deployment/cart`, `world 203.0.113.5`. */
  readonly title: string;
  readonly namespace?: string;
  readonly kind?: string;
  readonly name?: string;
  readonly entity?: string;
  readonly ip?: string;
  /** DNS names of a world peer. */
  readonly names: readonly string[];
  readonly x: number;
  readonly y: number;
  /** The generated policy that selects this workload, if any. */
  readonly policy?: { readonly namespace: string; readonly name: string; readonly matchLabels: Readonly<Record<string, string>> };
  /** Why the workload got no policy. */
  readonly skipped?: string;
}

/** A policy rule that allows (or, for would-deny, fails to allow) one side of an edge. */
export interface ReportRuleRef {
  readonly namespace: string;
  readonly policy: string;
  readonly direction: 'ingress' | 'egress';
  /** 1-based position of the rule in the policy model of that direction, when known. */
  readonly rule?: number;
  /** `from podSelector app=frontend on 8080/TCP`, … */
  readonly description: string;
  readonly allowance?: string;
}

export interface ReportEdge {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  readonly port: number;
  readonly protocol: string;
  readonly status: EdgeStatus;
  /**
   * How far the drawn edge bends (graph units, perpendicular at its middle) to stay clear of
   * other nodes and of parallel edges; 0 is straight.
   */
  readonly bend: number;
  /** Connections counted on the learned edge (0 when only denied flows were seen). */
  readonly count: number;
  readonly firstSeen?: string;
  readonly lastSeen?: string;
  /** Rules of the generated policies that allow this edge. */
  readonly proposed: readonly ReportRuleRef[];
  /** Rules of the live policies that allow it; absent when the live state is unknown. */
  readonly enforced?: readonly ReportRuleRef[];
  /** Observed flows the policies would deny. */
  readonly wouldDeny?: {
    readonly count: number;
    readonly reasons: readonly string[];
    readonly firstSeen?: string;
    readonly lastSeen?: string;
  };
  /** Sides of the edge that an in-scope policy should allow but no rule does, with the reason. */
  readonly gaps: readonly string[];
  /**
   * Connections the *enforced* policies denied on this edge (the safety net's count; a follow-up
   * proposal marks it in its evidence). Such an edge is never allowed without a reviewer.
   */
  readonly denied?: {
    readonly count: number;
    readonly since?: string;
    readonly last?: string;
    /** The denying side's policy was rolled back. */
    readonly rolledBack: boolean;
    /** The proposal shown proposes to allow it (marked in its evidence for review). */
    readonly proposed: boolean;
  };
}
