/**
 * One server-streaming gRPC call over HTTP/2 (RFC 9113), on a connection of its own: the transport
 * of the Hubble GetFlows stream.
 *
 * Why not `@grpc/grpc-js` or `node:http2`: every GetFlowsResponse is one gRPC message per flow, and
 * grpc-go sends each in a DATA frame of its own. grpc-js runs each message through a promise-based
 * interceptor chain and an object-mode Readable (about 10 µs per message in a profile of
 * `npm run bench`); `node:http2` calls into JavaScript once per DATA frame with a new Buffer each
 * time (about 1 µs of CPU per message, as much as decoding the flow). This reader reads the socket
 * into one reused buffer (net's `onread`), cuts the frames out of it (h2-frames.ts) and hands each
 * message on as a range of that buffer (grpc-framing.ts): one JavaScript call per socket read.
 *
 * A client with one stream, one request and no compression is a small part of HTTP/2:
 *
 * - Connection: the preface, SETTINGS (push disabled, a 4 MiB stream window, a 64 KiB header list
 *   limit) and a WINDOW_UPDATE raising the connection window to 4 MiB; the server's SETTINGS must come
 *   first and are acknowledged; PINGs are answered; credit is returned when half a window was read
 *   (not while the caller has paused the call: the server then stops once its windows are spent).
 *   The request is sent within the server's send windows and frame size.
 * - Header blocks are HPACK-decoded (hpack.ts), CONTINUATION and padding included; the request's
 *   are literals.
 * - A violation by the server (a frame where none may be, a broken header block, a window exceeded)
 *   is a connection error: GOAWAY with its code, and the call ends INTERNAL (UNAVAILABLE when the
 *   server's SETTINGS had not come yet: a listener that does not speak HTTP/2).
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
 *   other INTERNAL); a connection that fails, closes or goes away (GOAWAY not covering the stream)
 *   before the status is UNAVAILABLE; a stream that ends without a status, or inside a message, is
 *   INTERNAL.
 * - Cancelling sends RST_STREAM CANCEL and GOAWAY, then closes the connection; the call ends
 *   CANCELLED.
 * - Keepalive: an HTTP/2 PING every `keepaliveTimeMs` while the call is open; no ACK within
 *   `keepaliveTimeoutMs` ends the call UNAVAILABLE.
 * - TLS: ALPN must settle on `h2`.
 *
 * The connection counts as ready once the server's SETTINGS arrived (as grpc-js's READY), not at
 * TCP connect: a listener that does not speak HTTP/2 never gets there.
 *
 * {@link openServerStream} reports every step to its handlers and ends exactly once with a status.
 */
import { connect as netConnect, isIP, type OnReadOpts, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { DEFAULT_MAX_MESSAGE_BYTES, FramingError, MessageReader, frameMessage } from './grpc-framing.js';
import {
  CONNECTION_PREFACE,
  ConnectionError,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  ErrorCode,
  Flag,
  FrameReader,
  FrameType,
  MAX_WINDOW,
  Setting,
  frame,
  goawayFrame,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
} from './h2-frames.js';
import { DEFAULT_HEADER_TABLE_SIZE, HpackDecoder, HpackError, encodeHeaderBlock, type HeaderField } from './hpack.js';
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
  /**
   * Returns no more receive credit: the server may send what is left of its windows (at most
   * 4 MiB), then waits (RFC 9113 §5.2). Messages that arrive meanwhile are still handed over.
   */
  pause(): void;
  /** Returns the credit that fell due while paused, and goes on returning it. */
  resume(): void;
}

/** The one stream of the connection (the first client-initiated stream). */
const STREAM_ID = 1;
/**
 * HTTP/2 receive windows: per stream, and for the connection; credit is returned at half a window.
 * Equal, so both credits fall due on the same frame and go out in one write (one per 2 MiB read:
 * each write to the socket costs a system call and wakes the server).
 */
const STREAM_WINDOW = 4 * 1024 * 1024;
const CONNECTION_WINDOW = STREAM_WINDOW;
/** The socket is read into one buffer of this size, reused for every read. */
const READ_BUFFER_BYTES = 64 * 1024;
/** The largest header block accepted (HEADERS plus CONTINUATION, encoded), and the decoded list (announced as SETTINGS_MAX_HEADER_LIST_SIZE). */
const MAX_HEADER_BLOCK_BYTES = 64 * 1024;
/**
 * CONTINUATION frames accepted per header block: a block within the limit above needs at most 4,
 * and a peer sending empty ones without end would otherwise hold this side busy and growing (the
 * "CONTINUATION flood").
 */
