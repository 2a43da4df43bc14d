// A ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) is enforced by
// the real API server: ConfigMaps must carry data.owner == the requesting user.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import { AdmissionregistrationV1Api, CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  adminKubeConfig, apiErrorMessage, apiStatus, bindRole, canIssueUserCertificates, NO_CLIENT_CA, groupSubject, kubectl, kubectlOk, randomSuffix, testNamespace, userIdentity, writeTempManifest,
} from '../harness/index.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

const configMap = (name: string, owner: string): V1ConfigMap => ({ metadata: { name }, data: { owner } });

describe('ValidatingAdmissionPolicy', () => {
  it('rejects ConfigMaps whose data.owner is not the requesting user', async (ctx) => {
    ctx.skip(!canIssueUserCertificates(), NO_CLIENT_CA);
    const ns = await testNamespace('vap');
    const suffix = randomSuffix();
    const policyName = `configmap-owner-${suffix}`;

    // Policy + binding from a fixture (kubectl apply), scoped to this test's namespace.
    const manifest = (await readFile(path.join(fixtures, 'configmap-owner-policy.yaml'), 'utf8'))
      .replaceAll('POLICY_NAME', policyName).replaceAll('NAMESPACE', ns.name);
    await kubectlOk(['apply', '-f', await writeTempManifest(manifest, 'policy.yaml')]);
    const admission = adminKubeConfig().makeApiClient(AdmissionregistrationV1Api);
    try {
      const policy = await admission.readValidatingAdmissionPolicy({ name: policyName });
      expect(policy.spec?.validations?.[0]?.expression).toContain('request.userInfo.username');

      const [alice, bob] = await Promise.all([
        userIdentity('alice', [`writers-${suffix}`]),
        userIdentity('bob', [`writers-${suffix}`]),
      ]);
      await bindRole({ namespace: ns.name, subject: groupSubject(`writers-${suffix}`), rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'get', 'update'] }] });
      const asAlice = alice.kubeConfig.makeApiClient(CoreV1Api);
      const asBob = bob.kubeConfig.makeApiClient(CoreV1Api);

      // The API server picks up a new policy asynchronously: wait until it denies.
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          await asBob.createNamespacedConfigMap({ namespace: ns.name, body: configMap('probe', 'alice'), dryRun: 'All' });
        } catch (err) {
          if (apiStatus(err) === 422 || apiStatus(err) === 403) break;
          throw err;
        }
        if (Date.now() > deadline) throw new Error('policy never enforced');
        await new Promise((r) => setTimeout(r, 100));
      }

      // alice may create a ConfigMap she owns; bob may not create one in her name.
      await asAlice.createNamespacedConfigMap({ namespace: ns.name, body: configMap('alices', 'alice') });
      let denied: unknown;
      try {
        await asBob.createNamespacedConfigMap({ namespace: ns.name, body: configMap('forged', 'alice') });
      } catch (err) {
        denied = err;
      }
      expect(apiStatus(denied)).toBe(422); // a Deny with no `reason` is reported as Invalid
      expect(apiErrorMessage(denied)).toContain(`ValidatingAdmissionPolicy '${policyName}'`);
      expect(apiErrorMessage(denied)).toContain('data.owner must be the requesting user');
      await asBob.createNamespacedConfigMap({ namespace: ns.name, body: configMap('bobs', 'bob') });

      // Same through kubectl, as bob.
      const forged = await kubectl(['create', 'configmap', 'forged2', '--from-literal=owner=alice', '-n', ns.name], { kubeconfig: bob.kubeconfigPath });
      expect(forged.code).not.toBe(0);
      expect(forged.stderr).toContain('data.owner must be the requesting user');
      await kubectlOk(['create', 'configmap', 'bobs2', '--from-literal=owner=bob', '-n', ns.name], { kubeconfig: bob.kubeconfigPath });

      // Updates are checked too: bob cannot edit a ConfigMap that names alice as owner.
      const alices = await asBob.readNamespacedConfigMap({ namespace: ns.name, name: 'alices' });
      let edit: unknown;
      try {
        await asBob.replaceNamespacedConfigMap({ namespace: ns.name, name: 'alices', body: { ...alices, data: { owner: 'alice', x: '1' } } });
      } catch (err) {
        edit = err;
      }
      expect(apiStatus(edit)).toBe(422);

      // Outside the bound namespace the policy does not apply.
      const other = await testNamespace('vap-other');
      await adminKubeConfig().makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: other.name, body: configMap('free', 'nobody') });
    } finally {
      await admission.deleteValidatingAdmissionPolicyBinding({ name: policyName }).catch(() => {});
      await admission.deleteValidatingAdmissionPolicy({ name: policyName }).catch(() => {});
    }
  });
});
