import type { KubernetesObject } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { peerKey } from '../domain/peer.js';
import type { ListerWatcher, WatchEventType } from '../runtime/list-watch.js';
import { captureLogger } from '../runtime/testing.js';
import { endpoint } from '../testing/builders.js';
import { IdentityHistory } from './identity-history.js';
import { InformerInventorySource, inventoryFromObjects, StaticInventorySource } from './inventory.js';
import { registerAgentMetrics, registerReceiverMetrics } from './metrics.js';
import { AGENT_IDENTITY_KINDS } from './rbac.js';
import { parseAck, edgeBatchSchema } from './wire.js';

/** List items as the API server sends them: no kind of their own. */
const objects: Record<string, KubernetesObject[]> = {
  Pod: [{
    metadata: { name: 'web-5d8f7-abcde', namespace: 'shop', uid: 'p1', creationTimestamp: '2026-01-01T00:00:00Z', labels: { app: 'web', 'pod-template-hash': '5d8f7' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f7', uid: 'r1', controller: true }] },
    spec: { nodeName: 'node-a' }, status: { podIP: '10.244.0.5', podIPs: [{ ip: '10.244.0.5' }] },
  } as unknown as KubernetesObject], // the wire's JSON: timestamps are strings
  ReplicaSet: [{ metadata: { name: 'web-5d8f7', namespace: 'shop', uid: 'r1', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd1', controller: true }] } } as KubernetesObject],
  Node: [{ metadata: { name: 'node-a' }, spec: { podCIDRs: ['10.244.0.0/24'] }, status: { addresses: [{ type: 'InternalIP', address: '172.18.0.2' }] } } as KubernetesObject],
};

class FakeListerWatcher implements ListerWatcher<KubernetesObject> {
  onEvent: ((type: WatchEventType, object: unknown) => void) | undefined;
  constructor(readonly items: KubernetesObject[]) {}
  async list() {
    return { items: this.items, resourceVersion: '1' };
  }
  async watch(_opts: unknown, onEvent: (type: WatchEventType, object: unknown) => void) {
    this.onEvent = onEvent;
    return { stop: () => {} };
  }
}

const sources: InformerInventorySource[] = [];
afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
});

describe('InformerInventorySource', () => {
  it('watches every agent identity kind and builds the inventory (kinds added to list items)', async () => {
    const fakes = new Map<string, FakeListerWatcher>();
    const source = new InformerInventorySource({
      logger: captureLogger().logger,
      listerWatcher: (_apiVersion, kind) => {
        const fake = new FakeListerWatcher(objects[kind] ?? []);
        fakes.set(kind, fake);
        return fake;
      },
    });
    sources.push(source);
    expect([...fakes.keys()]).toEqual(AGENT_IDENTITY_KINDS.map(([, kind]) => kind));
    expect(source.synced()).toBe(false);
    source.start();
    await expect.poll(() => source.synced()).toBe(true);
    const history = new IdentityHistory();
    history.apply(source.takeChanges(), source);
    const resolved = history.resolver.resolve(endpoint('10.244.0.5', 80), 'server', Date.now());
    expect(resolved.ok && peerKey(resolved.peer)).toBe('wl:shop/Deployment/web');
    expect(history.nodeOf('10.244.0.5')).toBe('node-a');

    const version = source.version;
    fakes.get('Pod')!.onEvent!('DELETED', { ...objects['Pod']![0], metadata: { ...objects['Pod']![0]!.metadata, resourceVersion: '2' } });
    await expect.poll(() => source.version).toBeGreaterThan(version);
    expect(source.takeChanges().namespaces).toEqual(new Set(['shop']));
    expect(source.namespaceInventory('shop').pods).toEqual([]);
    history.apply({ namespaces: new Set(['shop']), nodes: false }, source);
    expect(history.stats).toMatchObject({ livePods: 0, rememberedPods: 1 });
  });

  it('needs a kubeConfig or a listerWatcher', () => {
    expect(() => new InformerInventorySource({ logger: captureLogger().logger })).toThrow('needs a kubeConfig or a listerWatcher');
  });
});

describe('StaticInventorySource and inventoryFromObjects', () => {
  it('replacing the inventory bumps the version and reports the Nodes and namespaces changed', () => {
    const source = new StaticInventorySource(inventoryFromObjects([]));
    const v = source.version;
    source.set(inventoryFromObjects([{ apiVersion: 'v1', kind: 'Node', ...objects['Node']![0] }]));
    expect(source.version).toBe(v + 1);
    expect(source.nodes().map((n) => n.name)).toEqual(['node-a']);
    expect(source.takeChanges().nodes).toBe(true);
    expect(source.takeChanges()).toEqual({ namespaces: new Set(), nodes: false });
  });
});

describe('wire format', () => {
  it('parseAck reads an ack and refuses anything else', () => {
    expect(parseAck('{"ack":3,"applied":2}')).toEqual({ ack: 3, applied: 2 });
    expect(parseAck('{"ack":3,"applied":0,"duplicate":true}')).toEqual({ ack: 3, applied: 0, duplicate: true });
    expect(parseAck('{"ack":"3"}')).toBeUndefined();
    expect(parseAck('<html>')).toBeUndefined();
  });

  it('the batch schema accepts what the shipper sends', () => {
    const body = { node: 'n', instance: 'i', seq: 1, edges: [{ client: 'en:host', server: 'en:kube-apiserver:10.0.0.1', port: 6443, protocol: 'TCP', count: 1, firstSeen: 1, lastSeen: 2 }] };
    expect(edgeBatchSchema.safeParse(body).success).toBe(true);
    expect(edgeBatchSchema.safeParse({ ...body, edges: [{ ...body.edges[0], client: 'en:moon' }] }).success).toBe(false);
    // Names that are not Kubernetes names never enter from a node.
    for (const client of ['wl:../Deployment/x', 'wl:shop/Deployment/a/../../b', 'wl:shop/../Deployment/x', 'en:world:not-an-ip']) {
      expect(edgeBatchSchema.safeParse({ ...body, edges: [{ ...body.edges[0], client }] }).success, client).toBe(false);
    }
  });
});

describe('metrics', () => {
  it('exposes the modules\' stats as Prometheus series at scrape time', async () => {
    const registry = new Registry();
    const stats = {
      conntrack: { lines: { events: 5, dump: 2 }, flows: 6, skipped: { empty: 0, malformed: 1, 'schema-mismatch': 0, 'too-long': 0, 'unsupported-protocol': 0, 'invalid-name': 0 }, eventStarts: 2, eventExits: { exited: 1 }, stderrLines: 1, lostEventNotices: 2, dumps: { ok: 3, failed: 1 }, errors: { exited: 1, 'dump-failed': 1 } },
      aggregator: { learned: 4, remoteClient: 0, pendingEdges: 2, inflightEdges: 1, droppedEdges: 1, droppedConnections: 7, batches: 1, ackedBatches: 0, ackedConnections: 0, rejectedBatches: 0, rejectedConnections: 0, rotations: 0, sourceLostEvents: 0, carriedConnections: 3, unanswered: 0, droppedUnanswered: 0, denied: 0, droppedDenied: 0 },
      shipper: { requests: 3, outcomes: { acked: 1, retry: 2, unauthorized: 0, rejected: 0 }, consecutiveFailures: 2, lastAckAt: undefined, lastError: 'x' },
      identity: { livePods: 10, rememberedPods: 1, forgottenPods: 0, updates: 2 },
    };
    registerAgentMetrics(registry, stats);
    registerReceiverMetrics(registry, { requests: { accepted: 2, duplicate: 1, 'not-found': 0, 'method-not-allowed': 0, unauthenticated: 1, forbidden: 1, 'auth-unavailable': 0, 'not-leader': 0, 'not-stored': 0, 'too-large': 0, 'bad-json': 1, invalid: 0, 'rate-limited': 0, busy: 0, paused: 0, overloaded: 0, 'unknown-placement': 0, error: 0 }, edges: 3, connections: 9, dropped: 2, refused: { 'not-on-node': 4 } });
    const text = await registry.metrics();
    for (const line of [
      'hivewall_agent_conntrack_lines_total{origin="events",result="read"} 5',
      'hivewall_agent_conntrack_lines_total{origin="all",result="malformed"} 1',
      'hivewall_agent_conntrack_errors_total{kind="dump-failed"} 1',
      'hivewall_agent_buffered_edges{state="pending"} 2',
      'hivewall_agent_dropped_connections_total{reason="buffer-full"} 7',
      'hivewall_agent_dropped_connections_total{reason="previous-run"} 3',
      'hivewall_agent_conntrack_lost_events_total 2',
      'hivewall_agent_ship_requests_total{outcome="retry"} 2',
      'hivewall_agent_identity_pods{state="remembered"} 1',
      'hivewall_edge_receiver_requests_total{result="forbidden"} 1',
      'hivewall_edge_receiver_requests_total{result="bad-json"} 1',
      'hivewall_edge_receiver_connections_total 9',
      'hivewall_edge_receiver_dropped_connections_total 2',
      'hivewall_edge_receiver_edges_refused_total{reason="not-on-node"} 4',
    ]) expect(text).toContain(line);
    stats.aggregator.pendingEdges = 0;
    expect(await registry.metrics()).toContain('hivewall_agent_buffered_edges{state="pending"} 0');
  });
});
