import type { KubernetesObject } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, flushPromises } from '../runtime/fake-clock.js';
import type { ListerWatcher, WatchEventType } from '../runtime/list-watch.js';
import { captureLogger } from '../runtime/testing.js';
import { createMetrics } from '../telemetry/metrics.js';
import { ClusterInformers, sameApartFromResourceVersion } from './cluster-informers.js';

/** One collection: lists fail `failLists` times, then succeed; the open watch can be sent a Status. */
class FlakyCollection implements ListerWatcher<KubernetesObject> {
  lists = 0;
  failLists = 0;
  rv = 10;
  onEvent: ((type: WatchEventType, object: unknown) => void) | undefined;
  onDone: ((err?: unknown) => void) | undefined;

  async list() {
    this.lists++;
    if (this.failLists-- > 0) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
    return { items: [{ metadata: { name: `obj-${this.lists}`, namespace: 'shop', resourceVersion: String(++this.rv) } }], resourceVersion: String(this.rv) };
  }

  async watch(_opts: unknown, onEvent: FlakyCollection['onEvent'] & {}, onDone: FlakyCollection['onDone'] & {}) {
    this.onEvent = onEvent;
    this.onDone = onDone;
    return { stop: () => queueMicrotask(() => onDone(new DOMException('aborted', 'AbortError'))) };
  }

  /** The API server's answer when the watch's resourceVersion was compacted away. */
  expire(): void {
    this.onEvent?.('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' });
  }
}

const running: ClusterInformers[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((i) => i.stop()));
});

function setup() {
  const clock = new FakeClock(1_700_000_000_000);
  const metrics = createMetrics({ defaultMetrics: false });
  const collections = new Map<string, FlakyCollection>();
  const informers = new ClusterInformers({
    kinds: [['v1', 'Pod'], ['v1', 'Service']],
    logger: captureLogger('silent').logger,
    listerWatcher: (_apiVersion, kind) => {
      const c = new FlakyCollection();
      collections.set(kind, c);
      return c;
    },
    metrics: (name) => metrics.informerMetrics(name),
    clock,
  });
  running.push(informers);
  return { clock, metrics, informers, pods: collections.get('Pod')!, services: collections.get('Service')! };
}

describe('ClusterInformers metrics', () => {
  it('every informer it builds feeds hivewall_informer_*: a failing list counts restarts, a sync sets the last sync time', async () => {
    const { clock, metrics, informers, pods } = setup();
    pods.failLists = 2;
    informers.start();
    await flushPromises();
    await clock.advance(800);
    await clock.advance(1600);
    expect(await informers.waitForSync(0)).toBe(true);
    const text = await metrics.registry.metrics();
    expect(text).toContain('hivewall_informer_restarts_total{informer="pods",reason="error"} 2');
    expect(text).toContain('hivewall_informer_restarts_total{informer="services",reason="error"} 0');
    // pods synced after two jittered backoffs (≤ 0.8 s + 1.6 s), services at once
    const podsSync = Number(/hivewall_informer_last_sync_timestamp_seconds\{informer="pods"\} (\S+)/.exec(text)?.[1]);
    expect(podsSync).toBeGreaterThan(1_700_000_000);
    expect(podsSync).toBeLessThanOrEqual(clock.now() / 1000);
    expect(text).toContain('hivewall_informer_last_sync_timestamp_seconds{informer="services"} 1700000000');
    expect(text).toContain('hivewall_informer_objects{informer="services"} 1');
  });

  it('410 Gone counts an expired restart and a relist', async () => {
    const { metrics, informers, services } = setup();
    informers.start();
    expect(await informers.waitForSync(0)).toBe(true);
    await flushPromises();
    services.expire();
    await flushPromises();
    await flushPromises();
    expect(services.lists).toBe(2);
    const text = await metrics.registry.metrics();
    expect(text).toContain('hivewall_informer_restarts_total{informer="services",reason="expired"} 1');
    expect(text).toContain('hivewall_informer_relists_total{informer="services"} 1');
    expect(text).toContain('hivewall_informer_relists_total{informer="pods"} 0');
  });
});

/** One collection listing `items` once; the open watch is driven by the test. */
class ScriptedCollection implements ListerWatcher<KubernetesObject> {
  onEvent: ((type: WatchEventType, object: unknown) => void) | undefined;
  constructor(private readonly items: KubernetesObject[]) {}
  async list() {
    return { items: this.items, resourceVersion: '100' };
  }
  async watch(_opts: unknown, onEvent: ScriptedCollection['onEvent'] & {}, onDone: (err?: unknown) => void) {
    this.onEvent = onEvent;
    return { stop: () => queueMicrotask(() => onDone(new DOMException('aborted', 'AbortError'))) };
  }
}

