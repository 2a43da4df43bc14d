/**
 * One server-streaming gRPC call over `node:http2`, on a connection of its own: the transport of
 * the Hubble GetFlows stream.
 *
 * Why not `@grpc/grpc-js`: every GetFlowsResponse is one gRPC message per flow, and grpc-js runs
 * each received message through a promise-based interceptor/filter chain and an object-mode
 * Readable, which cost about 10 µs per message in a profile of `npm run bench` (more than decoding
 * the flow and learning from it together); this reader hands each message on as a range of its chunk
 * (grpc-framing.ts). A server-streaming call with one request and no compression is a small part
 * of the protocol, implemented here by its rules (gRPC over HTTP/2, PROTOCOL-HTTP2):
 *
 * - Request: HEADERS `:method POST`, `:scheme`, `:path /<service>/<method>`, `:authority`,
 *   `content-type: application/grpc`, `te: trailers`, no `grpc-accept-encoding` (so the server
 *   sends uncompressed messages); DATA: the one length-prefixed request message, then END_STREAM.
 * - Response: HEADERS (`:status 200`, `content-type: application/grpc...`), DATA carrying
 *   length-prefixed messages, then trailers with `grpc-status` and the percent-encoded
 *   `grpc-message`. A "Trailers-Only" response carries `grpc-status` in its only HEADERS.
 * - A `:status` other than 200 without `grpc-status` maps to a status by the HTTP-to-gRPC table
 *   (400 INTERNAL, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED, 429/502/503/504
 *   UNAVAILABLE, other UNKNOWN); a non-gRPC `content-type` is UNKNOWN.
 * - A stream reset by the server maps by its HTTP/2 error code (REFUSED_STREAM UNAVAILABLE,
 *   CANCEL CANCELLED, ENHANCE_YOUR_CALM RESOURCE_EXHAUSTED, INADEQUATE_SECURITY PERMISSION_DENIED,
 *   other INTERNAL); a connection that fails or goes away before the status is UNAVAILABLE; a
 *   stream that ends without a status, or inside a message, is INTERNAL.
 * - Cancelling sends RST_STREAM CANCEL (the server sees the call cancelled), then closes the
 *   connection; the call ends CANCELLED.
 * - Keepalive: an HTTP/2 PING every `keepaliveTimeMs` while the call is open; no ACK within
 *   `keepaliveTimeoutMs` ends the call UNAVAILABLE.
 *
 * Incoming DATA is taken where node:http2 hands it to the stream (takeChunksAtPush): one call per
 * DATA frame instead of a trip through the Readable machinery and a `process.nextTick` round each,
 * which mattered because grpc-go puts every message (every flow) in a DATA frame of its own.
 *
 * The connection counts as ready once the server's SETTINGS arrived (as grpc-js's READY), not at
 * TCP connect: a listener that does not speak HTTP/2 never gets there. The HTTP/2 receive windows
 * are raised above the 64 KiB default so a fast stream is not paced by WINDOW_UPDATE round trips.
 *
 * {@link openServerStream} reports every step to its handlers and ends exactly once with a status.
 */
import { connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { DEFAULT_MAX_MESSAGE_BYTES, FramingError, MessageReader, frameMessage } from './grpc-framing.js';
import type { GrpcTarget } from './target.js';

/** gRPC status codes. */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const CODE_NAMES = new Map<number, string>(Object.entries(GrpcCode).map(([name, code]) => [code, name]));

/** A status code's name (`UNAVAILABLE`), or its decimal when it is not one of gRPC's. */
export function grpcCodeName(code: number): string {
  return CODE_NAMES.get(code) ?? String(code);
}

export interface GrpcStatus {
  readonly code: number;
  readonly details: string;
  /** The local error behind the status (socket, TLS, framing), when there is one. */
  readonly cause?: Error;
}

export interface ServerStreamTls {
  /** Trusted CA bundle (PEM); Node's default roots when absent. */
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Name the server certificate must match, sent as SNI and `:authority`. */
  readonly serverName?: string;
}

export interface ServerStreamOptions {
  readonly target: GrpcTarget;
  /** `/<package>.<Service>/<Method>`. */
  readonly path: string;
  /** The serialized request message (framed here). */
  readonly request: Uint8Array;
  readonly tls?: ServerStreamTls;
  readonly keepaliveTimeMs?: number;
  readonly keepaliveTimeoutMs?: number;
  readonly maxMessageBytes?: number;
}

export interface ServerStreamHandlers {
  /** The HTTP/2 connection is up (the server's SETTINGS arrived). */
  readonly ready?: () => void;
  /** The response headers arrived (not for a Trailers-Only response). */
  readonly headers?: () => void;
  /**
   * One message: `buf[start, end)`, where `buf` may be a larger chunk (copy what is kept). A handler
   * that throws ends the call INTERNAL with the error as cause.
   */
  readonly message: (buf: Buffer, start: number, end: number) => void;
  /** The call is over (called once). */
  readonly end: (status: GrpcStatus) => void;
}

export interface ServerStream {
  /** True once the connection is ready and while it lasts. */
  readonly ready: boolean;
  /** Cancels the call (RST_STREAM CANCEL) and closes the connection; `end` follows with CANCELLED. */
  cancel(): void;
}

/** HTTP/2 receive windows: per stream, and for the connection. */
const STREAM_WINDOW = 1024 * 1024;
const CONNECTION_WINDOW = 4 * 1024 * 1024;
const DEFAULT_KEEPALIVE_TIMEOUT_MS = 20_000;

/**
 * Starts the call: connects, sends the request, and reports to `handlers` until it ends. Throws
 * (and holds nothing) when the connection cannot even be set up, e.g. TLS material that is not PEM.
 */
export function openServerStream(options: ServerStreamOptions, handlers: ServerStreamHandlers): ServerStream {
  return new Call(options, handlers);
}

class Call implements ServerStream {
  private readonly session: ClientHttp2Session;
  private readonly stream: ClientHttp2Stream;
  private readonly reader: MessageReader;
  private connected = false;
  private finished = false;
  /** A status decided here (cancel, framing error, keepalive timeout): it wins over what follows. */
  private local: GrpcStatus | undefined;
  /** The status the server sent (trailers, or Trailers-Only / HTTP headers). */
  private received: GrpcStatus | undefined;
  /** The first transport error seen (socket, TLS, session, stream). */
  private failure: Error | undefined;
  private goaway = false;
  private keepalive: ReturnType<typeof setTimeout> | undefined;
  private pingDeadline: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly options: ServerStreamOptions,
    private readonly handlers: ServerStreamHandlers,
  ) {
    const { target, tls } = options;
    const authority = tls?.serverName ?? target.authority;
    this.reader = new MessageReader((buf, start, end) => {
      if (!this.finished && this.local === undefined) handlers.message(buf, start, end);
    }, options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);

    const session = h2connect(`${tls === undefined ? 'http' : 'https'}://${target.kind === 'unix' ? 'localhost' : target.authority}`, {
      createConnection: () => connectSocket(target, tls),
      settings: { enablePush: false, initialWindowSize: STREAM_WINDOW },
    });
    this.session = session;
    session.on('error', (error: Error) => this.fail(error));
    session.on('goaway', () => {
      this.goaway = true;
    });
    // A server that refuses the handshake (say, mTLS without a client certificate) may have
    // destroyed the session by the time 'connect' is delivered; setting a window then throws.
    session.once('connect', () => {
      if (!session.destroyed) session.setLocalWindowSize(CONNECTION_WINDOW);
    });
    session.once('remoteSettings', () => {
      if (this.finished) return;
      this.connected = true;
      this.scheduleKeepalive();
      handlers.ready?.();
    });
    session.once('close', () => this.finish());

    let stream: ClientHttp2Stream;
    try {
      stream = session.request(
        {
          [constants.HTTP2_HEADER_METHOD]: 'POST',
          [constants.HTTP2_HEADER_PATH]: options.path,
          [constants.HTTP2_HEADER_AUTHORITY]: authority,
          [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
          [constants.HTTP2_HEADER_TE]: 'trailers',
          [constants.HTTP2_HEADER_USER_AGENT]: 'hivewall',
        },
        { endStream: false },
      );
    } catch (error) {
      session.destroy();
      throw error;
    }
    this.stream = stream;
    stream.on('response', (headers: IncomingHttpHeaders) => this.onHeaders(headers));
    stream.on('trailers', (trailers: IncomingHttpHeaders) => {
      this.received ??= statusFrom(trailers) ?? { code: GrpcCode.INTERNAL, details: 'trailers without grpc-status' };
    });
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    takeChunksAtPush(stream, (chunk) => this.onData(chunk));
    // A reset stream errs with ERR_HTTP2_STREAM_ERROR: its rstCode tells more (outcome()).
    stream.on('error', (error: Error & { code?: string }) => {
      if (error.code !== 'ERR_HTTP2_STREAM_ERROR') this.fail(error);
    });
    stream.once('close', () => this.finish());
    stream.end(frameMessage(options.request));
  }

  get ready(): boolean {
    return this.connected && !this.finished && !this.session.destroyed;
  }

  cancel(): void {
    this.abort({ code: GrpcCode.CANCELLED, details: 'Cancelled on client' });
  }

  private onHeaders(headers: IncomingHttpHeaders): void {
    const trailersOnly = statusFrom(headers);
    if (trailersOnly !== undefined) {
      this.received ??= trailersOnly;
      return;
    }
    const httpStatus = Number(headers[constants.HTTP2_HEADER_STATUS]);
    if (httpStatus !== 200) {
      this.abort({ code: httpStatusCode(httpStatus), details: `HTTP status ${httpStatus} without grpc-status` });
      return;
    }
    const contentType = String(headers[constants.HTTP2_HEADER_CONTENT_TYPE] ?? '');
    if (!/^application\/grpc($|[+;])/.test(contentType)) {
      this.abort({ code: GrpcCode.UNKNOWN, details: `response content-type ${JSON.stringify(contentType)} is not gRPC` });
      return;
    }
    this.handlers.headers?.();
  }

  private onData(chunk: Buffer): void {
    if (this.finished || this.local !== undefined) return;
    try {
      this.reader.push(chunk);
    } catch (error) {
      // A framing error, or the message handler failed: either way the call cannot go on.
      if (error instanceof FramingError) this.abort({ code: GrpcCode[error.code], details: error.message, cause: error });
      else {
        const cause = error instanceof Error ? error : new Error(String(error));
        this.abort({ code: GrpcCode.INTERNAL, details: `message handler failed: ${cause.message}`, cause });
      }
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
  }

  /** Ends the call from this side with `status`: resets the stream, closes the connection. */
  private abort(status: GrpcStatus): void {
    if (this.finished || this.local !== undefined) return;
    this.local = status;
    this.stopKeepalive();
    if (!this.stream.destroyed && !this.stream.pending) this.stream.close(constants.NGHTTP2_CANCEL);
    else this.session.destroy();
  }

  /** Once the stream (or the whole session) has closed: the status, then the connection is let go. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopKeepalive();
    const status = this.local ?? this.outcome();
    if (!this.session.destroyed) this.session.close();
    this.handlers.end(status);
  }

  private outcome(): GrpcStatus {
    const received = this.received;
    if (received !== undefined) {
      if (received.code === GrpcCode.OK && !this.reader.idle) return { code: GrpcCode.INTERNAL, details: 'stream ended inside a message' };
      return received;
    }
    const failure = this.failure;
    if (failure !== undefined) return { code: GrpcCode.UNAVAILABLE, details: failure.message, cause: failure };
    if (this.goaway || this.session.destroyed || this.session.closed) return { code: GrpcCode.UNAVAILABLE, details: 'connection closed before the call ended' };
    return rstStatus(this.stream.rstCode);
  }

  private scheduleKeepalive(): void {
    const interval = this.options.keepaliveTimeMs;
    if (interval === undefined || interval <= 0) return;
    this.keepalive = setTimeout(() => this.ping(), interval);
    this.keepalive.unref();
  }

  private ping(): void {
    this.keepalive = undefined;
    if (this.finished || this.local !== undefined) return;
    const timeout = this.options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS;
    this.pingDeadline = setTimeout(() => {
      this.pingDeadline = undefined;
      this.abort({ code: GrpcCode.UNAVAILABLE, details: `keepalive ping not answered within ${timeout} ms` });
    }, timeout);
    this.pingDeadline.unref();
    const sent = this.session.ping((error) => {
      if (this.pingDeadline !== undefined) clearTimeout(this.pingDeadline);
      this.pingDeadline = undefined;
      if (error === null) this.scheduleKeepalive();
    });
    if (!sent) {
      clearTimeout(this.pingDeadline);
      this.pingDeadline = undefined;
      this.scheduleKeepalive();
    }
  }

  private stopKeepalive(): void {
    if (this.keepalive !== undefined) clearTimeout(this.keepalive);
    if (this.pingDeadline !== undefined) clearTimeout(this.pingDeadline);
    this.keepalive = undefined;
    this.pingDeadline = undefined;
  }
}

/**
 * Hands the stream's incoming DATA to `onChunk` where node:http2 supplies it, the stream's own
 * `push` (Readable's implementer API, which node:http2 calls once per DATA frame), instead of
 * letting each chunk travel through the Readable buffer, a `'data'` event and a `process.nextTick`
 * round (maybeReadMore → read(0) → `_read`) first. grpc-go sends every message in a DATA frame of its
 * own, so that round trip was paid per flow. Nothing else changes: the chunk is consumed right away
 * as a `'data'` listener in flowing mode would (so `push` reports no backpressure and the stream keeps
 * reading), and anything that is not a Buffer (the end of the stream, `null`) goes to the real
 * `push`. The stream's `'data'` listener stays as it was: it starts the flow and would receive
 * whatever reached the Readable some other way.
 */
function takeChunksAtPush(stream: ClientHttp2Stream, onChunk: (chunk: Buffer) => void): void {
  const push = stream.push;
  stream.push = function (chunk: unknown, encoding?: BufferEncoding): boolean {
    if (Buffer.isBuffer(chunk) && !stream.destroyed && stream.readableFlowing === true) {
      onChunk(chunk);
      return true;
    }
    return push.call(this, chunk, encoding);
  };
}

function connectSocket(target: GrpcTarget, tls: ServerStreamTls | undefined): Socket {
  const where = target.kind === 'unix' ? { path: target.path } : { host: target.host, port: target.port };
  if (tls === undefined) return netConnect(where);
  // SNI and the certificate check use serverName, else the host name (an IP address is checked as such).
  const servername = tls.serverName ?? (target.kind === 'unix' ? 'localhost' : isIP(target.host) === 0 ? target.host : undefined);
  return tlsConnect({
    ...where,
    ALPNProtocols: ['h2'],
    ...(servername === undefined ? {} : { servername }),
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
  });
}

/** `grpc-status` / `grpc-message` of a header block, when it has a status. */
function statusFrom(headers: IncomingHttpHeaders): GrpcStatus | undefined {
  const raw = headers['grpc-status'];
  if (raw === undefined) return undefined;
  const code = Number(raw);
  const message = headers['grpc-message'];
  const details = typeof message === 'string' ? percentDecode(message) : '';
  if (!Number.isInteger(code) || code < 0) return { code: GrpcCode.UNKNOWN, details: `invalid grpc-status ${JSON.stringify(raw)}` };
  return { code, details };
}

/** `grpc-message` is percent-encoded UTF-8; an invalid encoding is kept as received. */
function percentDecode(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The HTTP-to-gRPC status table, for a response without `grpc-status`. */
function httpStatusCode(status: number): number {
  switch (status) {
    case 400:
      return GrpcCode.INTERNAL;
    case 401:
      return GrpcCode.UNAUTHENTICATED;
    case 403:
      return GrpcCode.PERMISSION_DENIED;
    case 404:
      return GrpcCode.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcCode.UNAVAILABLE;
    default:
      return GrpcCode.UNKNOWN;
  }
}

/** A stream closed without a status: its RST_STREAM error code mapped as gRPC's table says. */
function rstStatus(rstCode: number | undefined): GrpcStatus {
  switch (rstCode) {
    case constants.NGHTTP2_REFUSED_STREAM:
      return { code: GrpcCode.UNAVAILABLE, details: 'stream refused by the server' };
    case constants.NGHTTP2_CANCEL:
      return { code: GrpcCode.CANCELLED, details: 'stream cancelled by the server' };
    case constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return { code: GrpcCode.RESOURCE_EXHAUSTED, details: 'stream reset: ENHANCE_YOUR_CALM' };
    case constants.NGHTTP2_INADEQUATE_SECURITY:
      return { code: GrpcCode.PERMISSION_DENIED, details: 'stream reset: INADEQUATE_SECURITY' };
    case undefined:
    case constants.NGHTTP2_NO_ERROR:
      return { code: GrpcCode.INTERNAL, details: 'stream ended without a gRPC status' };
    default:
      return { code: GrpcCode.INTERNAL, details: `stream reset with HTTP/2 error code ${rstCode}` };
  }
}