const MAX_CONTINUATIONS = 16;
const DEFAULT_KEEPALIVE_TIMEOUT_MS = 20_000;
/** How long a closed call waits for the server to close the connection before the socket is destroyed. */
const CLOSE_GRACE_MS = 1_000;

/**
 * Starts the call: connects, sends the request, and reports to `handlers` until it ends. Throws
 * (and holds nothing) when the connection cannot even be set up, e.g. TLS material that is not PEM.
 */
export function openServerStream(options: ServerStreamOptions, handlers: ServerStreamHandlers): ServerStream {
  return new Call(options, handlers);
}

class Call implements ServerStream {
  private readonly socket: Socket;
  private readonly frames: FrameReader;
  private readonly messages: MessageReader;
  private readonly hpack = new HpackDecoder(DEFAULT_HEADER_TABLE_SIZE, MAX_HEADER_BLOCK_BYTES);
  /** The server's SETTINGS arrived. */
  private connected = false;
  private finished = false;
  /** A status decided here (cancel, framing error, keepalive timeout, protocol error): it wins over what follows. */
  private local: GrpcStatus | undefined;
  /** The status the server sent (trailers, or Trailers-Only / HTTP headers). */
  private received: GrpcStatus | undefined;
  /** The first transport error seen (socket, TLS). */
  private failure: Error | undefined;
  /** The server's GOAWAY, when one came. */
  private goaway: { readonly lastStreamId: number; readonly code: number; readonly debug: string } | undefined;
  /** The response's first header block arrived. */
  private responseStarted = false;
  /** The server closed the stream (END_STREAM) or reset it (with {@link rstCode}). */
  private streamEnded = false;
  private rstCode: number | undefined;
  /** A header block being collected from HEADERS + CONTINUATION frames. */
  private headerBlock: Buffer[] | undefined;
  private headerBlockBytes = 0;
  private headerBlockEndsStream = false;
  /** The framed request, and how much of it has been sent. */
  private readonly request: Buffer;
  private requestSent = 0;
  /** Send windows (the peer's), and the peer's limits. */
  private sendConnection = DEFAULT_WINDOW;
  private sendStream = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  /** Receive windows left, and octets consumed but not yet credited back. */
  private receiveConnection = CONNECTION_WINDOW;
  private receiveStream = STREAM_WINDOW;
  private uncreditedConnection = 0;
  private uncreditedStream = 0;
  private keepalive: ReturnType<typeof setTimeout> | undefined;
  private pingDeadline: ReturnType<typeof setTimeout> | undefined;
  private pingsSent = 0;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** No receive credit is returned ({@link pause}). */
  private paused = false;

  constructor(
    private readonly options: ServerStreamOptions,
    private readonly handlers: ServerStreamHandlers,
  ) {
    const { target, tls } = options;
    const authority = tls?.serverName ?? target.authority;
    this.messages = new MessageReader((buf, start, end) => {
      if (!this.finished && this.local === undefined) handlers.message(buf, start, end);
    }, options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
    this.frames = new FrameReader((type, flags, streamId, buf, start, end) => this.onFrame(type, flags, streamId, buf, start, end));
    this.request = frameMessage(options.request);
    const headerBlock = encodeHeaderBlock([
      [':method', 'POST'],
      [':scheme', tls === undefined ? 'http' : 'https'],
      [':path', options.path],
      [':authority', authority],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
      ['user-agent', 'hivewall'],
    ]);
    if (headerBlock.length > DEFAULT_MAX_FRAME_SIZE) throw new Error(`request headers of ${headerBlock.length} bytes do not fit in one HEADERS frame`);

    const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    const socket = connectSocket(target, tls, (bytes) => this.onBytes(readBuffer, bytes), readBuffer);
    this.socket = socket;
    socket.on('error', (error: Error) => this.fail(error));
    socket.on('close', () => this.onClose());
    if (tls !== undefined) {
      socket.once('secureConnect', () => {
        const protocol = (socket as TLSSocket).alpnProtocol;
        if (protocol !== 'h2') socket.destroy(new Error(`the server did not agree to HTTP/2 in the TLS handshake (ALPN ${protocol === false ? 'none' : JSON.stringify(protocol)})`));
      });
    }
    socket.write(Buffer.concat([
      CONNECTION_PREFACE,
      settingsFrame([
        [Setting.ENABLE_PUSH, 0],
        [Setting.INITIAL_WINDOW_SIZE, STREAM_WINDOW],
        [Setting.MAX_HEADER_LIST_SIZE, MAX_HEADER_BLOCK_BYTES],
      ]),
      windowUpdateFrame(0, CONNECTION_WINDOW - DEFAULT_WINDOW),
      frame(FrameType.HEADERS, Flag.END_HEADERS, STREAM_ID, headerBlock),
    ]));
    this.sendRequest();
  }

  get ready(): boolean {
    return this.connected && !this.finished && !this.socket.destroyed;
  }

  cancel(): void {
    this.abort({ code: GrpcCode.CANCELLED, details: 'Cancelled on client' });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.finished) this.credit();
  }

