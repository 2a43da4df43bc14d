// The quick connection: which kubeconfigs it takes (the rest go to the Kubernetes client), and
// `proposals` through it against a local HTTP server, with the client's messages.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureRun, writeTestKubeconfig } from '../../testing/cli-run.js';
import { main } from './main.js';
import { quickConnect } from './quick-connection.js';

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown>, extra = ''): Promise<string> {
  return writeTestKubeconfig(cluster, user, 'shop', extra);
}

describe('quickConnect', () => {
  it('takes a token or client certificate user on an https server', async () => {
    const file = await kubeconfig({ token: 'abc' }, { server: 'https://k8s.example:6443/', 'certificate-authority-data': Buffer.from('CA').toString('base64') });
    const conn = quickConnect({ kubeconfig: file }, {});
    expect(conn).toMatchObject({ server: 'https://k8s.example:6443', contextName: 'one', namespace: 'shop', token: 'abc', source: file });
    expect(conn?.tls.ca?.toString()).toBe('CA');
    expect(quickConnect({ kubeconfig: file, namespace: 'other' }, {})?.namespace).toBe('other');
    const certs = await kubeconfig({ 'client-certificate-data': 'Q0VSVA==', 'client-key-data': 'S0VZ' }, { server: 'https://k8s.example', 'insecure-skip-tls-verify': true });
    expect(quickConnect({}, { KUBECONFIG: certs })?.tls).toMatchObject({ rejectUnauthorized: false });
  });

  it.each([
    ['an exec plugin', { exec: { command: 'aws' } }, { server: 'https://k8s.example' }],
    ['an auth provider', { 'auth-provider': { name: 'oidc' } }, { server: 'https://k8s.example' }],
    ['a token file', { 'token-file': '/var/run/token' }, { server: 'https://k8s.example' }],
    ['basic auth', { username: 'a', password: 'b' }, { server: 'https://k8s.example' }],
    ['impersonation', { token: 'abc', as: 'admin' }, { server: 'https://k8s.example' }],
    ['a proxy', { token: 'abc' }, { server: 'https://k8s.example', 'proxy-url': 'http://proxy:3128' }],
    ['plain HTTP with TLS verification on', { token: 'abc' }, { server: 'http://k8s.example' }],
  ])('leaves %s to the client', async (_what, user, cluster) => {
    expect(quickConnect({ kubeconfig: await kubeconfig(user, cluster) }, {})).toBeUndefined();
  });

  it('leaves missing files, contexts and invalid entries to the client', async () => {
    const file = await kubeconfig({ token: 'abc' }, { server: 'https://k8s.example' });
    expect(quickConnect({ kubeconfig: '/nonexistent/kubeconfig' }, {})).toBeUndefined();
    expect(quickConnect({ kubeconfig: file, context: 'three' }, {})).toBeUndefined();
    expect(quickConnect({}, { HOME: '/nonexistent-home' })).toBeUndefined();
    expect(quickConnect({ kubeconfig: await kubeconfig({ token: 'abc' }, {}) }, {})).toBeUndefined();
    expect(quickConnect({ kubeconfig: await kubeconfig({ token: 'abc' }, { server: 'https://k8s.example' }, 'extra: [') }, {})).toBeUndefined();
  });
});

describe('proposals through the quick connection', () => {
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  let reply: { code: number; body: unknown } = { code: 200, body: { items: [] } };
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    res.writeHead(reply.code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(reply.body));
  });
  let file = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    file = await kubeconfig({ token: 'abc' }, { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'insecure-skip-tls-verify': true });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const run = (args: string[]) => captureRun((io) => main(args, io, { env: { HOME: '/nonexistent-home' } }));

  it('lists a namespace or all of them with the bearer token', async () => {
    reply = { code: 200, body: { items: [] } };
    expect(await run(['proposals', '--kubeconfig', file])).toMatchObject({ code: 0, err: 'No PolicyProposals found in namespace shop.\n' });
    expect(await run(['proposals', '-A', '--kubeconfig', file])).toMatchObject({ code: 0, err: 'No PolicyProposals found.\n' });
    expect(seen.map((s) => s.url)).toEqual(['/apis/hivewall.dev/v1alpha1/namespaces/shop/policyproposals', '/apis/hivewall.dev/v1alpha1/policyproposals']);
    expect(seen[0]?.headers['authorization']).toBe('Bearer abc');
  });

  it('prints the table', async () => {
    reply = { code: 200, body: { items: [{ metadata: { namespace: 'shop', name: 'web-r1', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { content: { segmentation: 'web', revision: 1 } } }] } };
    const r = await run(['proposals', '--kubeconfig', file]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('web-r1');
  });

  it('says what a refusal or a missing API means', async () => {
    reply = { code: 403, body: { kind: 'Status', code: 403, reason: 'Forbidden', message: 'policyproposals is forbidden' } };
    const forbidden = await run(['proposals', '--kubeconfig', file]);
    expect(forbidden).toMatchObject({ code: 1 });
    expect(forbidden.err).toContain('you are not allowed to list proposals in shop: ask for the hivewall-reviewer or hivewall-viewer ClusterRole (the API server said: policyproposals is forbidden)');
    reply = { code: 404, body: { kind: 'Status', code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' } };
    const missing = await run(['proposals', '--kubeconfig', file]);
    expect(missing.err).toContain('the PolicyProposal API (policyproposals.hivewall.dev/v1alpha1) is not installed on http://127.0.0.1:');
  });
});
