/**
 * The controller side of the node agents: `POST /v1/edges` (see ./wire.ts), authenticated with
 * the agents' ServiceAccount tokens, merged into the operator's Learner.
 *
 * Per request, in this order (cheap refusals first; no body is read before authentication):
 * 1. path `/v1/edges` (else 404) and method POST (else 405);
 * 2. a source address whose authentications keep failing is answered 429 `rate-limited` without
 *    another TokenReview (./auth-limiter.ts);
 *    `Authorization: Bearer <token>` → a **TokenReview** (`authentication.k8s.io/v1`) against
 *    the API server: the same check the API server makes for its own clients. Missing or
 *    rejected token → 401; the TokenReview call itself failing → 503 (the agent retries);
 * 3. the authenticated username must be one of `allowedUsernames` (default the agent
 *    ServiceAccount `system:serviceaccount:hivewall-system:hivewall-agent`) → else 403. A token
 *    bound to a pod carries its node in `user.extra["authentication.kubernetes.io/node-name"]`
 *    (Kubernetes ≥ 1.30); when present it must equal the batch's `node` (403 otherwise), so one
 *    node's agent cannot report for another, and at most {@link IN_FLIGHT_PER_NODE} of that
 *    node's pushes are in flight at once (429 `busy`, before the body is read);
 * 4. while the target is paused ({@link EdgeTarget.paused}: it holds too much input during a store
 *    pass) → 503 `paused` with `Retry-After`, before the body is read; the agent retries;
 * 5. the body: at most `maxBodyBytes` (413), JSON (400 `bad-json`), the schema of ./wire.ts (400
 *    `invalid`), at most `maxEdges` edges (413); the bodies being read at once, over all pushes,
 *    at most `maxBodiesBytes` (503 `overloaded` with `Retry-After`, before this one is read); a
 *    push whose client went away (during its TokenReview, say) is dropped at once, releasing what
 *    it reserved;
 * 6. idempotency: per (user, node, agent instance) the highest `seq` applied is remembered (at most
 *    {@link INSTANCES_PER_NODE} instances per (user, node), {@link MAX_SEQUENCES_BYTES} in all); a
 *    batch with a `seq` not above it is a retry of one already applied and is acknowledged without
 *    counting it again (the agent sends one batch at a time and retries it unchanged);
 *    with a durable target ({@link EdgeTarget.persisted}) the answer waits until the batch is stored
 *    (503 `not-stored` when storing failed: the agent keeps the batch and retries); a retry waits
 *    for the store round that covers the batch it repeats, and not at all once that round committed;
 * 7. workloads, then node binding: first a bare-pod side (`wl:<ns>/Pod/<name>`: a Hubble agent
 *    names a pod on another node so, src/agent/hubble-identity.ts) becomes its pod's workload in
 *    the operator's inventory ({@link EdgeTarget.workloadOf}). Then, when the target can tell
 *    ({@link EdgeTarget.refusal}, the operator's inventory via ./node-binding.ts), an edge whose
 *    client and server are both elsewhere than the batch's node (a pod there at the edge's time,
 *    or the node itself) is refused: not merged, counted in {@link EdgeReceiverStats.refused} by
 *    reason and logged with the node; its unanswered and denied connections are held to the same
 *    rule (they count as denials, which can roll a namespace's enforcement back, so one node must
 *    not report them for another's pods), a denial with a direction to the side whose policy
 *    denied it; the rest of the batch is merged and the ack says how many were refused. A pod the
 *    inventory does not show *yet* (`unknown-placement`: newer than the operator's view) refuses
 *    nothing for good: the whole batch is answered 503 `unknown-placement` with `Retry-After`,
 *    nothing of it is merged and its seq is not recorded, so the agent keeps it and sends it
 *    again unchanged;
 * 8. each delta is merged with `EdgeStore.record(client, server, port, protocol, firstSeen,
 *    count, lastSeen)`: counts add, first/last seen widen. (`restore` is for snapshots, where the
 *    same edge may be restored twice and must not add up.)
 *
 * Every outcome is counted in {@link EdgeReceiver.stats} by result; nothing a client sends can
 * throw out of the handler.
 *
 * Leadership: every operator replica serves the receiver (the Service spreads agents over them),
 * but only the leader has a Learner. A receiver without a store ({@link EdgeReceiver.detach}) answers
 * 503 `not-leader` with `Retry-After: 1` and `Connection: close`, before reading anything else:
 * the agent keeps the batch and retries on a new connection, which the Service may route to the
 * leader. {@link EdgeReceiver.attach} hands the receiver the new leader's store together with the
 * persisted sequence numbers, so a retry of a batch the previous leader stored is not counted twice.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { AuthenticationV1Api, createConfiguration, ServerConfiguration, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { RETRYABLE_REFUSALS, type ReportedEdge } from '../domain/edge-binding.js';
import type { EdgeStore } from '../domain/edge-store.js';
import { clientMiddleware, REQUEST_TIMEOUT_MS } from '../k8s/kube.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { AuthFailureLimiter } from './auth-limiter.js';
import { AGENT_USERNAME } from '../agent/rbac.js';
import { EDGES_PATH, edgeBatchSchema, type DeniedDelta, type EdgeAck, type EdgeBatchBody } from '../agent/wire.js';
import type { PeerKey } from '../domain/peer.js';

/** The identity a token stands for, as the API server's TokenReview reports it. */
export type AuthResult =
  | {
      readonly authenticated: true;
      readonly username: string;
      readonly groups: readonly string[];
      readonly extra: Readonly<Record<string, readonly string[]>>;
    }
  | { readonly authenticated: false; readonly error?: string };

