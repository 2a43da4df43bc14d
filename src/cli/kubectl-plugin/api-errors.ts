/**
 * API failures → one line that says what went wrong and what to do. Admission denials print the
 * policy's own message; connection failures name the server; RBAC refusals say which role to ask for.
 */
// The client's own class (one module instance), without loading the client.
import { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';
import { CliError } from '../errors.js';

/** A failed API call, from the API server's `Status` body. */
export interface ApiFailure {
  readonly code: number;
  readonly reason: string;
  readonly message: string;
  /** `details.name` of a NotFound: set when the object is missing (not the whole API). */
  readonly name?: string;
}

/** The `Status` of a client-node error, or undefined when it is not an API response. */
export function apiFailure(err: unknown): ApiFailure | undefined {
  if (!(err instanceof ApiException)) return undefined;
  let body: unknown = err.body;
  if (typeof body === 'string') {
    const text = body;
    try {
      body = JSON.parse(text);
    } catch {
      return { code: err.code, reason: '', message: text.trim() || `HTTP ${err.code}` };
    }
  }
  const status = (body ?? {}) as { message?: unknown; reason?: unknown; details?: { name?: unknown } };
  const name = typeof status.details?.name === 'string' && status.details.name !== '' ? status.details.name : undefined;
  return {
    code: err.code,
    reason: typeof status.reason === 'string' ? status.reason : '',
    message: typeof status.message === 'string' ? status.message : `HTTP ${err.code}`,
    ...(name ? { name } : {}),
  };
}

export interface AdmissionDenial {
  /** e.g. `ValidatingAdmissionPolicy hivewall-review-identity` or `admission webhook x.example.com`. */
  readonly by: string;
  /** The policy's (or webhook's) own message. */
  readonly message: string;
}

/**
 * Recognise an admission refusal in a Status message:
 *   `... is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: <message>`
 *   `admission webhook "w" denied the request: <message>`
 */
export function admissionDenial(statusMessage: string): AdmissionDenial | undefined {
  const vap = /ValidatingAdmissionPolicy '([^']+)'(?: with binding '[^']*')? denied request: (.*)$/s.exec(statusMessage);
  if (vap?.[1] && vap[2] !== undefined) return { by: `ValidatingAdmissionPolicy ${vap[1]}`, message: vap[2].trim() };
  const webhook = /admission webhook "([^"]+)" denied the request: (.*)$/s.exec(statusMessage);
  if (webhook?.[1] && webhook[2] !== undefined) return { by: `admission webhook ${webhook[1]}`, message: webhook[2].trim() };
  return undefined;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT',
]);

/** Why the server could not be reached (fetch/TLS/DNS failure), or undefined for other errors. */
export function unreachableReason(err: unknown): string | undefined {
  if (err instanceof ApiException) return undefined;
  let fetchFailed = false;
  let reason: string | undefined;
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth += 1) {
    if (e instanceof TypeError && e.message === 'fetch failed') fetchFailed = true;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || /CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO/.test(code))) {
      reason = e.message.includes(code) ? e.message : `${code}: ${e.message}`;
    } else if (fetchFailed && e !== err && reason === undefined) {
      reason = e.message;
    }
  }
  if (reason) return reason;
  return fetchFailed ? 'the connection failed' : undefined;
}

export interface ErrorContext {
  /** What we tried, as a verb phrase: `review policyproposal shop/web-r3`. */
  readonly action: string;
  readonly forbidden?: (f: ApiFailure) => string;
  readonly notFound?: (f: ApiFailure) => string;
  readonly conflict?: (f: ApiFailure) => string;
}

/** Turn any failure of an API call into a CliError whose message names the problem and the fix. */
export function toCliError(err: unknown, conn: { readonly server: string; readonly contextName: string }, ctx: ErrorContext): CliError {
  if (err instanceof CliError) return err;
  const f = apiFailure(err);
  if (f) {
    const denial = admissionDenial(f.message);
    if (denial) return new CliError(`the API server refused to ${ctx.action}: ${denial.message} (${denial.by})`, 1);
    switch (f.code) {
      case 401:
        return new CliError(`the API server at ${conn.server} did not accept your credentials (401 Unauthorized, context "${conn.contextName}"): log in again or fix the user in your kubeconfig`, 1);
      case 403:
        return new CliError(ctx.forbidden?.(f) ?? `you are not allowed to ${ctx.action}: ${f.message}`, 1);
      case 404:
        return new CliError(ctx.notFound?.(f) ?? `cannot ${ctx.action}: ${f.message}`, 1);
      case 409:
        return new CliError(ctx.conflict?.(f) ?? `cannot ${ctx.action}: ${f.message}`, 1);
      default:
        return new CliError(`cannot ${ctx.action}: ${f.message} (HTTP ${f.code}${f.reason ? ` ${f.reason}` : ''})`, 1);
    }
  }
  const unreachable = unreachableReason(err);
  if (unreachable) {
    return new CliError(`cannot reach the Kubernetes API server at ${conn.server} (context "${conn.contextName}"): ${unreachable}; is the cluster up, and are --kubeconfig/KUBECONFIG and --context right?`, 1);
  }
  return new CliError(`cannot ${ctx.action}: ${err instanceof Error ? err.message : String(err)}`, 1);
}
