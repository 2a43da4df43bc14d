// The node agent against REAL kernel conntrack, and its controller side against the REAL API
// server's TokenReview.
//
// A network namespace plays the node: pods are /32 addresses on its loopback, Services are nft
// DNAT rules (shop/backend 10.96.0.10:80 → 10.244.1.7:8080, kube-system/kube-dns 10.96.0.53:53 →
// 10.244.2.53:53), servers and clients are Node scripts run inside it. The agent runs
// `ip netns exec <ns> conntrack -E …` / `conntrack -L …` (its configurable command prefix), resolves
// addresses with an inventory built here, and ships deltas to an EdgeReceiver whose TokenReview goes
// to the harness API server. Skipped, with the reason, without root or conntrack/nft/ip netns.
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { EdgeAggregator } from '../../src/agent/aggregator.js';
import { StaticInventorySource } from '../../src/agent/inventory.js';
import { AGENT_NAMESPACE, AGENT_SERVICE_ACCOUNT, AGENT_USERNAME } from '../../src/agent/rbac.js';
import { EdgeReceiver, EdgeReceiverServer, kubeTokenReview, tokenReviewAuthenticator } from '../../src/operator/receiver.js';
import { Shipper } from '../../src/agent/shipper.js';
import { IdentityResolver } from '../../src/domain/identity.js';
import { Learner } from '../../src/domain/learner.js';
import type { ClusterInventory, PodInfo } from '../../src/domain/inventory.js';
import { captureLogger } from '../../src/runtime/testing.js';
import { adminKubeConfig, apiStatus, bindRole, createNamespace, serviceAccountIdentity, type TestNamespace } from '../harness/index.js';
import { eventually, sleepMs } from '../runtime/helpers.js';
import { kernelTestUnavailable, LONG_LIVED_SCRIPT, NetNs, SERVERS_SCRIPT, TRAFFIC_SCRIPT, type NodeProcess } from './netns.js';

const unavailable = kernelTestUnavailable();

const FRONTEND = '10.244.0.5';
const REPORTER = '10.244.0.6';
const BACKEND = '10.244.1.7';
const COREDNS = '10.244.2.53';
const BACKEND_SVC = '10.96.0.10';
const DNS_SVC = '10.96.0.53';

const NFT = `
table ip hivewall_test {
  chain output {
    type nat hook output priority -100;
    ip daddr ${BACKEND_SVC} tcp dport 80 dnat to ${BACKEND}:8080
    ip daddr ${DNS_SVC} udp dport 53 dnat to ${COREDNS}:53
  }
}
`;

const created = Date.now() - 3_600_000;
function pod(namespace: string, deployment: string, ip: string): PodInfo {
  return {
    namespace, name: `${deployment}-7d9f8c6b5-x${ip.split('.').at(-1)}`, uid: `${deployment}-uid`,
    labels: { app: deployment, 'pod-template-hash': '7d9f8c6b5' }, ips: [ip], nodeName: 'node-a', hostNetwork: false,
    owners: [{ kind: 'ReplicaSet', name: `${deployment}-7d9f8c6b5`, controller: true }], ports: [], createdAt: created,
  };
}
/** The cluster as the agent's informers would list it. */
const INVENTORY: ClusterInventory = {
  namespaces: [],
  nodes: [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: ['10.244.0.0/16'] }],
  pods: [pod('shop', 'frontend', FRONTEND), pod('shop', 'reporter', REPORTER), pod('shop', 'backend', BACKEND), pod('kube-system', 'coredns', COREDNS)],
  controllers: [],
  services: [
    { namespace: 'shop', name: 'backend', type: 'ClusterIP', clusterIPs: [BACKEND_SVC], ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }] },
    { namespace: 'kube-system', name: 'kube-dns', type: 'ClusterIP', clusterIPs: [DNS_SVC], ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 }] },
  ],
  endpointSlices: [
    { namespace: 'shop', serviceName: 'backend', endpoints: [{ addresses: [BACKEND] }], ports: [{ port: 8080, protocol: 'TCP' }] },
    { namespace: 'kube-system', serviceName: 'kube-dns', endpoints: [{ addresses: [COREDNS] }], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] },
  ],
};

const FRONTEND_WL = 'wl:shop/Deployment/frontend';
const BACKEND_WL = 'wl:shop/Deployment/backend';
const REPORTER_WL = 'wl:shop/Deployment/reporter';
const COREDNS_WL = 'wl:kube-system/Deployment/coredns';

type Step = [kind: 'tcp' | 'refused' | 'udp' | 'udp-nobody', from: [string, number], to: [string, number]];
const TRAFFIC: Step[] = [
  // 4 connections to the Service, 2 straight to the pod: one edge to the TARGET port, 6 connections.
  ...[41001, 41002, 41003, 41004].map((p): Step => ['tcp', [FRONTEND, p], [BACKEND_SVC, 80]]),
  ...[41005, 41006].map((p): Step => ['tcp', [FRONTEND, p], [BACKEND, 8080]]),
  // DNS: 3 queries through kube-dns, 2 to the DNS pod itself: one edge, 53/UDP, 5 connections.
  ...[42001, 42002, 42003].map((p): Step => ['udp', [FRONTEND, p], [DNS_SVC, 53]]),
  ...[42004, 42005].map((p): Step => ['udp', [FRONTEND, p], [COREDNS, 53]]),
  // Attempts nobody answered: [UNREPLIED], never an edge.
  ['refused', [FRONTEND, 43001], [BACKEND, 7777]],
  ['udp-nobody', [FRONTEND, 43002], [BACKEND, 9999]],
];