export interface TokenAuthenticator {
  /** Rejects only when the answer is unknown (the API server unreachable). */
  authenticate(token: string): Promise<AuthResult>;
}

export interface TokenReviewOptions {
  /** Audiences the token must be for; default: the API server's own. */
  readonly audiences?: readonly string[];
  /** Positive answers are reused this long (default 60 s), negative ones 10 s. 0 disables caching. */
  readonly cacheTtlMs?: number;
  /** At most this many cached answers. Default 1,024. */
  readonly maxCacheEntries?: number;
  readonly clock?: Clock;
}

/** The `createTokenReview` call, as far as this module needs it (tests may pass their own). */
export type TokenReviewCall = (token: string, audiences: readonly string[] | undefined) => Promise<{
  authenticated?: boolean;
  /** The audiences the token was found valid for (set when audiences were asked for). */
  audiences?: string[];
  user?: { username?: string; groups?: string[]; extra?: Record<string, string[]> };
  error?: string;
}>;

/**
 * `POST /apis/authentication.k8s.io/v1/tokenreviews` with the given kubeconfig's credentials. Like
 * every API call of the operator (docs/architecture.md §6 rule 5), the call ends after `timeoutMs`
 * at most, answer included: a push waits for its review, and an API server that stopped answering
 * must not hold pushes (and their node's in-flight slots) for the HTTP client's own minutes.
 */
export function kubeTokenReview(kubeConfig: KubeConfig, timeoutMs = REQUEST_TIMEOUT_MS): TokenReviewCall {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('the kubeconfig names no current cluster');
  // As src/k8s/kube.ts builds its clients: hivewall's User-Agent and the request timeout.
  const api = new AuthenticationV1Api(createConfiguration({
    baseServer: new ServerConfiguration(server, {}),
    authMethods: { default: kubeConfig },
    promiseMiddleware: clientMiddleware(timeoutMs),
  }));
  return async (token, audiences) => {
    const review = await api.createTokenReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(audiences && audiences.length > 0 ? { audiences: [...audiences] } : {}) } },
    });
    return review.status ?? {};
  };
}


/**
 * A {@link TokenAuthenticator} backed by TokenReview, with a small cache keyed by the token's
 * SHA-256 (the token itself is never kept or logged): agents ship every few seconds, and the API
 * server should not see one review per batch.
 */
export function tokenReviewAuthenticator(review: TokenReviewCall, opts: TokenReviewOptions = {}): TokenAuthenticator {
  const ttl = opts.cacheTtlMs ?? 60_000;
  const negativeTtl = Math.min(ttl, 10_000);
  const max = opts.maxCacheEntries ?? 1_024;
  const clock = opts.clock ?? systemClock;
  const cache = new Map<string, { result: AuthResult; expires: number }>();
  return {
    async authenticate(token) {
      const key = createHash('sha256').update(token).digest('hex');
      const now = clock.now();
      const hit = cache.get(key);
      if (hit && hit.expires > now) return hit.result;
      cache.delete(key);
      const status = await review(token, opts.audiences);
      const username = status.user?.username;
      // TokenReview semantics: with spec.audiences set, the token is good only for the audiences
      // the API server lists in status.audiences (an authenticator that ignores audiences lists none).
      const wanted = opts.audiences ?? [];
      const audienceOk = wanted.length === 0 || (status.audiences ?? []).some((a) => wanted.includes(a));
      if (status.authenticated === true && username && !audienceOk) {
        status.authenticated = false;
        status.error = `token not issued for audience ${wanted.join(', ')}`;
      }
      const result: AuthResult = status.authenticated === true && username
        ? { authenticated: true, username, groups: status.user?.groups ?? [], extra: status.user?.extra ?? {} }
        : { authenticated: false, ...(status.error ? { error: status.error } : {}) };
      if (ttl > 0) {
        cache.set(key, { result, expires: now + (result.authenticated ? ttl : negativeTtl) });
        while (cache.size > max) cache.delete(cache.keys().next().value!);
      }
      return result;
    },
  };
}

/** What happened to a request. */
export type ReceiverResult =
  | 'accepted'
  | 'duplicate'
  | 'not-found'
  | 'method-not-allowed'
  | 'unauthenticated'
  | 'forbidden'
  | 'auth-unavailable'
  | 'not-leader'
  | 'not-stored'
  | 'too-large'
  | 'bad-json'
  | 'invalid'
  | 'rate-limited'
  | 'busy'
  | 'paused'
  | 'overloaded'
  | 'unknown-placement'
  | 'error';

