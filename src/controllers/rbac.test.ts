// deploy/ grants the operator exactly OPERATOR_PERMISSIONS: every verb and resource it uses, and
// nothing more. The manifests are read the way `kubectl apply -k deploy/` reads them (following
// kustomization resources), so a file that is not installed does not count.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dump, loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import {
  OPERATOR_NAMESPACE, OPERATOR_PERMISSIONS, OPERATOR_SERVICE_ACCOUNT, OPERATOR_USERNAME,
  expandPermissions, grantKey, policyRules, type Grant,
} from './rbac.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const deployDir = path.join(repo, 'deploy');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface Subject { kind: string; name: string; namespace?: string }
interface Binding extends Manifest { roleRef: { kind: string; name: string }; subjects?: Subject[] }

/** The kustomization file of a folder, under any of the names kustomize accepts. */
function kustomizationFile(dir: string): string {
  const name = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].find((n) => existsSync(path.join(dir, n)));
  if (!name) throw new Error(`${dir} has no kustomization file`);
  return path.join(dir, name);
}

/** The objects a kustomization directory installs (resources: files and directories, recursively). */
function kustomize(dir: string, seen = new Set<string>()): { manifests: Manifest[]; files: string[] } {
  const kustomization = loadAll(readFileSync(kustomizationFile(dir), 'utf8'))[0] as { resources?: string[] };
  const manifests: Manifest[] = [];
  const files: string[] = [];
  for (const entry of kustomization.resources ?? []) {
    const target = path.resolve(dir, entry);
    if (seen.has(target)) continue;
    seen.add(target);
    if (statSync(target).isDirectory()) {
      const sub = kustomize(target, seen);
      manifests.push(...sub.manifests);
      files.push(...sub.files);
    } else {
      files.push(target);
      for (const doc of loadAll(readFileSync(target, 'utf8'))) if (doc) manifests.push(doc as Manifest);
    }
  }
  return { manifests, files };
}

const { manifests, files } = kustomize(deployDir);
const ofKind = <T extends Manifest = Manifest>(kind: string) => manifests.filter((m) => m.kind === kind) as T[];
const find = <T extends Manifest = Manifest>(kind: string, name: string, namespace?: string): T => {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name && m.metadata.namespace === namespace);
  if (!found) throw new Error(`deploy/ has no ${kind} ${namespace ? `${namespace}/` : ''}${name}`);
  return found as T;
};

const isOperator = (s: Subject) => s.kind === 'ServiceAccount' && s.name === OPERATOR_SERVICE_ACCOUNT && s.namespace === OPERATOR_NAMESPACE;

/** Everything deploy/ grants the operator's ServiceAccount, one (scope, group, resource, verb) each. */
function deployedOperatorGrants(): { grants: Grant[]; problems: string[] } {
  const grants: Grant[] = [];
  const problems: string[] = [];
  const bindings = [...ofKind<Binding>('ClusterRoleBinding'), ...ofKind<Binding>('RoleBinding')];
  for (const b of bindings.filter((b) => (b.subjects ?? []).some(isOperator))) {
    const scope = b.kind === 'ClusterRoleBinding' ? 'cluster' : b.metadata.namespace ?? 'default';
    const role = b.roleRef.kind === 'ClusterRole' ? find(b.roleRef.kind, b.roleRef.name) : find(b.roleRef.kind, b.roleRef.name, b.metadata.namespace);
    if ('aggregationRule' in role) problems.push(`${role.kind} ${role.metadata.name} is aggregated: its rules are not reviewable here`);
    for (const rule of (role['rules'] ?? []) as Rule[]) {
      if (rule.resourceNames?.length) problems.push(`${role.metadata.name}: resourceNames are not modelled in OPERATOR_PERMISSIONS`);
      if (rule.nonResourceURLs?.length) problems.push(`${role.metadata.name}: nonResourceURLs ${rule.nonResourceURLs.join(',')} are not in OPERATOR_PERMISSIONS`);
      for (const apiGroup of rule.apiGroups ?? []) {
        for (const resource of rule.resources ?? []) {
          for (const verb of rule.verbs ?? []) {
            if ([apiGroup, resource, verb].some((x) => x.includes('*'))) problems.push(`${role.metadata.name}: wildcard in ${apiGroup}/${resource}/${verb}`);
            grants.push({ scope, apiGroup, resource, verb });
          }
        }
      }
    }
  }
  return { grants, problems };
}

describe('deploy/ RBAC of the operator', () => {
  it('grants exactly OPERATOR_PERMISSIONS: nothing missing, nothing more', () => {
    const { grants, problems } = deployedOperatorGrants();
    expect(problems).toEqual([]);
    const granted = new Set(grants.map(grantKey));
    const needed = new Set(expandPermissions().map(grantKey));
    const missing = [...needed].filter((k) => !granted.has(k)).sort();
    const extra = [...granted].filter((k) => !needed.has(k)).sort();
    const hint = `deploy/operator-rbac.yaml should grant:\n# ClusterRole hivewall-operator\n${dump(policyRules('cluster'), { flowLevel: 2 })}`
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

  it('never lets the operator edit a proposal (its review) or touch secrets and RBAC', () => {
    const keys = new Set(deployedOperatorGrants().grants.map(grantKey));
    for (const verb of ['update', 'patch']) expect(keys.has(`cluster hivewall.dev policyproposals ${verb}`)).toBe(false);
    const forbidden = [...keys].filter((k) => / (secrets|roles|rolebindings|clusterroles|clusterrolebindings|serviceaccounts|pods\/exec|users|groups) /.test(k) || / (escalate|bind|impersonate)$/.test(k));
    expect(forbidden).toEqual([]);
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
  const read = (resources: string[]) => resources.flatMap((r) => ['get', 'list', 'watch'].map((v) => `hivewall.dev ${r} ${v}`));

  it('hivewall-reviewer reads hivewall objects and updates proposals, nothing else', () => {
    expect(rulesOf('hivewall-reviewer')).toEqual([
      ...read(['segmentations', 'policyproposals', 'trafficprofiles']),
      'hivewall.dev policyproposals update', 'hivewall.dev policyproposals patch',
    ].sort());
  });

  it('hivewall-viewer is read-only', () => {
    expect(rulesOf('hivewall-viewer')).toEqual(read(['segmentations', 'policyproposals', 'trafficprofiles']).sort());
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
