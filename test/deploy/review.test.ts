// `kubectl apply -k deploy/` on the real API server, then the review workflow against it:
// a hivewall-reviewer approves with `kubectl hivewall approve`; a stranger, the operator's
// ServiceAccount and a reviewer signing in someone else's name are refused — by RBAC first,
// and by the ValidatingAdmissionPolicy hivewall-review-identity where RBAC would allow it. The roles
// for people read the live policies (so `kubectl hivewall diff` needs no other binding) and write
// none.
import { execFile } from 'node:child_process';
import { mkdtemp, symlink } from 'node:fs/promises';
import path from 'node:path';
import { AdmissionregistrationV1Api, AppsV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, OPERATOR_USERNAME } from '../../src/controllers/rbac.js';
import {
  adminKubeConfig, apiErrorMessage, apiStatus, bindRole, canIssueUserCertificates, cluster, kubectl, kubectlOk,
  NO_CLIENT_CA, serviceAccountIdentity, testNamespace, userIdentity,
} from '../harness/index.js';
import {
  applyDeploy, buildPlugin, createProposal, removeAdmissionPolicy, reviewPins, deployDir, GROUP, plugin, pluginBin, PLURAL, POLICY, readReview, VERSION, waitForPolicy,
} from './deploy-helpers.js';

const timings: Record<string, number> = {};

beforeAll(async () => {
  let t = Date.now();
  await Promise.all([
    buildPlugin().then(() => { timings['build plugin'] = Date.now() - t; }),
    applyDeploy().then(() => { timings['kubectl apply -k deploy/'] = Date.now() - t; }),
  ]);
  t = Date.now();
  await waitForPolicy();
  timings['admission policy enforced'] = Date.now() - t;
  process.stderr.write(`[test/deploy] ${Object.entries(timings).map(([k, v]) => `${k} ${v} ms`).join(', ')}\n`);
}, 180_000);

afterAll(removeAdmissionPolicy);

/** A RoleBinding of the hivewall-reviewer ClusterRole in `namespace`, the way the reviewer guide says. */
async function grantReviewer(namespace: string, user: string): Promise<void> {
  await kubectlOk(['create', 'rolebinding', `hivewall-reviewer-${user}`, '-n', namespace, '--clusterrole=hivewall-reviewer', `--user=${user}`]);
}

const mergePatch = (review: Record<string, string>) => JSON.stringify({ spec: { review } });

/** A live NetworkPolicy hivewall owns, as the operator would have applied it. */
async function liveHivewallPolicy(namespace: string, port: number): Promise<void> {
  await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify({
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
    metadata: { name: 'hivewall-web', namespace, labels: { 'app.kubernetes.io/managed-by': 'hivewall' } },
    spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'TCP', port }] }] },
  }) });
}

/** `kubectl auth can-i`, impersonating `user`: 'yes' or 'no'. */
async function canI(user: string, verb: string, resource: string, namespace: string): Promise<string> {
  const r = await kubectl(['auth', 'can-i', verb, resource, '-n', namespace, `--as=${user}`]);
  const answer = r.stdout.trim();
  if (answer !== 'yes' && answer !== 'no') throw new Error(`kubectl auth can-i ${verb} ${resource} --as=${user}: ${r.stderr}`);
  return answer;
}

const LIVE_POLICIES = ['networkpolicies.networking.k8s.io', 'ciliumnetworkpolicies.cilium.io'];

/** The line explain and diff print under their first: the content digest and uid `approve --digest` pins. */
const contentLine = (name: string, namespace: string) =>
  new RegExp(`^content (sha256:[0-9a-f]{64}) \\(uid \\S+\\): to approve exactly this, kubectl hivewall approve ${name} -n ${namespace} --digest \\1$`);

