/**
 * Segmentation reconcile, level-based, for one key of the work queue (src/operator/operator.ts):
 * read the Segmentation, its proposals, the owned live policies and the learned state of its
 * namespace; decide (pure, decide.ts); apply the actions; patch status only when it changed.
 * Running it twice in a row with nothing new makes no API write. It reads only its own
 * namespace's data (and the workloads its edges reach) and never writes learned state: the store
 * loop does (src/operator/store-loop.ts).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, VERSION, API_VERSION } from '../../api/meta.js';
import { proposalContentSchema, type PolicyProposal } from '../../api/policy-proposal.js';
import { segmentationSchema, type Segmentation, type SegmentationStatus } from '../../api/segmentation.js';
import { judgeProposals } from '../../domain/approval.js';
import type { Learner } from '../../domain/learner.js';
import { comparableText, describeSkipped, edgesMissingFromNewest, type ProposalDraft } from '../../domain/proposal.js';
import { canonicalJson } from '../../domain/canonical-json.js';
import { planNamespace } from '../../domain/plan.js';
import type { Policy } from '../../domain/simulate/index.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../domain/translate/naming.js';
import type { KubernetesObject as PolicyObject } from '../../domain/translate/networkpolicy.js';
import { Kube, KubeError } from '../../k8s/kube.js';
import { AuditEngine } from '../../domain/audit.js';
import type { ClusterCache } from '../../operator/cluster-cache.js';
import { namespaceView } from '../../domain/learning-state.js';
import { approvalSegmentation, proposalContentDigest } from './approval-facts.js';
import { readProposals } from './proposal-cache.js';
import type { DenialRegistry } from '../../operator/denial-registry.js';
import { decide, proposalName, type Action, type ProposalFact } from './decide.js';
import { coverageOf, deniedEdges, rolledBackPolicies, safetyInputs, storedDenied, trackEnforcement } from './safety.js';
import { heldProposal } from './enforced.js';
import { activeSegmentation } from './active.js';
import { statusPatch } from './status-patch.js';
import { apiReads, SEGMENTATION_LABEL, type SegmentationReads } from './reads.js';

export const FINALIZER = 'hivewall.dev/cleanup';

/** Changed flow counts reach a Segmentation's status at most this often (a new edge at once). */
export const COUNTS_REFRESH_MS = 30_000;

export interface ReconcileContext {
  readonly kube: Kube;
  readonly learner: Learner;
  readonly cluster: ClusterCache;
  readonly audits: Map<string, AuditEngine>;
  readonly log: Logger;
  readonly now: () => number;
  /** Set when a flow source is failing: the Segmentation reports Degraded. */
  readonly sourceError: () => string | undefined;
  /**
   * Per Segmentation key: the flow count its status shows and since when. Counts alone refresh
   * the status at most every COUNTS_REFRESH_MS; a new edge shows at once.
   */
  readonly countsShown?: Map<string, { readonly flows: number; readonly edges: number; readonly at: number }>;
  /** Where the Segmentation, its proposals and the live policies are read (default: the API server). */
  readonly reads?: SegmentationReads;
  /** Denials of enforced policies, per namespace (the safety net, ./safety.ts). */
  readonly denials?: DenialRegistry;
}

/** The context's reads, or the API server's. */
const readsOf = (ctx: ReconcileContext): SegmentationReads => ctx.reads ?? apiReads(ctx.kube);
const iso = (ms: number) => new Date(ms).toISOString();

/** What a reconcile observed, for metrics. */
export interface ReconcileReport {
  readonly namespace: string;
  readonly phase: string;
  readonly edges: number;
  readonly wouldDeny: number;
  readonly policies: number;
  readonly flavor: string;
}

/**
 * What a reconcile asks of the queue: look again after `requeueAfter`; or, `settled`, nothing until
 * the object changes (it is gone, invalid or being deleted: a watch event brings it back).
 */
export interface ReconcileOutcome {
  readonly requeueAfter?: number;
  readonly settled?: boolean;
  readonly report?: ReconcileReport;
}

/** Drops the namespace's audit engine and denial count when they belong to Segmentation `name`. */
function releaseNamespaceState(ctx: ReconcileContext, namespace: string, name: string): void {
  if (ctx.audits.get(namespace)?.segmentation === name) ctx.audits.delete(namespace);
  ctx.denials?.release(namespace, name);
}

