// The health server wired to real components: readiness follows informer sync and leader
// election; /metrics shows their metrics.
import type { V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it, onTestFinished } from 'vitest';
import { HealthServer } from '../../src/runtime/health.js';
import { Informer } from '../../src/runtime/informer.js';
import { LeaderElector } from '../../src/runtime/leader-election.js';
import { kubeLeaseLock } from '../../src/runtime/lease-lock.js';
import { kubeListerWatcher, resourcePath } from '../../src/runtime/list-watch.js';
import { captureLogger } from '../../src/runtime/testing.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { adminKubeConfig, serviceAccountIdentity, testNamespace } from '../harness/index.js';
import { eventually, forbidUnhandledRejections } from './helpers.js';

forbidUnhandledRejections();

async function startHealth(registry?: ReturnType<typeof createMetrics>['registry']) {
  const server = new HealthServer({ host: '127.0.0.1', port: 0, logger: captureLogger('info').logger, ...(registry ? { registry } : {}) });
  const { port } = await server.listen();
  onTestFinished(() => server.close());
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: await res.text() };
  };
  return { server, get };
}

describe('health server with real components', () => {
  it('/readyz turns 200 once the informer synced and leader election runs; /metrics shows them', async () => {
    const ns = await testNamespace('health');
    const log = captureLogger('info').logger;
    const metrics = createMetrics();
    const { server, get } = await startHealth(metrics.registry);

    const informer = new Informer<V1ConfigMap>({
      name: 'configmaps', logger: log, metrics: metrics.informerMetrics('configmaps'),
      listerWatcher: kubeListerWatcher(adminKubeConfig(), resourcePath({ group: '', version: 'v1', plural: 'configmaps', namespace: ns.name })),
    });
    const elector = new LeaderElector({
      lock: kubeLeaseLock(adminKubeConfig(), ns.name, 'hivewall'), identity: 'replica-0', logger: log,
      leaseDurationMs: 2_000, renewDeadlineMs: 1_000, retryPeriodMs: 250,
      metrics: metrics.leaderElectionMetrics(`${ns.name}/hivewall`),
      callbacks: { onStartedLeading: () => {}, onStoppedLeading: () => {} },
    });
    onTestFinished(async () => { await informer.stop(); await elector.stop(); });
    server.addReadyCheck('informer/configmaps', () => informer.hasSynced());
    server.addReadyCheck('leader-election', () => ({ ok: elector.isRunning(), reason: 'not running' }));

    expect(await get('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await get('/readyz')).toEqual({
      status: 503,
      body: '[+]shutdown ok\n[-]informer/configmaps failed\n[-]leader-election failed: not running\nreadyz check failed\n',
    });

    informer.start();
    void elector.run();
    await informer.waitForSync(10_000);
    await eventually(() => elector.isLeader());
    expect(await get('/readyz')).toEqual({ status: 200, body: 'ok\n' });

    const text = (await get('/metrics')).body;
    expect(text).toContain('hivewall_informer_objects{informer="configmaps"} 0');
    expect(text).toMatch(/hivewall_informer_last_sync_timestamp_seconds\{informer="configmaps"\} \d{10}/);
    expect(text).toContain(`hivewall_leader_status{lease="${ns.name}/hivewall"} 1`);
    expect(text).toContain('process_resident_memory_bytes');

    server.markShuttingDown();
    expect((await get('/readyz')).status).toBe(503);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('/readyz names an informer that cannot sync (forbidden) and counts its restarts', async () => {
    const ns = await testNamespace('health-forbidden');
    const sa = await serviceAccountIdentity(ns.name, 'nobody');
    const metrics = createMetrics({ defaultMetrics: false });
    const { server, get } = await startHealth(metrics.registry);
    const informer = new Informer<V1ConfigMap>({
      name: 'configmaps', logger: captureLogger('info').logger, metrics: metrics.informerMetrics('configmaps'),
      backoff: { baseMs: 50, capMs: 200 },
      listerWatcher: kubeListerWatcher(sa.kubeConfig, resourcePath({ group: '', version: 'v1', plural: 'configmaps', namespace: ns.name })),
    });
    informer.start();
    onTestFinished(() => informer.stop());
    server.addReadyCheck('informer/configmaps', () => informer.hasSynced());

    await eventually(() => informer.stats().errors >= 3);
    const ready = await get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toContain('[-]informer/configmaps failed');
    expect((await get('/metrics')).body).toMatch(/hivewall_informer_restarts_total\{informer="configmaps",reason="error"\} [3-9]\d*/);
  });
});
