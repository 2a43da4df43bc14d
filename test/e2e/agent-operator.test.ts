/**
 * The conntrack agent and the operator end to end, nothing mocked between kernel and proposal:
 *
 * - a network namespace plays the node: pods are /32 addresses on its loopback, the Services'
 *   ClusterIPs (allocated by the real API server) are nftables DNAT rules, servers and clients are
 *   Node scripts inside it, so the kernel's conntrack table holds real TCP and UDP connections;
 * - the cluster objects (Deployments → ReplicaSets → Pods with their IPs, Services, EndpointSlices)
 *   are in the real API server, in two namespaces: `shop` (web, api, reporter) and `dns` (a
 *   DNS-like server behind a UDP 53 Service, so web → dns is a cross-namespace edge);
 * - `hivewall operator` runs as a separate process as its ServiceAccount with the deploy/ RBAC and
 *   serves the edge receiver over HTTPS with the certificate it issued itself (Secret
 *   hivewall-receiver-tls, CA in ConfigMap hivewall-receiver-ca);
 * - the agent (`startAgent`, in-process) runs as the agent ServiceAccount, trusts the published CA
 *   and dials 127.0.0.1 with `controllerServerName` = the Service's DNS name.
 *
 * Asserted: the operator's TrafficProfile holds exactly the expected edges and counts (the
 * long-lived connection opened before the agent, learned from the dump; the refused connect and
 * the unanswered datagram are not edges); the PolicyProposal holds exactly the hand-written
 * NetworkPolicies below; the independent simulator allows every observed connection and denies
 * the others; receiver metrics and the checkpoint; and after a SIGKILL of the operator, the
 * connections the agent buffered meanwhile arrive once, old counts are not counted again, and a
 * follow-up proposal covers the new edge.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpTransport } from '../../src/agent/shipper.js';
import { agentConfig, startAgent, type AgentRun } from '../../src/cli/agent-command.js';
import type { CliIo } from '../../src/cli/main.js';
import { buildClusterModel, createEvaluator, type L4Protocol, type Policy } from '../../src/domain/simulate/index.js';
import { kernelTestUnavailable, LONG_LIVED_SCRIPT, NetNs, SERVERS_SCRIPT, TRAFFIC_SCRIPT } from '../agent/netns.js';
import { adminKubeConfig, adminKubeconfigPath, createNamespace, kubectl, kubectlOk, serviceAccountIdentity, type Identity, type TestNamespace } from '../harness/index.js';
import { eventually as eventuallyIn, getJson, OperatorProcesses, ROOT, type Json } from './operator-process.js';

const unavailable = kernelTestUnavailable();

const SYSTEM_NS = 'hivewall-system';
/** What the receiver's certificate names (the operator Service), never the address the agent dials. */
const SERVER_NAME = `hivewall-operator.${SYSTEM_NS}.svc`;
const AGENT_USER = `system:serviceaccount:${SYSTEM_NS}:hivewall-agent`;
const NODE = 'node-a';
const IDENTITY = 'agent-e2e-op';

// Pod addresses no other test file uses (the API server is shared by every file of a run).
const WEB = '10.244.42.5';
const REPORTER = '10.244.42.6';
const API = '10.244.42.7';
const DNS = '10.244.43.53';

const admin = () => ({ kubeconfig: adminKubeconfigPath() });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Step = [kind: 'tcp' | 'refused' | 'udp' | 'udp-nobody', from: [string, number], to: [string, number]];

/**
 * Key-order- and array-order-independent JSON. Every list in a NetworkPolicy is a set (rules,
 * peers, ports, policyTypes), so two policies are the same iff their canonical forms are equal.
 */
function canonical(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort).map((x) => JSON.stringify(x)).sort().map((s) => JSON.parse(s) as unknown);
    if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]));
    return v;
  };
  return JSON.stringify(sort(value));
}

/** The operator's log lines (pino JSON) of one process. */
function logEntries(operators: OperatorProcesses, identity: string): Json[] {
  return (operators.logs.get(identity) ?? []).join('').split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as Json];
    } catch {
      return [];
    }
  });
}

/** TrafficProfile edges as text (protocol indexes as documented on the CRD: 0 TCP, 1 UDP, 2 SCTP, 3 ICMPv4, 4 ICMPv6). */
function profileEdges(profile: Json): string[] {
  const protocols = ['TCP', 'UDP', 'SCTP', 'ICMPv4', 'ICMPv6'];
  const peers = profile.spec.peers as string[];
  return (profile.spec.edges as number[][]).map(([c, s, port, proto, count]) => `${peers[c!]} -> ${peers[s!]} ${port}/${protocols[proto!]} x${count}`).sort();
}

