/**
 * `hivewall agent`, assembled: the node agent for clusters without Cilium.
 *
 *   conntrack -E / -L ──▶ ConntrackSource ──▶ EdgeAggregator (Learner) ──▶ Shipper ──▶ controller /v1/edges
 *                                                  ▲
 *   informers (pods, services, …) ──▶ IdentityHistory (deleted pods remembered)
 *
 * Order at start: the inventory first (a flow resolved against an empty inventory would be
 * unresolved and lost), then conntrack (events, then the first dump, which picks up connections
 * opened before the agent), then shipping. The identity is rebuilt every `inventoryRefreshMs` when
 * the informers saw a change. On stop, conntrack stops first, then one last shipping round tries
 * to hand over what is buffered (bounded by `flushTimeoutMs`); what the controller did not
 * acknowledge is counted in `stateFile`, and the next run reports it as dropped.
 *
 * Readiness (`checks()`): `inventory` (synced) and `conntrack` (events running, last dump good;
 * the reason names a missing binary or a permission problem). Shipping failures are not a
 * readiness failure — an agent that cannot reach the controller keeps learning and buffering, and
 * a failing probe would only stall DaemonSet rollouts; they show in metrics and logs.
 */
import type { Logger } from 'pino';
import type { IdentityOptions } from '../domain/identity.js';
import type { LearnerOptions } from '../domain/learner.js';
import { Backoff } from '../runtime/backoff.js';
import { sleep, systemClock, type Clock, type TimerHandle } from '../runtime/clock.js';
import type { CheckResult } from '../runtime/health.js';
import { EdgeAggregator } from './aggregator.js';
import type { CommandRunner } from './command.js';
import { ConntrackSource } from './conntrack-source.js';
import { IdentityHistory } from './identity-history.js';
import type { InventorySource } from './inventory.js';
import { Shipper, type Transport } from './shipper.js';
import { AgentStateFile } from './state-file.js';

export interface AgentOptions {
  readonly node: string;
  readonly controllerUrl: string;
  readonly token: () => Promise<string>;
  readonly inventory: InventorySource;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly runner?: CommandRunner;
  /** Prepended to conntrack commands (`ip netns exec <ns>` in tests). */
  readonly conntrackPrefix?: readonly string[];
  readonly conntrackBinary?: string;
  readonly dumpIntervalMs?: number;
  readonly shipIntervalMs?: number;
  /** How often the identity is rebuilt when the informers saw a change. Default 2 s. */
  readonly inventoryRefreshMs?: number;
  /** How long deleted pods keep resolving. Default 10 min. */
  readonly retentionMs?: number;
  readonly maxBufferedEdges?: number;
  readonly maxBatchEdges?: number;
  readonly transport?: Transport;
  readonly identity?: IdentityOptions;
  readonly learner?: LearnerOptions;
  /** Count only connections whose client is not known to live on another node (default true). */
  readonly leaveRemoteClients?: boolean;
  /** Last shipping round on stop. Default 5 s. */
  readonly flushTimeoutMs?: number;
  /**
   * Where a stopping agent leaves the count of connections it could not ship, for the next run to
   * report as dropped (./state-file.ts). Absent: they are only logged.
   */
  readonly stateFile?: string;
}

export class Agent {
  readonly history: IdentityHistory;
  readonly aggregator: EdgeAggregator;
  readonly source: ConntrackSource;
  readonly shipper: Shipper;
  readonly #opts: AgentOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  #abort = new AbortController();
  #refreshTimer: TimerHandle | undefined;
  #appliedVersion = -1;
  #started: Promise<void> | undefined;
  #running = false;
  readonly #state: AgentStateFile | undefined;
  /** The state file was read: from now on it is this run's to write. */
  #stateRead = false;

