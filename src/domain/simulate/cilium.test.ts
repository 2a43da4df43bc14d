/**
 * CiliumNetworkPolicy truth tables built from docs.cilium.io ("Layer 3 Policies", "Layer 4
 * Policies", "Deny Policies", "Using Kubernetes Constructs in Policy", "Policy Enforcement Modes") and
 * the CRD field descriptions. Example policies are the documented YAML (examples/policies/…).
 */
import { loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { fqdnSelectorMatches } from './cilium.js';
import { createEvaluator, evaluateConnection } from './evaluate.js';
import type { CiliumNetworkPolicy, ClusterModel, Connection, EvaluateOptions, L4Protocol, Peer, Policy, VerdictBasis } from './model.js';
import { connection, ipPeer, namespace, networkPolicy, node, pod } from './testkit.js';

function policies(yaml: string): Policy[] {
  return loadAll(yaml) as Policy[];
}

const WORLD = '203.0.113.7';
const APISERVER = '172.20.0.1';
const NODE_1 = '192.168.0.1';
const NODE_2 = '192.168.0.2';

const dnsPorts = [
  { name: 'dns', containerPort: 53, protocol: 'UDP' as const },
  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' as const },
];

const cluster: ClusterModel = {
  namespaces: ['default', 'other', 'kube-system', 'ns1', 'ns2', 'ns3'].map((name) => namespace(name)),
  pods: [
    pod('default/frontend', { labels: { role: 'frontend' }, ips: ['10.244.0.2'], node: 'node-1' }),
    pod('default/backend', { labels: { role: 'backend' }, ips: ['10.244.0.3'], node: 'node-2', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }),
    pod('default/victim', { labels: { role: 'victim' }, ips: ['10.244.0.4'], node: 'node-1' }),
    pod('default/restricted', { labels: { role: 'restricted' }, ips: ['10.244.0.5'], node: 'node-1' }),
    pod('default/dev', { labels: { env: 'dev' }, ips: ['10.244.0.6'], node: 'node-1' }),
    pod('default/public', { labels: { role: 'public' }, ips: ['10.244.0.7'], node: 'node-2' }),
    pod('default/myservice', { labels: { app: 'myService' }, ips: ['10.244.0.8'], node: 'node-1' }),
    pod('default/crawler', { labels: { role: 'crawler' }, ips: ['10.244.0.9'], node: 'node-1' }),
    pod('default/test-app', { labels: { app: 'test-app' }, ips: ['10.244.0.10'], node: 'node-1' }),
    pod('default/other', { labels: { app: 'other' }, ips: ['10.244.0.11'], node: 'node-2', serviceAccount: 'robot' }),
    pod('other/frontend', { labels: { role: 'frontend' }, ips: ['10.244.1.2'], node: 'node-2' }),
    pod('kube-system/coredns', { labels: { 'k8s-app': 'kube-dns' }, ips: ['10.244.2.2'], node: 'node-2', ports: dnsPorts }),
    pod('kube-system/node-agent', { labels: { app: 'node-agent' }, ips: [NODE_1], node: 'node-1', hostNetwork: true }),
    pod('ns1/leia', { labels: { name: 'leia' }, ips: ['10.244.3.2'], node: 'node-1' }),
    pod('ns1/other', { labels: { name: 'other' }, ips: ['10.244.3.3'], node: 'node-1' }),
    pod('ns2/luke', { labels: { name: 'luke' }, ips: ['10.244.4.2'], node: 'node-2' }),
    pod('ns2/other', { labels: { name: 'other' }, ips: ['10.244.4.3'], node: 'node-2' }),
    pod('ns3/luke', { labels: { name: 'luke' }, ips: ['10.244.5.2'], node: 'node-2' }),
  ],
  nodes: [node('node-1', NODE_1), node('node-2', NODE_2)],
  kubeApiserverIPs: [APISERVER],
};

interface Row {
  readonly from: string | Peer;
  readonly to: string | Peer;
  readonly port: number;
  readonly protocol?: L4Protocol;
  readonly allowed: boolean;
  readonly basis?: { readonly egress?: VerdictBasis; readonly ingress?: VerdictBasis };
}

function label(peer: string | Peer): string {
  return typeof peer === 'string' ? peer : peer.kind === 'pod' ? `${peer.namespace}/${peer.name}` : peer.ip;
}

function check(policySet: readonly Policy[], rows: readonly Row[], options: EvaluateOptions = {}, model: ClusterModel = cluster): void {
  const evaluator = createEvaluator(model, policySet, options);
  for (const row of rows) {
    const result = evaluator.evaluate(connection(row.from, row.to, row.port, row.protocol ?? 'TCP'));
    const name = `${label(row.from)} → ${label(row.to)} ${row.protocol ?? 'TCP'}/${row.port}`;
    expect.soft(result.allowed, `${name}: ${result.reason}`).toBe(row.allowed);
    if (row.basis?.egress !== undefined) expect.soft(result.egress.basis, `${name} egress basis`).toBe(row.basis.egress);
    if (row.basis?.ingress !== undefined) expect.soft(result.ingress.basis, `${name} ingress basis`).toBe(row.basis.ingress);
  }
}

type Table = readonly (readonly [name: string, yaml: string, rows: readonly Row[], options?: EvaluateOptions])[];

function runTable(table: Table): void {
  for (const [name, yaml, rows, options] of table) it(name, () => check(policies(yaml), rows, options));
}

describe('Layer 3: endpoints based', () => {
  runTable([
    [
      'Simple Ingress Allow: "allow communication from endpoints with the label role=frontend to endpoints with the label role=backend"',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "l3-rule"
spec:
  endpointSelector:
    matchLabels:
      role: backend
  ingress:
  - fromEndpoints:
    - matchLabels:
        role: frontend
`,
      [
        { from: 'default/frontend', to: 'default/backend', port: 8080, allowed: true, basis: { ingress: 'rule' } },
        { from: 'default/other', to: 'default/backend', port: 8080, allowed: false, basis: { ingress: 'no-matching-rule' } },
        { from: 'other/frontend', to: 'default/backend', port: 8080, allowed: false },
        { from: WORLD, to: 'default/backend', port: 8080, allowed: false },
        { from: NODE_2, to: 'default/backend', port: 8080, allowed: true, basis: { ingress: 'node-traffic' } },
        { from: NODE_1, to: 'default/backend', port: 8080, allowed: false },
        { from: 'default/backend', to: WORLD, port: 443, allowed: true, basis: { egress: 'not-isolated' } },
      ],
    ],
    [
      'Ingress Allow All Endpoints: fromEndpoints [{}] is limited to the policy namespace',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "allow-all-to-victim"
spec:
  endpointSelector:
    matchLabels:
      role: victim
  ingress:
  - fromEndpoints:
    - {}
`,
      [
        { from: 'default/other', to: 'default/victim', port: 1, allowed: true },
        { from: 'other/frontend', to: 'default/victim', port: 1, allowed: false },
        { from: WORLD, to: 'default/victim', port: 1, allowed: false },
        { from: APISERVER, to: 'default/victim', port: 1, allowed: false },
      ],
    ],
    [
      'Simple Egress Allow: role=frontend may reach role=backend only',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "l3-egress-rule"
spec:
  endpointSelector:
    matchLabels:
      role: frontend
  egress:
  - toEndpoints:
    - matchLabels:
        role: backend
`,
      [
        { from: 'default/frontend', to: 'default/backend', port: 8080, allowed: true, basis: { egress: 'rule' } },
        { from: 'default/frontend', to: 'default/other', port: 8080, allowed: false },
        { from: 'default/frontend', to: WORLD, port: 443, allowed: false },
        { from: 'other/frontend', to: WORLD, port: 443, allowed: true },
      ],
    ],
    [
      'Egress Allow All Endpoints: "all egress traffic from endpoints with the label role=frontend to all other endpoints in the same namespace"',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "allow-all-from-frontend"
spec:
  endpointSelector:
    matchLabels:
      role: frontend
  egress:
  - toEndpoints:
    - {}
`,
      [
        { from: 'default/frontend', to: 'default/other', port: 1, allowed: true },
        { from: 'default/frontend', to: 'other/frontend', port: 1, allowed: false },
        { from: 'default/frontend', to: WORLD, port: 1, allowed: false },
        { from: 'default/frontend', to: NODE_1, port: 1, allowed: false },
      ],
    ],
    [
      'Ingress/Egress Default Deny: egress [{}] isolates and allows nothing',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "deny-all-egress"
spec:
  endpointSelector:
    matchLabels:
      role: restricted
  egress:
  - {}
`,
      [
        { from: 'default/restricted', to: 'default/other', port: 1, allowed: false, basis: { egress: 'no-matching-rule' } },
        { from: 'default/restricted', to: WORLD, port: 443, allowed: false },
        { from: 'default/restricted', to: NODE_1, port: 10250, allowed: false },
        { from: 'default/other', to: 'default/restricted', port: 1, allowed: true },
      ],
    ],
    [
      '"If omitted or empty, this rule does not apply at egress": egress: [] isolates nothing',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "no-op"
spec:
  endpointSelector:
    matchLabels:
      role: restricted
  egress: []
  ingress:
`,
      [
        { from: 'default/restricted', to: WORLD, port: 443, allowed: true, basis: { egress: 'not-isolated' } },
        { from: WORLD, to: 'default/restricted', port: 443, allowed: true, basis: { ingress: 'not-isolated' } },
      ],
    ],
    [
      'Simple Egress Deny: "If an egressDeny rule matches, egress traffic is denied even if the policy contains egress rules that would otherwise allow it"',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "deny-egress-example"
spec:
  endpointSelector:
    matchLabels:
      role: frontend
  egress:
  - toEntities:
    - all
  egressDeny:
  - toEndpoints:
    - matchLabels:
        role: backend
`,
      [
        { from: 'default/frontend', to: 'default/backend', port: 8080, allowed: false, basis: { egress: 'deny-rule' } },
        { from: 'default/frontend', to: 'default/other', port: 8080, allowed: true },
        { from: 'default/frontend', to: 'other/frontend', port: 8080, allowed: true },
        { from: 'default/frontend', to: WORLD, port: 443, allowed: true },
      ],
    ],
  ]);

  it('matchExpressions and key prefixes: k8s:, any: and the service account label', () =>
    check(
      policies(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: exprs, namespace: default}
spec:
  endpointSelector:
    matchExpressions:
    - {key: "k8s:role", operator: In, values: [backend, victim]}
  ingress:
  - fromEndpoints:
    - matchLabels: {"any:app": other, "k8s:io.cilium.k8s.policy.serviceaccount": robot}
    - matchExpressions:
      - {key: role, operator: Exists}
      - {key: "k8s:role", operator: NotIn, values: [crawler]}
`),
      [
        { from: 'default/other', to: 'default/backend', port: 1, allowed: true },
        { from: 'default/frontend', to: 'default/victim', port: 1, allowed: true },
        { from: 'default/crawler', to: 'default/victim', port: 1, allowed: false },
        { from: 'default/dev', to: 'default/victim', port: 1, allowed: false },
        { from: 'default/crawler', to: 'default/dev', port: 1, allowed: true, basis: { ingress: 'not-isolated' } },
      ],
    ));

  it('a reserved: label key never matches a pod', () =>
    check(
      policies(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: reserved, namespace: default}
spec:
  endpointSelector: {matchLabels: {role: backend}}
  ingress:
  - fromEndpoints: [{matchLabels: {"reserved:host": ""}}]
`),
      [{ from: 'default/frontend', to: 'default/backend', port: 1, allowed: false }],
    ));

  it('spec and specs[] rules are all applied', () =>
    check(
      policies(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: multi, namespace: default}
spec:
  endpointSelector: {matchLabels: {role: backend}}
  ingress: [{fromEndpoints: [{matchLabels: {role: frontend}}]}]
specs:
- endpointSelector: {matchLabels: {role: backend}}
  ingress: [{fromEndpoints: [{matchLabels: {app: other}}]}]
- endpointSelector: {matchLabels: {role: victim}}
  ingress: [{fromEntities: [world]}]
`),
      [
        { from: 'default/frontend', to: 'default/backend', port: 1, allowed: true },
        { from: 'default/other', to: 'default/backend', port: 1, allowed: true },
        { from: 'default/dev', to: 'default/backend', port: 1, allowed: false },
        { from: WORLD, to: 'default/victim', port: 1, allowed: true },
        { from: 'default/dev', to: 'default/victim', port: 1, allowed: false },
      ],
    ));
});

