import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock, flushPromises } from './fake-clock.js';
import { WorkQueue, type WorkQueueMetrics } from './workqueue.js';

function recordingMetrics() {
  const m = { depth: [] as number[], adds: 0, retries: 0, latencies: [] as number[], durations: [] as number[] };
  const hooks: WorkQueueMetrics = {
    depth: (n) => m.depth.push(n),
    add: () => { m.adds++; },
    retry: () => { m.retries++; },
    queueLatency: (ms) => m.latencies.push(ms),
    workDuration: (ms) => m.durations.push(ms),
  };
  return { m, hooks };
}

/** Take every ready key without waiting. */
async function drainReady(q: WorkQueue<string>): Promise<string[]> {
  const keys: string[] = [];
  while (q.len() > 0) {
    const k = await q.get();
    if (k === undefined) break;
    keys.push(k);
  }
  return keys;
}

describe('WorkQueue dedupe', () => {
  it.each([
    { name: 'distinct keys keep insertion order', adds: ['a', 'b', 'c'], want: ['a', 'b', 'c'] },
    { name: 'a key added twice while queued is queued once', adds: ['a', 'b', 'a', 'a'], want: ['a', 'b'] },
    { name: 'empty queue', adds: [], want: [] },
  ])('$name', async ({ adds, want }) => {
    const q = new WorkQueue<string>({ clock: new FakeClock() });
    for (const k of adds) q.add(k);
    expect(await drainReady(q)).toEqual(want);
  });

  it('a key added while being processed is queued again once, after done', async () => {
    const q = new WorkQueue<string>({ clock: new FakeClock() });
    q.add('a');
    expect(await q.get()).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0); // not handed to a second worker while the first holds it
    q.done('a');
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0);
  });

  it('done for a key that is not held is ignored', () => {
    const q = new WorkQueue<string>({ clock: new FakeClock() });
    q.done('x');
    expect(q.len()).toBe(0);
    expect(q.processingCount()).toBe(0);
  });

  it('get waits for the next add and hands each key to one waiter', async () => {
    const q = new WorkQueue<string>({ clock: new FakeClock() });
    const w1 = q.get();
    const w2 = q.get();
    q.add('a');
    q.add('b');
    expect([await w1, await w2]).toEqual(['a', 'b']);
  });
});

describe('WorkQueue delays', () => {
  it('addAfter queues the key when its delay has passed', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>({ clock });
    q.addAfter('a', 100);
    await clock.advance(99);
    expect(q.len()).toBe(0);
    await clock.advance(1);
    expect(q.len()).toBe(1);
  });

  it.each([
    { name: 'a later addAfter does not postpone an earlier one', first: 100, second: 500, readyAt: 100 },
    { name: 'an earlier addAfter moves the pending one forward', first: 500, second: 100, readyAt: 100 },
  ])('$name', async ({ first, second, readyAt }) => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>({ clock });
    q.addAfter('a', first);
    q.addAfter('a', second);
    expect(q.delayedCount()).toBe(1);
    await clock.advance(readyAt - 1);
    expect(q.len()).toBe(0);
    await clock.advance(1);
    expect(q.len()).toBe(1);
    await clock.advance(1000);
    expect(await drainReady(q)).toEqual(['a']);
  });

  it('addAfter with 0 or a negative delay adds now', () => {
    const q = new WorkQueue<string>({ clock: new FakeClock() });
    q.addAfter('a', 0);
    q.addAfter('b', -5);
    expect(q.len()).toBe(2);
  });

  it('addRateLimited backs off exponentially per key from 50 ms up to the cap, and forget resets', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>({ clock, backoff: { baseMs: 50, capMs: 300 } });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) delays.push(q.addRateLimited('a'));
    expect(delays).toEqual([50, 100, 200, 300, 300]);
    expect(q.numRequeues('a')).toBe(5);
    expect(q.addRateLimited('b')).toBe(50); // per key
    q.forget('a');
    expect(q.numRequeues('a')).toBe(0);
    expect(q.addRateLimited('a')).toBe(50);
  });

  it('the default backoff is 50 ms doubling, capped at 5 minutes', () => {
    const q = new WorkQueue<string>({ clock: new FakeClock() });
    const delays = Array.from({ length: 20 }, () => q.addRateLimited('a'));
    expect(delays.slice(0, 4)).toEqual([50, 100, 200, 400]);
    expect(delays.at(-1)).toBe(300_000);
  });

  it('addRateLimited honours a minimum delay (Retry-After)', () => {
    const q = new WorkQueue<string>({ clock: new FakeClock() });
    expect(q.addRateLimited('a', 2000)).toBe(2000);
  });
});

