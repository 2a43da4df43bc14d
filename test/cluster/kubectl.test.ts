// kubectl against the harness API server, the way a user (or a README example) runs it.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { adminKubeconfigPath, cluster, kubectl, kubectlOk, testNamespace } from '../harness/index.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

describe('kubectl against the real API server', () => {
  it('serves a kubeconfig that kubectl can use', async () => {
    const info = cluster();
    expect(path.isAbsolute(info.kubeconfig)).toBe(true);
    expect(await kubectlOk(['get', '--raw', '/readyz'])).toBe('ok');
    const whoami = JSON.parse(await kubectlOk(['auth', 'whoami', '-o', 'json'])) as { status: { userInfo: { groups: string[] } } };
    expect(whoami.status.userInfo.groups).toContain('system:masters');
  });

  it('applies a file and gets it back', async () => {
    const ns = await testNamespace('kubectl');
    const applied = await kubectlOk(['apply', '-n', ns.name, '-f', path.join(fixtures, 'configmap.yaml')]);
    expect(applied).toContain('configmap/shop-settings created');

    const cm = JSON.parse(await kubectlOk(['get', 'configmap', 'shop-settings', '-n', ns.name, '-o', 'json'])) as {
      data: Record<string, string>; metadata: { labels: Record<string, string> };
    };
    expect(cm.data).toEqual({ currency: 'EUR', 'checkout.timeout': '30s' });
    expect(cm.metadata.labels['app.kubernetes.io/name']).toBe('shop');

    const names = await kubectlOk(['get', 'configmaps', '-n', ns.name, '-l', 'app.kubernetes.io/name=shop', '-o', 'name']);
    expect(names.trim()).toBe('configmap/shop-settings');

    // Re-applying the same file is a no-op, as users expect.
    expect(await kubectlOk(['apply', '-n', ns.name, '-f', path.join(fixtures, 'configmap.yaml')])).toContain('unchanged');
  });

  it('server-side dry-run validates without persisting', async () => {
    const ns = await testNamespace('dryrun');
    const out = await kubectlOk(['apply', '--dry-run=server', '-n', ns.name, '-f', path.join(fixtures, 'configmap.yaml')]);
    expect(out).toContain('configmap/shop-settings created (server dry run)');
    const get = await kubectl(['get', 'configmap', 'shop-settings', '-n', ns.name]);
    expect(get.code).not.toBe(0);
    expect(get.stderr).toContain('NotFound');
  });

  it('uses the admin kubeconfig by default', () => {
    expect(adminKubeconfigPath()).toBe(cluster().kubeconfig);
  });
});
