/**
 * A watched view of some Kubernetes kinds: one list+watch informer per kind (cluster-wide, with
 * restarts and relists on 410, src/runtime/informer.ts), a version that grows with every change,
 * and the cached objects with their `apiVersion`/`kind` set, reduced to what identity and the
 * policy simulator read (./identity-fields.ts). The node agent watches the kinds it
 * needs for identity, the operator those it needs for identity and for the policy simulator —
 * instead of re-listing them, which would load the API server with O(pods) every few seconds.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { canonicalJson } from '../domain/canonical-json.js';
import type { Clock } from '../runtime/clock.js';
import { Informer, type InformerMetrics } from '../runtime/informer.js';
import { kubeListerWatcher, resourcePath, type ListerWatcher } from '../runtime/list-watch.js';
import { identityFields } from './identity-fields.js';
import { kindInfo } from './kinds.js';

/** A kind as `[apiVersion, kind]`, e.g. `['apps/v1', 'ReplicaSet']`. */
export type KindRef = readonly [apiVersion: string, kind: string];

/** `apps/v1` → group `apps`, version `v1`; `v1` → core. */
function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export interface ClusterInformersOptions {
  readonly kinds: readonly KindRef[];
  readonly logger: Logger;
  /** Builds the list/watch seam of one kind (default: client-node with `kubeConfig`). */
  readonly listerWatcher?: (apiVersion: string, kind: string) => ListerWatcher<KubernetesObject>;
  readonly kubeConfig?: KubeConfig;
  /**
   * Metric hooks of one informer, by its name (the plural: `pods`, `services`, …); every informer
   * built here gets them (telemetry/metrics.ts `informerMetrics`).
   */
  readonly metrics?: ((informer: string) => InformerMetrics) | undefined;
  /** For the informers' backoff timers (tests pass a FakeClock). */
  readonly clock?: Clock | undefined;
}

/** What changed since {@link ClusterInformers.takeChanges} was last called. */
export interface InventoryChanges {
  /** Namespaces with a changed namespaced object, and namespaces whose Namespace object changed. */
  readonly namespaces: ReadonlySet<string>;
  /** A Node changed (addresses, pod CIDRs: inputs of every namespace's policies). */
  readonly nodes: boolean;
}

export class ClusterInformers {
  /** Grows whenever an object was added, changed or deleted. */
  version = 0;
  #changedNamespaces = new Set<string>();
  #nodesChanged = false;
  readonly #informers: { apiVersion: string; kind: string; namespaced: boolean; informer: Informer<KubernetesObject> }[] = [];

  constructor(opts: ClusterInformersOptions) {
    for (const [apiVersion, kind] of opts.kinds) {
      const info = kindInfo(kind);
      if (!info) throw new Error(`no plural known for ${kind} (src/k8s/kinds.ts)`);
      const plural = info.plural;
      const listerWatcher = opts.listerWatcher?.(apiVersion, kind)
        ?? kubeListerWatcher<KubernetesObject>(requireKubeConfig(opts.kubeConfig), resourcePath({ ...splitApiVersion(apiVersion), plural }));
      const informer = new Informer<KubernetesObject>({
        name: plural,
        listerWatcher,
        logger: opts.logger.child({ component: 'inventory' }),
        ...(opts.metrics ? { metrics: opts.metrics(plural) } : {}),
        ...(opts.clock ? { clock: opts.clock } : {}),
        transform: (object) => identityFields(kind, object),
      });
      const bump = (object: KubernetesObject) => {
        this.version++;
        if (kind === 'Node') this.#nodesChanged = true;
        const namespace = kind === 'Namespace' ? object.metadata?.name : object.metadata?.namespace;
        if (namespace) this.#changedNamespaces.add(namespace);
      };
      // An update is a change only if the cached (slim) objects differ in more than their
      // resourceVersion: a DaemonSet's numberReady or a Pod's conditions move it on every status
      // write, but identityFields drops them, and nothing that reads the cache would change.
      informer.addEventHandler({ onAdd: bump, onUpdate: (a, b) => { if (!sameApartFromResourceVersion(a, b)) bump(b); }, onDelete: bump });
      this.#informers.push({ apiVersion, kind, namespaced: info.namespaced, informer });
    }
  }

  start(): void {
    for (const { informer } of this.#informers) informer.start();
  }

  /** The namespaces (and whether Nodes) changed since the last call; forgets them. */
  takeChanges(): InventoryChanges {
    const changes = { namespaces: this.#changedNamespaces, nodes: this.#nodesChanged };
    this.#changedNamespaces = new Set();
    this.#nodesChanged = false;
    return changes;
  }

  async stop(): Promise<void> {
    await Promise.all(this.#informers.map(({ informer }) => informer.stop()));
  }

  /** True once every kind has been listed. */
  synced(): boolean {
    return this.#informers.every(({ informer }) => informer.hasSynced());
  }

  /** Resolves true once every kind has been listed, false after `timeoutMs` or a stop. */
  async waitForSync(timeoutMs = Infinity): Promise<boolean> {
    const results = await Promise.all(this.#informers.map(({ informer }) => informer.waitForSync(timeoutMs)));
    return results.every(Boolean);
  }

  /** The cached objects of one namespace (namespaced kinds only), with `apiVersion` and `kind`. O(that namespace). */
  objectsIn(namespace: string): KubernetesObject[] {
    const objects: KubernetesObject[] = [];
    for (const { apiVersion, kind, namespaced, informer } of this.#informers) {
      if (!namespaced) continue;
      for (const object of informer.list(namespace)) objects.push({ ...object, apiVersion, kind });
    }
    return objects;
  }

  /** The cached objects of one cluster-scoped kind (`Namespace`, `Node`), or the one named `name`. */
  clusterScoped(kind: 'Namespace' | 'Node', name?: string): KubernetesObject[] {
    const entry = this.#informers.find((i) => i.kind === kind);
    if (!entry) return [];
    const objects = name === undefined ? entry.informer.list() : [entry.informer.get(name)].filter((o) => o !== undefined);
    return objects.map((object) => ({ ...object, apiVersion: entry.apiVersion, kind }));
  }
}

/**
 * Whether two cached objects are equal apart from `metadata.resourceVersion`, which the API server
 * changes on every write, status-only ones included. Deep, key-order-independent, and cheap on the
 * slim objects of ./identity-fields.ts; the same object twice (a resync) is equal at once.
 */
export function sameApartFromResourceVersion(a: KubernetesObject, b: KubernetesObject): boolean {
  if (a === b) return true;
  const { metadata: am, ...aRest } = a;
  const { metadata: bm, ...bRest } = b;
  if (canonicalJson(aRest) !== canonicalJson(bRest)) return false;
  if (am === undefined || bm === undefined) return am === bm;
  const { resourceVersion: _a, ...aMeta } = am;
  const { resourceVersion: _b, ...bMeta } = bm;
  return canonicalJson(aMeta) === canonicalJson(bMeta);
}

function requireKubeConfig(kubeConfig: KubeConfig | undefined): KubeConfig {
  if (!kubeConfig) throw new Error('ClusterInformers needs a kubeConfig or a listerWatcher');
  return kubeConfig;
}
