/**
 * `npm run bench:operator`: the operator at scale, as a new user runs it, printed as `name=value`.
 *
 * Part 1, on the test control plane (a private kube-apiserver + etcd): N namespaces × 10
 * Deployments × 2 pods (ReplicaSets, Pods and a Service each), one Segmentation per namespace,
 * `hivewall operator` as its own process and its own ServiceAccount (deploy/base/operator-rbac.yaml),
 * following a Hubble export file. For each N (default 100 and 1000, or `--n 100,1000`):
 * seconds to all proposals, heap at proposals, idle and busy (2,000 lines/s) CPU seconds per
 * minute, writes per idle minute beyond the Lease, the longest event-loop stall, and a new edge →
 * follow-up proposal.
 *
 * Part 2, in memory (no API server): 10,000 namespaces / 150,000 pods; planning one namespace
 * (view, catalog, proposal) and the memory of the indexes.
 *
 * Not part of `test:all` (minutes at N=1000). Run with the TypeScript loader (it imports the
 * test harness): `node --import ./scripts/cluster-loader.mjs bench/operator.ts`.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { clusterDown, clusterUp } from '../test/harness/cluster.js';
import { shareConnections } from '../src/k8s/connections.js';
import { findManifest, kustomize, type Manifest } from '../src/testing/deploy-manifests.js';
import { deliveredTcpLine, type PodEnd } from '../src/testing/hubble-lines.js';
// Built (src/ uses TypeScript that Node's type stripping does not run): `npm run build` first.
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore -- dist/ exists after the build the npm script runs first
import { simulatePlanning } from '../dist/bench/operator-sim.js';

const run = promisify(execFile);
const ROOT = new URL('../', import.meta.url).pathname;
const APPS = 10;
const OPERATOR_NS = 'hivewall-system';
const print = (name: string, value: number, digits = 2) => console.log(`${name}=${Number.isInteger(value) ? value : value.toFixed(digits)}`);
const goal = (name: string, value: number, target: string, digits = 2) => console.log(`${name}=${value.toFixed(digits)}  # goal ${target}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const nsName = (i: number) => `bench-${String(i).padStart(4, '0')}`;
const podOf = (i: number, app: number, replica: number): PodEnd => ({
  namespace: nsName(i), deployment: `app-${app}`, pod: `app-${app}-5f6d7c8b9a-r${replica}x7k`,
  ip: `10.${100 + (i >> 8)}.${i & 255}.${app * 2 + replica + 1}`, labels: { app: `app-${app}` },
});

/** Runs `work` over `items`, `limit` at a time. */
async function parallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

async function populate(kc: KubeConfig, n: number): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  await parallel(Array.from({ length: n }, (_, i) => i), 8, async (i) => {
    const namespace = nsName(i);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
    for (let a = 0; a < APPS; a++) {
      const app = `app-${a}`;
      const labels = { app };
      const deployment = await apps.createNamespacedDeployment({ namespace, body: {
        metadata: { name: app, labels },
        spec: { replicas: 2, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'registry.example/app:1', ports: [{ containerPort: 8080, name: 'http' }] }] } } },
      } });
      const rs = await apps.createNamespacedReplicaSet({ namespace, body: {
        metadata: { name: `${app}-5f6d7c8b9a`, labels: { ...labels, 'pod-template-hash': '5f6d7c8b9a' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: app, uid: deployment.metadata!.uid!, controller: true }] },
        spec: { replicas: 2, selector: { matchLabels: { ...labels, 'pod-template-hash': '5f6d7c8b9a' } }, template: { metadata: { labels: { ...labels, 'pod-template-hash': '5f6d7c8b9a' } }, spec: { containers: [{ name: 'c', image: 'registry.example/app:1' }] } } },
      } });
      for (let r = 0; r < 2; r++) {
        await core.createNamespacedPod({ namespace, body: {
          metadata: { name: podOf(i, a, r).pod, labels: { ...labels, 'pod-template-hash': '5f6d7c8b9a' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata!.name!, uid: rs.metadata!.uid!, controller: true }] },
          spec: { containers: [{ name: 'c', image: 'registry.example/app:1', ports: [{ containerPort: 8080, name: 'http' }] }] },
        } });
      }
      await core.createNamespacedService({ namespace, body: { metadata: { name: app }, spec: { clusterIP: 'None', selector: labels, ports: [{ port: 80, targetPort: 8080 }] } } }); // headless: the test control plane's Service range is small
    }
    await custom.createNamespacedCustomObject({ group: 'hivewall.dev', version: 'v1alpha1', namespace, plural: 'segmentations', body: {
      apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', metadata: { name: 'seg', namespace },
      spec: { learning: { window: '10s', stableFor: '5s' } },
    } });
  });
}

