/**
 * The error hierarchy controllers use to tell the runtime what to do with a failed reconcile
 * (docs/architecture.md §6 rule 5):
 *
 * - {@link TerminalError}: retrying cannot help (an invalid spec, a request the API server
 *   rejects as malformed). The controller logs it, records it, and forgets the key until the
 *   object changes again.
 * - {@link RetryableError}: the world may look different in a moment (a conflict, throttling,
 *   an API server or network hiccup). The key goes back on the queue with backoff.
 *
 * Messages name the operation and the object, e.g.
 * `update PolicyProposal shop/foo: 409 Conflict: the object has been modified; …`.
 */
import { STATUS_CODES } from 'node:http';
import { ApiException } from '@kubernetes/client-node';

/** The object an operation was about, for messages: `PolicyProposal shop/foo`. */
export interface ObjectRef {
  readonly kind: string;
  readonly namespace?: string | undefined;
  readonly name?: string | undefined;
}

export interface HivewallErrorOptions {
  /** What was being done: `get`, `create`, `update`, `patch status`, `list`, `watch`, … */
  readonly operation?: string;
  readonly object?: ObjectRef;
  /** HTTP status from the API server, 0 if there was no response. */
  readonly status?: number;
  /** Machine-readable reason (`Conflict`, `NotFound`, `Invalid`, `ECONNREFUSED`, …). */
  readonly reason?: string;
  readonly cause?: unknown;
}

/** `PolicyProposal shop/foo`, `Namespace shop`, `Lease kube-system/hivewall`. */
export function describeObject(ref: ObjectRef): string {
  const id = ref.namespace && ref.name ? `${ref.namespace}/${ref.name}` : ref.name ?? ref.namespace;
  return id ? `${ref.kind} ${id}` : ref.kind;
}

function prefix(opts: HivewallErrorOptions): string {
  const parts = [opts.operation, opts.object ? describeObject(opts.object) : undefined].filter(Boolean);
  return parts.length > 0 ? `${parts.join(' ')}: ` : '';
}

/** Base class: an error that knows which operation on which object failed. */
export abstract class HivewallError extends Error {
  readonly operation: string | undefined;
  readonly object: ObjectRef | undefined;
  readonly status: number;
  readonly reason: string | undefined;
  /** Whether the runtime should retry the reconcile that threw it. */
  abstract readonly retryable: boolean;