describe('Layer 3: entities based', () => {
  runTable([
    [
      'Access to/from kube-apiserver',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "allow-to-apiserver"
spec:
  endpointSelector:
    matchLabels:
      env: dev
  egress:
    - toEntities:
      - kube-apiserver
`,
      [
        { from: 'default/dev', to: APISERVER, port: 443, allowed: true },
        { from: 'default/dev', to: ipPeer('10.0.0.1', { entity: 'kube-apiserver' }), port: 6443, allowed: true },
        { from: 'default/dev', to: WORLD, port: 443, allowed: false },
        { from: 'default/dev', to: NODE_2, port: 443, allowed: false },
        { from: 'default/dev', to: 'default/other', port: 443, allowed: false },
      ],
    ],
    [
      'Access to/from local host: "access the host that is serving the particular endpoint"',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "dev-to-host"
spec:
  endpointSelector:
    matchLabels:
      env: dev
  egress:
    - toEntities:
      - host
`,
      [
        { from: 'default/dev', to: NODE_1, port: 10250, allowed: true },
        { from: 'default/dev', to: 'kube-system/node-agent', port: 9100, allowed: true },
        { from: 'default/dev', to: NODE_2, port: 10250, allowed: false },
        { from: 'default/dev', to: ipPeer('10.99.0.1', { entity: 'host' }), port: 53, allowed: true },
      ],
    ],
    [
      'Access to/from all nodes in the cluster',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "to-dev-from-nodes-in-cluster"
spec:
  endpointSelector:
    matchLabels:
      env: dev
  ingress:
    - fromEntities:
      - host
      - remote-node
`,
      [
        { from: NODE_1, to: 'default/dev', port: 8080, allowed: true, basis: { ingress: 'rule' } },
        { from: NODE_2, to: 'default/dev', port: 8080, allowed: true },
        { from: ipPeer('10.1.2.3', { entity: 'remote-node' }), to: 'default/dev', port: 8080, allowed: true },
        { from: WORLD, to: 'default/dev', port: 8080, allowed: false },
        { from: 'default/other', to: 'default/dev', port: 8080, allowed: false },
      ],
    ],
    [
      'Access to/from outside cluster: world',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "from-world-to-role-public"
spec:
  endpointSelector:
    matchLabels:
      role: public
  ingress:
    - fromEntities:
      - world
`,
      [
        { from: WORLD, to: 'default/public', port: 443, allowed: true },
        { from: '2001:db8::1', to: 'default/public', port: 443, allowed: true },
        { from: NODE_1, to: 'default/public', port: 443, allowed: false },
        // Regression (differential test against Cilium's engine, test/oracle): a kube-apiserver
        // outside the cluster also carries reserved:world (pkg/ipcache/metadata.go resolveLabels).
        { from: APISERVER, to: 'default/public', port: 443, allowed: true },
        { from: 'default/frontend', to: 'default/public', port: 443, allowed: false },
      ],
    ],
    [
      'cluster: "all network endpoints inside of the local cluster" including host and remote-node, not world',
      `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: from-cluster}
spec:
  endpointSelector: {matchLabels: {env: dev}}
  ingress: [{fromEntities: [cluster]}]
`,
      [
        { from: 'other/frontend', to: 'default/dev', port: 1, allowed: true },
        { from: NODE_2, to: 'default/dev', port: 1, allowed: true },
        { from: APISERVER, to: 'default/dev', port: 1, allowed: true },
        { from: WORLD, to: 'default/dev', port: 1, allowed: false },
      ],
    ],
    [
      'all: "whitelists all communication"; none and health select nothing here',
      `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: to-all}
spec:
  endpointSelector: {matchLabels: {env: dev}}
  egress:
  - toEntities: [all]
    toPorts: [{ports: [{port: "443"}]}]
  - toEntities: [none, health, init]
`,
      [
        { from: 'default/dev', to: WORLD, port: 443, allowed: true },
        { from: 'default/dev', to: 'other/frontend', port: 443, allowed: true },
        { from: 'default/dev', to: NODE_2, port: 443, allowed: true },
        { from: 'default/dev', to: WORLD, port: 80, allowed: false },
      ],
    ],
  ]);

  it('hostTrafficAlwaysAllowed: false makes traffic from the local host need a rule', () =>
    check(
      policies(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: from-remote-nodes}
spec:
  endpointSelector: {matchLabels: {env: dev}}
  ingress: [{fromEntities: [remote-node]}]
`),
      [
        { from: NODE_1, to: 'default/dev', port: 1, allowed: false },
        { from: NODE_2, to: 'default/dev', port: 1, allowed: true },
      ],
      { hostTrafficAlwaysAllowed: false },
    ));

  it('a kube-apiserver on a node is kube-apiserver and that node entity, never CIDR-selectable by default', () => {
    const selfHosted: ClusterModel = { ...cluster, kubeApiserverIPs: [NODE_2] };
    const yaml = (peer: string): Policy[] =>
      policies(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api}
spec:
  endpointSelector: {matchLabels: {env: dev}}
  egress: [{${peer}}]
`);
    const rows = (allowed: boolean): Row[] => [{ from: 'default/dev', to: NODE_2, port: 6443, allowed }];
    check(yaml('toEntities: [kube-apiserver]'), rows(true), {}, selfHosted);
    check(yaml('toEntities: [remote-node]'), rows(true), {}, selfHosted);
    check(yaml('toEntities: [host]'), rows(false), {}, selfHosted);
    check(yaml('toEntities: [world]'), rows(false), {}, selfHosted);
    check(yaml('toCIDR: [192.168.0.2/32]'), rows(false), {}, selfHosted);
    check(yaml('toCIDR: [192.168.0.2/32]'), rows(true), { cidrMatchesNodes: true }, selfHosted);
  });
});