export interface EdgeReceiverOptions {
  readonly authenticator: TokenAuthenticator;
  /** Where deltas are merged: the operator Learner's `edges`. Absent: detached until {@link EdgeReceiver.attach}. */
  readonly store?: EdgeTarget;
  readonly logger: Logger;
  /** Usernames allowed to push edges. Default: the agent ServiceAccount of ./rbac.ts. */
  readonly allowedUsernames?: readonly string[];
  /** Largest body accepted. Default 4 MiB. */
  readonly maxBodyBytes?: number;
  /** Most edges in one batch. Default 20,000. */
  readonly maxEdges?: number;
  /**
   * Bytes of request bodies read at once over all pushes: each reserves its `Content-Length` (or
   * `maxBodyBytes` when it has none) until it is parsed. Default {@link MAX_BODIES_BYTES}.
   */
  readonly maxBodiesBytes?: number;
  /**
   * Sequences remembered in all (one per agent process). Default 4,096; the least recently used go
   * first. Bounded too per node ({@link INSTANCES_PER_NODE}) and in size ({@link MAX_SEQUENCES_BYTES}).
   */
  readonly maxAgents?: number;
  /** Limits failed authentications per source address. Default: {@link AuthFailureLimiter}'s defaults. */
  readonly authFailures?: AuthFailureLimiter;
  /** Called after a batch was merged (metrics, "new edges arrived" notifications). */
  readonly onApplied?: (info: { readonly node: string; readonly username: string; readonly edges: number; readonly connections: number }) => void;
}

export interface EdgeReceiverStats {
  readonly requests: Record<ReceiverResult, number>;
  /** Edge deltas merged, and the connections they carried. */
  edges: number;
  connections: number;
  /** Connections agents reported dropped before shipping. */
  dropped: number;
  /** Edges refused (not merged), by reason (`not-on-node`, `unknown-node`). */
  readonly refused: Record<string, number>;
}

/** Where the receiver merges deltas: an `EdgeStore`, or the operator's learner (which also audits them). */
export interface EdgeTarget {
  record(...args: Parameters<EdgeStore['record']>): unknown;
  /**
   * Resolves once everything recorded up to `round` ({@link round}; default: now) is stored durably,
   * at once when it already is; rejects when storing failed. When present, a batch (or a retry of
   * one) is acknowledged only after it resolves, so an agent never drops deltas the controller could
   * still lose; a rejection is answered 503 and retried.
   */
  persisted?(round?: number): Promise<void>;
  /**
   * The target's storage round now (./flow-sources.ts): what is recorded now is stored once a later
   * round commits. The receiver keeps it with each sequence number, so a retry of a batch waits for
   * the round that stores that batch, not for one after the retry arrived.
   */
  round?(): number;
  /** Connections an agent dropped before shipping them (its buffer was full): the graph may miss edges. */
  lost?(connections: number): void;
  /**
   * Why `node`'s agent may not report this edge (see ./node-binding.ts), or undefined when it may.
   * A reason in RETRYABLE_REFUSALS (src/domain/edge-binding.ts) is not final: the batch is retried.
   */
  refusal?(node: string, edge: ReportedEdge): string | undefined;
  /** TCP connections an agent saw unanswered (`SYN_SENT [UNREPLIED]`) on an edge: never learned, counted as denials. */
  unanswered?(...args: Parameters<EdgeStore['record']>): void;
  /** Connections Cilium's policies dropped (a Hubble agent's `denied`, ../agent/wire.ts): never learned, counted as denials. */
  denied?(denial: DeniedDelta): void;
  /**
   * The workload a side of an edge stands for (./node-binding.ts): a bare-pod key
   * (`wl:<ns>/Pod/<name>`, which a Hubble agent sends for a pod on another node) becomes the top
   * owner of that pod in the operator's inventory; `unknown-placement` while the inventory may not
   * show the pod yet (the batch is retried). Absent: keys are taken as sent.
   */
  workloadOf?(key: PeerKey, edge: ReportedEdge): PeerKey | 'unknown-placement';
  /**
   * Whether the target takes no input now (it holds too much, src/operator/flow-sources.ts): a
   * push is then answered 503 `paused` before its body is read, and the agent retries it.
   */
  paused?(): boolean;
}

/** An edge, unanswered or denied connection of a batch, with the side its node binding requires. */
type BoundEdge = EdgeBatchBody['edges'][number] & Pick<ReportedEdge, 'on'>;

/** A batch's entries as {@link EdgeReceiver} decided them: `reason` why the node may not report one. */
interface Judged {
  readonly edges: readonly { readonly entry: BoundEdge; readonly reason?: string | undefined }[];
  readonly unanswered: readonly { readonly entry: BoundEdge; readonly reason?: string | undefined }[];
  readonly denied: readonly { readonly entry: DeniedDelta; readonly reason?: string | undefined }[];
}

