// deploy/ grants the operator exactly OPERATOR_PERMISSIONS: every verb and resource it uses, and
// nothing more. The manifests are read the way `kubectl apply -k deploy/` reads them (following
// kustomization resources), so a file that is not installed does not count.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dump } from 'js-yaml';
import { deployedGrants, findManifest, kustomize, type Binding, type Manifest, type Rule, type Subject } from '../testing/deploy-manifests.js';
import { describe, expect, it } from 'vitest';
import {
  OPERATOR_NAMESPACE, OPERATOR_PERMISSIONS, OPERATOR_SERVICE_ACCOUNT, OPERATOR_USERNAME,
  expandPermissions, grantKey, policyRules, type Grant,
} from './rbac.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const deployDir = path.join(repo, 'deploy');

const { manifests, files } = kustomize(deployDir);
const ofKind = <T extends Manifest = Manifest>(kind: string) => manifests.filter((m) => m.kind === kind) as T[];
const find = <T extends Manifest = Manifest>(kind: string, name: string, namespace?: string): T => findManifest<T>(manifests, kind, name, namespace);

const isOperator = (s: Subject) => s.kind === 'ServiceAccount' && s.name === OPERATOR_SERVICE_ACCOUNT && s.namespace === OPERATOR_NAMESPACE;

/** Everything deploy/ grants the operator's ServiceAccount, one (scope, group, resource, verb) each. */
function deployedOperatorGrants(): { grants: Grant[]; problems: string[] } {
  return deployedGrants(manifests, isOperator, 'OPERATOR_PERMISSIONS');
}

describe('deploy/ RBAC of the operator', () => {
  it('grants exactly OPERATOR_PERMISSIONS: nothing missing, nothing more', () => {
    const { grants, problems } = deployedOperatorGrants();
    expect(problems).toEqual([]);
    const granted = new Set(grants.map(grantKey));
    const needed = new Set(expandPermissions().map(grantKey));
    const missing = [...needed].filter((k) => !granted.has(k)).sort();
    const extra = [...granted].filter((k) => !needed.has(k)).sort();
    const hint = `deploy/base/operator-rbac.yaml should grant:\n# ClusterRole hivewall-operator\n${dump(policyRules('cluster'), { flowLevel: 2 })}`
      + `# Role hivewall-operator in ${OPERATOR_NAMESPACE}\n${dump(policyRules(OPERATOR_NAMESPACE), { flowLevel: 2 })}`;
    expect({ missing, extra }, hint).toEqual({ missing: [], extra: [] });
  });

  it('has no duplicate or empty entries in OPERATOR_PERMISSIONS, and says why for each', () => {
    const keys = expandPermissions().map(grantKey);
    expect(new Set(keys).size).toBe(keys.length);
    for (const p of OPERATOR_PERMISSIONS) {
      expect(p.apiGroups.length * p.resources.length * p.verbs.length).toBeGreaterThan(0);
      expect(p.why.length).toBeGreaterThan(10);
    }
  });

  it('never lets the operator edit a proposal (its review), read other secrets, or touch RBAC', () => {
    const keys = new Set(deployedOperatorGrants().grants.map(grantKey));
    for (const verb of ['update', 'patch']) expect(keys.has(`cluster hivewall.dev policyproposals ${verb}`)).toBe(false);
    const forbidden = [...keys].filter((k) => / (secrets|roles|rolebindings|clusterroles|clusterrolebindings|serviceaccounts|pods\/exec|users|groups) /.test(k) || / (escalate|bind|impersonate)$/.test(k));
    expect(forbidden).toEqual([`${OPERATOR_NAMESPACE} core secrets create`]);
    // Secrets: only create in its namespace (the receiver certificate's first issue); reading and
    // renewing are limited to that one Secret, so no other Secret's content is ever readable.
    const secretGrants = [...keys].filter((k) => / secrets/.test(k)).sort();
    expect(secretGrants).toEqual([
      `${OPERATOR_NAMESPACE} core secrets create`,
      `${OPERATOR_NAMESPACE} core secrets/hivewall-receiver-tls get`,
      `${OPERATOR_NAMESPACE} core secrets/hivewall-receiver-tls update`,
    ]);
  });

  it('grants no verb the code does not call: no delete of profiles; Events are created and their count patched, nothing else', () => {
    // The operator never deletes a TrafficProfile (garbage collection follows the Segmentation);
    // src/k8s/events.ts creates core/v1 Events and merge-patches the count of one that repeats
    // (never reads or deletes them). Proposals it deletes only when superseded and unreviewed
    // (src/controllers/segmentation/history.ts), which the admission policy
    // hivewall-proposal-pruning holds it to.
    const keys = new Set(deployedOperatorGrants().grants.map(grantKey));
    expect(keys.has('cluster hivewall.dev policyproposals delete')).toBe(true);
    // Segmentations and profiles are written by patch (finalizer merge patch, server-side apply),
    // statuses by merge patch on the subresource: never by a whole-object update.
    const unused = [
      'cluster hivewall.dev trafficprofiles delete', 'cluster hivewall.dev trafficprofiles update', 'cluster hivewall.dev segmentations update',
      'cluster hivewall.dev segmentations/status update', 'cluster hivewall.dev segmentations/status get',
      'cluster hivewall.dev policyproposals/status update', 'cluster hivewall.dev policyproposals/status get',
      'hivewall-system core configmaps list', 'hivewall-system core configmaps watch',
    ];
    expect(unused.filter((k) => keys.has(k))).toEqual([]);
    expect([...keys].filter((k) => / events /.test(k)).sort()).toEqual(['cluster core events create', 'cluster core events patch']);
  });

  it('runs the Deployment as that ServiceAccount, in its namespace', () => {
    find('Namespace', OPERATOR_NAMESPACE);
    find('ServiceAccount', OPERATOR_SERVICE_ACCOUNT, OPERATOR_NAMESPACE);
    const deployment = find<Manifest & { spec: { template: { spec: { serviceAccountName: string } } } }>('Deployment', 'hivewall-operator', OPERATOR_NAMESPACE);
    expect(deployment.spec.template.spec.serviceAccountName).toBe(OPERATOR_SERVICE_ACCOUNT);
  });
});