export async function reconcileSegmentation(ctx: ReconcileContext, namespace: string, name: string): Promise<ReconcileOutcome> {
  const { kube } = ctx;
  const reads = readsOf(ctx);
  const raw = await reads.segmentation(namespace, name);
  if (!raw) {
    // Only this Segmentation's own state: a key for a name that never existed (an owned object's
    // ownerReference can name anything) must not reset the namespace's real Segmentation.
    ctx.countsShown?.delete(`${namespace}/${name}`);
    releaseNamespaceState(ctx, namespace, name);
    return { settled: true };
  }
  const parsed = segmentationSchema.safeParse(raw);
  if (!parsed.success) {
    const message = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).slice(0, 3).join('; ');
    await invalid(ctx, raw, message);
    return { settled: true };
  }
  const seg = parsed.data;
  const active = activeSegmentation(await segmentationsOf(reads, namespace, raw));
  if (active !== name) return duplicate(ctx, raw, seg, active ?? name);
  if (seg.metadata.deletionTimestamp) {
    releaseNamespaceState(ctx, namespace, name);
    await deleteOwned(ctx, namespace);
    if (seg.metadata.finalizers?.includes(FINALIZER)) {
      await kube.mergePatch(raw, { metadata: { finalizers: seg.metadata.finalizers.filter((f) => f !== FINALIZER), resourceVersion: seg.metadata.resourceVersion } });
    }
    return { settled: true };
  }
  if (!seg.metadata.finalizers?.includes(FINALIZER)) {
    await kube.mergePatch(raw, { metadata: { finalizers: [...(seg.metadata.finalizers ?? []), FINALIZER], resourceVersion: seg.metadata.resourceVersion } });
  }

  const now = ctx.now();
  const view = namespaceView(ctx.learner, namespace);
  const flavor = seg.spec.flavor;
  const owned = await reads.owned(flavor, namespace);
  // The other flavor's leftovers (after a flavor change) are removed on apply; the CRD may be absent.
  const ownedOther = await reads.owned(flavor === 'NetworkPolicy' ? 'CiliumNetworkPolicy' : 'NetworkPolicy', namespace).catch(() => []);
  const read = readProposals(await reads.proposals(namespace, name));
  const proposals = read.map((r) => r.proposal);

  // Only proposals bound to this Segmentation (ownerReference + spec.content.segmentation) count.
  const judgement = judgeProposals(approvalSegmentation(seg), read.map((r) => r.candidate));
  const approved = proposals.find((p) => p.metadata.name === judgement.approved?.name);
  // While a newer approval is audited, the proposal enforced before stays enforced (./enforced.ts).
  const held = heldProposal(seg, read, approved?.metadata.name);
  const enforcedBefore = held ?? approved;
  const denialView = enforcedBefore ? ctx.denials?.view(namespace, enforcedBefore.metadata.name) : undefined;
  const stored = storedDenied(seg.status, enforcedBefore?.metadata.name, held?.metadata.name ?? seg.status?.approvedProposal);
  const denied = deniedEdges(denialView, stored, [approved, held]);
  const identity = ctx.cluster.identity;
  const draft: ProposalDraft | undefined = view.edges.length === 0 && denied.length === 0 ? undefined : planNamespace({
    namespace,
    spec: {
      flavor,
      minFlowsPerEdge: seg.spec.learning.minFlowsPerEdge,
      ...(seg.spec.workloads.selector ? { selector: seg.spec.workloads.selector } : {}),
      exclude: seg.spec.workloads.exclude,
      allowDns: seg.spec.allow.dns,
      allowPublicIngress: seg.spec.allow.publicIngress,
      allowKubeApiserver: seg.spec.allow.kubeApiserver,
      externalBy: seg.spec.egress.external,
    },
    edges: view.edges,
    identity,
    observed: ctx.learner,
    dnsNames: ctx.learner.dnsNames,
    facts: ctx.cluster.clusterFacts,
    live: owned as PolicyObject[],
    formatTime: iso,
    denied,
  });
  const coverage = coverageOf(seg, identity.controllersIn(namespace), view.edges, now);

  const facts: ProposalFact[] = proposals.filter((p) => judgement.bound.includes(p.metadata.name)).map((p) => ({
    name: p.metadata.name,
    revision: p.spec.content.revision,
    digest: p.spec.content.digest,
    decision: p.spec.review.decision,
    ...(p.spec.review.reviewer ? { reviewer: p.spec.review.reviewer } : {}),
    ...(p.status?.phase ? { phase: p.status.phase } : {}),
    ...(isUntouched(p) ? { untouched: true } : {}),
  }));
  const audit = approved ? ctx.audits.get(namespace) : undefined;
  const auditFacts = audit && audit.proposal === approved?.metadata.name ? { flows: audit.flows, wouldDeny: audit.wouldDeny, samples: audit.sampleList() } : undefined;
  const excluded = new Set(rolledBackPolicies(seg.status, enforcedBefore));
  // Both flavors' live policies against the enforced proposal's own objects (of the flavor it was
  // proposed in): a changed spec.flavor alone changes nothing live until a new proposal is enforced.
  const live = [...owned, ...ownedOther] as PolicyObject[];
  const liveInSync = enforcedBefore ? inSync((enforcedBefore.spec.content.objects as PolicyObject[]).filter((o) => !excluded.has(o.metadata.name)), live) : live.length === 0;
  const sourceError = ctx.sourceError();

  const sameSpec = plannedUnderThisSpec(proposals, seg);
  const decision = decide({
    now,
    name,
    generation: seg.metadata.generation ?? 0,
    spec: seg.spec,
    status: seg.status ?? {},
    learning: { flows: shownFlows(ctx, `${namespace}/${name}`, seg.status, view, now), edges: view.edges.length, ...(view.lastNewEdge !== undefined ? { lastNewEdge: view.lastNewEdge } : {}), lostEvents: ctx.learner.stats.lostEvents, refusedEdges: ctx.learner.edges.refusedIn(namespace) },
    ...(draft ? { draftDigest: draft.digest } : {}),
    // Under the spec the newest revision was planned from, judged on what a draft is built from
    // (edges at the flow threshold, and denied edges): an edge held with fewer connections than
    // before (a rolled-back pass being read again) counts as missing. A changed spec (say a higher
    // threshold) may narrow on purpose: then only edges gone from the graph count.
    lostEdges: edgesMissingFromNewest(proposals.map((p) => p.spec.content), sameSpec ? [...view.edges.filter((e) => e.count >= seg.spec.learning.minFlowsPerEdge), ...denied] : view.edges),
    // A draft with a new digest under that spec: would it allow every edge the newest revision
    // allows? (The draft's evidence is built only here.)
    ...(draft && sameSpec && !proposals.some((p) => p.spec.content.digest === draft.digest)
      ? { narrowedEdges: edgesMissingFromNewest(proposals.map((p) => p.spec.content), draft.evidence.flatMap((rule) => rule.edges)) }
      : {}),
    proposals: facts,
    takenNames: proposals.map((p) => p.metadata.name).filter((n) => !judgement.bound.includes(n)),
    ...(judgement.approved ? { approved: judgement.approved } : {}),
    ...(held ? { held: { name: held.metadata.name } } : {}),
    approvalRefused: judgement.refused,
    ...(auditFacts ? { audit: auditFacts } : {}),
    liveInSync,
    ownedPolicies: owned.length + ownedOther.length,
    ...(sourceError ? { sourceError } : {}),
    coverageGaps: coverage.length,
    ...safetyInputs(namespace, denialView, enforcedBefore),
  });

  for (const action of decision.actions) await execute(ctx, seg, raw, action, { draft, coverage, proposals, owned: [...owned, ...ownedOther], view });
  const enforced = proposals.find((p) => p.metadata.name === decision.enforced);
  trackEnforcement(ctx.denials, seg, decision.status, enforced);
  if (!sameStatus(seg.status, decision.status)) {
    await kube.patchStatus(GROUP, VERSION, 'segmentations', namespace, name, statusPatch(seg.status, decision.status));
  }
  return {
    requeueAfter: decision.requeueAfter,
    report: {
      namespace,
      phase: decision.status.phase ?? 'Learning',
      edges: view.edges.length,
      wouldDeny: decision.status.audit?.wouldDeny ?? 0,
      policies: enforced && seg.spec.delivery === 'Apply' ? enforced.spec.content.objects.length : 0,
      flavor,
    },
  };
}

