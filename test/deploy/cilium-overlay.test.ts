// deploy/cilium/ as `kubectl apply -k deploy/cilium/` installs it: kustomize builds it, the API
// server accepts every object (server-side dry-run), the agent DaemonSet runs `hivewall agent
// --source hubble` with a configuration that parses, the Hubble socket's folder mounted read-only,
// no hostNetwork and no added capability; and the API server's own PodSecurity admission finds
// exactly one `baseline` violation in its pod — the hostPath volume the socket needs.
import path from 'node:path';
import { loadAll } from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { agentConfig } from '../../src/cli/agent-command.js';
import { kubectl, kubectlOk, testNamespace } from '../harness/index.js';
import { deployDir, removeAdmissionPolicy } from './deploy-helpers.js';

const overlay = path.join(deployDir, 'cilium');

interface Container {
  args: string[];
  env: { name: string; value?: string }[];
  securityContext: Record<string, unknown> & { capabilities?: { add?: string[]; drop?: string[] } };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  hostNetwork?: boolean;
  hostPID?: boolean;
  dnsPolicy?: string;
  containers: Container[];
  volumes: { name: string; hostPath?: { path: string }; emptyDir?: unknown }[];
  [key: string]: unknown;
}
interface DaemonSet {
  kind: string;
  metadata: { name: string };
  spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
}

afterAll(removeAdmissionPolicy);

describe('deploy/cilium/', () => {
  let daemonSet: DaemonSet;

  it('builds with kubectl kustomize and the API server accepts it (server-side dry-run)', async () => {
    const built = await kubectlOk(['kustomize', overlay]);
    const objects = loadAll(built) as DaemonSet[];
    daemonSet = objects.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'hivewall-agent')!;
    expect(daemonSet).toBeDefined();
    // The same objects as deploy/ otherwise.
    const base = (loadAll(await kubectlOk(['kustomize', deployDir])) as DaemonSet[]).map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(base);
    const dryRun = await kubectl(['apply', '-k', overlay, '--dry-run=server']);
    expect(dryRun.stderr).toBe('');
    expect(dryRun.code).toBe(0);
  }, 60_000);

  it('runs the agent in Hubble mode: the socket folder read-only, no hostNetwork, no capability added', () => {
    const spec = daemonSet.spec.template.spec;
    const container = spec.containers[0]!;
    expect(spec.hostNetwork).toBeUndefined();
    expect(spec.dnsPolicy).toBe('ClusterFirst');
    // It watches nothing: no API token in the pod (the projected receiver token is its own volume).
    expect(spec['automountServiceAccountToken']).toBe(false);
    expect(container.securityContext).toMatchObject({ privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext.capabilities?.add).toBeUndefined();
    const env = Object.fromEntries(container.env.map((e) => [e.name, e.value ?? '']));
    const flags = Object.fromEntries(container.args.slice(1).map((a) => a.slice(2).split('=')).map(([k, v]) => [k!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), v]));
    const config = agentConfig(flags, { ...env, NODE_NAME: 'node-a' });
    expect(container.args[0]).toBe('agent');
    expect(config).toMatchObject({ source: 'hubble', hubbleAddress: 'unix:///var/run/cilium/hubble.sock', resumeFile: '/var/lib/hivewall/hubble-resume.json' });
    const socketDir = '/var/run/cilium';
    const mount = container.volumeMounts.find((m) => m.mountPath === socketDir)!;
    expect(mount.readOnly).toBe(true);
    expect(spec.volumes.find((v) => v.name === mount.name)?.hostPath?.path).toBe(socketDir);
    const state = container.volumeMounts.find((m) => config.resumeFile!.startsWith(`${m.mountPath}/`))!;
    expect(spec.volumes.find((v) => v.name === state.name)?.emptyDir).toBeDefined();
  });

  it('its pod violates Pod Security `baseline` only by the socket\'s hostPath volume (the API server\'s PodSecurity admission)', async () => {
    const ns = await testNamespace('psa-baseline');
    await kubectlOk(['label', 'namespace', ns.name, 'pod-security.kubernetes.io/enforce=baseline']);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'hubble-agent', namespace: ns.name }, spec: { ...daemonSet.spec.template.spec, serviceAccountName: 'default' } };
    const created = await kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(pod) });
    expect(created.code).not.toBe(0);
    const violations = /violates PodSecurity "baseline:[^"]+": (.*)$/m.exec(created.stderr)?.[1];
    expect(violations, created.stderr).toBe('hostPath volumes (volume "cilium-run")');
    // Without that one volume (and its mount) the same pod is admitted at `baseline`.
    const withoutSocket = {
      ...pod,
      spec: {
        ...pod.spec,
        volumes: pod.spec.volumes.filter((v) => v.name !== 'cilium-run'),
        containers: pod.spec.containers.map((c) => ({ ...c, volumeMounts: c.volumeMounts.filter((m) => m.name !== 'cilium-run') })),
      },
    };
    const admitted = await kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(withoutSocket) });
    expect(admitted.stderr).toBe('');
    expect(admitted.code).toBe(0);
  }, 30_000);
});
