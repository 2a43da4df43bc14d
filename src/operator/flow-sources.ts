/**
 * The leader's live flow sources, all feeding one Learner (and the audits):
 *
 * - **Hubble export file** (`flowsPath`): followed like `tail -F` (ingest/follow), resuming from the
 *   stored file offset.
 * - **Hubble Observer** (`hubbleAddress`): `GetFlows` with `follow: true` (ingest/hubble-grpc),
 *   filtered server-side to the namespaces that have a Segmentation (none: no stream), resuming
 *   from the stored resume point: `since` = the newest flow stored, to the nanosecond, and the
 *   identities of the flows and lost-event notices already counted there, which the resumed stream
 *   repeats and the source drops. When the set of namespaces changes the stream is restarted with
 *   the new filter from the same kind of point.
 * - **conntrack agents** (`receiverPort`): the process-wide {@link EdgeReceiver} is attached to the
 *   learner's edge store with the stored per-agent sequence numbers; agents' deltas are already
 *   proven connections, aggregated per workload, so they are merged as edges (and audited as such);
 *   their unanswered and policy-denied connections go to the denial registry as hubble-relay's drops do.
 *
 * Rounds (the store loop's passes, ./store-loop.ts): {@link FlowSources.beginRound} records every
 * source's position and holds new input in a queue until {@link FlowSources.endRound}, so the
 * TrafficProfiles a pass writes contain exactly what the positions cover: after a restart nothing
 * is read twice or missed (profiles of a pass whose checkpoint write never happened are rolled
 * back to the committed pass, ./restore.ts). An agent's batch is acknowledged only once a pass
 * that covers it is committed ({@link FlowSources.persisted}); if storing fails the agent gets a
 * 503 and retries. A retry of a batch waits for the pass that covers that batch (the receiver keeps
 * the {@link FlowSources.round} it was applied in), and is answered at once when that pass has
 * already committed.
 *
 * Backpressure: a round holds at most `maxHeldInputs` inputs (../config.ts); past that the sources are paused
 * (../ingest/intake-gate.ts) until it ends: the file follower stops reading, the Hubble stream
 * stops returning flow-control credit, and agents are answered 503 `paused` and retry.
 */
import type { Logger } from 'pino';
import { hubbleUsesTls, type Config } from '../config.js';
import type { Flow, ParseResult } from '../domain/flow.js';
import type { Learner } from '../domain/learner.js';
import type { NodePlacements } from './node-binding.js';
import type { EdgeReceiver } from './receiver.js';
import type { ReportedEdge } from '../domain/edge-binding.js';
import { FlowFileFollower } from '../ingest/follow/index.js';
import { HubbleObserverSource, parseTimestampNanos, type HubbleResumePoint } from '../ingest/hubble-grpc/index.js';
import { AGENTS_KEY, HUBBLE_KEY, LOST_EVENTS_KEY, type CheckpointSnapshot, type OperatorCheckpoint } from '../k8s/checkpoint-store.js';
import type { AuditEngine, WorkloadKeyOf } from '../domain/audit.js';
import { workloadNamespace, type PeerKey } from '../domain/peer.js';
import type { DenialRegistry } from './denial-registry.js';
import { Gate } from '../ingest/intake-gate.js';

/** Counters the operator exports as metrics, by source. */
export interface FlowSourceMetrics {
  onFlows?(source: FlowSourceName, count: number): void;
  onLostEvents?(source: FlowSourceName, count: number): void;
  /** A line or message that was not a usable flow: `malformed`, `schema-mismatch`, `too-long`, … */
  onSkipped?(source: FlowSourceName, reason: string): void;
  /** The sources were paused because a round held {@link FlowSourcesOptions.holdLimit} inputs. */
  onPaused?(): void;
}

export type FlowSourceName = 'hubble-file' | 'hubble-grpc' | 'agent';

export interface FlowSourcesOptions {
  readonly config: Config;
  readonly learner: Learner;
  readonly audits: ReadonlyMap<string, AuditEngine>;
  readonly checkpoint: OperatorCheckpoint;
  readonly log: Logger;
  /** The process's receiver, when agents push edges here. */
  readonly receiver?: EdgeReceiver;
  /** Which workloads run on which node (from the inventory): the receiver refuses edges of other nodes. */
  readonly placements?: NodePlacements;
  /** Where denials of enforced policies are counted (agents' unanswered and denied connections; Hubble's drops come through the learner). */
  readonly denials?: DenialRegistry;
  /** A live pod of a workload key, for auditing agents' workload-level edges. */
  readonly podOf: (workloadKey: string) => string | undefined;
  /** The workload of a pod, so audit findings name it. */
  readonly workloadKeyOf?: WorkloadKeyOf;
  readonly metrics?: FlowSourceMetrics;
  /** Inputs (flows, agents' edge deltas) held during a round before the sources pause. Default: the config's `maxHeldInputs`. */
  readonly holdLimit?: number;
}


