import http from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { EdgeStore } from '../domain/edge-store.js';
import { IdentityResolver } from '../domain/identity.js';
import type { PodInfo } from '../domain/inventory.js';
import { deploymentPod, inventory } from '../testing/builders.js';
import { MAX_DENIALS, MAX_DENIED_BY, type DeniedDelta } from '../agent/wire.js';
import { NodePlacements } from './node-binding.js';
import { FakeClock } from '../runtime/fake-clock.js';
import { captureLogger } from '../runtime/testing.js';
import { AGENT_USERNAME } from '../agent/rbac.js';
import {
  EdgeReceiver, EdgeReceiverServer, IN_FLIGHT_PER_NODE, INSTANCES_PER_NODE, kubeTokenReview, MAX_SEQUENCES_BYTES, NODE_NAME_EXTRA, tokenReviewAuthenticator,
  type AuthResult, type EdgeReceiverOptions, type EdgeTarget, type TokenAuthenticator, type TokenReviewCall,
} from './receiver.js';

const T0 = Date.UTC(2026, 0, 1);
const AGENT_TOKEN = 'agent-token';
const OTHER_TOKEN = 'other-sa-token';
const BOUND_TOKEN = 'bound-to-node-a';

const fakeAuth = (): TokenAuthenticator & { calls: number; down: boolean } => {
  const known: Record<string, AuthResult> = {
    [AGENT_TOKEN]: { authenticated: true, username: AGENT_USERNAME, groups: ['system:serviceaccounts'], extra: {} },
    [OTHER_TOKEN]: { authenticated: true, username: 'system:serviceaccount:shop:default', groups: [], extra: {} },
    [BOUND_TOKEN]: { authenticated: true, username: AGENT_USERNAME, groups: [], extra: { [NODE_NAME_EXTRA]: ['node-a'] } },
  };
  const auth = {
    calls: 0,
    down: false,
    async authenticate(token: string): Promise<AuthResult> {
      auth.calls++;
      if (auth.down) throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
      return known[token] ?? { authenticated: false, error: 'invalid bearer token' };
    },
  };
  return auth;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const until = async (cond: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(10);
  }
};

const servers: EdgeReceiverServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(extra: Partial<EdgeReceiverOptions> = {}) {
  const store = new EdgeStore();
  const auth = fakeAuth();
  const log = captureLogger();
  const receiver = new EdgeReceiver({ authenticator: auth, store, logger: log.logger, ...extra });
  const server = new EdgeReceiverServer({ receiver, host: '127.0.0.1', port: 0, logger: log.logger });
  servers.push(server);
  const { url } = await server.listen();
  const post = async (body: unknown, opts: { token?: string | null; path?: string; method?: string; raw?: string } = {}) => {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    const token = opts.token === undefined ? AGENT_TOKEN : opts.token;
    if (token !== null) headers['Authorization'] = `Bearer ${token}`;
    const method = opts.method ?? 'POST';
    const res = await fetch(`${url}${opts.path ?? '/v1/edges'}`, { method, headers, ...(method === 'POST' ? { body: opts.raw ?? JSON.stringify(body) } : {}) });
    return { status: res.status, body: await res.json() as Record<string, unknown>, headers: res.headers };
  };
  return { store, auth, log, receiver, post, url };
}

const edge = (over: Record<string, unknown> = {}) => ({
  client: 'wl:shop/Deployment/frontend', server: 'wl:shop/Deployment/cart', port: 8080, protocol: 'TCP',
  count: 3, firstSeen: T0, lastSeen: T0 + 1_000, ...over,
});
const batch = (seq: number, edges = [edge()], over: Record<string, unknown> = {}) => ({ node: 'node-a', instance: 'i1', seq, edges, ...over });
const stored = (store: EdgeStore) => [...store.edges()].map((e) => `${e.client} -> ${e.server} ${e.port}/${e.protocol} x${e.count} ${e.firstSeen - T0}..${e.lastSeen - T0}`);

