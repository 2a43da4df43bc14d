/**
 * Cilium clusters at scale, end to end: two `hivewall agent --source hubble` processes, one per
 * "node", each following its own node-local Hubble server — test/hubble-server (built from Cilium
 * v1.20.2's API packages) listening on its own unix socket and serving only the flows that node's
 * Hubble sees — ship edge deltas over HTTPS to a `hivewall operator` process (its ServiceAccount,
 * deploy/ RBAC, the receiver certificate it issued itself) on the real API server.
 *
 * The nodes: node-a runs web and api, node-b runs db (all in one namespace). node-a's Hubble sees
 * web → api arrive at api (counted by node-a) and web → db leave web for another node (left to
 * node-b, which sees it arrive at db), plus a lost-events notice; replies are never asked for.
 * Every edge's server is a pod on the node that ships it.
 *
 * Asserted: the TrafficProfile holds exactly the expected edges and counts; after a SIGKILL of
 * node-a's agent mid-stream (its Hubble feed held at a known line, then released while the agent
 * is down) and a restart from its resume file, nothing is lost and nothing counted twice; the lost
 * events reach the Segmentation's FlowsComplete condition; the PolicyProposal holds exactly the
 * hand-written NetworkPolicies below. Needs `npm run build` (bin/ runs dist/) and Go.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowLine, lostEventsLine, type PodRef } from '../../src/agent/hubble-testing.js';
import { buildHubbleServer, startHubbleServer, type HubbleServerBuild, type RunningHubbleServer } from '../../src/ingest/hubble-grpc/test-support.js';
import { adminKubeConfig, adminKubeconfigPath, createNamespace, kubectl, kubectlOk, serviceAccountIdentity, type TestNamespace } from '../harness/index.js';
import { eventually as eventuallyIn, getJson, OperatorProcesses, ROOT, type Json } from './operator-process.js';

const SYSTEM_NS = 'hivewall-system';
const SERVER_NAME = `hivewall-operator.${SYSTEM_NS}.svc`;
const IDENTITY = 'hubble-agent-op';
// Flows happen now: the receiver accepts an edge only when one side is a pod on the reporting node at
// the edge's time, and the pods are created when the file starts (a whole second keeps nanoseconds simple).
const T0 = Math.floor(Date.now() / 1000) * 1000;
const CONNECTIONS = 6;
/** node-a's feed holds after the first 3 connections (2 lines each) and the lost-events notice. */
const HOLD_AFTER = 3 * 2 + 1;
const LOST = 17;
const admin = () => ({ kubeconfig: adminKubeconfigPath() });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function canonical(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort).map((x) => JSON.stringify(x)).sort().map((s) => JSON.parse(s) as unknown);
    if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]));
    return v;
  };
  return JSON.stringify(sort(value));
}

function logEntries(lines: string[]): Json[] {
  return lines.join('').split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as Json];
    } catch {
      return [];
    }
  });
}

function profileEdges(profile: Json): string[] {
  const protocols = ['TCP', 'UDP', 'SCTP', 'ICMPv4', 'ICMPv6'];
  const peers = profile.spec.peers as string[];
  return (profile.spec.edges as number[][]).map(([c, s, port, proto, count]) => `${peers[c!]} -> ${peers[s!]} ${port}/${protocols[proto!]} x${count}`).sort();
}

let build: HubbleServerBuild = { reason: 'not built yet' };