/**
 * A reconcile failed for good (the API server refused the request as invalid or forbidden): the
 * Segmentation says so in its Ready condition and an Event, since retrying the same request
 * cannot help; the next change of the object is reconciled again.
 */
export async function reportTerminalFailure(ctx: ReconcileContext, namespace: string, name: string, error: Error): Promise<void> {
  const raw = await readsOf(ctx).segmentation(namespace, name);
  if (!raw) return;
  const generation = raw.metadata?.generation ?? 0;
  const message = error.message.slice(0, 1024);
  const existing = (raw as { status?: SegmentationStatus }).status;
  const conditions = (existing?.conditions ?? []).filter((c) => c.type !== 'Ready');
  await ctx.kube.patchStatus(GROUP, VERSION, 'segmentations', namespace, name, {
    conditions: [...conditions, { type: 'Ready', status: 'False', reason: 'ReconcileFailed', message, lastTransitionTime: iso(ctx.now()), observedGeneration: generation }],
  });
  await ctx.kube.event(raw, 'Warning', 'ReconcileFailed', message);
}

/** Live owned objects (of every kind) equal the wanted ones, by kind and name (compared as hivewall writes them). */
function inSync(want: readonly PolicyObject[], live: readonly PolicyObject[]): boolean {
  if (want.length !== live.length) return false;
  const key = (o: PolicyObject) => `${o.kind}/${o.metadata.name}`;
  const liveByKey = new Map(live.map((o) => [key(o), comparableText(o)]));
  return want.every((o) => liveByKey.get(key(o)) === comparableText(o));
}