describe('kubectl apply -k deploy/', () => {
  it('installed everything, and applying again changes nothing', async () => {
    const admission = adminKubeConfig().makeApiClient(AdmissionregistrationV1Api);
    const policy = await admission.readValidatingAdmissionPolicy({ name: POLICY });
    expect(policy.spec?.failurePolicy).toBe('Fail');
    expect((await admission.readValidatingAdmissionPolicyBinding({ name: POLICY })).spec?.validationActions).toEqual(['Deny']);
    // No type-checking warnings: every CEL expression compiled against the PolicyProposal schema.
    expect(policy.status?.typeChecking?.expressionWarnings ?? []).toEqual([]);

    const rbac = adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
    for (const name of ['hivewall-operator', 'hivewall-reviewer', 'hivewall-viewer']) await rbac.readClusterRole({ name });
    const deployment = await adminKubeConfig().makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: OPERATOR_NAMESPACE, name: 'hivewall-operator' });
    expect(deployment.spec?.replicas).toBe(2);
    expect(deployment.spec?.template.spec?.serviceAccountName).toBe(OPERATOR_SERVICE_ACCOUNT);
    const container = deployment.spec?.template.spec?.containers[0];
    expect(container?.image).toBe('ghcr.io/hivewall/hivewall:0.1.0');
    expect(container?.securityContext).toMatchObject({
      runAsNonRoot: true, runAsUser: 65532, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
    });

    const again = await applyDeploy();
    const changed = again.stdout.split('\n').filter((l) => l.trim() !== '' && !l.endsWith(' unchanged'));
    expect(changed).toEqual([]);
    // The same through a dry run of the whole folder: the API server accepts every object as is.
    expect((await kubectl(['apply', '-k', deployDir, '--dry-run=server'])).code).toBe(0);
  });
});

