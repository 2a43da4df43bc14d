/**
 * The agent's view of the cluster for identity: the kinds of {@link AGENT_IDENTITY_KINDS}, kept
 * current by list+watch informers (../k8s/cluster-informers.ts) and turned into a
 * {@link ClusterInventory} by the same InventoryBuilder the offline snapshot path and the operator
 * use — one set of identity rules everywhere.
 *
 * Watching instead of re-listing matters on a node agent: every node runs one, and a full list of
 * every pod from every node every few seconds would load the API server with O(nodes × pods).
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ClusterInventory } from '../domain/inventory.js';
import { InventoryBuilder } from '../ingest/cluster-snapshot.js';
import { ClusterInformers } from '../k8s/cluster-informers.js';
import type { InformerMetrics } from '../runtime/informer.js';
import type { ListerWatcher } from '../runtime/list-watch.js';
import { AGENT_IDENTITY_KINDS } from './rbac.js';

/** Where the agent's inventory comes from (informers in production, a fixed one in tests). */
export interface InventorySource {
  start(): void;
  stop(): Promise<void>;
  /** True once every kind has been listed. */
  synced(): boolean;
  /** Grows whenever an object was added, changed or deleted. */
  readonly version: number;
  /** The inventory as of now. */
  inventory(): ClusterInventory;
}

/** Builds an inventory from Kubernetes objects (each with `kind`). */
export function inventoryFromObjects(objects: Iterable<KubernetesObject>): ClusterInventory {
  const builder = new InventoryBuilder();
  builder.beginSnapshot(0);
  for (const object of objects) builder.addDocument(object, 'api');
  return builder.build();
}

/** A fixed inventory that can be replaced (tests, and `--inventory-file` style uses). */
export class StaticInventorySource implements InventorySource {
  version = 1;
  #inventory: ClusterInventory;

  constructor(inventory: ClusterInventory) {
    this.#inventory = inventory;
  }

  start(): void {}
  async stop(): Promise<void> {}
  synced(): boolean {
    return true;
  }

  inventory(): ClusterInventory {
    return this.#inventory;
  }

  /** Replaces the inventory (as if the informers saw the changes). */
  set(inventory: ClusterInventory): void {
    this.#inventory = inventory;
    this.version++;
  }
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

  inventory(): ClusterInventory {
    return inventoryFromObjects(this.#informers.objects());
  }
}
