// The edge receiver attacked the way a node could: real TLS, tokens issued by the real API server
// (TokenRequest bound to an agent pod on node A, as the DaemonSet's projected token is) and
// checked with TokenReview, the node binding from the operator's own inventory (ClusterCache
// watching the API server). Root on node A holds that token; it must not be able to:
// - inject `evil/attacker → payments/postgres:5432` when neither pod runs on node A (refused,
//   counted per reason, logged with the node, nothing learned);
// while a genuine edge of a pod the operator's inventory does not show yet is retried (503), not lost;
// - report for node B (403);
// - use an API-server token (or any token not for audience hivewall-receiver) (401);
// - hammer the receiver with bad tokens (429 after a burst, no TokenReview for them);
// - grow the learned graph without bound (edges beyond the namespace's limit are refused and counted).
// docs/security.md lists each attack with its test here.
import https from 'node:https';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthFailureLimiter } from '../../src/operator/auth-limiter.js';
import { NodePlacements } from '../../src/operator/node-binding.js';
import { EdgeReceiver, EdgeReceiverServer, kubeTokenReview, tokenReviewAuthenticator } from '../../src/operator/receiver.js';
import { EdgeStore } from '../../src/domain/edge-store.js';
import { ClusterCache } from '../../src/operator/cluster-cache.js';
import { issueCa, issueLeaf } from '../../src/operator/receiver-tls.js';
import { captureLogger } from '../../src/runtime/testing.js';
import { adminKubeConfig, bindRole, createNamespace, randomSuffix, serviceAccountIdentity, type TestNamespace } from '../harness/index.js';

const AUDIENCE = 'hivewall-receiver';
const SERVER_NAME = 'hivewall-operator.hivewall-system.svc';
const core = () => adminKubeConfig().makeApiClient(CoreV1Api);
const suffix = randomSuffix();
const NODE_A = `sec-node-a-${suffix}`;
const NODE_B = `sec-node-b-${suffix}`;

let shop: TestNamespace;
let payments: TestNamespace;
let evil: TestNamespace;
let agents: TestNamespace;
let ca: string;
let url: URL;
let server: EdgeReceiverServer;
let receiver: EdgeReceiver;
let store: EdgeStore;
let cluster: ClusterCache;
let placements: NodePlacements;
let nodeAToken: string;
let apiToken: string;
const log = captureLogger('info');
const pods: { namespace: string; name: string }[] = [];

async function createPod(namespace: string, name: string, node: string, serviceAccountName?: string): Promise<V1Pod> {
  const pod = await core().createNamespacedPod({
    namespace,
    body: { metadata: { name, labels: { app: name } }, spec: { nodeName: node, ...(serviceAccountName ? { serviceAccountName } : {}), containers: [{ name: 'c', image: 'busybox' }] } },
  });
  pods.push({ namespace, name });
  return pod;
}

