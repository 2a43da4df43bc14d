import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  classifyApiError, describeObject, isConflict, isNotFound, RetryableError, TerminalError,
} from './errors.js';

const proposal = { kind: 'PolicyProposal', namespace: 'shop', name: 'foo' };

function statusJson(code: number, reason: string, message: string, extra: object = {}): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, ...extra });
}

/** What client-node 2.0 throws for a status the operation's spec does not list: raw JSON text. */
function rawApiError(code: number, reason: string, message: string, headers: Record<string, string> = {}, extra: object = {}) {
  return new ApiException<string>(code, 'Unknown API Status Code!', statusJson(code, reason, message, extra), headers);
}

function netError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:6443`), { code });
}

describe('classifyApiError', () => {
  it.each([
    { name: '409 Conflict is retryable', err: rawApiError(409, 'Conflict', 'the object has been modified'), retryable: true, status: 409, reason: 'Conflict' },
    { name: '429 is retryable', err: rawApiError(429, 'TooManyRequests', 'slow down'), retryable: true, status: 429, reason: 'TooManyRequests' },
    { name: '500 is retryable', err: rawApiError(500, 'InternalError', 'etcd hiccup'), retryable: true, status: 500, reason: 'InternalError' },
    { name: '503 is retryable', err: rawApiError(503, 'ServiceUnavailable', 'try later'), retryable: true, status: 503, reason: 'ServiceUnavailable' },
    { name: '410 Gone is retryable', err: rawApiError(410, 'Expired', 'continue token expired'), retryable: true, status: 410, reason: 'Expired' },
    { name: '403 Forbidden is retryable (RBAC may arrive later)', err: rawApiError(403, 'Forbidden', 'cannot update'), retryable: true, status: 403, reason: 'Forbidden' },
    { name: '400 BadRequest is terminal', err: rawApiError(400, 'BadRequest', 'cannot be handled'), retryable: false, status: 400, reason: 'BadRequest' },
    { name: '404 NotFound is terminal', err: rawApiError(404, 'NotFound', 'not found'), retryable: false, status: 404, reason: 'NotFound' },
    { name: '422 Invalid is terminal', err: rawApiError(422, 'Invalid', 'spec.mode: Unsupported value'), retryable: false, status: 422, reason: 'Invalid' },
    { name: 'a parsed V1Status body works too', err: new ApiException(404, 'NotFound', { message: 'gone', reason: 'NotFound' }, {}), retryable: false, status: 404, reason: 'NotFound' },
    { name: 'a body that is not JSON keeps its text', err: new ApiException(502, 'Bad Gateway', 'upstream down', {}), retryable: true, status: 502, reason: 'BadGateway' },
    { name: 'a Watch error with statusCode', err: Object.assign(new Error('Gone'), { statusCode: 410 }), retryable: true, status: 410, reason: 'Gone' },
    { name: 'ECONNREFUSED is retryable', err: netError('ECONNREFUSED'), retryable: true, status: 0, reason: 'ECONNREFUSED' },
    { name: 'fetch failed with a cause code is retryable', err: new TypeError('fetch failed', { cause: netError('ECONNRESET') }), retryable: true, status: 0, reason: 'ECONNRESET' },
    { name: 'a timeout is retryable', err: new DOMException('The operation was aborted due to timeout', 'TimeoutError'), retryable: true, status: 0, reason: 'TimeoutError' },
    { name: 'an unknown error is retryable', err: new Error('boom'), retryable: true, status: 0, reason: undefined },
    { name: 'a thrown string is retryable', err: 'boom', retryable: true, status: 0, reason: undefined },
  ])('$name', ({ err, retryable, status, reason }) => {
    const c = classifyApiError(err, 'update', proposal);
    expect(c).toBeInstanceOf(retryable ? RetryableError : TerminalError);
    expect(c.retryable).toBe(retryable);
    expect(c.status).toBe(status);
    expect(c.reason).toBe(reason);
    expect(c.message.startsWith('update PolicyProposal shop/foo: ')).toBe(true);
    expect(c.cause).toBe(err);
  });

  it('names the operation, the object, the status and the server message', () => {
    const c = classifyApiError(rawApiError(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again'), 'update', proposal);
    expect(c.message).toBe('update PolicyProposal shop/foo: 409 Conflict: the object has been modified; please apply your changes to the latest version and try again');
  });

  it.each([
    { name: 'Retry-After header', err: rawApiError(429, 'TooManyRequests', 'x', { 'retry-after': '3' }), want: 3000 },
    { name: 'details.retryAfterSeconds', err: rawApiError(429, 'TooManyRequests', 'storage is (re)initializing', {}, { details: { retryAfterSeconds: 1 } }), want: 1000 },
    { name: 'neither', err: rawApiError(429, 'TooManyRequests', 'x'), want: undefined },
  ])('reads a 429 retry delay from the $name', ({ err, want }) => {
    const c = classifyApiError(err, 'list', { kind: 'ConfigMap' });
    expect(c).toBeInstanceOf(RetryableError);
    expect((c as RetryableError).retryAfterMs).toBe(want);
  });

  it('returns hivewall errors unchanged', () => {
    const t = new TerminalError('spec.mode must be Learn, Audit or Enforce', { operation: 'validate', object: { kind: 'Segmentation', namespace: 'shop', name: 'default' } });
    expect(classifyApiError(t, 'update')).toBe(t);
    expect(t.message).toBe('validate Segmentation shop/default: spec.mode must be Learn, Audit or Enforce');
  });

  it('works without an operation or object', () => {
    expect(classifyApiError(rawApiError(404, 'NotFound', 'x')).message).toBe('404 Not Found: x');
  });
});

describe('helpers', () => {
  it.each([
    { ref: { kind: 'PolicyProposal', namespace: 'shop', name: 'foo' }, want: 'PolicyProposal shop/foo' },
    { ref: { kind: 'Namespace', name: 'shop' }, want: 'Namespace shop' },
    { ref: { kind: 'ConfigMap', namespace: 'shop' }, want: 'ConfigMap shop' },
    { ref: { kind: 'ConfigMap' }, want: 'ConfigMap' },
  ])('describeObject → $want', ({ ref, want }) => {
    expect(describeObject(ref)).toBe(want);
  });

  it('isNotFound / isConflict read raw and classified errors', () => {
    expect(isNotFound(rawApiError(404, 'NotFound', 'x'))).toBe(true);
    expect(isNotFound(classifyApiError(rawApiError(404, 'NotFound', 'x')))).toBe(true);
    expect(isConflict(rawApiError(409, 'AlreadyExists', 'x'))).toBe(true);
    expect(isConflict(new Error('x'))).toBe(false);
  });
});
