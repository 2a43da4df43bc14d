/**
 * `PolicyProposal` (hivewall.dev/v1alpha1, namespaced, written by the operator): the exact objects
 * hivewall would apply, the evidence behind every rule, the diff against what is live, and a
 * review section a human fills in. `spec.content` is immutable (enforced by the API server with
 * CEL); a new graph makes a new revision. Who may write `spec.review` is enforced by the
 * ValidatingAdmissionPolicy in deploy/.
 */
import { z } from 'zod';
import { API_VERSION, objectMetaSchema } from './meta.js';

export const evidenceSchema = z.object({
  client: z.string(),
  server: z.string(),
  port: z.number().int(),
  protocol: z.string(),
  count: z.number().int(),
  firstSeen: z.string(),
  lastSeen: z.string(),
  denied: z
    .object({
      count: z.number().int(),
      since: z.string(),
      note: z.string().describe('"denied N times since <time> while enforced"'),
    })
    .optional()
    .describe('Set when enforced policies denied this edge: it is proposed so a reviewer can allow it, never allowed without approval.'),
});

export const coverageSchema = z.object({
  workload: z.string().describe('The workload (`<ns>/<Kind>/<name>`).'),
  reason: z.enum(['CronJobDidNotRun', 'CronJobPeriodLongerThanWindow', 'ScaledToZero', 'CreatedLate', 'NoFlows']),
  message: z.string(),
});

export const ruleEvidenceSchema = z.object({
  policy: z.string().describe('Name of the policy object the rule belongs to.'),
  direction: z.enum(['ingress', 'egress']),
  index: z.number().int().describe('Position of the rule in the policy\'s ingress or egress list.'),
  peer: z.string().describe('The peer the rule allows (workload, world address, entity).'),
  ports: z.array(z.string()),
  allowance: z.string().optional().describe('Set when the rule allows more than was observed because the Segmentation asked for it (dns, public-ingress).'),
  edges: z.array(evidenceSchema),
});

/** A workload with no policy, or one rule of its policy, that a proposal leaves out. */
export const leftOutSchema = z.object({
  workload: z.string().describe('Peer key of the workload (`wl:<ns>/<Kind>/<name>`).'),
  direction: z.enum(['ingress', 'egress']).optional().describe('Set when one rule was left out, not the whole workload.'),
  peer: z.string().optional().describe('Peer key of the left-out rule\'s peer.'),
  reason: z.string(),
});

export const proposalContentSchema = z
  .object({
    segmentation: z.string(),
    revision: z.number().int().min(1),
    flavor: z.enum(['NetworkPolicy', 'CiliumNetworkPolicy']),
    digest: z.string().describe('sha256 of the objects, to tell revisions apart.'),
    objects: z.array(z.looseObject({})).meta({ 'x-kubernetes-preserve-unknown-fields': true }).describe('The exact objects hivewall applies.'),
    evidence: z.array(ruleEvidenceSchema),
    diff: z.object({
      added: z.array(z.string()).default([]),
      changed: z.array(z.string()).default([]),
      removed: z.array(z.string()).default([]),
      unified: z.string().default('').describe('Unified diff of the YAML against the live policies when the proposal was written.'),
    }),
    skipped: z.array(z.string()).default([]).describe('Workloads or rules left out, with why (no unique selector, ICMP), as a reviewer reads them.'),
    leftOut: z.array(leftOutSchema).default([]).describe('The same as `skipped`, as peer keys: for tools (the report).'),
    coverage: z.array(coverageSchema).default([]).describe('What the learning window could not have seen: workloads whose traffic may be missing from this proposal.'),
  })
  .meta({ 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'proposal content is immutable; a new graph makes a new revision' }] });

export const reviewSchema = z.object({
  decision: z.enum(['Pending', 'Approved', 'Rejected']).default('Pending'),
  reviewer: z.string().optional().describe('The Kubernetes user who decided; the API server checks it is the requesting user.'),
  comment: z.string().optional(),
  reviewedAt: z.string().optional(),
  proposalUID: z.string().optional().describe('The uid of the proposal the reviewer decided on; the admission policy requires it to be this object\'s uid.'),
  contentDigest: z.string().optional().describe('The spec.contentDigest the reviewer decided on; the admission policy requires it to equal this object\'s.'),
});

export const policyProposalSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('PolicyProposal'),
  metadata: objectMetaSchema,
  spec: z
    .object({
      content: proposalContentSchema,
      contentDigest: z
        .string()
        .regex(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 hex digits>')
        .optional()
        .describe('sha256 of the canonical spec.content, written by the operator at creation; immutable. A review pins it.'),
      review: reviewSchema.prefault({}),
    })
    .meta({ 'x-kubernetes-validations': [{ rule: 'has(self.contentDigest) == has(oldSelf.contentDigest) && (!has(self.contentDigest) || self.contentDigest == oldSelf.contentDigest)', message: 'spec.contentDigest is immutable' }] }),
  status: z
    .object({
      phase: z.enum(['Pending', 'Approved', 'Rejected', 'Superseded', 'Auditing', 'Enforced']).optional(),
      message: z.string().optional(),
    })
    .optional(),
});

export type PolicyProposal = z.output<typeof policyProposalSchema>;
export type ProposalContent = z.output<typeof proposalContentSchema>;
export type RuleEvidence = z.output<typeof ruleEvidenceSchema>;
export type CoverageWarning = z.output<typeof coverageSchema>;
