// deploy/ as the operator and the agent will read it: the container args and environment of the
// Deployment and the DaemonSet parse into valid configurations, and the pieces that must agree
// (receiver port, Service, agent URL, CA mount, names) do.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RECEIVER_TLS_DEFAULTS } from '../operator/receiver-tls.js';
import { findManifest, kustomize, type Manifest } from '../testing/deploy-manifests.js';
import { agentConfig, type AgentFlags } from './agent-command.js';
import { operatorConfig, type OperatorFlags } from './operator-command.js';

const DEPLOY = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../deploy');
const { manifests } = kustomize(DEPLOY);

interface Container { args?: string[]; env?: { name: string; value?: string; valueFrom?: unknown }[]; ports?: { name: string; containerPort: number }[]; volumeMounts?: { name: string; mountPath: string }[] }
type Workload = Manifest & { spec: { template: { spec: { containers: Container[]; volumes?: { name: string; configMap?: { name: string } }[] } } } };

/** `--flag=value` args as commander's camel-cased flags. */
function flags(args: readonly string[]): OperatorFlags {
  return Object.fromEntries(args.filter((a) => a.startsWith('--')).map((a) => {
    const [name, value] = a.slice(2).split('=');
    return [name!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), value ?? true];
  })) as OperatorFlags;
}

/** Literal env values, with fieldRefs filled in as the kubelet would. */
function env(container: Container, fieldRefs: Record<string, string>): NodeJS.ProcessEnv {
  return Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? fieldRefs[e.name] ?? '']));
}

describe('deploy/ configuration', () => {
  const operator = findManifest<Workload>(manifests, 'Deployment', 'hivewall-operator', 'hivewall-system');
  const op = operator.spec.template.spec.containers[0]!;
  const agent = findManifest<Workload>(manifests, 'DaemonSet', 'hivewall-agent', 'hivewall-system');
  const ag = agent.spec.template.spec.containers[0]!;

  it('the operator container\'s args and environment are a valid configuration with the agents\' receiver on', () => {
    expect(op.args?.[0]).toBe('operator');
    const config = operatorConfig(flags(op.args!.slice(1)), { ...env(op, { HIVEWALL_NAMESPACE: 'hivewall-system' }), HOSTNAME: 'hivewall-operator-abc' });
    expect(config).toMatchObject({ namespace: 'hivewall-system', receiverPort: 8443, receiverInsecure: false, identity: 'hivewall-operator-abc', serviceName: 'hivewall-operator', agentServiceAccount: 'hivewall-agent' });
    expect(op.ports).toContainEqual({ name: 'edges', containerPort: config.receiverPort, protocol: 'TCP' });
  });

  it('the Service routes the agents\' URL to the receiver port of the operator pods', () => {
    const service = findManifest<Manifest & { spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] } }>(manifests, 'Service', 'hivewall-operator', 'hivewall-system');
    const labels = (operator.spec.template as unknown as { metadata: { labels: Record<string, string> } }).metadata.labels;
    for (const [k, v] of Object.entries(service.spec.selector)) expect(labels[k], k).toBe(v);
    const config = agentConfig({}, { ...env(ag, { NODE_NAME: 'node-a' }), NODE_NAME: 'node-a' });
    const url = new URL(config.controllerUrl);
    expect(url.protocol).toBe('https:');
    // The name the self-issued certificate carries (<service>.<namespace>.svc).
    expect(url.hostname).toBe(`${RECEIVER_TLS_DEFAULTS.serviceName}.hivewall-system.svc`);
    expect(service.spec.ports).toContainEqual(expect.objectContaining({ port: Number(url.port), targetPort: 'edges' }));
  });

  it('the conntrack agent keeps its state file on an emptyDir (the root filesystem is read-only)', () => {
    expect(ag.args?.[0]).toBe('agent');
    const config = agentConfig(flags(ag.args!.slice(1)) as AgentFlags, { ...env(ag, {}), NODE_NAME: 'node-a' });
    expect(config.source).toBe('conntrack');
    const mount = ag.volumeMounts!.find((m) => config.resumeFile!.startsWith(`${m.mountPath}/`))!;
    const volume = agent.spec.template.spec.volumes!.find((v) => v.name === mount.name) as { emptyDir?: unknown } | undefined;
    expect(volume?.emptyDir).toBeDefined();
  });

  it('the agent trusts the CA the operator publishes, from the mounted ConfigMap', () => {
    const config = agentConfig({}, { ...env(ag, {}), NODE_NAME: 'node-a' });
    const mount = ag.volumeMounts!.find((m) => config.controllerCaFile!.startsWith(`${m.mountPath}/`))!;
    const volume = agent.spec.template.spec.volumes!.find((v) => v.name === mount.name)!;
    expect(volume.configMap?.name).toBe(RECEIVER_TLS_DEFAULTS.caConfigMapName);
    expect(path.basename(config.controllerCaFile!)).toBe('ca.crt');
  });

  it('the agent sends a projected token of the audience the operator checks, bound to its pod (and node)', () => {
    const config = agentConfig({}, { ...env(ag, {}), NODE_NAME: 'node-a' });
    const opConfig = operatorConfig(flags(op.args!.slice(1)), { ...env(op, { HIVEWALL_NAMESPACE: 'hivewall-system' }), HOSTNAME: 'hivewall-operator-abc' });
    const mount = ag.volumeMounts!.find((m) => config.tokenFile.startsWith(`${m.mountPath}/`))!;
    const volume = agent.spec.template.spec.volumes!.find((v) => v.name === mount.name)! as { projected?: { sources: { serviceAccountToken?: { audience?: string; path: string } }[] } };
    const token = volume.projected?.sources.find((s) => s.serviceAccountToken)?.serviceAccountToken;
    expect(token?.audience).toBe(opConfig.receiverAudience);
    expect(opConfig.receiverAudience).toBe('hivewall-receiver');
    expect(path.basename(config.tokenFile)).toBe(token?.path);
  });
});
