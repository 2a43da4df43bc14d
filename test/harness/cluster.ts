// A real control plane for tests: etcd + kube-apiserver built from Go modules
// (test/envtest/), started on loopback with RBAC, a client CA, service-account
// signing keys, the project CRDs and the real Cilium CiliumNetworkPolicy CRD.
//
// State lives in one folder (pid files, logs, PKI, etcd data, kubeconfig,
// cluster.json). `clusterUp` is idempotent: a healthy cluster in the folder is
// reused; anything stale (dead pids, old etcd data) is cleaned up first.
import { execFile, spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadAll } from 'js-yaml';
import { createCA, createServiceAccountKeys, issueCert, type CertPair } from './pki.js';
import { writeKubeconfig } from './kubeconfig.js';
import {
  ciliumVersionFile, envtestBuildScript, goCommand, projectCrdDir, repoRoot, sharedCiliumCrd,
} from './paths.js';

const execFileAsync = promisify(execFile);

export interface CiliumCrdStatus {
  /** Whether the CiliumNetworkPolicy CRD is installed and established. */
  readonly installed: boolean;
  /** Where the CRD came from (file path), when installed. */
  readonly source?: string;
  /** Why it is not installed, when not. */
  readonly reason?: string;
}

/** Everything a test needs to talk to the cluster. Serializable (vitest `provide`). */
export interface ClusterInfo {
  /** State folder of a harness-started cluster; undefined for an external cluster. */
  readonly dir?: string;
  /** Admin kubeconfig (system:masters). */
  readonly kubeconfig: string;
  readonly server: string;
  /** CA bundle that verifies the API server's serving certificate, if known. */
  readonly servingCA?: string;
  /** The client CA that the API server trusts; lets tests mint user certificates. */
  readonly clientCA?: CertPair;
  /** Folder for identity kubeconfigs/certs the helpers create. */
  readonly scratchDir: string;
  readonly external: boolean;
  readonly versions?: { readonly kubernetes: string; readonly etcd: string };
  readonly pids?: { readonly etcd: number; readonly apiserver: number };
  readonly cilium: CiliumCrdStatus;
  /** Names of the project CRDs (from crds/*.yaml) that were installed. */
  readonly projectCrds: readonly string[];
}

export interface UpOptions {
  /** State folder. */
  readonly dir: string;
  /** Log progress lines (default: no logging). */
  readonly log?: (line: string) => void;
  /** How long to wait for /readyz (ms). */
  readonly readyTimeoutMs?: number;
}

export interface UpResult {
  readonly info: ClusterInfo;
  /** True if a healthy cluster was already running in the folder. */
  readonly reused: boolean;
  readonly elapsedMs: number;
}

const STATE_FILE = 'cluster.json';
const SERVICE_CIDR = '10.96.0.0/24'; // allocation bookkeeping only: nothing routes to it

// ---------------------------------------------------------------- binaries

export interface Binaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
}

/** Build (or find cached) etcd and kube-apiserver. Slow only the first time. */
export async function ensureBinaries(log?: (line: string) => void): Promise<Binaries> {
  const child = spawn('bash', [envtestBuildScript, 'all'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GO: goCommand(), GOTOOLCHAIN: process.env['GOTOOLCHAIN'] ?? 'local' },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    for (const line of d.toString().split('\n')) if (line.trim()) log?.(line);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`test/envtest/build.sh failed (exit ${code}):\n${err.slice(-4000)}`);
  const paths = Object.fromEntries(out.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
  const etcd = paths['etcd'];
  const kubeApiserver = paths['kube-apiserver'];
  if (!etcd || !kubeApiserver) throw new Error(`test/envtest/build.sh printed no binary paths:\n${out}`);
  return { etcd, kubeApiserver };
}

function versionFromPath(bin: string, name: string): string {
  const m = new RegExp(`${name}-(v[^-]+(?:-[a-z]+\\.\\d+)?)-[0-9a-f]{12}`).exec(bin);
  return m?.[1] ?? 'unknown';
}

// ---------------------------------------------------------------- processes

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped by init) answers signal 0 but is gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /s.test(stat);
  } catch {
    return true;
  }
}

