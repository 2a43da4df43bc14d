// `kubectl hivewall report` against the real API server: what the operator writes for a namespace
// mid-way (src/testing/report-scenario.ts, built with the operator's own functions) — a Segmentation
// enforcing revision 1 with audit findings in its status, the TrafficProfile of the learned edges,
// PolicyProposals r1 (approved, enforced) and r2 (pending), r1's policies live, plus a policy
// someone else owns that allows everything (never counted: it is not hivewall's) — read by an
// admin, by a hivewall-viewer (no read access to NetworkPolicies), by a viewer who may read them,
// and by someone with no role. The report of the command is then opened in headless Chromium.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type cytoscape from 'cytoscape';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as kubectlHivewall } from '../../src/cli/kubectl-plugin/main.js';
import type { KubernetesObject } from '../../src/domain/translate/networkpolicy.js';
import type { ReportAssets } from '../../src/report/assets.js';
import { buildReportAssets } from '../../src/report/build-assets.js';
import { clusterScenario, type ClusterScenario } from '../../src/testing/report-scenario.js';
import type { ReportData, ReportEdge } from '../../src/report/data.js';
import { embeddedData } from '../../src/report/testing.js';
import {
  adminKubeConfig, adminKubeconfigPath, bindRole, canIssueUserCertificates, ciliumCrd, createNamespace, kubectlOk, NO_CLIENT_CA, userIdentity,
  type Identity, type TestNamespace,
} from '../harness/index.js';
import { createLivePolicy, createSegmentation, deleteTestNamespace, GROUP, repo, VERSION } from './fixtures.js';

const CHROMIUM = '/usr/bin/chromium';

let assets: ReportAssets;
let ns: TestNamespace;
let learning: TestNamespace;
let empty: TestNamespace;
let scenario: ClusterScenario;
let vera: Identity;
let lena: Identity;
let nora: Identity;
let out: string;
const admin = () => adminKubeconfigPath();
const needsUsers = (ctx: { skip: (condition: boolean, note: string) => void }) => ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
const custom = () => adminKubeConfig().makeApiClient(CustomObjectsApi);

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `kubectl hivewall <args>` in-process as the identity of `kubeconfig`, with the browser bundle built from source. */
async function report(args: readonly string[], kubeconfig: string): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (c: Buffer) => (o += c.toString()));
  stderr.on('data', (c: Buffer) => (e += c.toString()));
  const code = await kubectlHivewall(['report', ...args], { stdout, stderr }, { env: { HOME: '/nonexistent-home', KUBECONFIG: kubeconfig }, reportAssets: assets });
  return { code, stdout: o, stderr: e };
}

const dataOf = async (file: string) => embeddedData(await readFile(file, 'utf8')) as ReportData;

function edge(data: ReportData, client: string, server: string): ReportEdge {
  const id = (key: string) => data.nodes.find((n) => n.key === key)?.id;
  const found = data.edges.find((x) => x.source === id(client) && x.target === id(server));
  if (!found) throw new Error(`no edge ${client} -> ${server} in the report`);
  return found;
}

