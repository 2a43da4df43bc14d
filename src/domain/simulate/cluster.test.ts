import { describe, expect, it } from 'vitest';
import { buildClusterModel } from './cluster.js';
import { createEvaluator } from './evaluate.js';
import type { Policy } from './model.js';
import { connection, ipPeer } from './testkit.js';

/** Objects shaped as the API server returns them (typed lists carry no per-item kind). */
const namespaceList = {
  apiVersion: 'v1',
  kind: 'NamespaceList',
  items: [
    { metadata: { name: 'shop', labels: { team: 'web', 'kubernetes.io/metadata.name': 'shop' } } },
    { metadata: { name: 'kube-system', labels: { 'kubernetes.io/metadata.name': 'kube-system' } } },
    { metadata: { name: 'legacy' } },
  ],
};

const podList = {
  apiVersion: 'v1',
  kind: 'PodList',
  items: [
    {
      metadata: { name: 'cart-5f6b-xyz12', namespace: 'shop', labels: { app: 'cart', 'pod-template-hash': '5f6b' } },
      spec: {
        nodeName: 'worker-1',
        serviceAccountName: 'cart',
        initContainers: [
          { name: 'migrate', ports: [{ name: 'ignored', containerPort: 9999 }] },
          { name: 'proxy', restartPolicy: 'Always', ports: [{ name: 'proxy', containerPort: 15001 }] },
        ],
        containers: [
          { name: 'app', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { containerPort: 9090 }] },
          { name: 'dns', ports: [{ name: 'dns', containerPort: 5353, protocol: 'UDP' }] },
        ],
      },
      status: { phase: 'Running', podIP: '10.244.1.7', podIPs: [{ ip: '10.244.1.7' }, { ip: 'fd00:10:244:1::7' }] },
    },
    {
      metadata: { name: 'legacy-ip', namespace: 'legacy' },
      spec: { containers: [{ name: 'c' }] },
      status: { phase: 'Running', podIP: '10.244.2.9' },
    },
    {
      metadata: { name: 'done', namespace: 'shop' },
      spec: { containers: [] },
      status: { phase: 'Succeeded', podIP: '10.244.1.99' },
    },
    {
      metadata: { name: 'kube-proxy-abcde', namespace: 'kube-system', labels: { 'k8s-app': 'kube-proxy' } },
      spec: { hostNetwork: true, nodeName: 'worker-1', containers: [{ name: 'kube-proxy' }] },
      status: { phase: 'Running', podIP: '192.168.10.11', podIPs: [{ ip: '192.168.10.11' }] },
    },
    { metadata: { name: 'pending' }, spec: {}, status: { phase: 'Pending' } },
  ],
};

const nodeList = {
  apiVersion: 'v1',
  kind: 'NodeList',
  items: [
    {
      metadata: { name: 'worker-1' },
      status: {
        addresses: [
          { type: 'InternalIP', address: '192.168.10.11' },
          { type: 'ExternalIP', address: '198.51.100.11' },
          { type: 'Hostname', address: 'worker-1' },
        ],
      },
    },
    { metadata: { name: 'worker-2' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.10.12' }] } },
  ],
};

const kubernetesSlice = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
  addressType: 'IPv4',
  endpoints: [
    { addresses: ['172.20.0.10'], conditions: { ready: true } },
    { addresses: ['172.20.0.11'] },
    { addresses: ['172.20.0.12'], conditions: { ready: false } },
  ],
  ports: [{ name: 'https', port: 6443, protocol: 'TCP' }],
};

const otherSlice = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'cart-abc', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'cart' } },
  endpoints: [{ addresses: ['10.244.1.7'] }],
};

const kubernetesEndpoints = {
  apiVersion: 'v1',
  kind: 'Endpoints',
  metadata: { name: 'kubernetes', namespace: 'default' },
  subsets: [{ addresses: [{ ip: '172.20.0.10' }, { ip: '172.20.0.13' }], ports: [{ port: 6443 }] }],
};

const genericList = {
  apiVersion: 'v1',
  kind: 'List',
  items: [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'cart', namespace: 'shop' }, spec: { clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], selector: { app: 'cart' } } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'headless', namespace: 'shop' }, spec: { clusterIP: 'None' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ignored', namespace: 'shop' } },
  ],
};

