// The whole runtime against the real API server: informers → work queue → workers → a
// level-based reconcile that keeps a "-mirror" ConfigMap next to every labelled source
// ConfigMap; conflict retries; and controllers that run only on the elected leader.
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Controller, type ReconcileContext } from '../../src/runtime/controller.js';
import { classifyApiError, isNotFound } from '../../src/runtime/errors.js';
import { Informer } from '../../src/runtime/informer.js';
import { LeaderElector } from '../../src/runtime/leader-election.js';
import { kubeLeaseLock } from '../../src/runtime/lease-lock.js';
import { kubeListerWatcher, resourcePath } from '../../src/runtime/list-watch.js';
import { captureLogger, type CapturedLogger } from '../../src/runtime/testing.js';
import { adminKubeConfig, testNamespace } from '../harness/index.js';
import { eventually, forbidUnhandledRejections, sleepMs } from './helpers.js';

forbidUnhandledRejections();

const SOURCE = 'hivewall.dev/mirror';
const OF = 'hivewall.dev/mirror-of';
const BY = 'hivewall.dev/written-by';

interface MirrorManager {
  readonly writes: string[];
  readonly log: CapturedLogger;
  /** Make the next update use a stale resourceVersion (a real 409 from the API server). */
  staleOnce(): void;
  stop(): Promise<void>;
  readonly controller: Controller;
}

function startMirrorController(namespace: string, identity: string): MirrorManager {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const log = captureLogger('debug');
  const path = resourcePath({ group: '', version: 'v1', plural: 'configmaps', namespace });
  const backoff = { baseMs: 100, capMs: 1000, jitter: 0.2 };
  const sources = new Informer<V1ConfigMap>({ name: 'sources', listerWatcher: kubeListerWatcher(kc, path), labelSelector: `${SOURCE}=source`, logger: log.logger, resyncPeriodMs: 500, backoff });
  const mirrors = new Informer<V1ConfigMap>({ name: 'mirrors', listerWatcher: kubeListerWatcher(kc, path), labelSelector: OF, logger: log.logger, backoff });
  const writes: string[] = [];
  let stale = false;

  const reconcile = async (_key: string, ctx: ReconcileContext) => {
    const mirrorName = `${ctx.name}-mirror`;
    const object = { kind: 'ConfigMap', namespace, name: mirrorName };
    const src = sources.get(ctx.name, namespace);
    const current = mirrors.get(mirrorName, namespace);
    if (!src) {
      if (!current) return;
      try {
        await core.deleteNamespacedConfigMap({ namespace, name: mirrorName });
        writes.push(`delete ${mirrorName}`);
      } catch (err) {
        if (!isNotFound(err)) throw classifyApiError(err, 'delete', object);
      }
      return;
    }
    const desired = { ...(src.data ?? {}) };
    if (!current) {
      try {
        await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: mirrorName, labels: { [OF]: ctx.name, [BY]: identity } }, data: desired } });
      } catch (err) {
        throw classifyApiError(err, 'create', object);
      }
      writes.push(`create ${mirrorName}`);
      ctx.log.info({ mirror: mirrorName }, 'mirror created');
      return;
    }
    if (JSON.stringify(current.data ?? {}) === JSON.stringify(desired)) return; // level-based: nothing to do
    const resourceVersion = stale ? '1' : current.metadata?.resourceVersion;
    stale = false;
    try {
      await core.replaceNamespacedConfigMap({
        namespace, name: mirrorName,
        body: { metadata: { name: mirrorName, resourceVersion, labels: { [OF]: ctx.name, [BY]: identity } }, data: desired },
      });
    } catch (err) {
      throw classifyApiError(err, 'update', object);
    }
    writes.push(`update ${mirrorName}`);
  };

  const controller = new Controller({ name: 'mirror', reconcile, logger: log.logger, workers: 2, backoff: { baseMs: 50, capMs: 1000 } });
  controller.watch(sources);
  controller.watch(mirrors, (m) => [`${namespace}/${m.metadata?.labels?.[OF] ?? ''}`]);
  sources.start();
  mirrors.start();
  void controller.start();
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      await controller.stop(5_000);
      await Promise.all([sources.stop(), mirrors.stop()]);
    })();
    return stopped;
  };
  onTestFinished(stop);
  return { writes, log, controller, staleOnce: () => { stale = true; }, stop };
}

async function mirrorData(namespace: string, name: string): Promise<Record<string, string> | undefined> {
  try {
    return (await adminKubeConfig().makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace, name })).data ?? {};
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

const source = (name: string, data: Record<string, string>): V1ConfigMap => ({ metadata: { name, labels: { [SOURCE]: 'source' } }, data });

