import type { KubernetesObject } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { Controller, notStatusOnly, splitKey, type ControllerOptions, type ReconcileContext, type ReconcileOutcome, type EventSource } from './controller.js';
import { RetryableError, TerminalError } from './errors.js';
import { FakeClock, flushPromises } from './fake-clock.js';
import type { InformerHandler } from './informer.js';
import { captureLogger } from './testing.js';

/** A stand-in informer: the test decides when it syncs and which events it emits. */
class FakeSource<T extends KubernetesObject> implements EventSource<T> {
  readonly name = 'fake';
  readonly handlers = new Set<InformerHandler<T>>();
  #synced = false;
  #waiters: Array<(b: boolean) => void> = [];

  addEventHandler(h: InformerHandler<T>): () => void {
    this.handlers.add(h);
    return () => { this.handlers.delete(h); };
  }
  hasSynced(): boolean { return this.#synced; }
  waitForSync(): Promise<boolean> {
    return this.#synced ? Promise.resolve(true) : new Promise((r) => this.#waiters.push(r));
  }
  sync(): void {
    this.#synced = true;
    for (const w of this.#waiters.splice(0)) w(true);
  }
  add(obj: T): void { for (const h of this.handlers) h.onAdd?.(obj); }
  update(obj: T): void { for (const h of this.handlers) h.onUpdate?.(obj, obj); }
  remove(obj: T): void { for (const h of this.handlers) h.onDelete?.(obj); }
}

const obj = (namespace: string, name: string, owner?: string): KubernetesObject => ({
  metadata: { namespace, name, ...(owner ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Owner', name: owner, uid: owner }] } : {}) },
});

const controllers: Controller[] = [];
afterEach(async () => { await Promise.all(controllers.splice(0).map((c) => c.stop(0))); });

function setup(reconcile: ControllerOptions['reconcile'], extra: Partial<ControllerOptions> = {}) {
  const clock = new FakeClock();
  const log = captureLogger();
  const source = new FakeSource<KubernetesObject>();
  const metrics = { durations: [] as Array<[number, ReconcileOutcome]>, errors: [] as string[] };
  let id = 0;
  const controller = new Controller({
    name: 'test', reconcile, logger: log.logger, clock, workers: 2, newReconcileId: () => `r${++id}`,
    metrics: { reconcileDuration: (s, o) => metrics.durations.push([s, o]), reconcileError: (k) => metrics.errors.push(k) },
    ...extra,
  });
  controllers.push(controller);
  controller.watch(source);
  return { clock, log, source, controller, metrics };
}

describe('splitKey', () => {
  it.each([
    { key: 'shop/foo', want: { namespace: 'shop', name: 'foo' } },
    { key: 'cluster-thing', want: { namespace: undefined, name: 'cluster-thing' } },
  ])('$key', ({ key, want }) => { expect(splitKey(key)).toEqual(want); });
});

describe('notStatusOnly', () => {
  const seg = (rv: string, generation: number, over: Record<string, unknown> = {}, status: unknown = { phase: 'Learning' }) =>
    ({ metadata: { name: 's', namespace: 'n', resourceVersion: rv, generation, finalizers: ['f'], ...over }, status }) as KubernetesObject;

  it('ignores a status write (same generation and metadata, new resourceVersion)', () => {
    expect(notStatusOnly(seg('1', 3), seg('2', 3, {}, { phase: 'Proposed' }))).toBe(false);
  });

  it('keeps spec changes, resyncs and the metadata a reconcile reads', () => {
    expect(notStatusOnly(seg('1', 3), seg('2', 4))).toBe(true); // spec: generation bumped
    expect(notStatusOnly(seg('1', 3), seg('1', 3))).toBe(true); // resync
    expect(notStatusOnly(seg('1', 3), seg('2', 3, { deletionTimestamp: '2026-01-01T00:00:00Z' }))).toBe(true);
    expect(notStatusOnly(seg('1', 3), seg('2', 3, { finalizers: [] }))).toBe(true);
    expect(notStatusOnly(seg('1', 3), seg('2', 3, { labels: { a: 'b' } }))).toBe(true);
    expect(notStatusOnly(seg('1', 3), seg('2', 3, { annotations: { a: 'b' } }))).toBe(true);
    // An object without a generation (a built-in kind that has none) cannot tell: every update counts.
    expect(notStatusOnly({ metadata: { resourceVersion: '1' } }, { metadata: { resourceVersion: '2' } })).toBe(true);
  });
});

describe('Controller', () => {
  it('starts workers only after the sources sync; events seen meanwhile are reconciled then, once per key', async () => {
    const seen: string[] = [];
    const { source, controller } = setup(async (key) => { seen.push(key); });
    const started = controller.start();
    source.add(obj('shop', 'a'));
    source.update(obj('shop', 'a'));
    source.add(obj('shop', 'b'));
    await flushPromises();
    expect(seen).toEqual([]);
    expect(controller.isReady()).toBe(false);
    source.sync();
    await started;
    await flushPromises();
    expect(controller.isReady()).toBe(true);
    expect(seen).toEqual(['shop/a', 'shop/b']);
    source.remove(obj('shop', 'a'));
    await flushPromises();
    expect(seen).toEqual(['shop/a', 'shop/b', 'shop/a']);
  });

  it('maps objects to keys with toKeys (e.g. an owned object to its owner)', async () => {
    const seen: string[] = [];
    const { clock, log } = setup(async () => {});
    const owned = new FakeSource<KubernetesObject>();
    const c = new Controller({ name: 'owners', reconcile: async (k) => { seen.push(k); }, logger: log.logger, clock });
    controllers.push(c);
    c.watch(owned, (o) => (o.metadata?.ownerReferences ?? []).map((r) => `${o.metadata?.namespace}/${r.name}`));
    owned.sync();
    await c.start();
    owned.add(obj('shop', 'child-1', 'parent'));
    owned.add(obj('shop', 'orphan'));
    await flushPromises();
    expect(seen).toEqual(['shop/parent']);
  });

  it('requeueAfter reconciles the key again after that many ms', async () => {
    const seen: number[] = [];
    const { clock, source, controller, metrics } = setup(async () => { seen.push(clock.now()); return { requeueAfter: 5_000 }; });
    source.sync();
    await controller.start();
    const t0 = clock.now();
    source.add(obj('shop', 'a'));
    await flushPromises();
    await clock.advance(5_000);
    await clock.advance(5_000);
    expect(seen.map((t) => t - t0)).toEqual([0, 5_000, 10_000]);
    expect(metrics.durations.map(([, o]) => o)).toEqual(['requeue', 'requeue', 'requeue']);
  });

  it('retries retryable failures with per-key backoff and forgets it after a success', async () => {
    const attempts: Array<{ at: number; retries: number }> = [];
    let fail = 3;
    const { clock, source, controller, log, metrics } = setup(async (_key, ctx) => {
      attempts.push({ at: clock.now(), retries: ctx.retries });
      if (fail-- > 0) throw new RetryableError('409 Conflict', { operation: 'update', object: { kind: 'PolicyProposal', namespace: 'shop', name: 'a' }, status: 409 });
    });
    source.sync();
    await controller.start();
    const t0 = clock.now();
    source.add(obj('shop', 'a'));
    await clock.advance(1_000);
    expect(attempts.map((a) => a.at - t0)).toEqual([0, 50, 150, 350]);
    expect(attempts.map((a) => a.retries)).toEqual([0, 1, 2, 3]);
    expect(metrics.errors).toEqual(['retryable', 'retryable', 'retryable']);
    expect(metrics.durations.map(([, o]) => o)).toEqual(['retry', 'retry', 'retry', 'success']);
    expect(log.find('reconcile failed; will retry')[0]).toMatchObject({
      namespace: 'shop', name: 'a', reconcileId: 'r1', controller: 'test', retries: 1, delayMs: 50,
      err: { message: 'update PolicyProposal shop/a: 409 Conflict' },
    });
    source.update(obj('shop', 'a'));
    await flushPromises();
    expect(attempts.at(-1)?.retries).toBe(0); // forgotten after the success
  });

  it('an unclassified error is retried; a Retry-After raises the delay', async () => {
    const attempts: number[] = [];
    const errors = [new Error('boom'), new RetryableError('429 Too Many Requests', { status: 429, retryAfterMs: 3_000 })];
    const { clock, source, controller } = setup(async () => {
      attempts.push(clock.now());
      const e = errors.shift();
      if (e) throw e;
    });
    source.sync();
    await controller.start();
    const t0 = clock.now();
    source.add(obj('shop', 'a'));
    await clock.advance(10_000);
    expect(attempts.map((t) => t - t0)).toEqual([0, 50, 3_050]);
  });

  it('a terminal error is logged and counted, and not retried', async () => {
    let calls = 0;
    const { clock, source, controller, log, metrics } = setup(async () => {
      calls++;
      throw new TerminalError('spec.mode: must be Learn, Audit or Enforce', { operation: 'validate', object: { kind: 'Segmentation', namespace: 'shop', name: 'a' } });
    });
    source.sync();
    await controller.start();
    source.add(obj('shop', 'a'));
    await clock.advance(60_000);
    expect(calls).toBe(1);
    expect(metrics.errors).toEqual(['terminal']);
    const line = log.find('reconcile failed; not retrying')[0];
    expect(line).toMatchObject({ level: 50, namespace: 'shop', name: 'a', err: { message: 'validate Segmentation shop/a: spec.mode: must be Learn, Audit or Enforce' } });
  });

  it('gives each reconcile its own child logger and id', async () => {
    const { source, controller, log } = setup(async (_k, ctx: ReconcileContext) => { ctx.log.info({ step: 'read' }, 'reading'); });
    source.sync();
    await controller.start();
    source.add(obj('shop', 'a'));
    source.add(obj('web', 'b'));
    await flushPromises();
    expect(log.find('reading').map((l) => [l['controller'], l['namespace'], l['name'], l['reconcileId'], l['step']])).toEqual([
      ['test', 'shop', 'a', 'r1', 'read'],
      ['test', 'web', 'b', 'r2', 'read'],
    ]);
  });

  it('runs different keys in parallel but never one key twice at once', async () => {
    const active = new Set<string>();
    let maxParallel = 0;
    let overlap = false;
    const release: Array<() => void> = [];
    const { source, controller } = setup(async (key) => {
      if (active.has(key)) overlap = true;
      active.add(key);
      maxParallel = Math.max(maxParallel, active.size);
      await new Promise<void>((r) => release.push(r));
      active.delete(key);
    }, { workers: 4 });
    source.sync();
    await controller.start();
    source.add(obj('shop', 'a'));
    source.add(obj('shop', 'b'));
    await flushPromises();
    source.update(obj('shop', 'a')); // while a is in flight
    await flushPromises();
    expect(maxParallel).toBe(2);
    while (release.length > 0) {
      release.shift()?.();
      await flushPromises();
    }
    expect(overlap).toBe(false);
  });

  it('graceful stop waits for in-flight reconciles and takes no new work', async () => {
    let finish: (() => void) | undefined;
    const seen: string[] = [];
    const { source, controller } = setup(async (key) => {
      seen.push(key);
      if (key === 'shop/slow') await new Promise<void>((r) => { finish = r; });
    });
    source.sync();
    await controller.start();
    source.add(obj('shop', 'slow'));
    await flushPromises();
    let stopped: boolean | undefined;
    void controller.stop(10_000).then((d) => { stopped = d; });
    source.add(obj('shop', 'late'));
    await flushPromises();
    expect(stopped).toBeUndefined();
    finish?.();
    await flushPromises();
    await flushPromises();
    expect(stopped).toBe(true);
    expect(seen).toEqual(['shop/slow']);
    expect(controller.isReady()).toBe(false);
  });

  it('stop gives up after its timeout and aborts the reconcile signal', async () => {
    let signal: AbortSignal | undefined;
    const { clock, source, controller, log } = setup(async (_k, ctx) => {
      signal = ctx.signal;
      await new Promise(() => {}); // hangs forever
    });
    source.sync();
    await controller.start();
    source.add(obj('shop', 'stuck'));
    await flushPromises();
    const stopped = controller.stop(2_000);
    await clock.advance(2_000);
    expect(await stopped).toBe(false);
    expect(signal?.aborted).toBe(true);
    expect(log.find('shutdown timeout: aborting in-flight reconciles')).toHaveLength(1);
  });

  it('stop before the sources sync ends start() without starting workers', async () => {
    const { controller } = setup(async () => {});
    const started = controller.start();
    await controller.stop(0);
    await started;
    expect(controller.isReady()).toBe(false);
  });
});
