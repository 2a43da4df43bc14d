// Requests of one KubeConfig share kept-alive connections (src/k8s/connections.ts), on the real
// API server: the connections this process holds to it are counted with `ss`.
import { execFileSync } from 'node:child_process';
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { shareConnections } from '../../src/k8s/connections.js';
import { Kube } from '../../src/k8s/kube.js';
import { adminKubeconfigPath, cluster } from '../harness/index.js';

/** The admin kubeconfig as client-node loads it (the harness's own share connections already). */
function plainKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfigPath());
  return kc;
}

/** Established TCP connections of this process to `port` (iproute2's `ss`, which names each socket's process). */
function connectionsTo(port: number): number {
  const out = execFileSync('ss', ['-Htnp', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(`pid=${process.pid},`)).length;
}

describe('shareConnections on a real API server', () => {
  it('60 requests (sequential and 10 at a time, typed and object APIs) use at most 10 connections', async () => {
    const port = Number(new URL(cluster().server).port);
    const kc = shareConnections(plainKubeConfig());
    const kube = new Kube(kc);
    const leases = kc.makeApiClient(CoordinationV1Api);
    const before = connectionsTo(port);
    for (let i = 0; i < 30; i++) {
      expect(await kube.get('v1', 'Namespace', '', 'default')).toBeDefined();
      await leases.listNamespacedLease({ namespace: 'default' });
    }
    expect(connectionsTo(port) - before).toBeLessThanOrEqual(2);
    await Promise.all(Array.from({ length: 10 }, () => kube.get('v1', 'Namespace', '', 'kube-system')));
    expect(connectionsTo(port) - before).toBeLessThanOrEqual(10);
  });

  it('without it, client-node opens a connection per request (why it exists)', async () => {
    const port = Number(new URL(cluster().server).port);
    const kube = new Kube(plainKubeConfig());
    const before = connectionsTo(port);
    for (let i = 0; i < 20; i++) await kube.get('v1', 'Namespace', '', 'default');
    // If a client-node release reuses connections itself, this fails: shareConnections can then go.
    expect(connectionsTo(port) - before).toBeGreaterThanOrEqual(10);
  });
});
