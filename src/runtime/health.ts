/**
 * The probe and metrics endpoint (node:http), in the API server's own style:
 *
 * - `/healthz` (and `/livez`): the process is alive — the event loop keeps turning (a ticker
 *   that ran `eventLoopStallMs` late fails it for a while) and every liveness check passes. A
 *   loop blocked for good cannot answer at all, which the kubelet's probe timeout catches; this
 *   check also reports long stalls that did end. The kubelet restarts the container on failure.
 * - `/readyz`: every readiness check registered by a component passes (informers synced, leader
 *   election running, …); 503 with the failing check names otherwise, and after
 *   `markShuttingDown()` so that traffic drains before the process exits.
 * - `/metrics`: the prom-client registry in the Prometheus text format.
 *
 * Bodies follow kube-apiserver's: `ok`, or one `[+]name ok` / `[-]name failed: reason` line per
 * check and a last line `readyz check failed` (all lines always with `?verbose`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

/** A check: true/false, or a result with a reason; may be async. A throw counts as a failure. */
export type HealthCheck = () => boolean | CheckResult | Promise<boolean | CheckResult>;

export interface CheckResult {
  readonly ok: boolean;
  readonly reason?: string;
}

export interface HealthServerOptions {
  /** Bind address (from config; `0.0.0.0` in a pod, `127.0.0.1` in tests). */
  readonly host: string;
  /** Port (from config); 0 picks a free one (see `listen()`'s result). */
  readonly port: number;
  readonly logger: Logger;
  /** Served at /metrics; without it /metrics is 404. */
  readonly registry?: Registry;
  /** A check that takes longer fails with "timed out" (default 5 s). */
  readonly checkTimeoutMs?: number;
  /** /healthz fails if the event loop has not turned for this long (default 10 s). */
  readonly eventLoopStallMs?: number;
}

interface CheckOutcome {
  readonly name: string;
  readonly ok: boolean;
  readonly reason?: string | undefined;
}

const TICK_MS = 500;

export class HealthServer {
  readonly #opts: HealthServerOptions;
  readonly #log: Logger;
  readonly #server: http.Server;
  readonly #ready = new Map<string, HealthCheck>();
  readonly #live = new Map<string, HealthCheck>();
  #shuttingDown = false;
  #lastTick = performance.now();
  /** Longest recent event-loop stall (ms) and until when /healthz reports it. */
  #stall = { ms: 0, until: 0 };
  #ticker: NodeJS.Timeout | undefined;

  constructor(opts: HealthServerOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'health' });
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#log.error({ err, path: req.url }, 'health endpoint failed');
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('internal error\n');
      });
    });
    this.#server.keepAliveTimeout = 5_000;
  }

  /** Register (or replace) a readiness check, e.g. `informer/segmentations` → `informer.hasSynced()`. */
  addReadyCheck(name: string, check: HealthCheck): void {
    this.#ready.set(name, check);
  }

  removeReadyCheck(name: string): void {
    this.#ready.delete(name);
  }

  /** Register a liveness check (keep these cheap and local: a failing one restarts the pod). */
  addLiveCheck(name: string, check: HealthCheck): void {
    this.#live.set(name, check);
  }

  /** From now on /readyz fails with `[-]shutdown failed: shutting down`. */
  markShuttingDown(): void {
    this.#shuttingDown = true;
  }

  /** Start listening; resolves with the bound address (the real port when `port` was 0). */
  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(this.#opts.port, this.#opts.host, () => {
        this.#server.off('error', onError);
        this.#server.on('error', (err) => this.#log.error({ err }, 'health server error'));
        this.#lastTick = performance.now();
        this.#ticker = setInterval(() => this.#tick(), TICK_MS);
        this.#ticker.unref();
        const addr = this.#server.address() as AddressInfo;
        this.#log.info({ host: addr.address, port: addr.port }, 'health server listening');
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  /**
   * The ticker is due every TICK_MS; when it runs late, the loop was blocked that long. A stall
   * of `eventLoopStallMs` or more is reported by /healthz for the next `eventLoopStallMs`: the
   * ticker runs before pending requests are read, so looking only at the last tick would never
   * see a stall that has just ended.
   */
  #tick(): void {
    const now = performance.now();
    const lateMs = now - this.#lastTick - TICK_MS;
    this.#lastTick = now;
    const limit = this.#opts.eventLoopStallMs ?? 10_000;
    if (lateMs >= limit) {
      this.#stall = { ms: lateMs, until: now + limit };
      this.#log.warn({ stalledMs: Math.round(lateMs) }, 'event loop was blocked');
    }
  }

  #eventLoopCheck(): CheckOutcome {
    if (this.#ticker === undefined) return { name: 'event-loop', ok: true };
    const now = performance.now();
    const limit = this.#opts.eventLoopStallMs ?? 10_000;
    const sinceTick = now - this.#lastTick - TICK_MS;
    if (sinceTick >= limit) return { name: 'event-loop', ok: false, reason: `no turn for ${Math.round(sinceTick)} ms` };
    if (now < this.#stall.until) return { name: 'event-loop', ok: false, reason: `blocked for ${Math.round(this.#stall.ms)} ms` };
    return { name: 'event-loop', ok: true };
  }

  /** Stop listening and drop open connections. */
  async close(): Promise<void> {
    if (this.#ticker) clearInterval(this.#ticker);
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://health');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return;
    }
    const verbose = url.searchParams.has('verbose');
    switch (url.pathname) {
      case '/healthz':
      case '/livez': {
        this.#reply(res, req, url.pathname.slice(1), [this.#eventLoopCheck(), ...await this.#run(this.#live)], verbose);
        return;
      }
      case '/readyz': {
        const shutdown: CheckOutcome = this.#shuttingDown ? { name: 'shutdown', ok: false, reason: 'shutting down' } : { name: 'shutdown', ok: true };
        this.#reply(res, req, 'readyz', [shutdown, ...await this.#run(this.#ready)], verbose);
        return;
      }
      case '/metrics': {
        const registry = this.#opts.registry;
        if (!registry) break;
        const body = await registry.metrics();
        res.writeHead(200, { 'Content-Type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
  }

  async #run(checks: Map<string, HealthCheck>): Promise<CheckOutcome[]> {
    const timeoutMs = this.#opts.checkTimeoutMs ?? 5_000;
    return Promise.all([...checks].map(async ([name, check]): Promise<CheckOutcome> => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<CheckResult>((resolve) => {
          timer = setTimeout(() => resolve({ ok: false, reason: `timed out after ${timeoutMs} ms` }), timeoutMs);
        });
        const r = await Promise.race([Promise.resolve().then(check), timeout]);
        return typeof r === 'boolean' ? { name, ok: r } : { name, ok: r.ok, reason: r.reason };
      } catch (err) {
        return { name, ok: false, reason: err instanceof Error ? err.message : String(err) };
      } finally {
        clearTimeout(timer);
      }
    }));
  }

  #reply(res: http.ServerResponse, req: http.IncomingMessage, what: string, outcomes: CheckOutcome[], verbose: boolean): void {
    const failed = outcomes.filter((o) => !o.ok);
    const ok = failed.length === 0;
    const lines = outcomes.map((o) => (o.ok ? `[+]${o.name} ok` : `[-]${o.name} failed${o.reason ? `: ${o.reason}` : ''}`));
    const body = ok
      ? (verbose ? `${lines.join('\n')}\n${what} check passed\n` : 'ok\n')
      : `${lines.join('\n')}\n${what} check failed\n`;
    if (!ok) this.#log.debug({ failed: failed.map((f) => f.name), probe: what }, 'probe failed');
    res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
