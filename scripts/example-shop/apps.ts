/** The workloads of the example cluster: what runs where, with which ports and Services. */
import type { AppDef, ContainerPort, NodeModel } from './model.js';

export const NODES: readonly Pick<NodeModel, 'name' | 'ip' | 'podCidr' | 'prefix' | 'skewNs'>[] = [
  { name: 'node-a', ip: '172.18.0.2', podCidr: '10.244.0.0/24', prefix: '10.244.0.', skewNs: 0 },
  { name: 'node-b', ip: '172.18.0.3', podCidr: '10.244.1.0/24', prefix: '10.244.1.', skewNs: -412_000 },
  { name: 'node-c', ip: '172.18.0.4', podCidr: '10.244.2.0/24', prefix: '10.244.2.', skewNs: 1_137_000 },
];

export const NAMESPACES = ['default', 'kube-node-lease', 'kube-public', 'kube-system', 'logging', 'monitoring', 'payments', 'shop'];

const http: ContainerPort = { name: 'http', containerPort: 8080, protocol: 'TCP' };
const metrics: ContainerPort = { name: 'metrics', containerPort: 9090, protocol: 'TCP' };

function shop(name: string, extra: Record<string, string> = {}): Record<string, string> {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'shop', ...extra };
}

/** A shop Service: ClusterIP, port 80 → 8080. */
function web(name: string): AppDef['service'] {
  return { name, type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] };
}

const IMG = 'ghcr.io/acme-shop';

