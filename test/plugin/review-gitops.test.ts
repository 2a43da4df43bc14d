// `kubectl hivewall status | diff | explain | export` against the real API server, on the
// policies `hivewall learn` writes for examples/shop (its `main`, in-process, `--namespace shop`).
//
// One namespace plays a shop mid-way: a PolicyProposal shop-r1 with the learned objects and their
// evidence (created Pending by the admin, approved by a hivewall-reviewer through the plugin), and
// live hivewall NetworkPolicies that mostly match it — hivewall-cart differs in one port,
// hivewall-search is not live yet, hivewall-legacy-batch is live but no longer proposed — plus a
// policy someone else owns. The tests run in order: the first one approves shop-r1.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesObject } from '../../src/domain/translate/networkpolicy.js';
import { applyDeploy, removeAdmissionPolicy, waitForPolicy } from '../deploy/deploy-helpers.js';
import {
  adminKubeconfigPath, bindRole, canIssueUserCertificates, createNamespace, kubectlOk, NO_CLIENT_CA, userIdentity,
  type Identity, type TestNamespace,
} from '../harness/index.js';
import {
  createLivePolicy, createSegmentation, createShopProposal, deleteTestNamespace, hw, inNamespace, learnedFile, learnShop, setSegmentationStatus, type LearnedShop,
} from './fixtures.js';

const execFileAsync = promisify(execFile);
const git = async (cwd: string, ...args: string[]) =>
  (await execFileAsync('git', ['-c', 'user.name=Rita Reviewer', '-c', 'user.email=rita@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd })).stdout;

let shop: LearnedShop;
let ns: TestNamespace;
let other: TestNamespace;
let rita: Identity;
let vera: Identity;
let objects: KubernetesObject[];
let shopUid: string;
const timings: Record<string, number> = {};
const admin = () => adminKubeconfigPath();
const needsUsers = (ctx: { skip: (condition: boolean, note: string) => void }) => ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);

/** `obj` with the ingress port of the rule from `app` changed: a drifted live policy or a new revision. */
function withPort(o: KubernetesObject, app: string, port: number): KubernetesObject {
  const copy = structuredClone(o) as KubernetesObject & { spec: { ingress: { from: { podSelector?: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[] } };
  const rule = copy.spec.ingress.find((r) => r.from[0]?.podSelector?.matchLabels['app.kubernetes.io/name'] === app);
  if (!rule) throw new Error(`${o.metadata.name} has no ingress rule from ${app}`);
  rule.ports[0]!.port = port;
  return copy;
}

const legacy = (namespace: string): KubernetesObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'hivewall-legacy-batch', namespace, labels: { 'app.kubernetes.io/managed-by': 'hivewall' } },
  spec: { podSelector: { matchLabels: { app: 'legacy-batch' } }, policyTypes: ['Ingress'] },
});

const condition = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, lastTransitionTime: '2026-11-02T11:00:00Z', observedGeneration: 1 });

beforeAll(async () => {
  let t = Date.now();
  const deployed = applyDeploy().then(() => waitForPolicy()).then(() => { timings['kubectl apply -k deploy/'] = Date.now() - t; });
  shop = await learnShop();
  timings['hivewall learn + evidence'] = Date.now() - t;
  await deployed;
  t = Date.now();
  [ns, other] = await Promise.all([createNamespace('plugin'), createNamespace('plugin-other')]);
  objects = shop.objects.map((o) => inNamespace(o, ns.name));
  // The Segmentation owns its proposals (ownerReference): export counts no other.
  shopUid = await createSegmentation(ns.name, 'shop', { mode: 'Enforce', delivery: 'GitOps' }, {});
  await createShopProposal(ns.name, 1, objects, shop.evidence, [], shopUid);
  await Promise.all([
    ...objects.filter((o) => o.metadata.name !== 'hivewall-search').map((o) => createLivePolicy(o.metadata.name === 'hivewall-cart' ? withPort(o, 'checkout', 8081) : o)),
    createLivePolicy(legacy(ns.name)),
    // Someone else's policy: not hivewall's, never compared or exported.
    createLivePolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'team-allow-probes', namespace: ns.name }, spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] } }),
  ]);
  if (canIssueUserCertificates()) {
    [rita, vera] = await Promise.all([userIdentity('rita', ['security-reviewers']), userIdentity('vera')]);
    await kubectlOk(['create', 'rolebinding', 'reviewers', '-n', ns.name, '--clusterrole=hivewall-reviewer', `--user=${rita.username}`]);
    await kubectlOk(['create', 'rolebinding', 'viewers', '-n', ns.name, '--clusterrole=hivewall-viewer', `--user=${vera.username}`]);
  }
  timings['namespace, proposal, live policies, users'] = Date.now() - t;
  process.stderr.write(`[test/plugin] ${Object.entries(timings).map(([k, v]) => `${k} ${v} ms`).join(', ')}\n`);
}, 120_000);