describe('Layer 3: CIDR based', () => {
  runTable([
    [
      'Allow to external CIDR block: "talk to the external IP 20.1.1.1, as well as the CIDR prefix 10.0.0.0/8, but not CIDR prefix 10.96.0.0/12"',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "cidr-rule"
spec:
  endpointSelector:
    matchLabels:
      app: myService
  egress:
  - toCIDR:
    - 20.1.1.1/32
  - toCIDRSet:
    - cidr: 10.0.0.0/8
      except:
      - 10.96.0.0/12
`,
      [
        { from: 'default/myservice', to: '20.1.1.1', port: 443, allowed: true },
        { from: 'default/myservice', to: '20.1.1.2', port: 443, allowed: false },
        { from: 'default/myservice', to: '10.1.2.3', port: 443, allowed: true },
        { from: 'default/myservice', to: '10.95.255.255', port: 443, allowed: true },
        { from: 'default/myservice', to: '10.96.0.1', port: 443, allowed: false },
        { from: 'default/myservice', to: '10.111.255.255', port: 443, allowed: false },
        { from: 'default/myservice', to: '10.112.0.0', port: 443, allowed: true },
        // "CIDR rules do not apply to traffic where both sides of the connection are ... managed by Cilium"
        { from: 'default/myservice', to: 'default/backend', port: 8080, allowed: false },
        { from: 'default/myservice', to: '10.244.0.3', port: 8080, allowed: false },
      ],
    ],
    [
      '"By default, CIDR-based selectors do not match in-cluster entities (pods or nodes)"',
      `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: nodes-by-cidr}
spec:
  endpointSelector: {matchLabels: {env: dev}}
  egress: [{toCIDRSet: [{cidr: 192.168.0.0/16}]}]
  ingress: [{fromCIDR: [192.168.0.0/16]}]
`,
      [
        { from: 'default/dev', to: NODE_2, port: 10250, allowed: false },
        { from: NODE_2, to: 'default/dev', port: 8080, allowed: false },
        { from: 'default/dev', to: '192.168.99.1', port: 10250, allowed: true },
      ],
    ],
    [
      '--policy-cidr-match-mode=nodes: CIDR selectors also match node addresses',
      `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: nodes-by-cidr}
spec:
  endpointSelector: {matchLabels: {env: dev}}
  egress: [{toCIDRSet: [{cidr: 192.168.0.0/16}]}]
  ingress: [{fromCIDR: [192.168.0.0/16]}]
`,
      [
        { from: 'default/dev', to: NODE_2, port: 10250, allowed: true },
        { from: NODE_2, to: 'default/dev', port: 8080, allowed: true },
        { from: 'default/dev', to: 'default/backend', port: 8080, allowed: false },
      ],
      { cidrMatchesNodes: true },
    ],
    [
      'IPv6 toCIDRSet with except',
      `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: v6}
spec:
  endpointSelector: {matchLabels: {app: myService}}
  egress: [{toCIDRSet: [{cidr: "2001:db8::/32", except: ["2001:db8:dead::/48"]}]}]
`,
      [
        { from: 'default/myservice', to: '2001:db8::1', port: 443, allowed: true },
        { from: 'default/myservice', to: '2001:db8:dead::1', port: 443, allowed: false },
        { from: 'default/myservice', to: '2001:db9::1', port: 443, allowed: false },
        { from: 'default/myservice', to: '32.1.13.184', port: 443, allowed: false },
      ],
    ],
  ]);
});

describe('Layer 4', () => {
  runTable([
    [
      'Example (L4): "only be able to emit packets using TCP on port 80, to any layer 3 destination"',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "l4-rule"
spec:
  endpointSelector:
    matchLabels:
      app: myService
  egress:
    - toPorts:
      - ports:
        - port: "80"
          protocol: TCP
`,
      [
        { from: 'default/myservice', to: WORLD, port: 80, allowed: true },
        { from: 'default/myservice', to: 'default/backend', port: 80, allowed: true },
        { from: 'default/myservice', to: NODE_2, port: 80, allowed: true },
        { from: 'default/myservice', to: WORLD, port: 443, allowed: false },
        { from: 'default/myservice', to: WORLD, port: 80, protocol: 'UDP', allowed: false },
      ],
    ],
    [
      'Example Port Ranges: "TCP on ports 80-444"',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "l4-port-range-rule"
spec:
  endpointSelector:
    matchLabels:
      app: myService
  egress:
    - toPorts:
      - ports:
        - port: "80"
          endPort: 444
          protocol: TCP
`,
      [
        { from: 'default/myservice', to: WORLD, port: 79, allowed: false },
        { from: 'default/myservice', to: WORLD, port: 80, allowed: true },
        { from: 'default/myservice', to: WORLD, port: 443, allowed: true },
        { from: 'default/myservice', to: WORLD, port: 444, allowed: true },
        { from: 'default/myservice', to: WORLD, port: 445, allowed: false },
      ],
    ],
    [
      'Labels-dependent Layer 4 rule: frontend → backend "but they must communicate using TCP on port 80"',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "l4-rule"
spec:
  endpointSelector:
    matchLabels:
      role: backend
  ingress:
  - fromEndpoints:
    - matchLabels:
        role: frontend
    toPorts:
    - ports:
      - port: "80"
        protocol: TCP
`,
      [
        { from: 'default/frontend', to: 'default/backend', port: 80, allowed: true },
        { from: 'default/frontend', to: 'default/backend', port: 81, allowed: false },
        { from: 'default/other', to: 'default/backend', port: 80, allowed: false },
      ],
    ],
    [
      'CIDR-dependent Layer 4 Rule: role=crawler to 192.0.2.0/24 on TCP 80',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "cidr-l4-rule"
spec:
  endpointSelector:
    matchLabels:
      role: crawler
  egress:
  - toCIDR:
    - 192.0.2.0/24
    toPorts:
    - ports:
      - port: "80"
        protocol: TCP
`,
      [
        { from: 'default/crawler', to: '192.0.2.5', port: 80, allowed: true },
        { from: 'default/crawler', to: '192.0.2.5', port: 443, allowed: false },
        { from: 'default/crawler', to: '198.51.100.1', port: 80, allowed: false },
        { from: 'default/myservice', to: '198.51.100.1', port: 80, allowed: true },
      ],
    ],
    [
      'protocol ANY / omitted, port "0", named ports, SCTP, icmps-only rules',
      `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ports}
spec:
  endpointSelector: {matchLabels: {app: myService}}
  egress:
  - toPorts: [{ports: [{port: "53", protocol: ANY}]}]
  - toPorts: [{ports: [{port: "5000"}]}]
  - toEntities: [world]
    toPorts: [{ports: [{port: "0", protocol: SCTP}]}]
  - toEndpoints: [{matchLabels: {role: backend}}]
    toPorts: [{ports: [{port: http, protocol: TCP}]}]
  - toEntities: [all]
    icmps: [{fields: [{type: 8, family: IPv4}]}]
`,
      [
        { from: 'default/myservice', to: WORLD, port: 53, protocol: 'UDP', allowed: true },
        { from: 'default/myservice', to: WORLD, port: 53, protocol: 'TCP', allowed: true },
        { from: 'default/myservice', to: WORLD, port: 5000, protocol: 'SCTP', allowed: true },
        { from: 'default/myservice', to: WORLD, port: 9999, protocol: 'SCTP', allowed: true },
        { from: 'default/myservice', to: WORLD, port: 9999, protocol: 'UDP', allowed: false },
        { from: 'default/myservice', to: 'default/backend', port: 8080, allowed: true },
        { from: 'default/myservice', to: 'default/backend', port: 80, allowed: false },
        { from: 'default/myservice', to: WORLD, port: 8080, allowed: false },
      ],
    ],
  ]);
});

describe('Layer 3: DNS based (toFQDNs)', () => {
  const FQDN = `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "to-fqdn"
spec:
  endpointSelector:
    matchLabels:
      app: test-app
  egress:
    - toEndpoints:
      - matchLabels:
          "k8s:io.kubernetes.pod.namespace": kube-system
          "k8s:k8s-app": kube-dns
      toPorts:
        - ports:
           - port: "53"
             protocol: ANY
          rules:
            dns:
              - matchPattern: "*"
    - toFQDNs:
        - matchName: "my-remote-service.com"
`;
  const named = (ip: string, ...dnsNames: string[]): Peer => ipPeer(ip, { dnsNames });
  runTable([
    [
      'the documented example: DNS to kube-dns, then my-remote-service.com',
      FQDN,
      [
        { from: 'default/test-app', to: 'kube-system/coredns', port: 53, protocol: 'UDP', allowed: true },
        { from: 'default/test-app', to: 'kube-system/coredns', port: 53, protocol: 'TCP', allowed: true },
        { from: 'default/test-app', to: 'kube-system/coredns', port: 5353, protocol: 'UDP', allowed: false },
        { from: 'default/test-app', to: named(WORLD, 'my-remote-service.com'), port: 443, allowed: true },
        { from: 'default/test-app', to: named(WORLD, 'My-Remote-Service.COM.'), port: 8443, allowed: true },
        { from: 'default/test-app', to: named(WORLD, 'cdn.example.net', 'my-remote-service.com'), port: 443, allowed: true },
        { from: 'default/test-app', to: named(WORLD, 'sub.my-remote-service.com'), port: 443, allowed: false },
        { from: 'default/test-app', to: WORLD, port: 443, allowed: false },
        // "If the resolved IPs are IPs within the kubernetes cluster, the ToFQDN rule will not apply to that IP."
        { from: 'default/test-app', to: named('10.244.0.3', 'my-remote-service.com'), port: 443, allowed: false },
        { from: 'default/test-app', to: named(NODE_2, 'my-remote-service.com'), port: 443, allowed: false },
      ],
    ],
  ]);

  it('explains that layer 7 DNS rules are not evaluated', () => {
    const result = evaluateConnection(cluster, policies(FQDN), connection('default/test-app', 'kube-system/coredns', 53, 'UDP'));
    expect(result.egress.reason).toContain('layer 7 rules (dns)');
  });

  const patterns: readonly (readonly [string, string, boolean])[] = [
    ['*.cilium.io', 'www.cilium.io', true],
    ['*.cilium.io', 'blog.cilium.io', true],
    ['*.cilium.io', 'cilium.io', false],
    ['*.cilium.io', 'sub.sub.cilium.io', false],
    ['*.cilium.io', 'google.com', false],
    ['*cilium.io', 'cilium.io', true],
    ['*cilium.io', 'subcilium.io', true],
    ['*cilium.io', 'sub-cilium.io', true],
    ['*cilium.io', 'www.cilium.io', false],
    ['sub*.cilium.io', 'sub.cilium.io', true],
    ['sub*.cilium.io', 'subdomain.cilium.io', true],
    ['sub*.cilium.io', 'www.cilium.io', false],
    ['sub*.cilium.io', 'cilium.io', false],
    ['**.cilium.io', 'app.cilium.io', true],
    ['**.cilium.io', 'test.app.cilium.io', true],
    ['**.cilium.io', 'cilium.io', false],
    ['part*ial.com', 'partial.com', true],
    ['part*ial.com', 'part-extra-ial.com', true],
    ['part*ial.com', 'part.ial.com', false],
    ['*', 'anything.example.org', true],
    ['*.CILIUM.io.', 'WWW.cilium.IO', true],
  ];
  for (const [pattern, name, expected] of patterns) {
    it(`matchPattern ${pattern} ${expected ? 'matches' : 'does not match'} ${name}`, () =>
      expect(fqdnSelectorMatches({ matchPattern: pattern }, name)).toBe(expected));
  }
  it('matchName is exact, case-insensitive, trailing dot implied', () => {
    expect(fqdnSelectorMatches({ matchName: 'cilium.io' }, 'CILIUM.IO.')).toBe(true);
    expect(fqdnSelectorMatches({ matchName: 'cilium.io' }, 'www.cilium.io')).toBe(false);
  });
});

describe('Deny policies', () => {
  const ALLOW = {
    l7: { toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/' }] } }] },
    l4_80: { toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }] }] },
    l4_81: { toPorts: [{ ports: [{ port: '81', protocol: 'TCP' }] }] },
    l3: { fromEndpoints: [{ matchLabels: { role: 'frontend' } }] },
  };
  const DENY = {
    l4_80: { toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }] }] },
    l3: { fromEndpoints: [{ matchLabels: { role: 'frontend' } }] },
  };
  const server = (name: string, ingress: readonly object[], ingressDeny: readonly object[]): CiliumNetworkPolicy => ({
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNetworkPolicy',
    metadata: { name, namespace: 'default' },
    spec: { endpointSelector: { matchLabels: { role: 'backend' } }, ingress, ingressDeny },
  });
  const allAllows = [ALLOW.l7, ALLOW.l4_80, ALLOW.l4_81, ALLOW.l3];
  // The documented table: columns of allow/deny sets and the result of `curl server:81` / `curl server:80`.
  const columns: readonly (readonly [string, CiliumNetworkPolicy, boolean, boolean])[] = [
    ['all allows, no deny', server('c1', allAllows, []), true, true],
    ['all allows, deny L4 80/TCP', server('c2', allAllows, [DENY.l4_80]), true, false],
    ['all allows, deny L3 client', server('c3', allAllows, [DENY.l3]), false, false],
    ['all allows, deny L4 80/TCP and L3 client', server('c4', allAllows, [DENY.l4_80, DENY.l3]), false, false],
    ['no allow, deny L4 80/TCP', server('c5', [], [DENY.l4_80]), false, false],
  ];
  for (const [name, policy, port81, port80] of columns) {
    it(`deny table: ${name}`, () =>
      check(
        [policy],
        [
          { from: 'default/frontend', to: 'default/backend', port: 81, allowed: port81 },
          { from: 'default/frontend', to: 'default/backend', port: 80, allowed: port80 },
        ],
      ));
  }

  it('"deny ingress from world on all namespaces on all Pods managed by Cilium" (clusterwide)', () =>
    check(
      policies(`
apiVersion: "cilium.io/v2"
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: "external-lockdown"
spec:
  endpointSelector: {}
  ingressDeny:
  - fromEntities:
    - "world"
  ingress:
  - fromEntities:
    - "all"
`),
      [
        { from: WORLD, to: 'default/public', port: 443, allowed: false, basis: { ingress: 'deny-rule' } },
        { from: WORLD, to: 'ns1/leia', port: 443, allowed: false },
        { from: 'other/frontend', to: 'default/public', port: 443, allowed: true },
        { from: NODE_1, to: 'default/public', port: 443, allowed: true },
        { from: 'default/public', to: WORLD, port: 443, allowed: true },
      ],
    ));

  it('"Deny policies take precedence over allow policies, regardless of whether they are ... even a Kubernetes Network Policy"', () => {
    const allowAll = networkPolicy('allow-all', { namespace: 'default', ingress: [{}] });
    const deny = policies(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny-world, namespace: default}
spec:
  endpointSelector: {}
  ingressDeny: [{fromEntities: [world]}]
`);
    const evaluator = createEvaluator(cluster, [allowAll, ...deny]);
    const result = evaluator.evaluate(connection(WORLD, 'default/public', 443));
    expect(result.allowed).toBe(false);
    expect(result.ingress).toMatchObject({ allowedBy: ['default/allow-all'], deniedBy: ['default/deny-world'], basis: 'deny-rule' });
  });
});