describe('EdgeReceiver', () => {
  it('merges an agent batch into the EdgeStore (counts add, first/last widen) and acknowledges its seq', async () => {
    const { post, store, receiver } = await start();
    expect(await post(batch(1))).toMatchObject({ status: 200, body: { ack: 1, applied: 1 } });
    expect(await post(batch(2, [edge({ count: 2, firstSeen: T0 - 5_000, lastSeen: T0 + 500 }), edge({ server: 'en:world:203.0.113.9', port: 443 })]))).toMatchObject({ status: 200, body: { ack: 2, applied: 2 } });
    expect(stored(store)).toEqual([
      'wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x5 -5000..1000',
      'wl:shop/Deployment/frontend -> en:world:203.0.113.9 443/TCP x3 0..1000',
    ]);
    expect(receiver.stats).toMatchObject({ edges: 3, connections: 8 });
    expect(receiver.stats.requests.accepted).toBe(2);
  });

  it('a retried batch (same seq) is acknowledged but not counted twice; another agent process has its own sequence', async () => {
    const { post, store, receiver } = await start();
    await post(batch(1));
    expect(await post(batch(1))).toMatchObject({ status: 200, body: { ack: 1, applied: 0, duplicate: true } });
    expect(stored(store)).toEqual(['wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x3 0..1000']);
    expect(await post(batch(1, [edge()], { instance: 'i2' }))).toMatchObject({ status: 200, body: { ack: 1, applied: 1 } });
    expect(await post(batch(1, [edge()], { node: 'node-b' }))).toMatchObject({ status: 200, body: { applied: 1 } });
    expect(stored(store)).toEqual(['wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x9 0..1000']);
    expect(receiver.stats.requests).toMatchObject({ accepted: 3, duplicate: 1 });
  });

  it('restored sequences (persisted by the operator) keep a retry after a controller restart from counting twice', async () => {
    const first = await start();
    await first.post(batch(4));
    const saved = first.receiver.sequences();
    const second = await start();
    second.receiver.restoreSequences(saved);
    expect(await second.post(batch(4))).toMatchObject({ status: 200, body: { duplicate: true } });
    expect(await second.post(batch(5))).toMatchObject({ status: 200, body: { applied: 1 } });
  });

  it('refuses a missing or rejected token (401) and a token of another ServiceAccount (403), counted', async () => {
    const { post, store, receiver, log } = await start();
    const missing = await post(batch(1), { token: null });
    expect(missing).toMatchObject({ status: 401, body: { reason: 'unauthenticated' } });
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="hivewall"');
    expect(await post(batch(1), { token: 'forged' })).toMatchObject({ status: 401, body: { error: 'token not accepted' } });
    expect(await post(batch(1), { token: OTHER_TOKEN })).toMatchObject({ status: 403, body: { error: 'system:serviceaccount:shop:default may not push edges' } });
    expect(stored(store)).toEqual([]);
    expect(receiver.stats.requests).toMatchObject({ unauthenticated: 2, forbidden: 1, accepted: 0 });
    expect(log.find('edge push from a user that is not the agent')[0]).toMatchObject({ username: 'system:serviceaccount:shop:default' });
    expect(JSON.stringify(log.lines)).not.toContain('forged'); // tokens never reach the log
  });

  it('a token bound to a node may only push for that node', async () => {
    const { post } = await start();
    expect(await post(batch(1), { token: BOUND_TOKEN })).toMatchObject({ status: 200 });
    expect(await post(batch(1, [edge()], { node: 'node-b' }), { token: BOUND_TOKEN })).toMatchObject({ status: 403, body: { error: 'token of node node-a may not push for node-b' } });
  });

  it('answers 503 with Retry-After when the TokenReview cannot be made (the agent keeps its deltas)', async () => {
    const { post, auth, receiver } = await start();
    auth.down = true;
    const res = await post(batch(1));
    expect(res).toMatchObject({ status: 503, body: { reason: 'auth-unavailable' } });
    expect(res.headers.get('retry-after')).toBe('5');
    expect(receiver.stats.requests['auth-unavailable']).toBe(1);
  });

  it.each([
    ['not JSON', '{"node":', 'bad-json'],
    ['JSON but not a batch', '[1,2,3]', 'invalid'],
    ['a bad peer key', JSON.stringify(batch(1, [edge({ client: 'pod:frontend' })])), 'invalid'],
    ['a zero count', JSON.stringify(batch(1, [edge({ count: 0 })])), 'invalid'],
    ['a port out of range', JSON.stringify(batch(1, [edge({ port: 70_000 })])), 'invalid'],
    ['an unknown protocol', JSON.stringify(batch(1, [edge({ protocol: 'GRE' })])), 'invalid'],
    ['first seen after last seen', JSON.stringify(batch(1, [edge({ firstSeen: T0 + 5, lastSeen: T0 })])), 'invalid'],
    ['seq 0', JSON.stringify(batch(0)), 'invalid'],
  ])('refuses %s with 400, counted, without touching the store', async (_name, raw, reason) => {
    const { post, store, receiver } = await start();
    expect(await post(undefined, { raw })).toMatchObject({ status: 400, body: { reason } });
    expect(stored(store)).toEqual([]);
    expect(receiver.stats.requests[reason as 'invalid' | 'bad-json']).toBe(1);
  });

  it('bounds the request: a body over maxBodyBytes or more than maxEdges edges is 413', async () => {
    const { post, receiver } = await start({ maxBodyBytes: 2_000, maxEdges: 5 });
    expect(await post(batch(1, Array.from({ length: 20 }, (_, i) => edge({ port: i + 1 }))))).toMatchObject({ status: 413, body: { reason: 'too-large' } });
    expect(await post(batch(1, Array.from({ length: 6 }, (_, i) => edge({ port: i + 1 }))))).toMatchObject({ status: 413, body: { error: 'more than 5 edges' } });
    expect(await post(batch(1, Array.from({ length: 5 }, (_, i) => edge({ port: i + 1 }))))).toMatchObject({ status: 200 });
    expect(receiver.stats.requests['too-large']).toBe(2);
  });

  it('serves only POST /v1/edges', async () => {
    const { post, auth } = await start();
    expect(await post(batch(1), { path: '/v1/other' })).toMatchObject({ status: 404 });
    expect(await post(undefined, { method: 'GET' })).toMatchObject({ status: 405 });
    expect(auth.calls).toBe(0); // refused before any TokenReview
  });

  it('defaults to exactly the agent ServiceAccount, and the list is configurable', async () => {
    expect(AGENT_USERNAME).toBe('system:serviceaccount:hivewall-system:hivewall-agent');
    const { post } = await start({ allowedUsernames: ['system:serviceaccount:shop:default'] });
    expect(await post(batch(1))).toMatchObject({ status: 403 });
    expect(await post(batch(1), { token: OTHER_TOKEN })).toMatchObject({ status: 200 });
  });
});

