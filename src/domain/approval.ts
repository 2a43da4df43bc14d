/**
 * Which PolicyProposal of a Segmentation is approved — the one rule the operator follows before it
 * audits or applies anything, in one pure function ({@link judgeProposals}).
 *
 * A proposal counts only when all of these hold (docs/security.md, "Review and enforcement"):
 * - it belongs to the Segmentation: its controller ownerReference carries the Segmentation's uid and
 *   its immutable `spec.content.segmentation` names it (the `hivewall.dev/segmentation` label is
 *   mutable by anyone who may patch proposals, so it decides nothing);
 * - its content is what was hashed at creation: sha256 of the canonical `spec.content`
 *   ({@link contentDigest}) equals the immutable `spec.contentDigest`;
 * - it was approved for exactly this object and content: `spec.review.proposalUID` is the
 *   proposal's uid and `spec.review.contentDigest` its `spec.contentDigest` (the
 *   ValidatingAdmissionPolicy in deploy/admission-policy.yaml refuses other reviews; this is the
 *   operator's own check of the same pins);
 * - every object in it is a NetworkPolicy (networking.k8s.io/v1) or a CiliumNetworkPolicy
 *   (cilium.io/v2) of the Segmentation's own namespace (nothing else is ever applied).
 * With `promotion.requireApproval: false` a proposal that nobody rejected counts without a review,
 * but only while the waiver is signed: the `hivewall.dev/approval-waived-by` annotation names the
 * human who turned approval off (the admission policy checks it is the requesting user), and never
 * for a proposal that brings back edges its enforced policies denied: those need a reviewer.
 * Of the proposals that count, the highest revision wins.
 *
 * Upgrade: a proposal written by a hivewall from before content pinning has no
 * `spec.contentDigest`. It can be neither approved nor enforced (`LegacyProposal`, reported while
 * it is approved or still under review), because its approval cannot be tied to its content; the
 * API server keeps `spec.contentDigest` immutable, so it is never filled in afterwards. The
 * operator proposes the same content again as a new, pinned revision (decide.ts) for a reviewer.
 */
import { createHash } from 'node:crypto';
import { proposalContentSchema } from '../api/policy-proposal.js';

/** The annotation recording who set `promotion.requireApproval: false` (checked by the admission policy). */
export const APPROVAL_WAIVED_BY_ANNOTATION = 'hivewall.dev/approval-waived-by';

/** The object kinds a proposal may hold, by apiVersion/kind. */
export const APPLICABLE_KINDS: readonly string[] = ['networking.k8s.io/v1/NetworkPolicy', 'cilium.io/v2/CiliumNetworkPolicy'];