afterAll(async () => {
  await Promise.all([deleteTestNamespace(ns), deleteTestNamespace(other)]);
  await removeAdmissionPolicy();
});

/** The line explain and diff print under their first: the content digest and uid `approve --digest` pins. */
const contentLine = (name: string, namespace: string) =>
  new RegExp(`^content (sha256:[0-9a-f]{64}) \\(uid \\S+\\): to approve exactly this, kubectl hivewall approve ${name} -n ${namespace} --digest \\1$`);

describe('kubectl hivewall status', () => {
  it('a reviewer approves shop-r1 through the plugin; status shows where each Segmentation stands', async (ctx) => {
    needsUsers(ctx);
    const approve = await hw(['approve', 'shop-r1', '-n', ns.name, '--comment', 'matches the architecture diagram'], rita.kubeconfigPath);
    expect(approve).toMatchObject({ code: 0, stderr: '' });

    // What the operator writes next (it does not run here): auditing shop-r1, promotion refused.
    const lastNewEdge = new Date(Date.now() - 12 * 60_000).toISOString();
    const status = {
      observedGeneration: 1,
      phase: 'Auditing',
      conditions: [
        condition('Ready', 'True', 'Reconciled', 'phase Auditing'),
        condition('AuditClean', 'False', 'WouldDeny', '3 live flows would be denied (allowed: 0)'),
        condition('Enforced', 'False', 'PromotionRefused', 'promotion refused: 3 live flows would be denied, more than the 0 allowed'),
        condition('Degraded', 'False', 'AsExpected', 'flow sources healthy'),
      ],
      learning: { windowStart: '2026-11-02T10:00:00Z', flows: 4438, edges: 58, lastNewEdge, lostEvents: 24 },
      proposal: { name: 'shop-r1', revision: 1, decision: 'Approved' },
      approvedProposal: 'shop-r1',
      audit: { since: '2026-11-02T11:00:00Z', flows: 1200, wouldDeny: 3, samples: [{ time: '2026-11-02T11:20:00Z', client: 'shop/Deployment/search', server: 'shop/StatefulSet/catalog-db', port: 5432, protocol: 'TCP', count: 3 }] },
      enforcement: { inSync: false },
    };
    await setSegmentationStatus(ns.name, 'shop', status);
    await createSegmentation(other.name, 'payments', { mode: 'Learn' }, {
      phase: 'Degraded',
      conditions: [condition('Ready', 'True', 'Reconciled', 'phase Learning'), condition('Degraded', 'True', 'FlowSourceError', 'flow file /var/run/cilium/hubble/events.log does not exist (yet)')],
      learning: { flows: 0, edges: 0 },
    });

    const table = await hw(['status', '-n', ns.name], rita.kubeconfigPath);
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    const pad = (s: string, w: number) => s.padEnd(Math.max(w, s.length));
    const w = ns.name.length;
    expect(table.stdout).toBe([
      `${pad('NAMESPACE', w)}   NAME   MODE      PHASE      FLOWS   EDGES   LAST NEW EDGE   PROPOSAL             WOULD-DENY   ENFORCED`,
      `${pad(ns.name, 9)}   shop   Enforce   Auditing   4438    58      12m ago         shop-r1 (Approved)   3            no (PromotionRefused)`,
      '    AuditClean=False WouldDeny: 3 live flows would be denied (allowed: 0)',
      '    Enforced=False PromotionRefused: promotion refused: 3 live flows would be denied, more than the 0 allowed',
      '',
    ].join('\n'));

    // The raw status, for scripts.
    const json = await hw(['status', '-n', ns.name, '-o', 'json'], vera.kubeconfigPath);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      apiVersion: 'v1', kind: 'List',
      items: [{ apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', metadata: { name: 'shop', namespace: ns.name }, status }],
    });
    const yaml = await hw(['status', '-n', ns.name, '-o', 'yaml'], vera.kubeconfigPath);
    expect(load(yaml.stdout)).toEqual(JSON.parse(json.stdout));

    // Every namespace (as admin): a Degraded Segmentation says why under its row.
    const all = await hw(['status', '-A'], admin());
    expect(all.code).toBe(0);
    const lines = all.stdout.split('\n');
    const row = lines.findIndex((l) => l.startsWith(`${other.name} `));
    expect(lines[row]?.split(/\s{3,}/)).toEqual([other.name, 'payments', 'Learn', 'Degraded', '0', '0', '<none>', '<none>', '<none>', '<none>']);
    expect(lines[row + 1]).toBe('    Degraded=True FlowSourceError: flow file /var/run/cilium/hubble/events.log does not exist (yet)');
    expect(lines.some((l) => l.startsWith(`${ns.name} `))).toBe(true);

    // A viewer in one namespace cannot list all of them; the message says what to do.
    const denied = await hw(['status', '-A'], vera.kubeconfigPath);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^error: you are not allowed to list segmentations in all namespaces: use -n <namespace>, or ask for a cluster-wide binding of hivewall-viewer \(the API server said: .*User "vera" cannot list resource "segmentations"/);
    const stranger = await hw(['status', '-n', other.name], vera.kubeconfigPath);
    expect(stranger.stderr).toContain(`error: you are not allowed to read segmentations in ${other.name}: ask for the hivewall-viewer (read-only) or hivewall-reviewer ClusterRole`);
  });
});