  constructor(opts: AgentOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'agent', node: opts.node });
    this.#clock = opts.clock ?? systemClock;
    this.#state = opts.stateFile === undefined ? undefined : new AgentStateFile(opts.stateFile, this.#log);
    this.history = new IdentityHistory({
      clock: this.#clock,
      ...(opts.retentionMs !== undefined ? { retentionMs: opts.retentionMs } : {}),
      ...(opts.identity ? { identity: opts.identity } : {}),
    });
    this.aggregator = new EdgeAggregator({
      identity: this.history.resolver,
      ...(opts.learner ? { learner: opts.learner } : {}),
      ...(opts.maxBufferedEdges !== undefined ? { maxBufferedEdges: opts.maxBufferedEdges } : {}),
      ...(opts.maxBatchEdges !== undefined ? { maxBatchEdges: opts.maxBatchEdges } : {}),
      ...(opts.leaveRemoteClients ?? true ? { localNode: opts.node, nodeOf: (ip: string) => this.history.nodeOf(ip) } : {}),
    });
    this.source = new ConntrackSource({
      sink: (result) => this.aggregator.ingest(result),
      logger: opts.logger,
      clock: this.#clock,
      ...(opts.runner ? { runner: opts.runner } : {}),
      ...(opts.conntrackPrefix ? { prefix: opts.conntrackPrefix } : {}),
      ...(opts.conntrackBinary ? { binary: opts.conntrackBinary } : {}),
      ...(opts.dumpIntervalMs !== undefined ? { dumpIntervalMs: opts.dumpIntervalMs } : {}),
    });
    this.shipper = new Shipper({
      aggregator: this.aggregator,
      controllerUrl: opts.controllerUrl,
      node: opts.node,
      token: opts.token,
      logger: opts.logger,
      clock: this.#clock,
      ...(opts.transport ? { transport: opts.transport } : {}),
      ...(opts.shipIntervalMs !== undefined ? { intervalMs: opts.shipIntervalMs } : {}),
    });
  }

  /**
   * Starts the informers; once they have synced, conntrack and shipping. Resolves when conntrack
   * has started (or the agent was stopped first). Never rejects.
   */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    const signal = this.#abort.signal;
    await this.#carryOver();
    this.#opts.inventory.start();
    const wait = new Backoff({ baseMs: 100, capMs: 2_000 });
    while (!this.#opts.inventory.synced() && !signal.aborted) await sleep(this.#clock, wait.next(), signal);
    if (signal.aborted) return;
    this.#refreshIdentity();
    this.#scheduleRefresh();
    this.source.start();
    this.shipper.start();
    this.#running = true;
    this.#log.info({ pods: this.history.stats.livePods, controller: this.#opts.controllerUrl }, 'agent started');
    this.#warnWithoutPodRanges();
  }

  /**
   * The resolver calls an address it does not know an unknown pod (skipped, not remembered) only
   * inside a pod range: the Nodes' `spec.podCIDRs` or `identity.podCidrs` (src/domain/identity.ts).
   * Without either, a new pod's first connections, seen before the inventory shows the pod, are
   * learned as `world`.
   */
  #warnWithoutPodRanges(): void {
    if ((this.#opts.identity?.podCidrs?.length ?? 0) > 0) return;
    if (this.history.resolver.nodes.some((node) => node.podCIDRs.length > 0)) return;
    this.#log.warn({ nodes: this.history.resolver.nodes.length }, 'no pod CIDR known (no Node has spec.podCIDRs and none is configured): set --pod-cidr or HIVEWALL_POD_CIDRS, or new pods\' first connections are learned as world');
  }

  /**
   * What the previous run could not ship goes to the controller as dropped with the first batch
   * (FlowsComplete=False), instead of being lost silently.
   */
  async #carryOver(): Promise<void> {
    if (this.#state === undefined) return;
    const unshipped = await this.#state.readUnshipped();
    this.#stateRead = true;
    if (unshipped === 0) return;
    this.aggregator.carryOver(unshipped);
    this.#log.warn({ unshippedConnections: unshipped, file: this.#state.file }, 'the previous run stopped with connections not shipped: reporting them as dropped');
  }

  /** Applies the inventory when it changed since the last time. */
  #refreshIdentity(): void {
    const version = this.#opts.inventory.version;
    if (version === this.#appliedVersion) return;
    try {
      this.history.apply(this.#opts.inventory.takeChanges(), this.#opts.inventory);
      this.#appliedVersion = version;
    } catch (err) {
      this.#log.error({ err }, 'building the identity failed; keeping the previous one');
    }
  }

  #scheduleRefresh(): void {
    if (this.#abort.signal.aborted) return;
    this.#refreshTimer = this.#clock.setTimeout(() => {
      this.#refreshIdentity();
      this.#scheduleRefresh();
    }, this.#opts.inventoryRefreshMs ?? 2_000);
  }

  /** Readiness checks for the health server. */
  checks(): Record<string, () => CheckResult> {
    return {
      inventory: () => (this.#opts.inventory.synced() ? { ok: true } : { ok: false, reason: 'informers not synced yet' }),
      conntrack: () => {
        if (!this.#running) return { ok: false, reason: 'waiting for the inventory' };
        const status = this.source.status();
        return status.ok ? { ok: true } : { ok: false, reason: status.reason ?? 'conntrack not running' };
      },
    };
  }

  /**
   * Stops conntrack, ships what is buffered (bounded), leaves what the controller did not
   * acknowledge in the state file, stops shipping and the informers.
   */
  async stop(): Promise<void> {
    this.#abort.abort();
    if (this.#refreshTimer !== undefined) this.#clock.clearTimeout(this.#refreshTimer);
    await this.#started;
    await this.source.stop();
    await this.shipper.stop();
    if (this.#running) {
      const flushed = await Promise.race([
        this.shipper.shipOnce(),
        sleep(this.#clock, this.#opts.flushTimeoutMs ?? 5_000).then(() => false),
      ]);
      const buffered = this.aggregator.bufferedConnections();
      if (flushed) this.#log.info({}, 'buffered edges shipped before exit');
      else this.#log.warn({ bufferedConnections: buffered, unshippedConnections: this.aggregator.unacknowledged() }, 'exiting with edges not shipped');
    }
    // Written whether or not this run shipped anything: the previous run's count stays until acknowledged.
    if (this.#stateRead) await this.#state?.writeUnshipped(this.aggregator.unacknowledged());
    this.#running = false;
    await this.#opts.inventory.stop();
  }
}