  constructor(message: string, opts: HivewallErrorOptions = {}) {
    super(`${prefix(opts)}${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.operation = opts.operation;
    this.object = opts.object;
    this.status = opts.status ?? 0;
    this.reason = opts.reason;
  }
}

/** Retrying will not help: log, record, and wait for the object to change. */
export class TerminalError extends HivewallError {
  override readonly name = 'TerminalError';
  readonly retryable = false;
}

/** Retry with backoff; `retryAfterMs` (from a 429's Retry-After) is the least delay to use. */
export class RetryableError extends HivewallError {
  override readonly name = 'RetryableError';
  readonly retryable = true;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, opts: HivewallErrorOptions & { readonly retryAfterMs?: number } = {}) {
    super(message, opts);
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** A Kubernetes `Status` body, as far as classification needs it. */
interface StatusBody {
  readonly message?: string;
  readonly reason?: string;
  readonly details?: { readonly retryAfterSeconds?: number };
}

/**
 * The `Status` the API server sent with an error. client-node 2.0 hands it over either parsed
 * (`V1Status`) or, for status codes its OpenAPI spec does not list for the operation (409 on
 * replace, 400 on create, …), as the raw JSON text with the message "Unknown API Status Code!".
 */
export function statusOf(err: ApiException<unknown>): StatusBody {
  let body: unknown = err.body;
  if (typeof body === 'string') {
    const text = body.trim();
    try {
      body = JSON.parse(text);
    } catch {
      return text ? { message: text } : {};
    }
  }
  return body && typeof body === 'object' ? (body as StatusBody) : {};
}

/** Network-level failures worth retrying (Node, undici and DNS codes). */
const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND', 'EADDRNOTAVAIL', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED', 'ERR_STREAM_PREMATURE_CLOSE',
]);

/**
 * HTTP statuses that are worth retrying. 409 Conflict: "the object has been modified", re-read
 * and try again. 429: throttled (API Priority and Fairness). 5xx: server trouble. 408/504:
 * timeouts. 410 Gone: an expired `continue` token or resourceVersion; a fresh read fixes it.
 * 401/403: credentials rotate and RBAC is often applied after the operator starts, so these heal
 * without a code change; the backoff (capped at minutes) keeps them from hammering the server.
 * Everything else 4xx (400 BadRequest, 404 NotFound, 405, 415, 422 Invalid, …) is terminal: the
 * same request will fail the same way.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 401 || status === 403 || status === 408 || status === 409 || status === 410 ||
    status === 429 || status >= 500;
}

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function statusCodeOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  // src/k8s/kube.ts's KubeError carries the response status (undefined: no response, a network error).
  if (err instanceof Error && err.name === 'KubeError') {
    const status = (err as { status?: unknown }).status;
    return typeof status === 'number' ? status : undefined;
  }
  // client-node's Watch rejects with a plain Error carrying `statusCode` for non-200 responses.
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

function retryAfterMsOf(err: ApiException<unknown>, status: StatusBody): number | undefined {
  const header = Object.entries(err.headers ?? {}).find(([k]) => k.toLowerCase() === 'retry-after')?.[1];
  const seconds = header !== undefined ? Number(header) : status.details?.retryAfterSeconds;
  return seconds !== undefined && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

/**
 * Turn whatever a client-node call (or anything else in a reconcile) threw into a
 * {@link TerminalError} or a {@link RetryableError} whose message names `operation` and `object`:
 *
 * - a {@link HivewallError} is returned as it is;
 * - an `ApiException` is classified by {@link isRetryableStatus}, with the API server's own
 *   message and reason, and a 429's Retry-After;
 * - network errors (connection refused/reset, DNS, timeouts, aborted requests) are retryable;
 * - anything else is retryable too: an unknown failure gets a bounded, backed-off retry rather
 *   than silently dropping the key (controller-runtime does the same).
 */
export function classifyApiError(err: unknown, operation?: string, object?: ObjectRef): HivewallError {
  if (err instanceof HivewallError) return err;
  const base = { ...(operation === undefined ? {} : { operation }), ...(object === undefined ? {} : { object }), cause: err };
  const status = statusCodeOf(err);
  if (status !== undefined) {
    const body = err instanceof ApiException ? statusOf(err) : {};
    const reason = body.reason ?? STATUS_CODES[status]?.replace(/\s+/g, '');
    const text = `${status} ${STATUS_CODES[status] ?? 'Error'}${body.message ? `: ${body.message}` : ''}`;
    if (isRetryableStatus(status)) {
      const retryAfterMs = err instanceof ApiException ? retryAfterMsOf(err, body) : undefined;
      return new RetryableError(text, { ...base, status, reason, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
    }
    return new TerminalError(text, { ...base, status, reason });
  }
  const code = errorCode(err);
  const name = err instanceof Error ? err.name : undefined;
  const message = err instanceof Error ? err.message : String(err);
  if ((code && RETRYABLE_NETWORK_CODES.has(code)) || name === 'AbortError' || name === 'TimeoutError') {
    return new RetryableError(`${code ?? name}: ${message}`, { ...base, reason: code ?? name });
  }
  return new RetryableError(message, base);
}

/** The HTTP status of an API error (0 for anything else). */
export function apiStatusOf(err: unknown): number {
  if (err instanceof HivewallError) return err.status;
  return statusCodeOf(err) ?? 0;
}

/** True for a 404 NotFound from the API server (often not an error for a reconcile: it is gone). */
export function isNotFound(err: unknown): boolean {
  return apiStatusOf(err) === 404;
}

/** True for a 409: a stale resourceVersion on update, or AlreadyExists on create. */
export function isConflict(err: unknown): boolean {
  return apiStatusOf(err) === 409;
}