/** The chain app-0 → app-1 → … → app-9 on :8080 in every namespace (9 edges each), at `time`. */
function chainLines(n: number, time: number, port0: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) for (let a = 0; a + 1 < APPS; a++) lines.push(deliveredTcpLine(podOf(i, a, 0), podOf(i, a + 1, a % 2), 8080, time, port0 + ((i * APPS + a) % 20000)));
  return lines;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** The operator's ServiceAccount, its RBAC from deploy/, and a kubeconfig with its token. */
async function operatorKubeconfig(admin: string, server: string, caFile: string | undefined, dir: string): Promise<string> {
  await run('kubectl', ['--kubeconfig', admin, 'apply', '-f', join(ROOT, 'deploy/base/namespace.yaml'), '-f', join(ROOT, 'deploy/base/operator-rbac.yaml')]);
  const { stdout: token } = await run('kubectl', ['--kubeconfig', admin, 'create', 'token', 'hivewall-operator', '-n', OPERATOR_NS, '--duration', '4h']);
  const path = join(dir, 'operator.kubeconfig');
  const cluster = caFile ? `certificate-authority: ${caFile}` : 'insecure-skip-tls-verify: true';
  await writeFile(path, `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: ${server}, ${cluster}}}]\nusers: [{name: u, user: {token: ${token.trim()}}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`);
  return path;
}

interface Scrape {
  heapUsed: number;
  lagMax: number;
}

async function scrape(port: number): Promise<Scrape> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name: string) => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? NaN);
  // The operator's own monitor keeps the longest delay since start (src/telemetry/event-loop.ts).
  return { heapUsed: value('nodejs_heap_size_used_bytes'), lagMax: value('hivewall_event_loop_delay_max_seconds') };
}

/** CPU seconds (user + system) of a process so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Objects written since `sinceRv`: hivewall's kinds, the checkpoint and Events (the Lease excluded). */
async function writesSince(kc: KubeConfig, sinceRv: number): Promise<number> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  let writes = 0;
  const newer = (items: { metadata?: { resourceVersion?: string } }[]) => items.filter((o) => Number(o.metadata?.resourceVersion ?? 0) > sinceRv).length;
  for (const plural of ['segmentations', 'policyproposals', 'trafficprofiles']) {
    const list = await custom.listClusterCustomObject({ group: 'hivewall.dev', version: 'v1alpha1', plural }) as { items: { metadata?: { resourceVersion?: string } }[] };
    writes += newer(list.items);
  }
  writes += newer((await core.listNamespacedConfigMap({ namespace: OPERATOR_NS })).items);
  writes += newer((await core.listEventForAllNamespaces()).items);
  return writes;
}

async function currentRv(kc: KubeConfig): Promise<number> {
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: 'default', limit: 1 });
  return Number(list.metadata?.resourceVersion ?? 0);
}