describe('Hubble node agents (one unix socket per node) → operator → proposal', () => {
  let ns: TestNamespace;
  let ops: OperatorProcesses;
  let work: string;
  let receiverPort: number;
  let caFile: string;
  let tokenFile: string;
  const servers = new Map<string, RunningHubbleServer>();
  const agents = new Map<string, { child: ChildProcess; logs: string[] }>();
  const pods: { namespace: string; name: string }[] = [];
  let WEB: PodRef;
  let API: PodRef;
  let DB: PodRef;

  const eventually = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000) =>
    eventuallyIn(what, fn, timeoutMs, ops).catch((err: Error) => {
      throw new Error(`${err.message}\nagent logs:\n${[...agents].map(([node, a]) => `${node}: ${a.logs.join('').split('\n').slice(-8).join('\n')}`).join('\n')}`);
    });
  const wl = (p: PodRef) => `wl:${p.namespace}/Deployment/${p.workload}`;
  const socketOf = (node: string) => path.join(work, node, 'hubble.sock');
  const resumeFileOf = (node: string) => path.join(work, node, 'state', 'hubble-resume.json');

  /** A Deployment, its ReplicaSet and one running Pod on `node`. */
  async function workload(name: string, node: string, ip: string, port: number): Promise<PodRef> {
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    const objects = KubernetesObjectApi.makeApiClient(adminKubeConfig());
    const hash = '7f6d5c4b3';
    const labels = { app: name };
    const podSpec = { containers: [{ name, image: `registry.example/${name}:1`, ports: [{ containerPort: port, protocol: 'TCP' }] }] };
    const deployment = await objects.create({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns.name, labels },
      spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec } },
    } as KubernetesObject);
    const replicaSet = await objects.create({
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: { name: `${name}-${hash}`, namespace: ns.name, labels: { ...labels, 'pod-template-hash': hash }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: deployment.metadata!.uid!, controller: true }] },
      spec: { replicas: 1, selector: { matchLabels: { ...labels, 'pod-template-hash': hash } }, template: { metadata: { labels: { ...labels, 'pod-template-hash': hash } }, spec: podSpec } },
    } as KubernetesObject);
    const podName = `${name}-${hash}-x${ip.split('.').at(-1)}`;
    const pod = await core.createNamespacedPod({
      namespace: ns.name,
      body: {
        metadata: { name: podName, labels: { ...labels, 'pod-template-hash': hash }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: replicaSet.metadata!.name!, uid: replicaSet.metadata!.uid!, controller: true }] },
        spec: { nodeName: node, ...podSpec },
      },
    });
    pods.push({ namespace: ns.name, name: podName });
    await core.replaceNamespacedPodStatus({ namespace: ns.name, name: podName, body: { ...pod, status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } } });
    return { namespace: ns.name, name: podName, workload: name, ip };
  }

  /** What each node's Hubble sees of connection `i` (web → api on node-a; web → db leaving node-a, arriving at node-b). */
  function nodeLines(node: 'node-a' | 'node-b', i: number): string[] {
    const ms = T0 + i * 1_000;
    if (node === 'node-b') return [flowLine({ ms: ms + 2, uuid: `b-in-${i}`, node, client: WEB, server: DB, clientPort: 41000 + i, port: 5432, direction: 'INGRESS' })];
    return [
      flowLine({ ms, uuid: `a-in-${i}`, node, client: WEB, server: API, clientPort: 40000 + i, port: 8080, direction: 'INGRESS' }),
      flowLine({ ms: ms + 1, uuid: `a-out-${i}`, node, client: WEB, server: DB, clientPort: 41000 + i, port: 5432, direction: 'EGRESS' }),
    ];
  }

  async function startServer(node: 'node-a' | 'node-b', holdAfter?: number): Promise<RunningHubbleServer> {
    const lines = [...Array(CONNECTIONS).keys()].flatMap((i) => [...nodeLines(node, i), ...(node === 'node-a' && i === 2 ? [lostEventsLine(node, T0 + 2_500, LOST)] : [])]);
    const file = path.join(work, node, 'scenario.jsonl');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${lines.join('\n')}\n`);
    const server = await startHubbleServer(build.binary!, { scenario: file, listen: `unix://${socketOf(node)}`, ...(holdAfter !== undefined ? { holdAfter } : {}) });
    servers.set(node, server);
    return server;
  }

  /** `hivewall agent --source hubble` as its own process, as the DaemonSet of deploy/cilium/ runs it. */
  function startAgent(node: string): void {
    const child = spawn(process.execPath, [
      path.join(ROOT, 'bin/hivewall.js'), 'agent', '--source', 'hubble',
      '--hubble-address', `unix://${socketOf(node)}`, '--resume-file', resumeFileOf(node),
      '--node-name', node, '--controller-url', `https://127.0.0.1:${receiverPort}`, '--controller-ca-file', caFile,
      '--controller-server-name', SERVER_NAME, '--token-file', tokenFile, '--ship-interval-ms', '300',
      '--health-port', '0', '--bind-address', '127.0.0.1', '--log-level', 'info',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const logs: string[] = [];
    child.stdout!.on('data', (c: Buffer) => logs.push(c.toString()));
    child.stderr!.on('data', (c: Buffer) => logs.push(c.toString()));
    agents.set(node, { child, logs });
  }

  async function stopAgent(node: string, signal: NodeJS.Signals): Promise<void> {
    const agent = agents.get(node);
    if (!agent || agent.child.exitCode !== null || agent.child.signalCode !== null) return;
    const exited = new Promise((resolve) => agent.child.once('exit', resolve));
    agent.child.kill(signal);
    await exited;
  }

  const trafficProfile = () => getJson(['trafficprofile', 'shop', '-n', ns.name]).catch(() => undefined);
  async function profileIs(expected: string[], flows: number): Promise<void> {
    await eventually(`the TrafficProfile ${JSON.stringify(expected)}`, async () => {
      const tp = await trafficProfile();
      return tp && JSON.stringify(profileEdges(tp)) === JSON.stringify(expected) && tp.spec.flows === flows;
    }).catch(() => undefined);
    const tp = (await trafficProfile())!;
    expect(profileEdges(tp)).toEqual(expected);
    expect(tp.spec.flows).toBe(flows);
  }

  beforeAll(async () => {
    build = await buildHubbleServer();
    if (build.binary === undefined) return;
    work = await mkdtemp(path.join(tmpdir(), 'hivewall-hubble-agents-'));
    await kubectlOk(['apply', '-k', path.join(ROOT, 'deploy')], admin());
    const operatorSa = await serviceAccountIdentity(SYSTEM_NS, 'hivewall-operator');
    ns = await createNamespace('hb-shop');
    WEB = await workload('web', 'node-a', '10.244.61.5', 8080);
    API = await workload('api', 'node-a', '10.244.61.6', 8080);
    DB = await workload('db', 'node-b', '10.244.62.7', 5432);
    ops = new OperatorProcesses(operatorSa.kubeconfigPath);
    // `apply -k deploy` relabelled the CRDs: wait until they are served again before starting.
    await eventually('hivewall\'s CRDs served', async () => (await kubectl(['get', 'segmentations,policyproposals,trafficprofiles', '-A'], admin())).code === 0);
    await sleep(2_000);
    // A longer lease than OperatorProcesses' 4 s: on a busy test machine a missed renewal ends the process.
    ops.start(IDENTITY, ['--receiver-port', '0', '--lease-duration-seconds', '15']);
    const listening = await eventually('the edge receiver listening', async () => logEntries(ops.logs.get(IDENTITY) ?? []).find((e) => e.msg === 'edge receiver listening'), 45_000);
    receiverPort = Number(new URL(listening.url as string).port);
    const caMap = await eventually('ConfigMap hivewall-receiver-ca', async () => getJson(['configmap', 'hivewall-receiver-ca', '-n', SYSTEM_NS]).catch(() => undefined));
    caFile = path.join(work, 'ca.crt');
    await writeFile(caFile, caMap.data['ca.crt'] as string);
    // As deploy/ projects it: a token for the receiver's audience only.
    const agentSa = await serviceAccountIdentity(SYSTEM_NS, 'hivewall-agent', { audiences: ['hivewall-receiver'] });
    tokenFile = path.join(work, 'token');
    await writeFile(tokenFile, `${agentSa.token}\n`);
    await kubectlOk(['apply', '-f', '-'], { ...admin(), input: `apiVersion: hivewall.dev/v1alpha1
kind: Segmentation
metadata: {name: shop, namespace: ${ns.name}}
spec:
  mode: Learn
  flavor: NetworkPolicy
  learning: {window: 2s, stableFor: 2s}
` });
  }, 180_000);

  afterAll(async () => {
    for (const node of agents.keys()) await stopAgent(node, 'SIGTERM');
    for (const server of servers.values()) await server.stop();
    await ops?.stop(IDENTITY, 'SIGTERM');
    await ops?.stopAll();
    if (ns) {
      await kubectl(['patch', 'segmentation', 'shop', '-n', ns.name, '--type=merge', '-p', '{"metadata":{"finalizers":null}}'], admin());
      await kubectl(['delete', 'segmentations,policyproposals,trafficprofiles,networkpolicies', '--all', '-n', ns.name, '--wait=false'], admin());
      const core = adminKubeConfig().makeApiClient(CoreV1Api);
      for (const pod of pods) await core.deleteNamespacedPod({ ...pod, gracePeriodSeconds: 0 }).catch(() => undefined);
      await kubectl(['delete', 'deployments,replicasets', '--all', '-n', ns.name, '--wait=false'], admin());
      await ns.delete();
    }
    if (work) await rm(work, { recursive: true, force: true });
  }, 60_000);

  it('learns each node\'s flows once; a SIGKILLed agent resumes from its resume file without loss or double counting; lost events reach FlowsComplete', async ({ skip }) => {
    if (build.binary === undefined) return skip(build.reason);
    const nodeA = await startServer('node-a', HOLD_AFTER);
    const nodeB = await startServer('node-b');
    startAgent('node-a');
    startAgent('node-b');

    // Until node-a's feed holds: 3 web → api connections from node-a, all 6 web → db from node-b.
    // A node process starts in seconds, or in tens of seconds on a crowded test machine.
    await eventually('node-a\'s agent connected and its feed held', async () => nodeA.events.some((e) => e.event === 'held'), 90_000);
    await profileIs([`${wl(WEB)} -> ${wl(API)} 8080/TCP x3`, `${wl(WEB)} -> ${wl(DB)} 5432/TCP x${CONNECTIONS}`].sort(), 3 + CONNECTIONS);
    expect(nodeA.requests()[0]).toEqual({ follow: true, whitelist: [{ reply: [false] }] });
    expect(nodeB.requests()[0]).toEqual({ follow: true, whitelist: [{ reply: [false] }] });

    // node-a has stored where it stands (everything before it acknowledged): the newest flow it was sent.
    const stored = await eventually('node-a\'s resume point', async () => {
      const point = JSON.parse(await readFile(resumeFileOf('node-a'), 'utf8').catch(() => 'null')) as { since: string; seen: string[] } | null;
      return point?.seen.includes('uuid:a-out-2') ? point : undefined;
    });
    await stopAgent('node-a', 'SIGKILL');
    // While node-a's agent is down, its Hubble observes the other 3 connections.
    nodeA.resume();
    await eventually('node-a\'s feed complete', async () => nodeA.events.some((e) => e.event === 'fed'));
    startAgent('node-a');
    await profileIs([`${wl(WEB)} -> ${wl(API)} 8080/TCP x${CONNECTIONS}`, `${wl(WEB)} -> ${wl(DB)} 5432/TCP x${CONNECTIONS}`].sort(), 2 * CONNECTIONS);
    expect(nodeA.requests()[1]).toEqual({ follow: true, whitelist: [{ reply: [false] }], since: stored.since });
    // More ship rounds: still exactly once.
    await sleep(1_500);
    await profileIs([`${wl(WEB)} -> ${wl(API)} 8080/TCP x${CONNECTIONS}`, `${wl(WEB)} -> ${wl(DB)} 5432/TCP x${CONNECTIONS}`].sort(), 2 * CONNECTIONS);

    // The two agents' lost events may reach the status in two reconciles: wait for the total
    // (a count past it, counted twice, never settles back and fails below).
    const seg = await eventually('FlowsComplete=False', async () => {
      const s = await getJson(['segmentation', 'shop', '-n', ns.name]);
      return (s.status?.conditions as Json[] | undefined)?.some((c) => c.type === 'FlowsComplete' && c.status === 'False') && s.status?.learning?.lostEvents === LOST ? s : undefined;
    }).catch(async () => getJson(['segmentation', 'shop', '-n', ns.name]));
    expect((seg.status.conditions as Json[]).find((c) => c.type === 'FlowsComplete')).toMatchObject({ status: 'False', reason: 'EventsLost' });
    expect(seg.status.learning.lostEvents).toBe(LOST);
  }, 300_000);

  it('proposes exactly the expected NetworkPolicies', async ({ skip }) => {
    if (build.binary === undefined) return skip(build.reason);
    const proposal = await eventually('a proposal covering both edges', async () => {
      const seg = await getJson(['segmentation', 'shop', '-n', ns.name]);
      const name = seg.status?.proposal?.name as string | undefined;
      if (!name) return undefined;
      const p = await getJson(['policyproposal', name, '-n', ns.name]);
      const edges = new Set((p.spec.content.evidence as { edges: { client: string; server: string }[] }[]).flatMap((r) => r.edges.map((e) => `${e.client} ${e.server}`)));
      return edges.size === 2 ? p : undefined;
    }, 60_000);
    // Written from Kubernetes NetworkPolicy semantics, not from the generator: a namespace default
    // deny, and per workload one policy selecting its pods by `app`, isolated both ways, one rule
    // per observed peer and port.
    const policy = (name: string, spec: Json, workload?: string) => ({
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
      metadata: { name, namespace: ns.name, labels: { 'app.kubernetes.io/managed-by': 'hivewall' }, ...(workload ? { annotations: { 'hivewall.dev/workload': `Deployment/${workload}` } } : {}) },
      spec,
    });
    const app = (name: string) => ({ matchLabels: { app: name } });
    const both = ['Ingress', 'Egress'];
    const expected = [
      policy('hivewall-default-deny', { podSelector: {}, policyTypes: both }),
      policy('hivewall-api', { podSelector: app('api'), policyTypes: both, ingress: [{ from: [{ podSelector: app('web') }], ports: [{ protocol: 'TCP', port: 8080 }] }] }, 'api'),
      policy('hivewall-db', { podSelector: app('db'), policyTypes: both, ingress: [{ from: [{ podSelector: app('web') }], ports: [{ protocol: 'TCP', port: 5432 }] }] }, 'db'),
      policy('hivewall-web', {
        podSelector: app('web'), policyTypes: both,
        egress: [{ to: [{ podSelector: app('api') }], ports: [{ protocol: 'TCP', port: 8080 }] }, { to: [{ podSelector: app('db') }], ports: [{ protocol: 'TCP', port: 5432 }] }],
      }, 'web'),
    ];
    const byName = (objects: Json[]) => Object.fromEntries(objects.map((o) => [o.metadata.name as string, JSON.parse(canonical(o)) as Json]));
    expect(byName(proposal.spec.content.objects as Json[])).toEqual(byName(expected));
  }, 90_000);
});
