// Authorization is real (RBAC): identities get exactly what they are bound to.
import { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  adminKubeConfig, apiStatus, bindRole, canIssueUserCertificates, NO_CLIENT_CA, groupSubject, kubectl, kubectlOk, serviceAccountIdentity, testNamespace, userIdentity,
} from '../harness/index.js';

const readConfigMaps = [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }];

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    const code = apiStatus(err);
    if (code === 0) throw err;
    return code;
  }
}

describe('RBAC with a narrow Role', () => {
  it('a ServiceAccount gets only what its Role grants (client-node)', async () => {
    const ns = await testNamespace('rbac');
    const other = await testNamespace('rbac-other');
    const sa = await serviceAccountIdentity(ns.name, 'reader');
    expect(sa.username).toBe(`system:serviceaccount:${ns.name}:reader`);
    await bindRole({ namespace: ns.name, subject: sa, rules: readConfigMaps });

    await adminKubeConfig().makeApiClient(CoreV1Api).createNamespacedConfigMap({
      namespace: ns.name, body: { metadata: { name: 'settings' }, data: { k: 'v' } },
    });

    const core = sa.kubeConfig.makeApiClient(CoreV1Api);
    const list = await core.listNamespacedConfigMap({ namespace: ns.name });
    expect(list.items.map((c) => c.metadata?.name)).toContain('settings');
    expect((await core.readNamespacedConfigMap({ namespace: ns.name, name: 'settings' })).data).toEqual({ k: 'v' });

    expect(await status(core.createNamespacedSecret({ namespace: ns.name, body: { metadata: { name: 's' }, stringData: { a: 'b' } } }))).toBe(403);
    expect(await status(core.listNamespacedConfigMap({ namespace: other.name }))).toBe(403);
    expect(await status(core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'c' } } }))).toBe(403);
    expect(await status(core.listNamespace())).toBe(403);
  });

  it('a ServiceAccount gets only what its Role grants (kubectl)', async () => {
    const ns = await testNamespace('rbac');
    const other = await testNamespace('rbac-other');
    const sa = await serviceAccountIdentity(ns.name, 'reader');
    await bindRole({ namespace: ns.name, subject: sa, rules: readConfigMaps });
    const as = { kubeconfig: sa.kubeconfigPath };

    expect((await kubectl(['get', 'configmaps', '-n', ns.name], as)).code).toBe(0);

    const secret = await kubectl(['create', 'secret', 'generic', 'nope', '--from-literal=a=b', '-n', ns.name], as);
    expect(secret.code).not.toBe(0);
    expect(secret.stderr).toContain(`User "${sa.username}" cannot create resource "secrets" in API group "" in the namespace "${ns.name}"`);

    const elsewhere = await kubectl(['get', 'configmaps', '-n', other.name], as);
    expect(elsewhere.code).not.toBe(0);
    expect(elsewhere.stderr).toContain(`cannot list resource "configmaps" in API group "" in the namespace "${other.name}"`);

    expect((await kubectl(['auth', 'can-i', 'list', 'configmaps', '-n', ns.name], as)).stdout.trim()).toBe('yes');
    expect((await kubectl(['auth', 'can-i', 'create', 'secrets', '-n', ns.name], as)).stdout.trim()).toBe('no');
    // The admin can ask on the SA's behalf, too.
    expect((await kubectl(['auth', 'can-i', 'list', 'configmaps', '-n', other.name, '--as', sa.username])).stdout.trim()).toBe('no');
  });

  it('client-certificate users: the operator, a reviewer, a stranger', async (ctx) => {
    ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
    const ns = await testNamespace('users');
    const [operator, reviewer, stranger] = await Promise.all([
      userIdentity('hivewall-operator', ['hivewall:operators']),
      userIdentity('rita-reviewer', ['hivewall:reviewers']),
      userIdentity('stranger'),
    ]);
    await bindRole({ namespace: ns.name, subject: groupSubject('hivewall:operators'), rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['*'] }] });
    await bindRole({ namespace: ns.name, subject: groupSubject('hivewall:reviewers'), rules: readConfigMaps });

    const whoami = JSON.parse(await kubectlOk(['auth', 'whoami', '-o', 'json'], { kubeconfig: reviewer.kubeconfigPath })) as {
      status: { userInfo: { username: string; groups: string[] } };
    };
    expect(whoami.status.userInfo.username).toBe('rita-reviewer');
    expect(whoami.status.userInfo.groups).toEqual(['hivewall:reviewers', 'system:authenticated']);

    const op = operator.kubeConfig.makeApiClient(CoreV1Api);
    const rev = reviewer.kubeConfig.makeApiClient(CoreV1Api);
    const str = stranger.kubeConfig.makeApiClient(CoreV1Api);
    expect(await status(op.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'policy' }, data: { a: '1' } } }))).toBe(200);
    expect(await status(rev.readNamespacedConfigMap({ namespace: ns.name, name: 'policy' }))).toBe(200);
    expect(await status(rev.deleteNamespacedConfigMap({ namespace: ns.name, name: 'policy' }))).toBe(403);
    expect(await status(str.readNamespacedConfigMap({ namespace: ns.name, name: 'policy' }))).toBe(403);
    expect(await status(op.deleteNamespacedConfigMap({ namespace: ns.name, name: 'policy' }))).toBe(200);
  });
});
