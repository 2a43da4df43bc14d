/**
 * The Segmentation reconcile's safety net, kept apart from the reconcile so it plugs in at a few
 * call sites (reconciler.ts):
 *
 * - {@link deniedEdges}: the edges enforced policies denied, for the next proposal (counted by the
 *   operator's DenialRegistry; after a restart, as stored in status; and those an approved
 *   proposal already carried, so a reviewed denied edge stays proposed).
 * - {@link coverageOf}: what the learning window could not have seen (src/domain/coverage.ts).
 * - {@link safetyInputs}: what decide() needs: the denials of the enforced proposal and how to
 *   name the policies a rollback removes.
 * - {@link trackEnforcement}: after decide(), tells the registry which proposal the Segmentation
 *   now enforces (or that it enforces nothing), so denials are counted only while enforced.
 *
 * The enforced proposal is the approved one, or while that one is audited, the earlier one still
 * enforced (./enforced.ts).
 */
import type { PolicyProposal } from '../../api/policy-proposal.js';
import { parseDuration } from '../../api/duration.js';
import type { Segmentation, SegmentationStatus } from '../../api/segmentation.js';
import { coverageWarnings, type CoverageWarning } from '../../domain/coverage.js';
import { edgeId, knownClientsOf, rollbackPolicyNames, type DeniedEdge } from '../../domain/denials.js';
import type { EdgeRecord } from '../../domain/edge-store.js';
import type { Protocol } from '../../domain/flow.js';
import type { ControllerInfo } from '../../domain/inventory.js';
import type { DenialRegistry, DenialView } from '../../operator/denial-registry.js';
import type { DecideInput } from './decide.js';
import { parsePeerKey } from '../../domain/peer.js';

const iso = (ms: number) => new Date(ms).toISOString();
const PROTOCOLS = new Set<string>(['TCP', 'UDP', 'SCTP', 'ICMPv4', 'ICMPv6']);

/** The rolled-back policy names of the enforced proposal, from status (empty when none). */
export function rolledBackPolicies(status: SegmentationStatus | undefined, enforced: PolicyProposal | undefined): string[] {
  const rolledBack = status?.enforcement?.rolledBack;
  return enforced && rolledBack?.proposal === enforced.metadata.name ? rolledBack.policies : [];
}

/** Whether a proposal's evidence proposes edges that enforced policies denied. */
export function proposesDenied(p: PolicyProposal): boolean {
  return p.spec.content.evidence.some((r) => r.edges.some((e) => e.denied !== undefined));
}

/**
 * The denied edges the next proposal must contain (marked in its evidence): those stored in status
 * and counted for the enforced proposal, and those the reviewed proposals (the approved one, the
 * one still enforced while it is audited) already carried.
 */
export function deniedEdges(view: DenialView | undefined, stored: readonly DeniedEdge[], reviewed: readonly (PolicyProposal | undefined)[]): DeniedEdge[] {
  const out = new Map<string, DeniedEdge>();
  const add = (e: DeniedEdge) => {
    const id = edgeId(e);
    const known = out.get(id);
    if (!known || known.count < e.count) out.set(id, e);
  };
  for (const e of stored) add(e);
  for (const e of view?.edges ?? []) add(e);
  for (const p of reviewed) for (const e of evidenceDenied(p)) add(e);
  return [...out.values()].sort((a, b) => (edgeId(a) < edgeId(b) ? -1 : 1));
}

/** A denied edge the reviewer already approved stays proposed (and marked) in later revisions. */
function evidenceDenied(p: PolicyProposal | undefined): DeniedEdge[] {
  const out: DeniedEdge[] = [];
  const add = (e: DeniedEdge) => out.push(e);
  for (const rule of p?.spec.content.evidence ?? []) {
    for (const e of rule.edges) {
      const client = parsePeerKey(e.client);
      const server = parsePeerKey(e.server);
      if (!e.denied || !PROTOCOLS.has(e.protocol) || !client || !server) continue;
      const since = Date.parse(e.denied.since);
      add({ client, server, port: e.port, protocol: e.protocol as Protocol, count: e.denied.count, firstDenied: since, lastDenied: Date.parse(e.lastSeen) || since });
    }
  }
  return out;
}

