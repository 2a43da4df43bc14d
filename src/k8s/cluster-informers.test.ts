import type { KubernetesObject } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, flushPromises } from '../runtime/fake-clock.js';
import type { ListerWatcher, WatchEventType } from '../runtime/list-watch.js';
import { captureLogger } from '../runtime/testing.js';
import { createMetrics } from '../telemetry/metrics.js';
import { ClusterInformers } from './cluster-informers.js';

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