const coreDns = (resourceVersion: string, changes: { labels?: Record<string, string>; numberReady?: number; podSelectorLabel?: string } = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  metadata: {
    name: 'coredns', namespace: 'kube-system', uid: 'u-1', resourceVersion, generation: 3,
    labels: changes.labels ?? { 'k8s-app': 'kube-dns' },
    creationTimestamp: '2024-01-01T00:00:00Z',
    managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', time: `2024-01-01T00:00:${resourceVersion.slice(-2)}Z` }],
  },
  spec: { selector: { matchLabels: { 'k8s-app': changes.podSelectorLabel ?? 'kube-dns' } }, template: { spec: { containers: [{ name: 'coredns', image: 'coredns:1.11' }] } } },
  status: { numberReady: changes.numberReady ?? 2, desiredNumberScheduled: 2, observedGeneration: 3 },
});

describe('ClusterInformers changes', () => {
  async function daemonSets() {
    const collection = new ScriptedCollection([coreDns('101') as unknown as KubernetesObject]);
    const informers = new ClusterInformers({
      kinds: [['apps/v1', 'DaemonSet']],
      logger: captureLogger('silent').logger,
      listerWatcher: () => collection,
      clock: new FakeClock(1_700_000_000_000),
    });
    running.push(informers);
    informers.start();
    expect(await informers.waitForSync(0)).toBe(true);
    await flushPromises();
    expect([...informers.takeChanges().namespaces]).toEqual(['kube-system']); // the initial list
    return { collection, informers };
  }

  it('a MODIFIED event that changes only what the cache drops (status, managedFields) and the resourceVersion is no change', async () => {
    const { collection, informers } = await daemonSets();
    const before = informers.version;
    collection.onEvent!('MODIFIED', coreDns('102', { numberReady: 1 }));
    collection.onEvent!('MODIFIED', coreDns('103', { numberReady: 2 }));
    await flushPromises();
    expect(informers.takeChanges()).toEqual({ namespaces: new Set(), nodes: false });
    expect(informers.version).toBe(before);
    // the cache still follows the object
    expect(informers.objectsIn('kube-system')[0]!.metadata!.resourceVersion).toBe('103');
  });

  it('a label or kept spec change is a change of its namespace', async () => {
    const { collection, informers } = await daemonSets();
    collection.onEvent!('MODIFIED', coreDns('102', { labels: { 'k8s-app': 'kube-dns', tier: 'dns' } }));
    await flushPromises();
    expect([...informers.takeChanges().namespaces]).toEqual(['kube-system']);
    collection.onEvent!('MODIFIED', coreDns('103', { labels: { 'k8s-app': 'kube-dns', tier: 'dns' }, podSelectorLabel: 'dns' }));
    await flushPromises();
    expect([...informers.takeChanges().namespaces]).toEqual(['kube-system']);
    collection.onEvent!('DELETED', coreDns('104'));
    await flushPromises();
    expect([...informers.takeChanges().namespaces]).toEqual(['kube-system']);
  });
});

describe('sameApartFromResourceVersion', () => {
  const base = { metadata: { name: 'a', namespace: 'n', resourceVersion: '1', labels: { x: '1', y: '2' } }, spec: { ports: [{ port: 80 }, { port: 81 }] } };
  const cases: { name: string; other: KubernetesObject; same: boolean }[] = [
    { name: 'only the resourceVersion differs', other: { ...base, metadata: { ...base.metadata, resourceVersion: '2' } }, same: true },
    { name: 'keys in another order', other: { spec: base.spec, metadata: { labels: { y: '2', x: '1' }, resourceVersion: '9', namespace: 'n', name: 'a' } }, same: true },
    { name: 'a label value', other: { ...base, metadata: { ...base.metadata, labels: { x: '1', y: '3' } } }, same: false },
    { name: 'a label more', other: { ...base, metadata: { ...base.metadata, labels: { x: '1', y: '2', z: '3' } } }, same: false },
    { name: 'the generation', other: { ...base, metadata: { ...base.metadata, generation: 2 } }, same: false },
    { name: 'list order', other: { ...base, spec: { ports: [{ port: 81 }, { port: 80 }] } }, same: false },
    { name: 'a list element', other: { ...base, spec: { ports: [{ port: 80 }] } }, same: false },
    { name: 'a field outside metadata', other: { ...base, status: { podIP: '10.0.0.1' } } as KubernetesObject, same: false },
  ];
  it.each(cases)('$name: $same', ({ other, same }) => {
    expect(sameApartFromResourceVersion(base, other)).toBe(same);
    expect(sameApartFromResourceVersion(other, base)).toBe(same);
  });
});
