import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { Kube, KubeError } from './kube.js';

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