  /** `bytes` new bytes at the start of the read buffer. */
  private onBytes(buffer: Buffer, bytes: number): void {
    if (this.finished) return;
    try {
      this.frames.push(buffer, 0, bytes);
    } catch (error) {
      if (error instanceof ConnectionError || error instanceof HpackError) {
        const code = error instanceof ConnectionError ? error.code : ErrorCode.COMPRESSION_ERROR;
        // Before its SETTINGS the peer has not shown it speaks HTTP/2 at all (an HTTP/1 port, say): unavailable, not a broken call.
        if (!this.connected) this.abort({ code: GrpcCode.UNAVAILABLE, details: `not an HTTP/2 server: ${error.message}`, cause: error }, code);
        else this.abort({ code: GrpcCode.INTERNAL, details: `HTTP/2 protocol error by the server: ${error.message}`, cause: error }, code);
      } else if (this.finished) {
        throw error; // thrown by the end handler: not this call's to hide
      } else {
        const cause = error instanceof Error ? error : new Error(String(error));
        this.abort({ code: GrpcCode.INTERNAL, details: `HTTP/2 reader failed: ${cause.message}`, cause }, ErrorCode.INTERNAL_ERROR);
      }
    }
  }

  private onFrame(type: number, flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (this.finished) return;
    // Nothing may come between a HEADERS frame without END_HEADERS and its CONTINUATIONs (§6.10).
    if (this.headerBlock !== undefined && type !== FrameType.CONTINUATION) throw new ConnectionError('a header block was interrupted by another frame', ErrorCode.PROTOCOL_ERROR);
    // The server's connection preface is a SETTINGS frame (§3.4).
    if (!this.connected && type !== FrameType.SETTINGS) throw new ConnectionError('the server did not start with SETTINGS', ErrorCode.PROTOCOL_ERROR);
    switch (type) {
      case FrameType.DATA:
        this.onData(flags, streamId, buf, start, end);
        break;
      case FrameType.HEADERS:
        this.onHeaders(flags, streamId, buf, start, end);
        break;
      case FrameType.CONTINUATION:
        this.onContinuation(flags, streamId, buf, start, end);
        break;
      case FrameType.SETTINGS:
        this.onSettings(flags, streamId, buf, start, end);
        break;
      case FrameType.PING:
        this.onPing(flags, streamId, buf, start, end);
        break;
      case FrameType.GOAWAY:
        this.onGoaway(streamId, buf, start, end);
        break;
      case FrameType.WINDOW_UPDATE:
        this.onWindowUpdate(streamId, buf, start, end);
        break;
      case FrameType.RST_STREAM:
        this.onRstStream(streamId, buf, start, end);
        break;
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError('PUSH_PROMISE although push is disabled', ErrorCode.PROTOCOL_ERROR);
      default:
        // PRIORITY and unknown types are ignored (§5.5, §6.3).
        break;
    }
  }

  /** The payload without its padding (§6.1, §6.2): the Pad Length octet, then `skip` octets of priority. */
  private unpadded(flags: number, buf: Buffer, start: number, end: number, skip: number): number {
    let padding = 0;
    if (flags & Flag.PADDED) {
      if (end - start < 1) throw new ConnectionError('padded frame without a Pad Length', ErrorCode.FRAME_SIZE_ERROR);
      padding = buf[start]!;
    }
    const headerBytes = (flags & Flag.PADDED ? 1 : 0) + skip;
    if (headerBytes + padding > end - start) throw new ConnectionError('padding longer than the frame', ErrorCode.PROTOCOL_ERROR);
    return padding;
  }

