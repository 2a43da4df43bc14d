// `kubectl hivewall report` without a cluster: the reads, messages, notes and the file it writes,
// against a small stand-in for the API server (plain HTTP, the objects of src/testing/report-scenario.ts).
// The real API server, RBAC and a browser: test/plugin/report.test.ts.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureRun, standInKubeconfig } from '../../testing/cli-run.js';
import { clusterScenario } from '../../testing/report-scenario.js';
import type { ReportData } from '../../report/data.js';
import { embeddedData, STUB_ASSETS } from '../../report/testing.js';
import { main } from './main.js';
import { summaryLine } from './report.js';

const NS = 'shop';
const scenario = clusterScenario(NS);

interface FakeApi {
  /** Path prefix → items, or an HTTP status to answer with. */
  routes: Map<string, unknown[] | number>;
  readonly requests: string[];
}

const api: FakeApi = { routes: new Map(), requests: [] };
let server: Server;
let kubeconfig: string;
let dir: string;

const hw = (kind: string, namespace = NS) => `/apis/hivewall.dev/v1alpha1/namespaces/${namespace}/${kind}`;
const NETPOL = `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`;
const only = (...entries: [string, unknown[] | number][]) => new Map<string, unknown[] | number>(entries);

function defaultRoutes(): Map<string, unknown[] | number> {
  return new Map<string, unknown[] | number>([
    [hw('segmentations'), [scenario.segmentation]],
    [hw('trafficprofiles'), [scenario.profile]],
    [hw('policyproposals'), [...scenario.proposals]],
    [NETPOL, [...scenario.live]],
  ]);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    api.requests.push(`${req.method} ${url.pathname}${url.search}`);
    const route = api.routes.get(url.pathname);
    if (route === undefined || typeof route === 'number') {
      const code = route ?? 404;
      const reason = code === 403 ? 'Forbidden' : 'NotFound';
      const message = code === 403 ? `${url.pathname.split('/').pop()} is forbidden: User "vera" cannot list resource` : 'the server could not find the requested resource';
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: {}, items: route }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  dir = await mkdtemp(path.join(tmpdir(), 'hivewall-report-plugin-'));
  kubeconfig = await standInKubeconfig(`http://127.0.0.1:${port}`, NS);
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});


async function run(args: string[], routes = defaultRoutes(), config = kubeconfig): Promise<{ code: number; out: string; err: string }> {
  api.routes = routes;
  api.requests.length = 0;
  return captureRun((io) => main(args, io, { env: { HOME: '/nonexistent-home', KUBECONFIG: config }, reportAssets: STUB_ASSETS }));
}

