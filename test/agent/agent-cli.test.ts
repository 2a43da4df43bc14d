// `hivewall agent` as it runs in a cluster, end to end: the CLI's startAgent with the agent
// ServiceAccount's kubeconfig (RBAC from deploy/base/agent-rbac.yaml, applied here) watching pods,
// ReplicaSets, Services and EndpointSlices in the real API server; conntrack in a network
// namespace; edge deltas to an EdgeReceiver that authenticates the agent's token with TokenReview.
// Then a pod is deleted and a late connection to its IP still resolves to its workload.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { CoreV1Api, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_NAMESPACE, AGENT_SERVICE_ACCOUNT } from '../../src/agent/rbac.js';
import { EdgeReceiver, EdgeReceiverServer, kubeTokenReview, tokenReviewAuthenticator } from '../../src/operator/receiver.js';
import { agentConfig, startAgent, type AgentRun } from '../../src/cli/agent-command.js';
import type { CliIo } from '../../src/cli/main.js';
import { EdgeStore } from '../../src/domain/edge-store.js';
import { issueCa, issueLeaf } from '../../src/operator/receiver-tls.js';
import { captureLogger } from '../../src/runtime/testing.js';
import { adminKubeConfig, apiStatus, bindRole, createNamespace, kubectl, serviceAccountIdentity, type TestNamespace } from '../harness/index.js';
import { eventually } from '../runtime/helpers.js';
import { kernelTestUnavailable, NetNs, SERVERS_SCRIPT, TRAFFIC_SCRIPT } from './netns.js';

const unavailable = kernelTestUnavailable();
const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

const WEB = '10.244.7.5';
const API = '10.244.7.7';

const edgesOf = (store: EdgeStore) => [...store.edges()].map((e) => `${e.client} -> ${e.server} ${e.port}/${e.protocol} x${e.count}`).sort();

