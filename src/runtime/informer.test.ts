import type { KubernetesObject } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, flushPromises } from './fake-clock.js';
import { Informer, objectKey, type InformerMetrics } from './informer.js';
import type { ListOptions, ListResult, ListerWatcher, WatchEventType, WatchHandle, WatchOptions } from './list-watch.js';
import { captureLogger } from './testing.js';

interface Obj extends KubernetesObject {
  data?: Record<string, string>;
}

interface ActiveWatch {
  readonly opts: WatchOptions;
  readonly onEvent: (type: WatchEventType, object: unknown) => void;
  readonly onDone: (err?: unknown) => void;
  stopped: boolean;
}

/** An in-memory API server collection with the knobs the tests need. */
class FakeServer implements ListerWatcher<Obj> {
  rv = 100;
  readonly objects = new Map<string, Obj>();
  readonly lists: ListOptions[] = [];
  readonly watches: ActiveWatch[] = [];
  readonly listFailures: unknown[] = [];
  readonly watchFailures: unknown[] = [];
  pageSize = 0;

  get active(): ActiveWatch | undefined {
    const w = this.watches.at(-1);
    return w && !w.stopped ? w : undefined;
  }

  put(namespace: string, name: string, data: Record<string, string> = {}): Obj {
    const key = `${namespace}/${name}`;
    const type: WatchEventType = this.objects.has(key) ? 'MODIFIED' : 'ADDED';
    const obj: Obj = { metadata: { namespace, name, resourceVersion: String(++this.rv) }, data };
    this.objects.set(key, obj);
    this.active?.onEvent(type, obj);
    return obj;
  }

  remove(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const obj = this.objects.get(key);
    if (!obj) return;
    this.objects.delete(key);
    const event = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
    this.active?.onEvent('DELETED', event);
  }

  /** Change state without telling the open watch (as if events were missed while disconnected). */
  silently(fn: () => void): void {
    const w = this.active;
    if (w) w.stopped = true;
    fn();
    if (w) w.stopped = false;
  }

  async list(opts: ListOptions): Promise<ListResult<Obj>> {
    this.lists.push(opts);
    const failure = this.listFailures.shift();
    if (failure) throw failure;
    const all = [...this.objects.values()];
    if (!this.pageSize) return { items: all, resourceVersion: String(this.rv) };
    const start = opts.continue ? Number(opts.continue) : 0;
    const end = start + this.pageSize;
    return { items: all.slice(start, end), resourceVersion: String(this.rv), continue: end < all.length ? String(end) : undefined };
  }

  async watch(opts: WatchOptions, onEvent: ActiveWatch['onEvent'], onDone: ActiveWatch['onDone']): Promise<WatchHandle> {
    const w: ActiveWatch = { opts, onEvent, onDone, stopped: false };
    this.watches.push(w);
    const failure = this.watchFailures.shift();
    if (failure) {
      w.stopped = true;
      queueMicrotask(() => onDone(failure));
      return { stop: () => {} };
    }
    return {
      stop: () => {
        if (w.stopped) return;
        w.stopped = true;
        queueMicrotask(() => onDone(new DOMException('This operation was aborted', 'AbortError')));
      },
    };
  }

  /** End the open watch from the server side. */
  close(err?: unknown): void {
    const w = this.active;
    if (!w) throw new Error('no open watch');
    w.stopped = true;
    w.onDone(err);
  }

  /** Send a watch ERROR event (a Status), as the API server does for 410. */
  sendStatus(code: number, message: string): void {
    this.active?.onEvent('ERROR', { kind: 'Status', code, reason: code === 410 ? 'Expired' : 'InternalError', message });
  }
}

function netError(): Error {
  return Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
}

function recorder() {
  const events: string[] = [];
  return {
    events,
    handler: {
      onAdd: (o: Obj) => events.push(`add ${objectKey(o)}@${o.metadata?.resourceVersion}`),
      onUpdate: (a: Obj, b: Obj) => events.push(`update ${objectKey(b)}@${a.metadata?.resourceVersion}->${b.metadata?.resourceVersion}`),
      onDelete: (o: Obj) => events.push(`delete ${objectKey(o)}`),
    },
  };
}

function metricsRecorder() {
  const m = { restarts: [] as string[], handlerErrors: 0, objects: -1, relists: 0, synced: [] as number[] };
  const hooks: InformerMetrics = {
    restart: (reason) => m.restarts.push(reason),
    handlerError: () => { m.handlerErrors++; },
    objects: (n) => { m.objects = n; },
    relist: () => { m.relists++; },
    synced: (ms) => m.synced.push(ms),
  };
  return { m, hooks };
}

const started: Array<Informer<Obj>> = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((i) => i.stop()));
});

