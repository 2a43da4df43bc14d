/**
 * `hivewall agent --source hubble`: the node agent for Cilium clusters. It follows the node-local
 * Hubble Observer (the Cilium agent's `unix:///var/run/cilium/hubble.sock`) instead of
 * hubble-relay, so no single process ever decodes the whole cluster's flows:
 *
 *   hubble.sock ──GetFlows (follow, reply: false)──▶ HubbleObserverSource ──▶ EdgeAggregator (Learner)
 *                                                                               ──▶ Shipper ──▶ controller /v1/edges
 *
 * - Identity: none of its own. Hubble flows name their pods (namespace, pod name, Cilium's
 *   workload) and reserved identities; a pod's workload is only what Cilium reports, else the bare
 *   pod, never a guess from its name or labels (./hubble-identity.ts). No informers, no API-server
 *   access besides the controller's TokenReview of the agent's token.
 * - Which node counts a flow: a connection between pods on two nodes is seen by both nodes'
 *   Hubble. A flow leaving its pod toward another pod ({@link leftToServerNode}) is left to the
 *   server's node, which sees it arrive (TO_ENDPOINT) or dropped by the server's ingress policy;
 *   every other flow (arriving at a local pod, dropped by a local pod's egress policy, or leaving
 *   toward the world, a host or another non-pod peer) is counted here. So each policy denial is
 *   reported once, by the node of the pod whose policy denied it, with Hubble's direction and the
 *   denying policies (`denied` in ./wire.ts): the controller's safety net counts it as it counts
 *   hubble-relay's drops. Every counted flow is complete at this node: nothing later
 *   can deny it, and the agent asks Hubble for no reply flows and learns connections still waiting
 *   for a reply at each drain (Learner.settlePending). A server pod on a node without an agent is a
 *   blind spot for its clients' edges.
 * - Shipping is the conntrack agent's: the same aggregator (deltas, buffer bounds, batches) and
 *   Shipper (acknowledgement, retries). Hubble's `lost_events` are reported with the batches as
 *   dropped events, which the controller counts as lost (FlowsComplete).
 * - Restart without loss or double counting: at every drain the source's resume point (the
 *   newest flow delivered, and the identities at exactly that time) is remembered; once everything
 *   that drain produced is acknowledged it is written to `resumeFile` (resume-file.ts). The next
 *   process asks Hubble for flows `since` that point and drops the boundary flows already counted
 *   (ingest/hubble-grpc/resume.ts). Exact when one drain's deltas fit in one batch (`maxBatchEdges`,
 *   default 2,000 distinct edges per ship interval); a crash between two batches of one drain can
 *   count the first batch's connections again.
 * - Readiness `hubble`: a stream is established; the reason names the socket and the last error.
 *   A missing socket or a stopped Cilium agent is retried with capped, jittered backoff, forever.
 */
import type { Logger } from 'pino';
import type { Flow } from '../domain/flow.js';
import { HubbleObserverSource, type HubbleObserverOptions, type HubbleObserverStats, type HubbleResumePoint } from '../ingest/hubble-grpc/index.js';
import { sleep, systemClock, type Clock } from '../runtime/clock.js';
import type { CheckResult } from '../runtime/health.js';
import { EdgeAggregator, type AggregatorOptions } from './aggregator.js';
import { HubbleIdentity } from './hubble-identity.js';
import { ResumeFile } from './resume-file.js';
import { Shipper, type Transport } from './shipper.js';

/** Cilium's default node-local Hubble socket (`hubble-socket-path`). */
export const DEFAULT_HUBBLE_SOCKET = 'unix:///var/run/cilium/hubble.sock';

/**
 * A flow leaving its (client) pod toward a pod: counted by the server pod's node, where it arrives
 * (or is dropped by the server's ingress policy). Hubble's `traffic_direction` is relative to the
 * observing endpoint: EGRESS at the client's endpoint. Replies never count anywhere. A packet
 * that ends here ({@link ENDS_HERE}: the client's egress policy dropped it) never reaches the
 * server's node, so this node counts it (a policy denial).
 */
export function leftToServerNode(flow: Flow): boolean {
  const dst = flow.destination;
  return flow.trafficDirection === 'EGRESS' && !ENDS_HERE.has(flow.verdict) && dst.reserved === undefined && dst.namespace !== undefined && dst.podName !== undefined;
}

/**
 * Verdicts of a packet Cilium did not pass on. FORWARDED, AUDIT (policy audit mode passes it) and
 * REDIRECTED (to the node's proxy, which forwards it) reach the server's node, which counts them.
 */
const ENDS_HERE: ReadonlySet<Flow['verdict']> = new Set(['DROPPED', 'ERROR']);

export interface HubbleAgentOptions {
  readonly node: string;
  readonly controllerUrl: string;
  readonly token: () => Promise<string>;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** The node-local Hubble server (default {@link DEFAULT_HUBBLE_SOCKET}). */
  readonly hubbleAddress?: string;
  /** Only flows with a pod in these namespaces (Hubble whitelist); absent: every flow. */
  readonly namespaces?: readonly string[];
  /** Where the resume point is kept across restarts; absent: each start follows new flows only. */
  readonly resumeFile?: string;
  readonly shipIntervalMs?: number;
  readonly maxBufferedEdges?: number;
  readonly maxBatchEdges?: number;
  readonly transport?: Transport;
  /** Last shipping round on stop. Default 5 s. */
  readonly flushTimeoutMs?: number;
  /** Reconnect policy and timeouts of the Hubble stream (tests shorten them). */
  readonly hubble?: Pick<HubbleObserverOptions, 'backoff' | 'connectTimeoutMs' | 'random' | 'protoDir'>;
}

