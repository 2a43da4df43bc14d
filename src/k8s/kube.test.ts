import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { Kube, KubeError, POLICY_REPLACE_ATTEMPTS } from './kube.js';

let server: http.Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** An API server stand-in answering GET /api/v1/namespaces/x/configmaps/y with `answers` in turn (discovery aside). */
async function apiServer(answers: readonly { status: number; headers?: Record<string, string>; hang?: boolean }[], requestTimeoutMs?: number): Promise<{ kube: Kube; requests: () => number }> {
  let n = 0;
  server = http.createServer((req, res) => {
    if (req.url === '/api/v1') {
      // Discovery, which client-node's generic object API reads first to find the resource's plural.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'configmaps', namespaced: true, kind: 'ConfigMap', verbs: ['get'] }] }));
      return;
    }
    const answer = answers[Math.min(n++, answers.length - 1)]!;
    if (answer.hang) return; // accepted, never answered: a connection that stopped answering
    const body = answer.status === 200
      ? { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'x', name: 'y' }, data: { k: 'v' } }
      : { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: answer.status === 429 ? 'storage is (re)initializing' : 'boom', code: answer.status };
    res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x',
  });
  return { kube: new Kube(kc, requestTimeoutMs), requests: () => n };
}

describe('Kube API calls', () => {
  it('retry a 429 after the server\'s Retry-After, then succeed', async () => {
    const { kube, requests } = await apiServer([{ status: 429, headers: { 'Retry-After': '0' } }, { status: 429, headers: { 'Retry-After': '0' } }, { status: 200 }]);
    const cm = await kube.get<{ data?: Record<string, string> } & { metadata?: object }>('v1', 'ConfigMap', 'x', 'y');
    expect(cm?.data).toEqual({ k: 'v' });
    expect(requests()).toBe(3);
  });

  it('end a call the server never answers after the request timeout, as a retryable error', async () => {
    const { kube, requests } = await apiServer([{ status: 0, hang: true }], 300);
    const started = performance.now();
    const error = await kube.get('v1', 'ConfigMap', 'x', 'y').catch((e: unknown) => e);
    const took = performance.now() - started;
    expect(error).toBeInstanceOf(KubeError);
    expect((error as KubeError).retryable).toBe(true);
    expect(String(error)).toMatch(/timeout|aborted/i);
    expect(requests()).toBe(1);
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(10_000);
    server!.closeAllConnections();
  });

  it('give up after 3 retries of a 429, and never retry other errors', async () => {
    const throttled = await apiServer([{ status: 429, headers: { 'Retry-After': '0' } }]);
    const error = await throttled.kube.get('v1', 'ConfigMap', 'x', 'y').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeError);
    expect((error as KubeError).status).toBe(429);
    expect(throttled.requests()).toBe(4);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    const failing = await apiServer([{ status: 500 }, { status: 200 }]);
    await expect(failing.kube.get('v1', 'ConfigMap', 'x', 'y')).rejects.toThrow(/500/);
    expect(failing.requests()).toBe(1);
  });
});

describe('Kube.apply of a policy', () => {
  const want = {
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
    metadata: { namespace: 'x', name: 'hivewall-default-deny', labels: { 'app.kubernetes.io/managed-by': 'hivewall' } },
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  };

  /**
   * A stand-in whose server-side apply answers the policy with a field another manager added
   * (`spec.ingress: [{}]`, as SSA leaves it) and whose replace answers `putStatuses` in turn.
   */
  async function policyServer(putStatuses: readonly number[], applied: object = { ...want, spec: { ...want.spec, ingress: [{}] } }) {
    const requests: { method: string; url: string; body: Record<string, unknown> }[] = [];
    let puts = 0;
    let rv = 10;
    server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (chunk) => (text += chunk));
      req.on('end', () => {
        const body = text ? JSON.parse(text) as Record<string, unknown> : {};
        requests.push({ method: req.method!, url: req.url!, body });
        res.setHeader('Content-Type', 'application/json');
        if (req.method === 'PATCH') {
          res.end(JSON.stringify({ ...applied, metadata: { ...want.metadata, resourceVersion: String(++rv), finalizers: ['example.com/keep'], managedFields: [{ manager: 'kubectl-patch' }] } }));
          return;
        }
        const status = putStatuses[Math.min(puts++, putStatuses.length - 1)]!;
        res.statusCode = status;
        res.end(JSON.stringify(status === 200 ? { ...body, metadata: { ...(body.metadata as object), resourceVersion: String(++rv) } } : { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'the object has been modified', code: status }));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x',
    });
    return { kube: new Kube(kc), requests };
  }

  it('replaces a policy whose applied form has a field hivewall does not set, keeping the live metadata', async () => {
    const { kube, requests } = await policyServer([200]);
    const result = await kube.apply(want);
    expect(requests.map((r) => `${r.method} ${r.url.split('?')[0]}`)).toEqual([
      'PATCH /apis/networking.k8s.io/v1/namespaces/x/networkpolicies/hivewall-default-deny',
      'PUT /apis/networking.k8s.io/v1/namespaces/x/networkpolicies/hivewall-default-deny',
    ]);
    const put = requests[1]!;
    expect(put.url).toContain('fieldManager=hivewall');
    expect(put.body).toEqual({
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
      metadata: { ...want.metadata, resourceVersion: '11', finalizers: ['example.com/keep'] },
      spec: want.spec,
    });
    expect((result as typeof want).spec).toEqual(want.spec);
    expect(kube.writes).toBe(2);
  });

  it('applies alone when the applied form is the policy (key order aside)', async () => {
    const { kube, requests } = await policyServer([200], { ...want, spec: { policyTypes: ['Ingress', 'Egress'], podSelector: {} } });
    await kube.apply(want);
    expect(requests.map((r) => r.method)).toEqual(['PATCH']);
    expect(kube.writes).toBe(1);
  });

  it('applies and compares again when the replace meets a newer version (409), at most POLICY_REPLACE_ATTEMPTS times', async () => {
    const retried = await policyServer([409, 200]);
    await retried.kube.apply(want);
    expect(retried.requests.map((r) => r.method)).toEqual(['PATCH', 'PUT', 'PATCH', 'PUT']);
    await new Promise<void>((resolve) => server!.close(() => resolve()));

    const conflicting = await policyServer([409]);
    const error = await conflicting.kube.apply(want).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeError);
    expect((error as KubeError).status).toBe(409);
    expect((error as KubeError).retryable).toBe(true);
    expect(conflicting.requests.map((r) => r.method)).toEqual(Array.from({ length: POLICY_REPLACE_ATTEMPTS }, () => ['PATCH', 'PUT']).flat());
  });

  it('never replaces other kinds', async () => {
    const { kube, requests } = await policyServer([200]);
    await kube.apply({ apiVersion: 'hivewall.dev/v1alpha1', kind: 'TrafficProfile', metadata: { namespace: 'x', name: 'p' }, spec: { a: 1 } } as never);
    expect(requests.map((r) => r.method)).toEqual(['PATCH']);
  });
});
