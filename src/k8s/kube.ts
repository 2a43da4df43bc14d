/**
 * The operator's narrow view of the API server: typed reads, server-side apply with one field
 * manager (a policy is then replaced if fields of other managers remain, {@link Kube.apply}),
 * status patches on the status subresource, and Events (deduplicated, ./events.ts). Errors carry
 * the operation and the object in their message (see {@link KubeError}).
 */
import {
  CoreV1Api,
  createConfiguration,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  ServerConfiguration,
  setHeaderOptions,
  type KubernetesObject,
  type Middleware,
} from '@kubernetes/client-node';

import { comparableText } from '../domain/proposal.js';
import type { KubernetesObject as PolicyObject } from '../domain/translate/networkpolicy.js';
import { EventRecorder, kubeEventSink, type EventType } from './events.js';
import { KINDS } from './kinds.js';

export const FIELD_MANAGER = 'hivewall';

/** Resources hivewall writes through the plain-JSON path, by kind. */
const GROUP_PLURALS: Readonly<Record<string, string>> = Object.fromEntries(
  [KINDS.NetworkPolicy, KINDS.CiliumNetworkPolicy, KINDS.Segmentation, KINDS.PolicyProposal, KINDS.TrafficProfile].map((k) => [k.kind, k.plural]),
);

/** An API error with the operation, the object and the HTTP status in one message. */
export class KubeError extends Error {
  override readonly name = 'KubeError';
  constructor(readonly operation: string, readonly object: string, readonly status: number | undefined, cause: unknown) {
    super(`${operation} ${object}: ${status ?? 'no response'} ${describe(cause)}`);
  }
  get retryable(): boolean {
    return this.status === undefined || this.status === 409 || this.status === 429 || this.status >= 500;
  }
}

function describe(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      return body.slice(0, 300);
    }
  }
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}

/** The Retry-After of a throttled response in ms (1 s when absent, at most 5 s). */
function retryAfterMs(error: unknown): number {
  const headers = (error as { headers?: Record<string, string | string[] | undefined> }).headers ?? {};
  const value = headers['retry-after'] ?? headers['Retry-After'];
  const seconds = Number(Array.isArray(value) ? value[0] : value);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(5_000, seconds * 1_000) : 1_000;
}

/** For reads and deletes: "not found" is an answer (undefined), not an error. */
function absentIf404(error: unknown): undefined {
  if (statusOf(error) === 404) return undefined;
  throw error;
}

/** The HTTP status of a failed call (client-node's ApiException `code`); undefined when there was no answer. */
export function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  // Only an HTTP status: a DOMException (a timed-out or aborted request) has a small legacy `code` too.
  return typeof code === 'number' && code >= 100 && code <= 599 ? code : undefined;
}

/**
 * How long one API call may take, answer body included. The API server ends a request after 60 s
 * itself (`--request-timeout`); this bounds a connection that stopped answering at all (a
 * blackholed load balancer), which would otherwise hold a reconcile or a store pass for the HTTP
 * client's own 5-minute timeouts. A timed-out call is retryable (src/runtime/errors.ts).
 */
export const REQUEST_TIMEOUT_MS = 60_000;

/** Gives every request an abort signal that fires after `ms`. */
function requestTimeout(ms: number): Middleware {
  return {
    pre: async (context) => {
      context.setSignal(AbortSignal.timeout(ms));
      return context;
    },
    post: async (response) => response,
  };
}

/** KubernetesObjectApi as its makeApiClient makes it (the context's namespace as the default), on a given configuration. */
class ObjectApi extends KubernetesObjectApi {
  constructor(configuration: ConstructorParameters<typeof KubernetesObjectApi>[0], kubeConfig: KubeConfig) {
    super(configuration);
    this.setDefaultNamespace(kubeConfig);
  }
}

/** Names hivewall to the API server (audit logs, priority and fairness by user agent). */
const userAgent: Middleware = {
  pre: async (context) => {
    context.setHeaderParam('User-Agent', 'hivewall');
    return context;
  },
  post: async (response) => response,
};

/** The middleware of every client hivewall builds: its User-Agent and the request timeout. */
export function clientMiddleware(timeoutMs = REQUEST_TIMEOUT_MS): Middleware[] {
  return [userAgent, requestTimeout(timeoutMs)];
}