describe('kubectl hivewall report', () => {
  it('writes the report of the namespace and prints one line with the counts', async () => {
    const file = path.join(dir, 'nested', 'deeper', 'report.html');
    const r = await run(['report', '--out', file]);
    expect(r.err).toBe('note: segmentation shop/shop: the audit counted 9 would-deny flows; the status samples 6 of them, and only those are in the report\n');
    expect(r.code).toBe(0);
    expect(r.out).toBe(`wrote ${file}: 6 workloads, 10 edges (1 proposed, 7 enforced, 2 would-deny)\n`);
    const data = embeddedData(await readFile(file, 'utf8')) as ReportData;
    expect(data.summary).toMatchObject({ workloads: 6, edges: 10, policies: 6, byStatus: { proposed: 1, enforced: 7, 'would-deny': 2, unmanaged: 0 } });
    expect(data.title).toBe('hivewall report: namespace shop');
    expect(data.source).toBe('context one · namespace shop: profile shop, proposal shop-r2 (Pending), 4 live NetworkPolicies');
    // Only the Segmentation's flavor is read, and only hivewall's policies.
    expect(api.requests).toContain(`GET ${NETPOL}?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dhivewall`);
    expect(api.requests.some((q) => q.includes('ciliumnetworkpolicies'))).toBe(false);

    // The same cluster state gives the same bytes.
    const again = path.join(dir, 'again.html');
    await run(['report', '--out', again]);
    expect(await readFile(again, 'utf8')).toBe(await readFile(file, 'utf8'));
  });

  it('without read access to live policies: judged on the approved proposal the status says is in sync, and a note says so', async () => {
    const routes = defaultRoutes();
    routes.set(NETPOL, 403);
    const file = path.join(dir, 'viewer.html');
    const r = await run(['report', '--out', file], routes);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`wrote ${file}: 6 workloads, 10 edges (1 proposed, 7 enforced, 2 would-deny)\n`);
    expect(r.err).toContain('note: you may not list networkpolicies.networking.k8s.io in shop: enforced edges are judged on the objects of shop-r1, which the Segmentation status reports in sync with the live policies; for the live view, ask for the hivewall-viewer (read-only) or hivewall-reviewer ClusterRole, which read the live NetworkPolicies and CiliumNetworkPolicies (the roles of an older hivewall do not: kubectl apply -k deploy/ updates them)\n');
  });

  it('without read access to live policies and no word from the status: nothing is shown as enforced', async () => {
    const routes = defaultRoutes();
    routes.set(NETPOL, 403);
    const seg = structuredClone(scenario.segmentation) as { status: { enforcement: { inSync: boolean } } };
    seg.status.enforcement.inSync = false;
    routes.set(hw('segmentations'), [seg]);
    const file = path.join(dir, 'unknown.html');
    const r = await run(['report', '--out', file], routes);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`wrote ${file}: 6 workloads, 10 edges (8 proposed, 0 enforced, 2 would-deny)\n`);
    expect(r.err).toContain('note: you may not list networkpolicies.networking.k8s.io in shop: the report shows no edge of shop as enforced;');
    const data = embeddedData(await readFile(file, 'utf8')) as ReportData;
    expect(data.edges.every((e) => e.enforced === undefined)).toBe(true);
  });

  it('shows another revision with --proposal', async () => {
    const file = path.join(dir, 'r1.html');
    const r = await run(['report', '--out', file, '--proposal', 'policyproposal/shop-r1']);
    expect(r.code).toBe(0);
    const data = embeddedData(await readFile(file, 'utf8')) as ReportData;
    expect(data.summary.policies).toBe(4);
    expect(data.source).toContain('proposal shop-r1 (Approved)');
  });

  it.each<[string, string[], Map<string, unknown[] | number> | undefined, number, RegExp]>([
    ['no Segmentation', [], only([hw('segmentations'), []], [hw('trafficprofiles'), []], [hw('policyproposals'), []]), 1,
      /^error: no Segmentation in namespace shop: hivewall does not segment it, so it has learned nothing to report \(kubectl hivewall status -A lists the namespaces it segments\)\n$/],
    ['no TrafficProfile yet', [], only([hw('segmentations'), [{ ...scenario.segmentation, status: { phase: 'Learning', learning: { flows: 0, edges: 0 } } }]], [hw('trafficprofiles'), []], [hw('policyproposals'), []]), 1,
      /^error: segmentation shop\/shop has no TrafficProfile yet: learning has not produced a profile \(phase Learning, 0 flows, 0 edges\); the operator writes one once it has seen traffic in shop \(kubectl hivewall status -n shop shows its progress\)\n$/],
    ['forbidden', [], only([hw('segmentations'), 403]), 1,
      /^error: you are not allowed to read segmentations in shop: ask for the hivewall-viewer \(read-only\) or hivewall-reviewer ClusterRole \(the API server said: segmentations is forbidden: User "vera" cannot list resource\)\n$/],
    ['forbidden to read profiles', [], only([hw('segmentations'), [scenario.segmentation]], [hw('trafficprofiles'), 403]), 1,
      /^error: you are not allowed to read trafficprofiles in shop: ask for the hivewall-viewer \(read-only\) or hivewall-reviewer ClusterRole/],
    ['hivewall not installed', [], only(), 1,
      /^error: the Segmentation API \(segmentations\.hivewall\.dev\/v1alpha1\) is not installed on http:\/\/127\.0\.0\.1:\d+: install hivewall with kubectl apply -k deploy\/\n$/],
    ['an unknown --proposal', ['--proposal', 'shop-r9'], undefined, 1,
      /^error: policyproposal "shop-r9" not found in namespace shop; proposals there: shop-r1 \(Approved, shop r1\), shop-r2 \(Pending, shop r2\)\n$/],
    ['--proposal with -A', ['--proposal', 'shop-r1', '-A'], undefined, 2,
      /^error: --proposal names a proposal of one namespace: use it with -n <namespace>, not with -A\n$/],
  ])('%s: one line that says what is wrong and what to do', async (_name, extra, routes, code, message) => {
    const r = await run(['report', '--out', path.join(dir, 'never.html'), ...extra], routes);
    expect(r.err).toMatch(message);
    expect(r.code).toBe(code);
    expect(r.out).toBe('');
  });

  it('names an invalid Segmentation instead of saying there is none', async () => {
    const bad = { ...scenario.segmentation, spec: { mode: 'Yolo' } };
    const r = await run(['report', '--out', path.join(dir, 'never.html')], only([hw('segmentations'), [bad]], [hw('trafficprofiles'), [scenario.profile]], [hw('policyproposals'), []]));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^note: Segmentation shop\/shop is not valid \(spec\.mode: .*\): it is left out\nerror: no valid Segmentation in namespace shop \(see the note above\): /);
  });

  it('needs --out', async () => {
    const r = await run(['report']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("required option '--out <file>' not specified");
  });

  it('says when the cluster cannot be reached', async () => {
    const srv = createNetServer();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const port = (srv.address() as { port: number }).port;
    await new Promise((resolve) => srv.close(resolve));
    const config = await standInKubeconfig(`http://127.0.0.1:${port}`, NS);
    const r = await run(['report', '--out', path.join(dir, 'never.html')], defaultRoutes(), config);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^error: cannot reach the Kubernetes API server at http://127\\.0\\.0\\.1:${port} \\(context "one"\\): .*ECONNREFUSED`));
  });

  it('says when the file cannot be written', async () => {
    const blocker = path.join(dir, 'a-file');
    await writeFile(blocker, '');
    const r = await run(['report', '--out', path.join(blocker, 'report.html')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error: cannot write the report to .*a-file\/report\.html: /);
  });

  it('-A reads every namespace and leaves out a Segmentation that has not learned yet, with a note', async () => {
    const other = clusterScenario('shop-2');
    const learning = { ...clusterScenario('idle').segmentation, status: { phase: 'Learning' } };
    const routes = new Map<string, unknown[] | number>([
      ['/apis/hivewall.dev/v1alpha1/segmentations', [scenario.segmentation, other.segmentation, learning]],
      ['/apis/hivewall.dev/v1alpha1/trafficprofiles', [scenario.profile, other.profile]],
      ['/apis/hivewall.dev/v1alpha1/policyproposals', [...scenario.proposals, ...other.proposals]],
      [NETPOL, [...scenario.live]],
      ['/apis/networking.k8s.io/v1/namespaces/shop-2/networkpolicies', []],
    ]);
    const file = path.join(dir, 'all.html');
    const r = await run(['report', '--out', file, '-A'], routes);
    expect(r.code).toBe(0);
    expect(r.err).toContain('note: segmentation idle/shop has no TrafficProfile yet: learning has not produced a profile (phase Learning, 0 flows, 0 edges); the operator writes one once it has seen traffic in idle (kubectl hivewall status -n idle shows its progress); it is left out of the report\n');
    // kube-system's coredns is shared: 5 workloads per namespace plus coredns.
    expect(r.out).toBe(`wrote ${file}: 11 workloads, 20 edges (9 proposed, 7 enforced, 4 would-deny)\n`);
    const data = embeddedData(await readFile(file, 'utf8')) as ReportData;
    expect(data.title).toBe('hivewall report: 2 namespaces');
    expect(data.namespaces.map((n) => [n.name, n.inScope])).toEqual([['kube-system', false], ['shop', true], ['shop-2', true]]);
  });
});

describe('summaryLine', () => {
  it('counts workloads, edges and edges by status', () => {
    const data = { summary: { workloads: 3, edges: 5, byStatus: { proposed: 2, enforced: 1, 'would-deny': 1, unmanaged: 1 } } } as ReportData;
    expect(summaryLine('out/r.html', data)).toBe('wrote out/r.html: 3 workloads, 5 edges (2 proposed, 1 enforced, 1 would-deny)');
  });
});