describe('WorkQueue shutdown', () => {
  it('wakes waiting workers with undefined and ignores later adds', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>({ clock });
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add('a');
    q.addAfter('b', 10);
    q.addRateLimited('c');
    expect(q.len()).toBe(0);
    expect(q.delayedCount()).toBe(0);
    expect(await q.get()).toBeUndefined();
  });

  it('drops queued keys and cancels delayed adds', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>({ clock });
    q.add('a');
    q.addAfter('b', 10);
    q.shutDown();
    expect(clock.pending()).toBe(0);
    expect(q.len()).toBe(0);
  });

  it('shutDownWithDrain waits for keys being processed', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>({ clock });
    q.add('a');
    const key = await q.get();
    let drained: boolean | undefined;
    void q.shutDownWithDrain(1000).then((d) => { drained = d; });
    await flushPromises();
    expect(drained).toBeUndefined();
    q.done(key as string);
    await flushPromises();
    expect(drained).toBe(true);
  });

  it('shutDownWithDrain gives up after its timeout', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>({ clock });
    q.add('a');
    await q.get();
    const drained = q.shutDownWithDrain(1000);
    await clock.advance(1000);
    expect(await drained).toBe(false);
  });
});

describe('WorkQueue metrics', () => {
  it('reports depth, adds, retries, queue latency and work duration', async () => {
    const clock = new FakeClock();
    const { m, hooks } = recordingMetrics();
    const q = new WorkQueue<string>({ clock, metrics: hooks });
    q.add('a');
    q.add('a'); // duplicate: not counted
    q.add('b');
    await clock.advance(30);
    const a = await q.get();
    await clock.advance(20);
    q.done(a as string);
    q.addRateLimited('a');
    expect(m.adds).toBe(2);
    expect(m.retries).toBe(1);
    expect(m.depth).toEqual([1, 2, 1]);
    expect(m.latencies).toEqual([30]);
    expect(m.durations).toEqual([20]);
  });
});

describe('WorkQueue properties', () => {
  type Op = { kind: 'add' | 'addAfter' | 'addRateLimited'; key: string; ms: number };
  const opArb: fc.Arbitrary<Op> = fc.record({
    kind: fc.constantFrom('add', 'addAfter', 'addRateLimited'),
    key: fc.constantFrom('a', 'b', 'c', 'd'),
    ms: fc.integer({ min: 0, max: 200 }),
  });

  it('never hands a key to two workers at once, and processes every added key after it was added', async () => {
    await fc.assert(fc.asyncProperty(
      fc.scheduler(),
      fc.array(opArb, { minLength: 1, maxLength: 30 }),
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.boolean(), { maxLength: 20 }),
      async (s, ops, workerCount, failures) => {
        const clock = new FakeClock();
        const q = new WorkQueue<string>({ clock, backoff: { baseMs: 5, capMs: 40 } });
        let seq = 0;
        const adds: Array<{ key: string; seq: number }> = [];
        const starts: Array<{ key: string; seq: number }> = [];
        const active = new Set<string>();
        const violations: string[] = [];
        const failPlan = [...failures];

        const worker = async (): Promise<void> => {
          for (;;) {
            const key = await q.get();
            if (key === undefined) return;
            if (active.has(key)) violations.push(`${key} processed concurrently`);
            active.add(key);
            starts.push({ key, seq: seq++ });
            await s.schedule(Promise.resolve(), `work ${key}`);
            active.delete(key);
            if (failPlan.shift()) {
              adds.push({ key, seq: seq++ });
              q.addRateLimited(key);
            } else {
              q.forget(key);
            }
            q.done(key);
          }
        };
        const workers = Array.from({ length: workerCount }, () => worker());

        for (const op of ops) {
          void s.scheduleFunction(async () => {
            adds.push({ key: op.key, seq: seq++ });
            if (op.kind === 'add') q.add(op.key);
            else if (op.kind === 'addAfter') q.addAfter(op.key, op.ms);
            else q.addRateLimited(op.key);
          })();
        }

        for (let rounds = 0; rounds < 10_000; rounds++) {
          await s.waitIdle();
          if (!(await clock.runNext())) break;
        }
        await s.waitIdle();
        expect(q.len()).toBe(0);
        expect(q.processingCount()).toBe(0);
        q.shutDown();
        await Promise.all(workers);

        expect(violations).toEqual([]);
        for (const add of adds) {
          const covered = starts.some((st) => st.key === add.key && st.seq > add.seq);
          if (!covered) throw new Error(`add of ${add.key} at #${add.seq} was never processed afterwards`);
        }
      },
    ), { numRuns: 150 });
  });
});
