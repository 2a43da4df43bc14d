// The GitOps writer (write-policies.ts) never writes or deletes outside the output directory, even
// when the folder it writes into is a symlink (say, one committed to the repository) or a symlink
// waits under a temporary file's name. The commands that use it: cli.test.ts (hivewall learn) and
// kubectl-plugin/diff.test.ts (kubectl hivewall export).
import { mkdir, mkdtemp, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '../domain/translate/networkpolicy.js';
import { OutputPathError, writeNamespacePolicies } from './write-policies.js';

const managed = { 'app.kubernetes.io/managed-by': 'hivewall' };
const cart = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'hivewall-cart', namespace: 'shop', labels: managed }, spec: { podSelector: {} } } as unknown as KubernetesObject;

/** `outside/` with a file hivewall would overwrite and one it would delete as stale; and an empty `out/`. */
async function outsideAndOut(): Promise<{ base: string; out: string; outside: string }> {
  const base = await mkdtemp(join(tmpdir(), 'hivewall-write-'));
  const outside = join(base, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'hivewall-cart.yaml'), 'precious: 1\n');
  await writeFile(join(outside, 'stale.yaml'), 'metadata:\n  labels:\n    app.kubernetes.io/managed-by: hivewall\n');
  await mkdir(join(base, 'out'));
  return { base, out: join(base, 'out'), outside };
}

/** Every file of a folder and its bytes. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const names = (await readdir(dir)).sort();
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n), 'utf8')] as const)));
}

describe('writeNamespacePolicies: symlinks', () => {
  it('refuses a namespace folder that is a symlink out of --out, and leaves its target byte-identical', async () => {
    const { out, outside } = await outsideAndOut();
    await symlink('../outside', join(out, 'shop'));
    const before = await snapshot(outside);
    const written = writeNamespacePolicies(out, 'shop', [cart]);
    await expect(written).rejects.toBeInstanceOf(OutputPathError);
    await expect(written).rejects.toThrow(/shop is a symlink: refusing to write through it .*; nothing was written$/);
    expect(await snapshot(outside)).toEqual(before);
  });

  it('refuses a dangling symlink without creating its target', async () => {
    const { base, out } = await outsideAndOut();
    await symlink('../elsewhere', join(out, 'shop'));
    await expect(writeNamespacePolicies(out, 'shop', [cart])).rejects.toBeInstanceOf(OutputPathError);
    expect((await readdir(base)).sort()).toEqual(['out', 'outside']);
  });

  it('never writes through a symlink planted under a temporary file name', async () => {
    const { out, outside } = await outsideAndOut();
    await mkdir(join(out, 'shop'));
    await symlink(join(outside, 'hivewall-cart.yaml'), join(out, 'shop', `hivewall-cart.yaml.tmp-${process.pid}`));
    const before = await snapshot(outside);
    const r = await writeNamespacePolicies(out, 'shop', [cart]);
    expect(r.written.map((p) => p.slice(out.length))).toEqual(['/shop/hivewall-cart.yaml', '/shop/kustomization.yaml']);
    expect(await snapshot(outside)).toEqual(before);
    expect(await readFile(join(out, 'shop', 'hivewall-cart.yaml'), 'utf8')).toMatch(/^apiVersion: networking\.k8s\.io\/v1\nkind: NetworkPolicy\n/);
  });

  it('writes through a symlinked output directory itself: --out is the caller\'s choice', async () => {
    const { base, out } = await outsideAndOut();
    await symlink(out, join(base, 'link'));
    const r = await writeNamespacePolicies(join(base, 'link'), 'shop', [cart]);
    expect(r.written).toHaveLength(2);
    expect(await readdir(join(out, 'shop'))).toContain('hivewall-cart.yaml');
  });
});