/** JSON with every object's keys sorted, recursively; arrays keep their order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** `sha256:<hex>` of the canonical JSON of a proposal's `spec.content` (after schema defaults). */
export function contentDigest(content: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(content)).digest('hex')}`;
}

/**
 * The digest of a proposal's `spec.content` as stored: parsed with the PolicyProposal schema first,
 * so defaults the API server fills in never change it. Undefined when the content is not valid.
 */
export function proposalContentDigest(content: unknown): string | undefined {
  const parsed = proposalContentSchema.safeParse(content);
  return parsed.success ? contentDigest(parsed.data) : undefined;
}

export interface ApprovalSegmentation {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly requireApproval: boolean;
  /** The `hivewall.dev/approval-waived-by` annotation, when set. */
  readonly approvalWaivedBy?: string;
}

export interface ApprovalCandidate {
  readonly name: string;
  readonly uid?: string;
  readonly revision: number;
  /** `spec.content.segmentation`. */
  readonly segmentation: string;
  /** uid of the proposal's controller ownerReference of kind Segmentation. */
  readonly ownerUid?: string;
  /** `spec.contentDigest`, written at creation. */
  readonly contentDigest?: string;
  /** {@link contentDigest} of the proposal's `spec.content` as read now. */
  readonly computedDigest: string;
  readonly decision: 'Pending' | 'Approved' | 'Rejected';
  readonly reviewer?: string;
  readonly review: { readonly proposalUID?: string; readonly contentDigest?: string };
  readonly objects: readonly { readonly apiVersion?: unknown; readonly kind?: unknown; readonly metadata?: { readonly namespace?: unknown } }[];
  /** Its evidence holds edges that enforced policies denied: only a reviewer may approve it, never the waiver. */
  readonly proposesDenied?: boolean;
  /** `status.phase` is Superseded: a newer revision replaced it before a decision. */
  readonly superseded?: boolean;
}

export type RefusalReason = 'ContentDigestMismatch' | 'ReviewNotPinned' | 'ObjectsNotApplicable' | 'LegacyProposal';

export interface Refusal {
  readonly name: string;
  readonly reason: RefusalReason;
  readonly message: string;
}

export interface ApprovalJudgement {
  /** The proposal to audit and enforce, if any. */
  readonly approved?: { readonly name: string; readonly reviewer?: string };
  /** Proposals of this Segmentation that would have counted but fail a check, with why. */
  readonly refused: readonly Refusal[];
  /** The proposals that belong to the Segmentation (by ownerReference and content), by name. */
  readonly bound: readonly string[];
}

/** Whether a proposal belongs to the Segmentation: controller ownerReference uid and `spec.content.segmentation`. */
export function boundTo(seg: ApprovalSegmentation, p: Pick<ApprovalCandidate, 'segmentation' | 'ownerUid'>): boolean {
  return p.ownerUid === seg.uid && p.segmentation === seg.name;
}

/** Why the objects may not be applied in `namespace`, or undefined when they all may. */
export function objectsNotApplicable(objects: ApprovalCandidate['objects'], namespace: string): string | undefined {
  for (const [i, o] of objects.entries()) {
    const kind = `${String(o.apiVersion)}/${String(o.kind)}`;
    if (!APPLICABLE_KINDS.includes(kind)) return `object ${i} is ${kind}: only NetworkPolicy (networking.k8s.io/v1) and CiliumNetworkPolicy (cilium.io/v2) are applied`;
    const ns = o.metadata?.namespace;
    if (ns !== undefined && ns !== namespace) return `object ${i} is in namespace ${String(ns)}: only ${namespace} is written`;
  }
  return undefined;
}

/** Decides which proposal of `seg` counts as approved (see the module comment for the rules). */
export function judgeProposals(seg: ApprovalSegmentation, proposals: readonly ApprovalCandidate[]): ApprovalJudgement {
  const bound = proposals.filter((p) => boundTo(seg, p)).sort((a, b) => b.revision - a.revision);
  const waived = !seg.requireApproval && (seg.approvalWaivedBy ?? '') !== '';
  const refused: Refusal[] = [];
  let approved: ApprovalJudgement['approved'];
  for (const p of bound) {
    const wanted = p.decision === 'Approved' || (waived && p.decision !== 'Rejected' && p.proposesDenied !== true);
    // A proposal from before content pinning is reported while it is approved or under review.
    if (p.contentDigest === undefined && (wanted || (p.decision === 'Pending' && p.superseded !== true))) {
      refused.push(legacyRefusal(p));
      continue;
    }
    if (!wanted) continue;
    const problem = proposalRefusal(seg, p, p.decision === 'Approved');
    if (problem) {
      refused.push(problem);
      continue;
    }
    approved = { name: p.name, ...(p.decision === 'Approved' && p.reviewer ? { reviewer: p.reviewer } : {}) };
    break;
  }
  return { ...(approved ? { approved } : {}), refused, bound: bound.map((p) => p.name) };
}

function legacyRefusal(p: ApprovalCandidate): Refusal {
  return {
    name: p.name,
    reason: 'LegacyProposal',
    message: `${p.name}: written by an older hivewall without spec.contentDigest, so no approval can be tied to its content: it is never enforced; its content is proposed again as a new revision for review`,
  };
}

/**
 * Why a proposal bound to `seg` may not be audited or applied (integrity, pins when `reviewed`,
 * applicable objects), or undefined. The checks {@link judgeProposals} makes on every candidate;
 * without `reviewed` they are the ones a not-yet-reviewed proposal must pass to be shown as what
 * would be applied (kubectl hivewall export --include-proposed).
 */
export function proposalRefusal(seg: ApprovalSegmentation, p: ApprovalCandidate, reviewed: boolean): Refusal | undefined {
  if (p.contentDigest === undefined) return legacyRefusal(p);
  if (p.contentDigest !== p.computedDigest) {
    return { name: p.name, reason: 'ContentDigestMismatch', message: `${p.name}: its content hashes to ${p.computedDigest}, not to its spec.contentDigest ${p.contentDigest ?? '(none)'}: not applied` };
  }
  if (reviewed && (p.uid === undefined || p.review.proposalUID !== p.uid || p.review.contentDigest !== p.contentDigest)) {
    return { name: p.name, reason: 'ReviewNotPinned', message: `${p.name}: the approval was not given to this object and content (review pins uid ${p.review.proposalUID ?? '(none)'} and ${p.review.contentDigest ?? 'no digest'}): approve it again with kubectl hivewall approve` };
  }
  const objects = objectsNotApplicable(p.objects, seg.namespace);
  if (objects) return { name: p.name, reason: 'ObjectsNotApplicable', message: `${p.name}: ${objects}: not applied` };
  return undefined;
}
