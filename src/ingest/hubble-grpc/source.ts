/**
 * The live Hubble flow source: a `GetFlows` stream (`follow: true`) from hubble-relay (or one
 * Cilium agent's Hubble server) over gRPC, plaintext or TLS / mTLS, that survives restarts of the
 * server without losing or double-counting flows, and hands each message's {@link ParseResult} to
 * a sink.
 *
 * - Request: `follow: true`; a whitelist keeping flows whose source OR destination pod is in one
 *   of the namespaces in scope (filter.ts); on reconnect `since` = time of the newest flow seen.
 * - Every message is read straight from its protobuf bytes into a `Flow` by the rules the JSON
 *   parser maps a flow with (decode.ts, after hubble/build.ts `flowResult`), so the file and the
 *   gRPC source give identical results for one message; no protojson is built.
 * - Resume: the flows at exactly `since` are sent again by Hubble (`since` is inclusive) and are
 *   dropped by identity (resume.ts), as are repeated lost-event notices.
 * - Transport: one HTTP/2 connection per attempt carrying the one server-streaming call
 *   (http2-stream.ts; why not grpc-js is explained there), to a TCP or unix-socket target
 *   (target.ts), plaintext or TLS / mTLS, with HTTP/2 keepalive pings.
 * - Reconnect: capped exponential backoff with full jitter (backoff.ts); the attempt counter
 *   resets once a stream is established (headers or a message received). Each attempt uses a
 *   fresh connection, so the delay between attempts is ours alone.
 * - Backpressure: while the `gate` (../intake-gate.ts) is shut the call returns no HTTP/2 receive
 *   credit, so the server stops sending once its window is spent; Hubble counts what its buffer
 *   then cannot keep as lost events, which arrive on the stream once it flows again.
 * - Malformed messages (undecodable bytes, wrong types or values) are counted, logged and
 *   delivered as `skip` results; they never end the stream or throw.
 *
 * Not pure: network, timers, logging. The clock and the random source are injectable for tests.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ParseResult, SkipReason } from '../../domain/flow.js';
import type { IntakeGate } from '../intake-gate.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import { formatTimestamp, parseTimestampNanos, timestampFromNanos } from './timestamp.js';
import { GetFlowsDecoder, type DecodedResponse } from './decode.js';
import { loadHubbleDefinitions, type HubbleDefinitions } from './definitions.js';
import { namespaceWhitelist, type FlowFilterObject } from './filter.js';
import { GrpcCode, grpcCodeName, openServerStream, type GrpcStatus, type ServerStream, type ServerStreamTls } from './http2-stream.js';
import { ResumeTracker } from './resume.js';
import { parseGrpcTarget } from './target.js';

/** Receives every message's result, in stream order (flows, lost events, node status, skips). */
export type HubbleObserverSink = (result: ParseResult) => void;

/**
 * TLS to hubble-relay. Cilium deploys relay with mTLS (`hubble.relay.tls.server.enabled`,
 * `hubble.tls.auto`): a CA bundle, a client certificate and key, and a server certificate for
 * `*.hubble-relay.cilium.io`, so `serverName` usually has to be set (e.g.
 * `ui.hubble-relay.cilium.io`) when dialling the Service name. Files are read at every connection
 * attempt, so rotated certificates are picked up on the next reconnect.
 */
export interface HubbleTlsOptions {
  /** CA bundle (PEM) trusted for the server certificate; the system roots when neither is given. */
  readonly ca?: string | Buffer;
  readonly caFile?: string;
  /** Client certificate chain (PEM), for mTLS. */
  readonly cert?: string | Buffer;
  readonly certFile?: string;
  /** Client private key (PEM), for mTLS. */
  readonly key?: string | Buffer;
  readonly keyFile?: string;
  /** Name to verify the server certificate against (and send as SNI / authority) instead of the address's host. */
  readonly serverName?: string;
}