/** Each entry with its bare-pod sides mapped to their workloads ({@link EdgeTarget.workloadOf}). */
function withWorkloads<T extends BoundEdge>(store: EdgeTarget, list: readonly T[]): (T | 'unknown-placement')[] {
  const workloadOf = store.workloadOf?.bind(store);
  if (!workloadOf) return [...list];
  return list.map((e) => {
    const client = workloadOf(e.client, e);
    const server = workloadOf(e.server, e);
    if (client === 'unknown-placement' || server === 'unknown-placement') return 'unknown-placement';
    return client === e.client && server === e.server ? e : { ...e, client, server };
  });
}

/** The side a denial binds to its node: the one whose policy Cilium says denied it (src/domain/edge-binding.ts). */
function deniedSide(d: DeniedDelta): Pick<ReportedEdge, 'on'> {
  if (d.direction === 'EGRESS') return { on: 'client' };
  if (d.direction === 'INGRESS') return { on: 'server' };
  return {};
}

/** Entry `i` of a batch's edges, unanswered and denied connections (in that order), for a log line. */
function sampleOf(batch: EdgeBatchBody, i: number): string {
  const e = [...batch.edges, ...(batch.unanswered ?? []), ...(batch.denied ?? [])][i]!;
  return `${e.client} -> ${e.server} ${e.port}/${e.protocol}`;
}

/** The node-name claim of a pod-bound ServiceAccount token (TokenReview `user.extra`). */
export const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';

class HttpProblem extends Error {
  constructor(readonly status: number, readonly result: ReceiverResult, message: string, readonly retryAfterS?: number) {
    super(message);
  }
}

const notLeader = () => new HttpProblem(503, 'not-leader', 'this operator replica is not the leader; retry');
const aborted = () => new HttpProblem(400, 'bad-json', 'request aborted');

/** Whether a request can no longer deliver its body: its client went away, or reading it failed. */
function requestGone(req: http.IncomingMessage): boolean {
  return req.destroyed || req.readableAborted || req.errored !== null;
}

/** Retry-After of a push refused while the target is paused (a store pass ends within a minute or so). */
const PAUSED_RETRY_S = 5;
/** Retry-After of a batch with edges the inventory does not place yet (it catches up within seconds). */
const UNKNOWN_PLACEMENT_RETRY_S = 5;
/**
 * Requests one node's token may have in flight. An agent sends one batch at a time (and waits for
 * its acknowledgement, which waits for the store pass): a node runs one agent, two while it rolls
 * out. More at once is a node's token being misused, and each request could hold a body of up to
 * `maxBodyBytes`.
 */
export const IN_FLIGHT_PER_NODE = 4;
/**
 * Bodies being read at once, in bytes, over every node: 16 pushes of the largest size. Agents'
 * batches are usually a few KiB, so this binds only when many nodes send large batches together
 * (after an outage), or when tokens without a bound node (clusters before 1.30, not limited per
 * node) are misused.
 */
export const MAX_BODIES_BYTES = 64 * 1024 * 1024;
/**
 * Agent processes whose sequence numbers are kept per (user, node): its agent and the one replacing
 * it during a rollout, with room to spare. A token that makes up new `instance`s evicts only its own
 * node's older ones.
 */
export const INSTANCES_PER_NODE = 4;
/**
 * Most bytes the sequence numbers take as JSON: they are stored as `agents.json` in the checkpoint
 * ConfigMap (src/k8s/checkpoint-store.ts), whose data may not exceed 1 MiB in all. One entry,
 * `"<user>\n<node>\n<instance>":<seq>,`, is about 125 bytes for an agent (ServiceAccount username
 * 52 characters, node name 40, instance 16), so about 4,000 agents fit. Its worst case is
 * 6 × (339 + 253 + 64) + 24 = 3,960 bytes: a ServiceAccount's username has at most 339 characters,
 * the wire schema (src/agent/wire.ts) bounds the node to 253 and the instance to 64 UTF-16 units,
 * and JSON writes each unit as at most 6 bytes (a control character as `\u0001`; UTF-8 takes at
 * most 3), plus 24 for the escaped newlines, quotes, colon, 16 digits and comma. Entries are
 * evicted, least recently used first, while the total exceeds this (never the one just written,
 * which alone is far below it), so the stored value is at most this + 2 bytes (the braces)
 * whatever the nodes send: half the ConfigMap, the rest is left for the other sources' positions.
 */
export const MAX_SEQUENCES_BYTES = 512 * 1024;

/** When a sequence number was applied: the target's round ({@link EdgeTarget.round}), or restored from stored state. */
type AppliedIn = number | 'stored' | undefined;

/** The highest `seq` applied for one agent process, and when. */
interface AppliedSeq {
  readonly seq: number;
  readonly appliedIn: AppliedIn;
}

/** The key of an agent process's sequence. */
function sequenceKey(username: string, node: string, instance: string): string {
  return `${username}\n${node}\n${instance}`;
}

