// Review and enforcement, attacked on the real API server with deploy/ applied (RBAC and the
// ValidatingAdmissionPolicies), two real users (rita reviews, olga edits Segmentations) and the
// operator's ServiceAccount — and the operator's reconcile running as that ServiceAccount:
// - an approval is pinned to the proposal's uid and content digest (a stale or forged pin is
//   refused by the API server; a content that does not hash to its digest is refused by the operator);
// - the operator may change only the finalizers of a Segmentation; turning review off is signed;
// - a proposal counts only for the Segmentation that owns it (a relabelled one counts for nobody);
// - only NetworkPolicies of the Segmentation's own namespace are ever applied;
// - pruning deletes only superseded revisions nobody reviewed, and never one changed after it was read.
// docs/security.md lists each attack with its test here.
import { CoreV1Api, CustomObjectsApi, NetworkingV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../../src/api/meta.js';
import { OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT } from '../../src/controllers/rbac.js';
import { reconcileSegmentation, type ReconcileContext } from '../../src/controllers/segmentation/reconciler.js';
import { proposalContentDigest } from '../../src/domain/approval.js';
import { Learner } from '../../src/domain/learner.js';
import { Kube } from '../../src/k8s/kube.js';
import { ClusterCache } from '../../src/operator/cluster-cache.js';
import { captureLogger } from '../../src/runtime/testing.js';
import {
  adminKubeConfig, apiErrorMessage, bindRole, canIssueUserCertificates, kubectl, kubectlOk, NO_CLIENT_CA,
  serviceAccountIdentity, testNamespace, userIdentity, type Identity,
} from '../harness/index.js';
import { applyDeploy, GROUP, PLURAL, removeAdmissionPolicy, VERSION, waitForPolicy } from '../deploy/deploy-helpers.js';

const GUARD = 'hivewall-segmentation-guard';
const WAIVER = 'hivewall.dev/approval-waived-by';
const admin = () => adminKubeConfig().makeApiClient(CustomObjectsApi);

beforeAll(async () => {
  await applyDeploy();
  await waitForPolicy();
  await waitForGuard();
}, 180_000);

afterAll(removeAdmissionPolicy);

/** The guard loads asynchronously like the review policy: wait until it refuses an unsigned waiver. */
async function waitForGuard(timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await admin().createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'default', plural: 'segmentations', dryRun: 'All', body: segmentationBody('probe', { requireApproval: false }) });
    } catch (err) {
      if (apiErrorMessage(err).includes(GUARD)) return;
      throw err;
    }
    if (Date.now() > deadline) throw new Error(`${GUARD} not enforced after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function segmentationBody(name: string, promotion: Record<string, unknown> = {}, annotations?: Record<string, string>): Record<string, unknown> {
  return {
    apiVersion: API_VERSION, kind: 'Segmentation',
    metadata: { name, ...(annotations ? { annotations } : {}) },
    spec: { mode: 'Enforce', learning: { window: '0s', stableFor: '0s' }, promotion: { auditPeriod: '0s', ...promotion } },
  };
}

const networkPolicy = (name: string, namespace?: string) => ({
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
  metadata: { name, ...(namespace ? { namespace } : {}), labels: { 'app.kubernetes.io/managed-by': 'hivewall' } },
  spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'TCP', port: 8080 }] }] },
});

interface ProposalOptions {
  readonly segmentation: string;
  /** The Segmentation the controller ownerReference points at (uid); none when absent. */
  readonly owner?: { readonly name: string; readonly uid: string };
  readonly objects: readonly Record<string, unknown>[];
  readonly label?: string;
  /** Written as spec.contentDigest instead of the content's real digest. */
  readonly digest?: string;
  readonly revision?: number;
}

/** Creates a proposal as the operator writes them (content, its digest, Pending), as cluster admin. */
async function createProposal(namespace: string, name: string, opts: ProposalOptions): Promise<{ uid: string; contentDigest: string }> {
  const content = { segmentation: opts.segmentation, revision: opts.revision ?? 1, flavor: 'NetworkPolicy', digest: 'sha256:objects', objects: opts.objects, evidence: [], diff: { added: [], changed: [], removed: [], unified: '' }, skipped: [] };
  const contentDigest = opts.digest ?? proposalContentDigest(content)!;
  const created = await admin().createNamespacedCustomObject({
    group: GROUP, version: VERSION, namespace, plural: PLURAL,
    body: {
      apiVersion: API_VERSION, kind: 'PolicyProposal',
      metadata: {
        name, labels: { 'hivewall.dev/segmentation': opts.label ?? opts.segmentation },
        ...(opts.owner ? { ownerReferences: [{ apiVersion: API_VERSION, kind: 'Segmentation', name: opts.owner.name, uid: opts.owner.uid, controller: true }] } : {}),
      },
      spec: { content, contentDigest, review: { decision: 'Pending' } },
    },
  }) as { metadata: { uid: string } };
  return { uid: created.metadata.uid, contentDigest };
}

async function createSegmentation(namespace: string, name: string, promotion: Record<string, unknown> = {}, annotations?: Record<string, string>): Promise<string> {
  const created = await admin().createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'segmentations', body: segmentationBody(name, promotion, annotations) }) as { metadata: { uid: string } };
  return created.metadata.uid;
}

const reviewPatch = (reviewer: string, pins: { uid?: string; contentDigest?: string }) => JSON.stringify({
  spec: { review: { decision: 'Approved', reviewer, reviewedAt: '2026-11-27T10:00:00Z', ...(pins.uid ? { proposalUID: pins.uid } : {}), ...(pins.contentDigest ? { contentDigest: pins.contentDigest } : {}) } },
});

/** `kubectl patch` of a proposal's review as `who`. */
const patchReview = (who: Identity, namespace: string, name: string, pins: { uid?: string; contentDigest?: string }) =>
  kubectl(['patch', 'policyproposal', name, '-n', namespace, '--type=merge', '-p', reviewPatch(who.username, pins)], { kubeconfig: who.kubeconfigPath });

async function reviewer(namespace: string, name = 'rita'): Promise<Identity> {
  const who = await userIdentity(name);
  await kubectlOk(['create', 'rolebinding', `hivewall-reviewer-${name}`, '-n', namespace, '--clusterrole=hivewall-reviewer', `--user=${who.username}`]);
  return who;
}

/** One reconcile of the Segmentation, run by the operator's ServiceAccount as the operator runs it. */
async function reconcileAsOperator(namespace: string, name: string): Promise<{ log: ReturnType<typeof captureLogger> }> {
  const operator = await serviceAccountIdentity(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT);
  const log = captureLogger('info');
  const cluster = new ClusterCache({ kubeConfig: operator.kubeConfig, logger: log.logger }); // not started: an empty inventory
  const ctx: ReconcileContext = {
    kube: new Kube(operator.kubeConfig), learner: new Learner(cluster.identity), cluster, audits: new Map(), log: log.logger,
    now: Date.now, sourceError: () => undefined,
  };
  await reconcileSegmentation(ctx, namespace, name);
  return { log };
}

async function segmentationStatus(namespace: string, name: string): Promise<{ conditions?: { type: string; status: string; reason: string; message: string }[]; phase?: string }> {
  const seg = await admin().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'segmentations', name }) as { status?: Record<string, never> };
  return seg.status ?? {};
}

const condition = async (namespace: string, name: string, type: string) => (await segmentationStatus(namespace, name)).conditions?.find((c) => c.type === type);

async function warnings(namespace: string): Promise<string[]> {
  const events = await adminKubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace });
  return events.items.filter((e) => e.type === 'Warning').map((e) => `${e.reason}: ${e.message}`);
}

async function networkPolicies(namespace: string): Promise<string[]> {
  return (await adminKubeConfig().makeApiClient(NetworkingV1Api).listNamespacedNetworkPolicy({ namespace })).items.map((p) => p.metadata!.name!);
}

describe('an approval is pinned to the proposal it was given for', () => {
  it('the API server refuses a review pinned to another uid or digest, or not pinned; the pinned one passes', async (ctx) => {
    ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
    const ns = await testNamespace('sec-pin');
    const rita = await reviewer(ns.name);
    const { uid, contentDigest } = await createProposal(ns.name, 'shop-r1', { segmentation: 'shop', objects: [networkPolicy('hivewall-web')] });

    const unpinned = await patchReview(rita, ns.name, 'shop-r1', {});
    expect(unpinned.code).not.toBe(0);
    expect(unpinned.stderr).toContain(`a decision must be pinned to this proposal: spec.review.proposalUID must be ${uid} and spec.review.contentDigest must be ${contentDigest}`);
    const otherUid = await patchReview(rita, ns.name, 'shop-r1', { uid: '00000000-0000-0000-0000-000000000000', contentDigest });
    expect(otherUid.stderr).toContain('a decision must be pinned to this proposal');
    const otherDigest = await patchReview(rita, ns.name, 'shop-r1', { uid, contentDigest: proposalContentDigest({ other: true }) ?? `sha256:${'0'.repeat(64)}` });
    expect(otherDigest.stderr).toContain('a decision must be pinned to this proposal');

    await kubectlOk(['patch', 'policyproposal', 'shop-r1', '-n', ns.name, '--type=merge', '-p', reviewPatch('rita', { uid, contentDigest })], { kubeconfig: rita.kubeconfigPath });
  });

  it('deleted and re-created under the same name with wider content, the proposal does not keep the approval: the old pins are refused', async (ctx) => {
    ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
    const ns = await testNamespace('sec-recreate');
    const rita = await reviewer(ns.name);
    const first = await createProposal(ns.name, 'shop-r1', { segmentation: 'shop', objects: [networkPolicy('hivewall-web')] });
    // What rita looked at, then the swap.
    await admin().deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name: 'shop-r1' });
    const wide = { ...networkPolicy('hivewall-web'), spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] } };
    const second = await createProposal(ns.name, 'shop-r1', { segmentation: 'shop', objects: [wide] });
    expect(second.uid).not.toBe(first.uid);

    const stale = await patchReview(rita, ns.name, 'shop-r1', first);
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toContain(`denied request: a decision must be pinned to this proposal: spec.review.proposalUID must be ${second.uid}`);
    const review = (await admin().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name: 'shop-r1' }) as { spec: { review: unknown } }).spec.review;
    expect(review).toEqual({ decision: 'Pending' });
  });

  it('spec.contentDigest cannot be changed, added or removed once written', async () => {
    const ns = await testNamespace('sec-digest');
    await createProposal(ns.name, 'shop-r1', { segmentation: 'shop', objects: [networkPolicy('hivewall-web')] });
    const changed = await kubectl(['patch', 'policyproposal', 'shop-r1', '-n', ns.name, '--type=merge', '-p', JSON.stringify({ spec: { contentDigest: `sha256:${'1'.repeat(64)}` } })]);
    expect(changed.code).not.toBe(0);
    expect(changed.stderr).toContain('spec.contentDigest is immutable');
    const removed = await kubectl(['patch', 'policyproposal', 'shop-r1', '-n', ns.name, '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/contentDigest' }])]);
    expect(removed.stderr).toContain('spec.contentDigest is immutable');
  });

  it('the operator refuses an approved proposal whose content does not hash to its digest: condition, Event, nothing applied', async (ctx) => {
    ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
    const ns = await testNamespace('sec-mismatch');
    const rita = await reviewer(ns.name);
    const segUid = await createSegmentation(ns.name, 'shop');
    // Written with a digest of other content (by whoever may create proposals), then approved with
    // kubectl, pinned to what the object claims: the admission policy cannot hash; the operator does.
    const p = await createProposal(ns.name, 'shop-r1', { segmentation: 'shop', owner: { name: 'shop', uid: segUid }, objects: [networkPolicy('hivewall-web')], digest: `sha256:${'a'.repeat(64)}` });
    await kubectlOk(['patch', 'policyproposal', 'shop-r1', '-n', ns.name, '--type=merge', '-p', reviewPatch('rita', p)], { kubeconfig: rita.kubeconfigPath });

    await reconcileAsOperator(ns.name, 'shop');
    expect(await networkPolicies(ns.name)).toEqual([]);
    expect(await condition(ns.name, 'shop', 'Approved')).toMatchObject({ status: 'False', reason: 'ContentDigestMismatch' });
    expect(await warnings(ns.name)).toEqual([expect.stringMatching(/^ContentDigestMismatch: shop-r1: its content hashes to sha256:[0-9a-f]{64}, not to its spec\.contentDigest sha256:a{64}: not applied$/)]);
  });

  it('a correctly pinned approval is enforced by the same reconcile (the attack tests above refuse for their reason only)', async (ctx) => {
    ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
    const ns = await testNamespace('sec-ok');
    const rita = await reviewer(ns.name);
    const segUid = await createSegmentation(ns.name, 'shop');
    const p = await createProposal(ns.name, 'shop-r1', { segmentation: 'shop', owner: { name: 'shop', uid: segUid }, objects: [networkPolicy('hivewall-web', ns.name)] });
    await kubectlOk(['patch', 'policyproposal', 'shop-r1', '-n', ns.name, '--type=merge', '-p', reviewPatch('rita', p)], { kubeconfig: rita.kubeconfigPath });
    await reconcileAsOperator(ns.name, 'shop');
    expect(await networkPolicies(ns.name)).toEqual(['hivewall-web']);
    expect(await condition(ns.name, 'shop', 'Approved')).toMatchObject({ status: 'True', message: 'shop-r1 approved by rita' });
  });
});

describe('proposals count only for the Segmentation that owns them', () => {
  it('a proposal of another Segmentation relabelled hivewall.dev/segmentation=shop by a reviewer is not enforced for shop', async (ctx) => {
    ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
    const ns = await testNamespace('sec-relabel');
    const rita = await reviewer(ns.name);
    await createSegmentation(ns.name, 'shop');
    const other = await createProposal(ns.name, 'other-r1', { segmentation: 'other', owner: { name: 'other', uid: '11111111-2222-3333-4444-555555555555' }, objects: [networkPolicy('hivewall-wide', ns.name)] });
    await kubectlOk(['patch', 'policyproposal', 'other-r1', '-n', ns.name, '--type=merge', '-p', reviewPatch('rita', other)], { kubeconfig: rita.kubeconfigPath });
    // The reviewer may patch proposals, so they may relabel one: RBAC and the admission policy allow it.
    await kubectlOk(['label', 'policyproposal', 'other-r1', '-n', ns.name, '--overwrite', 'hivewall.dev/segmentation=shop'], { kubeconfig: rita.kubeconfigPath });

    await reconcileAsOperator(ns.name, 'shop');
    expect(await networkPolicies(ns.name)).toEqual([]);
    expect(await condition(ns.name, 'shop', 'Approved')).toMatchObject({ status: 'False', reason: 'WaitingForReview' });
    expect((await segmentationStatus(ns.name, 'shop')).phase).not.toBe('Enforcing');
  });
});

describe('only NetworkPolicies of the Segmentation\'s own namespace are applied', () => {
  it.for<[string, (other: string) => Record<string, unknown>[], RegExp]>([
    ['a NetworkPolicy for another namespace', (other: string) => [networkPolicy('hivewall-web'), networkPolicy('hivewall-open', other)], /object 1 is in namespace sec-elsewhere-\w+: only sec-kinds-\w+ is written/],
    ['a ConfigMap', () => [networkPolicy('hivewall-web'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: 'b' } }], /object 1 is v1\/ConfigMap: only NetworkPolicy/],
  ])('an approved proposal holding %s is refused as a whole: condition, Event, nothing written anywhere', async ([, objects, message], ctx) => {
    ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
    const ns = await testNamespace('sec-kinds');
    const elsewhere = await testNamespace('sec-elsewhere');
    const rita = await reviewer(ns.name);
    const segUid = await createSegmentation(ns.name, 'shop');
    const p = await createProposal(ns.name, 'shop-r1', { segmentation: 'shop', owner: { name: 'shop', uid: segUid }, objects: objects(elsewhere.name) });
    await kubectlOk(['patch', 'policyproposal', 'shop-r1', '-n', ns.name, '--type=merge', '-p', reviewPatch('rita', p)], { kubeconfig: rita.kubeconfigPath });

    await reconcileAsOperator(ns.name, 'shop');
    expect(await networkPolicies(ns.name)).toEqual([]);
    expect(await networkPolicies(elsewhere.name)).toEqual([]);
    expect((await adminKubeConfig().makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: ns.name })).items.map((c) => c.metadata?.name)).not.toContain('x');
    const approved = await condition(ns.name, 'shop', 'Approved');
    expect(approved).toMatchObject({ status: 'False', reason: 'ObjectsNotApplicable' });
    expect(approved?.message).toMatch(message);
    expect(await warnings(ns.name)).toEqual([expect.stringMatching(/^ObjectsNotApplicable: shop-r1: /)]);
  });
});

describe('the operator cannot widen its own mandate; turning review off is signed', () => {
  it('the operator\'s ServiceAccount may change a Segmentation\'s finalizers, nothing else', async () => {
    const ns = await testNamespace('sec-guard');
    await createSegmentation(ns.name, 'shop');
    const operator = await serviceAccountIdentity(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT);
    const as = { kubeconfig: operator.kubeconfigPath };
    const patch = (body: unknown) => kubectl(['patch', 'segmentation', 'shop', '-n', ns.name, '--type=merge', '-p', JSON.stringify(body)], as);

    for (const body of [
      { spec: { promotion: { requireApproval: false } }, metadata: { annotations: { [WAIVER]: operator.username } } },
      { spec: { mode: 'Learn' } },
      { spec: { allow: { kubeApiserver: true } } },
      { metadata: { labels: { team: 'x' } } },
    ]) {
      const r = await patch(body);
      expect(r.code, JSON.stringify(body)).not.toBe(0);
      expect(r.stderr).toContain(`ValidatingAdmissionPolicy '${GUARD}' with binding '${GUARD}' denied request`);
    }
    expect((await patch({ metadata: { finalizers: ['hivewall.dev/cleanup'] } })).code).toBe(0);
    const created = await kubectl(['create', '-n', ns.name, '-f', '-'], { ...as, input: JSON.stringify(segmentationBody('second')) });
    expect(created.code).not.toBe(0);
    const seg = await admin().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: 'segmentations', name: 'shop' }) as { spec: { mode: string; promotion: { requireApproval: boolean } } };
    expect(seg.spec).toMatchObject({ mode: 'Enforce', promotion: { requireApproval: true } });
  });

  it('an unsigned waiver written while the guard was not bound (an upgrade) does not lock the operator out of its finalizer', async () => {
    const ns = await testNamespace('sec-guard-unsigned');
    await kubectlOk(['delete', 'validatingadmissionpolicybinding', GUARD]);
    try {
      // Until the API server stops enforcing the removed binding, the unsigned waiver is refused.
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          await createSegmentation(ns.name, 'shop', { requireApproval: false });
          break;
        } catch (err) {
          if (!apiErrorMessage(err).includes(GUARD) || Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      await applyDeploy();
    }
    await waitForGuard();
    const operator = await serviceAccountIdentity(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT);
    const patch = (body: unknown) => kubectl(['patch', 'segmentation', 'shop', '-n', ns.name, '--type=merge', '-p', JSON.stringify(body)], { kubeconfig: operator.kubeconfigPath });
    const added = await patch({ metadata: { finalizers: ['hivewall.dev/cleanup'] } });
    expect(added.stderr).toBe('');
    expect((await patch({ metadata: { finalizers: [] } })).code).toBe(0);
    // Only the finalizer: the waiver itself stays the people's to sign or remove.
    const signed = await patch({ metadata: { annotations: { [WAIVER]: operator.username } } });
    expect(signed.stderr).toContain(GUARD);
  });

  it('requireApproval: false needs the annotation naming the requesting user; then the proposal is enforced without review', async (ctx) => {
    ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
    const ns = await testNamespace('sec-waiver');
    const olga = await userIdentity('olga');
    await bindRole({ namespace: ns.name, subject: olga, rules: [{ apiGroups: [GROUP], resources: ['segmentations'], verbs: ['get', 'list', 'create', 'update', 'patch'] }] });
    const as = { kubeconfig: olga.kubeconfigPath };
    const segUid = await createSegmentation(ns.name, 'shop');
    const patch = (body: unknown) => kubectl(['patch', 'segmentation', 'shop', '-n', ns.name, '--type=merge', '-p', JSON.stringify(body)], as);

    const unsigned = await patch({ spec: { promotion: { requireApproval: false } } });
    expect(unsigned.stderr).toContain(`spec.promotion.requireApproval: false enforces proposals nobody reviewed: sign it with the annotation ${WAIVER}=olga (the requesting user)`);
    const forged = await patch({ metadata: { annotations: { [WAIVER]: 'carol' } }, spec: { promotion: { requireApproval: false } } });
    expect(forged.stderr).toContain(`${WAIVER}=olga`);
    await kubectlOk(['patch', 'segmentation', 'shop', '-n', ns.name, '--type=merge', '-p', JSON.stringify({ metadata: { annotations: { [WAIVER]: 'olga' } }, spec: { promotion: { requireApproval: false } } })], as);
    // While it stays off, nobody can put another name there (admins neither).
    const rename = await kubectl(['annotate', 'segmentation', 'shop', '-n', ns.name, '--overwrite', `${WAIVER}=carol`]);
    expect(rename.stderr).toContain(GUARD);

    await createProposal(ns.name, 'shop-r1', { segmentation: 'shop', owner: { name: 'shop', uid: segUid }, objects: [networkPolicy('hivewall-web', ns.name)] });
    await reconcileAsOperator(ns.name, 'shop');
    expect(await networkPolicies(ns.name)).toEqual(['hivewall-web']);
    expect(await condition(ns.name, 'shop', 'Approved')).toMatchObject({ status: 'True', message: 'shop-r1 approved (approval waived)' });
  });
});

describe('revision history: the operator prunes only superseded revisions nobody reviewed', () => {
  it('past spec.revisionHistoryLimit the oldest untouched superseded revisions go; reviewed ones and the newest stay; one Event says so', async (ctx) => {
    ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
    const ns = await testNamespace('sec-prune');
    const rita = await reviewer(ns.name);
    const body = segmentationBody('shop');
    const created = await admin().createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: 'segmentations', body: { ...body, spec: { ...(body['spec'] as object), mode: 'Learn', revisionHistoryLimit: 1 } } }) as { metadata: { uid: string } };
    const owner = { name: 'shop', uid: created.metadata.uid };
    const supersede = (name: string) => admin().patchNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name, body: [{ op: 'add', path: '/status', value: { phase: 'Superseded' } }] });
    for (const revision of [1, 2, 3, 4, 5]) {
      await createProposal(ns.name, `shop-r${revision}`, { segmentation: 'shop', owner, revision, objects: [networkPolicy('hivewall-web', ns.name)] });
    }
    // r1 was rejected by rita, r2 only commented on; r1..r4 were superseded; r5 is the newest.
    const r1 = await admin().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name: 'shop-r1' }) as { metadata: { uid: string }; spec: { contentDigest: string } };
    await kubectlOk(['patch', 'policyproposal', 'shop-r1', '-n', ns.name, '--type=merge', '-p', JSON.stringify({ spec: { review: { decision: 'Rejected', reviewer: 'rita', reviewedAt: '2026-11-27T10:00:00Z', proposalUID: r1.metadata.uid, contentDigest: r1.spec.contentDigest } } })], { kubeconfig: rita.kubeconfigPath });
    await kubectlOk(['patch', 'policyproposal', 'shop-r2', '-n', ns.name, '--type=merge', '-p', JSON.stringify({ spec: { review: { reviewer: 'rita', comment: 'why port 8080?' } } })], { kubeconfig: rita.kubeconfigPath });
    for (const name of ['shop-r1', 'shop-r2', 'shop-r3', 'shop-r4']) await supersede(name);

    await reconcileAsOperator(ns.name, 'shop');
    const left = (await admin().listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL }) as { items: { metadata: { name: string } }[] }).items.map((p) => p.metadata.name).sort();
    expect(left).toEqual(['shop-r1', 'shop-r2', 'shop-r4', 'shop-r5']);
    const events = await adminKubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns.name });
    expect(events.items.filter((e) => e.reason === 'ProposalsPruned').map((e) => e.message)).toEqual(['deleted 1 superseded revision(s) nobody reviewed, beyond revisionHistoryLimit 1: shop-r3']);
  });

  it('a prune the API server refuses (deploy/ of a release without the delete grant) is logged; the reconcile still writes the status', async () => {
    const ns = await testNamespace('sec-prune-denied');
    const body = segmentationBody('shop');
    const created = await admin().createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: 'segmentations', body: { ...body, spec: { ...(body['spec'] as object), mode: 'Learn', revisionHistoryLimit: 0 } } }) as { metadata: { uid: string } };
    const owner = { name: 'shop', uid: created.metadata.uid };
    await createProposal(ns.name, 'shop-r1', { segmentation: 'shop', owner, revision: 1, objects: [networkPolicy('hivewall-web', ns.name)] });
    await createProposal(ns.name, 'shop-r2', { segmentation: 'shop', owner, revision: 2, objects: [networkPolicy('hivewall-web', ns.name)] });
    await admin().patchNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name: 'shop-r1', body: [{ op: 'add', path: '/status', value: { phase: 'Superseded' } }] });
    const role = JSON.parse(await kubectlOk(['get', 'clusterrole', 'hivewall-operator', '-o', 'json'])) as { rules: { resources?: string[]; verbs: string[] }[] };
    for (const rule of role.rules) if (rule.resources?.includes('policyproposals')) rule.verbs = rule.verbs.filter((v) => v !== 'delete');
    await kubectlOk(['replace', '-f', '-'], { input: JSON.stringify(role) });
    try {
      // The authorizer follows RBAC objects through a watch: wait until it sees the change.
      const canDelete = () => kubectl(['auth', 'can-i', 'delete', 'policyproposals.hivewall.dev', '-n', ns.name, `--as=system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`]);
      const deadline = Date.now() + 10_000;
      while ((await canDelete()).stdout.trim() === 'yes' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const { log } = await reconcileAsOperator(ns.name, 'shop');
      expect(log.find('pruning a superseded proposal failed; kept')).toHaveLength(1);
    } finally {
      await applyDeploy();
    }
    expect(await admin().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name: 'shop-r1' })).toBeDefined();
    expect((await segmentationStatus(ns.name, 'shop')).phase).toBe('Proposed');
  });

  it('a proposal changed after it was read (a comment landing meanwhile) is not deleted: the delete is conditional on that version', async () => {
    const ns = await testNamespace('sec-prune-race');
    await createProposal(ns.name, 'shop-r1', { segmentation: 'shop', objects: [networkPolicy('hivewall-web', ns.name)] });
    await admin().patchNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name: 'shop-r1', body: [{ op: 'add', path: '/status', value: { phase: 'Superseded' } }] });
    const operator = new Kube((await serviceAccountIdentity(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT)).kubeConfig);
    const read = await admin().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name: 'shop-r1' }) as { apiVersion: string; kind: string; metadata: { name: string; namespace: string; uid: string; resourceVersion: string } };
    await kubectlOk(['label', 'policyproposal', 'shop-r1', '-n', ns.name, 'seen=yes']);
    expect(await operator.deleteUnchanged(read)).toBe(false);
    expect(await operator.get(API_VERSION, 'PolicyProposal', ns.name, 'shop-r1')).toBeDefined();
    const fresh = await admin().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name: 'shop-r1' }) as typeof read;
    expect(await operator.deleteUnchanged(fresh)).toBe(true);
    expect(await operator.get(API_VERSION, 'PolicyProposal', ns.name, 'shop-r1')).toBeUndefined();
  });
});
