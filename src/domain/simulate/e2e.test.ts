/**
 * Truth tables reproduced from kubernetes `test/e2e/network/netpol/network_policy.go` ("Netpol
 * NetworkPolicy between server and client" and its UDP / SCTP variants), on the suite's model
 * (namespaces x, y, z × pods a, b, c; ports 80/81 over TCP/UDP/SCTP). Each case keeps the upstream
 * test name, policies and `reachability.Expect*` calls; loopback is ignored as upstream does.
 */
import { describe, expect, it } from 'vitest';
import { createEvaluator } from './evaluate.js';
import type { L4Protocol, NetworkPolicy, NetworkPolicyPeer } from './model.js';
import { E2E_PODS, Reachability, e2eCluster, e2ePodIP, e2ePodIPv6, mismatches, networkPolicy, probe } from './testkit.js';

const NS_LABEL = 'kubernetes.io/metadata.name';

interface Check {
  readonly port: number;
  readonly protocol: L4Protocol;
  readonly expect: (r: Reachability) => Reachability;
}

interface E2ECase {
  readonly name: string;
  readonly policies: readonly NetworkPolicy[];
  readonly checks: readonly Check[];
}

const all = (r: Reachability): Reachability => r;
const tcp = (port: number, expect: Check['expect'] = all): Check => ({ port, protocol: 'TCP', expect });

const podA = { matchLabels: { pod: 'a' } };
const denyIngressX = networkPolicy('deny-ingress', { ingress: [] });
const nsIs = (ns: string): NetworkPolicyPeer['namespaceSelector'] => ({ matchLabels: { [NS_LABEL]: ns } });
const notInX = { matchExpressions: [{ key: NS_LABEL, operator: 'NotIn', values: ['x'] }] };

/** "makeLargeCIDRForIP": a wide block around the pod network. */
const LARGE_CIDR = '10.0.0.0/8';