function setup(opts: { resyncPeriodMs?: number; labelSelector?: string; fieldSelector?: string; pageSize?: number; transform?: (o: Obj) => Obj } = {}) {
  const server = new FakeServer();
  const clock = new FakeClock();
  const log = captureLogger();
  const { m, hooks } = metricsRecorder();
  const rec = recorder();
  const informer = new Informer<Obj>({
    name: 'things', listerWatcher: server, logger: log.logger, clock, metrics: hooks, random: () => 0, ...opts,
  });
  informer.addEventHandler(rec.handler);
  started.push(informer);
  return { server, clock, log, m, rec, informer };
}

describe('Informer: list, watch, cache', () => {
  it('lists, syncs, then applies watch events to the cache and the handlers', async () => {
    const { server, informer, rec, m } = setup();
    server.put('a', 'one');
    server.put('b', 'two');
    expect(informer.hasSynced()).toBe(false);
    informer.start();
    expect(await informer.waitForSync()).toBe(true);
    expect(rec.events).toEqual(['add a/one@101', 'add b/two@102']);
    await flushPromises();
    expect(server.active?.opts.resourceVersion).toBe('102');

    server.put('a', 'one', { k: 'v' });
    server.put('a', 'three');
    server.remove('b', 'two');
    expect(rec.events.slice(2)).toEqual(['update a/one@101->103', 'add a/three@104', 'delete b/two']);
    expect(informer.get('one', 'a')?.data).toEqual({ k: 'v' });
    expect(informer.get('two', 'b')).toBeUndefined();
    expect(informer.list('a').map((o) => o.metadata?.name).sort()).toEqual(['one', 'three']);
    expect(informer.list().length).toBe(2);
    expect(informer.list('nope')).toEqual([]);
    expect(informer.lastResourceVersion()).toBe('105');
    expect(m.objects).toBe(2);
  });

  it('caches and hands over only what the transform keeps, of listed and of watched objects', async () => {
    const seen: Obj[] = [];
    const { server, informer } = setup({ pageSize: 1, transform: (o) => ({ metadata: o.metadata, data: { kept: String(Object.keys(o.data ?? {}).length) } }) });
    informer.addEventHandler({ onAdd: (o) => seen.push(o), onUpdate: (_a, b) => seen.push(b), onDelete: (o) => seen.push(o) });
    server.put('a', 'one', { x: '1', y: '2' });
    server.put('a', 'two', { x: '1' });
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    server.put('a', 'one', { x: '1', y: '2', z: '3' });
    server.remove('a', 'two');
    expect(informer.get('one', 'a')?.data).toEqual({ kept: '3' });
    expect(seen.map((o) => o.data)).toEqual([{ kept: '2' }, { kept: '1' }, { kept: '3' }, { kept: '1' }]);
  });

  it('passes label and field selectors to both list and watch', async () => {
    const { server, informer } = setup({ labelSelector: 'app=x', fieldSelector: 'metadata.name=y' });
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    expect(server.lists[0]).toMatchObject({ labelSelector: 'app=x', fieldSelector: 'metadata.name=y' });
    expect(server.watches[0]?.opts).toMatchObject({ labelSelector: 'app=x', fieldSelector: 'metadata.name=y' });
  });

  it('follows continue tokens until the list is complete', async () => {
    const { server, informer } = setup({ pageSize: 2 });
    server.pageSize = 2;
    for (const n of ['a', 'b', 'c', 'd', 'e']) server.put('ns', n);
    informer.start();
    await informer.waitForSync();
    expect(server.lists.map((l) => l.continue)).toEqual([undefined, '2', '4']);
    expect(informer.list().length).toBe(5);
  });

  it('a handler added after sync first gets an add for every cached object', async () => {
    const { server, informer } = setup();
    server.put('a', 'one');
    informer.start();
    await informer.waitForSync();
    const late = recorder();
    const remove = informer.addEventHandler(late.handler);
    expect(late.events).toEqual(['add a/one@101']);
    remove();
    server.put('a', 'two');
    expect(late.events).toEqual(['add a/one@101']);
  });

  it('a handler that throws is logged and counted; other handlers and the informer carry on', async () => {
    const { server, informer, rec, m, log } = setup();
    informer.addEventHandler({ onAdd: () => { throw new Error('handler bug'); } });
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    server.put('a', 'one');
    server.put('a', 'two');
    expect(rec.events).toEqual(['add a/one@101', 'add a/two@102']);
    expect(m.handlerErrors).toBe(2);
    expect(log.find('informer handler threw')[0]).toMatchObject({ handler: 'onAdd', object: 'a/one', err: { message: 'handler bug' } });
  });
});