const edgesOf = (learner: Learner) => [...learner.edges.edges()].map((e) => `${e.client} -> ${e.server} ${e.port}/${e.protocol} x${e.count}`).sort();

describe.skipIf(unavailable !== undefined)('hivewall agent on real kernel conntrack', () => {
  const netns = new NetNs();
  const log = captureLogger('info');
  let testNs: TestNamespace;
  let agentToken: string;
  let intruderToken: string;
  let reviewCall: ReturnType<typeof kubeTokenReview>;
  let longLived: NodeProcess;
  let agent: Agent;
  let controllerLearner: Learner;
  let receiver: EdgeReceiver;
  let server: EdgeReceiverServer;
  let controllerPort: number;

  const startReceiver = async (port: number) => {
    controllerLearner = new Learner(new IdentityResolver(INVENTORY));
    const previous = receiver as EdgeReceiver | undefined;
    receiver = new EdgeReceiver({ authenticator: tokenReviewAuthenticator(reviewCall), store: controllerLearner.edges, logger: log.logger });
    if (previous) receiver.restoreSequences(previous.sequences());
    server = new EdgeReceiverServer({ receiver, host: '127.0.0.1', port, logger: log.logger });
    return (await server.listen()).port;
  };

  beforeAll(async () => {
    // The API server side: the agent's ServiceAccount in hivewall-system, an intruder elsewhere,
    // and a reviewer allowed to create TokenReviews (as the operator is, deploy/base/operator-rbac.yaml).
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    try {
      await core.createNamespace({ body: { metadata: { name: AGENT_NAMESPACE } } });
    } catch (err) {
      if (apiStatus(err) !== 409) throw err;
    }
    testNs = await createNamespace('agent');
    agentToken = (await serviceAccountIdentity(AGENT_NAMESPACE, AGENT_SERVICE_ACCOUNT)).token;
    intruderToken = (await serviceAccountIdentity(testNs.name, 'intruder')).token;
    const reviewer = await serviceAccountIdentity(testNs.name, 'edge-reviewer');
    await bindRole({ subject: reviewer, rules: [{ apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] }] });
    reviewCall = kubeTokenReview(reviewer.kubeConfig);
    controllerPort = await startReceiver(0);

    // The node: addresses, Service DNAT, servers, and a connection opened before the agent.
    await netns.create([FRONTEND, REPORTER, BACKEND, COREDNS], '10.96.0.0/16', NFT);
    const servers = netns.node(SERVERS_SCRIPT, [JSON.stringify([[BACKEND, 8080], [BACKEND, 9090]]), JSON.stringify([[COREDNS, 53]])]);
    await servers.waitFor('ready');
    longLived = netns.node(LONG_LIVED_SCRIPT, [JSON.stringify([REPORTER, 44001]), JSON.stringify([BACKEND, 9090])]);
    await longLived.waitFor('connected');
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await server?.close();
    await netns.destroy();
    await testNs?.delete();
  }, 60_000);

  it('learns exactly the expected edges: DNAT to the target port, DNS on 53/UDP, the long-lived connection from the dump', async () => {
    agent = new Agent({
      node: 'node-a',
      controllerUrl: `http://127.0.0.1:${controllerPort}`,
      token: async () => agentToken,
      inventory: new StaticInventorySource(INVENTORY),
      logger: log.logger,
      conntrackPrefix: netns.prefix,
      dumpIntervalMs: 1_000,
      shipIntervalMs: 300,
    });
    await agent.start();
    await eventually(() => agent.source.stats.dumps.ok >= 1 && agent.source.status().ok);
    // The long-lived connection predates the agent: only the dump can show it.
    await eventually(() => edgesOf(controllerLearner).includes(`${REPORTER_WL} -> ${BACKEND_WL} 9090/TCP x1`), 10_000);
    await sleepMs(300); // conntrack -E has subscribed to the event groups

    const traffic = netns.node(TRAFFIC_SCRIPT, [JSON.stringify(TRAFFIC)]);
    await traffic.done();

    const expected = [
      `${FRONTEND_WL} -> ${BACKEND_WL} 8080/TCP x6`,
      `${FRONTEND_WL} -> ${COREDNS_WL} 53/UDP x5`,
      `${REPORTER_WL} -> ${BACKEND_WL} 9090/TCP x1`,
    ].sort();
    await eventually(() => JSON.stringify(edgesOf(controllerLearner)) === JSON.stringify(expected), 15_000).catch(() => undefined);
    expect(edgesOf(controllerLearner)).toEqual(expected);
    // Three more dumps and ship rounds: the same connections seen again are not counted again.
    await sleepMs(3_200);
    expect(edgesOf(controllerLearner)).toEqual(expected);
    console.log(`kernel conntrack edges at the controller:\n  ${edgesOf(controllerLearner).join('\n  ')}`);

    expect(agent.source.stats.lines.events).toBeGreaterThan(20);
    expect(agent.source.stats.dumps.failed).toBe(0);
    expect(agent.source.stats.eventExits).toEqual({});
    expect(agent.aggregator.learner.stats.skipped.unconfirmed).toBeGreaterThanOrEqual(2); // the refused connect and the unanswered datagram
    expect(agent.aggregator.learner.unresolved.size).toBe(0);
    expect(receiver.stats.requests.accepted).toBeGreaterThanOrEqual(2);
    expect(agent.shipper.stats.outcomes).toMatchObject({ unauthorized: 0, rejected: 0 });
  }, 30_000);

  it('accepts only the agent ServiceAccount (TokenReview by the real API server): another SA is 403, garbage is 401', async () => {
    const before = edgesOf(controllerLearner);
    for (const [token, expected] of [[intruderToken, 'forbidden'], ['not-a-token', 'unauthenticated']] as const) {
      const aggregator = new EdgeAggregator({ identity: new IdentityResolver(INVENTORY) });
      aggregator.ingest({ kind: 'flow', flow: { time: Date.now(), source: { ip: FRONTEND, port: 45000 }, destination: { ip: BACKEND, port: 8080 }, protocol: 'TCP', verdict: 'FORWARDED', isReply: false, confirmed: true } });
      const shipper = new Shipper({ aggregator, controllerUrl: `http://127.0.0.1:${controllerPort}`, node: 'node-a', token: async () => token, logger: log.logger });
      const counted = receiver.stats.requests[expected];
      expect(await shipper.shipOnce()).toBe(false);
      expect(shipper.stats.outcomes.unauthorized).toBe(1);
      expect(aggregator.bufferedConnections()).toBe(1); // kept, not lost
      expect(receiver.stats.requests[expected]).toBe(counted + 1);
    }
    expect(edgesOf(controllerLearner)).toEqual(before);
    expect(log.find('edge push from a user that is not the agent').at(-1)).toMatchObject({ username: `system:serviceaccount:${testNs.name}:intruder` });
    expect(AGENT_USERNAME).toBe(`system:serviceaccount:${AGENT_NAMESPACE}:${AGENT_SERVICE_ACCOUNT}`);
  }, 30_000);

  it('restarts `conntrack -E` when it dies, counted, and keeps learning', async () => {
    const pid = agent.source.eventsPid;
    expect(pid).toBeGreaterThan(0);
    const before = edgesOf(controllerLearner);
    process.kill(pid!, 'SIGKILL'); // the agent's own child, by its pid
    await eventually(() => agent.source.stats.eventExits.exited === 1);
    await eventually(() => agent.source.eventsPid !== undefined && agent.source.eventsPid !== pid, 10_000);
    expect(agent.source.stats.eventStarts).toBe(2);
    await sleepMs(300);
    const traffic = netns.node(TRAFFIC_SCRIPT, [JSON.stringify([['tcp', [FRONTEND, 41201], [BACKEND_SVC, 80]]] satisfies Step[])]);
    await traffic.done();
    const expected = before.map((e) => e.replace(`${BACKEND_WL} 8080/TCP x6`, `${BACKEND_WL} 8080/TCP x7`));
    await eventually(() => JSON.stringify(edgesOf(controllerLearner)) === JSON.stringify(expected), 10_000).catch(() => undefined);
    expect(edgesOf(controllerLearner)).toEqual(expected);
    expect(log.find('conntrack events exited').at(-1)).toMatchObject({ kind: 'exited', detail: 'killed by SIGKILL' });
  }, 30_000);

  it('keeps deltas while the controller is down and delivers them once to the restarted controller', async () => {
    await server.close();
    const traffic = netns.node(TRAFFIC_SCRIPT, [JSON.stringify([41101, 41102].map((p): Step => ['tcp', [FRONTEND, p], [BACKEND_SVC, 80]]))]);
    await traffic.done();
    await eventually(() => agent.shipper.stats.consecutiveFailures >= 1 && agent.aggregator.bufferedConnections() === 2, 10_000);
    expect(agent.shipper.stats.lastError).toMatch(/ECONNREFUSED/);
    await startReceiver(controllerPort); // a new controller process: empty learner, sequences restored from its checkpoint
    await eventually(() => edgesOf(controllerLearner).length > 0, 15_000);
    await sleepMs(1_000);
    expect(edgesOf(controllerLearner)).toEqual([`${FRONTEND_WL} -> ${BACKEND_WL} 8080/TCP x2`]);
    expect(agent.aggregator.bufferedConnections()).toBe(0);
    expect(agent.aggregator.stats.droppedConnections).toBe(0);
  }, 30_000);
});

if (unavailable !== undefined) {
  // Say why in the report instead of passing silently.
  it('hivewall agent on real kernel conntrack', (ctx) => {
    ctx.skip(true, `skipped: ${unavailable}`);
  });
}
