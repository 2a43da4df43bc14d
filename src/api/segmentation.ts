/**
 * `Segmentation` (hivewall.dev/v1alpha1, namespaced, one per namespace): the operator's contract
 * with a namespace. The zod schema is the single source of truth; `crds/` is generated from it.
 */
import { z } from 'zod';
import { DURATION_PATTERN } from './duration.js';
import { DEFAULT_MAX_DENIED, DEFAULT_ROLLBACK_WINDOW } from '../domain/denials.js';
import { API_VERSION, conditionSchema, labelSelectorSchema, objectMetaSchema } from './meta.js';

const duration = (fallback: string, description: string) =>
  z.string().regex(new RegExp(DURATION_PATTERN), 'a duration such as 90s, 15m, 1h30m').default(fallback).describe(description);

export const segmentationSpecSchema = z
  .object({
    mode: z
      .enum(['Learn', 'Audit', 'Enforce'])
      .default('Learn')
      .describe('How far hivewall takes the namespace: Learn (propose only), Audit (evaluate the approved policies against live traffic), Enforce (apply them once the audit is clean). Back to Learn removes every policy hivewall owns here.'),
    flavor: z.enum(['NetworkPolicy', 'CiliumNetworkPolicy']).default('NetworkPolicy').describe('Which policy API to generate.'),
    learning: z
      .object({
        window: duration('24h', 'Learn for at least this long before proposing.'),
        stableFor: duration('1h', 'Propose only after no new edge appeared for this long.'),
        minFlowsPerEdge: z.number().int().min(1).default(1).describe('Edges seen fewer times are left out of proposals (noise).'),
        requireCoverage: z.boolean().default(false).describe('Propose only when the window could have seen every workload (the proposal\'s coverage list is empty): no CronJob that did not run, no workload scaled to zero, created late or never seen in a flow.'),
      })
      .prefault({})
      .describe('The learning window and when the graph counts as stable.'),
    workloads: z
      .object({
        selector: labelSelectorSchema.optional().describe('Only pods matching this selector get policies of their own (default: all pods of the namespace). The namespace\'s default deny still selects every pod: traffic of the others is denied, and each of them with observed traffic is listed in the proposal\'s skipped items.'),
        exclude: z
          .array(z.object({ kind: z.string(), name: z.string() }))
          .default([])
          .describe('Workloads (top owners, e.g. Deployment/name) that never get a policy of their own. The namespace\'s default deny still selects their pods, so their traffic is denied; the proposal lists each such workload with observed traffic in its skipped items.'),
      })
      .prefault({}),
    allow: z
      .object({
        dns: z.boolean().default(true).describe('Keep name resolution working: the observed DNS servers on 53/UDP and 53/TCP.'),
        kubeApiserver: z.boolean().default(false).describe('Let every segmented workload reach the kube-apiserver, observed or not.'),
        publicIngress: z.boolean().default(true).describe('Workloads behind a LoadBalancer or NodePort Service that were reached from the world accept 0.0.0.0/0 on the serving port.'),
      })
      .prefault({}),
    egress: z
      .object({ external: z.enum(['FQDN', 'CIDR']).default('FQDN').describe('External peers by DNS name when known (Cilium toFQDNs) or always by address.') })
      .prefault({}),
    promotion: z
      .object({
        requireApproval: z.boolean().default(true).describe('A reviewer must approve a proposal before it is audited or enforced.'),
        auditPeriod: duration('1h', 'How long the approved policies are audited against live traffic before Enforce applies them.'),
        allowedWouldDeny: z.number().int().min(0).default(0).describe('Promotion to Enforce is refused while more live flows than this would be denied.'),
      })
      .prefault({}),
    enforcement: z
      .object({
        rollback: z
          .object({
            maxDenied: z.number().int().min(-1).default(DEFAULT_MAX_DENIED).describe('Roll back once more than this many connections were denied by the enforced policies within the window; -1 never rolls back.'),
            window: duration(DEFAULT_ROLLBACK_WINDOW, 'The sliding window the denied connections are counted in.'),
          })
          .prefault({})
          .describe('The safety net while enforcing: past the budget, the policies of the workloads whose traffic was denied are removed (delivery Apply) until a new proposal is approved.'),
      })
      .prefault({}),
    delivery: z.enum(['Apply', 'GitOps']).default('Apply').describe('Apply: hivewall applies and keeps the policies. GitOps: hivewall never writes policies and reports whether the live ones match the approved proposal.'),
    revisionHistoryLimit: z.number().int().min(0).default(10).describe('Proposals nobody reviewed that a newer revision superseded are kept up to this many, the newest first; older ones are deleted. Reviewed proposals (a decision, a reviewer or a comment) and the approved one are always kept.'),
  })
  .describe('What hivewall should do for this namespace.');