/** The API server's own request counters (apiserver_request_total), summed by verb and resource. */
async function apiRequests(admin: string): Promise<Map<string, number>> {
  const { stdout } = await run('kubectl', ['--kubeconfig', admin, 'get', '--raw', '/metrics'], { maxBuffer: 64 * 2 ** 20 });
  const counts = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (labels['verb'] === 'WATCH' || labels['resource'] === 'leases') continue;
    const key = `${labels['verb']}_${labels['resource']}${labels['subresource'] ? `_${labels['subresource']}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counts;
}

/** Requests per namespace between two {@link apiRequests} readings, the largest first. */
function printRequestsPerNamespace(prefix: string, before: Map<string, number>, after: Map<string, number>, n: number): void {
  const rows = [...after].map(([key, count]) => [key, (count - (before.get(key) ?? 0)) / n] as const).filter(([, perNs]) => perNs >= 0.05).sort((a, b) => b[1] - a[1]);
  for (const [key, perNs] of rows) print(`${prefix}_${key.toLowerCase()}`, perNs);
}

/**
 * How many PolicyProposals exist, cluster-wide, without listing them: a one-item page and the
 * server's `remainingItemCount`. Polling a full list of 1,000 proposals (each with its policies and
 * evidence) twice a second would load the API server more than the operator does; and the request
 * goes over the bench's kept-alive client, not a `kubectl` process (about 0.15 CPU-s each, twice a
 * second, on the two cores the operator and the API server share).
 */
async function proposalTotal(kc: KubeConfig): Promise<number> {
  const list = await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group: 'hivewall.dev', version: 'v1alpha1', plural: 'policyproposals', limit: 1 }) as { items: unknown[]; metadata?: { remainingItemCount?: number } };
  return list.items.length + (list.metadata?.remainingItemCount ?? 0);
}

/** The proposals of one namespace at `revision`. */
async function countProposals(kc: KubeConfig, revision: number, namespace: string): Promise<number> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const list = await custom.listNamespacedCustomObject({ group: 'hivewall.dev', version: 'v1alpha1', namespace, plural: 'policyproposals' }) as { items: { spec?: { content?: { revision?: number } } }[] };
  return list.items.filter((p) => p.spec?.content?.revision === revision).length;
}