beforeAll(async () => {
  [shop, payments, evil, agents] = await Promise.all([createNamespace('sec-shop'), createNamespace('sec-payments'), createNamespace('sec-evil'), createNamespace('sec-agents')]);
  for (const [name, ip] of [[NODE_A, '10.99.0.1'], [NODE_B, '10.99.0.2']] as const) {
    const node = await core().createNode({ body: { metadata: { name } } });
    await core().replaceNodeStatus({ name, body: { ...node, status: { addresses: [{ type: 'InternalIP', address: ip }] } } });
  }
  await createPod(shop.name, 'web', NODE_A);
  await createPod(payments.name, 'postgres', NODE_B);
  await createPod(evil.name, 'attacker', NODE_B);

  // The agent on node A: its ServiceAccount, its pod, and the token the kubelet would project for it.
  await serviceAccountIdentity(agents.name, 'hivewall-agent');
  const agentPod = await createPod(agents.name, 'hivewall-agent-a', NODE_A, 'hivewall-agent');
  const request = await core().createNamespacedServiceAccountToken({
    namespace: agents.name, name: 'hivewall-agent',
    body: { spec: { audiences: [AUDIENCE], expirationSeconds: 3600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: agentPod.metadata!.name!, uid: agentPod.metadata!.uid! } } },
  });
  nodeAToken = request.status!.token!;
  apiToken = (await serviceAccountIdentity(agents.name, 'hivewall-agent')).token;

  // The operator's side: TokenReview rights, the inventory it watches, its receiver over TLS.
  const reviewer = await serviceAccountIdentity(agents.name, 'edge-reviewer');
  await bindRole({ subject: reviewer, rules: [{ apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] }] });
  placements = new NodePlacements();
  cluster = new ClusterCache({ kubeConfig: adminKubeConfig(), logger: log.logger, followers: [placements] });
  await cluster.start(30_000);
  store = new EdgeStore(16, { maxEdgesPerNamespace: 3 });
  receiver = new EdgeReceiver({
    authenticator: tokenReviewAuthenticator(kubeTokenReview(reviewer.kubeConfig), { audiences: [AUDIENCE], cacheTtlMs: 0 }),
    store: { record: (...args) => store.record(...args), refusal: (node, edge) => placements.refusal(node, edge) },
    allowedUsernames: [`system:serviceaccount:${agents.name}:hivewall-agent`],
    authFailures: new AuthFailureLimiter({ burst: 3, refillMs: 600_000 }),
    logger: log.logger,
  });
  const now = new Date();
  const caPair = await issueCa({ now, validityMs: 3_600_000 });
  const leaf = await issueLeaf({ ca: caPair, dnsNames: [SERVER_NAME], now, validityMs: 3_600_000 });
  ca = caPair.cert;
  server = new EdgeReceiverServer({ receiver, host: '127.0.0.1', port: 0, tls: leaf, logger: log.logger });
  url = new URL((await server.listen()).url);
}, 120_000);

afterAll(async () => {
  await server?.close();
  await cluster?.stop();
  for (const p of pods) await core().deleteNamespacedPod({ namespace: p.namespace, name: p.name, gracePeriodSeconds: 0 }).catch(() => undefined);
  for (const name of [NODE_A, NODE_B]) await core().deleteNode({ name }).catch(() => undefined);
  await Promise.all([shop, payments, evil, agents].map((ns) => ns?.delete()));
}, 60_000);