  private onData(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId === 0) throw new ConnectionError('DATA on stream 0', ErrorCode.PROTOCOL_ERROR);
    if (streamId !== STREAM_ID) throw new ConnectionError(`DATA on stream ${streamId}, which was never opened`, ErrorCode.PROTOCOL_ERROR);
    // The whole payload counts against the windows, padding included (§6.9.1).
    const length = end - start;
    this.receiveConnection -= length;
    if (this.receiveConnection < 0) throw new ConnectionError('DATA beyond the connection window', ErrorCode.FLOW_CONTROL_ERROR);
    this.uncreditedConnection += length;
    if (this.streamEnded) return; // in flight when the stream was reset: ignored
    this.receiveStream -= length;
    if (this.receiveStream < 0) throw new ConnectionError('DATA beyond the stream window', ErrorCode.FLOW_CONTROL_ERROR);
    this.uncreditedStream += length;
    if (!this.responseStarted) throw new ConnectionError('DATA before the response headers', ErrorCode.PROTOCOL_ERROR);
    const padding = this.unpadded(flags, buf, start, end, 0);
    const contentStart = flags & Flag.PADDED ? start + 1 : start;
    if (this.local === undefined) {
      try {
        this.messages.push(buf, contentStart, end - padding);
      } catch (error) {
        // A framing error, or the message handler failed: either way the call cannot go on.
        if (error instanceof FramingError) this.abort({ code: GrpcCode[error.code], details: error.message, cause: error });
        else {
          const cause = error instanceof Error ? error : new Error(String(error));
          this.abort({ code: GrpcCode.INTERNAL, details: `message handler failed: ${cause.message}`, cause });
        }
        return;
      }
    }
    if (flags & Flag.END_STREAM) {
      this.streamEnded = true;
      this.finish();
      return;
    }
    this.credit();
  }

  /** Returns receive credit once half a window was consumed (the messages were handled synchronously), unless paused. */
  private credit(): void {
    // Runs for every DATA frame (a flow each): nothing is made until a credit is due.
    if (this.paused || (this.uncreditedConnection < CONNECTION_WINDOW / 2 && this.uncreditedStream < STREAM_WINDOW / 2)) return;
    const updates: Buffer[] = [];
    if (this.uncreditedConnection >= CONNECTION_WINDOW / 2) {
      updates.push(windowUpdateFrame(0, this.uncreditedConnection));
      this.receiveConnection += this.uncreditedConnection;
      this.uncreditedConnection = 0;
    }
    if (this.uncreditedStream >= STREAM_WINDOW / 2) {
      updates.push(windowUpdateFrame(STREAM_ID, this.uncreditedStream));
      this.receiveStream += this.uncreditedStream;
      this.uncreditedStream = 0;
    }
    if (updates.length > 0) this.write(updates.length === 1 ? updates[0]! : Buffer.concat(updates));
  }

  private onHeaders(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId !== STREAM_ID) throw new ConnectionError(`HEADERS on stream ${streamId}, which was never opened`, ErrorCode.PROTOCOL_ERROR);
    const priority = flags & Flag.PRIORITY ? 5 : 0;
    const padding = this.unpadded(flags, buf, start, end, priority);
    const fragmentStart = start + (flags & Flag.PADDED ? 1 : 0) + priority;
    const fragment = buf.subarray(fragmentStart, end - padding);
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (flags & Flag.END_HEADERS) {
      this.onHeaderBlock(fragment, endStream);
      return;
    }
    // Copied: the frame's bytes are reused once this returns.
    this.headerBlock = [Buffer.from(fragment)];
    this.headerBlockBytes = fragment.length;
    this.headerBlockEndsStream = endStream;
    this.checkHeaderBlockSize();
  }

  private onContinuation(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    const block = this.headerBlock;
    if (block === undefined || streamId !== STREAM_ID) throw new ConnectionError('CONTINUATION without a header block to continue', ErrorCode.PROTOCOL_ERROR);
    if (block.length > MAX_CONTINUATIONS) throw new ConnectionError(`more than ${MAX_CONTINUATIONS} CONTINUATION frames in one header block`, ErrorCode.ENHANCE_YOUR_CALM);
    block.push(Buffer.from(buf.subarray(start, end)));
    this.headerBlockBytes += end - start;
    this.checkHeaderBlockSize();
    if (flags & Flag.END_HEADERS) {
      this.headerBlock = undefined;
      this.onHeaderBlock(Buffer.concat(block), this.headerBlockEndsStream);
    }
  }

  private checkHeaderBlockSize(): void {
    if (this.headerBlockBytes > MAX_HEADER_BLOCK_BYTES) throw new ConnectionError(`header block larger than ${MAX_HEADER_BLOCK_BYTES} bytes`, ErrorCode.ENHANCE_YOUR_CALM);
  }

  /** A complete header block of the stream: the response headers, Trailers-Only, or the trailers. */
  private onHeaderBlock(block: Buffer, endStream: boolean): void {
    // Decoded even when the stream is done with: the decoder's table must see every block.
    const fields = this.hpack.decode(block);
    if (this.streamEnded || this.finished) return;
    if (endStream) this.streamEnded = true;
    if (!this.responseStarted) this.onResponseHeaders(fields, endStream);
    else if (!endStream) throw new ConnectionError('a second header block without END_STREAM', ErrorCode.PROTOCOL_ERROR);
    else this.received ??= statusFrom(fields) ?? { code: GrpcCode.INTERNAL, details: 'trailers without grpc-status' };
    if (endStream) this.finish();
  }

  private onResponseHeaders(fields: readonly HeaderField[], endStream: boolean): void {
    const httpStatus = Number(field(fields, ':status'));
    // An informational (1xx) response comes before the real one.
    if (httpStatus >= 100 && httpStatus < 200 && !endStream) return;
    this.responseStarted = true;
    const trailersOnly = statusFrom(fields);
    if (trailersOnly !== undefined) {
      this.received ??= trailersOnly;
      return;
    }
    if (httpStatus !== 200) {
      this.abort({ code: httpStatusCode(httpStatus), details: `HTTP status ${httpStatus} without grpc-status` });
      return;
    }
    const contentType = field(fields, 'content-type') ?? '';
    if (!/^application\/grpc($|[+;])/.test(contentType)) {
      this.abort({ code: GrpcCode.UNKNOWN, details: `response content-type ${JSON.stringify(contentType)} is not gRPC` });
      return;
    }
    this.handlers.headers?.();
  }

  private onSettings(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId !== 0) throw new ConnectionError('SETTINGS on a stream', ErrorCode.PROTOCOL_ERROR);
    if (flags & Flag.ACK) {
      if (end !== start) throw new ConnectionError('SETTINGS ACK with a payload', ErrorCode.FRAME_SIZE_ERROR);
      return;
    }
    if ((end - start) % 6 !== 0) throw new ConnectionError('SETTINGS payload not a multiple of 6 octets', ErrorCode.FRAME_SIZE_ERROR);
    for (let i = start; i < end; i += 6) {
      const id = buf.readUInt16BE(i);
      const value = buf.readUInt32BE(i + 2);
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) throw new ConnectionError(`SETTINGS_INITIAL_WINDOW_SIZE ${value} above 2^31-1`, ErrorCode.FLOW_CONTROL_ERROR);
        // A new initial window moves the open stream's send window by the difference (§6.9.2).
        this.sendStream += value - this.peerInitialWindow;
        this.peerInitialWindow = value;
      } else if (id === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME_SIZE || value > 0xff_ffff) throw new ConnectionError(`SETTINGS_MAX_FRAME_SIZE ${value} out of range`, ErrorCode.PROTOCOL_ERROR);
        this.peerMaxFrameSize = value;
      } else if (id === Setting.ENABLE_PUSH && value > 1) {
        throw new ConnectionError(`SETTINGS_ENABLE_PUSH ${value}`, ErrorCode.PROTOCOL_ERROR);
      }
      // HEADER_TABLE_SIZE limits the table of this side's encoder, which never indexes; the rest are advisory here.
    }
    this.write(frame(FrameType.SETTINGS, Flag.ACK, 0));
    this.sendRequest();
    if (!this.connected) {
      this.connected = true;
      this.scheduleKeepalive();
      this.handlers.ready?.();
    }
  }

  private onPing(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId !== 0) throw new ConnectionError('PING on a stream', ErrorCode.PROTOCOL_ERROR);
    if (end - start !== 8) throw new ConnectionError('PING payload not 8 octets', ErrorCode.FRAME_SIZE_ERROR);
    if (flags & Flag.ACK) {
      this.pingAnswered();
      return;
    }
    this.write(frame(FrameType.PING, Flag.ACK, 0, buf.subarray(start, end)));
  }

  private onGoaway(streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId !== 0) throw new ConnectionError('GOAWAY on a stream', ErrorCode.PROTOCOL_ERROR);
    if (end - start < 8) throw new ConnectionError('GOAWAY shorter than 8 octets', ErrorCode.FRAME_SIZE_ERROR);
    this.goaway = { lastStreamId: buf.readUInt32BE(start) & MAX_WINDOW, code: buf.readUInt32BE(start + 4), debug: buf.toString('utf8', start + 8, end) };
    // The stream was not processed: it will not be (§6.8). Otherwise it may still complete.
    if (this.goaway.lastStreamId < STREAM_ID) this.finish();
  }

  private onWindowUpdate(streamId: number, buf: Buffer, start: number, end: number): void {
    if (end - start !== 4) throw new ConnectionError('WINDOW_UPDATE payload not 4 octets', ErrorCode.FRAME_SIZE_ERROR);
    const increment = buf.readUInt32BE(start) & MAX_WINDOW;
    if (increment === 0) throw new ConnectionError('WINDOW_UPDATE of 0', ErrorCode.PROTOCOL_ERROR);
    if (streamId === 0) {
      this.sendConnection += increment;
      if (this.sendConnection > MAX_WINDOW) throw new ConnectionError('connection send window above 2^31-1', ErrorCode.FLOW_CONTROL_ERROR);
    } else if (streamId === STREAM_ID) {
      this.sendStream += increment;
      if (this.sendStream > MAX_WINDOW) throw new ConnectionError('stream send window above 2^31-1', ErrorCode.FLOW_CONTROL_ERROR);
    }
    this.sendRequest();
  }

  private onRstStream(streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId === 0) throw new ConnectionError('RST_STREAM on stream 0', ErrorCode.PROTOCOL_ERROR);
    if (end - start !== 4) throw new ConnectionError('RST_STREAM payload not 4 octets', ErrorCode.FRAME_SIZE_ERROR);
    if (streamId !== STREAM_ID || this.streamEnded) return;
    this.rstCode = buf.readUInt32BE(start);
    this.streamEnded = true;
    this.finish();
  }

  /** Sends what the send windows allow of the request, as DATA frames; the last one ends the stream. */
  private sendRequest(): void {
    const request = this.request;
    const frames: Buffer[] = [];
    while (this.requestSent < request.length && !this.streamEnded) {
      const size = Math.min(request.length - this.requestSent, this.sendConnection, this.sendStream, this.peerMaxFrameSize);
      if (size <= 0) break;
      const last = this.requestSent + size === request.length;
      frames.push(frame(FrameType.DATA, last ? Flag.END_STREAM : 0, STREAM_ID, request.subarray(this.requestSent, this.requestSent + size)));
      this.requestSent += size;
      this.sendConnection -= size;
      this.sendStream -= size;
    }
    if (frames.length > 0) this.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  }

  private write(bytes: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  private fail(error: Error): void {
    this.failure ??= error;
  }

  /**
   * Ends the call from this side with `status`: resets the stream (CANCEL) if it is open, says
   * GOAWAY with `connectionError` (NO_ERROR for a cancel) and closes the connection.
   */
  private abort(status: GrpcStatus, connectionError: number = ErrorCode.NO_ERROR): void {
    if (this.finished || this.local !== undefined) return;
    this.local = status;
    const frames = [];
    if (!this.streamEnded) frames.push(rstStreamFrame(STREAM_ID, ErrorCode.CANCEL));
    frames.push(goawayFrame(0, connectionError));
    this.write(Buffer.concat(frames));
    this.finish();
  }

  /** The call's status is settled: it is reported, then the connection is let go (GOAWAY, close). */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopKeepalive();
    const status = this.local ?? this.outcome();
    if (this.local === undefined) this.write(goawayFrame(0, ErrorCode.NO_ERROR));
    this.close();
    this.handlers.end(status);
  }

  private close(): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    socket.end();
    this.closeTimer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    this.closeTimer.unref();
  }

  private onClose(): void {
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.finish();
  }

  private outcome(): GrpcStatus {
    const received = this.received;
    if (received !== undefined) {
      if (received.code === GrpcCode.OK && !this.messages.idle) return { code: GrpcCode.INTERNAL, details: 'stream ended inside a message' };
      return received;
    }
    if (this.streamEnded) return rstStatus(this.rstCode);
    const failure = this.failure;
    if (failure !== undefined) return { code: GrpcCode.UNAVAILABLE, details: failure.message, cause: failure };
    const goaway = this.goaway;
    if (goaway !== undefined) return { code: GrpcCode.UNAVAILABLE, details: `the server went away (GOAWAY ${errorCodeName(goaway.code)}${goaway.debug === '' ? '' : `: ${goaway.debug}`})` };
    return { code: GrpcCode.UNAVAILABLE, details: 'connection closed before the call ended' };
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
    const opaque = Buffer.alloc(8);
    opaque.writeUInt32BE(++this.pingsSent, 4);
    this.write(frame(FrameType.PING, 0, 0, opaque));
  }

  private pingAnswered(): void {
    if (this.pingDeadline === undefined) return;
    clearTimeout(this.pingDeadline);
    this.pingDeadline = undefined;
    this.scheduleKeepalive();
  }

  private stopKeepalive(): void {
    if (this.keepalive !== undefined) clearTimeout(this.keepalive);
    if (this.pingDeadline !== undefined) clearTimeout(this.pingDeadline);
    this.keepalive = undefined;
    this.pingDeadline = undefined;
  }
}