/** Timers and time, injectable for tests. */
export interface HubbleClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: HubbleClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface HubbleObserverOptions {
  /**
   * gRPC target (target.ts): `hubble-relay.kube-system.svc:443`, `dns:///hubble-relay.kube-system:80`,
   * `unix:///var/run/cilium/hubble.sock`.
   */
  readonly address: string;
  /** Keep flows whose source or destination pod is in one of these namespaces; absent or empty: all flows. */
  readonly namespaces?: readonly string[];
  /**
   * Whether to ask for reply flows (default true). The operator's Learner needs them: a reply is
   * what proves a connection to a peer whose arrival Hubble does not observe (world, other hosts).
   * A Hubble node agent counts only flows complete at its node and asks for none (`reply: [false]`).
   */
  readonly replies?: boolean;
  /** TLS settings; plaintext when absent. */
  readonly tls?: HubbleTlsOptions;
  readonly sink: HubbleObserverSink;
  readonly logger: Logger;
  /** Status changes for the operator's conditions (connected, disconnected, lost events, node status). */
  readonly onEvent?: (event: HubbleObserverEvent) => void;
  /** `since` of the first request (e.g. the last flow time persisted with the graph); default: new flows only. */
  readonly since?: Date;
  /**
   * Where a previous process stopped ({@link HubbleObserverSource.resumePoint}, persisted): takes
   * precedence over `since`; the first request asks from exactly that nanosecond and drops the flows
   * and lost-event notices that process had already delivered.
   */
  readonly resumeFrom?: HubbleResumePoint;
  readonly backoff?: BackoffPolicy;
  /** A connection attempt that is not ready (no HTTP/2 SETTINGS from the server) after this long is abandoned (default 10 s). */
  readonly connectTimeoutMs?: number;
  /**
   * HTTP/2 keepalive ping interval (default 330 s). Hubble's gRPC servers keep grpc-go's default
   * enforcement policy (MinTime 5 min), which closes connections that ping more often.
   */
  readonly keepaliveTimeMs?: number;
  /** Largest message accepted (default 4 MiB, gRPC's default); a larger one ends the stream RESOURCE_EXHAUSTED. */
  readonly maxMessageBytes?: number;
  /** Directory of the .proto files (default: resolved from this module, see definitions.ts). */
  readonly protoDir?: string;
  /** Uniform in [0, 1); default Math.random. */
  readonly random?: () => number;
  readonly clock?: HubbleClock;
  /** While shut, the call returns no receive credit: the server stops sending once its window is spent (http2-stream.ts). */
  readonly gate?: IntakeGate;
}

/** A persisted resume position: RFC 3339 time with nanoseconds, and identities already delivered. */
export interface HubbleResumePoint {
  readonly since: string;
  /** Identities (decode.ts: `uuid:<uuid>`, else a SHA-256 of the flow's bytes) of the flows delivered at exactly `since`. */
  readonly seen: readonly string[];
  /** The most recent lost-event notices delivered (their identities). */
  readonly lostEvents?: readonly string[];
}

export interface HubbleObserverError {
  readonly message: string;
  /** gRPC status name (UNAVAILABLE, UNAUTHENTICATED, ...), when the error is a call status. */
  readonly code?: string;
  /** Epoch milliseconds. */
  readonly at: number;
}

export type HubbleObserverEvent =
  | { readonly type: 'connected'; readonly address: string; readonly since?: string }
  | { readonly type: 'disconnected'; readonly error: HubbleObserverError; readonly attempt: number; readonly retryInMs: number }
  | { readonly type: 'lost-events'; readonly source: string; readonly count: number; readonly total: number }
  | { readonly type: 'node-status'; readonly node?: string; readonly detail: string }
  | { readonly type: 'stopped' };

export interface HubbleObserverStats {
  /** A stream is established (headers or a message received) and has not ended. */
  readonly connected: boolean;
  /** Flow results delivered. */
  readonly flows: number;
  /** Lost-event notices delivered, and the events they say were lost (sum of `num_events_lost`). */
  readonly lostEventNotices: number;
  readonly lostEvents: number;
  readonly nodeStatus: number;
  /** Connection attempts after the first one. */
  readonly reconnects: number;
  /** Messages that could not be decoded or did not fit the schema (`malformed` + `schema-mismatch` skips). */
  readonly malformed: number;
  /** Skip results by reason (including `unsupported-protocol`, e.g. ARP or VRRP flows). */
  readonly skipped: Readonly<Record<SkipReason, number>>;
  /** Messages dropped because a resumed stream repeated them. */
  readonly duplicates: number;
  /** Exceptions thrown by the sink (caught and logged). */
  readonly sinkErrors: number;
  /** Time of the newest flow seen (RFC 3339, nanoseconds): the next reconnect's `since`. */
  readonly lastFlowTime?: string;
  readonly lastError?: HubbleObserverError;
}