/** POST /v1/edges over TLS, verifying the receiver's certificate like an agent. */
function push(token: string | undefined, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: url.hostname, port: url.port, path: '/v1/edges', method: 'POST', ca, servername: SERVER_NAME,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    }, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => (data += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

let seq = 0;
const batch = (node: string, edges: { client: string; server: string; port: number; firstSeen?: number }[]) => ({
  node, instance: 'agent-a', seq: ++seq,
  edges: edges.map((e) => ({ client: e.client, server: e.server, port: e.port, protocol: 'TCP', count: 1, firstSeen: e.firstSeen ?? Date.now(), lastSeen: e.firstSeen ?? Date.now() })),
});

const learned = () => [...store.edges()].map((e) => `${e.client} -> ${e.server} ${e.port}`);

describe('the edge receiver refuses what a node could not have seen', () => {
  it('root on node A cannot inject evil/attacker -> payments/postgres: refused, counted, logged with the node, not learned', async () => {
    const attack = { client: `wl:${evil.name}/Pod/attacker`, server: `wl:${payments.name}/Pod/postgres`, port: 5432 };
    const legit = { client: `wl:${shop.name}/Pod/web`, server: `wl:${payments.name}/Pod/postgres`, port: 5432 };
    const r = await push(nodeAToken, batch(NODE_A, [attack, legit]));
    expect(r).toMatchObject({ status: 200, body: { applied: 1, refused: 1 } });
    expect(learned()).toEqual([`wl:${shop.name}/Pod/web -> wl:${payments.name}/Pod/postgres 5432`]);
    expect(receiver.stats.refused).toEqual({ 'not-on-node': 1 });
    expect(log.find('edges refused: neither side on the reporting node')).toEqual([expect.objectContaining({ node: NODE_A, refused: { 'not-on-node': 1 }, sample: `${attack.client} -> ${attack.server} 5432/TCP` })]);
  });

  it('an edge of a pod on node A from before the pod existed is refused (the edge\'s time counts)', async () => {
    const before = receiver.stats.refused['not-on-node'] ?? 0;
    const r = await push(nodeAToken, batch(NODE_A, [{ client: `wl:${shop.name}/Pod/web`, server: 'en:world:203.0.113.7', port: 443, firstSeen: Date.now() - 24 * 3_600_000 }]));
    expect(r).toMatchObject({ status: 200, body: { applied: 0, refused: 1 } });
    expect(receiver.stats.refused['not-on-node']).toBe(before + 1);
    expect(learned()).not.toContain(`wl:${shop.name}/Pod/web -> en:world:203.0.113.7 443`);
  });

  it('a pod newer than the operator\'s inventory: 503 unknown-placement, nothing learned; once the inventory shows it, the same batch is accepted', async () => {
    const fresh = { client: `wl:${evil.name}/Pod/fresh`, server: 'en:world:203.0.113.9', port: 443 };
    const b = batch(NODE_A, [fresh]);
    const first = await push(nodeAToken, b);
    expect(first).toMatchObject({ status: 503, body: { reason: 'unknown-placement' } });
    expect(learned()).not.toContain(`${fresh.client} -> ${fresh.server} 443`);
    expect(receiver.stats.refused['not-on-node']).toBe(2); // the two refusals above; nothing refused for good here

    // The pod is scheduled on node A; the operator's watch and inventory rebuild catch up.
    await createPod(evil.name, 'fresh', NODE_A);
    for (let i = 0; i < 100 && !cluster.identity.workloadOfPod(evil.name, 'fresh'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await cluster.refresh();
    }
    const again = await push(nodeAToken, b); // the agent sends the same batch again (same seq)
    expect(again).toMatchObject({ status: 200, body: { applied: 1 } });
    expect(learned()).toContain(`${fresh.client} -> ${fresh.server} 443`);
  });

  it('node A\'s token cannot report for node B', async () => {
    const r = await push(nodeAToken, batch(NODE_B, [{ client: `wl:${evil.name}/Pod/attacker`, server: `wl:${payments.name}/Pod/postgres`, port: 5432 }]));
    expect(r).toMatchObject({ status: 403, body: { reason: 'forbidden', error: `token of node ${NODE_A} may not push for ${NODE_B}` } });
    expect(learned()).not.toContain(`wl:${evil.name}/Pod/attacker -> wl:${payments.name}/Pod/postgres 5432`);
  });

  it('an API-server token of the agent (not for audience hivewall-receiver) is refused', async () => {
    const r = await push(apiToken, batch(NODE_A, [{ client: `wl:${shop.name}/Pod/web`, server: 'en:world:203.0.113.8', port: 443 }]));
    expect(r).toMatchObject({ status: 401, body: { reason: 'unauthenticated' } });
    expect(learned()).not.toContain(`wl:${shop.name}/Pod/web -> en:world:203.0.113.8 443`);
  });

  it('beyond a namespace\'s edge limit new edges are refused and counted, the store stays bounded', async () => {
    const edges = Array.from({ length: 50 }, (_, i) => ({ client: `wl:${shop.name}/Pod/web`, server: `en:world:198.51.100.${i}`, port: 443 }));
    const r = await push(nodeAToken, batch(NODE_A, edges));
    expect(r.status).toBe(200);
    expect(learned().filter((e) => e.startsWith(`wl:${shop.name}/`))).toHaveLength(3);
    expect(store.refusedIn(shop.name)).toBe(48);
  });

  it('bad tokens from one address: 401 for a burst, then 429 without asking the API server', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await push(`not-a-token-${i}`, batch(NODE_A, []))).status);
    // A burst of 3 failures per address; the API-server token above was the first from 127.0.0.1.
    expect(statuses).toEqual([401, 401, 429, 429, 429]);
    expect(receiver.stats.requests['rate-limited']).toBe(3);
    // Even the right token waits now: the address is blocked until its bucket refills.
    const blocked = await push(nodeAToken, batch(NODE_A, []));
    expect(blocked).toMatchObject({ status: 429, body: { reason: 'rate-limited' } });
  });
});
