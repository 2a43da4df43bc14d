/**
 * The I/O seam under an informer: list a collection, watch it from a resourceVersion.
 * {@link kubeListerWatcher} talks to a real API server through @kubernetes/client-node; tests
 * substitute fakes, or wrap the real one to inject faults.
 *
 * Both halves hand over objects as the API server's JSON (timestamps are strings). This is on
 * purpose: client-node's typed `list*` methods turn timestamps into `Date`s while its `Watch`
 * delivers plain JSON, so an informer fed by both (as client-node's own `makeInformer` is)
 * holds a mix of the two shapes.
 */
import http from 'node:http';
import https from 'node:https';
import { ApiException, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';

export interface ListOptions {
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  /** Page size (`limit`); the caller follows `continue` tokens. */
  readonly limit?: number | undefined;
  readonly continue?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface ListResult<T> {
  readonly items: T[];
  /** The collection's resourceVersion: where a watch continues from. */
  readonly resourceVersion: string;
  /** Set when there are more pages. */
  readonly continue?: string | undefined;
}

export interface WatchOptions {
  readonly resourceVersion: string;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  /** Ask the server to end the watch after this long (client-go picks 5–10 minutes). */
  readonly timeoutSeconds?: number | undefined;
}

/** Kubernetes watch event types ("ERROR" carries a `Status`, e.g. 410 Expired). */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchHandle {
  /** Close the watch; `onDone` is still called (with an AbortError or nothing). */
  stop(): void;
}

export interface ListerWatcher<T> {
  list(opts: ListOptions): Promise<ListResult<T>>;
  /**
   * Open a watch. `onEvent` gets each event in order; `onDone` is called once when the stream
   * ends: with no argument when the server closed it, with the error otherwise (a non-200
   * response, a network error, an inactivity timeout). May also reject if the watch cannot be
   * started at all.
   */
  watch(
    opts: WatchOptions,
    onEvent: (type: WatchEventType, object: unknown) => void,
    onDone: (err?: unknown) => void,
  ): Promise<WatchHandle>;
}

/** Where a resource lives in the API: core (`group` '') or a named group; namespaced or not. */
export interface ResourceRef {
  readonly group: string;
  readonly version: string;
  /** Lowercase plural: `configmaps`, `segmentations`. */
  readonly plural: string;
  /** Namespace to restrict to; omit for all namespaces or a cluster-scoped resource. */
  readonly namespace?: string | undefined;
}

/** `/api/v1/namespaces/shop/configmaps`, `/apis/hivewall.dev/v1alpha1/segmentations`. */
export function resourcePath(ref: ResourceRef): string {
  const root = ref.group === '' ? `/api/${ref.version}` : `/apis/${ref.group}/${ref.version}`;
  const ns = ref.namespace ? `/namespaces/${encodeURIComponent(ref.namespace)}` : '';
  return `${root}${ns}/${ref.plural}`;
}

interface RawResponse {
  readonly status: number;
  readonly statusMessage: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

async function rawGet(kc: KubeConfig, url: URL, signal?: AbortSignal): Promise<RawResponse> {
  const opts: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  // The documented way to make a plain Node request as the kubeconfig's user: CA, client
  // certificate, bearer/exec token, proxy agent.
  await kc.applyToHTTPSOptions(opts);
  const request = url.protocol === 'http:' ? http.request : https.request;
  return new Promise((resolve, reject) => {
    const req = request(url, { ...opts, ...(signal ? { signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

export interface KubeListerWatcherOptions {
  /** Server-side watch timeout range in seconds, picked at random per watch (default 300–600). */
  readonly watchTimeoutSeconds?: readonly [number, number];
}

/**
 * List and watch `path` (see {@link resourcePath}) on the kubeconfig's current cluster.
 * Watches ask for bookmarks (`allowWatchBookmarks`) so an idle watch still advances its
 * resourceVersion. Errors from the list are `ApiException`s like those of client-node's typed
 * clients (body = the API server's `Status` JSON text).
 */
export function kubeListerWatcher<T extends KubernetesObject>(
  kubeConfig: KubeConfig, path: string, opts: KubeListerWatcherOptions = {},
): ListerWatcher<T> {
  const watcher = new Watch(kubeConfig);
  const [minTimeout, maxTimeout] = opts.watchTimeoutSeconds ?? [300, 600];
  return {
    async list(o) {
      const cluster = kubeConfig.getCurrentCluster();
      if (!cluster) throw new Error('no current cluster in the kubeconfig');
      const url = new URL(cluster.server.replace(/\/+$/, '') + path);
      if (o.labelSelector) url.searchParams.set('labelSelector', o.labelSelector);
      if (o.fieldSelector) url.searchParams.set('fieldSelector', o.fieldSelector);
      if (o.limit) url.searchParams.set('limit', String(o.limit));
      if (o.continue) url.searchParams.set('continue', o.continue);
      const res = await rawGet(kubeConfig, url, o.signal);
      if (res.status < 200 || res.status > 299) {
        throw new ApiException<string>(res.status, `list ${path}: ${res.status} ${res.statusMessage}`, res.body, res.headers);
      }
      const parsed = JSON.parse(res.body) as { items?: T[] | null; metadata?: { resourceVersion?: string; continue?: string } };
      return {
        items: parsed.items ?? [],
        resourceVersion: parsed.metadata?.resourceVersion ?? '',
        continue: parsed.metadata?.continue || undefined,
      };
    },
    async watch(o, onEvent, onDone) {
      const timeoutSeconds = o.timeoutSeconds ?? Math.round(minTimeout + Math.random() * (maxTimeout - minTimeout));
      const controller = await watcher.watch(path, {
        resourceVersion: o.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
        labelSelector: o.labelSelector,
        fieldSelector: o.fieldSelector,
      }, (type, object) => onEvent(type as WatchEventType, object), onDone);
      return { stop: () => controller.abort() };
    },
  };
}