export class FlowSources {
  private follower: FlowFileFollower | undefined;
  private hubble: HubbleObserverSource | undefined;
  private hubbleNamespaces = '';
  /** Where a (re)started Hubble stream resumes: stored by the last leader, or left by the stopped stream. */
  private hubbleResume: HubbleResumePoint | undefined;
  private newFlows = 0;
  /** Flows (agents: connections) read per source since the metrics were last told; told in batches, not per flow. */
  private readonly unreported = new Map<FlowSourceName, number>();
  /** Input that arrived during a round, applied when it ends. */
  private held: (() => void)[] | undefined;
  /** Shut while {@link held} is at its bound: the sources stop delivering until the round ends. */
  private readonly gate = new Gate();
  private readonly holdLimit: number;
  /** Rounds begun; input applied while generation is g is stored by the flush of round g + 1. */
  private generation = 0;
  /** The newest round whose checkpoint was written: input applied while generation was below it is stored. */
  private committedRound = 0;
  private waiters: { readonly generation: number; readonly resolve: () => void; readonly reject: (e: Error) => void }[] = [];

  constructor(private readonly options: FlowSourcesOptions) {
    this.holdLimit = Math.max(1, options.holdLimit ?? options.config.maxHeldInputs);
  }

  /** Starts every configured source; `namespaces` scopes the Hubble stream. */
  start(namespaces: readonly string[]): void {
    const { config, checkpoint, log, receiver, learner } = this.options;
    if (config.flowsPath !== undefined) {
      this.follower = new FlowFileFollower({
        path: config.flowsPath,
        checkpoint: checkpoint.fileStore(),
        pollIntervalMs: config.flowPollMs,
        // After every batch: saving only records the position in memory (the ConfigMap is written
        // after rounds), and a round's snapshot must not lag behind what was delivered.
        checkpointEveryLines: 1,
        checkpointIntervalMs: 0,
        logger: log.child({ component: 'flow-follower' }),
        sink: this.sink('hubble-file'),
        gate: this.gate,
      });
      this.follower.start();
    }
    if (config.hubbleAddress !== undefined) {
      this.hubbleResume = parseResumePoint(checkpoint.read(HUBBLE_KEY));
      this.startHubble(namespaces);
    }
    if (receiver) {
      const stored = checkpoint.read(AGENTS_KEY);
      const sequences = typeof stored === 'object' && stored !== null ? stored as Record<string, number> : {};
      receiver.attach({
        record: (client, server, port, protocol, firstSeen, count = 1, lastSeen = firstSeen) => this.hold(() => {
          learner.edges.record(client, server, port, protocol, firstSeen, count, lastSeen);
          this.counted('agent', count);
          this.auditEdge({ client, server, port, protocol, count, lastSeen });
        }),
        // Not held for the round: a denial changes no stored state, and a rollback must not wait.
        unanswered: (client, server, port, protocol, firstSeen, count = 1) => this.options.denials?.observe({ client, server, port, protocol, reason: 'UNREPLIED', time: firstSeen }, count),
        // What the learner tells the registry of a hubble-relay drop (src/domain/learner.ts Denial).
        denied: (d) => this.options.denials?.observe({
          client: d.client, server: d.server, port: d.port, protocol: d.protocol, reason: 'POLICY_DENIED', time: d.firstSeen,
          ...(d.direction ? { direction: d.direction } : {}), ...(d.deniedBy ? { deniedBy: d.deniedBy } : {}),
        }, d.count),
        persisted: (round) => this.persisted(round),
        round: () => this.round(),
        // Counted like Hubble's lost events: the graph may miss what the agent could not keep.
        lost: (connections) => this.hold(() => this.ingest('agent', { kind: 'lost-events', source: 'agent-buffer', count: connections })),
        // An agent reports only what its node's pods or the node itself did (src/operator/node-binding.ts).
        // A Hubble agent's bare-pod key for a pod on another node is that pod's workload (src/operator/node-binding.ts).
        ...(this.options.placements ? {
          refusal: (node: string, edge: ReportedEdge) => this.options.placements!.refusal(node, edge),
          workloadOf: (key: PeerKey, edge: ReportedEdge) => this.options.placements!.workloadOf(key, edge),
        } : {}),
        paused: () => !this.gate.isOpen,
      }, sequences);
      log.info({ agents: Object.keys(sequences).length }, 'edge receiver attached to the learner');
    }
  }