/**
 * The (user, node) part of a sequence key: up to its second newline. A username has none, nor has
 * the name of a node a token is bound to, so a bound token's instances all fall under its node,
 * whatever they contain.
 */
function nodePartOf(key: string): string {
  const second = key.indexOf('\n', key.indexOf('\n') + 1);
  return second < 0 ? key : key.slice(0, second);
}

/** The bytes an entry adds to the sequences' JSON: `"<key>":<seq>,`. */
function entryBytes(key: string, seq: number): number {
  return Buffer.byteLength(JSON.stringify(key)) + String(seq).length + 2;
}

/**
 * The highest `seq` applied per agent process, least recently used first out, bounded three ways:
 * at most {@link INSTANCES_PER_NODE} per (user, node), evicting that node's own oldest; at most
 * `maxEntries` in all; at most `maxBytes` as JSON ({@link MAX_SEQUENCES_BYTES}).
 */
class SequenceTable {
  readonly #entries = new Map<string, AppliedSeq & { readonly bytes: number }>();
  /** The keys of each (user, node), least recently used first. */
  readonly #byNode = new Map<string, Set<string>>();
  #bytes = 0;

  constructor(private readonly maxEntries: number, private readonly maxBytes: number) {}

  get(key: string): AppliedSeq | undefined {
    return this.#entries.get(key);
  }