async function benchN(n: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `hivewall-bench-operator-${n}-`));
  const up = await clusterUp({ dir: join(dir, 'cluster') });
  let operator: ChildProcess | undefined;
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(up.info.kubeconfig);
    shareConnections(kc);
    const setupStart = Date.now();
    await populate(kc, n);
    print(`operator_n${n}_setup_s`, (Date.now() - setupStart) / 1000, 1);
    const operatorKc = await operatorKubeconfig(up.info.kubeconfig, up.info.server, up.info.servingCA, dir);
    const flows = join(dir, 'flows.jsonl');
    const t0 = Date.now();
    await writeFile(flows, `${chainLines(n, t0, 20000).join('\n')}\n`);
    const healthPort = await freePort();
    const requestsAtStart = await apiRequests(up.info.kubeconfig);
    // The control plane's CPU beside the operator's: which of them a phase waits on.
    const controlPlane = up.info.pids ? [up.info.pids.apiserver, up.info.pids.etcd] : [];
    const controlPlaneCpu = () => controlPlane.reduce((sum, p) => sum + cpuSeconds(p), 0);
    let planeCpu = controlPlaneCpu();
    const started = Date.now();
    // As deployed: the Node.js flags deploy/base gives the operator as NODE_OPTIONS.
    operator = spawn(process.execPath, [...deployedOperatorNodeFlags(), ...PROFILE_ARGS, join(ROOT, 'bin/hivewall.js'), 'operator', '--kubeconfig', operatorKc, '--flows-path', flows, '--namespace', OPERATOR_NS,
      '--identity', 'bench', '--health-port', String(healthPort), '--bind-address', '127.0.0.1', '--flow-poll-ms', '250', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
    let exited = false;
    operator.once('exit', () => (exited = true));
    const pid = operator.pid!;
    // Scraped only at proposals and at the end: a scrape costs the operator CPU too.

    // All proposals.
    while ((await proposalTotal(kc).catch(() => 0)) < n) {
      if (exited || Date.now() - started > 600_000) throw new Error(`operator ${exited ? 'exited' : 'too slow'} before all ${n} proposals`);
      await sleep(500);
    }
    goal(`operator_n${n}_all_proposals_s`, (Date.now() - started) / 1000, n >= 1000 ? '<= 60' : '(context)', 1);
    print(`operator_n${n}_cpu_s_to_proposals`, cpuSeconds(pid), 1);
    print(`operator_n${n}_control_plane_cpu_s_to_proposals`, controlPlaneCpu() - planeCpu, 1);
    const atProposals = await scrape(healthPort);
    // What the start cost the API server, per namespace (the bench's own polling included).
    printRequestsPerNamespace(`operator_n${n}_api_requests_per_ns_to_proposals`, requestsAtStart, await apiRequests(up.info.kubeconfig), n);
    goal(`operator_n${n}_heap_at_proposals_mib`, atProposals.heapUsed / 2 ** 20, n >= 1000 ? '<= 300' : '(context)', 0);

    // Idle minute, once the start's work has settled: a 10 s span without a hivewall write (the
    // Lease's renewals excluded), at most 3 minutes.
    const settleStart = Date.now();
    while (Date.now() - settleStart < 180_000) {
      const from = await currentRv(kc);
      await sleep(10_000);
      if ((await writesSince(kc, from)) === 0) break;
    }
    print(`operator_n${n}_settled_after_proposals_s`, (Date.now() - settleStart) / 1000, 1);
    const rv = await currentRv(kc);
    let cpu = cpuSeconds(pid);
    await sleep(60_000);
    goal(`operator_n${n}_idle_cpu_s_per_min`, cpuSeconds(pid) - cpu, '<= 2');
    goal(`operator_n${n}_idle_writes_per_min`, await writesSince(kc, rv), '0 beyond the Lease', 0);

    // Busy minute: 2,000 lines/s of known edges.
    cpu = cpuSeconds(pid);
    planeCpu = controlPlaneCpu();
    const busyStart = Date.now();
    let sent = 0;
    while (Date.now() - busyStart < 60_000) {
      const lines: string[] = [];
      for (let k = 0; k < 500; k++, sent++) {
        const i = sent % n;
        const a = sent % (APPS - 1);
        lines.push(deliveredTcpLine(podOf(i, a, 0), podOf(i, a + 1, 0), 8080, Date.now(), 1024 + (sent % 60000)));
      }
      await appendFile(flows, `${lines.join('\n')}\n`);
      await sleep(Math.max(0, busyStart + (sent / 2000) * 1000 - Date.now()));
    }
    goal(`operator_n${n}_busy_cpu_s_per_min`, cpuSeconds(pid) - cpu, '<= 20 (2,000 lines/s)');
    print(`operator_n${n}_busy_control_plane_cpu_s_per_min`, controlPlaneCpu() - planeCpu, 1);
    print(`operator_n${n}_busy_lines`, sent);

    // A new edge in one namespace → its revision 2.
    await sleep(5000);
    const target = nsName(Math.floor(n / 2));
    const edgeAt = Date.now();
    await appendFile(flows, `${deliveredTcpLine(podOf(Math.floor(n / 2), 9, 0), podOf(Math.floor(n / 2), 0, 0), 9090, edgeAt, 33333)}\n`);
    while ((await countProposals(kc, 2, target)) < 1) {
      if (exited || Date.now() - edgeAt > 120_000) throw new Error('no follow-up proposal');
      await sleep(200);
    }
    goal(`operator_n${n}_followup_s`, (Date.now() - edgeAt) / 1000, '<= stableFor 5 s + 3 s', 1);
    const atEnd = await scrape(healthPort);
    goal(`operator_n${n}_longest_stall_ms`, atEnd.lagMax * 1000, '<= 500 (since start)', 0);
    print(`operator_n${n}_heap_at_end_mib`, Math.round(atEnd.heapUsed / 2 ** 20));
    print(`operator_n${n}_exited`, exited ? 1 : 0);
  } finally {
    if (operator && operator.exitCode === null) {
      const gone = new Promise((resolve) => operator!.once('exit', resolve));
      operator.kill('SIGTERM');
      // A profiled operator writes its profile as it exits: give it time.
      await Promise.race([gone, sleep(profileArg >= 0 ? 30_000 : 2_000)]);
      operator.kill('SIGKILL');
    }
    await clusterDown(join(dir, 'cluster')).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

const arg = process.argv.indexOf('--n');
/** `--profile <dir>`: the operator writes a V8 CPU profile there (Chrome DevTools' format) when it exits. */
const profileArg = process.argv.indexOf('--profile');
/**
 * `--max-old-space-size <MiB>`: the operator's V8 heap limit. Default: the one it gets in the
 * Deployment deploy/base ships. Node.js sizes V8's old generation from the memory the process may
 * use, which in a container is its cgroup limit, and V8 takes a quarter of it; on this machine the
 * quarter of 24 GiB (capped at 4 GiB) would let garbage pile up uncollected to sizes no deployed
 * operator sees.
 */
const heapArg = process.argv.indexOf('--max-old-space-size');
const PROFILE_ARGS = [
  ...(profileArg >= 0 ? ['--cpu-prof', `--cpu-prof-dir=${process.argv[profileArg + 1]}`] : []),
  `--max-old-space-size=${heapArg >= 0 ? process.argv[heapArg + 1] : Math.floor(deployedOperatorMemoryLimitMib() / 4)}`,
];

interface DeployedContainer {
  readonly name: string;
  readonly env?: { name: string; value?: string }[];
  readonly resources?: { limits?: { memory?: string } };
}

/** The operator container as deploy/base runs it. */
function deployedOperator(): DeployedContainer {
  const { manifests } = kustomize(join(ROOT, 'deploy/base'));
  const deployment = findManifest<Manifest & { spec: { template: { spec: { containers: DeployedContainer[] } } } }>(manifests, 'Deployment', 'hivewall-operator', OPERATOR_NS);
  const container = deployment.spec.template.spec.containers.find((c) => c.name === 'operator');
  if (!container) throw new Error('deploy/base: no operator container in Deployment hivewall-operator');
  return container;
}

/** The memory limit of the operator container in deploy/base (MiB). */
function deployedOperatorMemoryLimitMib(): number {
  const limit = deployedOperator().resources?.limits?.memory ?? '';
  const match = /^(\d+)(Mi|Gi)$/.exec(limit);
  if (!match) throw new Error(`deploy/base: the operator's memory limit ${JSON.stringify(limit)} is not <n>Mi or <n>Gi`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
}

/** The Node.js flags deploy/base gives the operator (its NODE_OPTIONS), split into arguments. */
function deployedOperatorNodeFlags(): string[] {
  return (deployedOperator().env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '').split(/\s+/).filter(Boolean);
}

const sizes = (arg >= 0 ? process.argv[arg + 1]! : '100,1000').split(',').map(Number).filter((n) => n > 0);
for (const n of sizes) await benchN(n);
if (!process.argv.includes('--no-sim')) {
  const sim = await simulatePlanning({ namespaces: 10_000, podsPerNamespace: 15 });
  goal('operator_sim_plan_one_namespace_ms', sim.planMs, '<= 5 (10,000 namespaces / 150,000 pods)');
  goal('operator_sim_index_mib', sim.indexMib, '<= 1536', 0);
  print('operator_sim_inventory_build_s', sim.buildS);
  goal('operator_sim_replace_one_namespace_ms', sim.replaceNamespaceMs, '<= 5 (what one namespace\'s pod change costs the indexes)');
}
