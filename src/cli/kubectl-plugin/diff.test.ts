// `kubectl hivewall diff` and `export --from enforced` reading the live policies, against a small
// stand-in for the API server (plain HTTP): which policy kinds must be readable, and what a refusal
// says. diff needs only the kinds its proposal holds; export of what is live needs every kind.
// The real API server and RBAC: test/plugin/review-gitops.test.ts and test/deploy/review.test.ts.
import { mkdir, mkdtemp, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proposalContentDigest } from '../../domain/approval.js';
import { captureRun, standInKubeconfig } from '../../testing/cli-run.js';
import { neededPolicyKinds } from './diff.js';
import { main } from './main.js';

const NS = 'shop';
const PROPOSALS = `/apis/hivewall.dev/v1alpha1/namespaces/${NS}/policyproposals`;
const NETPOL = `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`;
const CNP = `/apis/cilium.io/v2/namespaces/${NS}/ciliumnetworkpolicies`;

const managed = { 'app.kubernetes.io/managed-by': 'hivewall' };
const npObject = (name: string, port: number) => ({
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: NS, labels: managed },
  spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'TCP', port }] }] },
});
const cnpObject = (name: string) => ({
  apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace: NS, labels: managed },
  spec: { endpointSelector: { matchLabels: { app: 'web' } }, ingress: [{ fromEntities: ['host'] }] },
});
const proposal = (name: string, flavor: string, objects: unknown[]) => ({
  apiVersion: 'hivewall.dev/v1alpha1', kind: 'PolicyProposal', metadata: { name, namespace: NS },
  spec: { review: { decision: 'Pending' }, content: { segmentation: 'shop', revision: 1, flavor, objects, evidence: [], diff: {} } },
});

/** Path → a list's items, one object, or an HTTP status to answer with. */
type Route = { items: unknown[] } | { object: unknown } | number;
let routes = new Map<string, Route>();
let server: Server;
let kubeconfig: string;
let dir: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const route = routes.get(url.pathname) ?? 404;
    if (typeof route === 'number') {
      const resource = url.pathname.split('/').pop();
      const message = route === 403 ? `${resource} is forbidden: User "nick" cannot list resource "${resource}"` : 'the server could not find the requested resource';
      res.writeHead(route, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason: route === 403 ? 'Forbidden' : 'NotFound', code: route }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify('items' in route ? { apiVersion: 'v1', kind: 'List', metadata: {}, items: route.items } : route.object));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  kubeconfig = await standInKubeconfig(`http://127.0.0.1:${port}`, NS);
  dir = path.dirname(kubeconfig);
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

async function run(args: string[], table: [string, Route][]): Promise<{ code: number; out: string; err: string }> {
  routes = new Map(table);
  return captureRun((io) => main(args, io, { env: { HOME: '/nonexistent-home', KUBECONFIG: kubeconfig, NO_COLOR: '1' } }));
}

const ROLE_HINT = 'ask for the hivewall-viewer (read-only) or hivewall-reviewer ClusterRole, which read the live NetworkPolicies and CiliumNetworkPolicies '
  + '(the roles of an older hivewall do not: kubectl apply -k deploy/ updates them)';
/** The line under the counts (format.ts contentLine); these stand-in proposals have no valid content. */
const CONTENT = 'content <invalid content> (uid <none>): it cannot be approved\n';
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('the policy kinds a diff needs', () => {
  it('are the kinds of the proposal\'s objects and its flavor', () => {
    expect(neededPolicyKinds(proposal('a', 'NetworkPolicy', [npObject('hivewall-web', 80)]))).toEqual(['NetworkPolicy']);
    expect(neededPolicyKinds(proposal('a', 'CiliumNetworkPolicy', [cnpObject('hivewall-web')]))).toEqual(['CiliumNetworkPolicy']);
    expect(neededPolicyKinds(proposal('a', 'CiliumNetworkPolicy', []))).toEqual(['CiliumNetworkPolicy']);
    expect(neededPolicyKinds({})).toEqual([]);
  });
});

