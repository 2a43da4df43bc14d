/**
 * The agent's view of the cluster for identity: the kinds of {@link AGENT_IDENTITY_KINDS}, kept
 * current by list+watch informers (../k8s/cluster-informers.ts) and read, a changed namespace at
 * a time, through the same InventoryBuilder the offline snapshot path and the operator use — one
 * set of identity rules everywhere.
 *
 * Watching instead of re-listing matters on a node agent: every node runs one, and a full list of
 * every pod from every node every few seconds would load the API server with O(nodes × pods).
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { NamespaceInventory } from '../domain/identity.js';
import type { ClusterInventory, NodeInfo } from '../domain/inventory.js';
import { inventoryFromObjects } from '../ingest/cluster-snapshot.js';
import { ClusterInformers, type InventoryChanges } from '../k8s/cluster-informers.js';
import type { InformerMetrics } from '../runtime/informer.js';
import type { ListerWatcher } from '../runtime/list-watch.js';
import { AGENT_IDENTITY_KINDS } from './rbac.js';

export { inventoryFromObjects };

/**
 * Where the agent's inventory comes from (informers in production, a fixed one in tests): what
 * changed, and the objects of one namespace or the Nodes as of now — never the whole cluster.
 */
export interface InventorySource {
  start(): void;
  stop(): Promise<void>;
  /** True once every kind has been listed. */
  synced(): boolean;
  /** Grows whenever an object was added, changed or deleted. */
  readonly version: number;
  /** The namespaces (and whether the Nodes) changed since the last call; forgets them. */
  takeChanges(): InventoryChanges;
  /** One namespace's pods, owners, Services and EndpointSlices as of now. */
  namespaceInventory(namespace: string): NamespaceInventory;
  /** The Nodes as of now. */
  nodes(): readonly NodeInfo[];
}

/** A fixed inventory that can be replaced (tests). */
export class StaticInventorySource implements InventorySource {
  version = 1;
  #inventory: ClusterInventory;
  #changed: Set<string>;
  #nodesChanged = true;

  constructor(inventory: ClusterInventory) {
    this.#inventory = inventory;
    this.#changed = namespacesOf(inventory);
  }

  start(): void {}
  async stop(): Promise<void> {}
  synced(): boolean {
    return true;
  }

  takeChanges(): InventoryChanges {
    const changes = { namespaces: this.#changed, nodes: this.#nodesChanged };
    this.#changed = new Set();
    this.#nodesChanged = false;
    return changes;
  }

  namespaceInventory(namespace: string): NamespaceInventory {
    const inventory = this.#inventory;
    return {
      pods: inventory.pods.filter((p) => p.namespace === namespace),
      controllers: inventory.controllers.filter((c) => c.namespace === namespace),
      services: inventory.services.filter((s) => s.namespace === namespace),
      endpointSlices: inventory.endpointSlices.filter((s) => s.namespace === namespace),
    };
  }

  nodes(): readonly NodeInfo[] {
    return this.#inventory.nodes;
  }

  /** Replaces the inventory (as if the informers saw every namespace of the old and the new one change). */
  set(inventory: ClusterInventory): void {
    for (const namespace of [...namespacesOf(this.#inventory), ...namespacesOf(inventory)]) this.#changed.add(namespace);
    this.#nodesChanged = true;
    this.#inventory = inventory;
    this.version++;
  }
}

function namespacesOf(inventory: ClusterInventory): Set<string> {
  return new Set([...inventory.pods, ...inventory.controllers, ...inventory.services, ...inventory.endpointSlices].map((o) => o.namespace));
}

export interface InformerInventoryOptions {
  readonly logger: Logger;
  /** Metric hooks of each informer, by name (telemetry/metrics.ts `informerMetrics`). */
  readonly metrics?: ((informer: string) => InformerMetrics) | undefined;
  /** Builds the list/watch seam of one kind (default: client-node with `kubeConfig`). */
  readonly listerWatcher?: (apiVersion: string, kind: string) => ListerWatcher<KubernetesObject>;
  readonly kubeConfig?: KubeConfig;
}

/** One informer per agent identity kind (see ../k8s/cluster-informers.ts). */
export class InformerInventorySource implements InventorySource {
  readonly #informers: ClusterInformers;

  constructor(opts: InformerInventoryOptions) {
    this.#informers = new ClusterInformers({ kinds: AGENT_IDENTITY_KINDS, ...opts });
  }

  get version(): number {
    return this.#informers.version;
  }

  start(): void {
    this.#informers.start();
  }

  stop(): Promise<void> {
    return this.#informers.stop();
  }

  synced(): boolean {
    return this.#informers.synced();
  }

  takeChanges(): InventoryChanges {
    return this.#informers.takeChanges();
  }

  namespaceInventory(namespace: string): NamespaceInventory {
    return inventoryFromObjects(this.#informers.objectsIn(namespace));
  }

  nodes(): readonly NodeInfo[] {
    return inventoryFromObjects(this.#informers.clusterScoped('Node')).nodes;
  }
}
