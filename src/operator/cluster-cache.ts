/**
 * What the operator knows about the cluster for identity and audit: the objects
 * `hivewall learn --cluster` reads from a snapshot, kept current by list+watch informers
 * (../k8s/cluster-informers.ts) and rebuilt when they changed. It feeds the same InventoryBuilder
 * as the offline path, so identity rules are shared, and keeps the raw objects for the policy
 * simulator's cluster model.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { IdentityResolver } from '../domain/identity.js';
import { clusterFactsOf, type ClusterFacts } from '../domain/plan.js';
import type { ClusterInventory } from '../domain/inventory.js';
import { buildClusterModel, type ClusterModel } from '../domain/simulate/index.js';
import { InventoryBuilder } from '../ingest/cluster-snapshot.js';
import { ClusterInformers, type InventoryChanges, type KindRef } from '../k8s/cluster-informers.js';
import type { InformerMetrics } from '../runtime/informer.js';
import type { ListerWatcher } from '../runtime/list-watch.js';
import { yieldToEventLoop } from '../runtime/yield.js';

/** The kinds identity and the simulator need. */
export const IDENTITY_KINDS: readonly KindRef[] = [
  ['v1', 'Namespace'],
  ['v1', 'Node'],
  ['v1', 'Pod'],
  ['v1', 'Service'],
  ['discovery.k8s.io/v1', 'EndpointSlice'],
  ['apps/v1', 'ReplicaSet'],
  ['apps/v1', 'Deployment'],
  ['apps/v1', 'StatefulSet'],
  ['apps/v1', 'DaemonSet'],
  ['batch/v1', 'Job'],
  ['batch/v1', 'CronJob'],
];

/** Objects added to the inventory between two yields of a rebuild. */
const REFRESH_CHUNK = 2_000;

export interface ClusterCacheOptions {
  readonly kubeConfig?: KubeConfig;
  readonly logger: Logger;
  /** Test seam: the list/watch of one kind. */
  readonly listerWatcher?: (apiVersion: string, kind: string) => ListerWatcher<KubernetesObject>;
  /** Metric hooks of each inventory informer, by its plural. */
  readonly metrics?: (informer: string) => InformerMetrics;
}

export class ClusterCache {
  private inventoryValue: ClusterInventory = { namespaces: [], nodes: [], pods: [], controllers: [], services: [], endpointSlices: [] };
  private resolver = new IdentityResolver(this.inventoryValue);
  private model: ClusterModel = buildClusterModel([]);
  private readonly informers: ClusterInformers;
  /** The informers' version the current inventory was built from. */
  private builtFrom = -1;
  private facts: ClusterFacts = { nodeIps: [], podCidrs: [], apiserverIps: [], apiserverPorts: [] };

  constructor(opts: ClusterCacheOptions) {
    this.informers = new ClusterInformers({ kinds: IDENTITY_KINDS, ...opts });
  }

  get inventory(): ClusterInventory {
    return this.inventoryValue;
  }

  get identity(): IdentityResolver {
    return this.resolver;
  }

  get clusterModel(): ClusterModel {
    return this.model;
  }

  /**
   * Starts watching; resolves once every kind is listed and the first inventory is built. Throws
   * after `timeoutMs` (e.g. no permission to list): the caller retries the whole leader start.
   */
  async start(timeoutMs = 60_000): Promise<void> {
    this.informers.start();
    if (!(await this.informers.waitForSync(timeoutMs))) {
      await this.informers.stop();
      throw new Error(`the cluster inventory (pods, services, nodes, owners) was not listed within ${timeoutMs} ms: is the API server reachable, and may this ServiceAccount list them?`);
    }
    await this.refresh();
  }

  stop(): Promise<void> {
    return this.informers.stop();
  }

  /** Node addresses, pod CIDRs and the kube-apiserver's endpoints: the cluster-wide inputs of every proposal. */
  get clusterFacts(): ClusterFacts {
    return this.facts;
  }

  /**
   * Rebuilds the inventory if a watched object changed since the last build; returns what changed
   * (undefined when nothing did), so the caller reconciles the namespaces concerned only. The
   * rebuild reads every cached object, so it yields to the event loop between chunks and steps
   * (the Lease must be renewed meanwhile); the old inventory serves until the new one is complete.
   */
  async refresh(): Promise<InventoryChanges | undefined> {
    const version = this.informers.version;
    if (version === this.builtFrom) return undefined;
    this.builtFrom = version;
    const changes = this.informers.takeChanges();
    const objects = this.informers.objects();
    await yieldToEventLoop();
    const builder = new InventoryBuilder();
    builder.beginSnapshot(0);
    for (let i = 0; i < objects.length; i++) {
      builder.addDocument(objects[i]!, 'api');
      if (i % REFRESH_CHUNK === REFRESH_CHUNK - 1) await yieldToEventLoop();
    }
    const inventory = builder.build();
    await yieldToEventLoop();
    const resolver = new IdentityResolver(inventory);
    await yieldToEventLoop();
    const model = buildClusterModel(objects);
    this.inventoryValue = inventory;
    this.resolver = resolver;
    this.model = model;
    const facts = clusterFactsOf(this.inventoryValue, this.resolver);
    const factsChanged = JSON.stringify(facts) !== JSON.stringify(this.facts);
    this.facts = facts;
    return { namespaces: changes.namespaces, nodes: factsChanged };
  }
}
