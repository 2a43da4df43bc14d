/**
 * The Hubble node agent against test/hubble-server (a Go server built from Cilium's API packages)
 * on a unix socket, shipping to an in-memory controller: which node counts which flow, the request
 * it sends, a missing socket (retried with backoff, reported in readiness and metrics), lost
 * events, and a restart that resumes from the resume file without losing or re-counting flows.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Flow } from '../domain/flow.js';
import { buildHubbleServer, eventually, startHubbleServer, type HubbleServerBuild, type RunningHubbleServer } from '../ingest/hubble-grpc/test-support.js';
import { HubbleAgent, leftToServerNode } from './hubble-agent.js';
import { EdgeStore } from '../domain/edge-store.js';
import { IdentityResolver } from '../domain/identity.js';
import type { PodInfo } from '../domain/inventory.js';
import { NodePlacements } from '../operator/node-binding.js';
import { EdgeReceiver, EdgeReceiverServer } from '../operator/receiver.js';
import { inventory } from '../testing/builders.js';
import { flowLine, lostEventsLine, MemoryController, type PodRef } from './hubble-testing.js';
import { AGENT_USERNAME } from './rbac.js';
import type { DeniedDelta } from './wire.js';
import { registerHubbleAgentMetrics } from './metrics.js';

const WEB: PodRef = { namespace: 'shop', name: 'web-7d9f-abcde', workload: 'web', ip: '10.0.1.5' };
const API: PodRef = { namespace: 'shop', name: 'api-5c4b-fghij', workload: 'api', ip: '10.0.1.6' };
const DB: PodRef = { namespace: 'data', name: 'db-0', workload: 'db', kind: 'StatefulSet', ip: '10.0.2.7' };
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const NODE = 'node-a';

const wl = (p: PodRef) => `wl:${p.namespace}/${p.kind ?? 'Deployment'}/${p.workload}`;

describe('leftToServerNode', () => {
  const flow = (over: Partial<Flow>): Flow => ({
    time: 0, protocol: 'TCP', verdict: 'FORWARDED', isReply: false, confirmed: true,
    source: { ip: WEB.ip, port: 40000, namespace: 'shop', podName: WEB.name },
    destination: { ip: API.ip, port: 8080, namespace: 'shop', podName: API.name },
    ...over,
  });
  it.each([
    { name: 'leaving a pod toward a pod: the server\'s node counts it', f: flow({ trafficDirection: 'EGRESS' }), left: true },
    { name: 'arriving at a local pod: counted here', f: flow({ trafficDirection: 'INGRESS' }), left: false },
    { name: 'leaving toward the world: counted here', f: flow({ trafficDirection: 'EGRESS', destination: { ip: '192.0.2.1', port: 443, reserved: 'world' } }), left: false },
    { name: 'leaving toward a host address without a pod: counted here', f: flow({ trafficDirection: 'EGRESS', destination: { ip: '172.18.0.2', port: 10250 } }), left: false },
    { name: 'direction unknown: counted here', f: flow({}), left: false },
    { name: 'dropped by the client\'s egress policy: counted here (the server\'s node never sees it)', f: flow({ trafficDirection: 'EGRESS', verdict: 'DROPPED', dropReason: 'POLICY_DENIED' }), left: false },
    { name: 'dropped at the server\'s ingress: counted here (this is the server\'s node)', f: flow({ trafficDirection: 'INGRESS', verdict: 'DROPPED', dropReason: 'POLICY_DENIED' }), left: false },
    { name: 'passed on in policy audit mode: the server\'s node counts it', f: flow({ trafficDirection: 'EGRESS', verdict: 'AUDIT' }), left: true },
  ])('$name', ({ f, left }) => {
    expect(leftToServerNode(f)).toBe(left);
  });
});

describe('HubbleAgent against a Cilium-built Hubble server on a unix socket', () => {
  let build: HubbleServerBuild = { reason: 'not built' };
  let dir: string;
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    build = await buildHubbleServer();
  }, 600_000);

  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function scenario(lines: string[]): Promise<string> {
    dir ??= await mkdtemp(path.join(tmpdir(), 'hivewall-hubble-agent-'));
    const file = path.join(dir, `scenario-${Math.random().toString(36).slice(2)}.jsonl`);
    await writeFile(file, `${lines.join('\n')}\n`);
    return file;
  }

  async function server(lines: string[], socket: string, extra: { holdAfter?: number } = {}): Promise<RunningHubbleServer> {
    const s = await startHubbleServer(build.binary!, { scenario: await scenario(lines), listen: `unix://${socket}`, ...extra });
    cleanup.push(() => s.stop());
    return s;
  }

  function agent(socket: string, controller: MemoryController, resumeFile?: string): HubbleAgent {
    const a = new HubbleAgent({
      node: NODE, controllerUrl: 'http://controller.test', token: async () => 'token', logger: pino({ level: 'silent' }),
      hubbleAddress: `unix://${socket}`, transport: controller.transport, shipIntervalMs: 100,
      ...(resumeFile ? { resumeFile } : {}),
      hubble: { backoff: { initialMs: 50, maxMs: 200 }, connectTimeoutMs: 2_000 },
    });
    cleanup.push(() => a.stop());
    return a;
  }

  // What node-a's Hubble sees: web → api arriving at api (counted), web → db leaving web for a pod
  // on node-b (left to node-b), api's reply to web (never asked for), web → the world (counted,
  // learned without waiting for a reply), a dropped attempt at api (never an edge), lost events.
  const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i).flatMap((i) => [
    flowLine({ ms: T0 + i * 10, uuid: `in-${i}`, node: NODE, client: WEB, server: API, clientPort: 40000 + i, port: 8080, direction: 'INGRESS' }),
    flowLine({ ms: T0 + i * 10 + 1, uuid: `out-${i}`, node: NODE, client: WEB, server: DB, clientPort: 41000 + i, port: 5432, direction: 'EGRESS' }),
    flowLine({ ms: T0 + i * 10 + 2, uuid: `reply-${i}`, node: NODE, client: WEB, server: API, clientPort: 40000 + i, port: 8080, direction: 'INGRESS', reply: true }),
    flowLine({ ms: T0 + i * 10 + 3, uuid: `world-${i}`, node: NODE, client: WEB, server: { world: '192.0.2.10' }, clientPort: 42000 + i, port: 443, direction: 'EGRESS' }),
    flowLine({ ms: T0 + i * 10 + 4, uuid: `drop-${i}`, node: NODE, client: DB, server: API, clientPort: 43000 + i, port: 9090, direction: 'INGRESS', verdict: 'DROPPED' }),
  ]);
  const expected = (n: number) => new Map([[`${wl(WEB)} ${wl(API)} 8080/TCP`, n], [`${wl(WEB)} en:world:192.0.2.10 443/TCP`, n]]);

  it('ships exactly the flows complete at its node, asks for no replies, and reports lost events', async ({ skip }) => {
    if (build.binary === undefined) return skip(build.reason);
    dir = await mkdtemp(path.join(tmpdir(), 'hivewall-hubble-agent-'));
    const socket = path.join(dir, 'hubble.sock');
    const s = await server([...lines(0, 5), lostEventsLine(NODE, T0 + 100, 17), ...lines(5, 5)], socket);
    const controller = new MemoryController();
    const a = agent(socket, controller);
    await a.start();
    await eventually(() => controller.total() === 20 && controller.dropped === 17, 15_000, 'the shipped edges');
    expect(controller.edges).toEqual(expected(10));
    expect(s.requests()[0]).toEqual({ follow: true, whitelist: [{ reply: [false] }] });
    expect(a.hubbleStats()).toMatchObject({ flows: 40, lostEvents: 17, malformed: 0 }); // 4 of 5 flows per connection: no reply
    expect(a.stats.leftToServerNode).toBe(10);
    expect(a.checks()['hubble']!()).toEqual({ ok: true });
  });

  it('retries a missing socket with backoff, says so in readiness and metrics, and follows the server once it is there', async ({ skip }) => {
    if (build.binary === undefined) return skip(build.reason);
    dir = await mkdtemp(path.join(tmpdir(), 'hivewall-hubble-agent-'));
    const socket = path.join(dir, 'run', 'hubble.sock');
    const controller = new MemoryController();
    const a = agent(socket, controller);
    const registry = new Registry();
    registerHubbleAgentMetrics(registry, { hubble: () => a.hubbleStats(), agent: a.stats, aggregator: a.aggregator.stats, shipper: a.shipper.stats });
    await a.start();
    await eventually(() => a.hubbleStats().reconnects >= 3, 10_000, 'reconnect attempts');
    const ready = a.checks()['hubble']!();
    expect(ready.ok).toBe(false);
    expect(ready.reason).toContain(socket);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/^hivewall_agent_hubble_connected 0$/m);
    expect(Number(/^hivewall_agent_hubble_reconnects_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(3);

    await server(lines(0, 3), socket);
    await eventually(() => controller.total() === 6, 15_000, 'flows once the socket exists');
    expect(controller.edges).toEqual(expected(3));
    expect(await registry.metrics()).toMatch(/^hivewall_agent_hubble_connected 1$/m);
  });

  it('resumes from the resume file after a restart: nothing lost, nothing counted twice', async ({ skip }) => {
    if (build.binary === undefined) return skip(build.reason);
    dir = await mkdtemp(path.join(tmpdir(), 'hivewall-hubble-agent-'));
    const socket = path.join(dir, 'hubble.sock');
    const resumeFile = path.join(dir, 'state', 'resume.json');
    // The first 4 connections (20 lines), then the feed waits for the test.
    const s = await server(lines(0, 10), socket, { holdAfter: 20 });
    const controller = new MemoryController();
    const first = agent(socket, controller, resumeFile);
    await first.start();
    await s.waitFor((e) => e.event === 'held');
    await eventually(() => controller.total() === 8, 15_000, 'the first connections shipped');
    await first.stop();
    const stored = JSON.parse(await readFile(resumeFile, 'utf8')) as { since: string; seen: string[] };
    expect(stored.seen).toEqual(['uuid:drop-3']); // the newest flow delivered, at exactly `since`

    const second = agent(socket, controller, resumeFile);
    await second.start();
    await eventually(() => s.requests().length === 2, 10_000, 'the second GetFlows call');
    expect(s.requests()[1]).toMatchObject({ since: stored.since });
    s.resume();
    await eventually(() => controller.total() === 20, 15_000, 'the rest shipped');
    await new Promise((r) => setTimeout(r, 300));
    expect(controller.edges).toEqual(expected(10));
    expect(second.hubbleStats().duplicates).toBe(1); // the boundary flow Hubble sent again
  });
});

describe('HubbleAgent policy denials, shipped to the operator\'s receiver', () => {
  let build: HubbleServerBuild = { reason: 'not built' };
  let dir: string | undefined;
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    build = await buildHubbleServer();
  }, 600_000);

  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // node-a (this agent's) runs web and api; db runs on node-b, so node-a's Hubble names it without `workloads`.
  const REMOTE_DB: PodRef = { ...DB, remote: true };
  const pod = (p: PodRef, node: string, owner: PodInfo['owners'][number], labels: Record<string, string> = {}): PodInfo => ({
    namespace: p.namespace, name: p.name, labels, ips: [p.ip], nodeName: node, hostNetwork: false, owners: [owner], ports: [], createdAt: T0 - 3_600_000,
  });
  // A ReplicaSet not in the inventory is its Deployment by the naming rule (src/domain/workload.ts inferParent).
  const pods = [
    pod(WEB, NODE, { kind: 'ReplicaSet', name: 'web-7d9f', controller: true }, { 'pod-template-hash': '7d9f' }),
    pod(API, NODE, { kind: 'ReplicaSet', name: 'api-5c4b', controller: true }, { 'pod-template-hash': '5c4b' }),
    pod(DB, 'node-b', { kind: 'StatefulSet', name: 'db', controller: true }),
  ];

  /** The operator's receiver with its node placements (src/operator/flow-sources.ts wires them so). */
  async function receiver() {
    const inv = inventory({ nodes: [{ name: NODE, ips: ['172.18.0.2'], podCIDRs: [] }, { name: 'node-b', ips: ['172.18.0.3'], podCIDRs: [] }], pods });
    const placements = new NodePlacements({ now: () => T0 + 1_000 });
    placements.updateNodes(inv.nodes);
    const identity = new IdentityResolver(inv);
    for (const namespace of ['shop', 'data']) placements.updateNamespace(namespace, identity.podsWithWorkloadsIn(namespace), T0 + 1_000);
    const store = new EdgeStore();
    const denied: DeniedDelta[] = [];
    const r = new EdgeReceiver({
      authenticator: { authenticate: async () => ({ authenticated: true, username: AGENT_USERNAME, groups: [], extra: {} }) },
      logger: pino({ level: 'silent' }),
      store: { record: store.record.bind(store), refusal: (n, e) => placements.refusal(n, e), workloadOf: (k, e) => placements.workloadOf(k, e), denied: (d) => denied.push(d) },
    });
    const server = new EdgeReceiverServer({ receiver: r, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
    cleanup.push(() => server.close());
    const { url } = await server.listen();
    return { url, store, denied, receiver: r };
  }

  it('reports an EGRESS drop (its client here) and an INGRESS drop (its server here) once each, with direction and denying policies; cross-node peers are learned as their workloads', async ({ skip }) => {
    if (build.binary === undefined) return skip(build.reason);
    dir = await mkdtemp(path.join(tmpdir(), 'hivewall-hubble-denials-'));
    const socket = path.join(dir, 'hubble.sock');
    const lines = [
      // web's egress policy drops web → db: only node-a sees it.
      flowLine({ ms: T0, uuid: 'egress-drop', node: NODE, client: WEB, server: REMOTE_DB, clientPort: 40001, port: 5432, direction: 'EGRESS', verdict: 'DROPPED', deniedBy: ['shop/hivewall-web'] }),
      // api's ingress policy drops db → api: node-a, api's node, sees it (db's node saw it leave, FORWARDED, and left it here).
      flowLine({ ms: T0 + 1, uuid: 'ingress-drop', node: NODE, client: REMOTE_DB, server: API, clientPort: 40002, port: 9090, direction: 'INGRESS', verdict: 'DROPPED', deniedBy: ['shop/hivewall-api'] }),
      // web → db passed web's egress: db's node counts it.
      flowLine({ ms: T0 + 2, uuid: 'egress-ok', node: NODE, client: WEB, server: REMOTE_DB, clientPort: 40003, port: 5432, direction: 'EGRESS' }),
      // db → api arrived: learned here, db as its StatefulSet.
      flowLine({ ms: T0 + 3, uuid: 'ingress-ok', node: NODE, client: REMOTE_DB, server: API, clientPort: 40004, port: 8080, direction: 'INGRESS' }),
    ];
    await writeFile(path.join(dir, 'scenario.jsonl'), `${lines.join('\n')}\n`);
    const hubble = await startHubbleServer(build.binary, { scenario: path.join(dir, 'scenario.jsonl'), listen: `unix://${socket}` });
    cleanup.push(() => hubble.stop());
    const { url, store, denied, receiver: r } = await receiver();
    const agent = new HubbleAgent({
      node: NODE, controllerUrl: url, token: async () => 'token', logger: pino({ level: 'silent' }),
      hubbleAddress: `unix://${socket}`, shipIntervalMs: 100,
      hubble: { backoff: { initialMs: 50, maxMs: 200 }, connectTimeoutMs: 2_000 },
    });
    cleanup.push(() => agent.stop());
    await agent.start();
    await eventually(() => denied.length === 2 && r.stats.edges === 1, 15_000, 'the denials and the edge at the receiver');
    expect(denied).toEqual(expect.arrayContaining([
      { client: wl(WEB), server: 'wl:data/StatefulSet/db', port: 5432, protocol: 'TCP', count: 1, firstSeen: T0, lastSeen: T0, direction: 'EGRESS', deniedBy: ['shop/hivewall-web'] },
      { client: 'wl:data/StatefulSet/db', server: wl(API), port: 9090, protocol: 'TCP', count: 1, firstSeen: T0 + 1, lastSeen: T0 + 1, direction: 'INGRESS', deniedBy: ['shop/hivewall-api'] },
    ]));
    expect([...store.edges()].map((e) => `${e.client} -> ${e.server} ${e.port} x${e.count}`)).toEqual([`wl:data/StatefulSet/db -> ${wl(API)} 8080 x1`]);
    expect(agent.stats.leftToServerNode).toBe(1);
    expect(r.stats.refused).toEqual({});
  });
});
