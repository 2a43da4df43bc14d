// Using a cluster that is already running (HIVEWALL_USE_EXISTING_CLUSTER=1):
// any real API server reachable through HIVEWALL_TEST_KUBECONFIG or KUBECONFIG.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import type { CiliumCrdStatus, ClusterInfo } from './cluster.js';
import { findCiliumCrd } from './cluster.js';
import { projectCrdDir } from './paths.js';

const execFileAsync = promisify(execFile);

async function kubectlOk(kubeconfig: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  const { stdout } = await execFileAsync('kubectl', ['--kubeconfig', kubeconfig, ...args], {
    timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, KUBECONFIG: kubeconfig },
  });
  return stdout;
}

async function applyCrdFile(kubeconfig: string, file: string): Promise<string[]> {
  const out = await kubectlOk(kubeconfig, [
    'apply', '--server-side', '--force-conflicts', '--field-manager=hivewall-envtest', '-o', 'name', '-f', file,
  ]);
  const names = out.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('customresourcedefinition'));
  if (names.length > 0) {
    await kubectlOk(kubeconfig, ['wait', '--for=condition=Established', '--timeout=60s', ...names]);
  }
  return names.map((n) => n.replace(/^[^/]+\//, ''));
}

/** Describe an existing cluster, checking it answers and installing the test CRDs. */
export async function existingCluster(): Promise<ClusterInfo> {
  const kubeconfig = process.env['HIVEWALL_TEST_KUBECONFIG'] || process.env['KUBECONFIG'];
  if (!kubeconfig) {
    throw new Error('HIVEWALL_USE_EXISTING_CLUSTER=1 needs HIVEWALL_TEST_KUBECONFIG or KUBECONFIG');
  }
  const file = path.resolve(kubeconfig.split(path.delimiter)[0] ?? kubeconfig);
  try {
    await kubectlOk(file, ['get', '--raw', '/readyz', '--request-timeout=5s'], 10_000);
  } catch (err) {
    throw new Error(`the cluster of ${file} is not reachable: ${(err as Error).message}`, { cause: err });
  }
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  const server = kc.getCurrentCluster()?.server ?? '';

  const projectCrds: string[] = [];
  if (existsSync(projectCrdDir)) {
    for (const f of (await readdir(projectCrdDir)).filter((n) => /\.ya?ml$/.test(n)).sort()) {
      projectCrds.push(...await applyCrdFile(file, path.join(projectCrdDir, f)));
    }
  }
  const found = await findCiliumCrd();
  let cilium: CiliumCrdStatus;
  if (found.file) {
    await applyCrdFile(file, found.file);
    cilium = { installed: true, source: found.file };
  } else {
    cilium = { installed: false, reason: found.reason ?? 'Cilium CRD unavailable' };
  }

  const caCert = process.env['HIVEWALL_TEST_CLIENT_CA_CERT'];
  const caKey = process.env['HIVEWALL_TEST_CLIENT_CA_KEY'];
  return {
    kubeconfig: file,
    server,
    external: true,
    scratchDir: await mkdtemp(path.join(os.tmpdir(), 'hivewall-identities-')),
    ...(caCert && caKey ? { clientCA: { cert: caCert, key: caKey } } : {}),
    cilium,
    projectCrds: projectCrds.sort(),
  };
}
