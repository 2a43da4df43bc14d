import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { IdentityResolver } from '../domain/identity.js';
import { emptyInventory } from '../domain/inventory.js';
import { Learner } from '../domain/learner.js';
import { OperatorCheckpoint } from '../k8s/checkpoint-store.js';
import type { Kube } from '../k8s/kube.js';
import { captureLogger } from '../runtime/testing.js';
import type { FlowSources } from './flow-sources.js';
import { StoreLoop, type CommittedState } from './store-loop.js';
import { key } from '../testing/builders.js';

/** Records writes; `failFor` namespaces fail their profile write. */
function fakeKube(failFor = new Set<string>()) {
  const writes: KubernetesObject[] = [];
  const reads: string[] = [];
  const kube = {
    get: async (_apiVersion: string, kind: string, namespace: string, name: string) => {
      reads.push(`${kind}/${namespace}/${name}`);
      return undefined;
    },
    apply: async (o: KubernetesObject) => {
      if (o.kind === 'TrafficProfile' && failFor.has(o.metadata?.namespace ?? '')) throw new Error('503 the API server is restarting');
      writes.push(structuredClone(o));
      return o;
    },
  } as unknown as Kube;
  return { kube, writes, reads };
}

/** The round protocol of FlowSources, recorded. */
function fakeSources(checkpoint: OperatorCheckpoint, waiting = false) {
  const ended: boolean[] = [];
  const sources = {
    beginRound: () => {
      checkpoint.set('checkpoint.json', { offset: 42 });
      return checkpoint.snapshot();
    },
    endRound: (stored: boolean) => ended.push(stored),
    hasWaiters: () => waiting,
  } as unknown as FlowSources;
  return { sources, ended };
}

function setup(failFor?: Set<string>, restored?: CommittedState) {
  const learner = new Learner(new IdentityResolver(emptyInventory));
  const { kube, writes, reads } = fakeKube(failFor);
  const checkpoint = new OperatorCheckpoint(kube, 'hivewall-system', 'hivewall-flow-checkpoint');
  const { sources, ended } = fakeSources(checkpoint);
  const store = new StoreLoop({
    kube, learner, sources, checkpoint, log: captureLogger('error').logger, countsIntervalMs: 10_000,
    segmentationsIn: (ns) => (ns === 'other' ? [] : [{ name: 'seg', uid: `uid-${ns}` }]),
  }, 6, restored);
  return { learner, store, writes, ended, reads };
}

const profiles = (writes: KubernetesObject[]) => writes.filter((w) => w.kind === 'TrafficProfile').map((w) => w.metadata?.namespace);
const configMaps = (writes: KubernetesObject[]) => writes.filter((w) => w.kind === 'ConfigMap') as (KubernetesObject & { data: Record<string, string> })[];

