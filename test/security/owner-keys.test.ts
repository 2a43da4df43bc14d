/**
 * A reconcile for a Segmentation name that does not exist, on the real API server: the operator
 * queues `namespace/name` keys taken from owned objects' ownerReferences (src/operator/operator.ts
 * ownerKeys), and anyone who may create a NetworkPolicy in the namespace can name anything there.
 * Such a reconcile settles (the operator does not queue it again until a watch event) and leaves
 * the namespace's real Segmentation alone: its audit engine and its denial count (which decides a
 * rollback) stay. Once the real Segmentation is gone, its own reconcile releases both.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { reconcileSegmentation, type ReconcileContext } from '../../src/controllers/segmentation/reconciler.js';
import { AuditEngine } from '../../src/domain/audit.js';
import { IdentityResolver } from '../../src/domain/identity.js';
import { emptyInventory } from '../../src/domain/inventory.js';
import { Learner } from '../../src/domain/learner.js';
import { buildClusterModel } from '../../src/domain/simulate/index.js';
import { Kube } from '../../src/k8s/kube.js';
import { ClusterCache } from '../../src/operator/cluster-cache.js';
import { DenialRegistry } from '../../src/operator/denial-registry.js';
import { adminKubeConfig, adminKubeconfigPath, kubectlOk, testNamespace, writeTempManifest } from '../harness/index.js';

const kc = () => ({ kubeconfig: adminKubeconfigPath() });
const log = pino({ level: 'silent' });

describe('a reconcile of a Segmentation name that does not exist', () => {
  it('settles and leaves the namespace\'s real Segmentation its audit and denial count', async () => {
    const { name: ns } = await testNamespace('owner-keys');
    await kubectlOk(['apply', '-f', await writeTempManifest(`apiVersion: hivewall.dev/v1alpha1
kind: Segmentation
metadata: {name: seg, namespace: ${ns}}
spec: {mode: Learn, learning: {window: 1h}}
`)], kc());
    const denials = new DenialRegistry({ now: () => Date.now(), onCrossed: () => undefined });
    denials.enforce(ns, { segmentation: 'seg', proposal: 'seg-r1', budget: { maxDenied: 5, windowMs: 60_000 }, policies: [] });
    const audits = new Map([[ns, new AuditEngine(ns, 'seg', 'seg-r1', [], buildClusterModel([]), 'generic')]]);
    const ctx: ReconcileContext = {
      kube: new Kube(adminKubeConfig()),
      learner: new Learner(new IdentityResolver(emptyInventory)),
      cluster: new ClusterCache({ kubeConfig: adminKubeConfig(), logger: log }),
      audits, denials, log, now: () => Date.now(), sourceError: () => undefined,
    };

    expect(await reconcileSegmentation(ctx, ns, 'made-up')).toEqual({ settled: true });
    expect(audits.get(ns)?.segmentation).toBe('seg');
    expect(denials.view(ns, 'seg-r1')).toBeDefined();

    await kubectlOk(['delete', 'segmentation', 'seg', '-n', ns, '--wait=true'], kc());
    expect(await reconcileSegmentation(ctx, ns, 'seg')).toEqual({ settled: true });
    expect(audits.has(ns)).toBe(false);
    expect(denials.view(ns, 'seg-r1')).toBeUndefined();
  });
});