interface ExecuteState {
  readonly draft: ProposalDraft | undefined;
  readonly coverage: ReturnType<typeof coverageOf>;
  readonly proposals: readonly PolicyProposal[];
  readonly owned: readonly KubernetesObject[];
  readonly view: ReturnType<typeof namespaceView>;
}

async function execute(ctx: ReconcileContext, seg: Segmentation, raw: KubernetesObject, action: Action, state: ExecuteState): Promise<void> {
  const { kube } = ctx;
  const namespace = seg.metadata.namespace!;
  const log = ctx.log.child({ action: action.type });
  switch (action.type) {
    case 'create-proposal': {
      const draft = state.draft!;
      // Parsed, so the digest covers exactly what the API server stores (schema defaults included).
      const content = proposalContentSchema.parse({
        segmentation: seg.metadata.name,
        revision: action.revision,
        flavor: seg.spec.flavor,
        digest: draft.digest,
        objects: draft.objects,
        evidence: draft.evidence,
        diff: draft.diff,
        skipped: draft.skipped.map(describeSkipped),
        leftOut: draft.skipped,
        coverage: state.coverage,
      });
      const proposal = {
        apiVersion: API_VERSION,
        kind: 'PolicyProposal',
        metadata: {
          name: proposalName(seg.metadata.name, action.revision),
          namespace,
          labels: { [SEGMENTATION_LABEL]: seg.metadata.name, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
          annotations: { [SPEC_GENERATION_ANNOTATION]: String(seg.metadata.generation ?? 0) },
          ownerReferences: [{ apiVersion: API_VERSION, kind: 'Segmentation', name: seg.metadata.name, uid: seg.metadata.uid!, controller: true }],
        },
        spec: {
          content,
          contentDigest: proposalContentDigest(content),
          review: { decision: 'Pending' },
        },
      };
      try {
        await kube.create(proposal as KubernetesObject);
      } catch (error) {
        // Read from a cache that had not seen it yet: the revision exists, the next round sees it.
        if (error instanceof KubeError && error.status === 409) {
          log.debug({ proposal: proposal.metadata.name }, 'proposal already exists');
          return;
        }
        throw error;
      }
      log.info({ proposal: proposal.metadata.name, objects: draft.objects.length }, 'proposal created');
      return;
    }
    case 'supersede-proposal':
      await kube.patchStatus(GROUP, VERSION, 'policyproposals', namespace, action.name, { phase: 'Superseded', message: 'a newer revision was proposed' });
      return;
    case 'delete-proposal': {
      // Only the version this reconcile judged (superseded, nobody reviewed it): a review that
      // landed since makes the delete fail its precondition and the next reconcile keeps it.
      // Housekeeping: a failure (RBAC of an older deploy/ without delete, the admission policy)
      // is logged and never holds up the reconcile; the next one tries again.
      const proposal = state.proposals.find((p) => p.metadata.name === action.name)!;
      try {
        const deleted = await kube.deleteUnchanged(proposal as unknown as KubernetesObject);
        log.info({ proposal: action.name, deleted }, deleted ? 'superseded proposal pruned' : 'superseded proposal changed or gone; not pruned');
      } catch (error) {
        log.warn({ proposal: action.name, err: error }, 'pruning a superseded proposal failed; kept');
      }
      return;
    }
    case 'mark-proposal':
      await kube.patchStatus(GROUP, VERSION, 'policyproposals', namespace, action.name, { phase: action.phase });
      return;
    case 'reset-audit': {
      const proposal = state.proposals.find((p) => p.metadata.name === action.proposal)!;
      const enforcer = seg.spec.flavor === 'CiliumNetworkPolicy' ? 'cilium' : 'generic';
      ctx.audits.set(namespace, new AuditEngine(namespace, seg.metadata.name, action.proposal, proposal.spec.content.objects as unknown as Policy[], ctx.cluster.clusterLookup, enforcer));
      return;
    }
    case 'apply': {
      const proposal = state.proposals.find((p) => p.metadata.name === action.proposal)!;
      // judgeProposals checked the kinds and namespaces; every object is written into this namespace only.
      // A rollback leaves the removed policies out (and deletes them below as stale).
      const want = (proposal.spec.content.objects as unknown as KubernetesObject[])
        .filter((o) => !action.exclude?.includes(o.metadata?.name ?? ''))
        .map((o) => ({ ...o, metadata: { ...o.metadata, namespace } }));
      const names = new Set(want.map((o) => `${o.kind}/${o.metadata?.name}`));
      for (const object of want) {
        await kube.apply({
          ...object,
          metadata: {
            ...object.metadata,
            // No blockOwnerDeletion: with the OwnerReferencesPermissionEnforcement admission
            // plugin (on by default in OpenShift) setting it needs update on the owner's
            // finalizers, and the Segmentation's own finalizer already removes its policies.
            ownerReferences: [{ apiVersion: API_VERSION, kind: 'Segmentation', name: seg.metadata.name, uid: seg.metadata.uid!, controller: true }],
          },
        } as KubernetesObject);
      }
      for (const stale of state.owned) if (!names.has(`${stale.kind}/${stale.metadata?.name}`)) await kube.delete(stale);
      log.info({ proposal: action.proposal, policies: want.length, rolledBack: action.exclude ?? [] }, 'policies applied');
      return;
    }
    case 'delete-owned':
      for (const o of state.owned) await kube.delete(o);
      log.info({ policies: state.owned.length }, 'owned policies removed');
      return;
    case 'event':
      await kube.event(raw, action.kind, action.reason, action.message);
      return;
  }
}

/**
 * The flow count the status shows: the learned one when an edge is new or COUNTS_REFRESH_MS
 * passed since the count shown was set, else the count shown (no status write per flow).
 */
function shownFlows(ctx: ReconcileContext, key: string, status: SegmentationStatus | undefined, view: ReturnType<typeof namespaceView>, now: number): number {
  const shown = ctx.countsShown?.get(key);
  const current = status?.learning?.flows;
  if (shown && current === shown.flows && shown.edges === view.edges.length && now - shown.at < COUNTS_REFRESH_MS) return shown.flows;
  ctx.countsShown?.set(key, { flows: view.flows, edges: view.edges.length, at: now });
  return view.flows;
}

async function deleteOwned(ctx: ReconcileContext, namespace: string): Promise<void> {
  for (const flavor of ['NetworkPolicy', 'CiliumNetworkPolicy'] as const) {
    // From the API server, not a cache: removing must not miss a policy.
    const owned = await apiReads(ctx.kube).owned(flavor, namespace).catch(() => []);
    for (const o of owned) await ctx.kube.delete(o);
  }
}

/** A duplicate looks again this often: it becomes the active one once the older one is gone. */
const DUPLICATE_RECHECK_MS = 60_000;

/** The Segmentations of the namespace (its informer index), `self` among them even if the cache lags. */
async function segmentationsOf(reads: SegmentationReads, namespace: string, self: KubernetesObject): Promise<KubernetesObject[]> {
  const inNamespace = (await reads.segmentations(namespace)).filter((s) => s.metadata?.namespace === namespace);
  return inNamespace.some((s) => s.metadata?.uid === self.metadata?.uid) ? inNamespace : [...inNamespace, self];
}

/**
 * Not the namespace's active Segmentation (./active.ts): Ready=False DuplicateSegmentation and one
 * Warning Event; no policy, proposal, audit or denial count is touched, also not when it is deleted
 * (the active one's policies stay).
 */
async function duplicate(ctx: ReconcileContext, raw: KubernetesObject, seg: Segmentation, active: string): Promise<ReconcileOutcome> {
  const namespace = seg.metadata.namespace!;
  const name = seg.metadata.name;
  ctx.countsShown?.delete(`${namespace}/${name}`);
  releaseNamespaceState(ctx, namespace, name);
  if (seg.metadata.deletionTimestamp) {
    if (seg.metadata.finalizers?.includes(FINALIZER)) {
      await ctx.kube.mergePatch(raw, { metadata: { finalizers: seg.metadata.finalizers.filter((f) => f !== FINALIZER), resourceVersion: seg.metadata.resourceVersion } });
    }
    return { settled: true };
  }
  const generation = seg.metadata.generation ?? 0;
  const message = `namespace ${namespace} already has Segmentation ${active}, the oldest, which is the one reconciled (one Segmentation per namespace): ${name} is ignored; delete it`;
  const old = seg.status?.conditions?.find((c) => c.type === 'Ready');
  if (seg.status?.phase !== 'Invalid' || old?.reason !== 'DuplicateSegmentation' || old.message !== message || seg.status.observedGeneration !== generation) {
    const condition = { type: 'Ready', status: 'False' as const, reason: 'DuplicateSegmentation', message, lastTransitionTime: iso(ctx.now()), observedGeneration: generation };
    await ctx.kube.patchStatus(GROUP, VERSION, 'segmentations', namespace, name, statusPatch(seg.status, { phase: 'Invalid', observedGeneration: generation, conditions: [condition] }));
    await ctx.kube.event(raw, 'Warning', 'DuplicateSegmentation', message);
    ctx.log.warn({ active }, 'duplicate Segmentation ignored');
  }
  return { requeueAfter: DUPLICATE_RECHECK_MS };
}

/** An invalid spec: condition + Event, no crash, no other action (docs/architecture.md, "bad input"). */
async function invalid(ctx: ReconcileContext, raw: KubernetesObject, message: string): Promise<void> {
  const existing = (raw as { status?: SegmentationStatus }).status;
  const generation = raw.metadata?.generation ?? 0;
  const condition = { type: 'Ready', status: 'False' as const, reason: 'InvalidSpec', message, lastTransitionTime: iso(ctx.now()), observedGeneration: generation };
  const old = existing?.conditions?.find((c) => c.type === 'Ready');
  if (existing?.phase === 'Invalid' && old?.message === message && existing.observedGeneration === generation) return;
  await ctx.kube.patchStatus(GROUP, VERSION, 'segmentations', raw.metadata!.namespace!, raw.metadata!.name!, { phase: 'Invalid', observedGeneration: generation, conditions: [condition] });
  await ctx.kube.event(raw, 'Warning', 'InvalidSpec', message);
  ctx.log.warn({ reason: message }, 'invalid Segmentation');
}

function sameStatus(a: SegmentationStatus | undefined, b: SegmentationStatus): boolean {
  return canonicalJson(a ?? {}) === canonicalJson(b);
}

/** Nobody reviewed the proposal: no decision, reviewer, review time or comment in `spec.review`. */
function isUntouched(p: PolicyProposal): boolean {
  const { review } = p.spec;
  return review.decision === 'Pending' && review.reviewer === undefined && review.reviewedAt === undefined && review.comment === undefined;
}

/** The Segmentation generation a proposal was planned under (proposals before it was recorded have none). */
const SPEC_GENERATION_ANNOTATION = 'hivewall.dev/segmentation-generation';

/** Whether the newest proposal was planned under the Segmentation's current spec (its generation). */
function plannedUnderThisSpec(proposals: readonly PolicyProposal[], seg: Segmentation): boolean {
  const newest = [...proposals].sort((a, b) => b.spec.content.revision - a.spec.content.revision)[0];
  const planned = newest?.metadata.annotations?.[SPEC_GENERATION_ANNOTATION];
  return planned !== undefined && planned === String(seg.metadata.generation ?? 0);
}
