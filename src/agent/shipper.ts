/**
 * Ships the agent's edge deltas to the controller: `POST <controller>/v1/edges` (./wire.ts) with
 * the agent's ServiceAccount token as `Authorization: Bearer`, one batch at a time.
 *
 * Every `intervalMs` the aggregator is drained and its batches are sent until none is left:
 * - 200 with `ack` = the batch's `seq` → {@link EdgeAggregator.ack}: those deltas are dropped;
 * - network errors, timeouts, 5xx, 429, 401/403 → the batch is kept and sent again, unchanged
 *   (same `seq`: the controller ignores a batch it has already applied), after a capped,
 *   jittered exponential backoff; 401/403 are counted apart — they mean a token or RBAC problem,
 *   not an outage, and are logged as errors;
 * - 400 / 413 / 422 → the controller can never accept this batch: it is dropped and counted
 *   (`rejected`) so it cannot block every later one.
 *
 * The token is read again for every request: projected ServiceAccount tokens are rotated by the
 * kubelet (hourly), so a cached one would eventually be refused.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { Backoff, type BackoffPolicy } from '../runtime/backoff.js';
import { sleep, systemClock, type Clock } from '../runtime/clock.js';
import type { DeltaBatch, EdgeAggregator } from './aggregator.js';
import { EDGES_PATH, parseAck } from './wire.js';

export interface TransportRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly timeoutMs: number;
}

export interface TransportResponse {
  readonly status: number;
  readonly body: string;
}

/** Sends one POST; rejects on network errors and timeouts. */
export type Transport = (request: TransportRequest) => Promise<TransportResponse>;

export interface HttpTransportOptions {
  /** PEM CA bundle to verify an HTTPS controller (e.g. the service CA); default: the system's. */
  readonly ca?: string | Buffer;
  /**
   * The name the controller's certificate must carry, sent as SNI, instead of the URL's host (like
   * kubeconfig's `tls-server-name`): for a controller reached by an address or a name its
   * certificate does not list, e.g. `https://10.96.0.20:8443` with a certificate for
   * `hivewall-operator.hivewall-system.svc`. Only for https URLs; the URL still says where to connect.
   */
  readonly servername?: string;
  /** Largest response body read. Default 64 KiB. */
  readonly maxResponseBytes?: number;
}

/** node:http / node:https, chosen by the URL's scheme, keep-alive, with a hard timeout. */
export function httpTransport(opts: HttpTransportOptions = {}): Transport {
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  // `servername` is both the SNI sent and the name node:tls verifies the certificate against
  // (tls.checkServerIdentity(servername, cert)); on the Agent it also keys the connection pool.
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 2, ...(opts.ca ? { ca: opts.ca } : {}), ...(opts.servername ? { servername: opts.servername } : {}) });
  const maxResponse = opts.maxResponseBytes ?? 64 * 1024;
  return (request) => new Promise<TransportResponse>((resolve, reject) => {
    const url = new URL(request.url);
    const secure = url.protocol === 'https:';
    const req = (secure ? https : http).request(url, {
      method: 'POST',
      headers: { ...request.headers, 'Content-Length': Buffer.byteLength(request.body) },
      agent: secure ? httpsAgent : httpAgent,
      ...(secure && opts.servername ? { servername: opts.servername } : {}),
      timeout: request.timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= maxResponse) chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${request.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(request.body);
  });
}

/** What one send attempt came to. */
export type ShipOutcome = 'acked' | 'retry' | 'unauthorized' | 'rejected';

export interface ShipperOptions {
  readonly aggregator: EdgeAggregator;
  /** The controller's base URL, e.g. `https://hivewall-operator.hivewall-system.svc:8443`. */
  readonly controllerUrl: string;
  /** This node's name (sent with every batch). */
  readonly node: string;
  /** Reads the bearer token (again for every request). */
  readonly token: () => Promise<string>;
  readonly logger: Logger;
  readonly transport?: Transport;
  readonly clock?: Clock;
  /** Time between shipping rounds. Default 10 s. */
  readonly intervalMs?: number;
  /** Per-request timeout. Default 10 s. */
  readonly timeoutMs?: number;
  /** Backoff after a failed round. Default 1 s doubling to 60 s, 20 % jitter. */
  readonly backoff?: BackoffPolicy;
  /** Random per process unless given (tests). */
  readonly instance?: string;
}

export interface ShipperStats {
  /** Requests sent, and their outcomes. */
  requests: number;
  readonly outcomes: Record<ShipOutcome, number>;
  /** Rounds in a row that ended in a failure (0 after a round that sent everything). */
  consecutiveFailures: number;
  /** Clock time of the last acknowledged batch, if any. */
  lastAckAt: number | undefined;
  /** The last failure, for logs and health detail. */
  lastError: string | undefined;
}

const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 60_000, jitter: 0.2 };