describe('controller runtime end to end', () => {
  it('reconciles creates, updates, deletes and drift, and is idempotent once settled', async () => {
    const ns = await testNamespace('ctrl');
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    const m = startMirrorController(ns.name, 'solo');
    await eventually(() => m.controller.isReady());

    await core.createNamespacedConfigMap({ namespace: ns.name, body: source('a', { k: '1' }) });
    await core.createNamespacedConfigMap({ namespace: ns.name, body: source('b', { k: '2' }) });
    await eventually(async () => (await mirrorData(ns.name, 'a-mirror'))?.['k'] === '1' && (await mirrorData(ns.name, 'b-mirror'))?.['k'] === '2');

    await core.patchNamespacedConfigMap({ namespace: ns.name, name: 'a', body: [{ op: 'replace', path: '/data/k', value: 'changed' }] });
    await eventually(async () => (await mirrorData(ns.name, 'a-mirror'))?.['k'] === 'changed');

    await core.deleteNamespacedConfigMap({ namespace: ns.name, name: 'a-mirror' }); // drift: recreated
    await eventually(async () => (await mirrorData(ns.name, 'a-mirror'))?.['k'] === 'changed');

    await core.deleteNamespacedConfigMap({ namespace: ns.name, name: 'b' });
    await eventually(async () => (await mirrorData(ns.name, 'b-mirror')) === undefined);
    // The API server shows a write before the writer's await has resumed: wait for the record too.
    await eventually(() => m.writes.includes('delete b-mirror'));

    // Settled: resyncs (every 500 ms) keep reconciling, but nothing is written any more.
    const writes = m.writes.length;
    await sleepMs(1_200);
    expect(m.writes.length).toBe(writes);
    expect(m.writes.slice(0, 2).sort()).toEqual(['create a-mirror', 'create b-mirror']); // two workers: either order
    expect(m.writes.slice(2)).toEqual(['update a-mirror', 'create a-mirror', 'delete b-mirror']);
    const created = m.log.find('mirror created').find((entry) => entry['name'] === 'a'); // two workers: either is logged first
    expect(created).toMatchObject({ controller: 'mirror', namespace: ns.name, name: 'a', mirror: 'a-mirror' });
    expect(String(created?.['reconcileId'])).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('retries a 409 Conflict from the API server with backoff and then succeeds', async () => {
    const ns = await testNamespace('ctrl-conflict');
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    const m = startMirrorController(ns.name, 'solo');
    await eventually(() => m.controller.isReady());
    await core.createNamespacedConfigMap({ namespace: ns.name, body: source('a', { k: '1' }) });
    await eventually(async () => (await mirrorData(ns.name, 'a-mirror'))?.['k'] === '1');

    m.staleOnce();
    await core.patchNamespacedConfigMap({ namespace: ns.name, name: 'a', body: [{ op: 'replace', path: '/data/k', value: '2' }] });
    await eventually(async () => (await mirrorData(ns.name, 'a-mirror'))?.['k'] === '2');
    const retry = m.log.find('reconcile failed; will retry')[0];
    expect(retry).toMatchObject({ namespace: ns.name, name: 'a', retries: 1, delayMs: 50 });
    expect(String((retry?.['err'] as { message?: string }).message)).toMatch(new RegExp(`^update ConfigMap ${ns.name}/a-mirror: 409 Conflict: Operation cannot be fulfilled`));
  });

  it('controllers run only on the elected leader; a graceful handover continues the work', async () => {
    const ns = await testNamespace('ctrl-leader');
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    const managers = new Map<string, MirrorManager>();
    const electors = ['replica-a', 'replica-b'].map((identity) => {
      const elector = new LeaderElector({
        lock: kubeLeaseLock(adminKubeConfig(), ns.name, 'mirror-leader'), identity, logger: captureLogger('info').logger,
        leaseDurationMs: 2_000, renewDeadlineMs: 1_000, retryPeriodMs: 250,
        callbacks: {
          onStartedLeading: () => { managers.set(identity, startMirrorController(ns.name, identity)); },
          onStoppedLeading: async () => { await managers.get(identity)?.stop(); },
        },
      });
      void elector.run();
      onTestFinished(() => elector.stop());
      return elector;
    });
    await eventually(() => electors.some((e) => e.isLeader()));
    const [leader, follower] = electors[0]?.isLeader() ? [electors[0], electors[1]] : [electors[1], electors[0]];
    if (!leader || !follower) throw new Error('no leader');

    await core.createNamespacedConfigMap({ namespace: ns.name, body: source('a', { k: '1' }) });
    await eventually(async () => (await mirrorData(ns.name, 'a-mirror'))?.['k'] === '1');
    await eventually(() => managers.get(leader.identity)?.writes.length);
    expect(managers.size).toBe(1);
    expect(managers.get(leader.identity)?.writes).toEqual(['create a-mirror']);

    await leader.stop(); // stops its controller first, then releases the lease
    await eventually(() => follower.isLeader());
    await core.patchNamespacedConfigMap({ namespace: ns.name, name: 'a', body: [{ op: 'replace', path: '/data/k', value: '2' }] });
    await eventually(async () => (await mirrorData(ns.name, 'a-mirror'))?.['k'] === '2');
    await eventually(() => managers.get(follower.identity)?.writes.length);
    expect(managers.get(follower.identity)?.writes).toEqual(['update a-mirror']);
    expect(managers.get(leader.identity)?.writes).toEqual(['create a-mirror']);
  });
});