  /** Restricts the Hubble stream to these namespaces (restarting it when the set changed). */
  async setNamespaces(namespaces: readonly string[]): Promise<void> {
    if (this.options.config.hubbleAddress === undefined || scopeKey(namespaces) === this.hubbleNamespaces) return;
    this.options.log.info({ namespaces }, 'namespaces in scope changed; restarting the Hubble stream');
    await this.stopHubble();
    this.startHubble(namespaces);
  }

  /**
   * Starts a round: records every source's position in the checkpoint and returns that snapshot;
   * input arriving until {@link endRound} is held back so the round's profiles match it exactly.
   */
  beginRound(): CheckpointSnapshot {
    this.recordPositions();
    this.generation++;
    this.held ??= [];
    return this.options.checkpoint.snapshot();
  }

  /**
   * Ends a round: `stored` says whether its profiles and checkpoint were written. Agents' batches
   * applied before the round began are then acknowledged (or refused with a retry when not stored);
   * held input is applied.
   */
  endRound(stored: boolean): void {
    if (stored) this.committedRound = this.generation;
    const covered = this.waiters.filter((w) => w.generation < this.generation);
    this.waiters = this.waiters.filter((w) => w.generation >= this.generation);
    for (const w of covered) {
      if (stored) w.resolve();
      else w.reject(new Error('the learned state could not be stored; retry'));
    }
    this.release();
  }

  /** The current round: input applied now is stored by the checkpoint of any later round ({@link persisted}). */
  round(): number {
    return this.generation;
  }

