import { ApiException, type CoreV1Event, type KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { FakeClock, flushPromises } from '../runtime/fake-clock.js';
import { captureLogger } from '../runtime/testing.js';
import { EventRecorder, MAX_EVENT_MESSAGE, type EventSink } from './events.js';

/** Stores Events as an API server would; `failPatch` makes patches answer with that status. */
class FakeEvents implements EventSink {
  readonly stored = new Map<string, CoreV1Event>();
  readonly calls: string[] = [];
  failPatch: number | undefined;
  failCreate = false;
  #n = 0;

  async create(event: CoreV1Event): Promise<CoreV1Event> {
    this.calls.push(`create ${event.reason} count=${event.count}`);
    if (this.failCreate) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const name = `${event.metadata?.generateName ?? ''}${++this.#n}`;
    const stored = { ...event, metadata: { ...event.metadata, name } };
    this.stored.set(`${event.metadata?.namespace}/${name}`, stored);
    return stored;
  }

  async patch(namespace: string, name: string, patch: { count: number; lastTimestamp: Date }): Promise<void> {
    this.calls.push(`patch ${name} count=${patch.count}`);
    if (this.failPatch) throw new ApiException(this.failPatch, `HTTP-Code: ${this.failPatch}`, { kind: 'Status', code: this.failPatch }, {});
    const event = this.stored.get(`${namespace}/${name}`)!;
    this.stored.set(`${namespace}/${name}`, { ...event, count: patch.count, lastTimestamp: patch.lastTimestamp });
  }

  events(): CoreV1Event[] {
    return [...this.stored.values()];
  }
}

const seg = (name = 'seg', uid = `uid-${name}`): KubernetesObject => ({ apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', metadata: { namespace: 'shop', name, uid } });

function setup(opts: { minPatchIntervalMs?: number; windowMs?: number; maxEntries?: number } = {}) {
  const sink = new FakeEvents();
  const clock = new FakeClock();
  const log = captureLogger();
  const recorder = new EventRecorder({ sink, clock, logger: log.logger, instance: 'replica-0', ...opts });
  return { sink, clock, log, recorder };
}

describe('EventRecorder', () => {
  it('creates a core/v1 Event about the object, with its uid and the reporting instance', async () => {
    const { sink, clock, recorder } = setup();
    await recorder.record(seg(), 'Warning', 'WouldDeny', 'a -> b 80/TCP would be denied');
    expect(sink.events()).toEqual([expect.objectContaining({
      type: 'Warning', reason: 'WouldDeny', message: 'a -> b 80/TCP would be denied', count: 1,
      involvedObject: { apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', name: 'seg', namespace: 'shop', uid: 'uid-seg' },
      firstTimestamp: new Date(clock.now()), lastTimestamp: new Date(clock.now()),
      source: { component: 'hivewall' }, reportingComponent: 'hivewall.dev/operator', reportingInstance: 'replica-0',
      metadata: expect.objectContaining({ generateName: 'seg.', namespace: 'shop' }),
    })]);
  });

  it('the same reason, message and object within the window bumps the count of one Event instead of creating another', async () => {
    const { sink, clock, recorder } = setup({ minPatchIntervalMs: 0 });
    const first = clock.now();
    await recorder.record(seg(), 'Warning', 'WouldDeny', 'same');
    await clock.advance(30_000);
    await recorder.record(seg(), 'Warning', 'WouldDeny', 'same');
    await clock.advance(30_000);
    await recorder.record(seg(), 'Warning', 'WouldDeny', 'same');
    expect(sink.events()).toHaveLength(1);
    expect(sink.events()[0]).toMatchObject({ count: 3, firstTimestamp: new Date(first), lastTimestamp: new Date(clock.now()) });
    expect(sink.calls).toEqual(['create WouldDeny count=1', 'patch seg.1 count=2', 'patch seg.1 count=3']);
  });

  it('another message, reason, type or object is another Event', async () => {
    const { sink, recorder } = setup({ minPatchIntervalMs: 0 });
    await recorder.record(seg(), 'Warning', 'WouldDeny', 'one');
    await recorder.record(seg(), 'Warning', 'WouldDeny', 'two');
    await recorder.record(seg(), 'Warning', 'RolledBack', 'one');
    await recorder.record(seg(), 'Normal', 'WouldDeny', 'one');
    await recorder.record(seg('other'), 'Warning', 'WouldDeny', 'one');
    expect(sink.calls.every((c) => c.startsWith('create'))).toBe(true);
    expect(sink.events()).toHaveLength(5);
  });

  it('after the window a repeat is a new Event', async () => {
    const { sink, clock, recorder } = setup({ windowMs: 600_000, minPatchIntervalMs: 0 });
    await recorder.record(seg(), 'Warning', 'WouldDeny', 'same');
    await clock.advance(600_000);
    await recorder.record(seg(), 'Warning', 'WouldDeny', 'same');
    expect(sink.calls).toEqual(['create WouldDeny count=1', 'create WouldDeny count=1']);
  });

  it('repeats within the patch interval are batched into one write when it ends; no count is lost', async () => {
    const { sink, clock, recorder } = setup({ minPatchIntervalMs: 60_000 });
    await recorder.record(seg(), 'Warning', 'WouldDeny', 'same');
    for (let i = 0; i < 20; i++) {
      await clock.advance(1_000);
      await recorder.record(seg(), 'Warning', 'WouldDeny', 'same');
    }
    expect(sink.calls).toEqual(['create WouldDeny count=1']);
    await clock.advance(40_000);
    await flushPromises();
    expect(sink.calls).toEqual(['create WouldDeny count=1', 'patch seg.1 count=21']);
    expect(sink.events()[0]?.count).toBe(21);
    await clock.advance(120_000);
    expect(sink.calls).toHaveLength(2); // nothing new: no write
    expect(recorder.writes).toBe(2);
  });

  it('a patch that finds the Event gone (TTL) creates a new one with the accumulated count', async () => {
    const { sink, clock, recorder } = setup({ minPatchIntervalMs: 0 });
    await recorder.record(seg(), 'Warning', 'WouldDeny', 'same');
    sink.failPatch = 404;
    await clock.advance(1_000);
    await recorder.record(seg(), 'Warning', 'WouldDeny', 'same');
    expect(sink.calls).toEqual(['create WouldDeny count=1', 'patch seg.1 count=2', 'create WouldDeny count=2']);
  });

  it('without permission to patch (403) it records repeats as new Events carrying the count, and says so once', async () => {
    const { sink, clock, recorder, log } = setup({ minPatchIntervalMs: 0 });
    sink.failPatch = 403;
    await recorder.record(seg(), 'Warning', 'WouldDeny', 'same');
    await clock.advance(1_000);
    await recorder.record(seg(), 'Warning', 'WouldDeny', 'same');
    await clock.advance(1_000);
    await recorder.record(seg(), 'Warning', 'WouldDeny', 'same');
    expect(sink.calls).toEqual(['create WouldDeny count=1', 'patch seg.1 count=2', 'create WouldDeny count=2', 'create WouldDeny count=3']);
    expect(log.find('may not patch Events: repeats are recorded as new Events')).toHaveLength(1);
  });

  it('never throws: a failed create is logged and retried with the next repeat', async () => {
    const { sink, clock, recorder, log } = setup({ minPatchIntervalMs: 0 });
    sink.failCreate = true;
    await expect(recorder.record(seg(), 'Warning', 'WouldDeny', 'same')).resolves.toBeUndefined();
    expect(log.find('event not recorded')[0]).toMatchObject({ err: { message: 'connect ECONNREFUSED' } });
    sink.failCreate = false;
    await clock.advance(1_000);
    await recorder.record(seg(), 'Warning', 'WouldDeny', 'same');
    expect(sink.events()).toEqual([expect.objectContaining({ count: 2 })]);
  });

  it('truncates long messages and remembers at most maxEntries Events, forgetting the least recent', async () => {
    const { sink, recorder } = setup({ minPatchIntervalMs: 0, maxEntries: 2 });
    await recorder.record(seg(), 'Warning', 'Long', 'x'.repeat(5000));
    expect(sink.events()[0]?.message).toHaveLength(MAX_EVENT_MESSAGE);
    await recorder.record(seg('b'), 'Warning', 'R', 'm');
    await recorder.record(seg('c'), 'Warning', 'R', 'm');
    expect(recorder.size()).toBe(2);
    await recorder.record(seg(), 'Warning', 'Long', 'x'.repeat(5000)); // forgotten: a new Event
    expect(sink.calls.filter((c) => c.startsWith('create Long'))).toHaveLength(2);
  });
});