/** The (client, server, port, protocol) of every edge behind a proposal's rules. */
function evidenceEdges(proposal: Json): string[] {
  const edges = (proposal.spec.content.evidence as { edges: { client: string; server: string; port: number; protocol: string }[] }[])
    .flatMap((r) => r.edges.map((e) => `${e.client} -> ${e.server} ${e.port}/${e.protocol}`));
  return [...new Set(edges)].sort();
}

describe.skipIf(unavailable !== undefined)('conntrack agent → operator (HTTPS receiver) → proposal, on kernel conntrack', () => {
  const netns = new NetNs();
  let shop: TestNamespace;
  let dnsNs: TestNamespace;
  let operatorSa: Identity;
  let ops: OperatorProcesses;
  let run: AgentRun | undefined;
  let receiverPort: number;
  let apiClusterIp: string;
  let dnsClusterIp: string;
  let work: string;
  const pods: { namespace: string; name: string }[] = [];

  const eventually = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000) => eventuallyIn(what, fn, timeoutMs, ops);
  const wl = (ns: string, name: string) => `wl:${ns}/Deployment/${name}`;

  /** A Deployment, its ReplicaSet and one running Pod at `ip`, as the controllers and the kubelet would leave them. */
  async function workload(namespace: string, name: string, ip: string, ports: { containerPort: number; protocol: 'TCP' | 'UDP'; name: string }[], extraLabels: Record<string, string> = {}) {
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    const objects = KubernetesObjectApi.makeApiClient(adminKubeConfig());
    const hash = '6b4f9d7c5';
    const labels = { app: name, ...extraLabels };
    const podSpec = { containers: [{ name, image: `registry.example/${name}:1`, ports }] };
    const deployment = await objects.create({
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name, namespace, labels },
      spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels }, spec: podSpec } },
    } as KubernetesObject);
    const replicaSet = await objects.create({
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: { name: `${name}-${hash}`, namespace, labels: { ...labels, 'pod-template-hash': hash }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: deployment.metadata!.uid!, controller: true }] },
      spec: { replicas: 1, selector: { matchLabels: { app: name, 'pod-template-hash': hash } }, template: { metadata: { labels: { ...labels, 'pod-template-hash': hash } }, spec: podSpec } },
    } as KubernetesObject);
    const podName = `${name}-${hash}-${ip.split('.').at(-1)!.padStart(5, 'x')}`;
    const pod = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: podName, labels: { ...labels, 'pod-template-hash': hash }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: replicaSet.metadata!.name!, uid: replicaSet.metadata!.uid!, controller: true }] },
        spec: { nodeName: NODE, ...podSpec },
      },
    });
    pods.push({ namespace, name: podName });
    await core.replaceNamespacedPodStatus({ namespace, name: podName, body: { ...pod, status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } } });
  }

  /** A ClusterIP Service and its EndpointSlice; returns the ClusterIP the API server allocated. */
  async function service(namespace: string, name: string, app: string, port: number, targetPort: number, protocol: 'TCP' | 'UDP', backend: string): Promise<string> {
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    const objects = KubernetesObjectApi.makeApiClient(adminKubeConfig());
    const svc = await core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { selector: { app }, ports: [{ name: 'main', port, targetPort, protocol }] } } });
    await objects.create({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: `${name}-x7k2p`, namespace, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4', endpoints: [{ addresses: [backend], conditions: { ready: true } }], ports: [{ name: 'main', port: targetPort, protocol }],
    } as KubernetesObject);
    return svc.spec!.clusterIP!;
  }

  /** Starts an operator replica (this file's identity) and waits for its receiver URL and health port. */
  async function startOperator(port: number): Promise<{ port: number; healthPort: number }> {
    ops.start(IDENTITY, ['--receiver-port', String(port)]);
    const listening = await eventually('the edge receiver listening', async () => logEntries(ops, IDENTITY).find((e) => e.msg === 'edge receiver listening'), 30_000);
    const starting = logEntries(ops, IDENTITY).find((e) => e.msg === 'operator starting')!;
    const url = new URL(listening.url as string);
    expect(url.protocol).toBe('https:'); // the real TLS path, not --receiver-insecure
    return { port: Number(url.port), healthPort: starting.port as number };
  }

  const metricsOf = async (healthPort: number) => (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  const metric = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  };
  /** Lists every hivewall resource cluster-wide (what a new leader does first) until it works 5 times in a row. */
  async function crdsServed(): Promise<void> {
    const api = adminKubeConfig().makeApiClient(CustomObjectsApi);
    let inARow = 0;
    await eventually('hivewall\'s CRDs served after `kubectl apply -k deploy`', async () => {
      try {
        for (const plural of ['segmentations', 'policyproposals', 'trafficprofiles']) await api.listClusterCustomObject({ group: 'hivewall.dev', version: 'v1alpha1', plural });
        inARow++;
      } catch {
        inARow = 0;
      }
      await sleep(100);
      return inARow >= 5;
    }, 30_000);
  }

  const trafficProfile = () => getJson(['trafficprofile', 'shop', '-n', shop.name]).catch(() => undefined);
  const send = async (steps: Step[]) => netns.node(TRAFFIC_SCRIPT, [JSON.stringify(steps)]).done();

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'hivewall-agent-operator-'));
    // The operator and agent ServiceAccounts with exactly the deploy/ RBAC.
    await kubectlOk(['apply', '-k', path.join(ROOT, 'deploy')], admin());
    operatorSa = await serviceAccountIdentity(SYSTEM_NS, 'hivewall-operator');

    shop = await createNamespace('ag-shop');
    dnsNs = await createNamespace('ag-dns');
    // `part-of` is on every shop pod: a selector built from it would select the whole namespace.
    await workload(shop.name, 'web', WEB, [], { 'app.kubernetes.io/part-of': 'shop' });
    await workload(shop.name, 'reporter', REPORTER, [], { 'app.kubernetes.io/part-of': 'shop' });
    await workload(shop.name, 'api', API, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }], { 'app.kubernetes.io/part-of': 'shop' });
    await workload(dnsNs.name, 'dns', DNS, [{ name: 'dns', containerPort: 53, protocol: 'UDP' }]);
    apiClusterIp = await service(shop.name, 'api', 'api', 80, 8080, 'TCP', API);
    dnsClusterIp = await service(dnsNs.name, 'dns', 'dns', 53, 53, 'UDP', DNS);

    // The node: pod addresses, the two Services as DNAT (to the ClusterIPs the API server allocated).
    await netns.create([WEB, REPORTER, API, DNS], `${apiClusterIp}/32`, `table ip hivewall_test {
  chain output {
    type nat hook output priority -100;
    ip daddr ${apiClusterIp} tcp dport 80 dnat to ${API}:8080
    ip daddr ${dnsClusterIp} udp dport 53 dnat to ${DNS}:53
  }
}
`);
    await netns.exec('ip', ['route', 'add', `${dnsClusterIp}/32`, 'dev', 'lo']);
    const servers = netns.node(SERVERS_SCRIPT, [JSON.stringify([[API, 8080]]), JSON.stringify([[DNS, 53]])]);
    await servers.waitFor('ready');
    // reporter → api through the Service, opened BEFORE the agent starts: only a dump can show it.
    const longLived = netns.node(LONG_LIVED_SCRIPT, [JSON.stringify([REPORTER, 44001]), JSON.stringify([apiClusterIp, 80])]);
    await longLived.waitFor('connected');

    ops = new OperatorProcesses(operatorSa.kubeconfigPath);
    // `apply -k deploy` changed the CRDs the harness installed (kustomize adds its labels): the API
    // server rebuilds their watch caches and answers 429 "storage is (re)initializing" for a moment. Start the operator
    // once hivewall's resources are served again, as an installer waiting for its CRDs would.
    await crdsServed();
  }, 90_000);

  afterAll(async () => {
    await run?.stop();
    await ops?.stop(IDENTITY, 'SIGTERM'); // releases the Lease for the next test file
    await ops?.stopAll();
    await netns.destroy();
    if (shop) {
      // The Segmentation's finalizer is the operator's to remove, and there is no garbage collector:
      // take hivewall's objects away by hand, then everything else.
      await kubectl(['patch', 'segmentation', 'shop', '-n', shop.name, '--type=merge', '-p', '{"metadata":{"finalizers":null}}'], admin());
      await kubectl(['delete', 'segmentations,policyproposals,trafficprofiles,networkpolicies', '--all', '-n', shop.name, '--wait=false'], admin());
    }
    // Pods on a node nobody runs: delete them at once, or they stay Terminating (and their IPs in etcd).
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    for (const pod of pods) await core.deleteNamespacedPod({ ...pod, gracePeriodSeconds: 0 }).catch(() => undefined);
    for (const ns of [shop, dnsNs]) {
      if (!ns) continue;
      await kubectl(['delete', 'deployments,replicasets,services,endpointslices', '--all', '-n', ns.name, '--wait=false'], admin());
      await ns.delete();
    }
  }, 60_000);

  const expectedEdges = () => [
    `${wl(shop.name, 'reporter')} -> ${wl(shop.name, 'api')} 8080/TCP x1`,
    `${wl(shop.name, 'web')} -> ${wl(dnsNs.name, 'dns')} 53/UDP x3`,
    `${wl(shop.name, 'web')} -> ${wl(shop.name, 'api')} 8080/TCP x4`,
  ].sort();

  // ------------------------------------------------------------------------------------------------
  // The expected policies, written from Kubernetes NetworkPolicy semantics and docs/architecture.md §4, not
  // from hivewall's generator: a namespace default deny (both directions), then per workload one
  // policy selecting exactly its pods by its stable `app` label (never pod-template-hash, never the
  // namespace-wide part-of label), isolated in both directions, with one rule per observed peer on
  // the pod port after Service translation (80 → 8080). A peer in another namespace is
  // namespaceSelector(kubernetes.io/metadata.name) AND podSelector in one element. Egress to an
  // observed DNS server keeps name resolution working on 53/UDP and 53/TCP (allow.dns, default on).
  // ------------------------------------------------------------------------------------------------
  function expectedPolicies(apiResolves: boolean) {
    const ns = shop.name;
    const policy = (name: string, spec: Json, workloadName?: string) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: {
        name, namespace: ns, labels: { 'app.kubernetes.io/managed-by': 'hivewall' },
        ...(workloadName ? { annotations: { 'hivewall.dev/workload': `Deployment/${workloadName}` } } : {}),
      },
      spec,
    });
    const app = (name: string) => ({ matchLabels: { app: name } });
    const both = ['Ingress', 'Egress'];
    const toApi = { to: [{ podSelector: app('api') }], ports: [{ protocol: 'TCP', port: 8080 }] };
    const toDns = {
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': dnsNs.name } }, podSelector: app('dns') }],
      ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
    };
    return [
      policy('hivewall-default-deny', { podSelector: {}, policyTypes: both }),
      // api: reached by web (3 connections through the Service, 1 to the pod) and by reporter's
      // long-lived connection; it reaches nobody, until the DNS lookup made while the operator was down.
      policy('hivewall-api', {
        podSelector: app('api'), policyTypes: both,
        ingress: [
          { from: [{ podSelector: app('web') }], ports: [{ protocol: 'TCP', port: 8080 }] },
          { from: [{ podSelector: app('reporter') }], ports: [{ protocol: 'TCP', port: 8080 }] },
        ],
        ...(apiResolves ? { egress: [toDns] } : {}),
      }, 'api'),
      // reporter: nobody connects to it; it reaches api.
      policy('hivewall-reporter', { podSelector: app('reporter'), policyTypes: both, egress: [toApi] }, 'reporter'),
      // web: nobody connects to it; it reaches api and the DNS server in the other namespace.
      // Neither the refused connect (api:7777) nor the unanswered datagram (dns:5353) is allowed.
      policy('hivewall-web', { podSelector: app('web'), policyTypes: both, egress: [toApi, toDns] }, 'web'),
    ];
  }

  /** The latest proposal once its evidence is exactly `edges` (earlier revisions may have seen fewer). */
  async function proposalCovering(edges: string[]): Promise<Json> {
    const want = edges.map((e) => e.replace(/ x\d+$/, '')).sort();
    return eventually(`a proposal whose evidence is ${JSON.stringify(want)}`, async () => {
      const seg = await getJson(['segmentation', 'shop', '-n', shop.name]);
      const name = seg.status?.proposal?.name as string | undefined;
      if (!name) return undefined;
      const proposal = await getJson(['policyproposal', name, '-n', shop.name]);
      return JSON.stringify(evidenceEdges(proposal)) === JSON.stringify(want) ? proposal : undefined;
    }, 30_000);
  }

  function expectSameObjects(actual: Json[], expected: Json[]) {
    const byName = (objects: Json[]) => Object.fromEntries(objects.map((o) => [o.metadata.name as string, JSON.parse(canonical(o)) as Json]));
    expect(byName(actual)).toEqual(byName(expected));
  }

  /** Every pod and namespace of the two test namespaces, as the API server lists them. */
  async function clusterObjects(): Promise<Json[]> {
    return Promise.all([
      getJson(['namespaces', shop.name, dnsNs.name]),
      getJson(['pods', '-n', shop.name]),
      getJson(['pods', '-n', dnsNs.name]),
      getJson(['services', '-n', shop.name]),
      getJson(['services', '-n', dnsNs.name]),
    ]);
  }

  let healthPort: number;

  it('learns exactly the expected edges from kernel conntrack, shipped over the self-issued TLS certificate', async () => {
    ({ port: receiverPort, healthPort } = await startOperator(0));
    // The receiver's certificate: issued by the operator, its CA published for the agents.
    const secret = await eventually('Secret hivewall-receiver-tls', async () => getJson(['secret', 'hivewall-receiver-tls', '-n', SYSTEM_NS]).catch(() => undefined));
    expect(secret.type).toBe('kubernetes.io/tls');
    const caMap = await eventually('ConfigMap hivewall-receiver-ca', async () => getJson(['configmap', 'hivewall-receiver-ca', '-n', SYSTEM_NS]).catch(() => undefined));
    const caPem = caMap.data['ca.crt'] as string;
    expect(Buffer.from(secret.data['ca.crt'] as string, 'base64').toString()).toBe(caPem);
    expect(Object.keys(caMap.data)).toEqual(['ca.crt']); // never a key
    const caFile = path.join(work, 'ca.crt');
    await writeFile(caFile, caPem);
    // The certificate is really checked (the agent's own requests below succeed only with both): it
    // does not name 127.0.0.1, and trusting it takes the published CA.
    const probe = (opts: Parameters<typeof httpTransport>[0]) => httpTransport(opts)({ url: `https://127.0.0.1:${receiverPort}/v1/edges`, headers: {}, body: '{}', timeoutMs: 5_000 })
      .then((r) => `HTTP ${r.status}`, (e: NodeJS.ErrnoException) => e.code);
    expect(await probe({ ca: caPem })).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(await probe({ servername: SERVER_NAME })).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');

    await kubectlOk(['apply', '-f', '-'], { ...admin(), input: `apiVersion: hivewall.dev/v1alpha1
kind: Segmentation
metadata: {name: shop, namespace: ${shop.name}}
spec:
  mode: Learn
  flavor: NetworkPolicy
  learning: {window: 2s, stableFor: 2s}
` });

    const agentSa = await serviceAccountIdentity(SYSTEM_NS, 'hivewall-agent');
    // As deploy/agent-daemonset.yaml projects it: a token for the receiver's audience (the
    // kubeconfig's API-server token is for the agent's own reads).
    const receiverToken = await serviceAccountIdentity(SYSTEM_NS, 'hivewall-agent', { audiences: ['hivewall-receiver'] });
    const tokenFile = path.join(work, 'token');
    await writeFile(tokenFile, `${receiverToken.token}\n`);
    const config = agentConfig({
      controllerUrl: `https://127.0.0.1:${receiverPort}`, controllerCaFile: caFile, controllerServerName: SERVER_NAME,
      nodeName: NODE, kubeconfig: agentSa.kubeconfigPath, tokenFile, conntrackPrefix: netns.prefix.join(' '),
      dumpIntervalMs: '1000', shipIntervalMs: '300', inventoryRefreshMs: '200', healthPort: '0', bindAddress: '127.0.0.1', logLevel: 'warn',
    }, {});
    const io: CliIo = { stdout: new PassThrough(), stderr: new PassThrough(), stdin: Readable.from(['']) };
    run = await startAgent(config, io, { handleSignals: false });
    const agent = run.agent;
    const reporterEdge = `${wl(shop.name, 'reporter')} -> ${wl(shop.name, 'api')} 8080/TCP x1`;
    // The long-lived connection predates the agent: it reaches the operator from the first dump.
    await eventually('the long-lived connection in the TrafficProfile', async () => {
      const tp = await trafficProfile();
      return tp && profileEdges(tp).includes(reporterEdge);
    });
    await sleep(300); // conntrack -E has subscribed

    await send([
      // web → api: three through the Service (ClusterIP:80 DNAT to 8080), one to the pod itself.
      ...[41001, 41002, 41003].map((p): Step => ['tcp', [WEB, p], [apiClusterIp, 80]]),
      ['tcp', [WEB, 41004], [API, 8080]],
      // web → dns: two queries through the Service (another namespace), one to the pod.
      ...[42001, 42002].map((p): Step => ['udp', [WEB, p], [dnsClusterIp, 53]]),
      ['udp', [WEB, 42003], [DNS, 53]],
      // Attempts nobody answered: never edges.
      ['refused', [WEB, 43001], [API, 7777]],
      ['udp-nobody', [WEB, 43002], [DNS, 5353]],
    ]);

    // (a) exactly these edges, with these counts, in the operator's TrafficProfile.
    const expected = expectedEdges();
    await eventually('the expected TrafficProfile', async () => {
      const tp = await trafficProfile();
      return tp && JSON.stringify(profileEdges(tp)) === JSON.stringify(expected);
    }).catch(() => undefined);
    expect(profileEdges((await trafficProfile())!)).toEqual(expected);
    // More dumps and ship rounds: the same connections seen again are not counted again.
    await sleep(2_500);
    const tp = (await trafficProfile())!;
    expect(profileEdges(tp)).toEqual(expected);
    expect(tp.spec.flows).toBe(8);

    expect(agent.aggregator.learner.stats.skipped.unconfirmed).toBeGreaterThanOrEqual(2); // the refused connect, the unanswered datagram
    expect(agent.aggregator.learner.unresolved.size).toBe(0);
    expect(agent.shipper.stats.outcomes).toMatchObject({ unauthorized: 0, rejected: 0 });
    expect(agent.aggregator.bufferedConnections()).toBe(0);

    // (d) the receiver's metrics on the operator's /metrics, and the agent's sequence in the checkpoint.
    const metrics = await metricsOf(healthPort);
    expect(metric(metrics, 'hivewall_edge_receiver_requests_total{result="accepted"}')).toBeGreaterThan(0);
    expect(metric(metrics, 'hivewall_edge_receiver_connections_total')).toBe(8);
    for (const refused of ['unauthenticated', 'forbidden', 'invalid', 'bad-json']) expect(metric(metrics, `hivewall_edge_receiver_requests_total{result="${refused}"}`)).toBe(0);
    const agentKey = `${AGENT_USER}\n${NODE}\n${agent.shipper.instance}`;
    await eventually('the agent\'s sequence in the checkpoint', async () => {
      const cm = await getJson(['configmap', 'hivewall-flow-checkpoint', '-n', SYSTEM_NS]);
      const agents = JSON.parse((cm.data?.['agents.json'] as string | undefined) ?? '{}') as Record<string, number>;
      return agents[agentKey] === agent.aggregator.lastSeq;
    }, 15_000);
    expect(agent.aggregator.lastSeq).toBeGreaterThanOrEqual(2); // the dump's batch, then the traffic's
  }, 60_000);

  it('proposes exactly the expected NetworkPolicies, which the API server accepts', async () => {
    const proposal = await proposalCovering(expectedEdges());
    expect(proposal.spec.content.flavor).toBe('NetworkPolicy');
    expect(proposal.spec.content.skipped).toEqual([]);
    expectSameObjects(proposal.spec.content.objects as Json[], expectedPolicies(false));
    const dryRun = await kubectl(['apply', '--dry-run=server', '-f', '-'], { ...admin(), input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: proposal.spec.content.objects }) });
    expect(dryRun.stderr).toBe('');
    expect(dryRun.code).toBe(0);
  }, 45_000);

  /** Judges connections (after DNAT: pod address and pod port) against `policies` with the independent simulator. */
  async function judge(policies: Json[], connections: [from: string, to: string, port: number, protocol: L4Protocol][]) {
    const evaluator = createEvaluator(buildClusterModel(await clusterObjects()), policies as unknown as Policy[]);
    expect(evaluator.ignoredPolicies).toEqual([]);
    const name = new Map([[WEB, 'web'], [REPORTER, 'reporter'], [API, 'api'], [DNS, 'dns']]);
    return Object.fromEntries(connections.map(([from, to, port, protocol]) => [
      `${name.get(from)} -> ${name.get(to)} ${port}/${protocol}`,
      evaluator.evaluate({ source: { kind: 'ip', ip: from }, destination: { kind: 'ip', ip: to }, port, protocol }).allowed,
    ]));
  }

  it('allows every observed connection and denies the others (independent policy simulator)', async () => {
    const proposal = await proposalCovering(expectedEdges());
    const verdicts = await judge(proposal.spec.content.objects as Json[], [
      // observed
      [WEB, API, 8080, 'TCP'], [WEB, DNS, 53, 'UDP'], [REPORTER, API, 8080, 'TCP'],
      // not observed, allowed on purpose: DNS over TCP (allow.dns)
      [WEB, DNS, 53, 'TCP'],
      // the refused connect and the unanswered datagram
      [WEB, API, 7777, 'TCP'], [WEB, DNS, 5353, 'UDP'],
      // other pod/port combinations nobody used
      [API, DNS, 53, 'UDP'], [API, WEB, 8080, 'TCP'], [REPORTER, DNS, 53, 'UDP'], [REPORTER, WEB, 8080, 'TCP'],
      [WEB, REPORTER, 44001, 'TCP'], [WEB, API, 8080, 'UDP'], [DNS, WEB, 41001, 'TCP'], [DNS, API, 8080, 'TCP'],
    ]);
    expect(verdicts).toEqual({
      'web -> api 8080/TCP': true, 'web -> dns 53/UDP': true, 'reporter -> api 8080/TCP': true, 'web -> dns 53/TCP': true,
      'web -> api 7777/TCP': false, 'web -> dns 5353/UDP': false,
      'api -> dns 53/UDP': false, 'api -> web 8080/TCP': false, 'reporter -> dns 53/UDP': false, 'reporter -> web 8080/TCP': false,
      'web -> reporter 44001/TCP': false, 'web -> api 8080/UDP': false, 'dns -> web 41001/TCP': false, 'dns -> api 8080/TCP': false,
    });
  }, 30_000);

  it('after a SIGKILL of the operator, what the agent buffered arrives once, old counts are not counted again', async () => {
    const agent = run!.agent;
    const before = profileEdges((await trafficProfile())!);
    expect(before).toEqual(expectedEdges());
    await ops.stop(IDENTITY, 'SIGKILL');

    // While the operator is down: two more web → api connections and a new edge, api's DNS lookup.
    await send([
      ...[41101, 41102].map((p): Step => ['tcp', [WEB, p], [apiClusterIp, 80]]),
      ['udp', [API, 42101], [dnsClusterIp, 53]],
    ]);
    await eventually('the agent buffering while the operator is down', async () => agent.shipper.stats.consecutiveFailures >= 1 && agent.aggregator.bufferedConnections() === 3, 15_000);
    expect(agent.shipper.stats.lastError).toMatch(/ECONNREFUSED|ECONNRESET/);

    // The same replica again, on the same port (what the Service points at), with the same certificate.
    const restarted = await startOperator(receiverPort);
    expect(restarted.port).toBe(receiverPort);
    const expected = [
      ...before.map((e) => e.replace(`${wl(shop.name, 'api')} 8080/TCP x4`, `${wl(shop.name, 'api')} 8080/TCP x6`)),
      `${wl(shop.name, 'api')} -> ${wl(dnsNs.name, 'dns')} 53/UDP x1`,
    ].sort();
    await eventually('the buffered connections in the TrafficProfile', async () => {
      const tp = await trafficProfile();
      return tp && JSON.stringify(profileEdges(tp)) === JSON.stringify(expected);
    }).catch(() => undefined);
    expect(profileEdges((await trafficProfile())!)).toEqual(expected);
    await sleep(2_000);
    expect(profileEdges((await trafficProfile())!)).toEqual(expected);
    expect(agent.aggregator.bufferedConnections()).toBe(0);
    expect(agent.aggregator.stats.droppedConnections).toBe(0);

    // The new process merged exactly the three buffered connections.
    const metrics = await metricsOf(restarted.healthPort);
    expect(metric(metrics, 'hivewall_edge_receiver_connections_total')).toBe(3);
    expect(metric(metrics, 'hivewall_edge_receiver_requests_total{result="accepted"}')).toBeGreaterThan(0);
    const agentKey = `${AGENT_USER}\n${NODE}\n${agent.shipper.instance}`;
    await eventually('the agent\'s new sequence in the checkpoint', async () => {
      const cm = await getJson(['configmap', 'hivewall-flow-checkpoint', '-n', SYSTEM_NS]);
      return (JSON.parse(cm.data['agents.json'] as string) as Record<string, number>)[agentKey] === agent.aggregator.lastSeq;
    }, 15_000);

    // A follow-up proposal: api now reaches the DNS server, and nothing else changed.
    const proposal = await proposalCovering(expected);
    expect(proposal.spec.content.revision).toBeGreaterThanOrEqual(2);
    expectSameObjects(proposal.spec.content.objects as Json[], expectedPolicies(true));
    const verdicts = await judge(proposal.spec.content.objects as Json[], [[API, DNS, 53, 'UDP'], [API, DNS, 5353, 'UDP'], [API, WEB, 8080, 'TCP']]);
    expect(verdicts).toEqual({ 'api -> dns 53/UDP': true, 'api -> dns 5353/UDP': false, 'api -> web 8080/TCP': false });
  }, 60_000);

  it('safety net: an nftables drop leaves a real SYN_SENT [UNREPLIED] entry; counted as denied, the client\'s policy rolled back, the edge proposed for review only', async () => {
    // Enforce the latest proposal (no reviewer needed for one without denied edges), roll back on the first denial.
    // Turning review off must be signed by the requesting user (the hivewall-segmentation-guard admission policy).
    const me = (await kubectlOk(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], admin())).trim();
    await kubectlOk(['apply', '-f', '-'], { ...admin(), input: `apiVersion: hivewall.dev/v1alpha1
kind: Segmentation
metadata: {name: shop, namespace: ${shop.name}, annotations: {hivewall.dev/approval-waived-by: ${me}}}
spec:
  mode: Enforce
  flavor: NetworkPolicy
  learning: {window: 2s, stableFor: 2s}
  promotion: {requireApproval: false, auditPeriod: 1s}
  enforcement: {rollback: {maxDenied: 0, window: 5m}}
` });
    const live = async () => new Set(((await getJson(['networkpolicies', '-n', shop.name, '-l', 'app.kubernetes.io/managed-by=hivewall'])).items as Json[]).map((o) => o.metadata.name as string));
    const enforced = await eventually('Enforcing with every policy live', async () => {
      const seg = await getJson(['segmentation', 'shop', '-n', shop.name]);
      return seg.status?.phase === 'Enforcing' && (await live()).size === 4 ? seg : undefined;
    }, 30_000);
    const approved = enforced.status.approvedProposal as string;

    // The node drops reporter's SYNs to the DNS pod on 53/TCP, as an iptables/nftables CNI enforcing a policy would.
    // Dropped where they arrive (input), after conntrack confirmed the entry on the way out: a drop in
    // the output hook would discard the SYN before its entry is confirmed, leaving no entry at all.
    await netns.exec('nft', ['add', 'table', 'ip', 'hivewall_deny']);
    await netns.exec('nft', ['add', 'chain', 'ip', 'hivewall_deny', 'in', '{ type filter hook input priority 0 ; }']);
    await netns.exec('nft', ['add', 'rule', 'ip', 'hivewall_deny', 'in', 'ip', 'saddr', REPORTER, 'ip', 'daddr', DNS, 'tcp', 'dport', '53', 'drop']);
    const client = netns.node(`const c = require('net').connect({ host: process.argv[1], port: 53, localAddress: process.argv[2], localPort: 46001 }); c.on('error', () => {}); console.log('started'); setInterval(() => {}, 1000);`, [DNS, REPORTER]);
    try {
      await client.waitFor('started');
      const started = Date.now();
      // The kernel holds the entry SYN_SENT [UNREPLIED] while the client retries.
      const entry = await eventually('a SYN_SENT [UNREPLIED] conntrack entry', async () => {
        const out = await netns.exec('conntrack', ['-L', '-p', 'tcp', '--orig-src', REPORTER, '--orig-port-src', '46001']).catch(() => '');
        return out.includes('SYN_SENT') && out.includes('[UNREPLIED]') ? out : undefined;
      }, 10_000);
      expect(entry).toContain(`dport=53`);

      const remaining = await eventually('reporter rolled back', async () => {
        const names = await live();
        return names.has('hivewall-reporter') ? undefined : names;
      }, 30_000);
      // Unanswered for 5 s (the agent's threshold), shipped, counted, rolled back.
      expect(Date.now() - started).toBeLessThan(5_000 + 10_000);
      expect([...remaining].sort()).toEqual(['hivewall-api', 'hivewall-web']);
      const seg = await eventually('RolledBack=True', async () => {
        const s = await getJson(['segmentation', 'shop', '-n', shop.name]);
        return (s.status?.conditions as Json[] | undefined)?.find((c) => c.type === 'RolledBack' && c.status === 'True') ? s : undefined;
      });
      const denied = `${wl(shop.name, 'reporter')} -> ${wl(dnsNs.name, 'dns')} 53/TCP`;
      expect((seg.status.enforcement.denied as Json[]).map((e) => `${e.client} -> ${e.server} ${e.port}/${e.protocol} x${e.count}`)).toEqual([`${denied} x1`]);
      expect(seg.status.enforcement.rolledBack).toMatchObject({ proposal: approved, workloads: [wl(shop.name, 'reporter')], policies: ['hivewall-default-deny', 'hivewall-reporter'] });
      const starting = logEntries(ops, IDENTITY).filter((e) => e.msg === 'operator starting').at(-1)!;
      expect(metric(await metricsOf(starting.port as number), `hivewall_denied_flows_total{namespace="${shop.name}"}`)).toBe(1);
      // Never learned: the agent shipped it as unanswered; the TrafficProfile has no such edge.
      expect(profileEdges((await trafficProfile())!).some((e) => e.startsWith(denied))).toBe(false);

      // The follow-up proposal carries the denied edge, marked, and is not approved without a reviewer.
      const next = await eventually('a follow-up proposal with the denied edge', async () => {
        const name = (await getJson(['segmentation', 'shop', '-n', shop.name])).status?.proposal?.name as string | undefined;
        if (!name || name === approved) return undefined;
        const p = await getJson(['policyproposal', name, '-n', shop.name]);
        return (p.spec.content.evidence as Json[]).some((r) => (r.edges as Json[]).some((e) => e.denied)) ? p : undefined;
      }, 30_000);
      const marked = [...new Set((next.spec.content.evidence as Json[]).flatMap((r) => (r.edges as Json[]).filter((e) => e.denied).map((e) => `${e.client} -> ${e.server} ${e.port}/${e.protocol}: ${(e.denied.note as string).replace(/since \S+/, 'since T')}`)))];
      expect(marked).toEqual([`${denied}: denied 1 times since T while enforced`]);
      await sleep(2_000);
      const after = await getJson(['segmentation', 'shop', '-n', shop.name]);
      expect(after.status.approvedProposal).toBe(approved);
      expect((await live()).has('hivewall-reporter')).toBe(false);
    } finally {
      client.kill();
      await netns.exec('nft', ['delete', 'table', 'ip', 'hivewall_deny']).catch(() => undefined);
    }
  }, 90_000);
});

if (unavailable !== undefined) {
  // Say why in the report instead of passing silently.
  it('conntrack agent → operator (HTTPS receiver) → proposal, on kernel conntrack', (ctx) => {
    ctx.skip(true, `skipped: ${unavailable}`);
  });
}