describe('Kubernetes constructs', () => {
  runTable([
    [
      'Enforce namespace boundaries: "both source and destination have to be in the same namespace"',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "isolate-ns1"
  namespace: ns1
spec:
  endpointSelector:
    matchLabels:
      {}
  ingress:
  - fromEndpoints:
    - matchLabels:
        {}
---
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "isolate-ns1"
  namespace: ns2
spec:
  endpointSelector:
    matchLabels:
      {}
  ingress:
  - fromEndpoints:
    - matchLabels:
        {}
`,
      [
        { from: 'ns1/other', to: 'ns1/leia', port: 80, allowed: true },
        { from: 'ns2/other', to: 'ns2/luke', port: 80, allowed: true },
        { from: 'ns2/luke', to: 'ns1/leia', port: 80, allowed: false },
        { from: 'ns1/leia', to: 'ns2/luke', port: 80, allowed: false },
        { from: 'ns3/luke', to: 'ns1/leia', port: 80, allowed: false },
        { from: 'ns1/leia', to: 'ns3/luke', port: 80, allowed: true },
        { from: 'ns1/leia', to: WORLD, port: 443, allowed: true },
        { from: WORLD, to: 'ns1/leia', port: 443, allowed: false },
      ],
    ],
    [
      'Expose pods across namespaces: name=leia in ns1 to name=luke in ns2',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "k8s-expose-across-namespace"
  namespace: ns1
spec:
  endpointSelector:
    matchLabels:
      name: leia
  ingress:
  - fromEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: ns2
        name: luke
`,
      [
        { from: 'ns2/luke', to: 'ns1/leia', port: 80, allowed: true },
        { from: 'ns3/luke', to: 'ns1/leia', port: 80, allowed: false },
        { from: 'ns2/other', to: 'ns1/leia', port: 80, allowed: false },
        { from: 'ns1/other', to: 'ns1/leia', port: 80, allowed: false },
        { from: 'ns2/luke', to: 'ns1/other', port: 80, allowed: true },
      ],
    ],
    [
      'Allow egress to kube-dns in kube-system namespace',
      `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "allow-to-kubedns"
  namespace: public
spec:
  endpointSelector:
    {}
  egress:
  - toEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: kube-system
        k8s-app: kube-dns
    toPorts:
    - ports:
      - port: '53'
        protocol: UDP
`.replace('namespace: public', 'namespace: default'),
      [
        { from: 'default/frontend', to: 'kube-system/coredns', port: 53, protocol: 'UDP', allowed: true },
        { from: 'default/frontend', to: 'kube-system/coredns', port: 53, protocol: 'TCP', allowed: false },
        { from: 'default/frontend', to: WORLD, port: 53, protocol: 'UDP', allowed: false },
        { from: 'other/frontend', to: WORLD, port: 443, allowed: true },
      ],
    ],
    [
      'a namespace expression selects pods of every namespace',
      `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: any-ns, namespace: default}
spec:
  endpointSelector: {matchLabels: {role: backend}}
  ingress:
  - fromEndpoints: [{matchExpressions: [{key: "k8s:io.kubernetes.pod.namespace", operator: Exists}], matchLabels: {role: frontend}}]
`,
      [
        { from: 'other/frontend', to: 'default/backend', port: 1, allowed: true },
        { from: 'default/frontend', to: 'default/backend', port: 1, allowed: true },
        { from: 'default/other', to: 'default/backend', port: 1, allowed: false },
      ],
    ],
    [
      'an endpointSelector never reaches outside the policy namespace, and never a hostNetwork pod',
      `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny-all-ingress, namespace: default}
spec:
  endpointSelector: {matchLabels: {"k8s:io.kubernetes.pod.namespace": other}}
  ingress: [{}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: host-agent, namespace: kube-system}
spec:
  endpointSelector: {}
  ingress: [{}]
`,
      [
        { from: WORLD, to: 'other/frontend', port: 80, allowed: true },
        { from: WORLD, to: 'default/frontend', port: 80, allowed: true },
        { from: WORLD, to: 'kube-system/node-agent', port: 9100, allowed: true },
        { from: WORLD, to: 'kube-system/coredns', port: 53, protocol: 'UDP', allowed: false },
      ],
    ],
  ]);
});