export class Shipper {
  readonly stats: ShipperStats = {
    requests: 0,
    outcomes: { acked: 0, retry: 0, unauthorized: 0, rejected: 0 },
    consecutiveFailures: 0,
    lastAckAt: undefined,
    lastError: undefined,
  };
  /** Random per agent process: with the node it names the sequence `seq` counts in. */
  readonly instance: string;
  readonly #opts: ShipperOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #transport: Transport;
  readonly #backoff: Backoff;
  readonly #url: string;
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #round: Promise<boolean> | undefined;

  constructor(opts: ShipperOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'shipper' });
    this.#clock = opts.clock ?? systemClock;
    this.#transport = opts.transport ?? httpTransport();
    this.#backoff = new Backoff(opts.backoff ?? DEFAULT_BACKOFF);
    this.#url = new URL(EDGES_PATH, opts.controllerUrl).toString();
    this.instance = opts.instance ?? randomBytes(8).toString('hex');
  }

  /** Ships every `intervalMs` (sooner after a failure, by the backoff) until {@link stop}. */
  start(): void {
    if (this.#loop) return;
    this.#abort = new AbortController();
    const signal = this.#abort.signal;
    this.#loop = (async () => {
      while (!signal.aborted) {
        await sleep(this.#clock, this.#nextDelay(), signal);
        if (signal.aborted) break;
        await this.shipOnce();
      }
    })();
  }

  /** Stops the loop (an in-flight request finishes first). */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await this.#round;
    this.#loop = undefined;
  }

  #nextDelay(): number {
    const interval = this.#opts.intervalMs ?? 10_000;
    if (this.stats.consecutiveFailures === 0) return interval;
    return Math.round(this.#backoff.next());
  }

  /**
   * One round: drain, then send batches until none is left or one fails. Resolves true when
   * everything buffered was acknowledged. Never rejects.
   */
  shipOnce(): Promise<boolean> {
    this.#round ??= this.#shipRound().finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  async #shipRound(): Promise<boolean> {
    const aggregator = this.#opts.aggregator;
    aggregator.drain(this.#clock.now());
    for (;;) {
      const batch = aggregator.nextBatch();
      if (!batch) break;
      const outcome = await this.#send(batch);
      this.stats.outcomes[outcome]++;
      if (outcome === 'acked' || outcome === 'rejected') continue;
      this.stats.consecutiveFailures++;
      return false;
    }
    if (this.stats.consecutiveFailures > 0) this.#log.info({ after: this.stats.consecutiveFailures }, 'shipping edges works again');
    this.stats.consecutiveFailures = 0;
    this.#backoff.reset();
    return true;
  }

  async #send(batch: DeltaBatch): Promise<ShipOutcome> {
    const aggregator = this.#opts.aggregator;
    let token: string;
    try {
      token = (await this.#opts.token()).trim();
    } catch (err) {
      return this.#fail('retry', `cannot read the ServiceAccount token: ${(err as Error).message}`, batch);
    }
    const body = JSON.stringify({ node: this.#opts.node, instance: this.instance, seq: batch.seq, edges: batch.edges, ...(batch.droppedConnections ? { dropped: batch.droppedConnections } : {}), ...(batch.unanswered ? { unanswered: batch.unanswered } : {}), ...(batch.denied ? { denied: batch.denied } : {}) });
    this.stats.requests++;
    let response: TransportResponse;
    try {
      response = await this.#transport({
        url: this.#url,
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'User-Agent': 'hivewall-agent' },
        body,
        timeoutMs: this.#opts.timeoutMs ?? 10_000,
      });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return this.#fail('retry', `${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}`, batch);
    }
    const { status } = response;
    if (status === 200) {
      const ack = parseAck(response.body);
      if (ack?.ack === batch.seq) {
        aggregator.ack(batch.seq);
        this.stats.lastAckAt = this.#clock.now();
        this.stats.lastError = undefined;
        this.#log.debug({ seq: batch.seq, edges: batch.edges.length, duplicate: ack.duplicate === true }, 'edges shipped');
        return 'acked';
      }
      return this.#fail('retry', `200 without the ack of seq ${batch.seq}: ${response.body.slice(0, 200)}`, batch);
    }
    if (status === 401 || status === 403) return this.#fail('unauthorized', `${status}: ${response.body.slice(0, 200)}`, batch);
    if (status === 400 || status === 413 || status === 422) {
      aggregator.reject(batch.seq);
      this.#log.error({ seq: batch.seq, status, edges: batch.edges.length, body: response.body.slice(0, 300) }, 'controller refused an edge batch: dropped');
      return 'rejected';
    }
    return this.#fail('retry', `${status}: ${response.body.slice(0, 200)}`, batch);
  }

  #fail(outcome: 'retry' | 'unauthorized', detail: string, batch: DeltaBatch): ShipOutcome {
    this.stats.lastError = detail;
    const fields = { seq: batch.seq, edges: batch.edges.length, detail, failures: this.stats.consecutiveFailures + 1, buffered: this.#opts.aggregator.bufferedConnections() };
    if (outcome === 'unauthorized') this.#log.error(fields, 'controller refused the agent token: edges kept');
    else this.#log.warn(fields, 'shipping edges failed: kept for retry');
    return outcome;
  }
}