/** Kinds whose applied object must be exactly what is live (see {@link Kube.apply}). */
const POLICY_KINDS: ReadonlySet<string> = new Set([KINDS.NetworkPolicy.kind, KINDS.CiliumNetworkPolicy.kind]);

/**
 * How often {@link Kube.apply} re-applies and replaces a policy when the replace meets a newer
 * version (409): someone writing the policy at the same moment. Past that the 409 is the
 * caller's, a retryable error (src/runtime/errors.ts).
 */
export const POLICY_REPLACE_ATTEMPTS = 3;

/** What hivewall writes of a policy, as the reconciler's drift check compares it ({@link comparableText}). */
function policyText(o: KubernetesObject): string {
  return comparableText(o as PolicyObject);
}

/**
 * The body that replaces live policy `live` so that it is `want` as {@link comparableText} sees it:
 * `live`'s metadata (resourceVersion as the precondition, finalizers, ownerReferences, labels and
 * annotations of others) without `managedFields` (left out, the server keeps them), hivewall's
 * managed-by label and `hivewall.dev/` annotations exactly `want`'s, and `want`'s spec.
 */
function replacement(live: KubernetesObject, want: KubernetesObject): KubernetesObject {
  const { managedFields: _managedFields, ...metadata } = live.metadata ?? {};
  const labels = { ...(live.metadata?.labels ?? {}) };
  delete labels['app.kubernetes.io/managed-by'];
  const wantManagedBy = want.metadata?.labels?.['app.kubernetes.io/managed-by'];
  if (wantManagedBy !== undefined) labels['app.kubernetes.io/managed-by'] = wantManagedBy;
  const annotations = Object.fromEntries([
    ...Object.entries(live.metadata?.annotations ?? {}).filter(([k]) => !k.startsWith('hivewall.dev/')),
    ...Object.entries(want.metadata?.annotations ?? {}).filter(([k]) => k.startsWith('hivewall.dev/')),
  ]);
  const spec = (want as { spec?: unknown }).spec;
  return {
    apiVersion: want.apiVersion,
    kind: want.kind,
    metadata: { ...metadata, labels, ...(Object.keys(annotations).length > 0 || metadata.annotations ? { annotations } : {}) },
    ...(spec !== undefined ? { spec } : {}),
  } as KubernetesObject;
}

const label = (o: { kind?: string; metadata?: { namespace?: string; name?: string } }) => `${o.kind ?? 'object'} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? ''}`;

export class Kube {
  readonly objects: KubernetesObjectApi;
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  /** Writes made through this client (the idle-reconcile test counts them). */
  writes = 0;
  /** The process's one Event recorder (./events.ts); its writes count in `writes`. */
  readonly events: EventRecorder;

  /** @param requestTimeoutMs how long one call may take ({@link REQUEST_TIMEOUT_MS}; tests lower it) */
  constructor(readonly config: KubeConfig, requestTimeoutMs = REQUEST_TIMEOUT_MS) {
    // As KubeConfig.makeApiClient builds them (its User-Agent middleware too), plus the request timeout.
    const server = config.getCurrentCluster()?.server;
    if (server === undefined) throw new Error('the kubeconfig names no current cluster');
    const configuration = createConfiguration({
      baseServer: new ServerConfiguration(server, {}),
      authMethods: { default: config },
      promiseMiddleware: clientMiddleware(requestTimeoutMs),
    });
    this.objects = new ObjectApi(configuration, config);
    this.custom = new CustomObjectsApi(configuration);
    this.core = new CoreV1Api(configuration);
    this.events = new EventRecorder({ sink: kubeEventSink(this.core, () => this.writes++) });
  }

