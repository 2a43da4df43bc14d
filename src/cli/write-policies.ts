/**
 * Writes generated objects as a GitOps layout: `<out>/<namespace>/<name>.yaml` and a
 * `kustomization.yaml` per namespace. Files are rewritten only when their bytes change, and a
 * stale file is removed only if hivewall wrote it (it carries the managed-by label); anything
 * else in the folder is left alone.
 */
import { mkdir, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubernetesObject } from '../domain/translate/networkpolicy.js';
import { kustomization, objectFileName, toYaml } from '../domain/translate/render.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../domain/translate/naming.js';

export interface WriteResult {
  readonly written: string[];
  readonly unchanged: string[];
  readonly removed: string[];
}

export async function writeNamespacePolicies(outDir: string, namespace: string, objects: readonly KubernetesObject[]): Promise<WriteResult> {
  const dir = join(outDir, namespace);
  await mkdir(dir, { recursive: true });
  const result: WriteResult = { written: [], unchanged: [], removed: [] };
  const files = new Map<string, string>();
  for (const object of objects) files.set(objectFileName(object), toYaml(object));
  files.set('kustomization.yaml', kustomization(objects));
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
