import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { EdgeStore } from '../domain/edge-store.js';
import { HealthServer } from '../runtime/health.js';
import { captureLogger } from '../runtime/testing.js';
import { deploymentPod, inventory, service, statefulSetPod } from '../testing/builders.js';
import { agentConfig, agentIdentityOptions, startAgent, type AgentRun } from '../cli/agent-command.js';
import { main, type CliIo } from '../cli/main.js';
import { Agent, type AgentOptions } from './agent.js';
import { StaticInventorySource } from './inventory.js';
import { AGENT_USERNAME } from './rbac.js';
import { EdgeReceiver, EdgeReceiverServer } from '../operator/receiver.js';
import { FakeRunner } from './testing.js';

const NOW = Date.now();
const sec = (ms: number) => ((NOW + ms) / 1000).toFixed(6);
const frontend = deploymentPod('shop', 'frontend', '10.244.0.5', {}, { nodeName: 'node-a', createdAt: NOW - 3_600_000, uid: 'f1' });
const cart = deploymentPod('shop', 'cart', '10.244.1.7', {}, { nodeName: 'node-a', createdAt: NOW - 3_600_000, uid: 'c1' });
const dns = statefulSetPod('kube-system', 'dns', 0, '10.244.2.53');
const cluster = inventory({
  nodes: [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: ['10.244.0.0/16'] }],
  pods: [frontend, cart, { ...dns, nodeName: 'node-a', createdAt: NOW - 3_600_000 }],
  services: [service('shop', 'cart', { clusterIPs: ['10.96.0.10'], ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }] })],
  endpointSlices: [{ namespace: 'shop', serviceName: 'cart', endpoints: [{ addresses: ['10.244.1.7'] }], ports: [{ port: 8080, protocol: 'TCP' }] }],
});

/** Conntrack lines in the real formats (see src/ingest/conntrack/testdata). */
const EVENTS = [
  `[${sec(0)}]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.244.0.5 dst=10.96.0.10 sport=40001 dport=80 [UNREPLIED] src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=40001`,
  `[${sec(1)}]\t [UPDATE] ipv4     2 tcp      6 60 SYN_RECV src=10.244.0.5 dst=10.96.0.10 sport=40001 dport=80 src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=40001`,
  `[${sec(2)}]\t [UPDATE] ipv4     2 tcp      6 432000 ESTABLISHED src=10.244.0.5 dst=10.96.0.10 sport=40001 dport=80 src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=40001 [ASSURED]`,
  `[${sec(3)}]\t    [NEW] ipv4     2 udp      17 30 src=10.244.0.5 dst=10.244.2.53 sport=50000 dport=53 [UNREPLIED] src=10.244.2.53 dst=10.244.0.5 sport=53 dport=50000`,
  `[${sec(4)}]\t [UPDATE] ipv4     2 udp      17 30 src=10.244.0.5 dst=10.244.2.53 sport=50000 dport=53 src=10.244.2.53 dst=10.244.0.5 sport=53 dport=50000`,
  `[${sec(5)}]\t    [NEW] ipv4     2 udp      17 30 src=10.244.0.5 dst=10.244.1.7 sport=50001 dport=9999 [UNREPLIED] src=10.244.1.7 dst=10.244.0.5 sport=9999 dport=50001`,
  'this is not conntrack output',
];
/** A connection opened before the agent: only the dump shows it. */
const DUMP = ['ipv4     2 tcp      6 431999 ESTABLISHED src=10.244.1.7 dst=10.244.0.5 sport=33333 dport=8080 src=10.244.0.5 dst=10.244.1.7 sport=8080 dport=33333 [ASSURED] mark=0 use=1'];

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
});

async function receiver() {
  const store = new EdgeStore();
  const log = captureLogger();
  const r = new EdgeReceiver({
    authenticator: { authenticate: async (t) => (t === 'agent-token' ? { authenticated: true, username: AGENT_USERNAME, groups: [], extra: {} } : { authenticated: false }) },
    store, logger: log.logger,
  });
  const server = new EdgeReceiverServer({ receiver: r, host: '127.0.0.1', port: 0, logger: log.logger });
  stops.push(() => server.close());
  const { url } = await server.listen();
  return { store, receiver: r, url };
}

