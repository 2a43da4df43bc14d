/**
 * Writes generated objects as a GitOps layout: `<out>/<namespace>/<name>.yaml` and a
 * `kustomization.yaml` per namespace. Files are rewritten only when their bytes change, and a
 * stale file is removed only if hivewall wrote it (it carries the managed-by label); anything
 * else in the folder is left alone.
 *
 * Namespaces and object names come from flows and API objects: before anything is written the
 * namespace must be a DNS-1123 label, every object name a DNS-1123 subdomain, and every resolved
 * path must lie inside the output directory ({@link planNamespacePolicies}); before the first write
 * the namespace folder must be a real directory, not a symlink, inside the real output directory
 * ({@link writePlan}): a symlink committed to a GitOps repository could point anywhere.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, realpath, rename, unlink, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { CliError } from './errors.js';
import { invalidNamespace, invalidObjectName } from '../domain/k8s-names.js';
import type { KubernetesObject } from '../domain/translate/networkpolicy.js';
import { kustomization, objectFileName, toYaml } from '../domain/translate/render.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../domain/translate/naming.js';

export interface WriteResult {
  readonly written: string[];
  readonly unchanged: string[];
  readonly removed: string[];
}

/**
 * A namespace or object name that would not make a path inside the output directory, or a namespace
 * folder that leads outside it. Nothing was written for it. Exit 1 (a CliError) wherever it surfaces.
 */
export class OutputPathError extends CliError {
  override readonly name = 'OutputPathError';
  constructor(message: string) {
    super(message, 1);
  }
}

/** One namespace's folder and files, checked to stay inside the output directory. */
export interface NamespacePlan {
  /** The output directory, resolved. */
  readonly root: string;
  readonly dir: string;
  readonly files: ReadonlyMap<string, string>;
}

/** Checks names and paths and renders the files; throws {@link OutputPathError} before anything is written. */
export function planNamespacePolicies(outDir: string, namespace: string, objects: readonly KubernetesObject[]): NamespacePlan {
  const badNamespace = invalidNamespace(namespace);
  if (badNamespace) throw new OutputPathError(`${badNamespace}: not a valid namespace to write policies for; nothing was written`);
  for (const object of objects) {
    const badName = invalidObjectName(String(object.metadata.name), `${object.kind} name`);
    if (badName) throw new OutputPathError(`${badName}: not a valid object name in namespace ${namespace}; nothing was written`);
  }
  const root = resolve(outDir);
  const dir = resolve(root, namespace);
  const files = new Map<string, string>();
  for (const object of objects) files.set(objectFileName(object), toYaml(object));
  files.set('kustomization.yaml', kustomization(objects));
  for (const name of [dir, ...[...files.keys()].map((f) => resolve(dir, f))]) {
    const rel = relative(root, name);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new OutputPathError(`${name} is outside ${root}; nothing was written`);
  }
  return { root, dir, files };
}

export async function writeNamespacePolicies(outDir: string, namespace: string, objects: readonly KubernetesObject[]): Promise<WriteResult> {
  return writePlan(planNamespacePolicies(outDir, namespace, objects));
}

/** Writes a checked plan: changed files atomically, stale hivewall files removed. */
export async function writePlan(plan: NamespacePlan): Promise<WriteResult> {
  const { dir, files } = plan;
  await refuseSymlink(dir);
  await mkdir(dir, { recursive: true });
  await requireRealDirInside(plan);
  const result: WriteResult = { written: [], unchanged: [], removed: [] };
  for (const [name, content] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const path = join(dir, name);
    if ((await readIfExists(path)) === content) {
      result.unchanged.push(path);
      continue;
    }
    // A fresh name, created exclusively: never an existing file or a symlink planted under it.
    const temp = `${path}.tmp-${randomBytes(8).toString('hex')}`;
    await writeFile(temp, content, { flag: 'wx' });
    await rename(temp, path);
    result.written.push(path);
  }
  for (const name of (await readdir(dir)).sort()) {
    if (files.has(name) || !name.endsWith('.yaml')) continue;
    const path = join(dir, name);
    const content = await readIfExists(path);
    if (content !== undefined && new RegExp(`^\\s+${escapeRegExp(MANAGED_BY_LABEL)}: ${MANAGED_BY_VALUE}$`, 'm').test(content)) {
      await unlink(path);
      result.removed.push(path);
    }
  }
  return result;
}

/** Throws {@link OutputPathError} when `dir` is a symlink (nothing written yet). */
async function refuseSymlink(dir: string): Promise<void> {
  const stat = await lstat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (stat?.isSymbolicLink()) throw new OutputPathError(`${dir} is a symlink: refusing to write through it (it may lead outside the output directory); nothing was written`);
}

/** The namespace folder, once created, is a real directory whose real path lies inside the real output directory. */
async function requireRealDirInside(plan: NamespacePlan): Promise<void> {
  await refuseSymlink(plan.dir);
  if (!(await lstat(plan.dir)).isDirectory()) throw new OutputPathError(`${plan.dir} is not a directory; nothing was written`);
  const [root, dir] = await Promise.all([realpath(plan.root), realpath(plan.dir)]);
  const rel = relative(root, dir);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new OutputPathError(`${plan.dir} leads to ${dir}, outside ${root}; nothing was written`);
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