describe('EdgeReceiver: edges the inventory cannot place yet', () => {
  it('answers the whole batch 503 unknown-placement with Retry-After, merges nothing and takes the same seq again later', async () => {
    let placed = false;
    const store = new EdgeStore();
    const refusal = (_node: string, e: { client: string }) => e.client === 'wl:shop/Deployment/new' && !placed ? 'unknown-placement'
      : e.client === 'wl:evil/Pod/attacker' ? 'not-on-node' : undefined;
    const { receiver, post, log } = await start({ store: { record: (...a) => store.record(...a), refusal } });
    const b = batch(1, [edge(), edge({ client: 'wl:shop/Deployment/new' }), edge({ client: 'wl:evil/Pod/attacker' })]);
    const first = await post(b);
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('5');
    expect(first.body).toMatchObject({ reason: 'unknown-placement' });
    expect(stored(store)).toEqual([]);
    expect(receiver.stats.requests['unknown-placement']).toBe(1);
    expect(receiver.stats.refused).toEqual({}); // nothing refused for good yet
    expect(log.find('edges not placed on the reporting node yet (inventory catching up): batch to be retried')).toEqual([expect.objectContaining({ node: 'node-a', edges: 1 })]);

    placed = true; // the inventory caught up
    const again = await post(b);
    expect(again).toMatchObject({ status: 200, body: { ack: 1, applied: 2, refused: 1 } });
    expect(stored(store)).toEqual(['wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x3 0..1000', 'wl:shop/Deployment/new -> wl:shop/Deployment/cart 8080/TCP x3 0..1000']);
    expect(receiver.stats.refused).toEqual({ 'not-on-node': 1 });
    expect(receiver.stats).toMatchObject({ edges: 2, connections: 6 });
  });
});

describe('EdgeReceiver leadership', () => {
  it('a detached receiver (not the leader) answers 503 not-leader, closes the connection and merges nothing', async () => {
    const { post, store, receiver, auth } = await start();
    receiver.detach();
    const r = await post(batch(1));
    expect(r).toMatchObject({ status: 503, body: { reason: 'not-leader' } });
    expect(r.headers.get('retry-after')).toBe('1');
    expect(r.headers.get('connection')).toBe('close');
    expect(auth.calls).toBe(0);
    expect(stored(store)).toEqual([]);
    expect(receiver.stats.requests['not-leader']).toBe(1);
  });

  it('attach() starts merging into the new store with exactly the persisted sequences', async () => {
    const { post, receiver } = await start();
    expect((await post(batch(5))).status).toBe(200);
    const saved = receiver.sequences();
    expect(Object.values(saved)).toEqual([5]);
    // Another leader took over, applied seq 6 and 7, and persisted that; this replica leads again.
    const next = new EdgeStore();
    receiver.attach(next, Object.fromEntries(Object.keys(saved).map((k) => [k, 7])));
    expect(await post(batch(7))).toMatchObject({ status: 200, body: { duplicate: true } });
    expect(stored(next)).toEqual([]);
    expect(await post(batch(8))).toMatchObject({ status: 200, body: { ack: 8, applied: 1 } });
    expect(stored(next)).toEqual(['wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x3 0..1000']);
  });

  it('an agent whose batch met a non-leader delivers it once the leader is attached, counted once', async () => {
    const { post, receiver, store } = await start();
    receiver.detach();
    expect((await post(batch(1))).status).toBe(503);
    receiver.attach(store);
    expect((await post(batch(1))).status).toBe(200);
    expect((await post(batch(1))).body).toMatchObject({ duplicate: true });
    expect(stored(store)).toEqual(['wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x3 0..1000']);
  });
});

