// Where things live. Everything resolves from this file's location so that a
// fresh clone elsewhere (CI) works, with shared/ as a sibling of the repo.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Build script for the envtest binaries (kube-apiserver, etcd); it caches them under
 * ${HIVEWALL_CACHE_DIR:-~/.cache/hivewall}/envtest. */
export const envtestBuildScript = path.join(repoRoot, 'test', 'envtest', 'build.sh');

/** The fixed state folder of `npm run cluster:up` (git-ignored). */
export function defaultClusterDir(): string {
  const dir = process.env['HIVEWALL_CLUSTER_DIR'];
  return dir ? path.resolve(dir) : path.join(repoRoot, '.cache', 'cluster');
}

/** Folder for the private clusters a vitest run starts when none is running. */
export const runClustersParent = path.join(repoRoot, '.cache');
export const runClusterPrefix = 'cluster-vitest-';

/** Project CRDs, installed into every test cluster. */
export const projectCrdDir = path.join(repoRoot, 'crds');

/** The copy of the Cilium CRD beside the repo (never copied into the repo). */
export const sharedCiliumCrd = path.resolve(repoRoot, '..', 'shared', 'data', 'cilium', 'ciliumnetworkpolicies.yaml');

/** Cilium release whose Go module supplies the CRD when the module can be downloaded. */
export const ciliumVersionFile = path.join(repoRoot, 'test', 'envtest', 'cilium.version');

/** `go` on PATH, else the toolchain at /usr/local/go. */
export function goCommand(): string {
  if (process.env['GO']) return process.env['GO'];
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'go'))) return path.join(dir, 'go');
  }
  return '/usr/local/go/bin/go';
}
