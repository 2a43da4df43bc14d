// The harness helpers themselves: namespaces, identities, kubeconfig files.
import { readFile } from 'node:fs/promises';
import { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  adminKubeConfig, apiStatus, createNamespace, kubectlOk, serviceAccountIdentity, testNamespace, useNamespace,
} from '../harness/index.js';

describe('namespaces', () => {
  it('createNamespace makes a unique namespace with a default ServiceAccount; delete() removes it', async () => {
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    const [a, b] = await Promise.all([createNamespace('same'), createNamespace('same')]);
    expect(a.name).not.toBe(b.name);
    await core.readNamespacedServiceAccount({ namespace: a.name, name: 'default' });
    // Pods are admitted (they stay Pending: no scheduler or kubelet here).
    await core.createNamespacedPod({ namespace: a.name, body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } });
    await Promise.all([a.delete(), b.delete()]);
    let code = 0;
    try { await core.readNamespace({ name: a.name }); } catch (err) { code = apiStatus(err); }
    expect(code).toBe(404);
  });

  describe('useNamespace', () => {
    const ns = useNamespace('per-test');
    const seen: string[] = [];
    it('gives each test its own namespace (1)', () => { seen.push(ns.name); });
    it('gives each test its own namespace (2)', () => {
      seen.push(ns.name);
      expect(seen[0]).not.toBe(seen[1]);
    });
  });
});

describe('service-account identities', () => {
  it('act with a TokenRequest token, through kubectl and client-node', async () => {
    const ns = await testNamespace('sa');
    const sa = await serviceAccountIdentity(ns.name, 'bot', { expirationSeconds: 600 });
    expect(sa.token.split('.')).toHaveLength(3); // a JWT
    expect(await readFile(sa.kubeconfigPath, 'utf8')).toContain(`namespace: ${ns.name}`);
    const whoami = JSON.parse(await kubectlOk(['auth', 'whoami', '-o', 'json'], { kubeconfig: sa.kubeconfigPath })) as {
      status: { userInfo: { username: string; groups: string[] } };
    };
    expect(whoami.status.userInfo.username).toBe(sa.username);
    expect(whoami.status.userInfo.groups).toEqual(expect.arrayContaining([`system:serviceaccounts:${ns.name}`]));
    // No permissions until bound.
    let code = 0;
    try { await sa.kubeConfig.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns.name }); } catch (err) { code = apiStatus(err); }
    expect(code).toBe(403);
  });
});
