// The informer against the real API server: events, selectors, a broken watch, a real
// 410 Gone, and a list that is forbidden until RBAC is granted.
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, type KubernetesObject, type V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Informer, objectKey } from '../../src/runtime/informer.js';
import { kubeListerWatcher, resourcePath } from '../../src/runtime/list-watch.js';
import { captureLogger } from '../../src/runtime/testing.js';
import { adminKubeConfig, apiStatus, bindRole, randomSuffix, serviceAccountIdentity, testNamespace } from '../harness/index.js';
import { eventually, FaultyListerWatcher, forbidUnhandledRejections } from './helpers.js';

forbidUnhandledRejections();

const fastBackoff = { baseMs: 100, capMs: 1000, jitter: 0.2 };

function configMapPath(namespace: string): string {
  return resourcePath({ group: '', version: 'v1', plural: 'configmaps', namespace });
}

function track<T extends KubernetesObject>(informer: Informer<T>): string[] {
  const events: string[] = [];
  informer.addEventHandler({
    onAdd: (o) => events.push(`add ${o.metadata?.name}`),
    onUpdate: (a, b) => { if (a !== b) events.push(`update ${b.metadata?.name}`); },
    onDelete: (o) => events.push(`delete ${o.metadata?.name}`),
  });
  return events;
}

function startInformer<T extends KubernetesObject>(informer: Informer<T>): Informer<T> {
  informer.start();
  onTestFinished(() => informer.stop());
  return informer;
}

describe('informer on a real API server', () => {
  it('sees adds, updates and deletes of ConfigMaps, filtered by label selector', async () => {
    const ns = await testNamespace('informer');
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'before', labels: { app: 'x' } }, data: { v: '1' } } });
    await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'other', labels: { app: 'y' } } } });

    const log = captureLogger('info');
    const informer = startInformer(new Informer<V1ConfigMap>({
      name: 'configmaps', listerWatcher: kubeListerWatcher(adminKubeConfig(), configMapPath(ns.name)),
      labelSelector: 'app=x', logger: log.logger, backoff: fastBackoff,
    }));
    const events = track(informer);
    expect(await informer.waitForSync(10_000)).toBe(true);
    expect(informer.list(ns.name).map(objectKey)).toEqual([`${ns.name}/before`]);
    // Plain JSON from list and watch alike: timestamps stay strings.
    expect(typeof informer.get('before', ns.name)?.metadata?.creationTimestamp).toBe('string');

    await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'after', labels: { app: 'x' } } } });
    await core.patchNamespacedConfigMap({ namespace: ns.name, name: 'before', body: [{ op: 'replace', path: '/data/v', value: '2' }] });
    await core.deleteNamespacedConfigMap({ namespace: ns.name, name: 'after' });
    await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'ignored', labels: { app: 'y' } } } });

    await eventually(() => events.includes('delete after'));
    expect(events).toEqual(['add before', 'add after', 'update before', 'delete after']);
    expect(informer.get('before', ns.name)?.data).toEqual({ v: '2' });
    expect(informer.get('ignored', ns.name)).toBeUndefined();
    expect(informer.stats()).toMatchObject({ errors: 0, lists: 1 });
  });

  it('survives a broken watch: resumes from its resourceVersion and misses nothing', async () => {
    const ns = await testNamespace('informer-break');
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    const faulty = new FaultyListerWatcher<V1ConfigMap>(kubeListerWatcher(adminKubeConfig(), configMapPath(ns.name)));
    const log = captureLogger('info');
    const informer = startInformer(new Informer<V1ConfigMap>({ name: 'configmaps', listerWatcher: faulty, logger: log.logger, backoff: fastBackoff }));
    const events = track(informer);
    await informer.waitForSync(10_000);
    await eventually(() => faulty.watchedFrom.length === 1);

    await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'one' } } });
    await eventually(() => events.includes('add one'));
    faulty.breakWatch();
    // Changes while the watch is down arrive after it resumes (from the last resourceVersion).
    await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'two' } } });
    await core.deleteNamespacedConfigMap({ namespace: ns.name, name: 'one' });

    await eventually(() => events.includes('delete one'));
    expect(events).toEqual(['add one', 'add two', 'delete one']);
    expect(faulty.watchedFrom.length).toBe(2);
    expect(faulty.lists).toBe(1);
    expect(informer.stats()).toMatchObject({ errors: 1, restarts: 1, expired: 0 });
    expect(log.find('informer error; restarting after backoff')[0]).toMatchObject({ stage: 'watch', err: { message: 'read ECONNRESET' } });
  });

  it('relists after a real 410 Gone (watch from a resourceVersion the watch cache no longer has)', async () => {
    // A fresh CRD: its watch cache starts now, so resourceVersion "1" is "too old" (410 Expired).
    const group = `rt${randomSuffix()}.test.hivewall.dev`;
    const ext = adminKubeConfig().makeApiClient(ApiextensionsV1Api);
    const crdName = `widgets.${group}`;
    await ext.createCustomResourceDefinition({
      body: {
        metadata: { name: crdName },
        spec: {
          group, scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } }],
        },
      },
    });
    onTestFinished(async () => {
      try { await ext.deleteCustomResourceDefinition({ name: crdName }); } catch (err) { if (apiStatus(err) !== 404) throw err; }
    });
    await eventually(async () => {
      const crd = await ext.readCustomResourceDefinition({ name: crdName });
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    });
    const ns = await testNamespace('informer-410');
    const custom = adminKubeConfig().makeApiClient(CustomObjectsApi);
    const create = (name: string) => eventually(() => custom.createNamespacedCustomObject({
      group, version: 'v1', namespace: ns.name, plural: 'widgets', body: { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name } },
    }).then(() => true));
    await create('first');

    const faulty = new FaultyListerWatcher<KubernetesObject>(
      kubeListerWatcher(adminKubeConfig(), resourcePath({ group, version: 'v1', plural: 'widgets', namespace: ns.name })));
    faulty.rewriteNextWatchFrom('1');
    const log = captureLogger('info');
    const informer = startInformer(new Informer<KubernetesObject>({ name: 'widgets', listerWatcher: faulty, logger: log.logger, backoff: fastBackoff }));
    const events = track(informer);
    await informer.waitForSync(10_000);

    await eventually(() => informer.stats().expired >= 1 && faulty.lists >= 2);
    await create('second');
    await eventually(() => events.includes('add second'));
    expect(events).toEqual(['add first', 'add second']);
    expect(faulty.watchedFrom[0]).toBe('1');
    const expired = log.find('watch expired; relisting')[0];
    expect(expired?.['err']).toMatchObject({ message: expect.stringContaining('too old resource version') });
  });

  it('keeps retrying a forbidden list and syncs once RBAC allows it (client-node would have stopped)', async () => {
    const ns = await testNamespace('informer-rbac');
    const sa = await serviceAccountIdentity(ns.name, 'watcher');
    const log = captureLogger('info');
    const informer = startInformer(new Informer<V1ConfigMap>({
      name: 'configmaps', listerWatcher: kubeListerWatcher(sa.kubeConfig, configMapPath(ns.name)), logger: log.logger, backoff: fastBackoff,
    }));
    await eventually(() => informer.stats().errors >= 2);
    expect(informer.hasSynced()).toBe(false);
    expect(log.find('informer error; restarting after backoff')[0]).toMatchObject({ stage: 'list', status: 403 });

    await bindRole({ namespace: ns.name, subject: sa, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list', 'watch'] }] });
    expect(await informer.waitForSync(15_000)).toBe(true);
  });
});
