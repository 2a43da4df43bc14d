/**
 * Writes generated objects as a GitOps layout: `<out>/<namespace>/<name>.yaml` and a
 * `kustomization.yaml` per namespace. Files are rewritten only when their bytes change, and a
 * stale file is removed only if hivewall wrote it (it carries the managed-by label); anything
 * else in the folder is left alone.
 *
 * Namespaces and object names come from flows and API objects: before anything is written the
 * namespace must be a DNS-1123 label, every object name a DNS-1123 subdomain, and every resolved
 * path must lie inside the output directory ({@link planNamespacePolicies}).
 */
import { mkdir, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { invalidNamespace, invalidObjectName } from '../domain/k8s-names.js';
import type { KubernetesObject } from '../domain/translate/networkpolicy.js';
import { kustomization, objectFileName, toYaml } from '../domain/translate/render.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../domain/translate/naming.js';

export interface WriteResult {
  readonly written: string[];
  readonly unchanged: string[];
  readonly removed: string[];
}

/** A namespace or object name that would not make a path inside the output directory. Nothing was written for it. */
export class OutputPathError extends Error {
  override readonly name = 'OutputPathError';
}

/** One namespace's folder and files, checked to stay inside the output directory. */
export interface NamespacePlan {
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
  return { dir, files };
}

export async function writeNamespacePolicies(outDir: string, namespace: string, objects: readonly KubernetesObject[]): Promise<WriteResult> {
  return writePlan(planNamespacePolicies(outDir, namespace, objects));
}

/** Writes a checked plan: changed files atomically, stale hivewall files removed. */
export async function writePlan(plan: NamespacePlan): Promise<WriteResult> {
  const { dir, files } = plan;
  await mkdir(dir, { recursive: true });
  const result: WriteResult = { written: [], unchanged: [], removed: [] };
  for (const [name, content] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const path = join(dir, name);
    if ((await readIfExists(path)) === content) {
      result.unchanged.push(path);
      continue;
    }
    const temp = `${path}.tmp-${process.pid}`;
    await writeFile(temp, content);
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
