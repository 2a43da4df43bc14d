// The kubectl plugin without a cluster: names, ages, tables, error messages, usage and kubeconfig
// failures. The review itself is tested against the real API server in test/deploy/.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { captureRun } from '../../testing/cli-run.js';
import { admissionDenial, apiFailure, toCliError, unreachableReason } from './api-errors.js';
import { connect } from './connection.js';
import { humanAge, proposalName, proposalsTable, proposalWarnings, rfc3339, summarizeProposal } from './format.js';
import { main } from './main.js';

const run = (args: string[], env: NodeJS.ProcessEnv = {}) => captureRun((io) => main(args, io, { env: { HOME: '/nonexistent-home', ...env } }));

const kubeconfigYaml = (server: string, namespace?: string) => `apiVersion: v1
kind: Config
clusters:
  - name: c1
    cluster: { server: "${server}", insecure-skip-tls-verify: true }
users:
  - name: u1
    user: { token: abc }
contexts:
  - name: one
    context: { cluster: c1, user: u1${namespace ? `, namespace: ${namespace}` : ''} }
  - name: two
    context: { cluster: c1, user: u1 }
current-context: one
`;

async function tempKubeconfig(content: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hivewall-plugin-'));
  const file = path.join(dir, 'kubeconfig');
  await writeFile(file, content);
  return file;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

describe('proposalName', () => {
  it.each([
    ['web-r3', 'web-r3'],
    ['policyproposal/web-r3', 'web-r3'],
    ['policyproposals.hivewall.dev/web-r3', 'web-r3'],
    ['pp/web-r3', 'web-r3'],
    ['deployment/web', undefined],
    ['Web', undefined],
    ['', undefined],
  ])('%s → %s', (arg, name) => {
    expect(proposalName(arg)).toBe(name);
  });
});

describe('humanAge (kubectl AGE)', () => {
  const now = new Date('2025-03-01T12:00:00Z');
  const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000).toISOString();
  it.each([
    [5, '5s'], [119, '119s'], [150, '2m30s'], [600, '10m'], [3 * 3600 + 60, '3h1m'],
    [10 * 3600, '10h'], [3 * 86400 + 3600, '3d1h'], [30 * 86400, '30d'], [3 * 365 * 86400, '3y'],
  ])('%i s → %s', (seconds, age) => {
    expect(humanAge(ago(seconds), now)).toBe(age);
  });
  it('says so for an unreadable time', () => {
    expect(humanAge('', now)).toBe('<unknown>');
  });
});

describe('rfc3339', () => {
  it('writes UTC with whole seconds, like Kubernetes', () => {
    expect(rfc3339(new Date('2025-01-31T12:00:00.123Z'))).toBe('2025-01-31T12:00:00Z');
  });
});

describe('proposalsTable', () => {
  it('sorts by namespace, segmentation, revision and aligns columns', () => {
    const now = new Date('2025-03-01T12:00:00Z');
    const p = (ns: string, name: string, revision: number, review: Record<string, string> = {}) => summarizeProposal({
      metadata: { namespace: ns, name, creationTimestamp: '2025-03-01T11:00:00Z' },
      spec: { content: { segmentation: 'shop', revision }, review },
    });
    const table = proposalsTable([p('shop', 'shop-r2', 2), p('shop', 'shop-r1', 1, { decision: 'Approved', reviewer: 'rita' }), p('api', 'api-r1', 1)], now);
    expect(table).toBe([
      'NAMESPACE   NAME      SEGMENTATION   REVISION   DECISION   REVIEWER   AGE',
      'api         api-r1    shop           1          Pending    <none>     60m',
      'shop        shop-r1   shop           1          Approved   rita       60m',
      'shop        shop-r2   shop           2          Pending    <none>     60m',
      '',
    ].join('\n'));
  });

  it('names proposals with denied edges or coverage warnings under the table, and nothing else', () => {
    const p = (name: string, content: Record<string, unknown>) => summarizeProposal({ metadata: { namespace: 'shop', name }, spec: { content: { segmentation: 'shop', revision: Number(name.slice(-1)), ...content } } });
    const denied = { denied: { count: 3, since: 't', note: 'n' } };
    const e = { client: 'a', server: 'b', port: 1, protocol: 'TCP' };
    const warnings = proposalWarnings([
      p('shop-r1', {}),
      p('shop-r2', { evidence: [{ edges: [{ ...e, ...denied }] }, { edges: [{ ...e, ...denied }, { ...e, port: 2 }] }], coverage: [{}, {}] }),
      p('shop-r3', { coverage: [{}] }),
    ]);
    expect(warnings).toBe([
      '',
      'shop/shop-r2: 1 denied edge (denied while enforced, proposed for review); 2 coverage warnings (traffic the learning window could not have seen): kubectl hivewall explain shop-r2 -n shop',
      'shop/shop-r3: 1 coverage warning (traffic the learning window could not have seen): kubectl hivewall explain shop-r3 -n shop',
      '',
    ].join('\n'));
    expect(proposalWarnings([p('shop-r1', {})])).toBe('');
  });

  it('reads odd objects without failing', () => {
    expect(summarizeProposal({ spec: 'nonsense' })).toMatchObject({ name: '', decision: 'Pending', revision: undefined });
    expect(summarizeProposal(null).decision).toBe('Pending');
  });
});

