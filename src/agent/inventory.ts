/**
 * The agent's view of the cluster for identity: the kinds of {@link AGENT_IDENTITY_KINDS}, kept
 * current by list+watch informers (one per kind, cluster-wide) and turned into a
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
import { Informer } from '../runtime/informer.js';
import { kubeListerWatcher, resourcePath, type ListerWatcher } from '../runtime/list-watch.js';
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

/** `apps/v1` → group `apps`, version `v1`; `v1` → core. */
function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

const PLURALS: Readonly<Record<string, string>> = {
  Pod: 'pods', Service: 'services', Node: 'nodes', EndpointSlice: 'endpointslices', ReplicaSet: 'replicasets', Job: 'jobs',
};

export interface InformerInventoryOptions {
  readonly logger: Logger;
  /** Builds the list/watch seam of one kind (default: client-node with `kubeConfig`). */
  readonly listerWatcher?: (apiVersion: string, kind: string) => ListerWatcher<KubernetesObject>;
  readonly kubeConfig?: KubeConfig;
}

/** One informer per agent identity kind. */
export class InformerInventorySource implements InventorySource {
  version = 0;
  readonly #informers: { apiVersion: string; kind: string; informer: Informer<KubernetesObject> }[] = [];

  constructor(opts: InformerInventoryOptions) {
    for (const [apiVersion, kind] of AGENT_IDENTITY_KINDS) {
      const plural = PLURALS[kind];
      if (!plural) throw new Error(`no plural known for ${kind}`);
      const listerWatcher = opts.listerWatcher?.(apiVersion, kind)
        ?? kubeListerWatcher<KubernetesObject>(requireKubeConfig(opts.kubeConfig), resourcePath({ ...splitApiVersion(apiVersion), plural }));
      const informer = new Informer<KubernetesObject>({ name: plural, listerWatcher, logger: opts.logger.child({ component: 'inventory' }) });
      const bump = () => {
        this.version++;
      };
      informer.addEventHandler({ onAdd: bump, onUpdate: (a, b) => { if (a !== b) bump(); }, onDelete: bump });
      this.#informers.push({ apiVersion, kind, informer });
    }
  }

  start(): void {
    for (const { informer } of this.#informers) informer.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.#informers.map(({ informer }) => informer.stop()));
  }

  synced(): boolean {
    return this.#informers.every(({ informer }) => informer.hasSynced());
  }

  inventory(): ClusterInventory {
    const objects: KubernetesObject[] = [];
    for (const { apiVersion, kind, informer } of this.#informers) {
      // Items of a list carry no kind of their own; the builder needs it.
      for (const object of informer.list()) objects.push({ ...object, apiVersion, kind });
    }
    return inventoryFromObjects(objects);
  }
}

function requireKubeConfig(kubeConfig: KubeConfig | undefined): KubeConfig {
  if (!kubeConfig) throw new Error('InformerInventorySource needs a kubeConfig or a listerWatcher');
  return kubeConfig;
}
