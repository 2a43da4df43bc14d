// vitest globalSetup of the `integration` project: one real control plane per
// vitest run, shared by every test file (tests isolate themselves with
// per-test namespaces, see ./index.ts).
//
//   HIVEWALL_USE_EXISTING_CLUSTER=1   use HIVEWALL_TEST_KUBECONFIG / KUBECONFIG as is
//   a cluster from `npm run cluster:up` is running  → reuse it, leave it running
//   HIVEWALL_KEEP_CLUSTER=1           start one in the cluster:up folder and leave it
//                                     running for the next run (fast edit-test loop)
//   otherwise                         start a private cluster in .cache/cluster-vitest-<pid>,
//                                     stop and delete it when the run ends
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { clusterDown, clusterUp, runningCluster, type ClusterInfo } from './cluster.js';
import { existingCluster } from './external.js';
import { defaultClusterDir, runClusterPrefix, runClustersParent } from './paths.js';
import './context.js';

const log = (line: string) => process.stderr.write(`[hivewall cluster] ${line}\n`);

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove private clusters of vitest runs that died without tearing down. */
async function reapStaleRunClusters(): Promise<void> {
  let names: string[];
  try {
    names = await readdir(runClustersParent);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(runClusterPrefix) || name.endsWith('.lock')) continue;
    const owner = Number.parseInt(name.slice(runClusterPrefix.length), 10);
    if (Number.isFinite(owner) && pidAlive(owner) && owner !== process.pid) continue;
    log(`removing stale cluster ${name}`);
    await clusterDown(path.join(runClustersParent, name));
  }
}

async function ensureCluster(): Promise<{ info: ClusterInfo; stop: () => Promise<void> }> {
  const noop = async () => {};
  if (process.env['HIVEWALL_USE_EXISTING_CLUSTER'] === '1') {
    const info = await existingCluster();
    log(`using existing cluster ${info.server} (${info.kubeconfig})`);
    return { info, stop: () => rm(info.scratchDir, { recursive: true, force: true }) };
  }
  const shared = defaultClusterDir();
  if (process.env['HIVEWALL_KEEP_CLUSTER'] === '1' || await runningCluster(shared)) {
    const { info, reused, elapsedMs } = await clusterUp({ dir: shared, log });
    log(`${reused ? 'reusing' : 'started'} cluster ${info.server} in ${elapsedMs} ms (left running; npm run cluster:down stops it)`);
    return { info, stop: noop };
  }
  await reapStaleRunClusters();
  const dir = path.join(runClustersParent, `${runClusterPrefix}${process.pid}`);
  const { info, elapsedMs } = await clusterUp({ dir, log });
  log(`started cluster ${info.server} in ${elapsedMs} ms`);
  return { info, stop: () => clusterDown(dir) };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { info, stop } = await ensureCluster();
  if (!info.cilium.installed) log(`CiliumNetworkPolicy CRD not installed: ${info.cilium.reason}`);
  project.provide('hivewallCluster', info);
  return stop;
}