/** True if `pid` is alive and its command line mentions `dir` (so it is ours, not a recycled pid). */
function pidBelongsTo(pid: number, dir: string): boolean {
  if (!pidAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    return false;
  }
}

async function readPid(file: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await readFile(file, 'utf8')).trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function stopPid(pid: number, dir: string, graceMs = 3000): Promise<void> {
  if (!pidBelongsTo(pid, dir)) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return;
    await sleep(50);
  }
  try { process.kill(pid, 'SIGKILL'); } catch { return; }
  for (let i = 0; i < 100 && pidAlive(pid); i++) await sleep(20);
}

/** Start a long-running daemon detached from us, logging to `logFile`. */
function startDaemon(bin: string, args: readonly string[], logFile: string, cwd: string): number {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(bin, args, { cwd, detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error(`failed to start ${bin}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

async function tail(file: string, lines = 30): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Free loopback TCP ports (held open together so they are distinct). */
async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      ports.push((server.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

// ---------------------------------------------------------------- lock

/** A folder lock (`<dir>.lock`, holding our pid); stale locks of dead pids are broken. */
async function withLock<T>(dir: string, fn: () => Promise<T>, timeoutMs = 180_000): Promise<T> {
  const lock = `${dir}.lock`;
  await mkdir(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = await readPid(lock);
      // No pid yet may just mean the holder is between creating and writing the file.
      const stale = holder === undefined ? Date.now() - (await stat(lock).catch(() => ({ mtimeMs: 0 }))).mtimeMs > 2000 : !pidAlive(holder);
      if (stale) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for cluster lock ${lock} (held by pid ${holder})`, { cause: err });
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

// ---------------------------------------------------------------- API access

export interface AdminClient {
  readonly server: string;
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface ApiResponse {
  readonly status: number;
  readonly body: string;
}

/** One HTTPS request to the API server as the admin. Loopback only. */
export function apiRequest(
  client: AdminClient, method: string, urlPath: string,
  body?: string, contentType = 'application/json', timeoutMs = 10_000,
): Promise<ApiResponse> {
  const url = new URL(urlPath, client.server);
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method, ca: client.ca, cert: client.cert, key: client.key, timeout: timeoutMs,
      headers: body === undefined ? { accept: 'application/json' } : {
        accept: 'application/json', 'content-type': contentType, 'content-length': Buffer.byteLength(body),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: timeout`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function isReady(client: AdminClient): Promise<boolean> {
  try {
    const res = await apiRequest(client, 'GET', '/readyz', undefined, undefined, 2000);
    return res.status === 200;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- CRDs

interface CrdDoc {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
  spec?: { names?: { kind?: string } };
}

async function readCrdDocs(file: string): Promise<CrdDoc[]> {
  const docs = loadAll(await readFile(file, 'utf8')) as unknown[];
  return docs.filter((d): d is CrdDoc => typeof d === 'object' && d !== null)
    .filter((d) => d.kind === 'CustomResourceDefinition');
}

/** Server-side apply CRDs, then wait until each is Established. */
export async function applyCrds(client: AdminClient, docs: readonly CrdDoc[], timeoutMs = 30_000): Promise<string[]> {
  const names: string[] = [];
  await Promise.all(docs.map(async (doc) => {
    const name = doc.metadata?.name;
    if (!name) throw new Error('CustomResourceDefinition without metadata.name');
    const res = await apiRequest(
      client, 'PATCH',
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(name)}?fieldManager=hivewall-envtest&force=true`,
      JSON.stringify(doc), 'application/apply-patch+yaml', 30_000,
    );
    if (res.status >= 300) throw new Error(`applying CRD ${name}: HTTP ${res.status}: ${res.body.slice(0, 2000)}`);
    names.push(name);
  }));
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const res = await apiRequest(client, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      const crd = JSON.parse(res.body) as { status?: { conditions?: { type: string; status: string }[] } };
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
      await sleep(50);
    }
  }
  return names.sort();
}