/** The value of the first field named `name`. */
function field(fields: readonly HeaderField[], name: string): string | undefined {
  for (const [n, v] of fields) if (n === name) return v;
  return undefined;
}

/**
 * Connects, reading every chunk into `readBuffer` (net's `onread`: no allocation, no stream
 * machinery per read); `onBytes` gets the count each time.
 */
function connectSocket(target: GrpcTarget, tls: ServerStreamTls | undefined, onBytes: (bytes: number) => void, readBuffer: Buffer): Socket {
  const onread = {
    buffer: readBuffer,
    callback: (bytes: number) => {
      onBytes(bytes);
      return true;
    },
  };
  const where = target.kind === 'unix' ? { path: target.path } : { host: target.host, port: target.port, noDelay: true };
  if (tls === undefined) return netConnect({ ...where, onread });
  // SNI and the certificate check use serverName, else the host name (an IP address is checked as such).
  const servername = tls.serverName ?? (target.kind === 'unix' ? 'localhost' : isIP(target.host) === 0 ? target.host : undefined);
  // node:tls takes net's `onread` too (its type declarations do not list it).
  const options: ConnectionOptions & { onread: OnReadOpts } = {
    ...where,
    onread,
    ALPNProtocols: ['h2'],
    ...(servername === undefined ? {} : { servername }),
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
  };
  return tlsConnect(options);
}