describe('Policy enforcement modes: enableDefaultDeny', () => {
  const INTERCEPT_DNS = `
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: intercept-all-dns
spec:
  endpointSelector:
    matchExpressions:
      - key: "io.kubernetes.pod.namespace"
        operator: "NotIn"
        values:
        - "kube-system"
      - key: "k8s-app"
        operator: "NotIn"
        values:
        - kube-dns
  enableDefaultDeny:
    egress: false
    ingress: false
  egress:
    - toEndpoints:
        - matchLabels:
            io.kubernetes.pod.namespace: kube-system
            k8s-app: kube-dns
      toPorts:
        - ports:
          - port: "53"
            protocol: TCP
          - port: "53"
            protocol: UDP
          rules:
            dns:
              - matchPattern: "*"
`;
  it('"does not block any traffic, even if it is the first policy to apply to an endpoint"', () =>
    check(policies(INTERCEPT_DNS), [
      { from: 'default/test-app', to: WORLD, port: 443, allowed: true, basis: { egress: 'not-isolated' } },
      { from: 'ns1/leia', to: 'kube-system/coredns', port: 53, protocol: 'UDP', allowed: true },
    ]));
  it('its allow rules still add to the allowed set once another policy isolates the endpoint', () =>
    check(
      [
        ...policies(INTERCEPT_DNS),
        ...policies(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-only, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: test-app}}
  egress: [{toEntities: [world], toPorts: [{ports: [{port: "443", protocol: TCP}]}]}]
`),
      ],
      [
        { from: 'default/test-app', to: 'kube-system/coredns', port: 53, protocol: 'UDP', allowed: true, basis: { egress: 'rule' } },
        { from: 'default/test-app', to: WORLD, port: 443, allowed: true },
        { from: 'default/test-app', to: WORLD, port: 80, allowed: false },
      ],
    ));
  // Regression (found by the differential test against Cilium's engine, test/oracle): Cilium attaches
  // default deny to the policy entries of a direction's rules (pkg/policy/utils/parserules.go
  // RulesToPolicyEntries), so the flag on a direction without rules isolates nothing.
  it('enableDefaultDeny.ingress: true without ingress rules does not isolate', () =>
    check(
      policies(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: lock, namespace: default}
spec:
  endpointSelector: {matchLabels: {role: victim}}
  enableDefaultDeny: {ingress: true}
  egress: [{toEntities: [all]}]
`),
      [{ from: 'default/other', to: 'default/victim', port: 1, allowed: true }],
    ));
});

describe('NetworkPolicy and CiliumNetworkPolicy together', () => {
  it('isolation and allowance are the union of both flavours', () => {
    const npDeny = networkPolicy('default-deny', { namespace: 'default', ingress: [] });
    const cnpAllow = policies(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: allow-frontend, namespace: default}
spec:
  endpointSelector: {matchLabels: {role: backend}}
  ingress: [{fromEndpoints: [{matchLabels: {role: frontend}}]}]
`);
    const evaluator = createEvaluator(cluster, [npDeny, ...cnpAllow]);
    const allowed = evaluator.evaluate(connection('default/frontend', 'default/backend', 8080));
    expect(allowed.allowed).toBe(true);
    expect(allowed.ingress).toMatchObject({ isolatedBy: ['default/allow-frontend', 'default/default-deny'], allowedBy: ['default/allow-frontend'] });
    const denied: Connection = connection('default/frontend', 'default/victim', 8080);
    expect(evaluator.evaluate(denied).ingress.isolatedBy).toEqual(['default/default-deny']);
    expect(evaluator.evaluate(denied).allowed).toBe(false);
  });
});