export const APPS: readonly AppDef[] = [
  {
    name: 'coredns', namespace: 'kube-system', kind: 'Deployment', labels: { 'k8s-app': 'kube-dns' },
    image: 'registry.k8s.io/coredns/coredns:v1.12.1',
    ports: [
      { name: 'dns', containerPort: 53, protocol: 'UDP' },
      { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
    ],
    nodes: ['node-a', 'node-b'], serviceAccount: 'coredns', ageDays: 41,
    service: {
      name: 'kube-dns', type: 'ClusterIP', clusterIP: '10.96.0.10',
      ports: [
        { name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, targetPort: 53, protocol: 'TCP' },
        { name: 'metrics', port: 9153, targetPort: 9153, protocol: 'TCP' },
      ],
    },
  },
  {
    name: 'frontend', namespace: 'shop', kind: 'Deployment', labels: shop('frontend', { 'app.kubernetes.io/component': 'web' }),
    image: `${IMG}/frontend:2.14.3`, ports: [http, metrics], nodes: ['node-a', 'node-b', 'node-c'],
    serviceAccount: 'default', probePort: 'http', ageDays: 3,
    service: {
      name: 'frontend', type: 'LoadBalancer', loadBalancerIP: '192.0.2.10', nodePortHealthCheck: 31876,
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', nodePort: 30080 }],
    },
  },
  {
    name: 'cart', namespace: 'shop', kind: 'Deployment', labels: shop('cart', { tier: 'cart' }),
    image: `${IMG}/cart:1.9.0`, ports: [http, metrics], nodes: ['node-b', 'node-c'],
    serviceAccount: 'default', probePort: 'http', ageDays: 6,
    service: { name: 'cart', type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
  },
  {
    name: 'catalog', namespace: 'shop', kind: 'Deployment', labels: shop('catalog'),
    image: `${IMG}/catalog:3.2.1`, ports: [http, metrics], nodes: ['node-a', 'node-c'],
    serviceAccount: 'default', probePort: 'http', ageDays: 5, service: web('catalog'),
  },
  {
    name: 'checkout', namespace: 'shop', kind: 'Deployment', labels: shop('checkout'),
    image: `${IMG}/checkout:1.4.7`, ports: [http, metrics], nodes: ['node-a', 'node-b'],
    serviceAccount: 'default', probePort: 'http', ageDays: 5, service: web('checkout'),
  },
  {
    name: 'recommendations', namespace: 'shop', kind: 'Deployment', labels: shop('recommendations'),
    image: `${IMG}/recommendations:0.8.2`, ports: [http], nodes: ['node-c'],
    serviceAccount: 'default', probePort: 'http', ageDays: 8, service: web('recommendations'),
  },
  {
    name: 'search', namespace: 'shop', kind: 'Deployment', labels: shop('search'),
    image: `${IMG}/search:1.1.0`, ports: [http], nodes: ['node-a'],
    serviceAccount: 'default', probePort: 'http', ageDays: 2, service: web('search'),
  },
  {
    name: 'currency', namespace: 'shop', kind: 'Deployment', labels: shop('currency'),
    image: `${IMG}/currency:1.0.4`, ports: [http], nodes: ['node-b'],
    serviceAccount: 'default', probePort: 'http', ageDays: 12, service: web('currency'),
  },
  {
    name: 'email', namespace: 'shop', kind: 'Deployment', labels: shop('email'),
    image: `${IMG}/email:0.5.3`, ports: [http], nodes: ['node-c'],
    serviceAccount: 'default', probePort: 'http', ageDays: 12, service: web('email'),
  },
  {
    name: 'shipping', namespace: 'shop', kind: 'Deployment', labels: shop('shipping'),
    image: `${IMG}/shipping:1.3.0`, ports: [http], nodes: ['node-a'],
    serviceAccount: 'default', probePort: 'http', ageDays: 12, service: web('shipping'),
  },
  {
    name: 'cart-redis', namespace: 'shop', kind: 'StatefulSet', labels: shop('cart-redis', { tier: 'cart' }),
    image: 'docker.io/library/redis:7.4.2-alpine', ports: [{ name: 'redis', containerPort: 6379, protocol: 'TCP' }],
    nodes: ['node-b'], serviceAccount: 'default', ageDays: 20,
    service: { name: 'cart-redis', type: 'ClusterIP', headless: true, ports: [{ name: 'redis', port: 6379, targetPort: 6379, protocol: 'TCP' }] },
  },
  {
    name: 'catalog-db', namespace: 'shop', kind: 'StatefulSet', labels: shop('catalog-db', { 'app.kubernetes.io/component': 'database' }),
    image: 'docker.io/library/postgres:17.2', ports: [{ name: 'postgres', containerPort: 5432, protocol: 'TCP' }],
    nodes: ['node-c'], serviceAccount: 'default', ageDays: 20,
    service: { name: 'catalog-db', type: 'ClusterIP', ports: [{ name: 'postgres', port: 5432, targetPort: 5432, protocol: 'TCP' }] },
  },
  {
    name: 'nightly-report', namespace: 'shop', kind: 'CronJob', labels: shop('nightly-report'),
    image: `${IMG}/nightly-report:1.2.0`, ports: [], nodes: ['node-b'], serviceAccount: 'default', ageDays: 30,
  },
  {
    name: 'config-watcher', namespace: 'shop', kind: 'Deployment', labels: shop('config-watcher'),
    image: `${IMG}/config-watcher:0.9.1`, ports: [http], nodes: ['node-b'],
    serviceAccount: 'config-watcher', probePort: 'http', ageDays: 9,
  },
  {
    name: 'payments-api', namespace: 'payments', kind: 'Deployment',
    labels: { 'app.kubernetes.io/name': 'payments-api', 'app.kubernetes.io/part-of': 'payments' },
    image: 'ghcr.io/acme-payments/payments-api:4.1.0',
    ports: [{ name: 'https', containerPort: 8443, protocol: 'TCP' }, metrics], nodes: ['node-a', 'node-c'],
    serviceAccount: 'payments-api', probePort: 'https', ageDays: 4,
    service: { name: 'payments-api', type: 'ClusterIP', ports: [{ name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' }] },
  },
  {
    name: 'prometheus', namespace: 'monitoring', kind: 'StatefulSet',
    labels: { 'app.kubernetes.io/name': 'prometheus', 'app.kubernetes.io/part-of': 'monitoring' },
    image: 'quay.io/prometheus/prometheus:v3.5.0', ports: [{ name: 'web', containerPort: 9090, protocol: 'TCP' }],
    nodes: ['node-c'], serviceAccount: 'prometheus', ageDays: 27,
    service: { name: 'prometheus', type: 'ClusterIP', ports: [{ name: 'web', port: 9090, targetPort: 9090, protocol: 'TCP' }] },
  },
  {
    name: 'fluent-bit', namespace: 'logging', kind: 'DaemonSet',
    labels: { 'app.kubernetes.io/name': 'fluent-bit', 'app.kubernetes.io/part-of': 'logging' },
    image: 'cr.fluentbit.io/fluent/fluent-bit:4.0.3', ports: [{ name: 'http', containerPort: 2020, protocol: 'TCP' }],
    nodes: ['node-a', 'node-b', 'node-c'], serviceAccount: 'fluent-bit', ageDays: 33,
  },
];

/** The selector key of an app's controller and Service. */
export function selectorOf(app: AppDef): Record<string, string> {
  const key = app.labels['k8s-app'] !== undefined ? 'k8s-app' : 'app.kubernetes.io/name';
  return { [key]: app.labels[key] as string };
}

export function appByName(name: string): AppDef {
  const app = APPS.find((a) => a.name === name);
  if (!app) throw new Error(`unknown app ${name}`);
  return app;
}