describe('kubeTokenReview', () => {
  it('gives up on an API server that does not answer after its timeout, so a push waits for its review boundedly', async () => {
    const silent = http.createServer(() => undefined); // takes the request, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as { port: number };
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromOptions({
        clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }], users: [{ name: 'u', token: 'operator-token' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x',
      });
      const review = kubeTokenReview(kubeConfig, 200);
      const outcome = await Promise.race([review(AGENT_TOKEN, undefined).then(() => 'answered', (err: Error) => err.name), sleep(3_000).then(() => 'still waiting')]);
      expect(outcome).toBe('TimeoutError');
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});

const API_TOKEN = 'api-server-token';

describe('tokenReviewAuthenticator', () => {
  function setup(ttl?: number) {
    const clock = new FakeClock(T0);
    const calls: { token: string; audiences: readonly string[] | undefined }[] = [];
    const review: TokenReviewCall = async (token, audiences) => {
      calls.push({ token, audiences });
      if (token === API_TOKEN) return { authenticated: true, audiences: ['https://kubernetes.default.svc'], user: { username: AGENT_USERNAME } };
      return token === AGENT_TOKEN ? { authenticated: true, audiences: ['hivewall'], user: { username: AGENT_USERNAME, groups: ['g'], extra: { k: ['v'] } } } : { authenticated: false, error: 'invalid bearer token' };
    };
    const auth = tokenReviewAuthenticator(review, { clock, audiences: ['hivewall'], ...(ttl !== undefined ? { cacheTtlMs: ttl } : {}) });
    return { clock, calls, auth };
  }

  it('maps the TokenReview status, passing the audiences', async () => {
    const { auth, calls } = setup();
    expect(await auth.authenticate(AGENT_TOKEN)).toEqual({ authenticated: true, username: AGENT_USERNAME, groups: ['g'], extra: { k: ['v'] } });
    expect(await auth.authenticate('nope')).toEqual({ authenticated: false, error: 'invalid bearer token' });
    expect(calls.map((c) => c.audiences)).toEqual([['hivewall'], ['hivewall']]);
  });

  it('refuses a valid token of another audience (the agent\'s API-server token), even when the review says authenticated', async () => {
    const { auth } = setup();
    expect(await auth.authenticate(API_TOKEN)).toEqual({ authenticated: false, error: 'token not issued for audience hivewall' });
  });

  it('caches answers (60 s positive, 10 s negative) so each batch is not a TokenReview', async () => {
    const { auth, calls, clock } = setup();
    await auth.authenticate(AGENT_TOKEN);
    await auth.authenticate('nope');
    await clock.advance(9_999);
    await auth.authenticate(AGENT_TOKEN);
    await auth.authenticate('nope');
    expect(calls).toHaveLength(2);
    await clock.advance(1);
    await auth.authenticate('nope');
    expect(calls).toHaveLength(3);
    await clock.advance(50_000);
    await auth.authenticate(AGENT_TOKEN);
    expect(calls).toHaveLength(4);
  });

  it('cacheTtlMs 0 reviews every time', async () => {
    const { auth, calls } = setup(0);
    await auth.authenticate(AGENT_TOKEN);
    await auth.authenticate(AGENT_TOKEN);
    expect(calls).toHaveLength(2);
  });
});

describe('EdgeReceiver with a durable target', () => {
  it('acknowledges a batch only once the target stored it; a failed store is 503 not-stored and the retry is acknowledged without counting twice', async () => {
    const store = new EdgeStore();
    let outcome: 'store' | 'fail' = 'fail';
    const target = { record: store.record.bind(store), persisted: () => (outcome === 'store' ? Promise.resolve() : Promise.reject(new Error('the learned state could not be stored; retry'))) };
    const { post, receiver } = await start({ store: target });
    expect(await post(batch(1))).toMatchObject({ status: 503, body: { reason: 'not-stored' } });
    expect(receiver.stats.requests['not-stored']).toBe(1);
    outcome = 'store';
    expect(await post(batch(1))).toMatchObject({ status: 200, body: { ack: 1, duplicate: true } });
    expect(stored(store)).toEqual(['wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x3 0..1000']);
  });
});

describe('EdgeReceiver: connections an agent dropped', () => {
  it('passes them to the target once (a retried batch is not counted again) and counts them', async () => {
    const store = new EdgeStore();
    const lost: number[] = [];
    const { post, receiver } = await start({ store: { record: store.record.bind(store), lost: (n) => lost.push(n) } });
    expect((await post(batch(1, [edge()], { dropped: 7 }))).status).toBe(200);
    expect((await post(batch(1, [edge()], { dropped: 7 }))).body).toMatchObject({ duplicate: true });
    expect((await post(batch(2, [edge()]))).status).toBe(200);
    expect(lost).toEqual([7]);
    expect(receiver.stats.dropped).toBe(7);
    expect((await post(batch(3, [edge()], { dropped: -1 }))).status).toBe(400);
  });
});

describe('EdgeReceiver: pushes in flight per node', () => {
  it('refuses a node\'s push beyond the bound while the others wait for their acknowledgement (429 busy, body unread); other nodes and later pushes go through', async () => {
    const store = new EdgeStore();
    let release = () => undefined as void;
    let stored = new Promise<void>((resolve) => (release = resolve));
    const { post, receiver } = await start({ store: { record: store.record.bind(store), persisted: () => stored } });
    const waiting = Array.from({ length: IN_FLIGHT_PER_NODE }, (_, i) => post({ ...batch(1), instance: `i${i}` }, { token: BOUND_TOKEN }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const beyond = await post({ ...batch(1), instance: 'beyond' }, { token: BOUND_TOKEN });
    expect(beyond).toMatchObject({ status: 429, body: { reason: 'busy' } });
    expect(beyond.headers.get('retry-after')).toBe('1');
    // An unbound token (an older cluster's) is not held by node-a's pushes.
    const other = post({ ...batch(1), node: 'node-b' });
    release();
    for (const response of await Promise.all(waiting)) expect(response.status).toBe(200);
    expect((await other).status).toBe(200);
    stored = Promise.resolve();
    expect((await post({ ...batch(1), instance: 'beyond' }, { token: BOUND_TOKEN })).status).toBe(200);
    expect(receiver.stats.requests.busy).toBe(1);
  });
});

describe('EdgeReceiver: the sequence numbers it keeps', () => {
  it(`keeps at most ${INSTANCES_PER_NODE} agent processes per node, evicting that node's own oldest: instances a token makes up never evict another node's sequence`, async () => {
    const { post, store, receiver } = await start({ maxAgents: 8 });
    expect((await post(batch(3, [edge()], { node: 'node-b' }))).status).toBe(200);
    for (let i = 0; i < 20; i++) expect((await post(batch(1, [], { instance: `made-up-${i}` }), { token: BOUND_TOKEN })).status).toBe(200);
    // node-b's agent retries its batch (its answer was lost): still known, not counted again.
    expect(await post(batch(3, [edge()], { node: 'node-b' }))).toMatchObject({ status: 200, body: { ack: 3, duplicate: true } });
    expect(stored(store)).toEqual(['wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x3 0..1000']);
    const nodeA = Object.keys(receiver.sequences()).filter((key) => key.startsWith(`${AGENT_USERNAME}\nnode-a\n`));
    expect(nodeA.map((key) => key.split('\n')[2])).toEqual(['made-up-16', 'made-up-17', 'made-up-18', 'made-up-19']);
  });

  it('stays within MAX_SEQUENCES_BYTES as JSON (the checkpoint ConfigMap holds at most 1 MiB) whatever nodes and instances unbound tokens name', async () => {
    const { post, receiver } = await start();
    // The largest entries the wire schema lets through: 253 and 64 characters JSON escapes to 6 bytes each.
    const worst = (id: number, length: number) => String(id).padEnd(length, '\u0001');
    receiver.restoreSequences(Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`${AGENT_USERNAME}\n${worst(i, 253)}\n${worst(i, 64)}`, Number.MAX_SAFE_INTEGER])));
    expect(await post(batch(1, [], { node: worst(5_000, 253), instance: worst(5_000, 64) }))).toMatchObject({ status: 200 });
    const sequences = receiver.sequences();
    const bytes = Buffer.byteLength(JSON.stringify(sequences));
    expect(bytes).toBeLessThanOrEqual(MAX_SEQUENCES_BYTES + 2);
    expect(MAX_SEQUENCES_BYTES + 2).toBeLessThanOrEqual(1024 * 1024 / 2 + 2);
    expect(bytes).toBeGreaterThan(MAX_SEQUENCES_BYTES - 4_000); // evicted only as far as needed
    expect(sequences[`${AGENT_USERNAME}\n${worst(5_000, 253)}\n${worst(5_000, 64)}`]).toBe(1); // the newest is kept
  });
});

describe('EdgeReceiver: a client gone during its TokenReview', () => {
  it('frees the node\'s in-flight slot and the reserved body bytes of pushes whose client went away before their body was read', async () => {
    const reviews = fakeAuth();
    const held: (() => void)[] = [];
    let hold = true;
    // A TokenReview that answers only after the clients gave up.
    const authenticator: TokenAuthenticator = {
      async authenticate(token) {
        if (hold) await new Promise<void>((resolve) => held.push(resolve));
        return reviews.authenticate(token);
      },
    };
    const maxBodiesBytes = 10_000;
    const { post, receiver, url } = await start({ authenticator, maxBodiesBytes });
    const { hostname, port } = new URL(url);
    const gone = Array.from({ length: IN_FLIGHT_PER_NODE }, () => {
      const req = http.request({ host: hostname, port, path: '/v1/edges', method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${BOUND_TOKEN}`, 'content-length': String(maxBodiesBytes / IN_FLIGHT_PER_NODE) } });
      req.on('error', () => undefined);
      req.flushHeaders();
      return req;
    });
    await until(() => held.length === IN_FLIGHT_PER_NODE);
    for (const req of gone) req.destroy();
    await sleep(200); // the server sees the connections close
    hold = false;
    for (const answer of held.splice(0)) answer();
    await sleep(200);
    expect((await post(batch(1), { token: BOUND_TOKEN })).status).toBe(200); // not 429 busy
    const large = JSON.stringify(batch(1, [edge()], { instance: 'large' })).padEnd(maxBodiesBytes, ' ');
    expect((await post(undefined, { raw: large })).status).toBe(200); // not 503 overloaded
    expect(receiver.stats.requests).toMatchObject({ busy: 0, overloaded: 0, 'bad-json': IN_FLIGHT_PER_NODE, accepted: 2 });
  });
});

describe('EdgeReceiver: a paused target', () => {
  it('answers 503 paused with Retry-After before reading the body, merges nothing, and takes the same seq once unpaused', async () => {
    const store = new EdgeStore();
    let paused = true;
    const { post, receiver } = await start({ store: { record: store.record.bind(store), paused: () => paused } });
    const refused = await post(batch(1));
    expect(refused).toMatchObject({ status: 503, body: { reason: 'paused' } });
    expect(refused.headers.get('retry-after')).toBe('5');
    // Not even a body that is not JSON is looked at.
    expect(await post(undefined, { raw: '{not json' })).toMatchObject({ status: 503, body: { reason: 'paused' } });
    expect(stored(store)).toEqual([]);
    expect(receiver.stats.requests.paused).toBe(2);
    paused = false;
    expect(await post(batch(1))).toMatchObject({ status: 200, body: { ack: 1 } });
    expect(stored(store)).toEqual(['wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x3 0..1000']);
  });

  it('still refuses an unauthenticated push as such (authentication comes first)', async () => {
    const store = new EdgeStore();
    const { post } = await start({ store: { record: store.record.bind(store), paused: () => true } });
    expect(await post(batch(1), { token: null })).toMatchObject({ status: 401 });
  });
});

describe('EdgeReceiver: bodies read at once', () => {
  it('refuses a push with 503 overloaded while others\' bodies fill maxBodiesBytes, and takes it once they are read', async () => {
    const { post, receiver, url } = await start({ maxBodiesBytes: 3_000 });
    const body = JSON.stringify(batch(1));
    // A push whose 2,000 declared bytes arrive slowly: half now, the rest later.
    const { hostname, port } = new URL(url);
    const slow = http.request({ host: hostname, port, path: '/v1/edges', method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${AGENT_TOKEN}`, 'content-length': '2000' } });
    const slowAnswer = new Promise<number>((resolve) => slow.on('response', (res) => { res.resume(); resolve(res.statusCode ?? 0); }));
    slow.write(body.padEnd(2000, ' ').slice(0, 1000));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const refused = await post(batch(1, [edge()], { instance: 'other' }), { raw: JSON.stringify(batch(1, [edge()], { instance: 'other' })).padEnd(1500, ' ') });
    expect(refused).toMatchObject({ status: 503, body: { reason: 'overloaded' } });
    expect(refused.headers.get('retry-after')).toBe('1');
    // A small one still fits beside the slow one.
    expect((await post(batch(1, [edge()], { instance: 'small' }))).status).toBe(200);
    slow.end(body.padEnd(2000, ' ').slice(1000));
    expect(await slowAnswer).toBe(200);
    expect((await post(batch(1, [edge()], { instance: 'other' }), { raw: JSON.stringify(batch(1, [edge()], { instance: 'other' })).padEnd(1500, ' ') })).status).toBe(200);
    expect(receiver.stats.requests.overloaded).toBe(1);
    expect(receiver.stats.requests.accepted).toBe(3);
  });
});

describe('EdgeReceiver: unanswered connections', () => {
  it('passes them to the target as unanswered, never into the learned edges, and once per batch', async () => {
    const store = new EdgeStore();
    const unanswered: string[] = [];
    const { post } = await start({ store: { record: store.record.bind(store), unanswered: (c, s, port, proto, first, count) => unanswered.push(`${c} -> ${s} ${port}/${proto} x${count} @${first}`) } });
    const denied = { ...edge(), port: 5432, count: 2 };
    expect((await post(batch(1, [], { unanswered: [denied] }))).status).toBe(200);
    expect((await post(batch(1, [], { unanswered: [denied] }))).body).toMatchObject({ duplicate: true });
    expect(unanswered).toEqual([`${denied.client} -> ${denied.server} 5432/TCP x2 @${denied.firstSeen}`]);
    expect(stored(store)).toEqual([]);
    expect((await post(batch(2, [], { unanswered: [{ ...denied, client: 'not a key' }] }))).status).toBe(400);
  });

  it('holds them to the node binding: another node\'s pods are refused, not counted as denials; a pod not placed yet retries the batch', async () => {
    let placed = false;
    const refusal = (_node: string, e: { client: string }) => e.client === 'wl:pay/Deployment/api' ? 'not-on-node'
      : e.client === 'wl:shop/Deployment/new' && !placed ? 'unknown-placement' : undefined;
    const unanswered: string[] = [];
    const store = new EdgeStore();
    const { post, receiver } = await start({ store: { record: store.record.bind(store), refusal, unanswered: (c, s, port) => unanswered.push(`${c} -> ${s} ${port}`) } });
    const mine = { ...edge(), port: 5432 };
    const elsewhere = { ...edge({ client: 'wl:pay/Deployment/api' }), port: 5432 };
    const notYet = { ...edge({ client: 'wl:shop/Deployment/new' }), port: 5432 };
    const first = await post(batch(1, [], { unanswered: [mine, elsewhere, notYet] }));
    expect(first).toMatchObject({ status: 503, body: { reason: 'unknown-placement' } });
    expect(unanswered).toEqual([]);
    placed = true;
    expect(await post(batch(1, [], { unanswered: [mine, elsewhere, notYet] }))).toMatchObject({ status: 200, body: { ack: 1, applied: 0, refused: 1 } });
    expect(unanswered).toEqual([`${mine.client} -> ${mine.server} 5432`, `wl:shop/Deployment/new -> ${mine.server} 5432`]);
    expect(receiver.stats.refused).toEqual({ 'not-on-node': 1 });
  });
});

describe('EdgeReceiverServer TLS', () => {
  it('serves a renewed certificate to new connections after setTls', async () => {
    const { issueCa, issueLeaf } = await import('../operator/receiver-tls.js');
    const now = new Date();
    const names = ['hivewall-operator.hivewall-system.svc'];
    const caA = await issueCa({ now, validityMs: 86_400_000 * 30 });
    const caB = await issueCa({ now, validityMs: 86_400_000 * 30 });
    const leafA = await issueLeaf({ ca: caA, dnsNames: names, now, validityMs: 86_400_000 * 7 });
    const leafB = await issueLeaf({ ca: caB, dnsNames: names, now, validityMs: 86_400_000 * 7 });
    const log = captureLogger();
    const receiver = new EdgeReceiver({ authenticator: fakeAuth(), store: new EdgeStore(), logger: log.logger });
    const server = new EdgeReceiverServer({ receiver, host: '127.0.0.1', port: 0, tls: leafA, logger: log.logger });
    servers.push(server);
    const { port } = await server.listen();
    const https = await import('node:https');
    const status = (ca: string) => new Promise<number | string>((resolve) => {
      const req = https.request({ host: '127.0.0.1', port, path: '/v1/edges', method: 'GET', ca, servername: names[0], agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      req.end();
    });
    expect(await status(caA.cert)).toBe(405);
    expect(await status(caB.cert)).toMatch(/CERT|SIGNATURE|UNABLE/);
    server.setTls(leafB);
    expect(await status(caB.cert)).toBe(405);
    expect(await status(caA.cert)).toMatch(/CERT|SIGNATURE|UNABLE/);
  });
});

/** The operator's placements (./node-binding.ts) of an inventory, as the receiver's target consults them. */
function placedTarget(pods: readonly PodInfo[], now = T0 + 1_000) {
  const inv = inventory({ nodes: [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: [] }, { name: 'node-b', ips: ['172.18.0.3'], podCIDRs: [] }], pods: [...pods] });
  const placements = new NodePlacements({ now: () => now });
  const identity = new IdentityResolver(inv);
  placements.updateNodes(inv.nodes);
  for (const namespace of new Set(pods.map((p) => p.namespace))) placements.updateNamespace(namespace, identity.podsWithWorkloadsIn(namespace), T0 + 1_000);
  const store = new EdgeStore();
  const denied: DeniedDelta[] = [];
  const target: EdgeTarget = {
    record: store.record.bind(store),
    refusal: (node, e) => placements.refusal(node, e),
    workloadOf: (key, e) => placements.workloadOf(key, e),
    denied: (d) => denied.push(d),
  };
  return { store, denied, target };
}

const onNode = (node: string, created = T0 - 3_600_000) => ({ nodeName: node, createdAt: created });
/** cart runs on node-a, the agent's node; the rest on node-b. */
const cart = deploymentPod('shop', 'cart', '10.244.0.5', {}, onNode('node-a'));
const frontendPod = deploymentPod('shop', 'frontend', '10.244.1.4', {}, { name: 'frontend-6d4cf56db6-zzzzz', ...onNode('node-b') });
const barePod = (name: string, labels: Record<string, string> = {}): PodInfo => ({ namespace: 'shop', name, labels, ips: ['10.244.1.9'], hostNetwork: false, owners: [], ports: [], ...onNode('node-b') });
const debug = barePod('debug');
/** Named and labelled like a Deployment's pod; no controller owns it. */
const crafted = barePod('frontend-6d4cf56db6-yyyyy', { 'pod-template-hash': '6d4cf56db6', 'app.kubernetes.io/name': 'frontend' });
const dbPod: PodInfo = { ...barePod('db-0'), namespace: 'data', owners: [{ kind: 'StatefulSet', name: 'db', controller: true }] };

describe('EdgeReceiver: bare-pod keys of pods on other nodes (a Hubble agent\'s)', () => {
  it('learns a Deployment\'s pod as its Deployment (the inventory\'s owner), a bare pod per pod, and a bare pod named like a Deployment\'s as the pod', async () => {
    const { store, target } = placedTarget([cart, frontendPod, debug, crafted]);
    const { post } = await start({ store: target });
    const toCart = (client: string) => edge({ client, server: 'wl:shop/Deployment/cart' });
    const pushed = await post(batch(1, [toCart('wl:shop/Pod/frontend-6d4cf56db6-zzzzz'), toCart('wl:shop/Pod/debug'), toCart('wl:shop/Pod/frontend-6d4cf56db6-yyyyy')]));
    expect(pushed).toMatchObject({ status: 200, body: { ack: 1, applied: 3 } });
    expect(stored(store)).toEqual([
      'wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x3 0..1000',
      'wl:shop/Pod/debug -> wl:shop/Deployment/cart 8080/TCP x3 0..1000',
      'wl:shop/Pod/frontend-6d4cf56db6-yyyyy -> wl:shop/Deployment/cart 8080/TCP x3 0..1000',
    ]);
  });

  it('a pod the inventory does not show yet: the whole batch is retried (503 unknown-placement), nothing merged', async () => {
    const { store, target } = placedTarget([cart]);
    const { post } = await start({ store: target });
    const pushed = await post(batch(1, [edge({ client: 'wl:shop/Deployment/cart', server: 'wl:shop/Deployment/cart', port: 9000 }), edge({ client: 'wl:shop/Pod/frontend-6d4cf56db6-zzzzz', server: 'wl:shop/Deployment/cart' })]));
    expect(pushed).toMatchObject({ status: 503, body: { reason: 'unknown-placement' } });
    expect(stored(store)).toEqual([]);
  });
});

describe('EdgeReceiver: policy denials (a Hubble agent\'s `denied`)', () => {
  const denial = (over: Record<string, unknown> = {}) => ({ ...edge({ count: 2, port: 5432 }), ...over });

  it('passes each to the target with its direction and denying policies, its bare-pod sides mapped, once per batch', async () => {
    const { store, denied, target } = placedTarget([cart, dbPod, frontendPod]);
    const { post } = await start({ store: target });
    const egress = denial({ client: 'wl:shop/Deployment/cart', server: 'wl:data/Pod/db-0', direction: 'EGRESS', deniedBy: ['shop/hivewall-cart'] });
    const ingress = denial({ client: 'wl:shop/Pod/frontend-6d4cf56db6-zzzzz', server: 'wl:shop/Deployment/cart', port: 8080, direction: 'INGRESS', deniedBy: ['shop/hivewall-cart'] });
    expect(await post(batch(1, [], { denied: [egress, ingress] }))).toMatchObject({ status: 200, body: { ack: 1, applied: 0 } });
    expect(await post(batch(1, [], { denied: [egress, ingress] }))).toMatchObject({ status: 200, body: { duplicate: true } });
    expect(denied).toEqual([
      { ...egress, server: 'wl:data/StatefulSet/db' },
      { ...ingress, client: 'wl:shop/Deployment/frontend' },
    ]);
    expect(stored(store)).toEqual([]);
  });

  it('refuses a denial whose ends are both on other nodes, and one whose denying side is on another node', async () => {
    // Later than the inventory's catch-up time: where the pods ran is decided for good.
    const { denied, target } = placedTarget([cart, dbPod, frontendPod], T0 + 600_000);
    const { post, receiver } = await start({ store: target });
    const elsewhere = denial({ client: 'wl:shop/Pod/frontend-6d4cf56db6-zzzzz', server: 'wl:data/Pod/db-0' });
    // cart (node-a) is the server, but an EGRESS denial is the client's policy, enforced on node-b.
    const notMine = denial({ client: 'wl:data/Pod/db-0', server: 'wl:shop/Deployment/cart', direction: 'EGRESS' });
    const mine = denial({ client: 'wl:data/Pod/db-0', server: 'wl:shop/Deployment/cart', direction: 'INGRESS' });
    expect(await post(batch(1, [], { denied: [elsewhere, notMine, mine] }))).toMatchObject({ status: 200, body: { ack: 1, refused: 2 } });
    expect(denied).toEqual([{ ...mine, client: 'wl:data/StatefulSet/db' }]);
    expect(receiver.stats.refused).toEqual({ 'not-on-node': 2 });
  });

  it.each<[string, Record<string, unknown>]>([
    ['a direction Hubble has not', { direction: 'SIDEWAYS' }],
    ['a denying policy that is not <namespace>/<name>', { deniedBy: ['no-slash'] }],
    ['a denying policy with an invalid name', { deniedBy: ['shop/../../etc'] }],
    [`more than ${MAX_DENIED_BY} denying policies`, { deniedBy: Array.from({ length: MAX_DENIED_BY + 1 }, (_, i) => `shop/p${i}`) }],
    ['an empty list of denying policies', { deniedBy: [] }],
    ['a peer that is not a key', { client: 'shop/frontend' }],
    ['no connections', { count: 0 }],
    ['firstSeen after lastSeen', { firstSeen: T0 + 5_000 }],
  ])('refuses a batch with a malformed denial (400 invalid): %s', async (_name, over) => {
    const { denied, target } = placedTarget([cart]);
    const { post } = await start({ store: target });
    const res = await post(batch(1, [], { denied: [denial({ client: 'wl:shop/Deployment/cart', ...over })] }));
    expect(res).toMatchObject({ status: 400, body: { reason: 'invalid' } });
    expect(denied).toEqual([]);
  });

  it(`refuses a batch with more than ${MAX_DENIALS} denials`, async () => {
    const { target } = placedTarget([cart]);
    const { post } = await start({ store: target, maxBodyBytes: 16 * 1024 * 1024 });
    const many = Array.from({ length: MAX_DENIALS + 1 }, () => denial({ client: 'wl:shop/Deployment/cart' }));
    expect(await post(batch(1, [], { denied: many }))).toMatchObject({ status: 400, body: { reason: 'invalid' } });
  });
});
