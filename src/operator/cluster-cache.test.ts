// ClusterCache on fake list/watch collections (the real API server path is exercised by
// test/security/edge-receiver.test.ts and the operator's end-to-end tests): a change in one
// namespace re-reads that namespace only, and every index it feeds follows.
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { PodCandidate } from '../domain/identity.js';
import type { NodeInfo } from '../domain/inventory.js';
import { addressKey } from '../domain/simulate/cidr.js';
import { flushPromises } from '../runtime/fake-clock.js';
import type { ListerWatcher, WatchEventType } from '../runtime/list-watch.js';
import { captureLogger } from '../runtime/testing.js';
import { ClusterCache, type InventoryFollower } from './cluster-cache.js';

/** One kind's collection: lists what it holds; `send` plays a watch event. */
class Collection implements ListerWatcher<KubernetesObject> {
  rv = 1;
  onEvent: ((type: WatchEventType, object: unknown) => void) | undefined;
  constructor(readonly items: KubernetesObject[] = []) {}

  async list() {
    return { items: this.items, resourceVersion: String(this.rv) };
  }

  async watch(_opts: unknown, onEvent: (type: WatchEventType, object: unknown) => void) {
    this.onEvent = onEvent;
    return { stop: () => undefined };
  }

  send(type: WatchEventType, object: KubernetesObject): void {
    this.onEvent?.(type, { ...object, metadata: { ...object.metadata, resourceVersion: String(++this.rv) } });
  }
}

const pod = (namespace: string, name: string, ip: string): KubernetesObject => ({
  metadata: { namespace, name, uid: `${namespace}-${name}`, resourceVersion: '1', labels: { app: name } },
  spec: { nodeName: 'node-a', containers: [] },
  status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
} as KubernetesObject);
const namespace = (name: string, labels: Record<string, string> = {}): KubernetesObject => ({ metadata: { name, resourceVersion: '1', labels } });
const node = (ip: string): KubernetesObject => ({
  metadata: { name: 'node-a', resourceVersion: '1' },
  spec: { podCIDRs: ['10.244.0.0/24'] },
  status: { addresses: [{ type: 'InternalIP', address: ip }] },
} as KubernetesObject);

/** Records what the cache told it. */
class Recorder implements InventoryFollower {
  namespaces: string[] = [];
  nodes: NodeInfo[][] = [];
  updateNamespace(ns: string, _pods: readonly PodCandidate[]): void {
    this.namespaces.push(ns);
  }
  updateNodes(nodes: readonly NodeInfo[]): void {
    this.nodes.push([...nodes]);
  }
}

const running: ClusterCache[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});

async function started(ranges?: ConstructorParameters<typeof ClusterCache>[0]['ranges']) {
  const collections = new Map<string, Collection>([
    ['Namespace', new Collection([namespace('shop'), namespace('other')])],
    ['Node', new Collection([node('172.18.0.2')])],
    ['Pod', new Collection([pod('shop', 'web', '10.244.0.2'), pod('other', 'db', '10.244.0.3')])],
  ]);
  const follower = new Recorder();
  const cache = new ClusterCache({
    logger: captureLogger('silent').logger,
    listerWatcher: (_apiVersion, kind) => {
      let c = collections.get(kind);
      if (!c) collections.set(kind, (c = new Collection()));
      return c;
    },
    followers: [follower],
    ...(ranges ? { ranges } : {}),
  });
  running.push(cache);
  await cache.start(5_000);
  return { cache, follower, pods: collections.get('Pod')!, namespaces: collections.get('Namespace')!, nodes: collections.get('Node')! };
}

describe('ClusterCache', () => {
  it('starts with every namespace and the Nodes in the identity, the audit lookup and the followers', async () => {
    const { cache, follower } = await started();
    expect(cache.identity.workloadOfPod('shop', 'web')).toMatchObject({ namespace: 'shop', kind: 'Pod', name: 'web' });
    expect(cache.clusterLookup.podAt(addressKey('10.244.0.3')!)?.name).toBe('db');
    expect(follower.namespaces.sort()).toEqual(['other', 'shop']);
    expect(follower.nodes).toEqual([[{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: ['10.244.0.0/24'] }]]);
    expect(cache.clusterFacts.nodeIps).toEqual(['172.18.0.2']);
  });

  it('a pod added in one namespace re-reads that namespace only; the others keep their indexes', async () => {
    const { cache, follower, pods } = await started();
    const otherPods = cache.identity.podsWithWorkloadsIn('other');
    follower.namespaces = [];
    pods.send('ADDED', pod('shop', 'cart', '10.244.0.4'));
    await flushPromises();
    const changes = await cache.refresh();
    expect([...changes!.namespaces]).toEqual(['shop']);
    expect(changes!.nodes).toBe(false);
    expect(follower.namespaces).toEqual(['shop']);
    expect(cache.identity.podsWithWorkloadsIn('other')).toBe(otherPods);
    expect(cache.identity.workloadOfPod('shop', 'cart')).toBeDefined();
    expect(cache.clusterLookup.pod('shop', 'cart')?.ips).toEqual(['10.244.0.4']);
    expect(await cache.refresh()).toBeUndefined();
  });

  it('a deleted pod leaves every index; a Namespace\'s new labels reach the audit lookup', async () => {
    const { cache, pods, namespaces } = await started();
    pods.send('DELETED', pod('other', 'db', '10.244.0.3'));
    namespaces.send('MODIFIED', namespace('shop', { team: 'payments' }));
    await flushPromises();
    await cache.refresh();
    expect(cache.identity.workloadOfPod('other', 'db')).toBeUndefined();
    expect(cache.identity.resolve({ ip: '10.244.0.3', port: 80 }, 'server', 0)).toMatchObject({ ok: false, reason: 'unknown-pod-ip' });
    expect(cache.clusterLookup.podAt(addressKey('10.244.0.3')!)).toBeUndefined();
    expect(cache.clusterLookup.namespace('shop')?.labels).toMatchObject({ team: 'payments' });
  });

  it('--pod-cidr ranges beyond the Nodes\' reach identity (unknown addresses inside are not the world) and the cluster facts', async () => {
    const { cache } = await started({ podCidrs: ['10.0.0.0/16'] });
    expect(cache.clusterFacts.podCidrs).toEqual(['10.0.0.0/16', '10.244.0.0/24']);
    const from = { ip: '10.244.0.2', port: 40000 };
    expect(cache.identity.resolve({ ip: '10.0.7.7', port: 8080 }, 'server', Date.now(), from)).toMatchObject({ ok: false, reason: 'unknown-pod-ip' });
    expect(cache.identity.resolve({ ip: '203.0.113.7', port: 8080 }, 'server', Date.now(), from)).toMatchObject({ ok: true, peer: { entity: 'world' } });
  });

  it('a Node\'s new address moves the cluster facts and reaches the followers', async () => {
    const { cache, follower, nodes } = await started();
    nodes.send('MODIFIED', node('172.18.0.9'));
    await flushPromises();
    const changes = await cache.refresh();
    expect(changes).toEqual({ namespaces: new Set(), nodes: true });
    expect(cache.clusterFacts.nodeIps).toEqual(['172.18.0.9']);
    expect(follower.nodes.at(-1)).toEqual([{ name: 'node-a', ips: ['172.18.0.9'], podCIDRs: ['10.244.0.0/24'] }]);
    expect(cache.clusterLookup.nodeAt(addressKey('172.18.0.9')!)?.name).toBe('node-a');
  });
});