const cases: readonly E2ECase[] = [
  {
    name: "should support a 'default-deny-ingress' policy",
    policies: [denyIngressX],
    checks: [tcp(80, (r) => r.expectPeer({}, { namespace: 'x' }, false))],
  },
  {
    name: "should support a 'default-deny-all' policy",
    policies: [networkPolicy('deny-all', { ingress: [], egress: [] })],
    checks: [tcp(80, (r) => r.expectPeer({}, { namespace: 'x' }, false).expectPeer({ namespace: 'x' }, {}, false))],
  },
  {
    name: 'should enforce policy to allow traffic from pods within server namespace based on PodSelector',
    policies: [networkPolicy('x-a-allows-x-b', { podSelector: podA, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] })],
    checks: [tcp(80, (r) => r.expectAllIngress('x/a', false).expect('x/b', 'x/a', true))],
  },
  {
    name: 'should enforce policy to allow ingress traffic for a target',
    policies: [
      networkPolicy('deny-all', { ingress: [] }),
      networkPolicy('allow-all-to-a', { podSelector: podA, ingress: [{ from: [{ podSelector: {}, namespaceSelector: {} }] }] }),
    ],
    checks: [tcp(80, (r) => r.expectAllIngress('x/a', true).expectAllIngress('x/b', false).expectAllIngress('x/c', false))],
  },
  {
    name: 'should enforce policy to allow ingress traffic from pods in all namespaces',
    policies: [networkPolicy('allow-from-another-ns', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: {} } }] }] })],
    checks: [tcp(80)],
  },
  {
    name: 'should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector',
    policies: [networkPolicy('allow-client-a-via-ns-selector', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: nsIs('y') }] }] })],
    checks: [tcp(80, (r) => r.expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false).expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false))],
  },
  {
    name: 'should enforce policy based on PodSelector with MatchExpressions',
    policies: [
      networkPolicy('x-a-allows-x-b', {
        podSelector: podA,
        ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b'] }] } }] }],
      }),
    ],
    checks: [tcp(80, (r) => r.expectAllIngress('x/a', false).expect('x/b', 'x/a', true))],
  },
  {
    name: 'should enforce policy based on NamespaceSelector with MatchExpressions',
    policies: [
      networkPolicy('allow-ns-y-match-selector', {
        podSelector: podA,
        ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: NS_LABEL, operator: 'In', values: ['y'] }] } }] }],
      }),
    ],
    checks: [tcp(80, (r) => r.expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false).expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false))],
  },
  {
    name: 'should enforce policy based on PodSelector or NamespaceSelector',
    policies: [
      networkPolicy('allow-ns-y-match-selector', {
        podSelector: podA,
        ingress: [{ from: [{ namespaceSelector: notInX }, { podSelector: { matchLabels: { pod: 'b' } } }] }],
      }),
    ],
    checks: [tcp(80, (r) => r.expect('x/a', 'x/a', false).expect('x/c', 'x/a', false))],
  },
  {
    name: 'should enforce policy based on PodSelector and NamespaceSelector',
    policies: [
      networkPolicy('allow-ns-y-podselector-and-nsselector', {
        podSelector: podA,
        ingress: [{ from: [{ namespaceSelector: notInX, podSelector: { matchLabels: { pod: 'b' } } }] }],
      }),
    ],
    checks: [tcp(80, (r) => r.expectAllIngress('x/a', false).expect('y/b', 'x/a', true).expect('z/b', 'x/a', true))],
  },
  {
    name: 'should enforce policy based on Multiple PodSelectors and NamespaceSelectors',
    policies: [
      networkPolicy('allow-ns-y-z-pod-b-c', {
        podSelector: podA,
        ingress: [{ from: [{ namespaceSelector: notInX, podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b', 'c'] }] } }] }],
      }),
    ],
    checks: [
      tcp(80, (r) =>
        r.expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false).expect('y/a', 'x/a', false).expect('z/a', 'x/a', false),
      ),
    ],
  },
  {
    name: 'should enforce policy based on any PodSelectors',
    policies: [
      networkPolicy('allow-ns-x-pod-b-c', {
        podSelector: podA,
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }, { podSelector: { matchLabels: { pod: 'c' } } }] }],
      }),
    ],
    checks: [tcp(80, (r) => r.expectAllIngress('x/a', false).expect('x/b', 'x/a', true).expect('x/c', 'x/a', true))],
  },
  {
    name: 'should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector',
    policies: [
      networkPolicy('allow-ns-y-pod-a-via-namespace-pod-selector', {
        podSelector: podA,
        ingress: [{ from: [{ namespaceSelector: nsIs('y'), podSelector: podA }] }],
      }),
    ],
    checks: (['TCP', 'UDP', 'SCTP'] as const).map((protocol) => ({
      port: 80,
      protocol,
      expect: (r: Reachability) => r.expectAllIngress('x/a', false).expect('y/a', 'x/a', true),
    })),
  },
  {
    name: 'should enforce policy based on Ports',
    policies: [
      networkPolicy('allow-client-a-via-ns-selector', {
        podSelector: podA,
        ingress: [{ from: [{ namespaceSelector: nsIs('y') }], ports: [{ port: 81, protocol: 'TCP' }] }],
      }),
    ],
    checks: [
      tcp(81, (r) =>
        r
          .expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false)
          .expectPeer({ namespace: 'y' }, { namespace: 'x', pod: 'a' }, true)
          .expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false),
      ),
      tcp(80, (r) => r.expectAllIngress('x/a', false)),
    ],
  },
  {
    name: 'should enforce multiple, stacked policies with overlapping podSelectors (after adding the port 80 policy)',
    policies: [
      networkPolicy('allow-client-a-via-ns-selector', {
        podSelector: podA,
        ingress: [{ from: [{ namespaceSelector: nsIs('y') }], ports: [{ port: 81, protocol: 'TCP' }] }],
      }),
      networkPolicy('allow-client-a-via-ns-selector-80', {
        podSelector: podA,
        ingress: [{ from: [{ namespaceSelector: nsIs('y') }], ports: [{ port: 80, protocol: 'TCP' }] }],
      }),
    ],
    checks: [80, 81].map((port) =>
      tcp(port, (r) =>
        r
          .expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false)
          .expectPeer({ namespace: 'y' }, { namespace: 'x', pod: 'a' }, true)
          .expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false),
      ),
    ),
  },
  {
    name: 'should support allow-all policy',
    policies: [networkPolicy('allow-all', { ingress: [{}] })],
    checks: [tcp(80), tcp(81)],
  },
  {
    name: 'should allow ingress access on one named port',
    policies: [networkPolicy('allow-all', { ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] })],
    checks: [tcp(81), tcp(80, (r) => r.expectPeer({}, { namespace: 'x' }, false))],
  },
  {
    name: 'should allow ingress access from namespace on one named port',
    policies: [
      networkPolicy('allow-client-a-via-ns-selector-80', {
        podSelector: podA,
        ingress: [{ from: [{ namespaceSelector: nsIs('y') }], ports: [{ port: 'serve-80-tcp', protocol: 'TCP' }] }],
      }),
    ],
    checks: [
      tcp(80, (r) => r.expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false).expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false)),
      tcp(81, (r) => r.expectAllIngress('x/a', false)),
    ],
  },
  {
    name: 'should allow egress access on one named port',
    policies: [networkPolicy('allow-egress', { egress: [{ ports: [{ port: 'serve-80-tcp' }] }] })],
    checks: [tcp(80), tcp(81, (r) => r.expectPeer({ namespace: 'x' }, {}, false))],
  },
  {
    name: 'should enforce updated policy (after the update to deny all)',
    policies: [networkPolicy('allow-all-mutate-to-deny-all', { ingress: [] })],
    checks: [tcp(81, (r) => r.expectPeer({}, { namespace: 'x' }, false))],
  },
  {
    name: 'should allow ingress access from updated namespace (before the label is added)',
    policies: [networkPolicy('allow-client-a-via-ns-selector', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns2: 'updated' } } }] }] })],
    checks: [tcp(80, (r) => r.expectAllIngress('x/a', false))],
  },
  {
    name: 'should deny ingress from pods on other namespaces',
    policies: [networkPolicy('deny-empty-policy', { ingress: [{ from: [{ podSelector: { matchLabels: {} } }] }] })],
    checks: [tcp(80, (r) => r.expectPeer({ namespace: 'y' }, { namespace: 'x' }, false).expectPeer({ namespace: 'z' }, { namespace: 'x' }, false))],
  },
  {
    name: 'should deny ingress access to updated pod (before the label is added)',
    policies: [networkPolicy('deny-ingress-via-label-selector', { podSelector: { matchLabels: { target: 'isolated' } }, ingress: [] })],
    checks: [tcp(80)],
  },
  {
    name: 'should deny egress from pods based on PodSelector',
    policies: [networkPolicy('deny-egress-pod-a', { podSelector: podA, egress: [] })],
    checks: [tcp(80, (r) => r.expectAllEgress('x/a', false))],
  },
  {
    name: 'should deny egress from all pods in a namespace',
    policies: [networkPolicy('deny-egress-ns-x', { egress: [] })],
    checks: [tcp(80, (r) => r.expectPeer({ namespace: 'x' }, {}, false))],
  },
  {
    name: 'should work with Ingress, Egress specified together',
    policies: [
      networkPolicy('allow-client-a-via-pod-selector', {
        podSelector: podA,
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }],
        egress: [{ ports: [{ port: 80 }] }],
      }),
    ],
    checks: [
      tcp(80, (r) => r.expectAllIngress('x/a', false).expect('x/b', 'x/a', true)),
      tcp(81, (r) => r.expectAllIngress('x/a', false).expectAllEgress('x/a', false).expect('x/b', 'x/a', true)),
    ],
  },
  {
    name: 'should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)',
    policies: [
      networkPolicy('allow-to-ns-y-pod-a', { podSelector: podA, egress: [{ to: [{ namespaceSelector: nsIs('y'), podSelector: podA }] }] }),
      networkPolicy('allow-from-xa-on-ya-match-selector', {
        namespace: 'y',
        podSelector: podA,
        ingress: [{ from: [{ namespaceSelector: nsIs('x'), podSelector: podA }] }],
      }),
      networkPolicy('allow-from-xa-on-yb-match-selector', {
        namespace: 'y',
        podSelector: { matchLabels: { pod: 'b' } },
        ingress: [{ from: [{ namespaceSelector: nsIs('x'), podSelector: podA }] }],
      }),
    ],
    checks: [
      tcp(80, (r) =>
        r
          .expectPeer({ namespace: 'x', pod: 'a' }, {}, false)
          .expectPeer({}, { namespace: 'y', pod: 'a' }, false)
          .expectPeer({ namespace: 'x', pod: 'a' }, { namespace: 'y', pod: 'a' }, true)
          .expectPeer({}, { namespace: 'y', pod: 'b' }, false),
      ),
    ],
  },
  {
    name: 'should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector',
    policies: [networkPolicy('allow-to-ns-y-pod-a', { podSelector: podA, egress: [{ to: [{ namespaceSelector: nsIs('y'), podSelector: podA }] }] })],
    checks: [tcp(80, (r) => r.expectAllEgress('x/a', false).expect('x/a', 'y/a', true))],
  },
  {
    name: 'should enforce ingress policy allowing any port traffic to a server on a specific protocol',
    policies: [networkPolicy('allow-ingress-by-proto', { podSelector: podA, ingress: [{ ports: [{ protocol: 'TCP' }] }] })],
    checks: [tcp(80), { port: 80, protocol: 'UDP', expect: (r) => r.expectPeer({}, { namespace: 'x', pod: 'a' }, false) }],
  },
  {
    name: 'should enforce multiple ingress policies with ingress allow-all policy taking precedence (port 80 only)',
    policies: [networkPolicy('allow-ingress-port-80', { ingress: [{ ports: [{ port: 80 }] }] })],
    checks: [tcp(81, (r) => r.expectPeer({}, { namespace: 'x' }, false))],
  },
  {
    name: 'should enforce multiple ingress policies with ingress allow-all policy taking precedence (after allow-all)',
    policies: [networkPolicy('allow-ingress-port-80', { ingress: [{ ports: [{ port: 80 }] }] }), networkPolicy('allow-ingress', { ingress: [{}] })],
    checks: [tcp(81)],
  },
  {
    name: 'should enforce multiple egress policies with egress allow-all policy taking precedence (port 80 only)',
    policies: [networkPolicy('allow-egress-port-80', { egress: [{ ports: [{ port: 80 }] }] })],
    checks: [tcp(81, (r) => r.expectPeer({ namespace: 'x' }, {}, false))],
  },
  {
    name: 'should enforce multiple egress policies with egress allow-all policy taking precedence (after allow-all)',
    policies: [networkPolicy('allow-egress-port-80', { egress: [{ ports: [{ port: 80 }] }] }), networkPolicy('allow-egress', { egress: [{}] })],
    checks: [tcp(81)],
  },
  {
    name: 'should stop enforcing policies after they are deleted (while the policy exists)',
    policies: [networkPolicy('deny-all', { ingress: [], egress: [] })],
    checks: [tcp(80, (r) => r.expectPeer({ namespace: 'x' }, {}, false).expectPeer({}, { namespace: 'x' }, false))],
  },
  {
    name: 'should stop enforcing policies after they are deleted (after deletion)',
    policies: [],
    checks: [tcp(80)],
  },
  {
    name: 'should allow egress access to server in CIDR block',
    policies: [networkPolicy('allow-client-a-via-cidr-egress-rule', { podSelector: podA, egress: [{ to: [{ ipBlock: { cidr: `${e2ePodIP('y/b')}/32` } }] }] })],
    checks: [tcp(80, (r) => r.expectAllEgress('x/a', false).expect('x/a', 'y/b', true))],
  },
  {
    name: 'should enforce except clause while egress access to server in CIDR block',
    policies: [
      networkPolicy('allow-client-a-via-cidr-egress-rule', {
        podSelector: podA,
        egress: [{ to: [{ ipBlock: { cidr: LARGE_CIDR, except: [`${e2ePodIP('x/b')}/32`] } }] }],
      }),
    ],
    checks: [tcp(80, (r) => r.expect('x/a', 'x/b', false))],
  },
  {
    name: 'should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed (after the update)',
    policies: [networkPolicy('allow-client-a-via-cidr-egress-rule', { podSelector: podA, egress: [{ to: [{ ipBlock: { cidr: `${e2ePodIP('x/b')}/32` } }] }] })],
    checks: [tcp(80, (r) => r.expectAllEgress('x/a', false).expect('x/a', 'x/b', true))],
  },
  {
    name: 'should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector',
    policies: [
      networkPolicy('allow-egress-for-target', { podSelector: podA, egress: [{}] }),
      networkPolicy('deny-ingress-via-label-selector', { podSelector: podA, ingress: [] }),
    ],
    checks: [tcp(80, (r) => r.expectAllIngress('x/a', false))],
  },
  {
    name: "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP",
    policies: [denyIngressX, networkPolicy('allow-only-sctp-ingress-on-port-81', { podSelector: podA, ingress: [{ ports: [{ port: 81, protocol: 'SCTP' }] }] })],
    checks: [tcp(81, (r) => r.expectPeer({}, { namespace: 'x' }, false))],
  },
  {
    name: "should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP",
    policies: [networkPolicy('allow-only-sctp-ingress-on-port-80', { podSelector: podA, ingress: [{ ports: [{ port: 80, protocol: 'SCTP' }] }] })],
    checks: [tcp(81, (r) => r.expectAllIngress('x/a', false))],
  },
  {
    name: 'should not allow access by TCP when a policy specifies only UDP',
    policies: [networkPolicy('allow-only-udp-ingress-on-port-81', { podSelector: podA, ingress: [{ ports: [{ port: 81, protocol: 'UDP' }] }] })],
    checks: [tcp(81, (r) => r.expectAllIngress('x/a', false))],
  },
  {
    name: 'should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label',
    policies: [networkPolicy('allow-client-a-via-ns-selector-for-immutable-ns-label', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: nsIs('y') }] }] })],
    checks: [tcp(80, (r) => r.expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false).expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false))],
  },
  {
    name: 'should enforce policy based on NamespaceSelector with MatchExpressions using default ns label',
    policies: [
      networkPolicy('allow-ns-y-match-selector-for-immutable-ns-label', {
        podSelector: podA,
        egress: [{ to: [{ namespaceSelector: { matchExpressions: [{ key: NS_LABEL, operator: 'NotIn', values: ['y'] }] } }] }],
      }),
    ],
    checks: [tcp(80, (r) => r.expectPeer({ namespace: 'x', pod: 'a' }, { namespace: 'y' }, false))],
  },
  {
    name: "UDP: should support a 'default-deny-ingress' policy",
    policies: [networkPolicy('deny-all', { ingress: [] })],
    checks: [{ port: 80, protocol: 'UDP', expect: (r) => r.expectPeer({}, { namespace: 'x' }, false) }],
  },
  {
    name: 'UDP: should enforce policy based on Ports',
    policies: [
      networkPolicy('allow-ingress-on-port-81-ns-x', {
        podSelector: podA,
        ingress: [{ from: [{ namespaceSelector: nsIs('y') }], ports: [{ port: 81, protocol: 'UDP' }] }],
      }),
    ],
    checks: [
      {
        port: 81,
        protocol: 'UDP',
        expect: (r) => r.expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false).expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false),
      },
    ],
  },
  {
    name: "SCTP: should support a 'default-deny-ingress' policy",
    policies: [networkPolicy('deny-all', { ingress: [] })],
    checks: [{ port: 80, protocol: 'SCTP', expect: (r) => r.expectPeer({}, { namespace: 'x' }, false) }],
  },
  {
    name: 'SCTP: should enforce policy based on Ports',
    policies: [
      networkPolicy('allow-ingress-on-port-81-ns-x', {
        podSelector: podA,
        ingress: [{ from: [{ namespaceSelector: nsIs('y') }], ports: [{ port: 81, protocol: 'SCTP' }] }],
      }),
    ],
    checks: [
      {
        port: 81,
        protocol: 'SCTP',
        expect: (r) => r.expectPeer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false).expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false),
      },
    ],
  },
];

