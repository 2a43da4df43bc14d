/**
 * NetworkPolicy truth tables built from the examples of
 * https://kubernetes.io/docs/concepts/services-networking/network-policies/ (YAML kept verbatim),
 * plus the documented edge rules (policyTypes defaulting, node traffic, hostNetwork pods, named ports).
 */
import { loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { createEvaluator, evaluateConnection } from './evaluate.js';
import type { ClusterModel, Connection, EvaluateOptions, L4Protocol, NetworkPolicy, Policy, VerdictBasis } from './model.js';
import { effectivePolicyTypes } from './networkpolicy.js';
import { connection, namespace, networkPolicy, node, pod } from './testkit.js';

function policies(yaml: string): NetworkPolicy[] {
  return loadAll(yaml) as NetworkPolicy[];
}

/** The cluster the docs' examples talk about: `default` holds `role=db` and `role=frontend` pods. */
const docsCluster: ClusterModel = {
  namespaces: [namespace('default'), namespace('myproject', { project: 'myproject' }), namespace('other')],
  pods: [
    pod('default/db', { labels: { role: 'db' }, ips: ['10.244.0.10'], node: 'node-1' }),
    pod('default/frontend', { labels: { role: 'frontend' }, ips: ['10.244.0.11'], node: 'node-1' }),
    pod('default/backend', { labels: { role: 'backend' }, ips: ['10.244.0.12'], node: 'node-2' }),
    pod('myproject/api', { labels: { app: 'api' }, ips: ['10.244.1.10'], node: 'node-2' }),
    pod('other/frontend', { labels: { role: 'frontend' }, ips: ['10.244.2.10'], node: 'node-2' }),
  ],
  nodes: [node('node-1', '192.168.0.1'), node('node-2', '192.168.0.2')],
  kubeApiserverIPs: [],
};

const TEST_NETWORK_POLICY = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: test-network-policy
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
  - Ingress
  - Egress
  ingress:
  - from:
    - ipBlock:
        cidr: 172.17.0.0/16
        except:
        - 172.17.1.0/24
    - namespaceSelector:
        matchLabels:
          project: myproject
    - podSelector:
        matchLabels:
          role: frontend
    ports:
    - protocol: TCP
      port: 6379
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/24
    ports:
    - protocol: TCP
      port: 5978
`;

interface Row {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol?: L4Protocol;
  readonly allowed: boolean;
  readonly basis?: { readonly egress?: VerdictBasis; readonly ingress?: VerdictBasis };
}

function check(cluster: ClusterModel, policySet: readonly Policy[], rows: readonly Row[], options: EvaluateOptions = {}): void {
  const evaluator = createEvaluator(cluster, policySet, options);
  for (const row of rows) {
    const result = evaluator.evaluate(connection(row.from, row.to, row.port, row.protocol ?? 'TCP'));
    expect.soft(result.allowed, `${row.from} → ${row.to} ${row.protocol ?? 'TCP'}/${row.port}: ${result.reason}`).toBe(row.allowed);
    if (row.basis?.egress !== undefined) expect.soft(result.egress.basis, `${row.from} → ${row.to} egress basis`).toBe(row.basis.egress);
    if (row.basis?.ingress !== undefined) expect.soft(result.ingress.basis, `${row.from} → ${row.to} ingress basis`).toBe(row.basis.ingress);
  }
}

describe('docs: the test-network-policy example', () => {
  const set = policies(TEST_NETWORK_POLICY);
  const table: readonly [string, readonly Row[]][] = [
    [
      '"any pod in the default namespace with the label role=frontend" on TCP 6379',
      [
        { from: 'default/frontend', to: 'default/db', port: 6379, allowed: true, basis: { egress: 'not-isolated', ingress: 'rule' } },
        { from: 'default/frontend', to: 'default/db', port: 6380, allowed: false, basis: { ingress: 'no-matching-rule' } },
        { from: 'default/frontend', to: 'default/db', port: 6379, protocol: 'UDP', allowed: false },
        { from: 'default/backend', to: 'default/db', port: 6379, allowed: false },
        { from: 'other/frontend', to: 'default/db', port: 6379, allowed: false },
        { from: '10.244.0.11', to: 'default/db', port: 6379, allowed: true },
      ],
    ],
    [
      '"any pod in a namespace with the label project=myproject"',
      [
        { from: 'myproject/api', to: 'default/db', port: 6379, allowed: true },
        { from: 'myproject/api', to: 'default/db', port: 80, allowed: false },
      ],
    ],
    [
      '"IP addresses in the ranges 172.17.0.0–172.17.0.255 and 172.17.2.0–172.17.255.255"',
      [
        { from: '172.17.0.0', to: 'default/db', port: 6379, allowed: true, basis: { egress: 'not-a-pod', ingress: 'rule' } },
        { from: '172.17.0.255', to: 'default/db', port: 6379, allowed: true },
        { from: '172.17.1.0', to: 'default/db', port: 6379, allowed: false },
        { from: '172.17.1.128', to: 'default/db', port: 6379, allowed: false },
        { from: '172.17.1.255', to: 'default/db', port: 6379, allowed: false },
        { from: '172.17.2.0', to: 'default/db', port: 6379, allowed: true },
        { from: '172.17.255.255', to: 'default/db', port: 6379, allowed: true },
        { from: '172.16.255.255', to: 'default/db', port: 6379, allowed: false },
        { from: '172.18.0.0', to: 'default/db', port: 6379, allowed: false },
        { from: '172.17.0.9', to: 'default/db', port: 5978, allowed: false },
        { from: '10.0.0.1', to: 'default/db', port: 6379, allowed: false },
      ],
    ],
    [
      '"allows connections from any pod ... role=db to CIDR 10.0.0.0/24 on TCP port 5978"',
      [
        { from: 'default/db', to: '10.0.0.1', port: 5978, allowed: true, basis: { egress: 'rule', ingress: 'not-a-pod' } },
        { from: 'default/db', to: '10.0.0.255', port: 5978, allowed: true },
        { from: 'default/db', to: '10.0.1.0', port: 5978, allowed: false },
        { from: 'default/db', to: '10.0.0.1', port: 5979, allowed: false },
        { from: 'default/db', to: '10.0.0.1', port: 5978, protocol: 'UDP', allowed: false },
        { from: 'default/db', to: '172.17.0.1', port: 6379, allowed: false },
        { from: 'default/db', to: 'default/frontend', port: 6379, allowed: false, basis: { egress: 'no-matching-rule', ingress: 'not-isolated' } },
      ],
    ],
    [
      'pods the policy does not select keep accepting and sending everything',
      [
        { from: 'default/frontend', to: 'default/backend', port: 8080, allowed: true },
        { from: 'default/backend', to: '10.0.0.1', port: 22, allowed: true },
        { from: '203.0.113.7', to: 'other/frontend', port: 443, allowed: true },
      ],
    ],
    [
      '"the only allowed connections into the pod are those from the pod\'s node and those allowed by the ingress list"',
      [
        { from: '192.168.0.1', to: 'default/db', port: 22, allowed: true, basis: { ingress: 'node-traffic' } },
        { from: '192.168.0.2', to: 'default/db', port: 6379, allowed: false },
        { from: 'default/db', to: '192.168.0.1', port: 10250, allowed: false, basis: { egress: 'no-matching-rule' } },
      ],
    ],
  ];
  for (const [name, rows] of table) it(name, () => check(docsCluster, set, rows));

  it('hostTrafficAlwaysAllowed: false judges traffic from the node by the rules alone', () => {
    check(docsCluster, set, [{ from: '192.168.0.1', to: 'default/db', port: 22, allowed: false, basis: { ingress: 'no-matching-rule' } }], {
      hostTrafficAlwaysAllowed: false,
    });
  });

  it('explains which policies isolate and allow', () => {
    const allowed = evaluateConnection(docsCluster, set, connection('myproject/api', 'default/db', 6379));
    expect(allowed.ingress).toMatchObject({ subject: 'default/db', isolated: true, isolatedBy: ['default/test-network-policy'], allowedBy: ['default/test-network-policy'] });
    expect(allowed.egress).toMatchObject({ subject: 'myproject/api', isolated: false, basis: 'not-isolated' });
    const denied = evaluateConnection(docsCluster, set, connection('default/db', 'default/frontend', 6379));
    expect(denied.allowed).toBe(false);
    expect(denied.egress).toMatchObject({ isolated: true, isolatedBy: ['default/test-network-policy'], allowedBy: [] });
    expect(denied.reason).toContain('egress from default/db');
    expect(denied.reason).toContain('isolated by default/test-network-policy');
  });
});

describe('docs: default policies', () => {
  const DEFAULT_DENY_INGRESS = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
spec:
  podSelector: {}
  policyTypes:
  - Ingress
`;
  const ALLOW_ALL_INGRESS = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-all-ingress
spec:
  podSelector: {}
  ingress:
  - {}
  policyTypes:
  - Ingress
`;
  const DEFAULT_DENY_EGRESS = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-egress
spec:
  podSelector: {}
  policyTypes:
  - Egress
`;
  const ALLOW_ALL_EGRESS = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-all-egress
spec:
  podSelector: {}
  egress:
  - {}
  policyTypes:
  - Egress
`;
  const DEFAULT_DENY_ALL = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-all
spec:
  podSelector: {}
  policyTypes:
  - Ingress
  - Egress
`;
  const table: readonly [string, string, readonly Row[]][] = [
    [
      '"Default deny all ingress traffic" ... "does not affect isolation for egress"',
      DEFAULT_DENY_INGRESS,
      [
        { from: 'default/frontend', to: 'default/db', port: 6379, allowed: false },
        { from: 'other/frontend', to: 'default/backend', port: 80, allowed: false },
        { from: '203.0.113.7', to: 'default/db', port: 6379, allowed: false },
        { from: 'default/db', to: 'other/frontend', port: 80, allowed: true },
        { from: 'default/db', to: '203.0.113.7', port: 443, allowed: true },
        { from: 'other/frontend', to: 'myproject/api', port: 80, allowed: true },
      ],
    ],
    [
      '"Allow all ingress traffic": "no additional policy or policies can cause any incoming connection to those pods to be denied"',
      DEFAULT_DENY_INGRESS + '---' + ALLOW_ALL_INGRESS,
      [
        { from: 'default/frontend', to: 'default/db', port: 6379, allowed: true, basis: { ingress: 'rule' } },
        { from: '203.0.113.7', to: 'default/db', port: 1, protocol: 'SCTP', allowed: true },
      ],
    ],
    [
      '"Default deny all egress traffic" ... "does not change the ingress isolation behavior"',
      DEFAULT_DENY_EGRESS,
      [
        { from: 'default/db', to: 'default/frontend', port: 80, allowed: false },
        { from: 'default/db', to: '203.0.113.7', port: 443, allowed: false },
        { from: 'other/frontend', to: 'default/db', port: 6379, allowed: true },
      ],
    ],
    [
      '"Allow all egress traffic"',
      DEFAULT_DENY_EGRESS + '---' + ALLOW_ALL_EGRESS,
      [
        { from: 'default/db', to: 'default/frontend', port: 80, allowed: true },
        { from: 'default/db', to: '203.0.113.7', port: 443, protocol: 'UDP', allowed: true },
      ],
    ],
    [
      '"Default deny all ingress and all egress traffic"',
      DEFAULT_DENY_ALL,
      [
        { from: 'default/frontend', to: 'default/backend', port: 80, allowed: false, basis: { egress: 'no-matching-rule', ingress: 'no-matching-rule' } },
        { from: 'other/frontend', to: 'default/db', port: 6379, allowed: false, basis: { egress: 'not-isolated', ingress: 'no-matching-rule' } },
        { from: 'default/db', to: 'other/frontend', port: 80, allowed: false, basis: { egress: 'no-matching-rule', ingress: 'not-isolated' } },
        { from: 'other/frontend', to: 'myproject/api', port: 80, allowed: true },
      ],
    ],
  ];
  for (const [name, yaml, rows] of table) it(name, () => check(docsCluster, policies(yaml), rows));

  it('a default-deny policy in one namespace isolates no pod of another namespace', () => {
    const elsewhere = policies(DEFAULT_DENY_ALL.replace('name: default-deny-all', 'name: default-deny-all\n  namespace: other'));
    check(docsCluster, elsewhere, [
      { from: 'default/frontend', to: 'default/db', port: 6379, allowed: true },
      { from: 'default/frontend', to: 'other/frontend', port: 80, allowed: false },
    ]);
  });
});