/** crds/*.yaml of the repo (absent or empty is fine). */
export async function projectCrdDocs(): Promise<CrdDoc[]> {
  let files: string[];
  try {
    files = (await readdir(projectCrdDir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch {
    return [];
  }
  const docs: CrdDoc[] = [];
  for (const f of files) docs.push(...await readCrdDocs(path.join(projectCrdDir, f)));
  return docs;
}

/**
 * The CiliumNetworkPolicy CRD file: $HIVEWALL_CILIUM_CRD, else the Go module
 * github.com/cilium/cilium at the version in test/envtest/cilium.version
 * (downloaded into the Go module cache if needed), else ../shared/data/cilium/.
 */
export async function findCiliumCrd(log?: (line: string) => void): Promise<{ file?: string; reason?: string }> {
  const explicit = process.env['HIVEWALL_CILIUM_CRD'];
  if (explicit) return existsSync(explicit) ? { file: explicit } : { reason: `HIVEWALL_CILIUM_CRD=${explicit} does not exist` };
  const reasons: string[] = [];
  try {
    const version = (await readFile(ciliumVersionFile, 'utf8')).trim();
    const { stdout } = await execFileAsync(goCommand(), ['mod', 'download', '-json', `github.com/cilium/cilium@${version}`], {
      cwd: path.dirname(ciliumVersionFile), // a folder with no go.mod: plain module download
      timeout: 180_000, maxBuffer: 1024 * 1024,
      env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: process.env['GOTOOLCHAIN'] ?? 'local' },
    });
    const dir = (JSON.parse(stdout) as { Dir?: string }).Dir;
    const file = dir && path.join(dir, 'pkg', 'k8s', 'apis', 'cilium.io', 'client', 'crds', 'v2', 'ciliumnetworkpolicies.yaml');
    if (file && existsSync(file)) return { file };
    reasons.push(`module github.com/cilium/cilium@${version} has no CRD file`);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    let msg = e.stderr || e.message;
    try { msg = (JSON.parse(e.stdout ?? '') as { Error?: string }).Error ?? msg; } catch { /* not JSON */ }
    reasons.push(`go mod download github.com/cilium/cilium failed: ${msg.trim().split('\n').slice(-2).join(' ')}`);
    log?.(`cilium CRD: ${reasons[0]}; trying ${sharedCiliumCrd}`);
  }
  if (existsSync(sharedCiliumCrd)) return { file: sharedCiliumCrd };
  reasons.push(`${sharedCiliumCrd} not found`);
  return { reason: `Cilium CRD unavailable: ${reasons.join('; ')}` };
}

/** Install the project CRDs and the Cilium CRD (best effort for Cilium). */
export async function installCrds(client: AdminClient, log?: (line: string) => void): Promise<{ projectCrds: string[]; cilium: CiliumCrdStatus }> {
  const [project, ciliumFile] = await Promise.all([projectCrdDocs(), findCiliumCrd(log)]);
  let cilium: CiliumCrdStatus;
  const projectCrdsP = applyCrds(client, project);
  if (ciliumFile.file) {
    await applyCrds(client, await readCrdDocs(ciliumFile.file));
    cilium = { installed: true, source: ciliumFile.file };
  } else {
    cilium = { installed: false, reason: ciliumFile.reason ?? 'Cilium CRD unavailable' };
  }
  return { projectCrds: await projectCrdsP, cilium };
}

// ---------------------------------------------------------------- up / down

export function readState(dir: string): ClusterInfo | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, STATE_FILE), 'utf8')) as ClusterInfo;
  } catch {
    return undefined;
  }
}

export function adminClientFor(dir: string, server: string): AdminClient {
  return {
    server,
    ca: readFileSync(path.join(dir, 'pki', 'serving-ca.crt')),
    cert: readFileSync(path.join(dir, 'pki', 'admin.crt')),
    key: readFileSync(path.join(dir, 'pki', 'admin.key')),
  };
}