/**
 * status.enforcement.denied as domain edges, when it belongs to `proposal`: the status's `owner`
 * (the proposal held while a newer approval is audited, else status.approvedProposal) is it.
 */
export function storedDenied(status: SegmentationStatus | undefined, proposal: string | undefined, owner = status?.approvedProposal): DeniedEdge[] {
  if (!proposal || owner !== proposal) return [];
  return (status?.enforcement?.denied ?? []).flatMap((e) => {
    const client = parsePeerKey(e.client);
    const server = parsePeerKey(e.server);
    return PROTOCOLS.has(e.protocol) && client && server
      ? [{ client, server, port: e.port, protocol: e.protocol as Protocol, count: e.count, firstDenied: Date.parse(e.firstDenied), lastDenied: Date.parse(e.lastDenied) }]
      : [];
  });
}

/** The coverage warnings of the namespace's learning window. */
export function coverageOf(seg: Segmentation, controllers: readonly ControllerInfo[], edges: readonly EdgeRecord[], now: number): CoverageWarning[] {
  const namespace = seg.metadata.namespace!;
  const seen = new Set<string>();
  for (const e of edges) {
    seen.add(e.client);
    seen.add(e.server);
  }
  const windowStart = seg.status?.learning?.windowStart ? Date.parse(seg.status.learning.windowStart) : now;
  return coverageWarnings({
    namespace,
    controllers,
    seen,
    windowStart: Number.isNaN(windowStart) ? now : windowStart,
    now,
    windowMs: parseDuration(seg.spec.learning.window) ?? 0,
    exclude: seg.spec.workloads.exclude,
    formatTime: iso,
  });
}

/** decide()'s view of the denials of the enforced proposal, and how a rollback names its policies. */
export function safetyInputs(namespace: string, view: DenialView | undefined, enforced: PolicyProposal | undefined): Pick<DecideInput, 'denials' | 'rollbackPolicies'> {
  if (!enforced) return {};
  const objects = enforced.spec.content.objects as unknown as { metadata: { name: string; annotations?: Record<string, string> } }[];
  return {
    rollbackPolicies: (workloads) => rollbackPolicyNames(objects, namespace, workloads),
    ...(view && view.proposal === enforced.metadata.name
      ? {
          denials: {
            namespace,
            proposal: view.proposal,
            crossed: view.crossed,
            inWindow: view.inWindow,
            edges: view.edges.map((e) => ({ client: e.client, server: e.server, port: e.port, protocol: e.protocol, count: e.count, firstDenied: iso(e.firstDenied), lastDenied: iso(e.lastDenied) })),
            recent: view.recent,
          },
        }
      : {}),
  };
}

/**
 * After decide(): count denials while (and only while) the Segmentation enforces a proposal —
 * `enforced`, the one decide() enforces (Decision.enforced); `status` is the one it wrote, whose
 * denied edges are that proposal's. Releasing is scoped to this Segmentation: a reconcile of
 * another one in the namespace never resets its count. The clients `enforced`'s evidence shows
 * for each server are the known peers whose denied ingress counts towards the rollback budget
 * (src/domain/denials.ts countsTowardsRollback).
 */
export function trackEnforcement(registry: DenialRegistry | undefined, seg: Segmentation, status: SegmentationStatus, enforced: PolicyProposal | undefined): void {
  if (!registry) return;
  const namespace = seg.metadata.namespace!;
  if (!enforced) {
    registry.release(namespace, seg.metadata.name);
    return;
  }
  const excluded = new Set(rolledBackPolicies(status, enforced));
  registry.enforce(namespace, {
    segmentation: seg.metadata.name,
    proposal: enforced.metadata.name,
    budget: { maxDenied: seg.spec.enforcement.rollback.maxDenied, windowMs: parseDuration(seg.spec.enforcement.rollback.window) ?? 300_000 },
    policies: enforced.spec.content.objects.map((o) => (o as { metadata?: { name?: string } }).metadata?.name ?? '').filter((n) => n !== '' && !excluded.has(n)),
    stored: storedDenied(status, enforced.metadata.name, enforced.metadata.name),
    knownClients: knownClientsOf(enforced.spec.content.evidence),
  });
}
