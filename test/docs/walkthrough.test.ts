/**
 * The walkthroughs in README.md ("On a cluster") and docs/operator-guide.md, and the reviewer and
 * GitOps guides, run as written against the real API server with one operator running (a separate
 * process, as its own ServiceAccount) and `kubectl hivewall` found by kubectl's own plugin
 * discovery on PATH. Between commands the test waits for the state the next command talks about
 * (the proposal exists, the policies are enforced), as a reader would. README.md and the operator
 * guide: every `kubectl …` line of their `sh` blocks. The reviewer and GitOps guides: every command
 * of their `sh` blocks (git, diff, shell variables too), pasted into one bash per guide, each one
 * with its own checks (a step below, run by test/docs/guides.ts); the proposals they review are the
 * operator's, from the example's flows plus new connections appended to the file it follows.
 */
import { appendFile, chmod, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { adminKubeconfigPath, kubectl, kubectlOk, serviceAccountIdentity, userIdentity, type Identity } from '../harness/index.js';
import { createSnapshot, loadSnapshotObjects } from '../e2e/cluster-objects.js';
import { eventually, getJson, OperatorProcesses, ROOT, type Json } from '../e2e/operator-process.js';
import { newConnections } from './flows.js';
import { diffedPolicies, git, review, runGuide, type GuideRun, type Step } from './guides.js';
import { Shell, shCommands } from './shell.js';
import { removeAdmissionPolicy } from '../deploy/deploy-helpers.js';

const admin = () => ({ kubeconfig: adminKubeconfigPath() });
let work: string;
let binDir: string;
let flowFile: string;
let reviewer: Identity;
/** The reader of the reviewer and GitOps guides: in the group their RoleBindings name. */
let rita: Identity;
let operators: OperatorProcesses;

/** The `kubectl` lines of a markdown document's `sh` blocks (comments after `#` dropped). */
export function kubectlLines(markdown: string, section?: string): string[] {
  const text = section ? markdown.slice(markdown.indexOf(section)) : markdown;
  const blocks = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const scoped = section ? blocks.slice(0, 1) : blocks;
  return scoped.flatMap((b) => b.split('\n')).map((l) => l.replace(/\s+#\s.*$/, '').trim()).filter((l) => l.startsWith('kubectl '));
}

function run(line: string, kubeconfig: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', line], { cwd: ROOT, env: { ...process.env, KUBECONFIG: kubeconfig, PATH: `${binDir}:${process.env.PATH}` } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const proposalExists = (name = 'shop-r1') => eventually(`proposal ${name}`, async () => (await kubectl(['get', 'policyproposal', name, '-n', 'shop'], admin())).code === 0, 45_000, operators);
const segmentation = () => getJson(['segmentation', 'shop', '-n', 'shop']);
const phase = async () => (await segmentation()).status?.phase as string | undefined;
const enforced = async () => ((await segmentation()).status?.conditions as Json[] | undefined)?.find((c) => c.type === 'Enforced');

/** What a reader waits for before a command, and checks after it. */
async function walk(lines: readonly string[]): Promise<string[]> {
  const outputs: string[] = [];
  for (const line of lines) {
    if (/get trafficprofile/.test(line)) await eventually('a TrafficProfile', async () => (await kubectl(['get', 'trafficprofile', 'shop', '-n', 'shop'], admin())).code === 0, 30_000, operators);
    if (/policyproposal|hivewall (approve|proposals)/.test(line)) await proposalExists();
    if (/get networkpolicies/.test(line)) await eventually('Enforcing', async () => (await phase()) === 'Enforcing', 45_000, operators);
    const asReviewer = /hivewall (approve|reject)/.test(line);
    const r = await run(line, asReviewer ? reviewer.kubeconfigPath : adminKubeconfigPath());
    // kubectl's informational lines (no events yet, version-skew warnings) are not failures.
    expect(r.stderr.replace(/^(Warning: |No resources found).*\n/gm, ''), line).toBe('');
    expect(r.code, `${line}\n${r.stderr}`).toBe(0);
    outputs.push(r.stdout);
    if (/"mode":"Learn"/.test(line)) {
      await eventually('hivewall policies removed', async () => (await getJson(['networkpolicies', '-n', 'shop', '-l', 'app.kubernetes.io/managed-by=hivewall'])).items.length === 0, 30_000, operators);
    }
  }
  return outputs;
}

/**
 * Deleting a Segmentation garbage-collects its proposals and profile (ownerReferences); this harness
 * has no garbage collector. The operator must be running: it removes the Segmentation's finalizer.
 */
async function collectGarbage(): Promise<void> {
  await kubectl(['delete', 'segmentation', 'shop', '-n', 'shop', '--ignore-not-found', '--wait=true', '--timeout=30s'], admin());
  await kubectl(['delete', 'policyproposals,trafficprofiles', '--all', '-n', 'shop'], admin());
}

/** A shop Segmentation like the demo one, learning and auditing for seconds: the state a guide starts from. */
async function startSegmentation(): Promise<void> {
  await collectGarbage();
  const demo = await readFile(join(ROOT, 'examples/segmentation-shop-demo.yaml'), 'utf8');
  const fast = demo.replace('window: 10s', 'window: 2s').replace('stableFor: 5s', 'stableFor: 1s').replace('auditPeriod: 10s', 'auditPeriod: 1s');
  expect(fast.match(/: [12]s\n/g)).toHaveLength(3);
  await kubectlOk(['apply', '-f', '-'], { ...admin(), input: fast });
}

/** New traffic, as the Hubble exporter appends it to the file the operator follows; resolves once the operator proposed the next revision. */
async function newEdge(client: string, server: string, port: number, revision: number): Promise<void> {
  await appendFile(flowFile, await newConnections(client, server, port, 3));
  await proposalExists(`shop-r${revision}`);
}

/**
 * The reviewer guide's binding, for the GitOps guide when it runs alone (`-t gitops`): only
 * hivewall-reviewer, which also reads the live policies `diff` and `export --from enforced` compare.
 */
async function reviewerBindings(): Promise<void> {
  const binding = ['rolebinding', 'hivewall-reviewers', '-n', 'shop', '--clusterrole=hivewall-reviewer', '--group=shop-security'];
  if ((await kubectl(['get', binding[0]!, binding[1]!, '-n', 'shop'], admin())).code !== 0) await kubectlOk(['create', ...binding], admin());
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hivewall-docs-'));
  binDir = join(work, 'bin');
  await kubectlOk(['apply', '-k', join(ROOT, 'deploy')], admin());
  await createSnapshot(await loadSnapshotObjects(join(ROOT, 'examples/shop/cluster/snapshot-end.yaml')));
  await collectGarbage();
  // `kubectl hivewall` through kubectl's plugin discovery: an executable kubectl-hivewall on PATH.
  await mkdir(binDir, { recursive: true });
  await writeFile(join(binDir, 'kubectl-hivewall'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'bin/kubectl-hivewall.js')}" "$@"\n`);
  await chmod(join(binDir, 'kubectl-hivewall'), 0o755);
  reviewer = await userIdentity('carol@example.com', ['docs-reviewers']);
  rita = await userIdentity('rita', ['shop-security']);
  await kubectl(['create', 'clusterrolebinding', 'docs-reviewers', '--clusterrole=hivewall-reviewer', '--group=docs-reviewers'], admin());
  flowFile = join(work, 'events.log');
  await writeFile(flowFile, await readFile(join(ROOT, 'examples/shop/flows.hubble.jsonl')));
  const sa = await serviceAccountIdentity('hivewall-system', 'hivewall-operator');
  operators = new OperatorProcesses(sa.kubeconfigPath, flowFile);
  operators.start('docs-operator');
}, 120_000);

afterAll(async () => {
  // While the operator runs: it removes the Segmentation's finalizer.
  await collectGarbage();
  await operators?.stopAll();
  await kubectl(['delete', 'clusterrolebinding', 'docs-reviewers', 'hivewall-reviewers', '--ignore-not-found'], admin());
  await kubectl(['delete', 'rolebinding', 'hivewall-reviewers', 'hivewall-viewers', '-n', 'shop', '--ignore-not-found'], admin());
  // deploy/'s admission policies are cluster-wide: left installed they would judge the proposals
  // later test files write as cluster admin (whatever order the files run in).
  await removeAdmissionPolicy();
});

describe('documented walkthroughs', () => {
  it('docs/operator-guide.md: learn → propose → approve → audit → enforce → back out', async () => {
    const lines = kubectlLines(await readFile(join(ROOT, 'docs/operator-guide.md'), 'utf8'));
    expect(lines.length).toBeGreaterThanOrEqual(10);
    const outputs = await walk(lines);
    const enforcedPolicies = outputs[lines.findIndex((l) => l.includes('get networkpolicies'))]!;
    expect(enforcedPolicies).toContain('hivewall-cart');
    expect((await kubectl(['get', 'segmentation', 'shop', '-n', 'shop'], admin())).code).not.toBe(0);
  }, 240_000);

  it('README.md "On a cluster": install, learn, list and approve the proposal', async () => {
    await collectGarbage();
    const lines = kubectlLines(await readFile(join(ROOT, 'README.md'), 'utf8'), '## On a cluster');
    expect(lines[0]).toBe('kubectl apply -k deploy/');
    await walk(lines);
    await eventually('Approved', async () => ['Auditing', 'Enforcing'].includes((await phase()) ?? ''), 30_000, operators);
  }, 180_000);
});

/** A reader's terminal: one bash in `cwd`, the plugin on PATH, their own HOME (git identity) and TMPDIR. */
async function terminal(name: string): Promise<Shell> {
  const cwd = join(work, name);
  const home = join(cwd, '.home');
  await mkdir(join(home, 'tmp'), { recursive: true });
  await writeFile(join(home, '.gitconfig'), '[user]\n\tname = Rita Reviewer\n\temail = rita@example.com\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n');
  const shell = new Shell(cwd, {
    PATH: `${binDir}:${process.env.PATH}`, HOME: home, TMPDIR: join(home, 'tmp'), LANG: 'C.UTF-8', NO_COLOR: '1',
    GIT_TERMINAL_PROMPT: '0', GIT_EDITOR: 'true', GIT_PAGER: 'cat', PAGER: 'cat',
  });
  onTestFinished(() => shell.close());
  return shell;
}

const guideRun = (shell: Shell): GuideRun => ({ shell, reader: rita.kubeconfigPath, admin: adminKubeconfigPath(), proposalExists });
const created = (kind: string, name: string) => (r: { stdout: string }) => expect(r.stdout).toBe(`${kind}.rbac.authorization.k8s.io/${name} created\n`);

describe('the reviewer and GitOps guides', () => {
  it('docs/reviewer-guide.md: bind, look (status, proposals, diff, explain), decide', async () => {
    // Where the guide starts: shop-r1 approved (by carol) and enforced; then new traffic,
    // prometheus scraping catalog on 9090, which the enforced policies would deny, and the
    // operator's next revision shop-r2 allowing it.
    await startSegmentation();
    await proposalExists('shop-r1');
    expect((await run('kubectl hivewall approve shop-r1 -n shop', reviewer.kubeconfigPath)).code).toBe(0);
    await eventually('shop-r1 enforced', async () => (await phase()) === 'Enforcing', 30_000, operators);
    await newEdge('prometheus-0', 'catalog-xhz2lgm2nd-52sfr', 9090, 2);
    await eventually('the audit of shop-r1 counts the new flows', async () => (await segmentation()).status?.audit?.wouldDeny === 3, 15_000, operators);

    const shell = await terminal('reviewer');
    const steps: Step[] = [
      { cmd: 'kubectl create rolebinding hivewall-reviewers -n shop --clusterrole=hivewall-reviewer --group=shop-security', as: 'admin', check: created('rolebinding', 'hivewall-reviewers') },
      { cmd: 'kubectl create clusterrolebinding hivewall-reviewers --clusterrole=hivewall-reviewer --group=platform-security', as: 'admin', check: created('clusterrolebinding', 'hivewall-reviewers') },
      { cmd: 'kubectl create rolebinding hivewall-viewers -n shop --clusterrole=hivewall-viewer --group=shop-developers', as: 'admin', check: created('rolebinding', 'hivewall-viewers') },
      { cmd: 'kubectl auth can-i patch policyproposals.hivewall.dev -n shop', check: (r) => expect(r.stdout).toBe('yes\n') },
      { cmd: 'npm ci && npm run build && npm link', skip: 'installs the plugin globally; the test puts kubectl-hivewall on PATH itself (the same program)' },
      { cmd: 'kubectl hivewall --help', check: (r) => { for (const c of ['status', 'proposals', 'diff', 'explain', 'approve', 'reject', 'export']) expect(r.stdout).toMatch(new RegExp(`^ {2}${c} `, 'm')); } },
      {
        cmd: 'kubectl hivewall status -n shop',
        check: (r) => {
          expect(r.stdout).toMatch(/^NAMESPACE +NAME +MODE +PHASE +FLOWS +EDGES +LAST NEW EDGE +PROPOSAL +WOULD-DENY +ENFORCED\nshop +shop +Enforce +Enforcing +\d+ +\d+ +\S+ ago +shop-r2 \(Pending\) +3 +yes \(in sync\)\n/);
          expect(r.stdout).toContain('    AuditClean=False WouldDeny: 3 live flows would be denied (allowed: 0)\n');
        },
      },
      {
        cmd: 'kubectl hivewall proposals -n shop',
        check: (r) => expect(r.stdout).toMatch(/^NAMESPACE +NAME +SEGMENTATION +REVISION +DECISION +REVIEWER +AGE\nshop +shop-r1 +shop +1 +Approved +carol@example\.com +\S+\nshop +shop-r2 +shop +2 +Pending +<none> +\S+\n\nshop\/shop-r1: 1 coverage warning \(traffic the learning window could not have seen\): kubectl hivewall explain shop-r1 -n shop\nshop\/shop-r2: 1 coverage warning \(traffic the learning window could not have seen\): kubectl hivewall explain shop-r2 -n shop\n$/),
      },
      {
        cmd: 'kubectl hivewall diff shop-r2 -n shop',
        // No note about a policy kind left out: hivewall-reviewer, rita's only binding, reads both.
        stderr: /^policyproposal shop\/shop-r2 against the live policies in shop: 0 added, 1 changed, 0 removed, 13 unchanged\ncontent sha256:[0-9a-f]{64} \(uid \S+\): to approve exactly this, kubectl hivewall approve shop-r2 -n shop --digest sha256:[0-9a-f]{64}\n$/,
        check: async (r) => {
          expect(diffedPolicies(r.stdout)).toEqual(['hivewall-catalog']);
          expect(r.stdout).toMatch(/^\+ +app\.kubernetes\.io\/name: prometheus$/m);
          expect(r.stdout).toMatch(/^\+ +port: 9090$/m);
          expect(r.stdout).not.toMatch(/^-(?!--)/m); // only additions
          for (const resource of ['networkpolicies.networking.k8s.io', 'ciliumnetworkpolicies.cilium.io']) {
            for (const verb of ['list', 'create', 'delete']) {
              expect((await shell.run(`kubectl auth can-i ${verb} ${resource} -n shop`, rita.kubeconfigPath)).stdout, `${verb} ${resource}`).toBe(verb === 'list' ? 'yes\n' : 'no\n');
            }
          }
        },
      },
      {
        cmd: 'kubectl hivewall explain shop-r2 -n shop',
        check: async (r) => {
          expect(r.stdout).toMatch(/^policyproposal shop\/shop-r2: segmentation shop, revision 2, 14 NetworkPolicy objects, Pending review\n/);
          expect(r.stdout).toMatch(/^hivewall-default-deny +\(namespace default deny\) +0 +0 +0 +0 +<none>$/m);
          expect(r.stdout).toMatch(/^hivewall-catalog +Deployment\/catalog +4 +2 +\d+ +\d+ +dns$/m);
          // The rule counts are the rules each policy has: kubelet probes (host) need none.
          const objects = (await getJson(['policyproposal', 'shop-r2', '-n', 'shop'])).spec.content.objects as Json[];
          const rows = r.stdout.split('\n').filter((l) => l.startsWith('hivewall-')).map((l) => l.split(/\s{3,}/));
          expect(rows.map((c) => c[0]).sort()).toEqual(objects.map((o) => o.metadata.name as string).sort());
          for (const o of objects) {
            const count = (direction: string) => String(((o.spec[direction] ?? []) as Json[]).length);
            expect(rows.find((c) => c[0] === o.metadata.name)?.slice(2, 4), o.metadata.name as string).toEqual([count('ingress'), count('egress')]);
          }
          expect(r.stdout).toContain('\nhost traffic (node → pod, kubelet probes) is allowed without a rule: counted in EDGES and FLOWS, not in INGRESS RULES\n');
        },
      },
      {
        cmd: 'kubectl hivewall explain shop-r2 hivewall-catalog -n shop',
        check: (r) => {
          expect(r.stdout).toMatch(/^NetworkPolicy hivewall-catalog \(Deployment\/catalog\) in policyproposal shop\/shop-r2\n/);
          expect(r.stdout).toMatch(/^ingress\/0: from monitoring\/StatefulSet\/prometheus on 9090\/TCP\n {2}observed: 1 edge, 3 flows\n {4}monitoring\/StatefulSet\/prometheus → shop\/Deployment\/catalog +9090\/TCP +3 flows +first seen \S+ +last seen \S+$/m);
          expect(r.stdout).toMatch(/allowed beyond observation because the Segmentation asks for it: dns/);
          expect(r.stdout.match(/^ingress\/\d+:/gm)).toEqual(['ingress/0:', 'ingress/1:', 'ingress/2:', 'ingress/3:']);
          expect(r.stdout).not.toMatch(/(ingress|egress)\/-1/);
          expect(r.stdout).toMatch(/\n\nhost \(node → pod, allowed without a rule\): from host on \d+\/TCP\n {2}no rule needed: .*\n {2}observed: \d+ edges?, \d+ flows?\n {4}host → shop\/Deployment\/catalog /);
        },
      },
      { cmd: 'kubectl get policyproposal shop-r2 -n shop -o yaml', check: (r) => expect(r.stdout).toMatch(/kind: PolicyProposal[\s\S]*name: shop-r2[\s\S]*evidence:/) },
      {
        cmd: 'kubectl hivewall report -n shop --out shop-report.html',
        check: async (r) => {
          // r1 is enforced; the one new edge (prometheus → catalog) is what r2 proposes, and the audit
          // of r1 saw it denied: it shows as would-deny, everything else as enforced.
          const m = /^wrote shop-report\.html: (\d+) workloads, (\d+) edges \((\d+) proposed, (\d+) enforced, (\d+) would-deny\)\n$/.exec(r.stdout);
          expect(m, r.stdout).not.toBeNull();
          const [workloads, edges, proposed, enforced, wouldDeny] = m!.slice(1).map(Number) as [number, number, number, number, number];
          expect(workloads).toBeGreaterThan(10);
          expect({ proposed, wouldDeny, enforced }).toEqual({ proposed: 0, wouldDeny: 1, enforced: edges - 1 });
          const html = await readFile(join(work, 'reviewer', 'shop-report.html'), 'utf8');
          expect(html).toMatch(/^<!DOCTYPE html>/i);
          expect(html).not.toMatch(/<script[^>]+src=["']https?:/i);
          expect(html).toContain('prometheus');
        },
      },
      {
        cmd: 'kubectl hivewall approve shop-r2 -n shop --comment "prometheus scrapes catalog since 2.4"',
        check: async (r) => {
          expect(r.stdout).toMatch(/^policyproposal\.hivewall\.dev\/shop-r2 approved by rita in namespace shop \(segmentation shop, revision 2\): content sha256:[0-9a-f]{64} \(uid \S+\)\n$/);
          expect(await review('shop-r2')).toMatchObject({ decision: 'Approved', reviewer: 'rita', comment: 'prometheus scrapes catalog since 2.4' });
          // A decision is only changed with --overwrite, as the guide says next.
          const again = await shell.run('kubectl hivewall reject shop-r2 -n shop', rita.kubeconfigPath);
          expect(again.code).toBe(1);
          expect(again.stderr).toMatch(/--overwrite/);
        },
      },
      {
        cmd: 'kubectl hivewall reject shop-r2 -n shop --overwrite --comment "catalog has no metrics port: who scrapes it?"',
        check: async () => expect(await review('shop-r2')).toMatchObject({ decision: 'Rejected', reviewer: 'rita', comment: 'catalog has no metrics port: who scrapes it?' }),
      },
      {
        cmd: `kubectl patch policyproposal shop-r2 -n shop --type=merge -p "{\\"spec\\":{\\"review\\":{
  \\"decision\\":\\"Approved\\",\\"reviewer\\":\\"$(kubectl auth whoami -o jsonpath='{.status.userInfo.username}')\\",
  \\"reviewedAt\\":\\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\\",\\"comment\\":\\"ok\\"}}}"`,
        check: async (r) => {
          expect(r.stdout).toBe('policyproposal.hivewall.dev/shop-r2 patched\n');
          const recorded = await review('shop-r2');
          expect(recorded).toMatchObject({ decision: 'Approved', reviewer: 'rita', comment: 'ok' });
          expect(Date.now() - Date.parse(recorded.reviewedAt as string)).toBeLessThan(60_000);
        },
      },
    ];
    const document = 'docs/reviewer-guide.md';
    const skipped = await runGuide(document, shCommands(await readFile(join(ROOT, document), 'utf8')), steps, guideRun(shell));
    expect(skipped.map((s) => s.cmd)).toEqual(['npm ci && npm run build && npm link']);
    // The operator takes the approved revision on: it audits shop-r2, then enforces it.
    await eventually('shop-r2 enforced', async () => (await segmentation()).status?.approvedProposal === 'shop-r2' && (await phase()) === 'Enforcing', 30_000, operators);
  }, 180_000);

  it('docs/gitops.md: delivery GitOps, first export, a new revision changes one file, in sync', async () => {
    // Where the guide starts: a fresh shop Segmentation (delivery Apply), the reviewer guide's
    // bindings, and a GitOps repository cluster-config (a clone of origin.git).
    await startSegmentation();
    await reviewerBindings();
    const dir = join(work, 'gitops');
    const repo = join(dir, 'cluster-config');
    const origin = join(dir, 'origin.git');
    const shell = await terminal('gitops');
    const seed = join(dir, 'seed');
    await mkdir(seed, { recursive: true });
    await writeFile(join(seed, 'README.md'), '# cluster-config\n');
    const gitEnv = ['-c', 'user.name=Platform Team', '-c', 'user.email=platform@example.com'];
    await git(seed, 'init', '-q', '-b', 'main');
    await git(seed, 'add', '.');
    await git(seed, ...gitEnv, 'commit', '-q', '-m', 'cluster-config');
    await git(dir, 'clone', '-q', '--bare', seed, origin);
    await git(dir, 'clone', '-q', origin, repo);
    const folder = join(repo, 'clusters/prod/shop');
    /** The pull request of `branch` is merged (on the Git server). */
    const merge = (branch: string) => git(repo, 'push', '-q', 'origin', `${branch}:main`);
    const inSync = (proposal: string) => eventually(`${proposal} live, in sync`, async () => {
      const s = (await segmentation()).status;
      return s?.approvedProposal === proposal && s.phase === 'Enforcing' && (await enforced())?.reason === 'GitOpsInSync';
    }, 30_000, operators);

    const steps: Step[] = [
      { cmd: `kubectl patch segmentation shop -n shop --type=merge -p '{"spec":{"mode":"Enforce","delivery":"GitOps"}}'`, as: 'admin', check: (r) => expect(r.stdout).toBe('segmentation.hivewall.dev/shop patched\n') },
      // 2. The first export
      { cmd: 'cd cluster-config' },
      { cmd: 'git switch -c hivewall/shop-r1', stderr: /^Switched to a new branch 'hivewall\/shop-r1'\n$/ },
      { cmd: 'kubectl hivewall approve shop-r1 -n shop --comment "matches the architecture diagram"', check: async () => expect(await review('shop-r1')).toMatchObject({ decision: 'Approved', reviewer: 'rita' }) },
      {
        cmd: 'kubectl hivewall export --out clusters/prod -n shop',
        check: async (r) => {
          const proposal = await getJson(['policyproposal', 'shop-r1', '-n', 'shop']);
          const names = (proposal.spec.content.objects as Json[]).map((o) => o.metadata.name as string);
          expect(names).toHaveLength(14);
          const files = [...names.map((n) => `${n}.yaml`), 'kustomization.yaml'].sort();
          expect(r.stdout).toBe(`shop: shop-r1 (Approved by rita) → clusters/prod/shop: 14 policies; 15 written, 0 unchanged, 0 removed\n${files.map((f) => `  wrote   shop/${f}\n`).join('')}`);
          expect((await readdir(folder)).sort()).toEqual(files);
          expect(await readFile(join(folder, 'kustomization.yaml'), 'utf8')).toContain(names.map((n) => `  - ${n}.yaml\n`).sort().join(''));
        },
      },
      { cmd: 'git add clusters/prod/shop' },
      { cmd: 'git commit -m "hivewall: shop-r1"', check: (r) => expect(r.stdout).toMatch(/^\[hivewall\/shop-r1 \w+\] hivewall: shop-r1\n 15 files changed/) },
      { cmd: 'git push -u origin HEAD', stderr: /\* \[new branch\] +HEAD -> hivewall\/shop-r1/, check: async () => expect(await git(origin, 'rev-parse', 'hivewall/shop-r1')).toBe(await git(repo, 'rev-parse', 'HEAD')) },
      {
        cmd: 'git switch main && git pull',
        before: () => merge('hivewall/shop-r1'),
        stderr: /^Switched to branch 'main'\n/,
        check: async (r) => {
          expect(r.stdout).toMatch(/Fast-forward\n/);
          expect((await readdir(folder)).length).toBe(15);
        },
      },
      {
        cmd: 'kubectl apply -k clusters/prod/shop',
        as: 'admin',
        check: async (r) => {
          expect(r.stdout.trim().split('\n')).toHaveLength(14);
          expect(r.stdout).toMatch(/^networkpolicy\.networking\.k8s\.io\/hivewall-catalog created$/m);
          await inSync('shop-r1');
        },
      },
      // 3. Every new revision: prometheus starts scraping search (a new edge), the operator proposes shop-r2.
      { cmd: 'git switch -c hivewall/shop-r2', before: () => newEdge('prometheus-0', 'search-pj5bpn6cbt-fc8rq', 9090, 2), stderr: /^Switched to a new branch 'hivewall\/shop-r2'\n$/ },
      { cmd: 'kubectl hivewall status -n shop', check: (r) => expect(r.stdout).toMatch(/^shop +shop +Enforce +Enforcing +\d+ +\d+ +\S+ ago +shop-r2 \(Pending\) +\d+ +yes \(in sync\)$/m) },
      {
        cmd: 'kubectl hivewall explain shop-r2 -n shop',
        check: (r) => {
          expect(r.stdout).toMatch(/^policyproposal shop\/shop-r2: segmentation shop, revision 2, 14 NetworkPolicy objects, Pending review\n/);
          expect(r.stdout).toMatch(/^hivewall-search +Deployment\/search +\d+ +2 +\d+ +\d+ +dns$/m);
        },
      },
      {
        cmd: 'kubectl hivewall diff shop-r2 -n shop',
        stderr: /^policyproposal shop\/shop-r2 against the live policies in shop: 0 added, 1 changed, 0 removed, 13 unchanged\ncontent sha256:[0-9a-f]{64} \(uid \S+\): to approve exactly this, kubectl hivewall approve shop-r2 -n shop --digest sha256:[0-9a-f]{64}\n$/,
        check: (r) => {
          expect(diffedPolicies(r.stdout)).toEqual(['hivewall-search']);
          expect(r.stdout).toMatch(/^\+ +app\.kubernetes\.io\/name: prometheus$/m);
        },
      },
      { cmd: 'kubectl hivewall approve shop-r2 -n shop --comment "prometheus scrapes search since 1.9"', check: async () => expect(await review('shop-r2')).toMatchObject({ decision: 'Approved', reviewer: 'rita', comment: 'prometheus scrapes search since 1.9' }) },
      { cmd: 'kubectl hivewall export --out clusters/prod -n shop', check: (r) => expect(r.stdout).toBe('shop: shop-r2 (Approved by rita) → clusters/prod/shop: 14 policies; 1 written, 14 unchanged, 0 removed\n  wrote   shop/hivewall-search.yaml\n') },
      { cmd: 'git diff --stat', check: (r) => expect(r.stdout).toMatch(/^ clusters\/prod\/shop\/hivewall-search\.yaml \| \d+ \++\n 1 file changed, \d+ insertions\(\+\)\n$/) },
      { cmd: 'git add clusters/prod/shop' },
      {
        cmd: `git commit -m "hivewall: shop-r2, approved by $(kubectl auth whoami -o jsonpath='{.status.userInfo.username}')"`,
        check: async () => expect(await git(repo, 'log', '-1', '--format=%s')).toBe('hivewall: shop-r2, approved by rita\n'),
      },
      { cmd: 'git push -u origin HEAD', stderr: /\* \[new branch\] +HEAD -> hivewall\/shop-r2/ },
      // GitOps delivery mode, end to end: the pull request is merged and the GitOps tool applies the folder.
      {
        cmd: 'kubectl hivewall status -n shop',
        before: async () => {
          await merge('hivewall/shop-r2');
          await kubectlOk(['apply', '-k', folder], admin());
          await inSync('shop-r2');
        },
        check: (r) => expect(r.stdout).toMatch(/^shop +shop +Enforce +Enforcing +\d+ +\d+ +\S+ ago +shop-r2 \(Approved\) +0 +yes \(in sync\)\n$/m),
      },
      { cmd: 'kubectl hivewall diff shop-r2 -n shop', stderr: /^policyproposal shop\/shop-r2 against the live policies in shop: no difference \(14 policies unchanged\)\ncontent sha256:[0-9a-f]{64} \(uid \S+\): to approve exactly this, kubectl hivewall approve shop-r2 -n shop --digest sha256:[0-9a-f]{64}\n$/, check: (r) => expect(r.stdout).toBe('') },
      // Things to know: check the repository against the cluster.
      { cmd: 'live=$(mktemp -d)' },
      { cmd: 'kubectl hivewall export --from enforced --out "$live" -n shop', check: (r) => expect(r.stdout).toMatch(/^shop: live policies → \/\S+\/shop: 14 policies; 15 written, 0 unchanged, 0 removed\n/) },
      { cmd: 'diff -r "$live/shop" clusters/prod/shop && echo "clusters/prod/shop is what is live"', check: (r) => expect(r.stdout).toBe('clusters/prod/shop is what is live\n') },
    ];
    const document = 'docs/gitops.md';
    const skipped = await runGuide(document, shCommands(await readFile(join(ROOT, document), 'utf8')), steps, guideRun(shell));
    expect(skipped).toEqual([]);
    // Exporting again after nothing changed writes nothing, and git sees nothing.
    const again = await shell.run('kubectl hivewall export --out clusters/prod -n shop', rita.kubeconfigPath);
    expect(again.stdout).toBe('shop: shop-r2 (Approved by rita) → clusters/prod/shop: 14 policies; 15 files unchanged\n');
    expect(await git(repo, 'status', '--porcelain')).toBe('');
  }, 180_000);
});