describe('kubernetes e2e netpol truth tables', () => {
  const cluster = e2eCluster();
  for (const testCase of cases) {
    for (const check of testCase.checks) {
      it(`${testCase.name} [${check.protocol}/${check.port}]`, () => {
        const evaluator = createEvaluator(cluster, testCase.policies);
        const expected = check.expect(new Reachability(E2E_PODS, true));
        expect(mismatches(expected, probe(evaluator, E2E_PODS, check.port, check.protocol))).toEqual([]);
      });
    }
  }
});

describe('e2e model, dual-stack', () => {
  const cluster = e2eCluster();
  it('an IPv6 ipBlock matches the pod by its IPv6 address only', () => {
    const policies = [networkPolicy('v6-only', { podSelector: podA, egress: [{ to: [{ ipBlock: { cidr: `${e2ePodIPv6('y/b')}/128` } }] }] })];
    const evaluator = createEvaluator(cluster, policies);
    const to = (ip: string): boolean =>
      evaluator.evaluate({ source: { kind: 'pod', namespace: 'x', name: 'a' }, destination: { kind: 'ip', ip }, port: 80, protocol: 'TCP' }).allowed;
    expect(to(e2ePodIPv6('y/b'))).toBe(true);
    expect(to(e2ePodIP('y/b'))).toBe(false);
    expect(to(e2ePodIPv6('y/a'))).toBe(false);
  });
});

describe('truth-table harness', () => {
  it('reports every cell that differs (here: a deny-ingress policy checked against an all-true table)', () => {
    const evaluator = createEvaluator(e2eCluster(), [denyIngressX]);
    const found = mismatches(new Reachability(E2E_PODS, true), probe(evaluator, E2E_PODS, 80, 'TCP'));
    // 3 isolated pods × 8 non-loopback sources
    expect(found).toHaveLength(24);
    expect(found).toContain('y/c → x/a: expected true, evaluated false');
  });
});