describe('kubectl hivewall diff: reading the live policies', () => {
  const npProposal: [string, Route] = [`${PROPOSALS}/web-r2`, { object: proposal('web-r2', 'NetworkPolicy', [npObject('hivewall-web', 8080)]) }];
  const cnpProposal: [string, Route] = [`${PROPOSALS}/web-r3`, { object: proposal('web-r3', 'CiliumNetworkPolicy', [cnpObject('hivewall-web')]) }];

  it('a NetworkPolicy proposal diffs for someone who may not list CiliumNetworkPolicies; a note says they are left out', async () => {
    const r = await run(['diff', 'web-r2'], [npProposal, [NETPOL, { items: [npObject('hivewall-web', 80)] }], [CNP, 403]]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('-          port: 80\n+          port: 8080\n');
    expect(r.err).toBe('note: you may not list ciliumnetworkpolicies.cilium.io in shop: the diff leaves them out (the proposal has none; live ones hivewall owns '
      + 'would be leftovers of an earlier flavor, which applying removes)\n'
      + 'policyproposal shop/web-r2 against the live policies in shop: 0 added, 1 changed, 0 removed, 0 unchanged\n' + CONTENT);
  });

  it('reads the other kind when allowed: leftovers of an earlier flavor show as removed', async () => {
    const r = await run(['diff', 'web-r2'], [npProposal, [NETPOL, { items: [npObject('hivewall-web', 8080)] }], [CNP, { items: [cnpObject('hivewall-old')] }]]);
    expect(r.code).toBe(0);
    expect(r.err).toBe('policyproposal shop/web-r2 against the live policies in shop: 0 added, 0 changed, 1 removed, 1 unchanged\n' + CONTENT);
    expect(r.out).toContain('--- live/CiliumNetworkPolicy/hivewall-old\n+++ /dev/null\n');
  });

  it('without Cilium (no such API) there is nothing of that kind, and nothing to say', async () => {
    const r = await run(['diff', 'web-r2'], [npProposal, [NETPOL, { items: [npObject('hivewall-web', 8080)] }]]);
    expect(r).toMatchObject({ code: 0, out: '', err: 'policyproposal shop/web-r2 against the live policies in shop: no difference (1 policy unchanged)\n' + CONTENT });
  });

  it('the kind the proposal holds must be readable: the error names the roles that read it, and --stored', async () => {
    const np = await run(['diff', 'web-r2'], [npProposal, [NETPOL, 403], [CNP, { items: [] }]]);
    expect(np).toMatchObject({ code: 1, out: '' });
    expect(np.err).toBe(`error: you are not allowed to list networkpolicies.networking.k8s.io in shop: ${ROLE_HINT}; `
      + 'or print the diff stored in the proposal: kubectl hivewall diff web-r2 -n shop --stored '
      + '(the API server said: networkpolicies is forbidden: User "nick" cannot list resource "networkpolicies")\n');
    expect(np.err).not.toContain('view ClusterRole');

    const cnp = await run(['diff', 'web-r3'], [cnpProposal, [NETPOL, 403], [CNP, 403]]);
    expect(cnp.code).toBe(1);
    expect(cnp.err).toMatch(new RegExp(`^error: you are not allowed to list ciliumnetworkpolicies\\.cilium\\.io in shop: ${escape(ROLE_HINT)}; or print the diff stored in the proposal: kubectl hivewall diff web-r3 -n shop --stored `));
    // A CiliumNetworkPolicy proposal does not need NetworkPolicies.
    const cnpOnly = await run(['diff', 'web-r3'], [cnpProposal, [NETPOL, 403], [CNP, { items: [cnpObject('hivewall-web')] }]]);
    expect(cnpOnly.code).toBe(0);
    expect(cnpOnly.err).toMatch(/^note: you may not list networkpolicies\.networking\.k8s\.io in shop: the diff leaves them out .*\npolicyproposal shop\/web-r3 against the live policies in shop: no difference \(1 policy unchanged\)\ncontent .*\n$/);
  });

  it('says under the counts which content (digest and uid) it showed, for approve --digest', async () => {
    const content = { segmentation: 'shop', revision: 1, flavor: 'NetworkPolicy', digest: 'd', objects: [], evidence: [], diff: {} };
    const valid = { ...proposal('web-r4', 'NetworkPolicy', []), metadata: { name: 'web-r4', namespace: NS, uid: 'uid-4' } };
    const digest = proposalContentDigest(content)!;
    const r = await run(['diff', 'web-r4', '--stored'], [[`${PROPOSALS}/web-r4`, { object: { ...valid, spec: { ...valid.spec, content, contentDigest: digest } } }]]);
    expect(r.code).toBe(0);
    expect(r.err.split('\n')[1]).toBe(`content ${digest} (uid uid-4): to approve exactly this, kubectl hivewall approve web-r4 -n shop --digest ${digest}`);
  });

  it('--stored reads no live policy', async () => {
    const r = await run(['diff', 'web-r2', '--stored'], [npProposal, [NETPOL, 403], [CNP, 403]]);
    expect(r.code).toBe(0);
  });
});

describe('kubectl hivewall export --from enforced: reading the live policies', () => {
  it('needs every kind: a folder that says it is what is live never leaves one out', async () => {
    const r = await run(['export', '--from', 'enforced', '--out', path.join(dir, 'enforced')], [[NETPOL, { items: [npObject('hivewall-web', 8080)] }], [CNP, 403]]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^error: you are not allowed to list ciliumnetworkpolicies\\.cilium\\.io in shop: ${escape(ROLE_HINT)} \\(the API server said: `));
    const ok = await run(['export', '--from', 'enforced', '--out', path.join(dir, 'enforced')], [[NETPOL, { items: [npObject('hivewall-web', 8080)] }]]);
    expect(ok).toMatchObject({ code: 0, err: '' });
    expect(ok.out).toMatch(/^shop: live policies → .*: 1 policy; 2 written/);
  });

  it('refuses a namespace folder symlinked out of --out (a committed symlink), and changes nothing outside', async () => {
    const base = await mkdtemp(path.join(dir, 'symlink-'));
    await mkdir(path.join(base, 'outside'));
    await mkdir(path.join(base, 'out'));
    await writeFile(path.join(base, 'outside', 'hivewall-web.yaml'), 'precious: 1\n');
    await writeFile(path.join(base, 'outside', 'stale.yaml'), 'metadata:\n  labels:\n    app.kubernetes.io/managed-by: hivewall\n');
    await symlink('../outside', path.join(base, 'out', NS));
    const r = await run(['export', '--from', 'enforced', '--out', path.join(base, 'out')], [[NETPOL, { items: [npObject('hivewall-web', 8080)] }]]);
    expect(r).toMatchObject({ code: 1, out: '' });
    expect(r.err).toBe(`error: cannot write the policies of shop into ${path.join(base, 'out', NS)}: ${path.join(base, 'out', NS)} is a symlink: `
      + 'refusing to write through it (it may lead outside the output directory); nothing was written\n');
    expect((await readdir(path.join(base, 'outside'))).sort()).toEqual(['hivewall-web.yaml', 'stale.yaml']);
    expect(await readFile(path.join(base, 'outside', 'hivewall-web.yaml'), 'utf8')).toBe('precious: 1\n');
  });

  it('all namespaces: says to use -n or ask for a cluster-wide hivewall-viewer binding', async () => {
    const r = await run(['export', '--from', 'enforced', '-A', '--out', path.join(dir, 'all')], [['/apis/networking.k8s.io/v1/networkpolicies', 403]]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: you are not allowed to list networkpolicies\.networking\.k8s\.io in all namespaces: use -n <namespace>, or ask for a cluster-wide binding of hivewall-viewer \(it reads the live policies\) \(the API server said: /);
  });
});
