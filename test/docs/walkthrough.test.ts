/**
 * The walkthroughs in README.md ("On a cluster") and docs/operator-guide.md, run as written: every
 * `kubectl …` line of their `sh` blocks, in order, against the real API server with the operator
 * running (a separate process, as its own ServiceAccount) and `kubectl hivewall` found by kubectl's
 * own plugin discovery on PATH. Between commands the test waits for the state the next command
 * talks about (the proposal exists, the policies are enforced), as a reader would.
 */
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminKubeconfigPath, kubectl, kubectlOk, serviceAccountIdentity, userIdentity, type Identity } from '../harness/index.js';
import { createSnapshot, loadSnapshotObjects } from '../e2e/cluster-objects.js';
import { eventually, getJson, OperatorProcesses, ROOT } from '../e2e/operator-process.js';

const admin = () => ({ kubeconfig: adminKubeconfigPath() });
let work: string;
let binDir: string;
let reviewer: Identity;
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

const proposalExists = () => eventually('proposal shop-r1', async () => (await kubectl(['get', 'policyproposal', 'shop-r1', '-n', 'shop'], admin())).code === 0, 45_000, operators);
const phase = async () => (await getJson(['segmentation', 'shop', '-n', 'shop'])).status?.phase as string | undefined;

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

/** Deleting a Segmentation garbage-collects its proposals and profile (ownerReferences); this harness has no garbage collector. */
async function collectGarbage(): Promise<void> {
  await kubectl(['delete', 'segmentation', 'shop', '-n', 'shop', '--ignore-not-found', '--wait=true', '--timeout=30s'], admin());
  await kubectl(['delete', 'policyproposals,trafficprofiles', '--all', '-n', 'shop'], admin());
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hivewall-docs-'));
  binDir = join(work, 'bin');
  await kubectlOk(['apply', '-k', join(ROOT, 'deploy')], admin());
  await createSnapshot(await loadSnapshotObjects(join(ROOT, 'examples/shop/cluster/snapshot-end.yaml')));
  await collectGarbage();
  // `kubectl hivewall` through kubectl's plugin discovery: an executable kubectl-hivewall on PATH.
  await (await import('node:fs/promises')).mkdir(binDir, { recursive: true });
  await writeFile(join(binDir, 'kubectl-hivewall'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'bin/kubectl-hivewall.js')}" "$@"\n`);
  await chmod(join(binDir, 'kubectl-hivewall'), 0o755);
  reviewer = await userIdentity('carol@example.com', ['docs-reviewers']);
  await kubectl(['create', 'clusterrolebinding', 'docs-reviewers', '--clusterrole=hivewall-reviewer', '--group=docs-reviewers'], admin());
  const flowFile = join(work, 'events.log');
  await writeFile(flowFile, await readFile(join(ROOT, 'examples/shop/flows.hubble.jsonl')));
  const sa = await serviceAccountIdentity('hivewall-system', 'hivewall-operator');
  operators = new OperatorProcesses(sa.kubeconfigPath, flowFile);
  operators.start('docs-operator');
}, 120_000);

afterAll(async () => {
  await operators?.stopAll();
  await collectGarbage();
  await kubectl(['delete', 'clusterrolebinding', 'docs-reviewers', '--ignore-not-found'], admin());
});

describe('documented walkthroughs', () => {
  it('docs/operator-guide.md: learn → propose → approve → audit → enforce → back out', async () => {
    const lines = kubectlLines(await readFile(join(ROOT, 'docs/operator-guide.md'), 'utf8'));
    expect(lines.length).toBeGreaterThanOrEqual(10);
    const outputs = await walk(lines);
    const enforced = outputs[lines.findIndex((l) => l.includes('get networkpolicies'))]!;
    expect(enforced).toContain('hivewall-cart');
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