describe('buildClusterModel', () => {
  const model = buildClusterModel([namespaceList, podList, nodeList, kubernetesSlice, otherSlice, kubernetesEndpoints, genericList, null, 'junk', { kind: 'Pod' }]);

  it('namespaces carry their labels and the automatic kubernetes.io/metadata.name', () => {
    expect(model.namespaces).toEqual([
      { name: 'shop', labels: { team: 'web', 'kubernetes.io/metadata.name': 'shop' } },
      { name: 'kube-system', labels: { 'kubernetes.io/metadata.name': 'kube-system' } },
      { name: 'legacy', labels: { 'kubernetes.io/metadata.name': 'legacy' } },
    ]);
  });

  it('pods: IPs from status.podIPs, else status.podIP; ports of containers and sidecars; terminal pods dropped', () => {
    expect(model.pods.map((p) => `${p.namespace}/${p.name}`)).toEqual(['shop/cart-5f6b-xyz12', 'legacy/legacy-ip', 'kube-system/kube-proxy-abcde', 'default/pending']);
    expect(model.pods[0]).toEqual({
      namespace: 'shop',
      name: 'cart-5f6b-xyz12',
      labels: { app: 'cart', 'pod-template-hash': '5f6b' },
      ips: ['10.244.1.7', 'fd00:10:244:1::7'],
      ports: [
        { name: 'http', containerPort: 8080, protocol: 'TCP' },
        { containerPort: 9090, protocol: 'TCP' },
        { name: 'dns', containerPort: 5353, protocol: 'UDP' },
        { name: 'proxy', containerPort: 15001, protocol: 'TCP' },
      ],
      hostNetwork: false,
      nodeName: 'worker-1',
      serviceAccount: 'cart',
    });
    expect(model.pods[1]).toMatchObject({ ips: ['10.244.2.9'], serviceAccount: 'default' });
    expect(model.pods[2]).toMatchObject({ hostNetwork: true, nodeName: 'worker-1', ips: ['192.168.10.11'] });
    expect(model.pods[3]).toMatchObject({ ips: [], ports: [] });
  });

  it('nodes: InternalIP and ExternalIP addresses', () => {
    expect(model.nodes).toEqual([
      { name: 'worker-1', internalIPs: ['192.168.10.11'], externalIPs: ['198.51.100.11'] },
      { name: 'worker-2', internalIPs: ['192.168.10.12'], externalIPs: [] },
    ]);
  });

  it('kube-apiserver: ready addresses of the default/kubernetes EndpointSlice and Endpoints', () => {
    expect(model.kubeApiserverIPs).toEqual(['172.20.0.10', '172.20.0.11', '172.20.0.13']);
  });

  it('services are recorded for reference', () => {
    expect(model.services).toEqual([
      { namespace: 'shop', name: 'cart', clusterIPs: ['10.96.0.20'], selector: { app: 'cart' } },
      { namespace: 'shop', name: 'headless', clusterIPs: [] },
    ]);
  });

  it('feeds the evaluator: addresses resolve to pods, nodes and the kube-apiserver', () => {
    const policies = [
      {
        apiVersion: 'cilium.io/v2',
        kind: 'CiliumNetworkPolicy',
        metadata: { name: 'cart', namespace: 'shop' },
        spec: {
          endpointSelector: { matchLabels: { app: 'cart' } },
          egress: [{ toEntities: ['kube-apiserver'] }, { toEntities: ['host'], toPorts: [{ ports: [{ port: '10250', protocol: 'TCP' }] }] }],
        },
      },
    ] as Policy[];
    const evaluator = createEvaluator(model, policies);
    const from = 'shop/cart-5f6b-xyz12';
    expect(evaluator.evaluate(connection(from, '172.20.0.11', 6443)).allowed).toBe(true);
    expect(evaluator.evaluate(connection(from, '172.20.0.99', 6443)).allowed).toBe(false);
    expect(evaluator.evaluate(connection(from, '192.168.10.11', 10250)).allowed).toBe(true);
    expect(evaluator.evaluate(connection(from, '198.51.100.11', 10250)).allowed).toBe(true);
    expect(evaluator.evaluate(connection(from, '192.168.10.12', 10250)).allowed).toBe(false);
    expect(evaluator.evaluate(connection(from, 'kube-system/kube-proxy-abcde', 10250)).allowed).toBe(true);
    expect(evaluator.evaluate(connection(from, ipPeer('10.244.2.9'), 80)).egress.allowed).toBe(false);
    expect(evaluator.evaluate(connection('10.244.1.7', 'legacy/legacy-ip', 80)).egress).toMatchObject({ subject: from, allowed: false });
  });
});