beforeAll(async () => {
  const built = buildReportAssets(repo).then((a) => { assets = a; });
  // The ClusterRoles for people (hivewall-viewer, hivewall-reviewer) as deploy/ ships them.
  await kubectlOk(['apply', '-f', path.join(repo, 'deploy', 'base', 'user-roles.yaml')]);
  [ns, learning, empty] = await Promise.all([createNamespace('report'), createNamespace('report-learning'), createNamespace('report-empty')]);
  out = await mkdtemp(path.join(tmpdir(), 'hivewall-report-it-'));
  scenario = clusterScenario(ns.name);

  // What the operator wrote.
  await createScenario(scenario);
  await Promise.all([
    ...scenario.live.map((o) => createLivePolicy(o)),
    // Someone else's policy that allows everything: not hivewall's, so it never counts as enforcement.
    createLivePolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'team-allow-all', namespace: ns.name }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{}], egress: [{}] } }),
  ]);
  // A namespace the operator has only started to learn: a Segmentation, no TrafficProfile yet.
  await createSegmentation(learning.name, 'payments', { mode: 'Learn' }, { phase: 'Learning', learning: { windowStart: '2026-11-02T10:00:00Z', flows: 0, edges: 0 } });

  if (canIssueUserCertificates()) {
    [vera, lena, nora] = await Promise.all([userIdentity('vera'), userIdentity('lena'), userIdentity('nora')]);
    await kubectlOk(['create', 'rolebinding', 'viewers', '-n', ns.name, '--clusterrole=hivewall-viewer', `--user=${vera.username}`]);
    // A hand-made role (or hivewall-viewer of an older hivewall): hivewall's objects, not the live policies.
    await bindRole({ namespace: ns.name, subject: lena, rules: [{ apiGroups: ['hivewall.dev'], resources: ['segmentations', 'policyproposals', 'trafficprofiles'], verbs: ['get', 'list'] }] });
  }
  await built;
}, 120_000);

afterAll(async () => {
  if (ns) await kubectlOk(['delete', 'trafficprofiles.hivewall.dev', '--all', '-n', ns.name, '--wait=false']);
  await Promise.all([deleteTestNamespace(ns), deleteTestNamespace(learning), deleteTestNamespace(empty)]);
  if (out) await rm(out, { recursive: true, force: true });
});

