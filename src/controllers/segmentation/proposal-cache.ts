/**
 * Each PolicyProposal object a reconcile reads, parsed and judged once. A proposal's content is
 * immutable (CEL on the CRD) and the informer replaces its object on any change (a review, a
 * status patch), so parsing the schema and hashing the content for the approval check
 * (src/domain/approval.ts `contentDigest`: about 13 ms for a revision of 2,000 edges) is done once
 * per object version, not for every revision on every reconcile of its namespace. Objects read
 * from the API server (before the informer has synced) are new each time and simply miss.
 *
 * The results are shared by later reconciles, so they are deep-frozen: code that tried to change
 * one would throw rather than alter what the next reconcile sees.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { policyProposalSchema, type PolicyProposal } from '../../api/policy-proposal.js';
import type { ApprovalCandidate } from '../../domain/approval.js';
import { approvalCandidate } from './approval-facts.js';

export interface ReadProposal {
  readonly proposal: PolicyProposal;
  /** The proposal as the approval rules judge it (its content digest computed). */
  readonly candidate: ApprovalCandidate;
}

/** `null`: the object does not parse as a PolicyProposal (it is then ignored, as before). */
const memo = new WeakMap<KubernetesObject, ReadProposal | null>();

/** The proposals among `raw` that parse, each with its approval candidate. */
export function readProposals(raw: readonly KubernetesObject[]): ReadProposal[] {
  const out: ReadProposal[] = [];
  for (const object of raw) {
    let read = memo.get(object);
    if (read === undefined) {
      const parsed = policyProposalSchema.safeParse(object);
      read = parsed.success ? deepFreeze({ proposal: parsed.data, candidate: approvalCandidate(parsed.data) }) : null;
      memo.set(object, read);
    }
    if (read !== null) out.push(read);
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return Object.freeze(value);
}