describe('docs: namespaceSelector and podSelector in one entry vs two entries', () => {
  const cluster: ClusterModel = {
    namespaces: [namespace('default'), namespace('alice', { user: 'alice' }), namespace('bob', { user: 'bob' })],
    pods: [
      pod('default/server', { labels: { app: 'server' }, ips: ['10.244.0.2'] }),
      pod('default/client', { labels: { role: 'client' }, ips: ['10.244.0.3'] }),
      pod('default/other', { labels: { role: 'other' }, ips: ['10.244.0.4'] }),
      pod('alice/client', { labels: { role: 'client' }, ips: ['10.244.1.3'] }),
      pod('alice/other', { labels: { role: 'other' }, ips: ['10.244.1.4'] }),
      pod('bob/client', { labels: { role: 'client' }, ips: ['10.244.2.3'] }),
    ],
    nodes: [],
    kubeApiserverIPs: [],
  };
  const server = { matchLabels: { app: 'server' } };
  const and = networkPolicy('and', {
    namespace: 'default',
    podSelector: server,
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { user: 'alice' } }, podSelector: { matchLabels: { role: 'client' } } }] }],
  });
  const or = networkPolicy('or', {
    namespace: 'default',
    podSelector: server,
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { user: 'alice' } } }, { podSelector: { matchLabels: { role: 'client' } } }] }],
  });
  const table: readonly [string, NetworkPolicy, Record<string, boolean>][] = [
    [
      'one entry: "Pods with the label role=client in namespaces with the label user=alice"',
      and,
      { 'alice/client': true, 'alice/other': false, 'default/client': false, 'default/other': false, 'bob/client': false },
    ],
    [
      'two entries: "Pods in the local Namespace with the label role=client, or ... any Pod in any namespace with the label user=alice"',
      or,
      { 'alice/client': true, 'alice/other': true, 'default/client': true, 'default/other': false, 'bob/client': false },
    ],
  ];
  for (const [name, policy, expected] of table) {
    it(name, () =>
      check(
        cluster,
        [policy],
        Object.entries(expected).map(([from, allowed]) => ({ from, to: 'default/server', port: 80, allowed })),
      ),
    );
  }
});