export const wouldDenySampleSchema = z.object({
  time: z.string(),
  client: z.string(),
  server: z.string(),
  port: z.number().int(),
  protocol: z.string(),
  count: z.number().int(),
  /** The client and server as hivewall's peer keys (`wl:<ns>/<Kind>/<name>`, `en:<entity>[:<ip>]`), when known. */
  clientKey: z.string().optional(),
  serverKey: z.string().optional(),
});

export const deniedEdgeSchema = z.object({
  client: z.string().describe('Peer key of the client (`wl:<ns>/<Kind>/<name>`, `en:<entity>[:<ip>]`).'),
  server: z.string(),
  port: z.number().int(),
  protocol: z.string(),
  count: z.number().int(),
  firstDenied: z.string(),
  lastDenied: z.string(),
});

export const rolledBackSchema = z.object({
  proposal: z.string().describe('The approved proposal whose policies were rolled back; a newer approved proposal ends the rollback.'),
  at: z.string(),
  workloads: z.array(z.string()).describe('Workloads (peer keys) whose policies were removed.'),
  policies: z.array(z.string()).describe('Names of the policies removed (and kept away until a new approval).'),
});

export const segmentationStatusSchema = z.object({
  observedGeneration: z.number().int().optional(),
  phase: z.enum(['Learning', 'Proposed', 'Approved', 'Auditing', 'Enforcing', 'Invalid', 'Degraded']).optional(),
  conditions: z.array(conditionSchema).optional(),
  learning: z
    .object({
      windowStart: z.string().optional(),
      flows: z.number().int().optional(),
      edges: z.number().int().optional(),
      lastNewEdge: z.string().optional(),
      lostEvents: z.number().int().optional(),
      refusedEdges: z.number().int().optional().describe('New edges of this namespace not learned because the operator\'s edge limit was reached.'),
    })
    .optional(),
  proposal: z.object({ name: z.string(), revision: z.number().int(), decision: z.string().optional() }).optional(),
  approvedProposal: z.string().optional(),
  audit: z
    .object({
      since: z.string().optional(),
      flows: z.number().int().optional(),
      wouldDeny: z.number().int().optional(),
      samples: z.array(wouldDenySampleSchema).optional(),
    })
    .optional(),
  enforcement: z
    .object({
      policies: z.number().int().optional(),
      lastApplied: z.string().optional(),
      inSync: z.boolean().optional(),
      driftReverted: z.number().int().optional(),
      denied: z.array(deniedEdgeSchema).optional().describe('Edges the enforced policies denied (Hubble POLICY_DENIED drops, connections left SYN_SENT unanswered), most denied first.'),
      rolledBack: rolledBackSchema.optional(),
    })
    .optional(),
});

export const segmentationSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Segmentation'),
  metadata: objectMetaSchema,
  spec: segmentationSpecSchema,
  status: segmentationStatusSchema.optional(),
});

export type SegmentationSpec = z.output<typeof segmentationSpecSchema>;
export type SegmentationStatus = z.infer<typeof segmentationStatusSchema>;
export type Segmentation = z.output<typeof segmentationSchema>;
export type DeniedEdgeStatus = z.infer<typeof deniedEdgeSchema>;
export type RolledBackStatus = z.infer<typeof rolledBackSchema>;