describe('kubectl hivewall diff', () => {
  const cartHunk = [
    '===================================================================',
    '--- live/NetworkPolicy/hivewall-cart',
    '+++ proposed/NetworkPolicy/hivewall-cart',
    '@@ -31,7 +31,7 @@',
    '               app.kubernetes.io/name: checkout',
    '       ports:',
    '         - protocol: TCP',
    '-          port: 8081',
    '+          port: 8080',
    '     - from:',
    '         - podSelector:',
    '             matchLabels:',
  ];

  it('shows exactly what approving shop-r1 changes against the live policies now', async (ctx) => {
    needsUsers(ctx);
    const search = learnedFile(shop, 'hivewall-search.yaml', ns.name).trimEnd().split('\n');
    const expected = [
      ...cartHunk,
      '===================================================================',
      '--- /dev/null',
      '+++ proposed/NetworkPolicy/hivewall-search',
      `@@ -0,0 +1,${search.length} @@`,
      ...search.map((l) => `+${l}`),
      '===================================================================',
      '--- live/NetworkPolicy/hivewall-legacy-batch',
      '+++ /dev/null',
      '@@ -1,13 +0,0 @@',
      '-apiVersion: networking.k8s.io/v1',
      '-kind: NetworkPolicy',
      '-metadata:',
      '-  name: hivewall-legacy-batch',
      `-  namespace: ${ns.name}`,
      '-  labels:',
      '-    app.kubernetes.io/managed-by: hivewall',
      '-spec:',
      '-  podSelector:',
      '-    matchLabels:',
      '-      app: legacy-batch',
      '-  policyTypes:',
      '-    - Ingress',
      '',
    ].join('\n');
    const diff = await hw(['diff', 'shop-r1', '-n', ns.name], rita.kubeconfigPath);
    expect(diff.stderr.split('\n')).toEqual([`policyproposal ${ns.name}/shop-r1 against the live policies in ${ns.name}: 1 added, 1 changed, 1 removed, 12 unchanged`, expect.stringMatching(contentLine('shop-r1', ns.name)), '']);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toBe(expected);

    // Colour only for a terminal, and never with NO_COLOR.
    const tty = await hw(['diff', 'shop-r1', '-n', ns.name], rita.kubeconfigPath, { tty: true });
    expect(tty.stdout).toContain('\u001b[31m-          port: 8081\u001b[0m\n\u001b[32m+          port: 8080\u001b[0m\n');
    expect(tty.stdout).toContain('\u001b[36m@@ -31,7 +31,7 @@\u001b[0m');
    // eslint-disable-next-line no-control-regex
    expect(tty.stdout.replace(/\u001b\[[0-9;]*m/g, '')).toBe(expected);
    const noColor = await hw(['diff', 'shop-r1', '-n', ns.name], rita.kubeconfigPath, { tty: true, env: { NO_COLOR: '1' } });
    expect(noColor.stdout).toBe(expected);

    // --stored: the diff recorded when the proposal was written (nothing was live then).
    const stored = await hw(['diff', 'policyproposal/shop-r1', '-n', ns.name, '--stored'], rita.kubeconfigPath);
    expect(stored.code).toBe(0);
    expect(stored.stderr.split('\n')).toEqual([`policyproposal ${ns.name}/shop-r1 against the live policies when it was written: 14 added, 0 changed, 0 removed, 0 unchanged`, expect.stringMatching(contentLine('shop-r1', ns.name)), '']);
    expect(stored.stdout.match(/^\+\+\+ proposed\//gm)).toHaveLength(14);
    const cart = learnedFile(shop, 'hivewall-cart.yaml', ns.name).trimEnd().split('\n');
    expect(stored.stdout).toContain(`+++ proposed/NetworkPolicy/hivewall-cart\n@@ -0,0 +1,${cart.length} @@\n${cart.map((l) => `+${l}\n`).join('')}`);
  });

  it('says which role is missing and which proposals exist', async (ctx) => {
    needsUsers(ctx);
    // vera (hivewall-viewer) reads the live policies too: the same diff as the reviewer's.
    const viewer = await hw(['diff', 'shop-r1', '-n', ns.name], vera.kubeconfigPath);
    expect(viewer.code).toBe(0);
    expect(viewer.stderr.split('\n')).toEqual([`policyproposal ${ns.name}/shop-r1 against the live policies in ${ns.name}: 1 added, 1 changed, 1 removed, 12 unchanged`, expect.stringMatching(contentLine('shop-r1', ns.name)), '']);
    // hana's hand-made role reads proposals but not NetworkPolicies.
    const hana = await userIdentity('hana');
    await bindRole({ namespace: ns.name, subject: hana, rules: [{ apiGroups: ['hivewall.dev'], resources: ['segmentations', 'policyproposals', 'trafficprofiles'], verbs: ['get', 'list'] }] });
    const denied = await hw(['diff', 'shop-r1', '-n', ns.name], hana.kubeconfigPath);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(new RegExp(`^error: you are not allowed to list networkpolicies.networking.k8s.io in ${ns.name}: ask for the hivewall-viewer \\(read-only\\) or hivewall-reviewer ClusterRole, which read the live NetworkPolicies and CiliumNetworkPolicies \\(the roles of an older hivewall do not: kubectl apply -k deploy/ updates them\\); or print the diff stored in the proposal: kubectl hivewall diff shop-r1 -n ${ns.name} --stored \\(the API server said: .*User "hana" cannot list resource "networkpolicies"`));
    expect((await hw(['diff', 'shop-r1', '-n', ns.name, '--stored'], hana.kubeconfigPath)).code).toBe(0);

    const missing = await hw(['diff', 'shop-r9', '-n', ns.name], rita.kubeconfigPath);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toBe(`error: policyproposal "shop-r9" not found in namespace ${ns.name}; proposals there: shop-r1 (Approved, shop r1)\n`);
    const none = await hw(['explain', 'shop-r1', '-n', other.name], admin());
    expect(none.stderr).toBe(`error: policyproposal "shop-r1" not found: there are no PolicyProposals in namespace ${other.name} (kubectl hivewall proposals -A lists every namespace)\n`);
  });
});

describe('kubectl hivewall explain', () => {
  it('summarizes the evidence per policy', async (ctx) => {
    needsUsers(ctx);
    const r = await hw(['explain', 'shop-r1', '-n', ns.name], vera.kubeconfigPath);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`policyproposal ${ns.name}/shop-r1: segmentation shop, revision 1, 14 NetworkPolicy objects, Approved by rita`);
    expect(lines[1]).toMatch(contentLine('shop-r1', ns.name));
    expect(lines[3]?.split(/\s{3,}/)).toEqual(['POLICY', 'WORKLOAD', 'INGRESS RULES', 'EGRESS RULES', 'EDGES', 'FLOWS', 'ALLOWANCES']);
    const rows = new Map(lines.slice(4, 18).map((l) => { const cells = l.split(/\s{3,}/); return [cells[0], cells.slice(1)]; }));
    expect(rows.size).toBe(14);
    expect(rows.get('hivewall-default-deny')).toEqual(['(namespace default deny)', '0', '0', '0', '0', '<none>']);
    expect(rows.get('hivewall-cart')).toEqual(['Deployment/cart', '3', '2', '5', '140', 'dns']);
    expect(rows.get('hivewall-frontend')).toEqual(['Deployment/frontend', '2', '7', '19', '740', 'dns,public-ingress']);
    // The counts are the recorded evidence: rules per direction, edges and flows behind them.
    for (const [policy, cells] of rows) {
      const rules = shop.evidence.filter((e) => e.policy === policy);
      expect(cells.slice(1, 5), policy).toEqual([
        String(rules.filter((e) => e.direction === 'ingress').length), String(rules.filter((e) => e.direction === 'egress').length),
        String(rules.reduce((n, e) => n + e.edges.length, 0)), String(rules.reduce((n, e) => n + e.edges.reduce((m, x) => m + x.count, 0), 0)),
      ]);
    }
    expect(r.stdout).toContain('\nleft out (no policy or rule for them):\n  shop/Pod/debug-shell: no unique selector (bare pod)\n');
    expect(r.stdout.endsWith(`\nthe evidence behind each rule: kubectl hivewall explain shop-r1 hivewall-cart -n ${ns.name}\n`)).toBe(true);
  });

  it('shows the edges behind each rule of a policy, and says plainly what is allowed beyond observation', async (ctx) => {
    needsUsers(ctx);
    const cart = await hw(['explain', 'shop-r1', 'hivewall-cart', '-n', ns.name], vera.kubeconfigPath);
    expect(cart).toMatchObject({ code: 0, stderr: '' });
    expect(cart.stdout.split('\n')[1]).toMatch(contentLine('shop-r1', ns.name));
    expect(cart.stdout.split('\n').filter((_, i) => i !== 1).join('\n')).toBe([
      `NetworkPolicy hivewall-cart (Deployment/cart) in policyproposal ${ns.name}/shop-r1`,
      '',
      'ingress/0: from monitoring/StatefulSet/prometheus on 9090/TCP',
      '  observed: 1 edge, 12 flows',
      '    monitoring/StatefulSet/prometheus → shop/Deployment/cart   9090/TCP   12 flows   first seen 2026-11-02T10:01:08Z   last seen 2026-11-02T10:55:38Z',
      '',
      'ingress/1: from shop/Deployment/checkout on 8080/TCP',
      '  observed: 1 edge, 24 flows',
      '    shop/Deployment/checkout → shop/Deployment/cart   8080/TCP   24 flows   first seen 2026-11-02T10:00:17Z   last seen 2026-11-02T10:58:12Z',
      '',
      'ingress/2: from shop/Deployment/frontend on 8080/TCP',
      '  observed: 1 edge, 66 flows',
      '    shop/Deployment/frontend → shop/Deployment/cart   8080/TCP   66 flows   first seen 2026-11-02T10:00:17Z   last seen 2026-11-02T10:59:54Z',
      '',
      'egress/0: to kube-system/Deployment/coredns on 53/TCP, 53/UDP',
      '  allowed beyond observation because the Segmentation asks for it: dns (spec.allow.dns keeps name resolution working: 53/UDP and 53/TCP to the observed DNS servers)',
      '  observed: 1 edge, 18 flows',
      '    shop/Deployment/cart → kube-system/Deployment/coredns   53/UDP   18 flows   first seen 2026-11-02T10:01:10Z   last seen 2026-11-02T10:58:48Z',
      '',
      'egress/1: to shop/StatefulSet/cart-redis on 6379/TCP',
      '  observed: 1 edge, 20 flows',
      '    shop/Deployment/cart → shop/StatefulSet/cart-redis   6379/TCP   20 flows   first seen 2026-11-02T10:01:10Z   last seen 2026-11-02T10:58:48Z',
      '',
    ].join('\n'));

    // One rule: public ingress is an allowance, with the world addresses actually seen.
    const rule = await hw(['explain', 'shop-r1', 'hivewall-frontend/ingress/1', '-n', ns.name], vera.kubeconfigPath);
    expect(rule.code).toBe(0);
    const ruleLines = rule.stdout.split('\n');
    expect(ruleLines[1]).toMatch(contentLine('shop-r1', ns.name));
    expect(ruleLines.slice(3, 6)).toEqual([
      'ingress/1: from public (any address outside the cluster) on 8080/TCP',
      '  allowed beyond observation because the Segmentation asks for it: public-ingress (spec.allow.publicIngress: a workload behind a LoadBalancer or NodePort that was reached from outside accepts any outside address on its serving port)',
      '  observed: 10 edges, 148 flows',
    ]);
    expect(ruleLines.slice(6).filter((l) => l !== '').every((l) => /^ {4}world \d+\.\d+\.\d+\.\d+ → shop\/Deployment\/frontend +8080\/TCP +\d+ flows +first seen 2026-11-02T10:\d\d:\d\dZ {3}last seen 2026-11-02T10:\d\d:\d\dZ$/.test(l))).toBe(true);

    const egress = await hw(['explain', 'shop-r1', 'hivewall-frontend/egress', '-n', ns.name], vera.kubeconfigPath);
    expect(egress.stdout.match(/^egress\/\d+:/gm)).toEqual(['egress/0:', 'egress/1:', 'egress/2:', 'egress/3:', 'egress/4:', 'egress/5:', 'egress/6:']);
    expect(egress.stdout).not.toContain('ingress/');

    const deny = await hw(['explain', 'shop-r1', 'hivewall-default-deny', '-n', ns.name], vera.kubeconfigPath);
    expect(deny.stdout).toContain(`no rule: it selects every pod in ${ns.name} and allows nothing (namespace default deny)`);

    const badPolicy = await hw(['explain', 'shop-r1', 'hivewall-kart', '-n', ns.name], vera.kubeconfigPath);
    expect(badPolicy.code).toBe(1);
    expect(badPolicy.stderr).toMatch(new RegExp(`^error: policy "hivewall-kart" is not in policyproposal ${ns.name}/shop-r1; its policies: hivewall-default-deny, hivewall-cart, hivewall-cart-redis, `));
    const badIndex = await hw(['explain', 'shop-r1', 'hivewall-cart/egress/7', '-n', ns.name], vera.kubeconfigPath);
    expect(badIndex.stderr).toBe('error: hivewall-cart has no egress/7 rule: its egress rules are egress/0, egress/1\n');
    const badSyntax = await hw(['explain', 'shop-r1', 'hivewall-cart/sideways', '-n', ns.name], vera.kubeconfigPath);
    expect(badSyntax.code).toBe(2);
  });
});

describe('kubectl hivewall export', () => {
  it('--from enforced writes the live hivewall policies in the same layout', async (ctx) => {
    needsUsers(ctx);
    const out = await mkdtemp(path.join(tmpdir(), 'hivewall-enforced-'));
    const r = await hw(['export', '--out', out, '-n', ns.name, '--from', 'enforced'], rita.kubeconfigPath);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const dir = path.join(out, ns.name);
    const files = (await readdir(dir)).sort();
    // Live: the learned policies except hivewall-search, plus hivewall-legacy-batch; not team-allow-probes.
    expect(files).toEqual([...shop.files.keys(), 'hivewall-legacy-batch.yaml'].filter((f) => f !== 'hivewall-search.yaml').sort());
    // NetworkPolicies come back in the Go struct's key order, with server-set metadata: the files are
    // still byte-identical to learn's for the policies that are live unchanged.
    for (const name of files.filter((f) => !['hivewall-cart.yaml', 'hivewall-legacy-batch.yaml', 'kustomization.yaml'].includes(f))) {
      expect(await readFile(path.join(dir, name), 'utf8'), name).toBe(learnedFile(shop, name, ns.name));
    }
    expect(await readFile(path.join(dir, 'hivewall-cart.yaml'), 'utf8')).toBe(learnedFile(shop, 'hivewall-cart.yaml', ns.name).replace(/(checkout\n {6}ports:\n {8}- protocol: TCP\n {10}port: )8080/, '$18081'));

    const noPolicies = await hw(['export', '--out', out, '-n', other.name, '--from', 'enforced'], admin());
    expect(noPolicies.code).toBe(1);
    expect(noPolicies.stderr).toBe(`error: nothing to export: no live NetworkPolicy or CiliumNetworkPolicy labelled app.kubernetes.io/managed-by=hivewall in namespace ${other.name} (kubectl hivewall status -n ${other.name} shows what is enforced)\n`);
  });

  it('writes the approved policies byte-identical to hivewall learn; a re-run after one change shows only that change in git', async (ctx) => {
    needsUsers(ctx);
    const repo = await mkdtemp(path.join(tmpdir(), 'hivewall-gitops-'));
    await git(repo, 'init', '-q');
    const out = path.join(repo, 'clusters', 'prod');
    const dir = path.join(out, ns.name);
    // Files hivewall did not write stay as they are.
    await execFileAsync('mkdir', ['-p', dir]);
    await writeFile(path.join(dir, 'README.md'), 'owned by the shop team\n');
    await writeFile(path.join(dir, 'team-allow-probes.yaml'), 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: team-allow-probes\n');

    const first = await hw(['export', '--out', out, '-n', ns.name], rita.kubeconfigPath);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout.split('\n')[0]).toBe(`${ns.name}: shop-r1 (Approved by rita) → ${dir}: 14 policies; 15 written, 0 unchanged, 0 removed`);
    // Byte-identical to what `hivewall learn` wrote for the same policies (proposal objects come
    // back from the API server with their keys sorted).
    const written = (await readdir(dir)).sort();
    expect(written).toEqual([...shop.files.keys(), 'README.md', 'team-allow-probes.yaml'].sort());
    for (const name of shop.files.keys()) expect(await readFile(path.join(dir, name), 'utf8'), name).toBe(learnedFile(shop, name, ns.name));
    await git(repo, 'add', '-A');
    await git(repo, 'commit', '-q', '-m', 'hivewall: shop-r1');

    // Again, nothing changed: nothing written, the work tree stays clean.
    const again = await hw(['export', '--out', out, '-n', ns.name], rita.kubeconfigPath);
    expect(again.stdout).toBe(`${ns.name}: shop-r1 (Approved by rita) → ${dir}: 14 policies; 15 files unchanged\n`);
    expect(await git(repo, 'status', '--porcelain')).toBe('');

    // A new revision changes one policy; until it is approved, export stays on shop-r1 and says so.
    const r2 = objects.map((o) => (o.metadata.name === 'hivewall-catalog' ? withPort(o, 'frontend', 8443) : o));
    await createShopProposal(ns.name, 2, r2, shop.evidence, objects, shopUid);
    const pending = await hw(['export', '--out', out, '-n', ns.name], rita.kubeconfigPath);
    expect(pending.stderr).toBe(`note: ${ns.name}: shop-r2 (Pending) is newer than the approved shop-r1: review it, or pass --include-proposed to export it\n`);
    expect(await git(repo, 'status', '--porcelain')).toBe('');
    // --include-proposed exports it before the decision (for a pull request to review).
    const preview = await mkdtemp(path.join(tmpdir(), 'hivewall-preview-'));
    const proposed = await hw(['export', '--out', preview, '-n', ns.name, '--include-proposed'], rita.kubeconfigPath);
    expect(proposed.stderr).toBe(`note: ${ns.name}: shop-r2 is not approved yet (Pending): exported because of --include-proposed\n`);
    expect(await readFile(path.join(preview, ns.name, 'hivewall-catalog.yaml'), 'utf8')).toContain('port: 8443');

    expect((await hw(['approve', 'shop-r2', '-n', ns.name], rita.kubeconfigPath)).code).toBe(0);
    const changed = await hw(['export', '--out', out, '-n', ns.name], rita.kubeconfigPath);
    expect(changed.stdout).toBe(`${ns.name}: shop-r2 (Approved by rita) → ${dir}: 14 policies; 1 written, 14 unchanged, 0 removed\n  wrote   ${ns.name}/hivewall-catalog.yaml\n`);
    expect(await git(repo, 'diff', '--stat')).toBe(` clusters/prod/${ns.name}/hivewall-catalog.yaml | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n`);
    expect(await git(repo, 'diff', '-U0', '--no-color')).toContain('\n-          port: 8080\n+          port: 8443\n');

    // GitOps delivery: the repository is applied as is (kubectl apply -k, as Flux or Argo CD
    // would); the live policies then match the approved proposal — only the stale one is left.
    await kubectlOk(['apply', '-k', dir]);
    const after = await hw(['diff', 'shop-r2', '-n', ns.name], rita.kubeconfigPath);
    expect(after.stderr.split('\n')).toEqual([`policyproposal ${ns.name}/shop-r2 against the live policies in ${ns.name}: 0 added, 0 changed, 1 removed, 14 unchanged`, expect.stringMatching(contentLine('shop-r2', ns.name)), '']);
    expect(after.stdout.split('\n').slice(0, 4)).toEqual(['===================================================================', '--- live/NetworkPolicy/hivewall-legacy-batch', '+++ /dev/null', '@@ -1,13 +0,0 @@']);
  });
});
