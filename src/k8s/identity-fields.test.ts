import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { buildClusterModel } from '../domain/simulate/index.js';
import { InventoryBuilder } from '../ingest/cluster-snapshot.js';
import { identityFields, metadataFields } from './identity-fields.js';

const meta = (name: string, namespace?: string, extra: Record<string, unknown> = {}) => ({
  name, ...(namespace ? { namespace } : {}), uid: `uid-${name}`, resourceVersion: '42', generation: 3,
  creationTimestamp: '2026-11-01T10:00:00Z', labels: { app: name, tier: 'web' },
  annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(2_000) },
  managedFields: [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': {} } }],
  ...extra,
});
const owner = (kind: string, name: string) => [{ apiVersion: 'apps/v1', kind, name, uid: `uid-${name}`, controller: true }];
const container = (name: string, ports: unknown[]) => ({
  name, image: 'registry.example/app:1', env: [{ name: 'SECRET', value: 'y'.repeat(500) }], resources: { limits: { cpu: '1' } },
  volumeMounts: [{ name: 'data', mountPath: '/data' }], ports, livenessProbe: { httpGet: { path: '/healthz', port: 8080 } },
});
const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [container('c', [])] } };

/** Realistic objects of every kind the inventory informers watch, with the fields nothing reads. */
const objects = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: meta('shop'), spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } },
  { apiVersion: 'v1', kind: 'Node', metadata: meta('node-a'), spec: { podCIDR: '10.0.1.0/24', podCIDRs: ['10.0.1.0/24', 'fd00::/64'], taints: [] },
    status: { addresses: [{ type: 'InternalIP', address: '192.168.0.5' }, { type: 'Hostname', address: 'node-a' }], images: [{ names: ['a'], sizeBytes: 1 }], conditions: [{ type: 'Ready', status: 'True' }] } },
  { apiVersion: 'v1', kind: 'Pod', metadata: meta('web-abc-1', 'shop', { ownerReferences: owner('ReplicaSet', 'web-abc') }),
    spec: { nodeName: 'node-a', serviceAccountName: 'web', containers: [container('c', [{ name: 'http', containerPort: 8080, protocol: 'TCP' }])],
      initContainers: [{ ...container('sidecar', [{ name: 'metrics', containerPort: 9090 }]), restartPolicy: 'Always' }, container('init', [{ containerPort: 7000 }])],
      volumes: [{ name: 'data', emptyDir: {} }], tolerations: [{ key: 'k', operator: 'Exists' }] },
    status: { phase: 'Running', podIP: '10.0.1.7', podIPs: [{ ip: '10.0.1.7' }, { ip: 'fd00::7' }], conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'c', ready: true, image: 'x' }] } },
  { apiVersion: 'v1', kind: 'Pod', metadata: meta('host-agent', 'kube-system', { deletionTimestamp: '2026-11-02T10:00:00Z' }),
    spec: { hostNetwork: true, serviceAccount: 'agent', nodeName: 'node-a', containers: [container('a', [{ containerPort: 4240, protocol: 'UDP' }])] },
    status: { phase: 'Running', podIP: '192.168.0.5' } },
  { apiVersion: 'v1', kind: 'Pod', metadata: meta('done', 'shop'), spec: { containers: [container('c', [])] }, status: { phase: 'Succeeded', podIP: '10.0.1.9' } },
  { apiVersion: 'v1', kind: 'Service', metadata: meta('web', 'shop'), spec: { type: 'LoadBalancer', clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], externalIPs: ['203.0.113.5'], selector: { app: 'web' },
    ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', nodePort: 30080 }], sessionAffinity: 'None' },
    status: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] }, conditions: [] } },
  { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: meta('kubernetes', 'default', { labels: { 'kubernetes.io/service-name': 'kubernetes' } }), addressType: 'IPv4',
    endpoints: [{ addresses: ['192.168.0.2'], conditions: { ready: true }, nodeName: 'cp' }, { addresses: ['192.168.0.3'], conditions: { ready: false } }],
    ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] },
  { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: meta('web-x1', 'shop', { labels: { 'kubernetes.io/service-name': 'web' } }), addressType: 'IPv4',
    endpoints: [{ addresses: ['10.0.1.7'], conditions: { ready: true, serving: true }, targetRef: { kind: 'Pod', name: 'web-abc-1', namespace: 'shop', uid: 'uid-web-abc-1' }, zone: 'a' }],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
  { apiVersion: 'v1', kind: 'Endpoints', metadata: meta('legacy', 'shop'),
    subsets: [{ addresses: [{ ip: '10.0.1.8', targetRef: { kind: 'Pod', name: 'legacy-0' } }], ports: [{ name: 'tcp', port: 5432, protocol: 'TCP' }] }] },
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta('web', 'shop'), spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template, strategy: { type: 'RollingUpdate' } }, status: { replicas: 3, conditions: [] } },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: meta('web-abc', 'shop', { ownerReferences: owner('Deployment', 'web') }), spec: { replicas: 3, selector: { matchLabels: { app: 'web', 'pod-template-hash': 'abc' } }, template } },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: meta('db', 'shop'), spec: { replicas: 1, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template, volumeClaimTemplates: [] } },
  { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: meta('agent', 'kube-system'), spec: { selector: { matchLabels: { app: 'agent' } }, template } },
  { apiVersion: 'batch/v1', kind: 'Job', metadata: meta('report-1', 'shop', { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', uid: 'uid-report', controller: true }] }), spec: { selector: { matchLabels: { 'job-name': 'report-1' } }, template } },
  { apiVersion: 'batch/v1', kind: 'CronJob', metadata: meta('report', 'shop'), spec: { schedule: '0 3 * * 0', timeZone: 'Europe/Berlin', suspend: true, jobTemplate: { spec: { selector: { matchLabels: { app: 'report' } }, template } } } },
] as unknown as KubernetesObject[]; // the API server's JSON: timestamps are strings

const slim = (list: readonly KubernetesObject[]) => list.map((o) => identityFields(o.kind!, structuredClone(o)));

function inventoryOf(list: readonly KubernetesObject[]) {
  const builder = new InventoryBuilder();
  for (const object of list) builder.addDocument(object, 'api');
  return builder.build();
}

describe('identityFields', () => {
  it('identity and the policy simulator read the same from the slim objects as from the full ones', () => {
    const full = structuredClone(objects);
    expect(inventoryOf(slim(objects))).toEqual(inventoryOf(full));
    expect(buildClusterModel(slim(objects))).toEqual(buildClusterModel(full));
    // The fixture exercises what is kept: sidecar ports, the API server's ready address, a Service's cluster address.
    const model = buildClusterModel(full);
    expect(model.pods.find((p) => p.name === 'web-abc-1')?.ports.map((p) => p.containerPort)).toEqual([8080, 9090]);
    expect(model.kubeApiserverIPs).toEqual(['192.168.0.2']);
    expect(inventoryOf(full).services[0]?.clusterIPs).toEqual(['10.96.0.10']);
    const controllers = new Map(inventoryOf(full).controllers.map((c) => [c.kind, c]));
    expect(controllers.get('Deployment')?.templateLabels).toEqual({ app: 'web' });
    expect(controllers.get('CronJob')?.templateLabels).toEqual({ app: 'web' });
  });

  it('drops what nothing reads: images, environment, volumes, templates (all but their labels), annotations, status conditions', () => {
    for (const object of slim(objects)) {
      const text = JSON.stringify(object);
      for (const dropped of ['registry.example', 'SECRET', 'last-applied', 'managedFields', 'volumeMounts', '"containers":[{"name":"c","image"', 'livenessProbe', 'containerStatuses', '"images"', 'strategy', '"loadBalancer"']) {
        expect(text, `${object.kind} keeps ${dropped}`).not.toContain(dropped);
      }
    }
    const pod = objects.find((o) => o.kind === 'Pod')!;
    expect(JSON.stringify(identityFields('Pod', pod)).length).toBeLessThan(JSON.stringify(pod).length / 4);
  });

  it('leaves its input as it was', () => {
    const before = structuredClone(objects);
    slim(objects);
    for (const object of objects) identityFields(object.kind!, object);
    expect(objects).toEqual(before);
  });

  it('metadataFields keeps kind, name, namespace and ownership only', () => {
    const profile = { apiVersion: 'hivewall.dev/v1alpha1', kind: 'TrafficProfile', metadata: meta('seg', 'shop', { ownerReferences: owner('Segmentation', 'seg') }), spec: { edges: [[0, 1, 80]] } } as unknown as KubernetesObject;
    expect(metadataFields(profile)).toEqual({
      apiVersion: 'hivewall.dev/v1alpha1', kind: 'TrafficProfile',
      metadata: { name: 'seg', namespace: 'shop', uid: 'uid-seg', resourceVersion: '42', generation: 3, creationTimestamp: '2026-11-01T10:00:00Z', labels: { app: 'seg', tier: 'web' }, ownerReferences: owner('Segmentation', 'seg') },
    });
  });
});