function agent(url: string, fake: FakeRunner, extra: Partial<AgentOptions> = {}) {
  const log = captureLogger();
  const a = new Agent({
    node: 'node-a', controllerUrl: url, token: async () => 'agent-token', inventory: new StaticInventorySource(cluster),
    logger: log.logger, runner: fake.runner, shipIntervalMs: 50, inventoryRefreshMs: 20, ...extra,
  });
  stops.push(() => a.stop());
  return { agent: a, log };
}

const stored = (store: EdgeStore) => [...store.edges()].map((e) => `${e.client} -> ${e.server} ${e.port}/${e.protocol} x${e.count}`).sort();

describe('Agent', () => {
  it('conntrack lines → workload edges at the controller: DNAT to the target port, DNS, the pre-existing connection from the dump', async () => {
    const { store, receiver: r, url } = await receiver();
    const fake = new FakeRunner();
    fake.onSpawn = (child) => {
      if (child.argv.includes('-L')) {
        child.write(...DUMP);
        child.finish();
      } else child.write(...EVENTS);
    };
    const { agent: a } = agent(url, fake, { conntrackPrefix: ['ip', 'netns', 'exec', 'x'] });
    await a.start();
    await expect.poll(() => r.stats.connections, { timeout: 5_000 }).toBe(3);
    expect(stored(store)).toEqual([
      'wl:shop/Deployment/frontend -> wl:kube-system/StatefulSet/dns 53/UDP x1',
      'wl:shop/Deployment/cart -> wl:shop/Deployment/frontend 8080/TCP x1',
      'wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x1',
    ].sort());
    expect(fake.children.map((c) => c.argv.join(' '))).toEqual(['ip netns exec x conntrack -E -o timestamp,extended', 'ip netns exec x conntrack -L -o extended']);
    expect(a.aggregator.learner.stats.skipped).toMatchObject({ malformed: 1, unconfirmed: 3 }); // two NEW events before their reply, and UDP to nobody
    expect(Object.fromEntries(Object.entries(a.checks()).map(([k, c]) => [k, c()]))).toEqual({ inventory: { ok: true }, conntrack: { ok: true } });
  });

  it('stop() ships what is still buffered', async () => {
    const { store, url } = await receiver();
    const fake = new FakeRunner();
    fake.onSpawn = (child) => child.argv.includes('-L') ? child.finish() : undefined;
    const { agent: a } = agent(url, fake, { shipIntervalMs: 3_600_000 });
    await a.start();
    fake.started('-E')[0]!.write(EVENTS[2]!);
    await expect.poll(() => a.aggregator.learnedTotal).toBe(1);
    await a.stop();
    expect(stored(store)).toEqual(['wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x1']);
  });

  it('applies inventory changes: a deleted pod is remembered, its late DESTROY still resolves', async () => {
    const { store, url } = await receiver();
    const fake = new FakeRunner();
    fake.onSpawn = (child) => child.argv.includes('-L') ? child.finish() : undefined;
    const source = new StaticInventorySource(cluster);
    const { agent: a } = agent(url, fake, { inventory: source });
    await a.start();
    source.set({ ...cluster, pods: cluster.pods.filter((p) => p !== cart) });
    await expect.poll(() => a.history.stats.rememberedPods).toBe(1);
    fake.started('-E')[0]!.write(EVENTS[2]!.replace('[UPDATE]', '[DESTROY]'));
    await expect.poll(() => stored(store)).toEqual(['wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x1']);
  });

  it('events the kernel dropped (conntrack -E: ENOBUFS) reach the controller as dropped, so FlowsComplete can say so', async () => {
    const { receiver: r, url } = await receiver();
    const fake = new FakeRunner();
    fake.onSpawn = (child) => child.argv.includes('-L') ? child.finish() : undefined;
    const { agent: a } = agent(url, fake);
    await a.start();
    fake.started('-E')[0]!.writeStderr('WARNING: We have hit ENOBUFS! We are losing events.');
    await expect.poll(() => r.stats.dropped, { timeout: 5_000 }).toBe(1);
    expect(a.aggregator.stats.sourceLostEvents).toBe(1);
  });

  it('a run that stops with connections the controller never acknowledged leaves their count to the next run, which reports them as dropped', async () => {
    const stateFile = path.join(await mkdtemp(path.join(tmpdir(), 'hivewall-agent-state-')), 'state.json');
    const fake = new FakeRunner();
    fake.onSpawn = (child) => child.argv.includes('-L') ? child.finish() : undefined;
    // The operator is down: nothing listens on port 9.
    const { agent: first } = agent('http://127.0.0.1:9', fake, { stateFile, shipIntervalMs: 3_600_000, flushTimeoutMs: 200 });
    await first.start();
    fake.started('-E')[0]!.write(EVENTS[2]!);
    await expect.poll(() => first.aggregator.learnedTotal).toBe(1);
    await first.stop();
    expect(JSON.parse(await readFile(stateFile, 'utf8'))).toEqual({ unshippedConnections: 1 });

    const { store, receiver: r, url } = await receiver();
    const { agent: next } = agent(url, fake, { stateFile });
    await next.start();
    await expect.poll(() => r.stats.dropped, { timeout: 5_000 }).toBe(1);
    expect(stored(store)).toEqual([]);
    await next.stop();
    expect(JSON.parse(await readFile(stateFile, 'utf8'))).toEqual({ unshippedConnections: 0 });
  });

  it('without a conntrack binary the agent stays up and /readyz says why', async () => {
    const fake = new FakeRunner();
    fake.onSpawn = (child) => child.finish({ code: null, signal: null, error: { code: 'ENOENT', message: 'spawn conntrack ENOENT' } });
    const { agent: a } = agent('http://127.0.0.1:9', fake);
    await a.start();
    const health = new HealthServer({ host: '127.0.0.1', port: 0, logger: captureLogger().logger });
    stops.push(() => health.close());
    for (const [name, check] of Object.entries(a.checks())) health.addReadyCheck(name, check);
    const { port } = await health.listen();
    await expect.poll(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
    const body = await (await fetch(`http://127.0.0.1:${port}/readyz`)).text();
    expect(body).toContain('[+]inventory ok');
    expect(body).toContain('[-]conntrack failed: missing-binary: spawn conntrack ENOENT');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });
});

describe('Agent: a pod newer than the inventory, on Nodes without spec.podCIDRs', () => {
  const nodes = [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: [] }];
  const pg = deploymentPod('db', 'pg', '10.244.1.5', {}, { nodeName: 'node-a', createdAt: NOW - 3_600_000, uid: 'pg' });
  const migrate = deploymentPod('shop', 'migrate', '10.244.1.9', {}, { nodeName: 'node-a', createdAt: NOW - 2_000, uid: 'migrate' });
  /** The new pod's connection: seen by conntrack before the inventory shows the pod, established after. */
  const line = (ms: number, event: string, state: string, unreplied: boolean) =>
    `[${sec(ms)}]\t ${event} ipv4     2 tcp      6 120 ${state} src=10.244.1.9 dst=10.244.1.5 sport=40000 dport=5432 ${unreplied ? '[UNREPLIED] ' : ''}src=10.244.1.5 dst=10.244.1.9 sport=5432 dport=40000`;

  async function run(flags: { podCidr?: string[] }) {
    const { store, url } = await receiver();
    const fake = new FakeRunner();
    fake.onSpawn = (child) => child.argv.includes('-L') ? child.finish() : undefined;
    const source = new StaticInventorySource(inventory({ nodes, pods: [pg] }));
    const config = agentConfig({ controllerUrl: 'https://ctl:8443', ...flags }, { NODE_NAME: 'node-a' });
    const { agent: a, log } = agent(url, fake, { inventory: source, identity: agentIdentityOptions(config) });
    await a.start();
    const events = fake.started('-E')[0]!;
    events.write(line(0, '[NEW]', 'SYN_SENT', true), line(1, '[UPDATE]', 'SYN_RECV', false));
    await expect.poll(() => a.aggregator.learner.stats.flows).toBe(2);
    source.set(inventory({ nodes, pods: [pg, migrate] }));
    await expect.poll(() => a.history.stats.livePods).toBe(2);
    events.write(line(1_500, '[UPDATE]', 'ESTABLISHED', false));
    await expect.poll(() => a.aggregator.learner.stats.flows).toBe(3);
    return { store, agent: a, log };
  }

  it('with --pod-cidr the first connection is skipped while the pod is unknown, then learned as its workload, never as world', async () => {
    const { store, agent: a, log } = await run({ podCidr: ['10.244.0.0/16'] });
    await expect.poll(() => stored(store)).toEqual(['wl:shop/Deployment/migrate -> wl:db/Deployment/pg 5432/TCP x1']);
    expect(a.aggregator.learner.stats.skipped.unresolved).toBe(2);
    expect(log.find('no pod CIDR known (no Node has spec.podCIDRs and none is configured): set --pod-cidr or HIVEWALL_POD_CIDRS, or new pods\' first connections are learned as world')).toEqual([]);
  });

  it('without a pod range it warns at start (and the address is world: the reason for the warning)', async () => {
    const { store, log } = await run({});
    expect(log.find('no pod CIDR known (no Node has spec.podCIDRs and none is configured): set --pod-cidr or HIVEWALL_POD_CIDRS, or new pods\' first connections are learned as world')).toHaveLength(1);
    await expect.poll(() => stored(store)).toEqual(['en:world:10.244.1.9 -> wl:db/Deployment/pg 5432/TCP x1']);
  });
});