  /** Records `applied` as the key's newest, most recently used entry, then evicts past the bounds. */
  set(key: string, applied: AppliedSeq): void {
    this.delete(key);
    const bytes = entryBytes(key, applied.seq);
    this.#entries.set(key, { ...applied, bytes });
    this.#bytes += bytes;
    const node = nodePartOf(key);
    const keys = this.#byNode.get(node) ?? new Set<string>();
    keys.add(key);
    this.#byNode.set(node, keys);
    while (keys.size > INSTANCES_PER_NODE) this.delete(keys.values().next().value!);
    while (this.#entries.size > 1 && (this.#entries.size > this.maxEntries || this.#bytes > this.maxBytes)) {
      this.delete(this.#entries.keys().next().value!);
    }
  }

  /** Marks the key most recently used. */
  touch(key: string): void {
    const applied = this.#entries.get(key);
    if (applied !== undefined) this.set(key, applied);
  }

  delete(key: string): void {
    const applied = this.#entries.get(key);
    if (applied === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= applied.bytes;
    const node = nodePartOf(key);
    const keys = this.#byNode.get(node);
    keys?.delete(key);
    if (keys?.size === 0) this.#byNode.delete(node);
  }

  clear(): void {
    this.#entries.clear();
    this.#byNode.clear();
    this.#bytes = 0;
  }

  /** Sequence per key, least recently used first: what {@link EdgeReceiver.sequences} persists. */
  toRecord(): Record<string, number> {
    const record: Record<string, number> = {};
    for (const [key, { seq }] of this.#entries) record[key] = seq;
    return record;
  }
}

export class EdgeReceiver {
  readonly stats: EdgeReceiverStats = {
    requests: {
      accepted: 0, duplicate: 0, 'not-found': 0, 'method-not-allowed': 0, unauthenticated: 0, forbidden: 0,
      'auth-unavailable': 0, 'not-leader': 0, 'not-stored': 0, 'too-large': 0, 'bad-json': 0, invalid: 0, 'rate-limited': 0, busy: 0, paused: 0, overloaded: 0, 'unknown-placement': 0, error: 0,
    },
    edges: 0,
    connections: 0,
    dropped: 0,
    refused: {},
  };

  readonly #opts: EdgeReceiverOptions;
  readonly #log: Logger;
  readonly #allowed: ReadonlySet<string>;
  readonly #maxBody: number;
  readonly #maxEdges: number;
  readonly #maxBodies: number;
  /** Bytes reserved by the bodies being read now ({@link MAX_BODIES_BYTES}). */
  #bodiesInFlight = 0;
  readonly #authFailures: AuthFailureLimiter;
  /** Highest applied seq per `user\nnode\ninstance`. */
  readonly #sequences: SequenceTable;
  /** Requests in flight per node a token is bound to ({@link IN_FLIGHT_PER_NODE}). */
  readonly #inFlight = new Map<string, number>();
  #store: EdgeTarget | undefined;

  constructor(opts: EdgeReceiverOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'edge-receiver' });
    this.#allowed = new Set(opts.allowedUsernames ?? [AGENT_USERNAME]);
    this.#maxBody = opts.maxBodyBytes ?? 4 * 1024 * 1024;
    this.#maxEdges = opts.maxEdges ?? 20_000;
    this.#sequences = new SequenceTable(opts.maxAgents ?? 4_096, MAX_SEQUENCES_BYTES);
    this.#maxBodies = opts.maxBodiesBytes ?? MAX_BODIES_BYTES;
    this.#authFailures = opts.authFailures ?? new AuthFailureLimiter();
    this.#store = opts.store;
  }

  /**
   * Starts merging into `store` (this replica became the leader), with exactly the `sequences`
   * persisted alongside the learned edges the store was restored from.
   */
  attach(store: EdgeTarget, sequences: Readonly<Record<string, number>> = {}): void {
    this.#sequences.clear();
    this.restoreSequences(sequences);
    this.#store = store;
  }

  /** Stops merging (leadership lost or shutdown): pushes are answered 503 `not-leader`. */
  detach(): void {
    this.#store = undefined;
  }

  get attached(): boolean {
    return this.#store !== undefined;
  }

  /** The applied sequence numbers, for the operator to persist with its learned state. */
  sequences(): Record<string, number> {
    return this.#sequences.toRecord();
  }

  /**
   * Restores sequences saved by {@link sequences} and stored (after an operator restart): a retry of
   * a batch they cover is acknowledged without waiting for a store round.
   */
  restoreSequences(saved: Readonly<Record<string, number>>): void {
    for (const [key, seq] of Object.entries(saved)) {
      if (Number.isSafeInteger(seq) && seq > (this.#sequences.get(key)?.seq ?? 0)) this.#sequences.set(key, { seq, appliedIn: 'stored' });
    }
  }

  /** The node:http request listener (mount it in any server, or use {@link EdgeReceiverServer}). */
  readonly handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    this.#handle(req, res).catch((err: unknown) => {
      this.#count('error');
      this.#log.error({ err }, 'edge receiver failed');
      if (!res.headersSent) this.#reply(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  };

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const ack = await this.#process(req);
      this.#count(ack.duplicate ? 'duplicate' : 'accepted');
      this.#reply(res, 200, ack);
    } catch (err) {
      if (!(err instanceof HttpProblem)) throw err;
      this.#count(err.result);
      const headers: Record<string, string> = {};
      if (err.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="hivewall"';
      if (err.status === 503) headers['Retry-After'] = err.result === 'not-leader' ? '1' : '5';
      if (err.retryAfterS !== undefined) headers['Retry-After'] = String(err.retryAfterS);
      // A refused body is not read: close the connection after the answer instead. A replica that
      // is not the leader closes too, so the agent's retry opens a connection the Service can route elsewhere.
      if (!req.complete || err.result === 'not-leader') headers['Connection'] = 'close';
      this.#reply(res, err.status, { error: err.message, reason: err.result }, headers);
      if (!req.complete) req.resume();
    }
  }

  async #process(req: http.IncomingMessage): Promise<EdgeAck> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== EDGES_PATH) throw new HttpProblem(404, 'not-found', `not found: ${path}`);
    if (req.method !== 'POST') throw new HttpProblem(405, 'method-not-allowed', 'use POST');
    if (!this.#store) throw notLeader();

    const remote = req.socket.remoteAddress ?? 'unknown';
    const waitMs = this.#authFailures.blockedFor(remote);
    if (waitMs > 0) throw new HttpProblem(429, 'rate-limited', `too many failed authentications from ${remote}; retry in ${Math.ceil(waitMs / 1000)} s`, Math.ceil(waitMs / 1000));
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      this.#authFailures.failed(remote);
      throw new HttpProblem(401, 'unauthenticated', 'a ServiceAccount bearer token is required');
    }
    let auth: AuthResult;
    try {
      auth = await this.#opts.authenticator.authenticate(match[1]!);
    } catch (err) {
      this.#log.warn({ err }, 'TokenReview failed');
      throw new HttpProblem(503, 'auth-unavailable', 'cannot review the token now');
    }
    if (!auth.authenticated) {
      this.#authFailures.failed(remote);
      this.#log.warn({ remote: req.socket.remoteAddress, error: auth.error }, 'edge push with a rejected token');
      throw new HttpProblem(401, 'unauthenticated', 'token not accepted');
    }
    if (!this.#allowed.has(auth.username)) {
      this.#log.warn({ username: auth.username, remote: req.socket.remoteAddress }, 'edge push from a user that is not the agent');
      throw new HttpProblem(403, 'forbidden', `${auth.username} may not push edges`);
    }
    const boundNode = auth.extra[NODE_NAME_EXTRA]?.[0];
    if (boundNode === undefined) return this.#processBatch(req, auth, boundNode);
    const inFlight = this.#inFlight.get(boundNode) ?? 0;
    if (inFlight >= IN_FLIGHT_PER_NODE) {
      this.#log.warn({ node: boundNode, inFlight }, 'edge pushes of one node at once beyond the bound');
      throw new HttpProblem(429, 'busy', `node ${boundNode} has ${inFlight} pushes in flight; send one batch at a time`, 1);
    }
    this.#inFlight.set(boundNode, inFlight + 1);
    try {
      return await this.#processBatch(req, auth, boundNode);
    } finally {
      const left = (this.#inFlight.get(boundNode) ?? 1) - 1;
      if (left > 0) this.#inFlight.set(boundNode, left);
      else this.#inFlight.delete(boundNode);
    }
  }

  /** The rest of a push, once its token is accepted: body, batch, node binding, merge, acknowledgement. */
  async #processBatch(req: http.IncomingMessage, auth: Extract<AuthResult, { authenticated: true }>, boundNode: string | undefined): Promise<EdgeAck> {
    if (this.#store?.paused?.()) throw new HttpProblem(503, 'paused', 'the operator is storing what it holds; retry', PAUSED_RETRY_S);
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > this.#maxBody) throw new HttpProblem(413, 'too-large', `body over ${this.#maxBody} bytes`);
    // Node's parser reads no more than a declared Content-Length; a chunked body may take up to maxBody.
    const reserved = Number.isFinite(declared) ? declared : this.#maxBody;
    if (this.#bodiesInFlight > 0 && this.#bodiesInFlight + reserved > this.#maxBodies) {
      throw new HttpProblem(503, 'overloaded', `${this.#bodiesInFlight} bytes of pushes are being read; retry`, 1);
    }
    this.#bodiesInFlight += reserved;
    let json: unknown;
    try {
      const text = await this.#readBody(req);
      try {
        json = JSON.parse(text);
      } catch {
        throw new HttpProblem(400, 'bad-json', 'body is not JSON');
      }
    } finally {
      this.#bodiesInFlight -= reserved;
    }
    if (json !== null && typeof json === 'object' && Array.isArray((json as { edges?: unknown }).edges)
      && (json as { edges: unknown[] }).edges.length > this.#maxEdges) {
      throw new HttpProblem(413, 'too-large', `more than ${this.#maxEdges} edges`);
    }
    const parsed = edgeBatchSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HttpProblem(400, 'invalid', `invalid batch: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'schema mismatch'}`);
    }
    const batch = parsed.data;
    if (boundNode !== undefined && boundNode !== batch.node) {
      this.#log.warn({ username: auth.username, boundNode, node: batch.node }, 'edge push for another node');
      throw new HttpProblem(403, 'forbidden', `token of node ${boundNode} may not push for ${batch.node}`);
    }

    // Leadership may have moved while the token was reviewed or the body read.
    const store = this.#store;
    if (!store) throw notLeader();
    const key = sequenceKey(auth.username, batch.node, batch.instance);
    const last = this.#sequences.get(key);
    if (last !== undefined && batch.seq <= last.seq) {
      this.#sequences.touch(key);
      await this.#durable(store, last.appliedIn);
      return { ack: batch.seq, applied: 0, duplicate: true };
    }
    // Unanswered and denied connections are held to the edges' node binding: they count as denials
    // of the namespace's enforced policies, and enough of them roll its enforcement back.
    const judged = this.#judge(store, batch);
    let connections = 0;
    let applied = 0;
    const refused: Record<string, number> = {};
    const refuse = (reason: string) => {
      refused[reason] = (refused[reason] ?? 0) + 1;
      this.stats.refused[reason] = (this.stats.refused[reason] ?? 0) + 1;
    };
    for (const { entry: e, reason } of judged.edges) {
      if (reason !== undefined) {
        refuse(reason);
        continue;
      }
      store.record(e.client, e.server, e.port, e.protocol, e.firstSeen, e.count, e.lastSeen);
      connections += e.count;
      applied++;
    }
    for (const { entry: e, reason } of judged.unanswered) {
      if (reason !== undefined) refuse(reason);
      else store.unanswered?.(e.client, e.server, e.port, e.protocol, e.firstSeen, e.count, e.lastSeen);
    }
    for (const { entry: d, reason } of judged.denied) {
      if (reason !== undefined) refuse(reason);
      else store.denied?.(d);
    }
    const refusedOne = [...judged.edges, ...judged.unanswered, ...judged.denied].find((j) => j.reason !== undefined);
    if (refusedOne) {
      const sample = refusedOne.entry;
      this.#log.warn({ node: batch.node, username: auth.username, refused, sample: `${sample.client} -> ${sample.server} ${sample.port}/${sample.protocol}` }, 'edges refused: neither side on the reporting node');
    }
    if (batch.dropped) {
      store.lost?.(batch.dropped);
      this.stats.dropped += batch.dropped;
      this.#log.warn({ node: batch.node, dropped: batch.dropped }, 'agent dropped connections (its buffer was full)');
    }
    const appliedIn = store.round?.();
    this.#sequences.set(key, { seq: batch.seq, appliedIn });
    this.stats.edges += applied;
    this.stats.connections += connections;
    this.#log.debug({ node: batch.node, seq: batch.seq, edges: applied, connections }, 'edges merged');
    this.#opts.onApplied?.({ node: batch.node, username: auth.username, edges: applied, connections });
    await this.#durable(store, appliedIn);
    const refusedCount = Object.values(refused).reduce((n, c) => n + c, 0);
    return { ack: batch.seq, applied, ...(refusedCount > 0 ? { refused: refusedCount } : {}) };
  }

  /**
   * Every entry of the batch with its bare-pod sides mapped to workloads, and why the batch's node
   * may not report it (undefined: it may). Decided for all before anything is merged: when one may
   * not be placed *yet*, the whole batch is refused 503 `unknown-placement` (the agent sends it
   * again, same seq, so nothing is merged twice).
   */
  #judge(store: EdgeTarget, batch: EdgeBatchBody): Judged {
    const judge = <T extends BoundEdge>(entry: T | 'unknown-placement', bound: (e: T) => BoundEdge = (e) => e) =>
      entry === 'unknown-placement' ? { entry, reason: entry } : { entry, reason: store.refusal?.(batch.node, bound(entry)) };
    const edges = withWorkloads(store, batch.edges).map((e) => judge(e));
    const unanswered = withWorkloads(store, batch.unanswered ?? []).map((e) => judge(e));
    const denied = withWorkloads(store, batch.denied ?? []).map((d) => judge(d, (e) => ({ ...e, ...deniedSide(e) })));
    const all = [...edges, ...unanswered, ...denied];
    const retry = all.findIndex((j) => j.reason !== undefined && RETRYABLE_REFUSALS.has(j.reason));
    if (retry >= 0) {
      const later = all.filter((j) => j.reason !== undefined && RETRYABLE_REFUSALS.has(j.reason)).length;
      this.#log.info({ node: batch.node, seq: batch.seq, edges: later, sample: sampleOf(batch, retry) }, 'edges not placed on the reporting node yet (inventory catching up): batch to be retried');
      throw new HttpProblem(503, 'unknown-placement', `${later} edge(s) involve pods the operator's inventory does not place yet; retry the batch`, UNKNOWN_PLACEMENT_RETRY_S);
    }
    // None is 'unknown-placement' here: such an entry has that reason, and its batch was refused above.
    return { edges, unanswered, denied } as Judged;
  }

