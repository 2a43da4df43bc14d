/**
 * What the operator knows about the cluster for identity and audit: the objects
 * `hivewall learn --cluster` reads from a snapshot, listed live from the API server and refreshed
 * periodically. It feeds the same InventoryBuilder as the offline path, so identity rules are
 * shared, and keeps the raw objects for the policy simulator's cluster model.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { IdentityResolver } from '../domain/identity.js';
import type { ClusterInventory } from '../domain/inventory.js';
import { buildClusterModel, type ClusterModel } from '../domain/simulate/index.js';
import { InventoryBuilder } from '../ingest/cluster-snapshot.js';
import type { Kube } from '../k8s/kube.js';

/** The kinds identity needs, as [apiVersion, kind]. */
export const IDENTITY_KINDS: readonly (readonly [string, string])[] = [
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

export class ClusterCache {
  private inventoryValue: ClusterInventory = { namespaces: [], nodes: [], pods: [], controllers: [], services: [], endpointSlices: [] };
  private objects: KubernetesObject[] = [];
  private resolver = new IdentityResolver(this.inventoryValue);
  private model: ClusterModel = buildClusterModel([]);
  /** Bumped on every refresh that changed anything. */
  version = 0;
  private fingerprint = '';

  constructor(private readonly kube: Kube) {}

  get inventory(): ClusterInventory {
    return this.inventoryValue;
  }

  get identity(): IdentityResolver {
    return this.resolver;
  }

  get clusterModel(): ClusterModel {
    return this.model;
  }

  /** Lists every identity kind; returns true when something changed. */
  async refresh(): Promise<boolean> {
    const lists = await Promise.all(IDENTITY_KINDS.map(([apiVersion, kind]) => this.kube.list(apiVersion, kind)));
    const objects = lists.flat();
    const fingerprint = objects.map((o) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}@${o.metadata?.resourceVersion}`).sort().join('\n');
    if (fingerprint === this.fingerprint) return false;
    this.fingerprint = fingerprint;
    const builder = new InventoryBuilder();
    builder.beginSnapshot(0);
    for (const o of objects) builder.addDocument(o, 'api');
    this.objects = objects;
    this.inventoryValue = builder.build();
    this.resolver = new IdentityResolver(this.inventoryValue);
    this.model = buildClusterModel(this.objects);
    this.version++;
    return true;
  }
}