/** The running, healthy cluster in `dir`, if any. */
export async function runningCluster(dir: string): Promise<ClusterInfo | undefined> {
  const state = readState(dir);
  if (!state?.pids) return undefined;
  if (!pidBelongsTo(state.pids.etcd, dir) || !pidBelongsTo(state.pids.apiserver, dir)) return undefined;
  try {
    return (await isReady(adminClientFor(dir, state.server))) ? state : undefined;
  } catch {
    return undefined;
  }
}

/** Stop the daemons of `dir` (pid files and state) and remove all of its data. */
export async function clusterDown(dir: string): Promise<void> {
  await withLock(dir, async () => {
    const pids = new Set<number>();
    for (const f of ['kube-apiserver.pid', 'etcd.pid']) {
      const pid = await readPid(path.join(dir, f));
      if (pid) pids.add(pid);
    }
    const state = readState(dir);
    if (state?.pids) { pids.add(state.pids.apiserver); pids.add(state.pids.etcd); }
    // The data is thrown away, so a graceful shutdown buys nothing (the API
    // server's takes seconds): a short grace, then SIGKILL.
    for (const pid of pids) await stopPid(pid, dir, 200);
    await rm(dir, { recursive: true, force: true });
  });
}

/** Start (or reuse) the cluster in `opts.dir`. */
export async function clusterUp(opts: UpOptions): Promise<UpResult> {
  const start = Date.now();
  const log = opts.log ?? (() => {});
  const dir = path.resolve(opts.dir);
  const binaries = await ensureBinaries(log); // outside the lock: a cold build is long
  const buildMs = Date.now() - start;
  const lockedStart = Date.now();
  return withLock(dir, async () => {
    const existing = await runningCluster(dir);
    if (existing) {
      log(`reusing running cluster in ${dir}`);
      const crds = await installCrds(adminClientFor(dir, existing.server), log);
      const info: ClusterInfo = { ...existing, ...crds };
      await writeFile(path.join(dir, STATE_FILE), JSON.stringify(info, null, 2) + '\n');
      return { info, reused: true, elapsedMs: Date.now() - start };
    }

    // Clean up whatever a crashed run left behind.
    for (const f of ['kube-apiserver.pid', 'etcd.pid']) {
      const pid = await readPid(path.join(dir, f));
      if (pid) await stopPid(pid, dir, 1000);
    }
    const stale = readState(dir);
    if (stale?.pids) { await stopPid(stale.pids.apiserver, dir, 1000); await stopPid(stale.pids.etcd, dir, 1000); }
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });

    const pki = path.join(dir, 'pki');
    const [[etcdClientPort, etcdPeerPort, apiPort], servingCA, clientCA, sa] = await Promise.all([
      freePorts(3),
      createCA(pki, 'serving-ca', 'hivewall-envtest-serving-ca'),
      createCA(pki, 'client-ca', 'hivewall-envtest-client-ca'),
      createServiceAccountKeys(pki),
    ]);
    if (!etcdClientPort || !etcdPeerPort || !apiPort) throw new Error('could not allocate ports');
    const [serving, admin] = await Promise.all([
      issueCert({
        ca: servingCA, dir: pki, name: 'apiserver', commonName: 'kube-apiserver', usage: 'server',
        sans: ['IP:127.0.0.1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'IP:10.96.0.1'],
      }),
      issueCert({ ca: clientCA, dir: pki, name: 'admin', commonName: 'hivewall-admin', organizations: ['system:masters'], usage: 'client' }),
    ]);

    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const server = `https://127.0.0.1:${apiPort}`;
    const etcdPid = startDaemon(binaries.etcd, [
      '--name=hivewall-envtest',
      `--data-dir=${path.join(dir, 'etcd-data')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=hivewall-envtest=${peerUrl}`,
      '--initial-cluster-state=new',
      '--unsafe-no-fsync=true', // test data: speed over durability
      '--log-level=warn',
    ], path.join(dir, 'etcd.log'), dir);
    await writeFile(path.join(dir, 'etcd.pid'), `${etcdPid}\n`);

    const apiPid = startDaemon(binaries.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${serving.cert}`,
      `--tls-private-key-file=${serving.key}`,
      `--client-ca-file=${clientCA.cert}`,
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${sa.publicKey}`,
      `--service-account-signing-key-file=${sa.privateKey}`,
      '--authorization-mode=RBAC',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--endpoint-reconciler-type=none', // no real endpoints to publish for the 'kubernetes' service
      '--allow-privileged=true',
      '--profiling=false',
    ], path.join(dir, 'kube-apiserver.log'), dir);
    await writeFile(path.join(dir, 'kube-apiserver.pid'), `${apiPid}\n`);

    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, {
      server, caFile: servingCA.cert, user: 'hivewall-admin', certFile: admin.cert, keyFile: admin.key,
    });

    const client = adminClientFor(dir, server);
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 90_000);
    for (;;) {
      if (await isReady(client)) break;
      for (const [name, pid] of [['etcd', etcdPid], ['kube-apiserver', apiPid]] as const) {
        if (!pidAlive(pid)) {
          throw new Error(`${name} exited during startup; last log lines:\n${await tail(path.join(dir, `${name}.log`))}`);
        }
      }
      if (Date.now() > deadline) {
        throw new Error(`kube-apiserver not ready after ${opts.readyTimeoutMs ?? 90_000} ms; last log lines:\n${await tail(path.join(dir, 'kube-apiserver.log'))}`);
      }
      await sleep(100);
    }
    const readyMs = Date.now() - lockedStart;
    const crds = await installCrds(client, log);
    const info: ClusterInfo = {
      dir, kubeconfig, server, servingCA: servingCA.cert, clientCA, scratchDir: path.join(dir, 'identities'),
      external: false,
      versions: { kubernetes: versionFromPath(binaries.kubeApiserver, 'kube-apiserver'), etcd: versionFromPath(binaries.etcd, 'etcd') },
      pids: { etcd: etcdPid, apiserver: apiPid },
      ...crds,
    };
    await writeFile(path.join(dir, STATE_FILE), JSON.stringify(info, null, 2) + '\n');
    log(`binaries ${buildMs} ms, apiserver ready ${readyMs} ms, CRDs ${Date.now() - lockedStart - readyMs} ms`);
    return { info, reused: false, elapsedMs: Date.now() - start };
  });
}