  /**
   * Waits until the target has stored what was recorded in round `appliedIn` (see
   * {@link EdgeTarget.persisted}); not at all for a sequence restored from stored state.
   */
  async #durable(store: EdgeTarget, appliedIn: AppliedIn): Promise<void> {
    if (!store.persisted || appliedIn === 'stored') return;
    try {
      await store.persisted(appliedIn);
    } catch (err) {
      throw new HttpProblem(503, 'not-stored', (err as Error).message);
    }
  }

  /**
   * Reads the body, settling however the request ends. Its listeners are attached only after the
   * TokenReview: a client that went away meanwhile left a destroyed request that emits nothing more,
   * and a promise that never settled would hold the node's in-flight slot and the body's reserved
   * bytes for good. So a request already gone is refused at once, and one that closes before its
   * end is refused on `close`.
   */
  #readBody(req: http.IncomingMessage): Promise<string> {
    if (requestGone(req)) return Promise.reject(aborted());
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const fail = (err: Error) => {
        if (done) return;
        done = true;
        reject(err);
      };
      req.on('data', (chunk: Buffer) => {
        if (done) return;
        size += chunk.length;
        if (size > this.#maxBody) {
          fail(new HttpProblem(413, 'too-large', `body over ${this.#maxBody} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => {
        if (done) return;
        done = true;
        resolve(Buffer.concat(chunks).toString('utf8'));
      });
      req.on('error', (err) => fail(new HttpProblem(400, 'bad-json', `request failed: ${err.message}`)));
      req.on('aborted', () => fail(aborted()));
      // After 'end' this is a no-op; before it, the request will not deliver its body.
      req.on('close', () => fail(aborted()));
    });
  }

  #count(result: ReceiverResult): void {
    this.stats.requests[result]++;
  }

  #reply(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = `${JSON.stringify(body)}\n`;
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }
}

export interface EdgeReceiverServerOptions {
  readonly receiver: EdgeReceiver;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** PEM certificate and key: serve HTTPS (recommended: the bearer tokens travel in the request). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  readonly logger: Logger;
}

/** A small HTTP(S) server for the receiver alone. */
export class EdgeReceiverServer {
  readonly #server: http.Server | https.Server;
  readonly #opts: EdgeReceiverServerOptions;

  constructor(opts: EdgeReceiverServerOptions) {
    this.#opts = opts;
    this.#server = opts.tls
      ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, opts.receiver.handle)
      : http.createServer(opts.receiver.handle);
    this.#server.requestTimeout = 30_000;
    this.#server.headersTimeout = 10_000;
    this.#server.keepAliveTimeout = 15_000;
  }

  /** Serves a renewed certificate to new connections from now on (HTTPS servers only). */
  setTls(tls: { readonly cert: string | Buffer; readonly key: string | Buffer }): void {
    if (!(this.#server instanceof https.Server)) throw new Error('the edge receiver serves plain HTTP; no certificate to replace');
    this.#server.setSecureContext({ cert: tls.cert, key: tls.key });
  }

  listen(): Promise<{ host: string; port: number; url: string }> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.port, this.#opts.host, () => {
        this.#server.off('error', reject);
        this.#server.on('error', (err) => this.#opts.logger.error({ err }, 'edge receiver server error'));
        const addr = this.#server.address() as AddressInfo;
        const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
        resolve({ host: addr.address, port: addr.port, url: `${this.#opts.tls ? 'https' : 'http'}://${host}:${addr.port}` });
      });
    });
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