export interface HubbleAgentStats {
  /** Flows left to the server pod's node. */
  leftToServerNode: number;
  /** Resume points stored (after everything before them was acknowledged). */
  resumePointsStored: number;
}

const NO_STREAM: HubbleObserverStats = {
  connected: false, flows: 0, lostEventNotices: 0, lostEvents: 0, nodeStatus: 0, reconnects: 0, malformed: 0,
  skipped: { empty: 0, malformed: 0, 'schema-mismatch': 0, 'too-long': 0, 'unsupported-protocol': 0, 'invalid-name': 0 }, duplicates: 0, sinkErrors: 0,
};

/**
 * The conntrack agent's aggregator with a resume point: remembered at every drain, handed to
 * `store` once everything up to it is acknowledged (or, if nothing came of it, at once).
 */
class CheckpointedAggregator extends EdgeAggregator {
  #drained: HubbleResumePoint | undefined;

  constructor(opts: AggregatorOptions, private readonly position: () => HubbleResumePoint | undefined, private readonly store: (point: HubbleResumePoint) => void) {
    super(opts);
  }

  override drain(): void {
    this.#drained = this.position();
    this.learner.settlePending();
    super.drain();
    this.#stored();
  }

  override ack(seq: number): boolean {
    const acked = super.ack(seq);
    if (acked) this.#stored();
    return acked;
  }

  override reject(seq: number): boolean {
    const rejected = super.reject(seq);
    if (rejected) this.#stored();
    return rejected;
  }

  #stored(): void {
    if (this.idle && this.#drained !== undefined) this.store(this.#drained);
  }
}

export class HubbleAgent {
  readonly aggregator: EdgeAggregator;
  readonly shipper: Shipper;
  readonly address: string;
  readonly stats: HubbleAgentStats = { leftToServerNode: 0, resumePointsStored: 0 };
  readonly #opts: HubbleAgentOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #resume: ResumeFile | undefined;
  #source: HubbleObserverSource | undefined;
  #started: Promise<void> | undefined;
  #stopping = false;

  constructor(opts: HubbleAgentOptions) {
    this.#opts = opts;
    this.address = opts.hubbleAddress ?? DEFAULT_HUBBLE_SOCKET;
    this.#log = opts.logger.child({ component: 'hubble-agent', node: opts.node });
    this.#clock = opts.clock ?? systemClock;
    this.#resume = opts.resumeFile === undefined ? undefined : new ResumeFile(opts.resumeFile, this.#log);
    this.aggregator = new CheckpointedAggregator(
      {
        identity: new HubbleIdentity(),
        ...(opts.maxBufferedEdges !== undefined ? { maxBufferedEdges: opts.maxBufferedEdges } : {}),
        ...(opts.maxBatchEdges !== undefined ? { maxBatchEdges: opts.maxBatchEdges } : {}),
      },
      () => this.#source?.resumePoint(),
      (point) => {
        if (this.#resume === undefined) return;
        this.stats.resumePointsStored++;
        void this.#resume.write(point);
      },
    );
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

  /** The Hubble stream's counters (zero before the stream is set up). */
  hubbleStats(): HubbleObserverStats {
    return this.#source?.stats() ?? NO_STREAM;
  }

  /** Reads the resume point, starts following Hubble and shipping. Never rejects. */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    const resumeFrom = await this.#resume?.read();
    if (this.#stopping) return;
    this.#source = new HubbleObserverSource({
      address: this.address,
      replies: false,
      ...(this.#opts.namespaces !== undefined && this.#opts.namespaces.length > 0 ? { namespaces: this.#opts.namespaces } : {}),
      ...(resumeFrom !== undefined ? { resumeFrom } : {}),
      ...this.#opts.hubble,
      logger: this.#log,
      sink: (result) => {
        if (result.kind === 'flow' && leftToServerNode(result.flow)) {
          this.stats.leftToServerNode++;
          return;
        }
        this.aggregator.ingest(result);
      },
    });
    this.#source.start();
    this.shipper.start();
    this.#log.info({ hubble: this.address, controller: this.#opts.controllerUrl, ...(resumeFrom ? { since: resumeFrom.since } : {}) }, 'hubble agent started');
  }

  /** Readiness checks for the health server. */
  checks(): Record<string, () => CheckResult> {
    return {
      hubble: () => {
        const stats = this.hubbleStats();
        if (stats.connected) return { ok: true };
        return { ok: false, reason: `no Hubble stream from ${this.address}${stats.lastError ? `: ${stats.lastError.message}` : ' yet'}` };
      },
    };
  }

  /** Stops following Hubble, ships what is buffered (bounded), stores the resume point when all of it was acknowledged. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#started;
    await this.#source?.stop();
    await this.shipper.stop();
    if (this.#source !== undefined) {
      const flushed = await Promise.race([
        this.shipper.shipOnce(),
        sleep(this.#clock, this.#opts.flushTimeoutMs ?? 5_000).then(() => false),
      ]);
      if (flushed) this.#log.info({}, 'buffered edges shipped before exit');
      else this.#log.warn({ bufferedConnections: this.aggregator.bufferedConnections() }, 'exiting with edges not shipped; the next start resumes before them');
    }
    await this.#resume?.written();
  }
}
