// Drift repair against a real API server: a field another field manager added to a hivewall
// policy, one hivewall never sets, is gone after Kube.apply (src/k8s/kube.ts). Server-side apply
// alone keeps it: force takes over only the fields the applied object names, so
// `kubectl patch --type=merge -p '{"spec":{"ingress":[{}]}}'` on the default deny (no
// spec.ingress in hivewall's object) would leave the namespace open to all ingress while the
// reconciler re-applied and reported the policy in sync. The Kube runs as an identity holding the
// operator's policy permissions only (src/controllers/rbac.ts): the replace needs `update`.
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { OPERATOR_PERMISSIONS, policyRules } from '../../src/controllers/rbac.js';
import { FIELD_MANAGER, Kube } from '../../src/k8s/kube.js';
import { bindRole, ciliumCrd, kubectlOk, serviceAccountIdentity, testNamespace } from '../harness/index.js';

type Policy = KubernetesObject & { spec: Record<string, unknown> };

const SEGMENTATION_UID = '6f1f7c1e-2b9a-4d55-8f43-3f0d5e9b1a20';

/** A policy as the reconciler applies it (src/controllers/segmentation/reconciler.ts, action `apply`): proposal object, namespace, owner. */
function asApplied(apiVersion: string, kind: string, namespace: string, name: string, spec: Record<string, unknown>, annotations?: Record<string, string>): Policy {
  return {
    apiVersion,
    kind,
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'hivewall' },
      ...(annotations ? { annotations } : {}),
      ownerReferences: [{ apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', name: 'seg', uid: SEGMENTATION_UID, controller: true }],
    },
    spec,
  };
}

/** A Kube as a ServiceAccount of `namespace` with the operator's permissions on policies there, nothing else. */
async function operatorKube(namespace: string): Promise<Kube> {
  const sa = await serviceAccountIdentity(namespace, 'policy-writer');
  const policies = OPERATOR_PERMISSIONS.filter((p) => p.resources.includes('networkpolicies') || p.resources.includes('ciliumnetworkpolicies'));
  expect(policies).toHaveLength(2);
  await bindRole({ namespace, subject: sa, rules: policyRules('cluster', policies) });
  return new Kube(sa.kubeConfig);
}

async function live(resource: string, namespace: string, name: string): Promise<Policy & { metadata: { managedFields: { manager: string }[]; resourceVersion: string } }> {
  return JSON.parse(await kubectlOk(['get', resource, name, '-n', namespace, '-o', 'json', '--show-managed-fields'])) as never;
}

/** What another field manager does by hand: a JSON merge patch (kubectl's field manager `kubectl-patch`). */
async function patchByHand(resource: string, namespace: string, name: string, patch: object): Promise<void> {
  await kubectlOk(['patch', resource, name, '-n', namespace, '--type=merge', '-p', JSON.stringify(patch)]);
}