/** `grpc-status` / `grpc-message` of a header block, when it has a status. */
function statusFrom(fields: readonly HeaderField[]): GrpcStatus | undefined {
  const raw = field(fields, 'grpc-status');
  if (raw === undefined) return undefined;
  const code = Number(raw);
  const message = field(fields, 'grpc-message');
  const details = message === undefined ? '' : percentDecode(message);
  if (raw === '' || !Number.isInteger(code) || code < 0) return { code: GrpcCode.UNKNOWN, details: `invalid grpc-status ${JSON.stringify(raw)}` };
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
    case ErrorCode.REFUSED_STREAM:
      return { code: GrpcCode.UNAVAILABLE, details: 'stream refused by the server' };
    case ErrorCode.CANCEL:
      return { code: GrpcCode.CANCELLED, details: 'stream cancelled by the server' };
    case ErrorCode.ENHANCE_YOUR_CALM:
      return { code: GrpcCode.RESOURCE_EXHAUSTED, details: 'stream reset: ENHANCE_YOUR_CALM' };
    case ErrorCode.INADEQUATE_SECURITY:
      return { code: GrpcCode.PERMISSION_DENIED, details: 'stream reset: INADEQUATE_SECURITY' };
    case undefined:
    case ErrorCode.NO_ERROR:
      return { code: GrpcCode.INTERNAL, details: 'stream ended without a gRPC status' };
    default:
      return { code: GrpcCode.INTERNAL, details: `stream reset with HTTP/2 error code ${rstCode}` };
  }
}

const ERROR_CODE_NAMES = new Map<number, string>(Object.entries(ErrorCode).map(([name, code]) => [code, name]));

/** An HTTP/2 error code's name (`ENHANCE_YOUR_CALM`), or its number. */
function errorCodeName(code: number): string {
  return ERROR_CODE_NAMES.get(code) ?? `0x${code.toString(16)}`;
}