describe('kubectl hivewall report', () => {
  it('writes one HTML file with the learned graph, the current proposal, what the live policies enforce and what the audit found', async () => {
    const file = path.join(out, 'admin', 'report.html');
    const r = await report(['--out', file, '-n', ns.name], admin());
    expect(r.stderr).toBe(`note: segmentation ${ns.name}/shop: the audit counted 9 would-deny flows; the status samples 6 of them, and only those are in the report\n`);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`wrote ${file}: 6 workloads, 10 edges (1 proposed, 7 enforced, 2 would-deny)\n`);

    const html = await readFile(file, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    // Nothing to load from anywhere (the Chromium test below checks that no request is made).
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|<img[^>]+src=/);
    expect(html).toContain('default-src &#39;none&#39;');
    const data = embeddedData(html) as ReportData;
    expect(data.summary).toMatchObject({ workloads: 6, entities: 4, edges: 10, policies: 6, lostEvents: 3, byStatus: { proposed: 1, enforced: 7, 'would-deny': 2, unmanaged: 0 } });
    expect(data.source).toBe(`context ${adminKubeConfig().getCurrentContext()} · namespace ${ns.name}: profile shop, proposal shop-r2 (Pending), 4 live NetworkPolicies`);

    const k = scenario.keys;
    // Enforced, with the live rules that allow it; proposed by r2 with its recorded evidence.
    const webApi = edge(data, k.web, k.api);
    expect(webApi.status).toBe('enforced');
    expect(webApi.enforced).toEqual([
      { namespace: ns.name, policy: 'hivewall-web', direction: 'egress', rule: 2, description: 'to pods {app=api} on 8080/TCP' },
      { namespace: ns.name, policy: 'hivewall-api', direction: 'ingress', rule: 1, description: 'from pods {app=web} on 8080/TCP' },
    ]);
    expect(webApi.proposed.map((p) => `${p.policy} ${p.direction} ${p.rule}`)).toEqual(['hivewall-api ingress 1', 'hivewall-web egress 2']);
    expect(webApi).toMatchObject({ port: 8080, protocol: 'TCP', count: 120 });
    // Proposed by r2, not live yet (someone else's allow-all does not count).
    expect(edge(data, k.web, k.cache)).toMatchObject({ status: 'proposed', enforced: [] });
    // The audit's findings, from the status samples.
    expect(edge(data, k.worker, k.db)).toMatchObject({ status: 'would-deny', wouldDeny: { count: 4, reasons: ['audit of shop-r1'] } });
    expect(edge(data, 'en:world:192.0.2.66', k.api)).toMatchObject({ status: 'would-deny', count: 0, wouldDeny: { count: 2 } });
  });

  it('a hivewall-viewer can run it with the live policies; without read access to NetworkPolicies the status\'s word stands in, and a note says so', async (ctx) => {
    needsUsers(ctx);
    // hivewall-viewer reads the live NetworkPolicies: the live objects themselves, and no note about them.
    const file = path.join(out, 'vera.html');
    const live = await report(['--out', file, '-n', ns.name], vera.kubeconfigPath);
    expect(live.code).toBe(0);
    expect(live.stderr).not.toContain('networkpolicies');
    expect(live.stdout).toBe(`wrote ${file}: 6 workloads, 10 edges (1 proposed, 7 enforced, 2 would-deny)\n`);
    expect((await dataOf(file)).source).toContain('4 live NetworkPolicies');

    // lena's role reads hivewall's objects only.
    const lenaFile = path.join(out, 'lena.html');
    const r = await report(['--out', lenaFile, '-n', ns.name], lena.kubeconfigPath);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`wrote ${lenaFile}: 6 workloads, 10 edges (1 proposed, 7 enforced, 2 would-deny)\n`);
    expect(r.stderr).toContain(`note: you may not list networkpolicies.networking.k8s.io in ${ns.name}: enforced edges are judged on the objects of shop-r1, which the Segmentation status reports in sync with the live policies; `
      + 'for the live view, ask for the hivewall-viewer (read-only) or hivewall-reviewer ClusterRole, which read the live NetworkPolicies and CiliumNetworkPolicies (the roles of an older hivewall do not: kubectl apply -k deploy/ updates them)\n');
    expect((await dataOf(lenaFile)).source).toContain('live policies as shop-r1 (per status)');
  });

  it('someone with no hivewall role is told which role to ask for', async (ctx) => {
    needsUsers(ctx);
    const r = await report(['--out', path.join(out, 'nora.html'), '-n', ns.name], nora.kubeconfigPath);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^error: you are not allowed to read segmentations in ${ns.name}: ask for the hivewall-viewer \\(read-only\\) or hivewall-reviewer ClusterRole \\(the API server said: .*User "nora" cannot list resource "segmentations"`));
    expect(existsSync(path.join(out, 'nora.html'))).toBe(false);
  });

  it('says that learning has not produced a profile yet, or that hivewall does not segment the namespace', async () => {
    const noProfile = await report(['--out', path.join(out, 'learning.html'), '-n', learning.name], admin());
    expect(noProfile.code).toBe(1);
    expect(noProfile.stderr).toBe(`error: segmentation ${learning.name}/payments has no TrafficProfile yet: learning has not produced a profile (phase Learning, 0 flows, 0 edges); `
      + `the operator writes one once it has seen traffic in ${learning.name} (kubectl hivewall status -n ${learning.name} shows its progress)\n`);
    const none = await report(['--out', path.join(out, 'empty.html'), '-n', empty.name], admin());
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(`error: no Segmentation in namespace ${empty.name}: hivewall does not segment it, so it has learned nothing to report (kubectl hivewall status -A lists the namespaces it segments)\n`);
  });

  it('a live policy changed by hand no longer counts for the edges it stopped allowing', async () => {
    const db = scenario.live.find((o) => o.metadata.name === 'hivewall-db')!;
    const drifted = structuredClone(db) as KubernetesObject & { spec: { ingress: { ports: { port: number }[] }[] } };
    for (const rule of drifted.spec.ingress) rule.ports[0]!.port = 5433;
    await custom().patchNamespacedCustomObject(
      { group: 'networking.k8s.io', version: 'v1', namespace: ns.name, plural: 'networkpolicies', name: 'hivewall-db', body: { spec: drifted.spec } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    try {
      const file = path.join(out, 'drift.html');
      const r = await report(['--out', file, '-n', ns.name], admin());
      expect(r.stdout).toBe(`wrote ${file}: 6 workloads, 10 edges (2 proposed, 6 enforced, 2 would-deny)\n`);
      expect(edge(await dataOf(file), scenario.keys.api, scenario.keys.db)).toMatchObject({ status: 'proposed', enforced: [] });
    } finally {
      await custom().patchNamespacedCustomObject(
        { group: 'networking.k8s.io', version: 'v1', namespace: ns.name, plural: 'networkpolicies', name: 'hivewall-db', body: { spec: db['spec'] } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    }
  });
});

const reviewers = new Map<string, Promise<Identity>>();
/** The scenario's reviewer as a user of their own, allowed to review proposals (client certificate). */
function scenarioReviewer(name: string): Promise<Identity> {
  let identity = reviewers.get(name);
  if (!identity) {
    identity = (async () => {
      const user = await userIdentity(name);
      await bindRole({ subject: user, rules: [{ apiGroups: [GROUP], resources: ['policyproposals'], verbs: ['get', 'patch'] }] });
      return user;
    })();
    reviewers.set(name, identity);
  }
  return identity;
}

/** The objects of a scenario as the operator writes them (created as cluster admin), reviewed by their reviewer. */
async function createScenario(s: ClusterScenario): Promise<void> {
  const seg = s.segmentation as { spec: Record<string, unknown>; status: Record<string, unknown> };
  await createSegmentation(s.namespace, 'shop', seg.spec, seg.status);
  const { metadata: profileMeta, ...profile } = s.profile as { metadata: { name: string } };
  await custom().createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: s.namespace, plural: 'trafficprofiles', body: { ...profile, metadata: { name: profileMeta.name, labels: { 'hivewall.dev/segmentation': 'shop' } } } });
  for (const raw of s.proposals) {
    const { status, ...proposal } = raw as { status: Record<string, unknown>; metadata: { name: string }; spec: { review: { decision: string; reviewer?: string } } };
    // As on a real cluster: proposals are created Pending (the admission policy refuses pre-approved
    // ones once deploy/ is applied) and a review is written by its reviewer.
    const { review } = proposal.spec;
    await custom().createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: s.namespace, plural: 'policyproposals', body: { ...proposal, spec: { ...proposal.spec, review: { decision: 'Pending' } } } });
    if (review.decision !== 'Pending') {
      const reviewer = await scenarioReviewer(review.reviewer ?? 'rita');
      await reviewer.kubeConfig.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, namespace: s.namespace, plural: 'policyproposals', name: proposal.metadata.name, body: { spec: { review } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    }
    await custom().patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, namespace: s.namespace, plural: 'policyproposals', name: proposal.metadata.name, body: { status } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
}

describe('kubectl hivewall report of a CiliumNetworkPolicy namespace', () => {
  it('judges the live CiliumNetworkPolicies (validated by the real Cilium CRD) the same way', async (ctx) => {
    const crd = ciliumCrd();
    ctx.skip(!crd.installed, crd.reason);
    const cns = await createNamespace('report-cilium');
    try {
      const s = clusterScenario(cns.name, 'CiliumNetworkPolicy');
      await createScenario(s);
      for (const o of s.live) await custom().createNamespacedCustomObject({ group: 'cilium.io', version: 'v2', namespace: cns.name, plural: 'ciliumnetworkpolicies', body: o });
      const file = path.join(out, 'cilium.html');
      const r = await report(['--out', file, '-n', cns.name], admin());
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`wrote ${file}: 6 workloads, 10 edges (1 proposed, 7 enforced, 2 would-deny)\n`);
      const data = await dataOf(file);
      expect(data.policyKind).toBe('CiliumNetworkPolicy');
      expect(data.source).toContain('4 live CiliumNetworkPolicies');
      expect(edge(data, 'en:host', s.keys.web).enforced).toEqual([{ namespace: cns.name, policy: 'hivewall-web', direction: 'ingress', rule: 1, description: 'from entity host on 8080/TCP' }]);
    } finally {
      await kubectlOk(['delete', 'trafficprofiles.hivewall.dev,ciliumnetworkpolicies.cilium.io', '--all', '-n', cns.name, '--wait=false']);
      await deleteTestNamespace(cns);
    }
  });
});

describe.skipIf(!existsSync(CHROMIUM))(existsSync(CHROMIUM) ? 'the report of kubectl hivewall report in headless Chromium' : `headless Chromium — SKIPPED: ${CHROMIUM} not found (apt-get install -y chromium)`, () => {
  it('draws enforced, proposed and would-deny edges apart, and shows an edge\'s live rules and audit finding', async () => {
    const file = path.join(out, 'browser', 'report.html');
    const r = await report(['--out', file, '-n', ns.name], admin());
    expect(r.code).toBe(0);
    const profile = await mkdtemp(path.join(tmpdir(), 'hivewall-report-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 900 },
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
      page.on('pageerror', (err) => problems.push(err.message));
      page.on('request', (q) => requests.push(q.url()));
      await page.goto(pathToFileURL(file).href);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
      const text = async (selector: string) => ((await page.locator(selector).first().textContent()) ?? '').trim();

      expect(await text('[data-stat="edges"] .hw-stat-value')).toBe('10');
      expect(await text('[data-stat="edges"] .hw-stat-note')).toBe('1 proposed · 7 enforced · 2 would deny');
      expect(await text('[data-stat="would-deny"] .hw-stat-value')).toBe('2');

      // Drawn apart: one class and one look per status.
      const drawn = await page.evaluate(() => {
        const cy = (globalThis as unknown as { hivewall: { cy: cytoscape.Core } }).hivewall.cy;
        const look = (status: string) => {
          const edges = cy.edges(`.status-${status}`);
          return { count: edges.length, color: edges.first().style('line-color') as string, style: edges.first().style('line-style') as string };
        };
        return { enforced: look('enforced'), proposed: look('proposed'), wouldDeny: look('would-deny') };
      });
      expect(drawn.enforced.count).toBe(7);
      expect(drawn.proposed.count).toBe(1);
      expect(drawn.wouldDeny).toMatchObject({ count: 2, style: 'dashed' });
      expect(new Set([drawn.enforced.color, drawn.proposed.color, drawn.wouldDeny.color]).size).toBe(3);

      // Hiding the enforced edges leaves the proposed and the would-deny ones.
      await page.click('.hw-chip[data-status="enforced"]');
      expect(await text('[data-testid="shown-edges"]')).toBe('3');
      await page.click('.hw-chip[data-status="enforced"]');
      expect(await text('[data-testid="shown-edges"]')).toBe('10');

      // An enforced edge's evidence names the live rules; a would-deny edge's names the audit finding.
      const ids = await page.evaluate(([web, api, worker, db]) => {
        const h = (globalThis as unknown as { hivewall: { data: ReportData } }).hivewall;
        const id = (key: string) => h.data.nodes.find((n) => n.key === key)!.id;
        const find = (a: string, b: string) => h.data.edges.find((e) => e.source === id(a) && e.target === id(b))!.id;
        return { enforced: find(web!, api!), denied: find(worker!, db!) };
      }, [scenario.keys.web, scenario.keys.api, scenario.keys.worker, scenario.keys.db]);
      await page.evaluate((id) => (globalThis as unknown as { hivewall: { select(id: string): void } }).hivewall.select(id), ids.enforced);
      await page.waitForSelector('#panel [data-field="count"]');
      const panel = await text('#panel');
      expect(panel).toContain('Enforced (live policies)');
      expect(panel).toMatch(new RegExp(`${ns.name}/hivewall-api\\s*ingress rule 1\\s*from pods \\{app=web\\} on 8080/TCP`));
      await page.evaluate((id) => (globalThis as unknown as { hivewall: { select(id: string): void } }).hivewall.select(id), ids.denied);
      await page.waitForSelector('#panel [data-field="denied-count"]');
      expect(await text('#panel [data-field="denied-count"]')).toBe('4');
      expect(await text('#panel')).toContain('audit of shop-r1');

      expect(problems).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
    } finally {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    }
  }, 120_000);
});