// ---------------------------------------------------------------- outages

/**
 * SIGKILLs the harness cluster's kube-apiserver (etcd keeps running, as when an API server
 * crashes) and returns a function that starts it again with the very same command line (same
 * port, certificates and etcd), resolving once it is ready. Integration files run one at a time,
 * so an outage disturbs only the file that causes it; it must restart the server before it ends.
 */
export async function killApiServer(dir: string): Promise<() => Promise<void>> {
  const state = readState(dir);
  const pid = (await readPid(path.join(dir, 'kube-apiserver.pid'))) ?? state?.pids?.apiserver;
  if (state === undefined || pid === undefined || !pidBelongsTo(pid, dir)) throw new Error(`no running kube-apiserver of the cluster in ${dir}`);
  const [bin, ...args] = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 250 && pidAlive(pid); i++) await sleep(20);
  return async () => {
    const apiPid = startDaemon(bin!, args, path.join(dir, 'kube-apiserver.log'), dir);
    await writeFile(path.join(dir, 'kube-apiserver.pid'), `${apiPid}\n`);
    await writeFile(path.join(dir, STATE_FILE), JSON.stringify({ ...state, pids: { ...state.pids!, apiserver: apiPid } }, null, 2) + '\n');
    const client = adminClientFor(dir, state.server);
    const deadline = Date.now() + 90_000;
    while (!(await isReady(client))) {
      if (!pidAlive(apiPid)) throw new Error(`kube-apiserver exited on restart; last log lines:\n${await tail(path.join(dir, 'kube-apiserver.log'))}`);
      if (Date.now() > deadline) throw new Error('kube-apiserver not ready 90 s after its restart');
      await sleep(100);
    }
  };
}