  /**
   * Runs one API call. A 429 (the API server's priority and fairness, or storage re-initializing
   * after a CRD change) was not processed, so it is retried after the server's Retry-After (capped
   * at 5 s), up to 3 times, as client-go does; anything else becomes a {@link KubeError}.
   */
  private async call<T>(operation: string, object: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        const status = statusOf(error);
        if (status === 429 && attempt < 3) {
          await new Promise((resolve) => setTimeout(resolve, retryAfterMs(error)));
          continue;
        }
        throw new KubeError(operation, object, status, error);
      }
    }
  }

  async list<T extends KubernetesObject>(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<T[]> {
    const result = await this.call('list', `${kind} in ${namespace ?? 'all namespaces'}`, () =>
      this.objects.list<T>(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector));
    return result.items.map((item) => ({ apiVersion, kind, ...item }) as T);
  }

  /**
   * Lists objects as plain JSON (wire field names, no client-side models): for comparing and
   * dumping policies exactly as the API server stores them. Works for any `/apis` group.
   */
  async listRaw<T>(group: string, version: string, plural: string, namespace: string, labelSelector?: string): Promise<T[]> {
    const result = await this.call('list', `${plural}.${group} in ${namespace}`, () =>
      this.custom.listNamespacedCustomObject({ group, version, namespace, plural, ...(labelSelector ? { labelSelector } : {}) }));
    const list = result as { items?: T[]; apiVersion?: string };
    const kind = [KINDS.NetworkPolicy, KINDS.CiliumNetworkPolicy].find((k) => k.plural === plural)?.kind;
    return (list.items ?? []).map((item) => ({ apiVersion: `${group}/${version}`, ...(kind ? { kind } : {}), ...item }));
  }

  async get<T extends KubernetesObject>(apiVersion: string, kind: string, namespace: string, name: string): Promise<T | undefined> {
    return this.call('get', `${kind} ${namespace}/${name}`, () =>
      this.objects.read<T>({ apiVersion, kind, metadata: { namespace, name } } as Parameters<KubernetesObjectApi['read']>[0] & T).catch(absentIf404));
  }

  async create<T extends KubernetesObject>(object: T): Promise<T> {
    this.writes++;
    const plural = GROUP_PLURALS[object.kind ?? ''];
    const [group, version] = (object.apiVersion ?? '').split('/');
    if (plural && group && version && object.metadata?.namespace) {
      return this.call('create', label(object), async () =>
        (await this.custom.createNamespacedCustomObject({ group, version, plural, namespace: object.metadata!.namespace!, body: object })) as T);
    }
    return this.call('create', label(object), () => this.objects.create(object));
  }

  /**
   * Server-side apply with field manager `hivewall`, forcing ownership of the fields hivewall sets.
   * Objects of an API group go out as plain JSON through the generic custom-objects path:
   * client-node's typed models would rename fields such as NetworkPolicy's `from` (`_from`).
   *
   * A NetworkPolicy or CiliumNetworkPolicy is then made exactly `object` (as {@link comparableText}
   * reduces it, the reconciler's drift check), not only its fields. Server-side apply decides
   * only about the fields a request names: `force` "forces the operation to succeed, changes the
   * value of the field, and removes the field from all other managers' entries in managedFields"
   * — for a field the applied object sets — and a field is removed only when the manager that
   * applied it leaves it out and "is not owned by any other field managers"
   * (https://kubernetes.io/docs/reference/using-api/server-side-apply/). A field another manager
   * added that hivewall never sets is neither: `kubectl patch --type=merge -p
   * '{"spec":{"ingress":[{}]}}'` on the default deny (hivewall writes no `spec.ingress` there)
   * survives every apply, and the namespace accepts all ingress while the Segmentation's status
   * says in sync. When what the apply returns differs from `object`, the policy is replaced (PUT)
   * with `object`'s spec (and hivewall's label and annotations), keeping the live metadata (the
   * returned resourceVersion as the precondition; finalizers, ownerReferences, others' labels and
   * annotations); a replace that meets a newer version (409) applies and compares again, up to
   * {@link POLICY_REPLACE_ATTEMPTS} times. An `object` that leaves out what the API server
   * defaults (NetworkPolicy `policyTypes`, a port's `protocol: TCP`) compares unequal too: its
   * replace stores what is already stored, which the API server treats as a no-op (no new
   * resourceVersion). hivewall's proposals carry those defaults (src/domain/translate/).
   */
  async apply<T extends KubernetesObject>(object: T): Promise<T> {
    if (!POLICY_KINDS.has(object.kind ?? '') || !object.metadata) return this.serverSideApply(object);
    const want = policyText(object);
    for (let attempt = 1; ; attempt++) {
      const live = await this.serverSideApply(object);
      if (policyText(live) === want) return live;
      try {
        return await this.replace(replacement(live, object) as T);
      } catch (error) {
        if (!(error instanceof KubeError) || error.status !== 409 || attempt >= POLICY_REPLACE_ATTEMPTS) throw error;
      }
    }
  }

  private async serverSideApply<T extends KubernetesObject>(object: T): Promise<T> {
    this.writes++;
    const plural = GROUP_PLURALS[object.kind ?? ''];
    const [group, version] = (object.apiVersion ?? '').split('/');
    if (plural && group && version && object.metadata?.namespace && object.metadata.name) {
      return this.call('apply', label(object), async () => (await this.custom.patchNamespacedCustomObject(
        { group, version, plural, namespace: object.metadata!.namespace!, name: object.metadata!.name!, body: object, fieldManager: FIELD_MANAGER, force: true },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      )) as T);
    }
    return this.call('apply', label(object), () => this.objects.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply));
  }

  /** Replaces (PUT) a namespaced object of an API group hivewall writes, with field manager `hivewall`; its resourceVersion is the precondition (409 when it changed). */
  private async replace<T extends KubernetesObject>(object: T): Promise<T> {
    this.writes++;
    const plural = GROUP_PLURALS[object.kind ?? ''];
    const [group, version] = (object.apiVersion ?? '').split('/');
    const { namespace, name } = object.metadata ?? {};
    if (!plural || !group || !version || !namespace || !name) throw new Error(`replace needs a namespaced object of a known API group: ${label(object)}`);
    return this.call('replace', label(object), async () =>
      (await this.custom.replaceNamespacedCustomObject({ group, version, plural, namespace, name, body: object, fieldManager: FIELD_MANAGER })) as T);
  }

  async mergePatch<T extends KubernetesObject>(object: T, patch: Record<string, unknown>): Promise<T> {
    this.writes++;
    const { metadata, ...rest } = patch as { metadata?: Record<string, unknown> };
    const body = { apiVersion: object.apiVersion, kind: object.kind, ...rest, metadata: { ...(metadata ?? {}), name: object.metadata?.name, namespace: object.metadata?.namespace } } as T;
    return this.call('patch', label(object), () => this.objects.patch(body, undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch));
  }

  async delete(object: KubernetesObject): Promise<void> {
    this.writes++;
    await this.call('delete', label(object), () => this.objects.delete(object).catch(absentIf404));
  }

  /**
   * Deletes `object` only if it is still the version read (preconditions on its uid and
   * resourceVersion): true when deleted, false when it is gone or changed meanwhile (409), so a
   * change made after the read (a review) is never deleted unseen.
   */
  async deleteUnchanged(object: KubernetesObject): Promise<boolean> {
    const { uid, resourceVersion } = object.metadata ?? {};
    if (uid === undefined || resourceVersion === undefined) throw new Error(`deleteUnchanged needs the uid and resourceVersion of ${label(object)}`);
    this.writes++;
    return this.call('delete', label(object), async () => {
      try {
        await this.objects.delete(object, undefined, undefined, undefined, undefined, undefined, { preconditions: { uid, resourceVersion } });
        return true;
      } catch (error) {
        const status = statusOf(error);
        if (status === 404 || status === 409) return false;
        throw error;
      }
    });
  }

  /** JSON merge patch of a custom resource's status subresource. */
  async patchStatus(group: string, version: string, plural: string, namespace: string, name: string, status: unknown): Promise<void> {
    this.writes++;
    await this.call('patch status of', `${plural}.${group} ${namespace}/${name}`, () =>
      this.custom.patchNamespacedCustomObjectStatus(
        { group, version, plural, namespace, name, body: { status } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ));
  }

  /**
   * Records a core/v1 Event about `involved` through {@link Kube.events}: repeats of the same
   * Event bump its count instead of creating another; failures are swallowed (Events are best
   * effort).
   */
  event(involved: KubernetesObject, type: EventType, reason: string, message: string): Promise<void> {
    return this.events.record(involved, type, reason, message);
  }
}