describe('docs: targeting a range of ports (endPort)', () => {
  const MULTI_PORT_EGRESS = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: multi-port-egress
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
    - Egress
  egress:
    - to:
        - ipBlock:
            cidr: 10.0.0.0/24
      ports:
        - protocol: TCP
          port: 32000
          endPort: 32768
`;
  it('"communicate with any IP within the range 10.0.0.0/24 over TCP, provided that the target port is between the range 32000 and 32768"', () =>
    check(docsCluster, policies(MULTI_PORT_EGRESS), [
      { from: 'default/db', to: '10.0.0.9', port: 31999, allowed: false },
      { from: 'default/db', to: '10.0.0.9', port: 32000, allowed: true },
      { from: 'default/db', to: '10.0.0.9', port: 32500, allowed: true },
      { from: 'default/db', to: '10.0.0.9', port: 32768, allowed: true },
      { from: 'default/db', to: '10.0.0.9', port: 32769, allowed: false },
      { from: 'default/db', to: '10.0.0.9', port: 32000, protocol: 'UDP', allowed: false },
      { from: 'default/db', to: '10.0.1.9', port: 32000, allowed: false },
      { from: 'default/frontend', to: '10.0.1.9', port: 1, allowed: true },
      // Egress-only policy: ingress to role=db stays open.
      { from: 'other/frontend', to: 'default/db', port: 6379, allowed: true },
    ]));
});

describe('policyTypes defaulting', () => {
  const table: readonly [string, NetworkPolicy['spec'], { ingress: boolean; egress: boolean }][] = [
    ['no policyTypes, no rules: Ingress only', { podSelector: {} }, { ingress: true, egress: false }],
    ['no policyTypes, ingress rules: Ingress only', { podSelector: {}, ingress: [{}] }, { ingress: true, egress: false }],
    ['no policyTypes, egress rules: Ingress and Egress', { podSelector: {}, egress: [{}] }, { ingress: true, egress: true }],
    ['no policyTypes, empty egress list: Ingress only (len(egress) == 0)', { podSelector: {}, egress: [] }, { ingress: true, egress: false }],
    ['explicit [Egress] with an ingress section: Egress only', { podSelector: {}, policyTypes: ['Egress'], ingress: [{}] }, { ingress: false, egress: true }],
    ['explicit [Ingress, Egress]', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }, { ingress: true, egress: true }],
  ];
  for (const [name, spec, expected] of table) it(name, () => expect(effectivePolicyTypes(spec)).toEqual(expected));

  it('a policy that contains only egress rules still isolates for ingress when policyTypes is omitted', () => {
    const policy: NetworkPolicy = {
      kind: 'NetworkPolicy',
      metadata: { name: 'egress-only-by-mistake', namespace: 'default' },
      spec: { podSelector: { matchLabels: { role: 'db' } }, egress: [{}] },
    };
    check(docsCluster, [policy], [
      { from: 'default/frontend', to: 'default/db', port: 6379, allowed: false },
      { from: 'default/db', to: '203.0.113.7', port: 443, allowed: true },
    ]);
  });

  it('rules of a direction the policy does not apply to are ignored', () => {
    const policy: NetworkPolicy = {
      kind: 'NetworkPolicy',
      metadata: { name: 'egress-typed', namespace: 'default' },
      spec: { podSelector: {}, policyTypes: ['Egress'], ingress: [{ from: [{ ipBlock: { cidr: '198.51.100.0/24' } }] }], egress: [{ to: [{ podSelector: {} }] }] },
    };
    check(docsCluster, [policy], [
      { from: '203.0.113.7', to: 'default/db', port: 6379, allowed: true, basis: { ingress: 'not-isolated' } },
      { from: 'default/db', to: 'default/frontend', port: 80, allowed: true, basis: { egress: 'rule' } },
      { from: 'default/db', to: '198.51.100.1', port: 80, allowed: false },
    ]);
  });
});

describe('selectors in peers: absent vs empty', () => {
  const table: readonly [string, NetworkPolicy, readonly Row[]][] = [
    [
      'podSelector {} alone: every pod of the policy namespace',
      networkPolicy('same-ns', { namespace: 'default', podSelector: { matchLabels: { role: 'db' } }, ingress: [{ from: [{ podSelector: {} }] }] }),
      [
        { from: 'default/backend', to: 'default/db', port: 1, allowed: true },
        { from: 'other/frontend', to: 'default/db', port: 1, allowed: false },
        { from: '10.9.9.9', to: 'default/db', port: 1, allowed: false },
      ],
    ],
    [
      'namespaceSelector {} alone: every pod of every namespace, but no external address',
      networkPolicy('all-pods', { namespace: 'default', podSelector: { matchLabels: { role: 'db' } }, ingress: [{ from: [{ namespaceSelector: {} }] }] }),
      [
        { from: 'other/frontend', to: 'default/db', port: 1, allowed: true },
        { from: '10.9.9.9', to: 'default/db', port: 1, allowed: false },
      ],
    ],
    [
      'ipBlock 0.0.0.0/0: every IPv4 address, pods included by default',
      networkPolicy('v4', { namespace: 'default', podSelector: { matchLabels: { role: 'db' } }, ingress: [{ from: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }] }),
      [
        { from: '10.9.9.9', to: 'default/db', port: 1, allowed: true },
        { from: 'other/frontend', to: 'default/db', port: 1, allowed: true },
        { from: '2001:db8::1', to: 'default/db', port: 1, allowed: false },
      ],
    ],
    [
      'an empty peer ({}) is invalid in the API and matches nothing',
      networkPolicy('empty-peer', { namespace: 'default', podSelector: { matchLabels: { role: 'db' } }, ingress: [{ from: [{}] }] }),
      [{ from: 'default/frontend', to: 'default/db', port: 1, allowed: false }],
    ],
  ];
  for (const [name, policy, rows] of table) it(name, () => check(docsCluster, [policy], rows));

  it('ipBlockMatchesPodIPs: false keeps ipBlocks to non-pod addresses', () => {
    const policy = networkPolicy('v4', { namespace: 'default', podSelector: { matchLabels: { role: 'db' } }, ingress: [{ from: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }] });
    check(
      docsCluster,
      [policy],
      [
        { from: '10.9.9.9', to: 'default/db', port: 1, allowed: true },
        { from: 'other/frontend', to: 'default/db', port: 1, allowed: false },
        { from: '10.244.2.10', to: 'default/db', port: 1, allowed: false },
      ],
      { ipBlockMatchesPodIPs: false },
    );
  });
});

describe('networkPolicyEnforcer: cilium (ipBlock as a Cilium CIDR rule)', () => {
  const withApiserver: ClusterModel = { ...docsCluster, kubeApiserverIPs: ['172.20.0.1'] };
  const egressTo = (cidr: string): NetworkPolicy =>
    networkPolicy('egress', { namespace: 'default', podSelector: { matchLabels: { role: 'db' } }, egress: [{ to: [{ ipBlock: { cidr } }] }] });
  const table: readonly [string, string, string, boolean, boolean][] = [
    ['world address', '0.0.0.0/0', '203.0.113.7', true, true],
    ['pod address', '0.0.0.0/0', '10.244.0.11', true, false],
    ['node address', '192.168.0.0/16', '192.168.0.2', true, false],
    // Regression (differential test against Cilium's engine, test/oracle): a kube-apiserver outside
    // the cluster is a world address with CIDR labels to Cilium (pkg/ipcache/metadata.go resolveLabels).
    ['kube-apiserver address (outside the nodes)', '172.20.0.1/32', '172.20.0.1', true, true],
  ];
  for (const [name, cidr, to, generic, cilium] of table) {
    it(`${name}: generic ${String(generic)}, cilium ${String(cilium)}`, () => {
      check(withApiserver, [egressTo(cidr)], [{ from: 'default/db', to, port: 443, allowed: generic }]);
      check(withApiserver, [egressTo(cidr)], [{ from: 'default/db', to, port: 443, allowed: cilium }], { networkPolicyEnforcer: 'cilium' });
    });
  }
  it('with --policy-cidr-match-mode=nodes, node addresses match', () =>
    check(withApiserver, [egressTo('192.168.0.0/16')], [{ from: 'default/db', to: '192.168.0.2', port: 443, allowed: true }], {
      networkPolicyEnforcer: 'cilium',
      cidrMatchesNodes: true,
    }));
});

describe('named ports resolve on the destination pod', () => {
  const cluster: ClusterModel = {
    namespaces: [namespace('default')],
    pods: [
      pod('default/client', { labels: { app: 'client' }, ips: ['10.244.0.2'] }),
      pod('default/web', {
        labels: { app: 'web' },
        ips: ['10.244.0.3'],
        ports: [
          { name: 'https', containerPort: 8443, protocol: 'TCP' },
          { name: 'dns', containerPort: 53, protocol: 'UDP' },
        ],
      }),
    ],
    nodes: [],
    kubeApiserverIPs: [],
  };
  const client = { matchLabels: { app: 'client' } };
  const web = { matchLabels: { app: 'web' } };
  const table: readonly [string, NetworkPolicy, readonly Row[]][] = [
    [
      'egress to a named port: the destination pod number, never an external address',
      networkPolicy('egress-https', { namespace: 'default', podSelector: client, egress: [{ ports: [{ port: 'https' }] }] }),
      [
        { from: 'default/client', to: 'default/web', port: 8443, allowed: true },
        { from: 'default/client', to: 'default/web', port: 443, allowed: false },
        { from: 'default/client', to: '203.0.113.7', port: 443, allowed: false },
        { from: 'default/client', to: '203.0.113.7', port: 8443, allowed: false },
      ],
    ],
    [
      'ingress to a named port',
      networkPolicy('ingress-https', { namespace: 'default', podSelector: web, ingress: [{ ports: [{ port: 'https' }] }] }),
      [
        { from: 'default/client', to: 'default/web', port: 8443, allowed: true },
        { from: '203.0.113.7', to: 'default/web', port: 8443, allowed: true },
        { from: 'default/client', to: 'default/web', port: 443, allowed: false },
      ],
    ],
    [
      'the named port must carry the policy protocol (default TCP)',
      networkPolicy('dns-tcp', { namespace: 'default', podSelector: web, ingress: [{ ports: [{ port: 'dns' }] }] }),
      [
        { from: 'default/client', to: 'default/web', port: 53, protocol: 'UDP', allowed: false },
        { from: 'default/client', to: 'default/web', port: 53, protocol: 'TCP', allowed: false },
      ],
    ],
    [
      'named UDP port with protocol UDP',
      networkPolicy('dns-udp', { namespace: 'default', podSelector: web, ingress: [{ ports: [{ port: 'dns', protocol: 'UDP' }] }] }),
      [{ from: 'default/client', to: 'default/web', port: 53, protocol: 'UDP', allowed: true }],
    ],
  ];
  for (const [name, policy, rows] of table) it(name, () => check(cluster, [policy], rows));
});

describe('hostNetwork pods ("NetworkPolicy and hostNetwork pods")', () => {
  const cluster: ClusterModel = {
    namespaces: [namespace('default'), namespace('monitoring')],
    pods: [
      pod('default/db', { labels: { role: 'db' }, ips: ['10.244.0.10'], node: 'node-1' }),
      pod('monitoring/agent-1', { labels: { app: 'agent' }, ips: ['192.168.0.1'], node: 'node-1', hostNetwork: true }),
      pod('monitoring/agent-2', { labels: { app: 'agent' }, ips: ['192.168.0.2'], node: 'node-2', hostNetwork: true }),
      pod('monitoring/scraper', { labels: { app: 'scraper' }, ips: ['10.244.1.10'], node: 'node-2' }),
    ],
    nodes: [node('node-1', '192.168.0.1'), node('node-2', '192.168.0.2')],
    kubeApiserverIPs: [],
  };
  const fromAgents = networkPolicy('from-agents', {
    namespace: 'default',
    podSelector: { matchLabels: { role: 'db' } },
    ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'agent' } } }] }],
  });
  const fromNode2 = networkPolicy('from-node-2', {
    namespace: 'default',
    podSelector: { matchLabels: { role: 'db' } },
    ingress: [{ from: [{ ipBlock: { cidr: '192.168.0.2/32' } }] }],
  });
  const denyMonitoring = networkPolicy('deny-monitoring', { namespace: 'monitoring', ingress: [] });

  it('as-node (default): selectors ignore hostNetwork pods; their traffic is node traffic', () =>
    check(cluster, [fromAgents], [
      { from: 'monitoring/agent-1', to: 'default/db', port: 9100, allowed: true, basis: { egress: 'not-isolated', ingress: 'node-traffic' } },
      { from: 'monitoring/agent-2', to: 'default/db', port: 9100, allowed: false },
    ]));
  it('as-node: "you can allow traffic from a hostNetwork Pod using an ipBlock rule"', () =>
    check(cluster, [fromNode2], [{ from: 'monitoring/agent-2', to: 'default/db', port: 9100, allowed: true, basis: { ingress: 'rule' } }]));
  it('as-node: a hostNetwork pod is never isolated', () =>
    check(cluster, [denyMonitoring], [
      { from: 'default/db', to: 'monitoring/agent-2', port: 9100, allowed: true, basis: { ingress: 'not-isolated' } },
      { from: 'default/db', to: 'monitoring/scraper', port: 9100, allowed: false },
    ]));
  it('as-pod: hostNetwork pods are selected and isolated like other pods', () =>
    check(
      cluster,
      [fromAgents, denyMonitoring],
      [
        { from: 'monitoring/agent-2', to: 'default/db', port: 9100, allowed: true, basis: { ingress: 'rule' } },
        { from: 'default/db', to: 'monitoring/agent-2', port: 9100, allowed: false },
      ],
      { hostNetworkPods: 'as-pod' },
    ));
});

describe('connections out of scope or not involving policy', () => {
  const denyAll = policies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: default}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
`);
  it('"a pod cannot block access to itself"', () => {
    const result = evaluateConnection(docsCluster, denyAll, connection('default/db', '10.244.0.10', 6379));
    expect(result).toMatchObject({ allowed: true, egress: { basis: 'self' }, ingress: { basis: 'self' } });
  });
  it('neither end a pod: nothing applies', () => {
    const result = evaluateConnection(docsCluster, denyAll, connection('203.0.113.7', '10.0.0.1', 80));
    expect(result).toMatchObject({ allowed: true, egress: { basis: 'not-a-pod' }, ingress: { basis: 'not-a-pod' } });
  });
  it('an unknown pod reference is a caller error', () => {
    const unknown: Connection = connection('default/nope', 'default/db', 80);
    expect(() => evaluateConnection(docsCluster, denyAll, unknown)).toThrow(/default\/nope is not in the cluster model/);
  });
  it('unknown kinds and malformed objects are reported, not applied', () => {
    const odd = [
      { kind: 'AdminNetworkPolicy', metadata: { name: 'cluster-baseline' } },
      { kind: 'NetworkPolicy', metadata: { name: 'no-spec', namespace: 'default' } },
      { kind: 'NetworkPolicy', spec: { podSelector: {} } },
      null,
    ] as unknown as Policy[];
    const evaluator = createEvaluator(docsCluster, odd);
    expect(evaluator.ignoredPolicies).toEqual([
      'AdminNetworkPolicy cluster-baseline: unsupported kind',
      'NetworkPolicy default/no-spec: spec missing',
      'NetworkPolicy ?: metadata.name missing',
      'not an object: null',
    ]);
    expect(evaluator.evaluate(connection('default/frontend', 'default/db', 1)).allowed).toBe(true);
  });
  it('malformed selector requirements match nothing instead of throwing', () => {
    const policy = {
      kind: 'NetworkPolicy',
      metadata: { name: 'odd', namespace: 'default' },
      spec: { podSelector: { matchLabels: { role: 'db' } }, ingress: [{ from: [{ podSelector: { matchExpressions: [{ operator: 'Exists' }] } }] }] },
    } as unknown as Policy;
    expect(evaluateConnection(docsCluster, [policy], connection('default/frontend', 'default/db', 1)).allowed).toBe(false);
  });
});