describe('the roles for people read the live policies they review', () => {
  it.each(['hivewall-reviewer', 'hivewall-viewer'])('%s: get, list and watch on NetworkPolicies and CiliumNetworkPolicies; no policy or Segmentation write, no Secret', async (role) => {
    const ns = await testNamespace('roles');
    const user = `${role}-user`;
    await kubectlOk(['create', 'rolebinding', role, '-n', ns.name, `--clusterrole=${role}`, `--user=${user}`]);
    const answers: string[] = [];
    const ask = async (verb: string, resource: string) => answers.push(`${verb} ${resource}: ${await canI(user, verb, resource, ns.name)}`);
    for (const resource of LIVE_POLICIES) {
      for (const verb of ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection']) await ask(verb, resource);
    }
    for (const verb of ['create', 'update', 'patch', 'delete']) await ask(verb, 'segmentations.hivewall.dev');
    for (const verb of ['get', 'list']) await ask(verb, 'secrets');
    const reads = new Set(['get', 'list', 'watch']);
    expect(answers).toEqual([
      ...LIVE_POLICIES.flatMap((r) => ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'].map((v) => `${v} ${r}: ${reads.has(v) ? 'yes' : 'no'}`)),
      ...['create', 'update', 'patch', 'delete'].map((v) => `${v} segmentations.hivewall.dev: no`),
      'get secrets: no', 'list secrets: no',
    ]);
    // Only in the namespace of the binding.
    expect(await canI(user, 'list', 'networkpolicies.networking.k8s.io', 'default')).toBe('no');
  });

  it('a hivewall-viewer diffs a proposal against the live policies with no other binding', async (ctx) => {
    ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
    const ns = await testNamespace('review');
    await createProposal(ns.name, 'shop-r1');
    await liveHivewallPolicy(ns.name, 8080);
    const vic = await userIdentity('vic-viewer');
    await kubectlOk(['create', 'rolebinding', 'viewers', '-n', ns.name, '--clusterrole=hivewall-viewer', `--user=${vic.username}`]);
    const diff = await plugin(['diff', 'shop-r1', '-n', ns.name], vic.kubeconfigPath);
    expect(diff.stderr.split('\n')).toEqual([`policyproposal ${ns.name}/shop-r1 against the live policies in ${ns.name}: 0 added, 1 changed, 0 removed, 0 unchanged`, expect.stringMatching(contentLine('shop-r1', ns.name)), '']);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toContain('+++ proposed/NetworkPolicy/hivewall-web\n');
  });

  it('a NetworkPolicy proposal diffs for someone who may not list CiliumNetworkPolicies; without NetworkPolicy read the error names the roles', async (ctx) => {
    ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
    const ns = await testNamespace('review');
    await createProposal(ns.name, 'shop-r1');
    await liveHivewallPolicy(ns.name, 8080);
    const [nick, hana] = await Promise.all([userIdentity('nick-np-only'), userIdentity('hana-hivewall-only')]);
    const hivewallReads = { apiGroups: [GROUP], resources: ['segmentations', 'policyproposals', 'trafficprofiles'], verbs: ['get', 'list', 'watch'] };
    // A hand-made role: hivewall's objects and NetworkPolicies, no CiliumNetworkPolicies.
    await bindRole({ namespace: ns.name, subject: nick, rules: [hivewallReads, { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['get', 'list', 'watch'] }] });
    await bindRole({ namespace: ns.name, subject: hana, rules: [hivewallReads] });

    const diff = await plugin(['diff', 'shop-r1', '-n', ns.name], nick.kubeconfigPath);
    expect(diff.code).toBe(0);
    const counts = `policyproposal ${ns.name}/shop-r1 against the live policies in ${ns.name}: 0 added, 1 changed, 0 removed, 0 unchanged\n`;
    // The API server authorizes before it looks the resource up: the note comes with or without Cilium's CRD.
    expect(diff.stderr.split('\n')).toEqual([`note: you may not list ciliumnetworkpolicies.cilium.io in ${ns.name}: the diff leaves them out (the proposal has none; `
      + `live ones hivewall owns would be leftovers of an earlier flavor, which applying removes)`, counts.trimEnd(), expect.stringMatching(contentLine('shop-r1', ns.name)), '']);
    expect(diff.stdout).toContain('+++ proposed/NetworkPolicy/hivewall-web\n');

    const denied = await plugin(['diff', 'shop-r1', '-n', ns.name], hana.kubeconfigPath);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(new RegExp(`^error: you are not allowed to list networkpolicies\\.networking\\.k8s\\.io in ${ns.name}: `
      + 'ask for the hivewall-viewer \\(read-only\\) or hivewall-reviewer ClusterRole, which read the live NetworkPolicies and CiliumNetworkPolicies '
      + `\\(the roles of an older hivewall do not: kubectl apply -k deploy/ updates them\\); or print the diff stored in the proposal: kubectl hivewall diff shop-r1 -n ${ns.name} --stored `
      + '\\(the API server said: .*User "hana-hivewall-only" cannot list resource "networkpolicies"'));
    expect(denied.stderr).not.toContain('view ClusterRole');
    expect((await plugin(['diff', 'shop-r1', '-n', ns.name, '--stored'], hana.kubeconfigPath)).code).toBe(0);
  });
});

describe('reviewing a PolicyProposal', () => {
  it('a hivewall-reviewer approves with `kubectl hivewall approve`; the review records them', async (ctx) => {
    ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
    const ns = await testNamespace('review');
    await createProposal(ns.name, 'shop-r1');
    await createProposal(ns.name, 'shop-r2');
    const rita = await userIdentity('rita', ['security-reviewers']);
    await grantReviewer(ns.name, rita.username);

    const before = Date.now() - 1000;
    const approve = await plugin(['approve', 'shop-r1', '-n', ns.name, '--comment', 'matches the architecture diagram'], rita.kubeconfigPath);
    expect(approve.stderr).toBe('');
    expect(approve).toMatchObject({ code: 0 });
    expect(approve.stdout).toMatch(new RegExp(`^policyproposal\\.hivewall\\.dev/shop-r1 approved by rita in namespace ${ns.name} \\(segmentation shop, revision 1\\): content sha256:[0-9a-f]{64} \\(uid \\S+\\)\\n$`));

    const review = await readReview(ns.name, 'shop-r1');
    expect(review).toMatchObject({ decision: 'Approved', reviewer: 'rita', comment: 'matches the architecture diagram' });
    expect(review.reviewedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(Date.parse(review.reviewedAt ?? '')).toBeGreaterThanOrEqual(before);
    expect(Date.parse(review.reviewedAt ?? '')).toBeLessThanOrEqual(Date.now());

    const reject = await plugin(['reject', 'policyproposal/shop-r2', '-n', ns.name], rita.kubeconfigPath);
    expect(reject).toMatchObject({ code: 0, stderr: '' });
    expect(await readReview(ns.name, 'shop-r2')).toMatchObject({ decision: 'Rejected', reviewer: 'rita' });

    // A decision already recorded is only replaced on purpose.
    const again = await plugin(['approve', 'shop-r2', '-n', ns.name], rita.kubeconfigPath);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`error: policyproposal ${ns.name}/shop-r2 was already rejected by you at ${(await readReview(ns.name, 'shop-r2')).reviewedAt}: pass --overwrite to replace that decision\n`);
    expect((await plugin(['approve', 'shop-r2', '-n', ns.name, '--overwrite'], rita.kubeconfigPath)).code).toBe(0);
    expect(await readReview(ns.name, 'shop-r2')).toMatchObject({ decision: 'Approved', reviewer: 'rita' });
    expect((await readReview(ns.name, 'shop-r2')).comment).toBeUndefined();

    // The table, as the reviewer (namespace from -n), and through kubectl's plugin mechanism.
    const list = await plugin(['proposals', '-n', ns.name], rita.kubeconfigPath);
    expect(list.code).toBe(0);
    const rows = list.stdout.trim().split('\n').map((l) => l.split(/\s{3,}/));
    expect(rows[0]).toEqual(['NAMESPACE', 'NAME', 'SEGMENTATION', 'REVISION', 'DECISION', 'REVIEWER', 'AGE']);
    expect(rows.slice(1).map((r) => r.slice(0, 6))).toEqual([
      [ns.name, 'shop-r1', 'shop', '1', 'Approved', 'rita'],
      [ns.name, 'shop-r2', 'shop', '1', 'Approved', 'rita'],
    ]);

    const binDir = await mkdtemp(path.join(cluster().scratchDir, 'plugin-path-'));
    await symlink(pluginBin, path.join(binDir, 'kubectl-hivewall'));
    const viaKubectl = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile('kubectl', ['hivewall', 'proposals', '-n', ns.name], {
        env: { ...process.env, KUBECONFIG: rita.kubeconfigPath, PATH: [binDir, path.dirname(process.execPath), process.env['PATH'] ?? ''].join(path.delimiter) },
      }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }));
    });
    expect(viaKubectl.stderr).toBe('');
    expect(viaKubectl.stdout).toContain('shop-r1');

    // Listing every namespace needs a cluster-wide binding, and the message says so.
    const all = await plugin(['proposals', '-A'], rita.kubeconfigPath);
    expect(all.code).toBe(1);
    expect(all.stderr).toContain('you are not allowed to list proposals in all namespaces: use -n <namespace>');

    // A missing proposal: the error lists what is there.
    const missing = await plugin(['approve', 'shop-r9', '-n', ns.name], rita.kubeconfigPath);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`error: policyproposal "shop-r9" not found in namespace ${ns.name}; proposals there: shop-r1 (Approved, shop r1), shop-r2 (Approved, shop r1)\n`);
  });

  it('a stranger (no role) and a hivewall-viewer are refused by RBAC, with what to ask for', async (ctx) => {
    ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
    const ns = await testNamespace('review');
    await createProposal(ns.name, 'shop-r1');
    const [stranger, viewer] = await Promise.all([userIdentity('stranger'), userIdentity('victor-viewer')]);
    await kubectlOk(['create', 'rolebinding', 'viewers', '-n', ns.name, '--clusterrole=hivewall-viewer', `--user=${viewer.username}`]);

    const r = await plugin(['approve', 'shop-r1', '-n', ns.name], stranger.kubeconfigPath);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: you are not allowed to review proposals in ${ns.name}: ask for the hivewall-reviewer ClusterRole \\(the API server said: .*User "stranger" cannot get resource "policyproposals" in API group "hivewall.dev"`));

    const v = await plugin(['approve', 'shop-r1', '-n', ns.name], viewer.kubeconfigPath);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain(`you are not allowed to review proposals in ${ns.name}: ask for the hivewall-reviewer ClusterRole`);
    expect(v.stderr).toContain('cannot patch resource "policyproposals"');
    expect((await plugin(['proposals', '-n', ns.name], viewer.kubeconfigPath)).code).toBe(0);

    expect(await readReview(ns.name, 'shop-r1')).toEqual({ decision: 'Pending' });
  });

  it('the operator\'s ServiceAccount cannot review: RBAC refuses, and the admission policy would too', async () => {
    const ns = await testNamespace('review');
    await createProposal(ns.name, 'shop-r1');
    const operator = await serviceAccountIdentity(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT);
    expect(operator.username).toBe(OPERATOR_USERNAME);

    // 1. RBAC: the operator may read proposals but not update or patch them.
    const byRbac = await plugin(['approve', 'shop-r1', '-n', ns.name], operator.kubeconfigPath);
    expect(byRbac.code).toBe(1);
    expect(byRbac.stderr).toContain(`you are not allowed to review proposals in ${ns.name}`);
    expect(byRbac.stderr).toContain(`User "${OPERATOR_USERNAME}" cannot patch resource "policyproposals"`);

    // 2. Grant it update/patch here for a moment: the ValidatingAdmissionPolicy still refuses.
    const rbac = adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
    const role = await bindRole({ namespace: ns.name, subject: operator, rules: [{ apiGroups: [GROUP], resources: [PLURAL], verbs: ['update', 'patch'] }] });
    try {
      const byPolicy = await plugin(['approve', 'shop-r1', '-n', ns.name], operator.kubeconfigPath);
      expect(byPolicy.code).toBe(1);
      expect(byPolicy.stderr).toBe(`error: the API server refused to approve policyproposal ${ns.name}/shop-r1: the operator cannot review its own proposals (ValidatingAdmissionPolicy ${POLICY})\n`);

      const patched = await kubectl(['patch', 'policyproposal', 'shop-r1', '-n', ns.name, '--type=merge', '-p',
        mergePatch({ decision: 'Approved', reviewer: OPERATOR_USERNAME, reviewedAt: '2025-01-31T12:00:00Z' })], { kubeconfig: operator.kubeconfigPath });
      expect(patched.code).not.toBe(0);
      expect(patched.stderr).toContain(`ValidatingAdmissionPolicy '${POLICY}' with binding '${POLICY}' denied request: the operator cannot review its own proposals`);

      // Writing its status is fine: the policy does not match the status subresource.
      const status = operator.kubeConfig.makeApiClient(CustomObjectsApi);
      await status.patchNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name: 'shop-r1', body: [{ op: 'add', path: '/status', value: { phase: 'Pending', message: 'awaiting review' } }] });
    } finally {
      await rbac.deleteNamespacedRoleBinding({ namespace: ns.name, name: role }).catch(() => {});
      await rbac.deleteNamespacedRole({ namespace: ns.name, name: role }).catch(() => {});
    }
    expect(await readReview(ns.name, 'shop-r1')).toEqual({ decision: 'Pending' });
  });

  it('a reviewer cannot sign in someone else\'s name (kubectl patch)', async (ctx) => {
    ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
    const ns = await testNamespace('review');
    await createProposal(ns.name, 'shop-r1');
    const rita = await userIdentity('rita');
    await grantReviewer(ns.name, rita.username);
    const as = { kubeconfig: rita.kubeconfigPath };

    const forged = await kubectl(['patch', 'policyproposal', 'shop-r1', '-n', ns.name, '--type=merge', '-p',
      mergePatch({ decision: 'Approved', reviewer: 'carol', reviewedAt: '2025-01-31T12:00:00Z' })], as);
    expect(forged.code).not.toBe(0);
    expect(forged.stderr).toContain(`ValidatingAdmissionPolicy '${POLICY}' with binding '${POLICY}' denied request: spec.review.reviewer must be the requesting user (rita)`);

    // Leaving an earlier reviewer's name in place while changing the decision is the same forgery.
    const pins = await reviewPins(ns.name, 'shop-r1');
    await kubectlOk(['patch', 'policyproposal', 'shop-r1', '-n', ns.name, '--type=merge', '-p', mergePatch({ decision: 'Rejected', reviewer: 'hivewall-admin', reviewedAt: '2025-01-31T12:00:00Z', ...pins })]);
    const keep = await kubectl(['patch', 'policyproposal', 'shop-r1', '-n', ns.name, '--type=merge', '-p', JSON.stringify({ spec: { review: { decision: 'Approved' } } })], as);
    expect(keep.stderr).toContain('spec.review.reviewer must be the requesting user (rita)');

    // A decision needs a time.
    const untimed = await kubectl(['patch', 'policyproposal', 'shop-r1', '-n', ns.name, '--type=json', '-p',
      JSON.stringify([{ op: 'replace', path: '/spec/review', value: { decision: 'Approved', reviewer: 'rita' } }])], as);
    expect(untimed.stderr).toContain('a decision other than Pending needs spec.review.reviewedAt');

    // Signing as oneself passes; other edits (labels) never need a signature.
    await kubectlOk(['patch', 'policyproposal', 'shop-r1', '-n', ns.name, '--type=merge', '-p', mergePatch({ decision: 'Approved', reviewer: 'rita', reviewedAt: '2025-01-31T12:00:00Z', ...pins })], as);
    await kubectlOk(['label', 'policyproposal', 'shop-r1', '-n', ns.name, 'team=shop']);
    expect(await readReview(ns.name, 'shop-r1')).toEqual({ decision: 'Approved', reviewer: 'rita', reviewedAt: '2025-01-31T12:00:00Z', ...pins });
  });

  it('the operator deletes only a superseded proposal nobody reviewed (hivewall-proposal-pruning); a cluster admin is not held to it', async () => {
    const ns = await testNamespace('review');
    const admin = adminKubeConfig().makeApiClient(CustomObjectsApi);
    const operator = (await serviceAccountIdentity(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT)).kubeConfig.makeApiClient(CustomObjectsApi);
    const supersede = (name: string) => admin.patchNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name, body: [{ op: 'add', path: '/status', value: { phase: 'Superseded' } }] });
    const deleteAs = async (api: CustomObjectsApi, name: string, dryRun = false) => {
      try {
        await api.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name, ...(dryRun ? { dryRun: 'All' } : {}) });
        return 'deleted';
      } catch (err) {
        return `${apiStatus(err)} ${apiErrorMessage(err)}`;
      }
    };
    const PRUNING = 'hivewall-proposal-pruning';
    const refusal = `ValidatingAdmissionPolicy '${PRUNING}' with binding '${PRUNING}' denied request: the operator may delete only a superseded PolicyProposal nobody reviewed`;

    // The newest revision (not superseded) stays. (Dry runs until the API server enforces the new policy.)
    await createProposal(ns.name, 'shop-r1');
    const deadline = Date.now() + 30_000;
    while ((await deleteAs(operator, 'shop-r1', true)) === 'deleted' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await deleteAs(operator, 'shop-r1')).toContain(refusal);
    // Superseded and untouched: pruned.
    await supersede('shop-r1');
    expect(await deleteAs(operator, 'shop-r1')).toBe('deleted');
    // Superseded but commented (someone looked at it), or rejected: the record of a review stays.
    await createProposal(ns.name, 'shop-r2');
    await supersede('shop-r2');
    await kubectlOk(['patch', 'policyproposal', 'shop-r2', '-n', ns.name, '--type=merge', '-p', mergePatch({ reviewer: 'hivewall-admin', comment: 'why does cart talk to the mailer?' })]);
    expect(await deleteAs(operator, 'shop-r2')).toContain(refusal);
    await createProposal(ns.name, 'shop-r3');
    const pins = await reviewPins(ns.name, 'shop-r3');
    await kubectlOk(['patch', 'policyproposal', 'shop-r3', '-n', ns.name, '--type=merge', '-p', mergePatch({ decision: 'Rejected', reviewer: 'hivewall-admin', reviewedAt: '2025-01-31T12:00:00Z', ...pins })]);
    await supersede('shop-r3');
    expect(await deleteAs(operator, 'shop-r3')).toContain(refusal);
    // People are judged by RBAC alone.
    expect(await deleteAs(admin, 'shop-r2')).toBe('deleted');
  });

  it('nobody creates a pre-approved proposal, not even a cluster admin; the operator creates Pending ones', async () => {
    const ns = await testNamespace('review');
    const admin = adminKubeConfig().makeApiClient(CustomObjectsApi);
    let denied: unknown;
    try {
      await createProposal(ns.name, 'preapproved', { decision: 'Approved', reviewer: 'hivewall-admin', reviewedAt: '2025-01-31T12:00:00Z' }, admin);
    } catch (err) {
      denied = err;
    }
    expect(apiStatus(denied)).toBe(403);
    expect(apiErrorMessage(denied)).toContain(`ValidatingAdmissionPolicy '${POLICY}' with binding '${POLICY}' denied request: a new PolicyProposal must have spec.review.decision Pending and no reviewer`);

    const operator = await serviceAccountIdentity(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT);
    const asOperator = operator.kubeConfig.makeApiClient(CustomObjectsApi);
    let byOperator: unknown;
    try {
      await createProposal(ns.name, 'self-approved', { decision: 'Approved', reviewer: OPERATOR_USERNAME, reviewedAt: '2025-01-31T12:00:00Z' }, asOperator);
    } catch (err) {
      byOperator = err;
    }
    expect(apiErrorMessage(byOperator)).toContain('nobody creates pre-approved proposals');

    await createProposal(ns.name, 'shop-r1', undefined, asOperator);
    expect(await readReview(ns.name, 'shop-r1')).toEqual({ decision: 'Pending' });
  });
});