interface Attempt {
  call: ServerStream | undefined;
  established: boolean;
  timedOut: boolean;
  watchdog: unknown;
  ended: boolean;
}

/** HTTP/2 keepalive: the ping's answer must come within this long. */
const KEEPALIVE_TIMEOUT_MS = 20_000;

/** Malformed messages logged at `warn` before switching to `debug`. */
const LOUD_SKIPS = 10;

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function emptySkipped(): Record<SkipReason, number> {
  return { empty: 0, malformed: 0, 'schema-mismatch': 0, 'too-long': 0, 'unsupported-protocol': 0, 'invalid-name': 0 };
}

export class HubbleObserverSource {
  private readonly options: HubbleObserverOptions;
  private readonly logger: Logger;
  private readonly clock: HubbleClock;
  private readonly random: () => number;
  private readonly whitelist: FlowFilterObject[];
  private readonly tracker: ResumeTracker;
  private readonly decoder = new GetFlowsDecoder();
  private definitions: HubbleDefinitions | undefined;

  private running = false;
  /** Incremented by every start(): a connect() of an earlier run that was awaiting I/O gives up. */
  private generation = 0;
  private failures = 0;
  private attempts = 0;
  private attempt: Attempt | undefined;
  private retryTimer: unknown;
  private stopWaiters: (() => void)[] = [];
  private unsubscribeGate: (() => void) | undefined;

  private connected = false;
  private flows = 0;
  private lostEventNotices = 0;
  private lostEvents = 0;
  private nodeStatus = 0;
  private reconnects = 0;
  private malformed = 0;
  private readonly skipped = emptySkipped();
  private duplicates = 0;
  private sinkErrors = 0;
  private lastError: HubbleObserverError | undefined;

  constructor(options: HubbleObserverOptions) {
    this.options = options;
    this.logger = options.logger.child({ component: 'hubble-observer', address: options.address });
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.whitelist = namespaceWhitelist(options.namespaces ?? [], { replies: options.replies ?? true });
    const resumeNanos = options.resumeFrom === undefined ? undefined : parseTimestampNanos(options.resumeFrom.since);
    // Flow times are compared with this source's clock (resume.ts FUTURE_TOLERANCE_MS).
    const now = () => this.clock.now();
    if (resumeNanos !== undefined) {
      this.tracker = new ResumeTracker(resumeNanos, { seen: options.resumeFrom!.seen, lostEvents: options.resumeFrom!.lostEvents ?? [], now });
    } else {
      const since = options.since;
      this.tracker = new ResumeTracker(since === undefined ? undefined : BigInt(since.getTime()) * 1_000_000n, { now });
    }
  }

  /** Starts streaming (idempotent). Loading the .proto files may throw here; everything after is retried. */
  start(): void {
    if (this.running) return;
    this.definitions ??= loadHubbleDefinitions(this.options.protoDir);
    this.running = true;
    this.failures = 0;
    this.unsubscribeGate = this.options.gate?.onChange((open) => {
      const call = this.attempt?.call;
      if (open) call?.resume();
      else call?.pause();
    });
    void this.connect(++this.generation);
  }