describe('hivewall agent (CLI)', () => {
  it('--pod-cidr / --service-cidr: repeatable and comma-separated, else $HIVEWALL_POD_CIDRS / $HIVEWALL_SERVICE_CIDRS; none by default', () => {
    const base = { controllerUrl: 'https://ctl:8443', nodeName: 'n' };
    expect(agentIdentityOptions(agentConfig(base, {}))).toEqual({ podCidrs: [], serviceCidrs: [] });
    expect(agentIdentityOptions(agentConfig({ ...base, podCidr: ['10.244.0.0/16, fd00:10:244::/56', '100.64.0.0/10'], serviceCidr: ['10.96.0.0/12'] }, { HIVEWALL_POD_CIDRS: '192.168.0.0/16' })))
      .toEqual({ podCidrs: ['10.244.0.0/16', 'fd00:10:244::/56', '100.64.0.0/10'], serviceCidrs: ['10.96.0.0/12'] });
    expect(agentIdentityOptions(agentConfig(base, { HIVEWALL_POD_CIDRS: '10.244.0.0/16,10.245.0.0/16', HIVEWALL_SERVICE_CIDRS: ' 10.96.0.0/12 ' })))
      .toEqual({ podCidrs: ['10.244.0.0/16', '10.245.0.0/16'], serviceCidrs: ['10.96.0.0/12'] });
  });

  it.each([
    [{ podCidr: ['10.244.0.0/33'] }, {}, 'podCidrs.0: "10.244.0.0/33" is not a CIDR (<address>/<prefix>, e.g. 10.244.0.0/16 or fd00:10:244::/56)'],
    [{ podCidr: ['10.244.0.5'] }, {}, 'podCidrs.0: "10.244.0.5" is not a CIDR'],
    [{}, { HIVEWALL_SERVICE_CIDRS: '10.96.0.0/12,cluster' }, 'serviceCidrs.1: "cluster" is not a CIDR'],
  ])('refuses a malformed CIDR, naming it (%j %j)', (flags, env, message) => {
    expect(() => agentConfig({ controllerUrl: 'https://ctl:8443', nodeName: 'n', ...flags }, env)).toThrow(message);
  });

  it('configuration: flags over environment over defaults', () => {
    const config = agentConfig({ controllerUrl: 'https://ctl:8443', shipIntervalMs: '500' }, { NODE_NAME: 'node-a', HIVEWALL_SHIP_INTERVAL_MS: '900', HIVEWALL_DUMP_INTERVAL_MS: '0' });
    expect(config).toMatchObject({
      controllerUrl: 'https://ctl:8443', nodeName: 'node-a', shipIntervalMs: 500, dumpIntervalMs: 0,
      tokenFile: '/var/run/secrets/hivewall/receiver-token/token', healthPort: 8082, retentionMs: 600_000,
    });
  });

  it.each([
    [{}, { NODE_NAME: 'n' }, 'controllerUrl'],
    [{ controllerUrl: 'ftp://x' }, { NODE_NAME: 'n' }, 'must be an https:// URL'],
    [{ controllerUrl: 'http://x:8443' }, { NODE_NAME: 'n' }, 'must be an https:// URL (the agent\'s token travels in every request; plain http:// is refused)'],
    [{ controllerUrl: 'https://x' }, {}, 'nodeName'],
    [{ controllerUrl: 'https://x', nodeName: 'n', shipIntervalMs: 'soon' }, {}, 'shipIntervalMs'],
  ])('refuses a bad configuration with a usage error (%j)', (flags, env, message) => {
    expect(() => agentConfig(flags, env)).toThrow(message);
  });

  it('`hivewall agent` is registered: --help lists its flags, a missing URL is exit 2', async () => {
    const out = new PassThrough();
    const err = new PassThrough();
    let text = '';
    out.on('data', (c) => (text += c));
    err.on('data', (c) => (text += c));
    const io: CliIo = { stdout: out, stderr: err, stdin: Readable.from(['']) };
    expect(await main(['agent', '--help'], io)).toBe(0);
    for (const flag of ['--controller-url', '--node-name', '--token-file', '--kubeconfig', '--dump-interval-ms', '--ship-interval-ms', '--pod-cidr', '--service-cidr']) expect(text).toContain(flag);
    text = '';
    const saved = process.env['HIVEWALL_CONTROLLER_URL'];
    delete process.env['HIVEWALL_CONTROLLER_URL'];
    expect(await main(['agent', '--node-name', 'n'], io)).toBe(2);
    if (saved !== undefined) process.env['HIVEWALL_CONTROLLER_URL'] = saved;
    expect(text).toContain('hivewall: agent configuration: controllerUrl');
  });

  it('starts the health server before the API server answers: /readyz explains, /metrics has the agent series', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hivewall-agent-'));
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, [
      'apiVersion: v1', 'kind: Config', 'current-context: c',
      'clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]',
      'users: [{name: u, user: {token: t}}]',
      'contexts: [{name: c, context: {cluster: c, user: u}}]',
    ].join('\n'));
    const config = agentConfig({ controllerUrl: 'https://127.0.0.1:9', nodeName: 'node-a', kubeconfig, healthPort: '0', bindAddress: '127.0.0.1', logLevel: 'fatal', tokenFile: path.join(dir, 'token') }, {});
    const io: CliIo = { stdout: new PassThrough(), stderr: new PassThrough(), stdin: Readable.from(['']) };
    const run: AgentRun = await startAgent(config, io, { handleSignals: false });
    stops.push(() => run.stop());
    const readyz = await fetch(`http://127.0.0.1:${run.healthPort}/readyz`);
    expect(readyz.status).toBe(503);
    const body = await readyz.text();
    expect(body).toContain('[-]inventory failed: informers not synced yet');
    expect(body).toContain('[-]conntrack failed: waiting for the inventory');
    const metrics = await (await fetch(`http://127.0.0.1:${run.healthPort}/metrics`)).text();
    expect(metrics).toContain('hivewall_agent_buffered_edges{state="pending"} 0');
    expect(metrics).toContain('# TYPE hivewall_agent_conntrack_errors_total counter');
    await run.stop();
    await run.done;
  });
});
