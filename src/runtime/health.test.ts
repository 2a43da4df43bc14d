import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthServer, type HealthServerOptions } from './health.js';
import { captureLogger } from './testing.js';

const servers: HealthServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

async function start(extra: Partial<HealthServerOptions> = {}) {
  const server = new HealthServer({ host: '127.0.0.1', port: 0, logger: captureLogger().logger, ...extra });
  servers.push(server);
  const { port } = await server.listen();
  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
    return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
  };
  return { server, get, port };
}

describe('HealthServer', () => {
  it('/healthz and /livez are ok while the event loop turns', async () => {
    const { get } = await start();
    expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get('/livez?verbose')).toMatchObject({ status: 200, body: '[+]event-loop ok\nlivez check passed\n' });
  });

  it('/healthz fails when a liveness check fails', async () => {
    const { server, get } = await start();
    server.addLiveCheck('workers', () => ({ ok: false, reason: 'all workers dead' }));
    expect(await get('/healthz')).toEqual({
      status: 503, type: 'text/plain; charset=utf-8',
      body: '[+]event-loop ok\n[-]workers failed: all workers dead\nhealthz check failed\n',
    });
  });

  it('/readyz is 200 when every check passes and 503 naming the failing ones', async () => {
    const { server, get } = await start();
    let synced = false;
    server.addReadyCheck('informer/segmentations', () => synced);
    server.addReadyCheck('leader-election', async () => ({ ok: true }));
    server.addReadyCheck('flaky', () => { throw new Error('check crashed'); });
    expect(await get('/readyz')).toMatchObject({
      status: 503,
      body: '[+]shutdown ok\n[-]informer/segmentations failed\n[+]leader-election ok\n[-]flaky failed: check crashed\nreadyz check failed\n',
    });
    synced = true;
    server.removeReadyCheck('flaky');
    expect(await get('/readyz')).toMatchObject({ status: 200, body: 'ok\n' });
  });

  it('a slow check fails with a timeout instead of hanging the probe', async () => {
    const { server, get } = await start({ checkTimeoutMs: 50 });
    server.addReadyCheck('slow', () => new Promise<boolean>(() => {}));
    expect(await get('/readyz')).toMatchObject({ status: 503, body: expect.stringContaining('[-]slow failed: timed out after 50 ms') });
  });

  it('markShuttingDown makes /readyz fail but keeps /healthz ok', async () => {
    const { server, get } = await start();
    server.markShuttingDown();
    expect(await get('/readyz')).toMatchObject({ status: 503, body: '[-]shutdown failed: shutting down\nreadyz check failed\n' });
    expect((await get('/healthz')).status).toBe(200);
  });

  it('/metrics serves the registry in the Prometheus text format', async () => {
    const registry = new Registry();
    new Counter({ name: 'hivewall_test_total', help: 'test', registers: [registry] }).inc(3);
    const { get } = await start({ registry });
    const res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toBe(registry.contentType);
    expect(res.body).toContain('hivewall_test_total 3');
  });

  it.each([
    { name: 'unknown path', path: '/nope', init: undefined, status: 404 },
    { name: '/metrics without a registry', path: '/metrics', init: undefined, status: 404 },
    { name: 'POST', path: '/healthz', init: { method: 'POST' }, status: 405 },
    { name: 'HEAD', path: '/healthz', init: { method: 'HEAD' }, status: 200 },
  ])('$name → $status', async ({ path, init, status }) => {
    const { get } = await start();
    expect((await get(path, init)).status).toBe(status);
  });

  it('/healthz fails after the event loop was blocked longer than the stall limit', async () => {
    const { get } = await start({ eventLoopStallMs: 200 });
    const until = performance.now() + 1_000;
    while (performance.now() < until) { /* block the loop */ }
    const res = await get('/healthz');
    expect(res.status).toBe(503);
    expect(res.body).toMatch(/\[-\]event-loop failed: blocked for \d+ ms/);
  });

  it('close stops listening; a port in use is reported by listen()', async () => {
    const { server, port } = await start();
    const other = new HealthServer({ host: '127.0.0.1', port, logger: captureLogger().logger });
    await expect(other.listen()).rejects.toThrow(/EADDRINUSE/);
    await server.close();
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});
