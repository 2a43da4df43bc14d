/**
 * A leader whose work cannot start (here: its ServiceAccount may hold the Lease but not yet list
 * the cluster, as when the operator starts before its RBAC is applied, or the API server answers
 * 429 while it restarts) must not sit on the Lease doing nothing: it retries with backoff and
 * reconciles as soon as it can, without a restart.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adminKubeconfigPath, bindRole, createNamespace, kubectl, kubectlOk, serviceAccountIdentity, type TestNamespace } from '../harness/index.js';
import { eventually, getJson, OperatorProcesses, ROOT } from './operator-process.js';

const admin = () => ({ kubeconfig: adminKubeconfigPath() });

describe('operator leader work', () => {
  let system: TestNamespace | undefined;
  let app: TestNamespace | undefined;
  let operators: OperatorProcesses | undefined;
  let binding: string | undefined;

  afterAll(async () => {
    await operators?.stopAll();
    if (app) {
      await kubectl(['patch', 'segmentation', 'retry', '-n', app.name, '--type=merge', '-p', '{"metadata":{"finalizers":null}}'], admin());
      await app.delete();
    }
    if (binding) await kubectl(['delete', 'clusterrolebinding', binding, '--ignore-not-found'], admin());
    await system?.delete();
  }, 60_000);

  it('retries when it cannot start and reconciles once it is allowed to, without a restart', async () => {
    await kubectlOk(['apply', '-k', join(ROOT, 'deploy')], admin());
    system = await createNamespace('retry-system');
    app = await createNamespace('retry-app');
    const sa = await serviceAccountIdentity(system.name, 'operator');
    // Enough to win the election and keep its checkpoint, not enough to list the cluster.
    await bindRole({ namespace: system.name, subject: sa, rules: [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] },
    ] });
    const work = await mkdtemp(join(tmpdir(), 'hivewall-retry-'));
    const flows = join(work, 'flows.log');
    await writeFile(flows, '');
    operators = new OperatorProcesses(sa.kubeconfigPath, flows);
    operators.start('retry-1', ['--namespace', system.name, '--inventory-sync-timeout-ms', '3000']);
    const failures = () => (operators!.logs.get('retry-1') ?? []).join('').split('\n').filter((l) => l.includes('leader work failed; starting it again'));
    await eventually('a failed start of the leader work', async () => failures().length >= 2, 30_000, operators);
    expect(failures()[0]).toMatch(/was not listed within 3000 ms.*may this ServiceAccount list them/);

    await kubectlOk(['apply', '-f', '-'], { ...admin(), input: `apiVersion: hivewall.dev/v1alpha1\nkind: Segmentation\nmetadata: {name: retry, namespace: ${app.name}}\nspec: {mode: Learn}\n` });
    binding = `hivewall-retry-${system.name}`;
    await kubectlOk(['create', 'clusterrolebinding', binding, '--clusterrole=hivewall-operator', `--serviceaccount=${system.name}:operator`], admin());
    const seg = await eventually('the Segmentation reconciled', async () => {
      const s = await getJson(['segmentation', 'retry', '-n', app!.name]);
      return s.status?.phase && s.metadata.finalizers?.includes('hivewall.dev/cleanup') ? s : undefined;
    }, 60_000, operators);
    expect(seg.status.phase).toMatch(/Learning|Degraded/);
    // Still the first process: recovered in place.
    expect(operators.processes.get('retry-1')?.exitCode).toBeNull();
  }, 120_000);
});