describe('Kube.apply removes fields other managers added to a hivewall policy', () => {
  const cases = [
    {
      name: 'default deny: spec.ingress [{}] (allow all ingress) added by hand',
      policy: (ns: string) => asApplied('networking.k8s.io/v1', 'NetworkPolicy', ns, 'hivewall-default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
      foreign: { spec: { ingress: [{}] } },
    },
    {
      name: 'workload policy with ingress rules only: spec.egress [{}] (allow all egress) added by hand',
      policy: (ns: string) => asApplied('networking.k8s.io/v1', 'NetworkPolicy', ns, 'hivewall-cart', {
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'cart' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'frontend' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }],
      }, { 'hivewall.dev/workload': 'Deployment/cart' }),
      foreign: { spec: { egress: [{}] }, metadata: { annotations: { 'hivewall.dev/reviewed': 'yes', 'example.com/note': 'kept' } } },
    },
  ];

  it.each(cases)('$name', async ({ policy, foreign }) => {
    const ns = await testNamespace('drift-foreign');
    const kube = await operatorKube(ns.name);
    const want = policy(ns.name);
    const name = want.metadata!.name!;
    await kube.apply(want);

    // Someone else widens the policy, and labels it (metadata of others stays).
    await patchByHand('networkpolicy', ns.name, name, { ...foreign, metadata: { ...(foreign as { metadata?: object }).metadata, labels: { team: 'payments' } } });
    const widened = await live('networkpolicy', ns.name, name);
    expect(widened.spec).toMatchObject(foreign.spec);
    expect(widened.metadata.managedFields.map((f) => f.manager)).toContain('kubectl-patch');

    const writesBefore = kube.writes;
    const returned = await kube.apply(want);
    const repaired = await live('networkpolicy', ns.name, name);
    expect(repaired.spec).toEqual(want.spec);
    expect(returned.spec).toEqual(want.spec);
    const othersAnnotations = Object.fromEntries(Object.entries((foreign as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations ?? {}).filter(([k]) => !k.startsWith('hivewall.dev/')));
    expect(repaired.metadata.annotations ?? {}).toEqual({ ...othersAnnotations, ...want.metadata!.annotations });
    expect(repaired.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'hivewall', team: 'payments' });
    expect(repaired.metadata.ownerReferences).toEqual(want.metadata!.ownerReferences);
    expect(kube.writes - writesBefore).toBe(2); // the apply, then the replace

    // In sync now: the next apply is the apply alone and changes nothing.
    const again = await kube.apply(want);
    expect(kube.writes - writesBefore).toBe(3);
    expect(again.metadata!.resourceVersion).toBe(repaired.metadata.resourceVersion);
    // hivewall still owns what it sets with server-side apply, so the next change of the proposal
    // (a rule it stops sending) is still removed by the apply itself.
    expect(repaired.metadata.managedFields.some((f) => f.manager === FIELD_MANAGER)).toBe(true);
  });

  it('an object without the defaults the API server adds is replaced to the same object: no new resourceVersion', async () => {
    const ns = await testNamespace('drift-defaults');
    const kube = await operatorKube(ns.name);
    // No policyTypes, no protocol: the API server defaults [Ingress] and TCP.
    const want = asApplied('networking.k8s.io/v1', 'NetworkPolicy', ns.name, 'hivewall-api', {
      podSelector: { matchLabels: { app: 'api' } },
      ingress: [{ ports: [{ port: 80 }] }],
    });
    const first = await kube.apply(want);
    expect((first as Policy).spec).toEqual({ ...want.spec, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 80, protocol: 'TCP' }] }] });
    const second = await kube.apply(want);
    expect(second.metadata!.resourceVersion).toBe(first.metadata!.resourceVersion);
  });

  it('CiliumNetworkPolicy default deny: enableDefaultDeny false (isolate nothing) added by hand', async (ctx) => {
    ctx.skip(!ciliumCrd().installed, ciliumCrd().reason);
    const ns = await testNamespace('drift-cilium');
    const kube = await operatorKube(ns.name);
    const want = asApplied('cilium.io/v2', 'CiliumNetworkPolicy', ns.name, 'hivewall-default-deny', { endpointSelector: {}, ingress: [{}], egress: [{}] });
    await kube.apply(want);
    const foreign = { enableDefaultDeny: { ingress: false, egress: false } };
    await patchByHand('ciliumnetworkpolicy', ns.name, 'hivewall-default-deny', { spec: { enableDefaultDeny: foreign.enableDefaultDeny } });
    expect((await live('ciliumnetworkpolicy', ns.name, 'hivewall-default-deny')).spec).toMatchObject({ enableDefaultDeny: foreign.enableDefaultDeny });

    const returned = await kube.apply(want);
    expect((returned as Policy).spec).toEqual(want.spec);
    expect((await live('ciliumnetworkpolicy', ns.name, 'hivewall-default-deny')).spec).toEqual(want.spec);
  });
});