describe.skipIf(unavailable !== undefined)('hivewall agent (CLI) against the API server and kernel conntrack', () => {
  const netns = new NetNs();
  const log = captureLogger('info');
  let ns: TestNamespace;
  let run: AgentRun | undefined;
  let server: EdgeReceiverServer;
  let store: EdgeStore;
  let controllerUrl: string;
  /** The receiver's CA, as the agent reads it from the ConfigMap mount. */
  let caFile: string;
  let clusterIp: string;
  const created: KubernetesObject[] = [];

  beforeAll(async () => {
    const kc = adminKubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const objects = KubernetesObjectApi.makeApiClient(kc);
    try {
      await core.createNamespace({ body: { metadata: { name: AGENT_NAMESPACE } } });
    } catch (err) {
      if (apiStatus(err) !== 409) throw err;
    }
    const applied = await kubectl(['apply', '-f', path.join(repo, 'deploy', 'base', 'agent-rbac.yaml')]);
    if (applied.code !== 0) throw new Error(`kubectl apply deploy/base/agent-rbac.yaml: ${applied.stderr}`);
    ns = await createNamespace('agent-cli');

    // Two Deployments' worth of objects, as the controllers would have made them.
    const rs = async (deployment: string, ip: string) => {
      const replicaSet = await objects.create({
        apiVersion: 'apps/v1', kind: 'ReplicaSet',
        metadata: { name: `${deployment}-5d8f7`, namespace: ns.name, labels: { app: deployment, 'pod-template-hash': '5d8f7' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment, uid: `00000000-0000-0000-0000-00000000000${deployment.length}`, controller: true }] },
        spec: { selector: { matchLabels: { app: deployment } }, template: { metadata: { labels: { app: deployment, 'pod-template-hash': '5d8f7' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
      } as KubernetesObject);
      const pod = await core.createNamespacedPod({
        namespace: ns.name,
        body: {
          metadata: { name: `${deployment}-5d8f7-abcde`, labels: { app: deployment, 'pod-template-hash': '5d8f7' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: replicaSet.metadata!.name!, uid: replicaSet.metadata!.uid!, controller: true }] },
          spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'busybox' }] },
        },
      });
      await core.replaceNamespacedPodStatus({ namespace: ns.name, name: pod.metadata!.name!, body: { ...pod, status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } } });
      created.push(pod);
    };
    await rs('web', WEB);
    await rs('api', API);
    const service = await core.createNamespacedService({ namespace: ns.name, body: { metadata: { name: 'api' }, spec: { selector: { app: 'api' }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] } } });
    clusterIp = service.spec!.clusterIP!;
    await objects.create({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: 'api-x1', namespace: ns.name, labels: { 'kubernetes.io/service-name': 'api' } },
      addressType: 'IPv4', endpoints: [{ addresses: [API] }], ports: [{ port: 8080, protocol: 'TCP' }],
    } as KubernetesObject);

    // The controller side: TokenReview as a reviewer allowed to create them.
    const reviewer = await serviceAccountIdentity(ns.name, 'edge-reviewer');
    await bindRole({ subject: reviewer, rules: [{ apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] }] });
    store = new EdgeStore();
    const receiver = new EdgeReceiver({ authenticator: tokenReviewAuthenticator(kubeTokenReview(reviewer.kubeConfig)), store, logger: log.logger });
    // HTTPS, as in production: the agent refuses an http:// receiver (its token travels in every request).
    const now = new Date();
    const ca = await issueCa({ now, validityMs: 3_600_000 });
    server = new EdgeReceiverServer({ receiver, host: '127.0.0.1', port: 0, tls: await issueLeaf({ ca, dnsNames: ['hivewall-operator.hivewall-system.svc'], now, validityMs: 3_600_000 }), logger: log.logger });
    controllerUrl = (await server.listen()).url;
    caFile = path.join(await mkdtemp(path.join(tmpdir(), 'hivewall-ca-')), 'ca.crt');
    await writeFile(caFile, ca.cert);

    // The node: the two pods' addresses and the Service's DNAT (to the ClusterIP the API server allocated).
    await netns.create([WEB, API], `${clusterIp}/32`, `table ip hivewall_test {
  chain output {
    type nat hook output priority -100;
    ip daddr ${clusterIp} tcp dport 80 dnat to ${API}:8080
  }
}
`);
    const servers = netns.node(SERVERS_SCRIPT, [JSON.stringify([[API, 8080]]), '[]']);
    await servers.waitFor('ready');
  }, 90_000);

  afterAll(async () => {
    await run?.stop();
    await server?.close();
    await netns.destroy();
    // Pods on a node nobody runs: delete them at once, or they stay Terminating (and their IPs in etcd).
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    for (const pod of created) await core.deleteNamespacedPod({ namespace: ns.name, name: pod.metadata!.name!, gracePeriodSeconds: 0 }).catch(() => undefined);
    await ns?.delete();
  }, 60_000);

  it('runs with the agent ServiceAccount and deploy/ RBAC: ready, learns Service traffic, a deleted pod still resolves', async () => {
    const agentSa = await serviceAccountIdentity(AGENT_NAMESPACE, AGENT_SERVICE_ACCOUNT);
    const dir = await mkdtemp(path.join(tmpdir(), 'hivewall-agent-'));
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, `${agentSa.token}\n`);
    const config = agentConfig({
      controllerUrl, controllerCaFile: caFile, controllerServerName: 'hivewall-operator.hivewall-system.svc', nodeName: 'node-a', kubeconfig: agentSa.kubeconfigPath, tokenFile, conntrackPrefix: netns.prefix.join(' '),
      dumpIntervalMs: '1000', shipIntervalMs: '300', inventoryRefreshMs: '200', healthPort: '0', bindAddress: '127.0.0.1', logLevel: 'warn',
    }, {});
    const io: CliIo = { stdout: new PassThrough(), stderr: new PassThrough(), stdin: Readable.from(['']) };
    run = await startAgent(config, io, { handleSignals: false });
    const readyz = async () => (await fetch(`http://127.0.0.1:${run!.healthPort}/readyz?verbose`)).text();
    await eventually(async () => (await readyz()).includes('readyz check passed'), 20_000).catch(async () => {
      throw new Error(`agent not ready:\n${await readyz()}`);
    });
    await new Promise((r) => setTimeout(r, 300)); // conntrack -E subscribed

    const traffic = netns.node(TRAFFIC_SCRIPT, [JSON.stringify([41001, 41002, 41003].map((p) => ['tcp', [WEB, p], [clusterIp, 80]]))]);
    await traffic.done();
    const web = `wl:${ns.name}/Deployment/web`;
    const api = `wl:${ns.name}/Deployment/api`;
    await eventually(() => edgesOf(store).join() === `${web} -> ${api} 8080/TCP x3`, 15_000).catch(() => undefined);
    expect(edgesOf(store)).toEqual([`${web} -> ${api} 8080/TCP x3`]);

    // The api pod is deleted; a connection to its address that conntrack reports late still resolves.
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    await core.deleteNamespacedPod({ namespace: ns.name, name: created[1]!.metadata!.name!, gracePeriodSeconds: 0 });
    await eventually(() => run!.agent.history.stats.rememberedPods === 1, 15_000);
    const late = netns.node(TRAFFIC_SCRIPT, [JSON.stringify([['tcp', [WEB, 41004], [API, 8080]]])]);
    await late.done();
    await eventually(() => edgesOf(store).join() === `${web} -> ${api} 8080/TCP x4`, 15_000).catch(() => undefined);
    expect(edgesOf(store)).toEqual([`${web} -> ${api} 8080/TCP x4`]);

    const metrics = await (await fetch(`http://127.0.0.1:${run.healthPort}/metrics`)).text();
    expect(metrics).toContain('hivewall_agent_connections_learned_total 4');
    expect(metrics).toContain('hivewall_agent_identity_pods{state="remembered"} 1');
    expect(metrics).toMatch(/hivewall_agent_ship_requests_total\{outcome="acked"\} [1-9]/);
    await run.stop();
    await run.done;
    run = undefined;
  }, 60_000);
});

if (unavailable !== undefined) {
  it('hivewall agent (CLI) against the API server and kernel conntrack', (ctx) => {
    ctx.skip(true, `skipped: ${unavailable}`);
  });
}