describe('deploy/ roles for people', () => {
  const rulesOf = (name: string) => (find('ClusterRole', name)['rules'] as Rule[]).flatMap((r) =>
    (r.apiGroups ?? []).flatMap((g) => (r.resources ?? []).flatMap((res) => (r.verbs ?? []).map((v) => `${g} ${res} ${v}`)))).sort();
  const read = (group: string, resources: string[]) => resources.flatMap((r) => ['get', 'list', 'watch'].map((v) => `${group} ${r} ${v}`));
  const hivewallReads = read('hivewall.dev', ['segmentations', 'policyproposals', 'trafficprofiles']);
  // The live policies a proposal is compared with (`kubectl hivewall diff`, report, export --from enforced).
  const livePolicyReads = [...read('networking.k8s.io', ['networkpolicies']), ...read('cilium.io', ['ciliumnetworkpolicies'])];
  const READ_VERBS = new Set(['get', 'list', 'watch']);

  it('hivewall-reviewer reads hivewall objects and the live policies, and updates proposals, nothing else', () => {
    expect(rulesOf('hivewall-reviewer')).toEqual([
      ...hivewallReads, ...livePolicyReads,
      'hivewall.dev policyproposals update', 'hivewall.dev policyproposals patch',
    ].sort());
  });

  it('hivewall-viewer is read-only: hivewall objects and the live policies', () => {
    expect(rulesOf('hivewall-viewer')).toEqual([...hivewallReads, ...livePolicyReads].sort());
  });

  it.each(['hivewall-reviewer', 'hivewall-viewer'])('%s never writes policies or Segmentations, and never reads Secrets', (name) => {
    const rules = rulesOf(name);
    const verb = (k: string) => k.split(' ')[2]!;
    expect(rules.filter((k) => / (networkpolicies|ciliumnetworkpolicies) /.test(k) && !READ_VERBS.has(verb(k)))).toEqual([]);
    expect(rules.filter((k) => /^hivewall\.dev (segmentations|trafficprofiles)/.test(k) && !READ_VERBS.has(verb(k)))).toEqual([]);
    expect(rules.filter((k) => /\/status /.test(k))).toEqual([]);
    expect(rules.filter((k) => / (secrets|\*) /.test(k) || / \*$/.test(k) || k.startsWith('* '))).toEqual([]);
  });

  it('deploy/ binds neither role to anyone (admins decide who reviews)', () => {
    const refs = [...ofKind<Binding>('ClusterRoleBinding'), ...ofKind<Binding>('RoleBinding')].map((b) => b.roleRef.name);
    expect(refs).not.toContain('hivewall-reviewer');
    expect(refs).not.toContain('hivewall-viewer');
  });
});

describe('deploy/ admission policy', () => {
  it('names the operator of rbac.ts and matches proposal creates and updates', () => {
    const policy = find<Manifest & { spec: Record<string, unknown> }>('ValidatingAdmissionPolicy', 'hivewall-review-identity');
    const text = JSON.stringify(policy.spec);
    expect(text).toContain(OPERATOR_USERNAME);
    expect(policy.spec['failurePolicy']).toBe('Fail');
    expect(text).toContain('"operations":["CREATE","UPDATE"]');
    const binding = find<Manifest & { spec: { policyName: string; validationActions: string[] } }>('ValidatingAdmissionPolicyBinding', 'hivewall-review-identity');
    expect(binding.spec).toMatchObject({ policyName: 'hivewall-review-identity', validationActions: ['Deny'] });
  });
});

describe('deploy/ kustomization', () => {
  it('installs every manifest in deploy/ and the three CRDs', () => {
    const yamlInDeploy = readdirSync(deployDir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').map((f) => path.join(deployDir, f));
    expect(yamlInDeploy.filter((f) => !files.includes(f))).toEqual([]);
    expect(ofKind('CustomResourceDefinition').map((c) => c.metadata.name).sort()).toEqual([
      'policyproposals.hivewall.dev', 'segmentations.hivewall.dev', 'trafficprofiles.hivewall.dev',
    ]);
  });
});