describe('Informer: resilience', () => {
  it('after a watch error it backs off, then resumes the watch from the last resourceVersion without relisting', async () => {
    const { server, clock, informer, m, log } = setup();
    server.put('a', 'one');
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    server.put('a', 'two');
    server.close(netError());
    await flushPromises();
    expect(server.watches.length).toBe(1);
    await clock.advance(799);
    expect(server.watches.length).toBe(1);
    await clock.advance(1);
    expect(server.watches.length).toBe(2);
    expect(server.watches[1]?.opts.resourceVersion).toBe('102');
    expect(server.lists.length).toBe(1);
    expect(m.restarts).toEqual(['error']);
    expect(log.find('informer error; restarting after backoff')[0]).toMatchObject({ stage: 'watch', delayMs: 800, err: { message: 'read ECONNRESET' } });
    expect(informer.stats()).toMatchObject({ errors: 1, restarts: 1, lists: 1, watches: 2 });
  });

  it('keeps retrying a failing list with capped exponential backoff, then syncs', async () => {
    const { server, clock, informer, log } = setup();
    server.listFailures.push(netError(), netError(), netError());
    informer.start();
    for (const delay of [800, 1600, 3200]) {
      await flushPromises();
      expect(informer.hasSynced()).toBe(false);
      await clock.advance(delay);
    }
    expect(await informer.waitForSync()).toBe(true);
    expect(log.find('informer error; restarting after backoff').map((l) => l['delayMs'])).toEqual([800, 1600, 3200]);
    expect(server.lists.length).toBe(4);
  });

  it('jitters the backoff downwards by at most half', async () => {
    const server = new FakeServer();
    const clock = new FakeClock();
    const log = captureLogger();
    server.listFailures.push(netError());
    const informer = new Informer<Obj>({ name: 'x', listerWatcher: server, logger: log.logger, clock, random: () => 0.999 });
    started.push(informer);
    informer.start();
    await flushPromises();
    const delay = log.find('informer error; restarting after backoff')[0]?.['delayMs'] as number;
    expect(delay).toBeGreaterThanOrEqual(400);
    expect(delay).toBeLessThan(800);
  });

  it.each([
    { name: 'a 410 ERROR event', expire: (s: FakeServer) => s.sendStatus(410, 'too old resource version: 1 (200)') },
    { name: 'a watch that fails with status 410', expire: (s: FakeServer) => s.close(Object.assign(new Error('Gone'), { statusCode: 410 })) },
  ])('relists at once after $name, reconciling the cache with what changed meanwhile', async ({ expire }) => {
    const { server, informer, rec, m } = setup();
    server.put('a', 'keep');
    server.put('a', 'change');
    server.put('a', 'gone');
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    server.silently(() => {
      server.put('a', 'change', { v: '2' });
      server.remove('a', 'gone');
      server.put('a', 'new');
    });
    rec.events.length = 0;
    expire(server);
    await flushPromises();
    await flushPromises();
    expect(server.lists.length).toBe(2);
    expect(rec.events).toEqual(['delete a/gone', 'update a/change@102->104', 'add a/new@106']);
    expect(m.restarts).toEqual(['expired']);
    expect(informer.stats()).toMatchObject({ expired: 1, errors: 0 });
    expect(server.active?.opts.resourceVersion).toBe('106');
  });

  it('the backoff starts over once a watch delivers events again', async () => {
    const { server, clock, informer, log } = setup();
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    server.close(netError());
    await clock.advance(800);
    server.close(netError());
    await clock.advance(1600);
    server.put('a', 'one'); // healthy again
    server.close(netError());
    await clock.advance(800);
    expect(log.find('informer error; restarting after backoff').map((l) => l['delayMs'])).toEqual([800, 1600, 800]);
    expect(server.watches.length).toBe(4);
  });

  it('relists at once after one 410, but backs off when relisting keeps ending in 410 without events', async () => {
    const { server, clock, informer } = setup();
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    server.sendStatus(410, 'too old');
    await flushPromises();
    await flushPromises();
    expect(server.lists.length).toBe(2); // at once
    server.sendStatus(410, 'too old');
    await flushPromises();
    await flushPromises();
    expect(server.lists.length).toBe(2); // waiting
    await clock.advance(800);
    expect(server.lists.length).toBe(3);
  });

  it('resumes at once when the server ends a watch that delivered events, or after an inactivity timeout', async () => {
    const { server, informer, m } = setup();
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    server.put('a', 'one');
    server.close();
    await flushPromises();
    expect(server.watches.length).toBe(2);
    server.close(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    await flushPromises();
    expect(server.watches.length).toBe(3);
    expect(m.restarts).toEqual([]);
  });

  it('treats a watch closed at once without events as an error (no hot loop)', async () => {
    const { server, clock, informer, m } = setup();
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    server.close();
    await flushPromises();
    expect(server.watches.length).toBe(1);
    expect(m.restarts).toEqual(['error']);
    await clock.advance(800);
    expect(server.watches.length).toBe(2);
  });

  it('survives a watch() that rejects or throws synchronously', async () => {
    const { server, clock, informer, m } = setup();
    const realWatch = server.watch.bind(server);
    let calls = 0;
    server.watch = (...args) => {
      calls++;
      if (calls === 1) throw new Error('sync throw');
      if (calls === 2) return Promise.reject(new Error('async reject'));
      return realWatch(...args);
    };
    informer.start();
    await informer.waitForSync();
    await clock.advance(800);
    await clock.advance(1600);
    expect(calls).toBe(3);
    expect(m.restarts).toEqual(['error', 'error']);
    server.put('a', 'x');
    expect(informer.get('x', 'a')).toBeDefined();
  });

  it('a non-410 ERROR event is an error with backoff', async () => {
    const { server, clock, informer, m } = setup();
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    server.sendStatus(500, 'etcd leader changed');
    await flushPromises();
    expect(m.restarts).toEqual(['error']);
    await clock.advance(800);
    expect(server.watches.length).toBe(2);
    expect(server.lists.length).toBe(1);
  });
});

describe('Informer: metric hooks', () => {
  it('a lister/watcher that keeps failing counts one restart per failure, and no sync until a list succeeds', async () => {
    const { server, clock, informer, m } = setup();
    server.listFailures.push(netError(), netError());
    informer.start();
    await flushPromises();
    await clock.advance(800);
    await clock.advance(1600);
    expect(await informer.waitForSync()).toBe(true);
    expect(m.restarts).toEqual(['error', 'error']);
    expect(m.relists).toBe(0); // the first list, however late, is not a relist
    expect(m.synced).toEqual([clock.now()]);
    await flushPromises();
    server.close(netError());
    await flushPromises();
    await clock.advance(800);
    expect(m.restarts).toEqual(['error', 'error', 'error']);
    expect(m.relists).toBe(0); // a watch error resumes the watch: no relist
  });

  it('410 Gone counts an expired restart and a relist', async () => {
    const { server, informer, m } = setup();
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    server.sendStatus(410, 'too old resource version');
    await flushPromises();
    await flushPromises();
    expect(server.lists.length).toBe(2);
    expect(m.restarts).toEqual(['expired']);
    expect(m.relists).toBe(1);
    expect(m.synced.length).toBe(2);
  });

  it('watch events and a routine watch end confirm the cache as synced, at the clock\'s time', async () => {
    const { server, clock, informer, m } = setup();
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    await clock.advance(5_000);
    server.put('a', 'one');
    expect(m.synced.at(-1)).toBe(clock.now());
    await clock.advance(60_000);
    server.close(); // the server's timeoutSeconds
    await flushPromises();
    expect(m.synced.at(-1)).toBe(clock.now());
    expect(m.synced.length).toBe(3);
  });
});

describe('Informer: resync and stop', () => {
  it('re-emits update(obj, obj) for every cached object each resync period', async () => {
    const { server, clock, informer, rec } = setup({ resyncPeriodMs: 1000 });
    server.put('a', 'one');
    server.put('b', 'two');
    informer.start();
    await informer.waitForSync();
    rec.events.length = 0;
    await clock.advance(1000);
    expect(rec.events).toEqual(['update a/one@101->101', 'update b/two@102->102']);
    await clock.advance(1000);
    expect(rec.events.length).toBe(4);
  });

  it('stop closes the watch, ends the loop, cancels timers, and ignores late events', async () => {
    const { server, clock, informer, rec } = setup({ resyncPeriodMs: 1000 });
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    const w = server.active;
    await informer.stop();
    expect(w?.stopped).toBe(true);
    expect(clock.pending()).toBe(0);
    w?.onEvent('ADDED', { metadata: { namespace: 'a', name: 'late', resourceVersion: '999' } });
    expect(rec.events).toEqual([]);
    informer.start(); // cannot restart after stop
    await flushPromises();
    expect(server.watches.length).toBe(1);
  });

  it('stop during the backoff sleep ends promptly; waitForSync then resolves false', async () => {
    const { server, informer } = setup();
    server.listFailures.push(netError());
    informer.start();
    const synced = informer.waitForSync();
    await flushPromises();
    await informer.stop();
    expect(await synced).toBe(false);
    expect(await informer.waitForSync()).toBe(false);
  });

  it('waitForSync gives up after its timeout', async () => {
    const { server, clock, informer } = setup();
    server.listFailures.push(netError());
    informer.start();
    const synced = informer.waitForSync(500);
    await clock.advance(500);
    expect(await synced).toBe(false);
  });
});
