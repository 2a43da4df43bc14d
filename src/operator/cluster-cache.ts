/**
 * What the operator knows about the cluster for identity and audit: the objects
 * `hivewall learn --cluster` reads from a snapshot, kept current by list+watch informers
 * (../k8s/cluster-informers.ts). Cost follows change: a refresh re-reads only the namespaces whose
 * objects changed since the last one (and the Nodes if one changed), and replaces their share of
 * the identity indexes, of the audit's cluster lookup and of whatever follows the inventory (the
 * node placements). It reads objects through the same InventoryBuilder as the offline path, so
 * identity rules are shared.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { IdentityResolver, type IdentityOptions, type PodCandidate } from '../domain/identity.js';
import { emptyInventory, type NodeInfo } from '../domain/inventory.js';
import { clusterFactsOf, type ClusterFacts } from '../domain/plan.js';
import { buildClusterModel, ClusterLookup } from '../domain/simulate/index.js';
import { inventoryFromObjects } from '../ingest/cluster-snapshot.js';
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

/** Objects re-read between two yields of a refresh (the Lease must be renewed meanwhile). */
const REFRESH_CHUNK = 2_000;

/** Something kept from the inventory namespace by namespace (the node placements). */
export interface InventoryFollower {
  /** A namespace's pods, with their workloads, as of `now`; none when the namespace is gone. */
  updateNamespace(namespace: string, pods: readonly PodCandidate[], now: number): void;
  updateNodes(nodes: readonly NodeInfo[]): void;
}

export interface ClusterCacheOptions {
  readonly kubeConfig?: KubeConfig;
  readonly logger: Logger;
  /** Test seam: the list/watch of one kind. */
  readonly listerWatcher?: (apiVersion: string, kind: string) => ListerWatcher<KubernetesObject>;
  /** Metric hooks of each inventory informer, by its plural. */
  readonly metrics?: (informer: string) => InformerMetrics;
  /** Told of every namespace (and Node set) a refresh replaced. */
  readonly followers?: readonly InventoryFollower[];
  /** The operator's clock. Default `Date.now`. */
  readonly now?: () => number;
  /** Pod and Service ranges beyond the Nodes' (`--pod-cidr`, `--service-cidr`). */
  readonly ranges?: IdentityOptions;
}

export class ClusterCache {
  /** Resolves flow endpoints; its per-namespace indexes are replaced in place by {@link refresh}. */
  readonly identity: IdentityResolver;
  /** The audit evaluator's view of the cluster, replaced in place namespace by namespace. */
  readonly clusterLookup = new ClusterLookup();
  private readonly informers: ClusterInformers;
  private readonly followers: readonly InventoryFollower[];
  private readonly now: () => number;
  /** The informers' version the indexes were last brought up to. */
  private builtFrom = -1;
  private facts: ClusterFacts;

  constructor(opts: ClusterCacheOptions) {
    this.identity = new IdentityResolver(emptyInventory, opts.ranges ?? {});
    this.facts = clusterFactsOf(this.identity);
    this.informers = new ClusterInformers({ kinds: IDENTITY_KINDS, ...opts });
    this.followers = opts.followers ?? [];
    this.now = opts.now ?? Date.now;
  }

  /**
   * Starts watching; resolves once every kind is listed and the indexes are built. Throws
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
   * Brings the indexes up to the informers: re-reads each namespace with a changed object (its
   * Namespace included) and, if a Node changed, the Nodes; returns what changed (undefined when
   * nothing did), with `nodes` true when the cluster facts moved, so the caller reconciles the
   * namespaces concerned only. Each namespace is replaced at once (never half-read); the refresh
   * yields to the event loop between namespaces every {@link REFRESH_CHUNK} objects. Changes that
   * arrive meanwhile are left for the next refresh.
   */
  async refresh(): Promise<InventoryChanges | undefined> {
    const version = this.informers.version;
    if (version === this.builtFrom) return undefined;
    this.builtFrom = version;
    const changes = this.informers.takeChanges();
    if (changes.nodes) this.replaceNodes();
    let sinceYield = 0;
    for (const namespace of changes.namespaces) {
      sinceYield += this.replaceNamespace(namespace);
      if (sinceYield >= REFRESH_CHUNK) {
        sinceYield = 0;
        await yieldToEventLoop();
      }
    }
    // The facts come from the Nodes and the `default/kubernetes` endpoints only.
    let factsChanged = false;
    if (changes.nodes || changes.namespaces.has('default')) {
      const facts = clusterFactsOf(this.identity);
      factsChanged = JSON.stringify(facts) !== JSON.stringify(this.facts);
      this.facts = facts;
    }
    return { namespaces: changes.namespaces, nodes: factsChanged };
  }

  /** Re-reads one namespace's objects into every index; returns how many objects it read. */
  private replaceNamespace(namespace: string): number {
    const objects = this.informers.objectsIn(namespace);
    this.identity.replaceNamespace(namespace, inventoryFromObjects(objects));
    const model = buildClusterModel([...this.informers.clusterScoped('Namespace', namespace), ...objects]);
    this.clusterLookup.replaceNamespace(namespace, model.namespaces[0], model.pods);
    if (namespace === 'default') this.clusterLookup.replaceApiserver(model.kubeApiserverIPs);
    const pods = this.identity.podsWithWorkloadsIn(namespace);
    const now = this.now();
    for (const follower of this.followers) follower.updateNamespace(namespace, pods, now);
    return objects.length + 1;
  }

  private replaceNodes(): void {
    const objects = this.informers.clusterScoped('Node');
    const { nodes } = inventoryFromObjects(objects);
    this.identity.replaceNodes(nodes);
    this.clusterLookup.replaceNodes(buildClusterModel(objects).nodes);
    for (const follower of this.followers) follower.updateNodes(nodes);
  }
}