describe('StoreLoop', () => {
  it('a new edge is stored at once; changed counts alone wait for the interval', async () => {
    const { learner, store, writes } = setup();
    expect(store.needed(0)).toBe(false);
    learner.edges.record(key('wl:shop/Deployment/web'), key('wl:shop/Deployment/api'), 8080, 'TCP', 1);
    expect(store.needed(0)).toBe(true);
    expect(await store.pass(0)).toBe(true);
    expect(profiles(writes)).toEqual(['shop']);

    learner.edges.record(key('wl:shop/Deployment/web'), key('wl:shop/Deployment/api'), 8080, 'TCP', 2);
    expect(store.needed(5_000)).toBe(false);
    expect(store.needed(10_000)).toBe(true);
    await store.pass(10_000);
    expect(profiles(writes)).toEqual(['shop', 'shop']);
  });

  it('keeps what it wrote per Segmentation until that Segmentation is deleted', async () => {
    const { learner, store, writes, reads } = setup();
    learner.edges.record(key('wl:shop/Deployment/web'), key('wl:shop/Deployment/api'), 8080, 'TCP', 1);
    await store.pass(0);
    const profileReads = () => reads.filter((r) => r.startsWith('TrafficProfile/')).length;
    const readsAfterFirst = profileReads();
    // Unchanged content is known (by digest): neither read nor written again.
    store.markNamespace('shop');
    await store.pass(20_000);
    expect(profiles(writes)).toEqual(['shop']);
    expect(profileReads()).toBe(readsAfterFirst);
    // Another Segmentation's deletion forgets nothing of this one; its own does.
    store.forgetSegmentation('shop', 'other-seg');
    store.markNamespace('shop');
    await store.pass(40_000);
    expect(profileReads()).toBe(readsAfterFirst);
    store.forgetSegmentation('shop', 'seg');
    store.markNamespace('shop');
    await store.pass(60_000);
    expect(profileReads()).toBe(readsAfterFirst + 1);
  });

  it('starts no namespace past the pass deadline: the rest wait for the next pass, which is not stored until they are', async () => {
    let t = 0;
    const learner = new Learner(new IdentityResolver(emptyInventory));
    const { kube, writes } = fakeKube();
    const slowApply = kube.apply.bind(kube);
    // Each profile write takes 20 s of the clock (a slow API server).
    (kube as { apply: Kube['apply'] }).apply = async (o) => {
      if (o.kind === 'TrafficProfile') t += 20_000;
      return slowApply(o);
    };
    const checkpoint = new OperatorCheckpoint(kube, 'hivewall-system', 'hivewall-flow-checkpoint');
    const { sources, ended } = fakeSources(checkpoint);
    const store = new StoreLoop({
      kube, learner, sources, checkpoint, log: captureLogger('error').logger, countsIntervalMs: 10_000, concurrency: 1,
      passDeadlineMs: 30_000, clock: () => t, segmentationsIn: () => [{ name: 'seg', uid: 'uid' }],
    }, 6);
    for (const ns of ['a', 'b', 'c']) learner.edges.record(key(`wl:${ns}/Deployment/web`), key(`wl:${ns}/Deployment/api`), 8080, 'TCP', 1);
    expect(await store.pass(0)).toBe(false);
    expect(profiles(writes)).toEqual(['a', 'b']);
    expect(configMaps(writes)).toEqual([]);
    expect(ended).toEqual([false]);
    expect(await store.pass(t + 60_000)).toBe(true);
    expect(profiles(writes)).toEqual(['a', 'b', 'c']);
    expect(ended).toEqual([false, true]);
  });

  it('stamps each profile with its pass and positions, flushes the checkpoint after them, then acknowledges', async () => {
    const { learner, store, writes, ended } = setup();
    learner.edges.record(key('wl:shop/Deployment/web'), key('wl:pay/Deployment/api'), 8080, 'TCP', 1);
    await store.pass(0);
    // Both namespaces of a cross-namespace edge; the checkpoint last.
    expect(writes.map((w) => `${w.kind}/${w.metadata?.namespace}`)).toEqual(['TrafficProfile/pay', 'TrafficProfile/shop', 'ConfigMap/hivewall-system']);
    const covers = (writes[0] as unknown as { spec: { covers: { pass: number; positions: Record<string, string> } } }).spec.covers;
    expect(covers.pass).toBe(7);
    expect(JSON.parse(covers.positions['checkpoint.json']!)).toEqual({ offset: 42 });
    expect(configMaps(writes)[0]!.data['pass.json']).toBe('7');
    expect(ended).toEqual([true]);
  });

  it('a failed profile write holds the checkpoint back, refuses the acknowledgements, and is retried', async () => {
    const failing = new Set(['pay']);
    const { learner, store, writes, ended } = setup(failing);
    learner.edges.record(key('wl:shop/Deployment/web'), key('wl:shop/Deployment/api'), 8080, 'TCP', 1);
    learner.edges.record(key('wl:pay/Deployment/web'), key('wl:pay/Deployment/api'), 8080, 'TCP', 1);
    expect(await store.pass(0)).toBe(false);
    expect(configMaps(writes)).toEqual([]);
    expect(ended).toEqual([false]);
    // Backing off, then the pending namespace is written and the checkpoint follows.
    expect(store.needed(100)).toBe(false);
    failing.clear();
    expect(store.needed(1_000)).toBe(true);
    expect(await store.pass(1_000)).toBe(true);
    expect(profiles(writes)).toEqual(['shop', 'pay']);
    expect(configMaps(writes)).toHaveLength(1);
    expect(ended).toEqual([false, true]);
  });

  it('a pass whose leadership is lost midway writes no further profile and never flushes the checkpoint', async () => {
    const learner = new Learner(new IdentityResolver(emptyInventory));
    const { kube, writes } = fakeKube();
    const lost = new AbortController();
    const apply = kube.apply.bind(kube);
    // The Lease is lost while the first profile is being written.
    (kube as { apply: Kube['apply'] }).apply = async (o) => {
      if (o.kind === 'TrafficProfile') lost.abort();
      return apply(o);
    };
    const checkpoint = new OperatorCheckpoint(kube, 'hivewall-system', 'hivewall-flow-checkpoint');
    const { sources, ended } = fakeSources(checkpoint);
    const store = new StoreLoop({
      kube, learner, sources, checkpoint, log: captureLogger('error').logger, countsIntervalMs: 10_000, concurrency: 1,
      segmentationsIn: () => [{ name: 'seg', uid: 'uid' }],
    }, 6);
    for (const ns of ['a', 'b', 'c']) learner.edges.record(key(`wl:${ns}/Deployment/web`), key(`wl:${ns}/Deployment/api`), 8080, 'TCP', 1);
    expect(await store.pass(0, lost.signal)).toBe(false);
    expect(profiles(writes)).toEqual(['a']);
    expect(configMaps(writes)).toEqual([]);
    expect(ended).toEqual([false]);
  });

  it('namespaces without a Segmentation are not stored', async () => {
    const { learner, store, writes } = setup();
    learner.edges.record(key('wl:other/Deployment/web'), key('wl:other/Deployment/api'), 8080, 'TCP', 1);
    expect(await store.pass(0)).toBe(true);
    expect(profiles(writes)).toEqual([]);
  });

  it('reads a profile before its first write only when the restart listed it', async () => {
    const { learner, store, writes, reads } = setup(undefined, { pass: 6, positions: {}, namespaces: new Map(), listed: new Set(['pay/seg']) });
    learner.edges.record(key('wl:shop/Deployment/web'), key('wl:shop/Deployment/api'), 8080, 'TCP', 1);
    learner.edges.record(key('wl:pay/Deployment/web'), key('wl:pay/Deployment/api'), 8080, 'TCP', 1);
    expect(await store.pass(0)).toBe(true);
    expect(profiles(writes).sort()).toEqual(['pay', 'shop']);
    expect(reads.filter((r) => r.startsWith('TrafficProfile/'))).toEqual(['TrafficProfile/pay/seg']);
    // Without a listing (no restart state), every first write compares with what is stored.
    const fresh = setup();
    fresh.learner.edges.record(key('wl:shop/Deployment/web'), key('wl:shop/Deployment/api'), 8080, 'TCP', 1);
    await fresh.store.pass(0);
    expect(fresh.reads.filter((r) => r.startsWith('TrafficProfile/'))).toEqual(['TrafficProfile/shop/seg']);
  });
});