  /**
   * Resolves once the input applied in `round` (default: now; see {@link round}) is stored: a later
   * round's checkpoint covers it. At once when one already committed; otherwise with the end of
   * the first round after it that commits, rejected by each one before that fails.
   */
  persisted(round = this.generation): Promise<void> {
    if (round < this.committedRound) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ generation: round, resolve, reject }));
  }

  /** Whether an agent waits for its batch to be stored (the operator then starts a round soon). */
  hasWaiters(): boolean {
    return this.waiters.length > 0;
  }

  /** Flows (or agent connections) received since the last call; also tells the metrics. */
  takeNewFlows(): number {
    const n = this.newFlows;
    this.newFlows = 0;
    for (const [source, count] of this.unreported) this.options.metrics?.onFlows?.(source, count);
    this.unreported.clear();
    return n;
  }

  /** Why a source is not delivering, for the Segmentations' Degraded condition; undefined when all are fine. */
  error(): string | undefined {
    const problems: string[] = [];
    const { config } = this.options;
    if (this.follower) {
      const stats = this.follower.stats();
      if (stats.waiting) problems.push(`flow file ${config.flowsPath} does not exist (yet)`);
      else if (stats.lastError) problems.push(`flow file: ${stats.lastError}`);
    }
    if (this.hubble) {
      const stats = this.hubble.stats();
      if (!stats.connected && stats.lastError) problems.push(`hubble-relay ${config.hubbleAddress}: ${stats.lastError.message}`);
    }
    return problems.length > 0 ? problems.join('; ') : undefined;
  }

  /** Records every source's current position in the checkpoint. */
  private recordPositions(): void {
    const { checkpoint, receiver } = this.options;
    const resume = this.hubble?.resumePoint() ?? this.hubbleResume;
    if (resume !== undefined) checkpoint.set(HUBBLE_KEY, resume);
    if (receiver?.attached) checkpoint.set(AGENTS_KEY, receiver.sequences());
    checkpoint.set(LOST_EVENTS_KEY, this.options.learner.stats.lostEvents);
  }

  /** Stops every source; the receiver answers `not-leader` from now on. Held input is applied. */
  async stop(): Promise<void> {
    this.options.receiver?.detach();
    await Promise.all([this.follower?.stop(), this.stopHubble()]);
    this.release();
  }

  /** After the last round: batches not stored by now are refused (the agents retry with the next leader). */
  abandonWaiters(): void {
    for (const w of this.waiters.splice(0)) w.reject(new Error('this operator replica stopped leading; retry'));
  }

  /** A source's sink: results are applied now, or queued while a round holds input back. */
  private sink(source: FlowSourceName): (result: ParseResult) => void {
    return (result) => {
      // Outside a round, applied at once without a closure per flow.
      if (this.held) this.hold(() => this.ingest(source, result));
      else this.ingest(source, result);
    };
  }

  private counted(source: FlowSourceName, count: number): void {
    this.newFlows += count;
    this.unreported.set(source, (this.unreported.get(source) ?? 0) + count);
  }

  /**
   * Applies `apply` now, or holds it until the round ends. At the bound the sources are paused; what
   * they had already read (a file chunk, what is left of the Hubble window, a batch being merged)
   * is still held, so the bound is passed by at most that.
   */
  private hold(apply: () => void): void {
    if (!this.held) {
      apply();
      return;
    }
    this.held.push(apply);
    if (this.held.length >= this.holdLimit && this.gate.isOpen) {
      this.gate.shut();
      this.options.log.warn({ held: this.held.length }, 'the store pass holds too much input: flow sources paused until it ends');
      this.options.metrics?.onPaused?.();
    }
  }

  /** Applies the held input and lets the sources deliver again. */
  private release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const apply of held) apply();
    this.gate.open();
  }

  /** Whether the sources are paused (tests, diagnostics). */
  get paused(): boolean {
    return !this.gate.isOpen;
  }

  private ingest(source: FlowSourceName, result: ParseResult): void {
    this.options.learner.ingest(result);
    if (result.kind === 'flow') {
      this.counted(source, 1);
      this.auditFlow(result.flow);
    } else if (result.kind === 'lost-events') {
      this.options.metrics?.onLostEvents?.(source, result.count);
    } else if (result.kind === 'skip') {
      this.options.metrics?.onSkipped?.(source, result.reason);
    }
  }

  /**
   * Audits a flow in the namespaces of its two ends only: the engines are keyed by namespace, and
   * an engine judges only flows with an end in its own (AuditEngine.observe). An end that is not a
   * pod (world, host) has no namespace: the flow belongs to the other end's only.
   */
  private auditFlow(flow: Flow): void {
    const { audits, workloadKeyOf } = this.options;
    forEachAudit(audits, flow.source.namespace, flow.destination.namespace, (audit) => audit.observe(flow, workloadKeyOf));
  }

  /** Audits an agent's edge in the namespaces of its workload ends only (AuditEngine.observeEdge judges no other). */
  private auditEdge(edge: AuditedEdge): void {
    const { audits, podOf } = this.options;
    forEachAudit(audits, workloadNamespace(edge.client), workloadNamespace(edge.server), (audit) => audit.observeEdge(edge, podOf));
  }

  /** Streams the namespaces' flows; with no namespace in scope there is nothing to ask for (an empty filter would mean every flow). */
  private startHubble(namespaces: readonly string[]): void {
    const { config, log } = this.options;
    this.hubbleNamespaces = scopeKey(namespaces);
    if (namespaces.length === 0) {
      log.info({}, 'no Segmentation yet: the Hubble stream starts with the first one');
      return;
    }
    const tls = hubbleUsesTls(config)
      ? {
          ...(config.hubbleTlsCaFile ? { caFile: config.hubbleTlsCaFile } : {}),
          ...(config.hubbleTlsCertFile ? { certFile: config.hubbleTlsCertFile } : {}),
          ...(config.hubbleTlsKeyFile ? { keyFile: config.hubbleTlsKeyFile } : {}),
          ...(config.hubbleTlsServerName ? { serverName: config.hubbleTlsServerName } : {}),
        }
      : undefined;
    this.hubble = new HubbleObserverSource({
      address: config.hubbleAddress!,
      namespaces,
      ...(tls ? { tls } : {}),
      ...(this.hubbleResume !== undefined ? { resumeFrom: this.hubbleResume } : {}),
      logger: log,
      // The source logs connects, disconnects, lost events and node status itself.
      sink: this.sink('hubble-grpc'),
      gate: this.gate,
    });
    this.hubble.start();
  }

  private async stopHubble(): Promise<void> {
    const hubble = this.hubble;
    if (!hubble) return;
    this.hubble = undefined;
    await hubble.stop();
    this.hubbleResume = hubble.resumePoint() ?? this.hubbleResume;
  }
}

/** An agent's edge as the audit engines take it. */
type AuditedEdge = Parameters<AuditEngine['observeEdge']>[0];

/** Calls `fn` with the audit engine of namespace `a` and of `b`, each once; none for an undefined one. */
function forEachAudit(audits: ReadonlyMap<string, AuditEngine>, a: string | undefined, b: string | undefined, fn: (audit: AuditEngine) => void): void {
  if (audits.size === 0) return;
  const first = a === undefined ? undefined : audits.get(a);
  if (first !== undefined) fn(first);
  const second = b === undefined || b === a ? undefined : audits.get(b);
  if (second !== undefined) fn(second);
}

/** The stored Hubble resume point, if it is one (anything else: start with new flows). */
function parseResumePoint(value: unknown): HubbleResumePoint | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { since, seen, lostEvents } = value as Record<string, unknown>;
  if (typeof since !== 'string' || parseTimestampNanos(since) === undefined) return undefined;
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  return { since, seen: strings(seen), lostEvents: strings(lostEvents) };
}

function scopeKey(namespaces: readonly string[]): string {
  return [...new Set(namespaces)].sort().join(',');
}