  /** Stops: cancels the call, closes the connection, cancels a pending reconnect. Resolves when the call has ended. */
  stop(): Promise<void> {
    if (!this.running && this.attempt === undefined) return Promise.resolve();
    this.running = false;
    this.unsubscribeGate?.();
    this.unsubscribeGate = undefined;
    if (this.retryTimer !== undefined) {
      this.clock.clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    const attempt = this.attempt;
    if (attempt === undefined) {
      this.connected = false;
      this.emit({ type: 'stopped' });
      return Promise.resolve();
    }
    const done = new Promise<void>((resolve) => this.stopWaiters.push(resolve));
    attempt.call?.cancel();
    return done;
  }

  /** Where this source stands, to persist and hand to the next process as `resumeFrom`. */
  resumePoint(): HubbleResumePoint | undefined {
    const point = this.tracker.resumePoint();
    if (point === undefined) return undefined;
    return { since: formatTimestamp(timestampFromNanos(point.since)), seen: point.seen, lostEvents: point.lostEvents };
  }

  stats(): HubbleObserverStats {
    const since = this.tracker.since();
    return {
      connected: this.connected,
      flows: this.flows,
      lostEventNotices: this.lostEventNotices,
      lostEvents: this.lostEvents,
      nodeStatus: this.nodeStatus,
      reconnects: this.reconnects,
      malformed: this.malformed,
      skipped: { ...this.skipped },
      duplicates: this.duplicates,
      sinkErrors: this.sinkErrors,
      ...(since === undefined ? {} : { lastFlowTime: formatTimestamp(timestampFromNanos(since)) }),
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
    };
  }

  private emit(event: HubbleObserverEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch (error) {
      this.logger.error({ err: error, event: event.type }, 'hubble observer event handler failed');
    }
  }

  /** The TLS material, read from its files at every attempt (rotated certificates are picked up). */
  private async tlsMaterial(): Promise<ServerStreamTls | undefined> {
    const tls = this.options.tls;
    if (tls === undefined) return undefined;
    const pem = async (value: string | Buffer | undefined, file: string | undefined): Promise<Buffer | undefined> => {
      if (value !== undefined) return Buffer.isBuffer(value) ? value : Buffer.from(value);
      return file === undefined ? undefined : readFile(file);
    };
    const [ca, cert, key] = await Promise.all([pem(tls.ca, tls.caFile), pem(tls.cert, tls.certFile), pem(tls.key, tls.keyFile)]);
    if ((cert === undefined) !== (key === undefined)) throw new Error('TLS client certificate and key must be given together');
    return {
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
      ...(tls.serverName === undefined ? {} : { serverName: tls.serverName }),
    };
  }

  private request(): Record<string, unknown> {
    const since = this.tracker.since();
    return {
      follow: true,
      ...(this.whitelist.length > 0 ? { whitelist: this.whitelist } : {}),
      ...(since === undefined ? {} : { since: timestampFromNanos(since) }),
    };
  }

  private async connect(generation: number): Promise<void> {
    this.retryTimer = undefined;
    if (!this.running || generation !== this.generation) return;
    const definitions = this.definitions;
    if (definitions === undefined) return;
    if (this.attempts++ > 0) this.reconnects++;
    const request = this.request();
    let tls: ServerStreamTls | undefined;
    let bytes: Buffer;
    let target: ReturnType<typeof parseGrpcTarget>;
    try {
      target = parseGrpcTarget(this.options.address);
      tls = await this.tlsMaterial();
      bytes = definitions.getFlows.requestSerialize(request);
    } catch (error) {
      this.fail({ message: `cannot set up the connection: ${describe(error)}`, at: this.clock.now() }, error);
      return;
    }
    if (!this.running || generation !== this.generation) return;
    this.tracker.beginStream();
    const attempt: Attempt = { call: undefined, established: false, timedOut: false, watchdog: undefined, ended: false };
    this.attempt = attempt;
    const since = request['since'] === undefined ? undefined : formatTimestamp(request['since']);
    this.logger.debug({ since, whitelist: this.whitelist, attempt: this.attempts }, 'hubble observer connecting');

    const establish = () => {
      if (attempt.established || attempt.ended) return;
      attempt.established = true;
      this.failures = 0;
      this.connected = true;
      this.logger.info({ since }, 'hubble observer connected');
      this.emit({ type: 'connected', address: this.options.address, ...(since === undefined ? {} : { since }) });
    };
    // The stream counts as established when the server answers (headers or a message; hubble-relay
    // sends node status right away), or when the call is still open on a ready connection after the
    // connect timeout (a quiet agent: grpc-go sends headers with the first message). A server that
    // accepts the connection but fails the call (mTLS rejection) is therefore never "established"
    // and the backoff keeps growing. Not ready by then: the attempt is abandoned.
    const timeout = this.options.connectTimeoutMs ?? 10_000;
    const decoder = this.decoder;
    let call: ServerStream;
    try {
      call = openServerStream(
        {
          target,
          path: definitions.getFlows.path,
          request: bytes,
          ...(tls === undefined ? {} : { tls }),
          keepaliveTimeMs: this.options.keepaliveTimeMs ?? 330_000,
          keepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS,
          ...(this.options.maxMessageBytes === undefined ? {} : { maxMessageBytes: this.options.maxMessageBytes }),
        },
        {
          headers: establish,
          message: (buf, start, end) => {
            if (attempt.ended) return;
            establish();
            this.handle(decoder.decode(buf, start, end));
          },
          end: (status) => this.ended(attempt, status, timeout),
        },
      );
    } catch (error) {
      // e.g. a TLS key or certificate that is not PEM (node:tls throws while setting up).
      attempt.ended = true;
      this.attempt = undefined;
      this.fail({ message: `cannot set up the connection: ${describe(error)}`, at: this.clock.now() }, error);
      return;
    }
    attempt.call = call;
    if (attempt.ended) return;
    if (this.options.gate?.isOpen === false) call.pause();
    attempt.watchdog = this.clock.setTimeout(() => {
      attempt.watchdog = undefined;
      if (attempt.ended || attempt.established) return;
      if (call.ready) {
        establish();
        return;
      }
      attempt.timedOut = true;
      call.cancel();
    }, timeout);
  }

  private ended(attempt: Attempt, status: GrpcStatus, timeout: number): void {
    if (attempt.ended) return;
    attempt.ended = true;
    if (attempt.watchdog !== undefined) this.clock.clearTimeout(attempt.watchdog);
    if (this.attempt === attempt) this.attempt = undefined;
    this.connected = false;
    if (!this.running) {
      this.logger.info('hubble observer stopped');
      this.emit({ type: 'stopped' });
      const waiters = this.stopWaiters;
      this.stopWaiters = [];
      for (const resolve of waiters) resolve();
      return;
    }
    const code = grpcCodeName(status.code);
    let message: string;
    if (attempt.timedOut) message = `no connection within ${timeout} ms`;
    else if (status.code === GrpcCode.OK) message = 'GetFlows stream ended by the server';
    else message = status.details || code;
    this.fail({ message, code: attempt.timedOut ? 'DEADLINE_EXCEEDED' : code, at: this.clock.now() }, attempt.timedOut ? undefined : status.cause);
  }

  /**
   * Records an error and schedules the next attempt. `cause` is the thrown Error, when there is
   * one (it is logged as `err`); a stream that ended with a gRPC status has only `error.message`.
   */
  private fail(error: HubbleObserverError, cause?: unknown): void {
    this.lastError = error;
    this.connected = false;
    if (!this.running) return;
    const attempt = this.failures++;
    const retryInMs = backoffDelay(attempt, this.random, this.options.backoff);
    this.logger.warn({ reason: error.message, code: error.code, ...(cause === undefined ? {} : { err: cause }), retryInMs, attempt }, 'hubble observer disconnected');
    this.emit({ type: 'disconnected', error, attempt, retryInMs });
    const generation = this.generation;
    this.retryTimer = this.clock.setTimeout(() => void this.connect(generation), retryInMs);
  }

  private handle(message: DecodedResponse): void {
    switch (message.kind) {
      case 'flow':
        if (message.timeSeconds !== undefined && this.tracker.flowAt(message.timeSeconds, message.timeNanos, message.identity) === 'duplicate') {
          this.duplicates++;
          return;
        }
        break;
      case 'lost-events':
        if (this.tracker.lostEvent(message.identity) === 'duplicate') {
          this.duplicates++;
          return;
        }
        break;
      default:
        break;
    }
    this.deliver(message.result);
  }

  private deliver(result: ParseResult): void {
    switch (result.kind) {
      case 'flow':
        this.flows++;
        break;
      case 'lost-events':
        this.lostEventNotices++;
        this.lostEvents += result.count;
        this.logger.warn({ source: result.source, count: result.count, total: this.lostEvents }, 'hubble lost events');
        this.emit({ type: 'lost-events', source: result.source, count: result.count, total: this.lostEvents });
        break;
      case 'node-status':
        this.nodeStatus++;
        this.logger.info({ node: result.node, detail: result.detail }, 'hubble node status');
        this.emit({ type: 'node-status', ...(result.node === undefined ? {} : { node: result.node }), detail: result.detail });
        break;
      case 'skip': {
        this.skipped[result.reason]++;
        const malformed = result.reason === 'malformed' || result.reason === 'schema-mismatch';
        if (malformed) this.malformed++;
        const fields = { reason: result.reason, detail: result.detail };
        if (malformed && this.malformed <= LOUD_SKIPS) this.logger.warn(fields, 'hubble message skipped');
        else this.logger.debug(fields, 'hubble message skipped');
        break;
      }
      default:
        break;
    }
    try {
      this.options.sink(result);
    } catch (error) {
      this.sinkErrors++;
      this.logger.error({ err: error, kind: result.kind }, 'hubble sink failed');
    }
  }
}
