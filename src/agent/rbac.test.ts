// deploy/ grants the agent's ServiceAccount exactly AGENT_PERMISSIONS, and runs the DaemonSet as
// that ServiceAccount with the security context the agent needs (and nothing more). The
// manifests are read as `kubectl apply -k deploy/` reads them (following kustomization resources).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dump } from 'js-yaml';
import { deployedGrants, findManifest, kustomize, type Manifest, type Subject } from '../testing/deploy-manifests.js';
import { describe, expect, it } from 'vitest';
import { expandPermissions, grantKey, policyRules, type Grant } from '../controllers/rbac.js';
import { AGENT_IDENTITY_KINDS, AGENT_NAMESPACE, AGENT_PERMISSIONS, AGENT_SERVICE_ACCOUNT, AGENT_USERNAME } from './rbac.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const deployDir = path.join(repo, 'deploy');

const { manifests } = kustomize(deployDir);
const find = <T extends Manifest = Manifest>(kind: string, name: string, namespace?: string): T => findManifest<T>(manifests, kind, name, namespace);
const isAgent = (s: Subject) => s.kind === 'ServiceAccount' && s.name === AGENT_SERVICE_ACCOUNT && s.namespace === AGENT_NAMESPACE;

function deployedAgentGrants(): { grants: Grant[]; problems: string[] } {
  return deployedGrants(manifests, isAgent, 'AGENT_PERMISSIONS');
}

describe('deploy/ RBAC of the node agent', () => {
  it('grants exactly AGENT_PERMISSIONS: nothing missing, nothing more', () => {
    const { grants, problems } = deployedAgentGrants();
    expect(problems).toEqual([]);
    const granted = new Set(grants.map(grantKey));
    const needed = new Set(expandPermissions(AGENT_PERMISSIONS).map(grantKey));
    const missing = [...needed].filter((k) => !granted.has(k)).sort();
    const extra = [...granted].filter((k) => !needed.has(k)).sort();
    const hint = `deploy/base/agent-rbac.yaml should grant:\n# ClusterRole hivewall-agent\n${dump(policyRules('cluster', AGENT_PERMISSIONS), { flowLevel: 2 })}`;
    expect({ missing, extra }, hint).toEqual({ missing: [], extra: [] });
  });

  it('is read-only: list and watch of the identity kinds, nothing else', () => {
    const keys = expandPermissions(AGENT_PERMISSIONS).map(grantKey).sort();
    expect(keys).toEqual([
      'cluster apps replicasets list', 'cluster apps replicasets watch',
      'cluster batch jobs list', 'cluster batch jobs watch',
      'cluster core nodes list', 'cluster core nodes watch',
      'cluster core pods list', 'cluster core pods watch',
      'cluster core services list', 'cluster core services watch',
      'cluster discovery.k8s.io endpointslices list', 'cluster discovery.k8s.io endpointslices watch',
    ]);
    for (const p of AGENT_PERMISSIONS) expect(p.why.length).toBeGreaterThan(10);
  });

  it('lists exactly the kinds it is allowed to (AGENT_IDENTITY_KINDS ↔ AGENT_PERMISSIONS)', () => {
    const plural = (kind: string) => `${kind.toLowerCase()}s`;
    const listed = AGENT_IDENTITY_KINDS.map(([apiVersion, kind]) => `${apiVersion.includes('/') ? apiVersion.split('/')[0] : 'core'} ${plural(kind)}`).sort();
    const allowed = expandPermissions(AGENT_PERMISSIONS).filter((g) => g.verb === 'list').map((g) => `${g.apiGroup || 'core'} ${g.resource}`).sort();
    expect(listed).toEqual(allowed);
  });

  it('runs the DaemonSet as that ServiceAccount: hostNetwork, root with NET_ADMIN only, read-only root filesystem', () => {
    expect(AGENT_USERNAME).toBe('system:serviceaccount:hivewall-system:hivewall-agent');
    find('ServiceAccount', AGENT_SERVICE_ACCOUNT, AGENT_NAMESPACE);
    interface Pod { serviceAccountName: string; hostNetwork: boolean; containers: { args: string[]; securityContext: Record<string, unknown>; env: { name: string }[] }[] }
    const ds = find<Manifest & { spec: { template: { spec: Pod } } }>('DaemonSet', 'hivewall-agent', AGENT_NAMESPACE);
    const pod = ds.spec.template.spec;
    expect(pod.serviceAccountName).toBe(AGENT_SERVICE_ACCOUNT);
    expect(pod.hostNetwork).toBe(true);
    expect(pod.containers).toHaveLength(1);
    const [container] = pod.containers;
    expect(container!.args[0]).toBe('agent');
    expect(container!.env.map((e) => e.name)).toEqual(expect.arrayContaining(['NODE_NAME', 'HIVEWALL_CONTROLLER_URL']));
    expect(container!.securityContext).toMatchObject({
      runAsUser: 0,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] },
    });
  });
});