describe('API errors', () => {
  const conn = { server: 'https://api.example:6443', contextName: 'prod' };
  const apiError = (code: number, status: object | string) => new ApiException(code, 'x', typeof status === 'string' ? status : JSON.stringify(status), {});

  it('prints the admission policy\'s own message', () => {
    const message = 'policyproposals.hivewall.dev "web-r1" is forbidden: ValidatingAdmissionPolicy \'hivewall-review-identity\' with binding \'hivewall-review-identity\' denied request: spec.review.reviewer must be the requesting user (rita)';
    expect(admissionDenial(message)).toEqual({ by: 'ValidatingAdmissionPolicy hivewall-review-identity', message: 'spec.review.reviewer must be the requesting user (rita)' });
    const e = toCliError(apiError(403, { message, reason: 'Forbidden', code: 403 }), conn, { action: 'approve policyproposal shop/web-r1', forbidden: () => 'RBAC' });
    expect(e.message).toBe('the API server refused to approve policyproposal shop/web-r1: spec.review.reviewer must be the requesting user (rita) (ValidatingAdmissionPolicy hivewall-review-identity)');
    expect(e.exitCode).toBe(1);
  });

  it('separates an RBAC refusal from an admission refusal', () => {
    const e = toCliError(apiError(403, { message: 'User "x" cannot patch resource "policyproposals"', reason: 'Forbidden' }), conn, { action: 'a', forbidden: (f) => `RBAC: ${f.message}` });
    expect(e.message).toBe('RBAC: User "x" cannot patch resource "policyproposals"');
  });

  it('reads the Status of a NotFound', () => {
    expect(apiFailure(apiError(404, { message: 'policyproposals.hivewall.dev "x" not found', reason: 'NotFound', details: { name: 'x' } }))).toMatchObject({ code: 404, name: 'x' });
    expect(apiFailure(apiError(404, '404 page not found'))).toEqual({ code: 404, reason: '', message: '404 page not found' });
    expect(apiFailure(new Error('x'))).toBeUndefined();
  });

  it('names the server when it cannot be reached', () => {
    const err = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED' }) });
    expect(unreachableReason(err)).toBe('connect ECONNREFUSED 10.0.0.1:6443');
    expect(toCliError(err, conn, { action: 'a' }).message).toMatch(/^cannot reach the Kubernetes API server at https:\/\/api\.example:6443 \(context "prod"\): connect ECONNREFUSED/);
  });

  it('says to log in again on 401', () => {
    expect(toCliError(apiError(401, { message: 'Unauthorized' }), conn, { action: 'a' }).message).toContain('did not accept your credentials');
  });
});

describe('connect (kubeconfig like kubectl)', () => {
  it('takes -n, else the context namespace, else default; --context switches', async () => {
    const file = await tempKubeconfig(kubeconfigYaml('https://127.0.0.1:6443', 'shop'));
    expect(connect({ kubeconfig: file }, {}).namespace).toBe('shop');
    expect(connect({ kubeconfig: file, namespace: 'api' }, {}).namespace).toBe('api');
    expect(connect({ kubeconfig: file, context: 'two' }, {}).namespace).toBe('default');
    expect(connect({}, { KUBECONFIG: file }).server).toBe('https://127.0.0.1:6443');
  });

  it('merges KUBECONFIG files, the first one winning', async () => {
    const first = await tempKubeconfig(kubeconfigYaml('https://first:6443', 'a'));
    const second = await tempKubeconfig(kubeconfigYaml('https://second:6443', 'b'));
    const conn = connect({}, { KUBECONFIG: [first, '/nonexistent/kubeconfig', second].join(path.delimiter) });
    expect(conn.server).toBe('https://first:6443');
    expect(conn.namespace).toBe('a');
  });
});

describe('kubectl hivewall (no cluster)', () => {
  it('exits 2 on bad usage', async () => {
    expect((await run(['approve'])).code).toBe(2);
    expect((await run(['frobnicate'])).code).toBe(2);
    expect((await run([])).code).toBe(2);
    const bad = await run(['approve', 'deployment/web', '--kubeconfig', await tempKubeconfig(kubeconfigYaml('https://127.0.0.1:6443'))]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('"deployment/web" is not a PolicyProposal name');
  });

  it('prints help and exits 0', async () => {
    const help = await run(['approve', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('--comment <text>');
  });

  it('explains a missing kubeconfig or context', async () => {
    const none = await run(['proposals']);
    expect(none).toMatchObject({ code: 1, err: 'error: no kubeconfig: pass --kubeconfig <file>, set KUBECONFIG, or create ~/.kube/config\n' });
    const missing = await run(['proposals', '--kubeconfig', '/nonexistent/kubeconfig']);
    expect(missing.err).toBe('error: cannot read kubeconfig /nonexistent/kubeconfig: no such file\n');
    const file = await tempKubeconfig(kubeconfigYaml('https://127.0.0.1:6443'));
    const ctx = await run(['proposals', '--kubeconfig', file, '--context', 'three']);
    expect(ctx).toMatchObject({ code: 2 });
    expect(ctx.err).toContain('context "three" not found');
    expect(ctx.err).toContain('(contexts: one, two)');
  });

  it('names the server it cannot reach', async () => {
    const server = `https://127.0.0.1:${await closedPort()}`;
    const file = await tempKubeconfig(kubeconfigYaml(server));
    for (const args of [['proposals'], ['approve', 'web-r1']]) {
      const r = await run([...args, '--kubeconfig', file]);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`cannot reach the Kubernetes API server at ${server} (context "one")`);
      expect(r.err).toContain('ECONNREFUSED');
    }
  });
});
