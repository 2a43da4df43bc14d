// `npm run cluster:up` / `npm run cluster:down` / `npm run cluster:status`:
// a local control plane (etcd + kube-apiserver built from Go modules) for
// tests, kubectl and README examples. Run through scripts/cluster-loader.mjs.
//
//   up      build binaries if needed, start (or reuse) the cluster, install CRDs,
//           print `KUBECONFIG=<absolute path>`
//   down    stop it and remove its data
//
// State folder: $HIVEWALL_CLUSTER_DIR, default <repo>/.cache/cluster.
import { clusterDown, clusterUp, runningCluster } from '../test/harness/cluster.js';
import { defaultClusterDir } from '../test/harness/paths.js';

const log = (line: string) => process.stderr.write(`cluster: ${line}\n`);

async function main(command: string | undefined): Promise<number> {
  const dir = defaultClusterDir();
  switch (command) {
    case 'up': {
      const { info, reused, elapsedMs } = await clusterUp({ dir, log });
      log(`${reused ? 'already running' : 'started'} in ${(elapsedMs / 1000).toFixed(1)} s: ${info.server}` +
        ` (kube-apiserver ${info.versions?.kubernetes}, etcd ${info.versions?.etcd}; state ${dir})`);
      if (info.cilium.installed) log(`CiliumNetworkPolicy CRD from ${info.cilium.source}`);
      else log(`CiliumNetworkPolicy CRD NOT installed: ${info.cilium.reason}`);
      if (info.projectCrds.length > 0) log(`project CRDs: ${info.projectCrds.join(', ')}`);
      process.stdout.write(`KUBECONFIG=${info.kubeconfig}\n`);
      return 0;
    }
    case 'down':
      await clusterDown(dir);
      log(`stopped; removed ${dir}`);
      return 0;
    case 'status': {
      const info = await runningCluster(dir);
      if (!info) {
        log(`not running (${dir})`);
        return 1;
      }
      log(`running: ${info.server}`);
      process.stdout.write(`KUBECONFIG=${info.kubeconfig}\n`);
      return 0;
    }
    default:
      process.stderr.write('usage: cluster-cli.ts up|down|status\n');
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`cluster: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
