/**
 * Properties that follow from the documented semantics, checked with fast-check over random
 * NetworkPolicies / CiliumNetworkPolicies on the e2e model (x, y, z × a, b, c) plus external peers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEvaluator } from './evaluate.js';
import type {
  CiliumIngressRule,
  CiliumNetworkPolicy,
  Connection,
  L4Protocol,
  LabelSelector,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  Policy,
} from './model.js';
import { E2E_PODS, e2eCluster, e2ePodIP } from './testkit.js';

const cluster = e2eCluster();
const EXTERNAL = ['203.0.113.5', '192.168.0.1', '192.168.0.2', '10.1.1.1', '2001:db8::5'];

const selectorArb: fc.Arbitrary<LabelSelector> = fc.record(
  {
    matchLabels: fc.dictionary(fc.constantFrom('pod', 'ns'), fc.constantFrom('a', 'b', 'c', 'x', 'y'), { maxKeys: 1 }),
    matchExpressions: fc.array(
      fc.record({
        key: fc.constantFrom('pod', 'ns', 'kubernetes.io/metadata.name', 'role'),
        operator: fc.constantFrom('In', 'NotIn', 'Exists', 'DoesNotExist'),
        values: fc.subarray(['a', 'b', 'x', 'z']),
      }),
      { maxLength: 2 },
    ),
  },
  { requiredKeys: [] },
);

const peerArb: fc.Arbitrary<NetworkPolicyPeer> = fc.oneof(
  fc.record({ podSelector: selectorArb }),
  fc.record({ namespaceSelector: selectorArb }),
  fc.record({ podSelector: selectorArb, namespaceSelector: selectorArb }),
  fc.record({
    ipBlock: fc.constantFrom(
      { cidr: '10.244.0.0/16', except: ['10.244.2.0/24'] },
      { cidr: `${e2ePodIP('y/b')}/32` },
      { cidr: '0.0.0.0/0' },
      { cidr: '203.0.113.0/24' },
      { cidr: '192.168.0.0/24', except: ['192.168.0.2/32'] },
      { cidr: '2001:db8::/32' },
    ),
  }),
);

const portArb: fc.Arbitrary<NetworkPolicyPort> = fc.constantFrom<NetworkPolicyPort>(
  {},
  { port: 80 },
  { port: 81, protocol: 'UDP' },
  { port: 'serve-80-tcp' },
  { port: 'serve-81-sctp', protocol: 'SCTP' },
  { port: 80, endPort: 443 },
  { protocol: 'SCTP' },
);

const ruleArb = fc.record(
  { peers: fc.array(peerArb, { maxLength: 2 }), ports: fc.array(portArb, { maxLength: 2 }) },
  { requiredKeys: [] },
);

type RuleShape = { peers?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] };

function ingressRule(rule: RuleShape): NonNullable<NetworkPolicy['spec']['ingress']>[number] {
  return { ...(rule.peers === undefined ? {} : { from: rule.peers }), ...(rule.ports === undefined ? {} : { ports: rule.ports }) };
}

function egressRule(rule: RuleShape): NonNullable<NetworkPolicy['spec']['egress']>[number] {
  return { ...(rule.peers === undefined ? {} : { to: rule.peers }), ...(rule.ports === undefined ? {} : { ports: rule.ports }) };
}

function policyArb(explicitTypes: boolean): fc.Arbitrary<NetworkPolicy> {
  return fc
    .record({
      name: fc.constantFrom('p1', 'p2', 'p3', 'p4'),
      namespace: fc.constantFrom('x', 'y', 'z'),
      podSelector: selectorArb,
      types: explicitTypes
        ? fc.constantFrom<('Ingress' | 'Egress')[]>(['Ingress'], ['Egress'], ['Ingress', 'Egress'])
        : fc.option(fc.constantFrom<('Ingress' | 'Egress')[]>(['Ingress'], ['Egress'], ['Ingress', 'Egress']), { nil: undefined }),
      ingress: fc.option(fc.array(ruleArb, { maxLength: 2 }), { nil: undefined }),
      egress: fc.option(fc.array(ruleArb, { maxLength: 2 }), { nil: undefined }),
    })
    .map(({ name, namespace, podSelector, types, ingress, egress }) => ({
      kind: 'NetworkPolicy' as const,
      metadata: { name, namespace },
      spec: {
        podSelector,
        ...(types === undefined ? {} : { policyTypes: types }),
        ...(ingress === undefined ? {} : { ingress: ingress.map(ingressRule) }),
        ...(egress === undefined ? {} : { egress: egress.map(egressRule) }),
      },
    }));
}

const endpointArb = fc.constantFrom(...E2E_PODS, ...EXTERNAL);
const connectionArb: fc.Arbitrary<Connection> = fc
  .record({
    from: endpointArb,
    to: endpointArb,
    port: fc.constantFrom(80, 81, 443),
    protocol: fc.constantFrom<L4Protocol>('TCP', 'UDP', 'SCTP'),
  })
  .map(({ from, to, port, protocol }) => ({
    source: toPeer(from),
    destination: toPeer(to),
    port,
    protocol,
  }));

function toPeer(text: string): Connection['source'] {
  if (E2E_PODS.includes(text)) {
    const [namespace = '', name = ''] = text.split('/');
    return { kind: 'pod', namespace, name };
  }
  return { kind: 'ip', ip: text };
}

const connectionsArb = fc.array(connectionArb, { minLength: 1, maxLength: 12 });

describe('NetworkPolicy properties', () => {
  it('with no policies every connection is allowed', () => {
    fc.assert(
      fc.property(connectionArb, (c) => {
        expect(createEvaluator(cluster, []).evaluate(c).allowed).toBe(true);
      }),
    );
  });

  it('a connection is allowed exactly when both its egress side and its ingress side allow it', () => {
    fc.assert(
      fc.property(fc.array(policyArb(false), { maxLength: 4 }), connectionsArb, (policies, connections) => {
        const evaluator = createEvaluator(cluster, policies);
        for (const c of connections) {
          const result = evaluator.evaluate(c);
          expect(result.allowed).toBe(result.egress.allowed && result.ingress.allowed);
          for (const side of [result.egress, result.ingress]) {
            if (!side.isolated) expect(side.allowed).toBe(true);
            if (side.isolated && side.allowedBy.length === 0 && side.basis !== 'node-traffic') expect(side.allowed).toBe(false);
          }
        }
      }),
    );
  });

  it('"order of evaluation does not affect the policy result"', () => {
    fc.assert(
      fc.property(
        fc.array(policyArb(false), { maxLength: 4 }).chain((policies) => fc.tuple(fc.constant(policies), fc.shuffledSubarray(policies, { minLength: policies.length }))),
        connectionsArb,
        ([policies, shuffled], connections) => {
          const a = createEvaluator(cluster, policies);
          const b = createEvaluator(cluster, shuffled);
          for (const c of connections) expect(b.evaluate(c)).toEqual(a.evaluate(c));
        },
      ),
    );
  });

  it('adding an allow rule to an existing policy never removes an allowed connection', () => {
    fc.assert(
      fc.property(
        fc.array(policyArb(true), { minLength: 1, maxLength: 3 }),
        fc.nat(),
        ruleArb,
        fc.constantFrom<'ingress' | 'egress'>('ingress', 'egress'),
        connectionsArb,
        (policies, at, rule, direction, connections) => {
          const index = at % policies.length;
          const target = policies[index];
          if (target === undefined) return;
          const widened: NetworkPolicy = {
            ...target,
            spec:
              direction === 'ingress'
                ? { ...target.spec, ingress: [...(target.spec.ingress ?? []), ingressRule(rule)] }
                : { ...target.spec, egress: [...(target.spec.egress ?? []), egressRule(rule)] },
          };
          const before = createEvaluator(cluster, policies);
          const after = createEvaluator(cluster, policies.map((p, i) => (i === index ? widened : p)));
          for (const c of connections) if (before.evaluate(c).allowed) expect(after.evaluate(c).allowed).toBe(true);
        },
      ),
    );
  });

  it('adding a policy only ever isolates: anything it allows was already allowed or newly isolated', () => {
    fc.assert(
      fc.property(fc.array(policyArb(false), { maxLength: 3 }), policyArb(false), connectionsArb, (policies, extra, connections) => {
        const before = createEvaluator(cluster, policies);
        const after = createEvaluator(cluster, [...policies, extra]);
        for (const c of connections) {
          const was = before.evaluate(c);
          const now = after.evaluate(c);
          // A side that was not isolated stays allowed or becomes isolated by the new policy; a side
          // that was isolated can only gain allowances.
          for (const direction of ['egress', 'ingress'] as const) {
            if (was[direction].isolated && was[direction].allowed) expect(now[direction].allowed).toBe(true);
            if (!now[direction].allowed) expect(now[direction].isolated).toBe(true);
          }
        }
      }),
    );
  });

  it('a policy that selects no pod changes nothing', () => {
    const inert: NetworkPolicy = {
      kind: 'NetworkPolicy',
      metadata: { name: 'inert', namespace: 'x' },
      spec: { podSelector: { matchLabels: { pod: 'nobody' } }, policyTypes: ['Ingress', 'Egress'] },
    };
    fc.assert(
      fc.property(fc.array(policyArb(false), { maxLength: 3 }), connectionsArb, (policies, connections) => {
        const a = createEvaluator(cluster, policies);
        const b = createEvaluator(cluster, [...policies, inert]);
        for (const c of connections) expect(b.evaluate(c)).toEqual(a.evaluate(c));
      }),
    );
  });

  it('"Allow all ingress traffic": with it in place no other policy can deny an incoming connection', () => {
    const allowAll: NetworkPolicy = {
      kind: 'NetworkPolicy',
      metadata: { name: 'allow-all-ingress', namespace: 'y' },
      spec: { podSelector: {}, ingress: [{}], policyTypes: ['Ingress'] },
    };
    fc.assert(
      fc.property(fc.array(policyArb(false), { maxLength: 4 }), connectionsArb, (policies, connections) => {
        const evaluator = createEvaluator(cluster, [...policies, allowAll]);
        for (const c of connections) {
          if (c.destination.kind === 'pod' && c.destination.namespace === 'y') expect(evaluator.evaluate(c).ingress.allowed).toBe(true);
        }
      }),
    );
  });
});

describe('CiliumNetworkPolicy properties', () => {
  const entryArb: fc.Arbitrary<CiliumIngressRule> = fc.record(
    {
      fromEndpoints: fc.array(selectorArb, { maxLength: 2 }),
      fromEntities: fc.subarray(['world', 'cluster', 'host', 'remote-node', 'kube-apiserver', 'all'] as const),
      fromCIDRSet: fc.subarray([{ cidr: '203.0.113.0/24' }, { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] }, { cidr: '192.168.0.0/16' }]),
      toPorts: fc.array(
        fc.record({ ports: fc.array(fc.record({ port: fc.constantFrom('80', '81', '0', 'serve-80-tcp'), protocol: fc.constantFrom('TCP', 'UDP', 'ANY') }), { minLength: 1, maxLength: 2 }) }),
        { maxLength: 1 },
      ),
    },
    { requiredKeys: [] },
  );

  const cnpArb: fc.Arbitrary<CiliumNetworkPolicy> = fc
    .record({
      name: fc.constantFrom('c1', 'c2', 'c3'),
      namespace: fc.constantFrom('x', 'y'),
      endpointSelector: selectorArb,
      ingress: fc.array(entryArb, { minLength: 1, maxLength: 2 }),
      egress: fc.array(
        entryArb.map((e) => ({
          ...(e.fromEndpoints === undefined ? {} : { toEndpoints: e.fromEndpoints }),
          ...(e.fromEntities === undefined ? {} : { toEntities: e.fromEntities }),
          ...(e.fromCIDRSet === undefined ? {} : { toCIDRSet: e.fromCIDRSet }),
          ...(e.toPorts === undefined ? {} : { toPorts: e.toPorts }),
        })),
        { minLength: 1, maxLength: 2 },
      ),
    })
    .map(({ name, namespace, endpointSelector, ingress, egress }) => ({
      kind: 'CiliumNetworkPolicy' as const,
      metadata: { name, namespace },
      spec: { endpointSelector, ingress, egress },
    }));

  it('adding deny rules never allows more', () => {
    fc.assert(
      fc.property(fc.array(cnpArb, { minLength: 1, maxLength: 3 }), entryArb, connectionsArb, (policies, deny, connections) => {
        const [first, ...rest] = policies;
        if (first === undefined) return;
        const withDeny: Policy[] = [{ ...first, spec: { ...first.spec, ingressDeny: [deny] } }, ...rest];
        const before = createEvaluator(cluster, policies);
        const after = createEvaluator(cluster, withDeny);
        for (const c of connections) if (after.evaluate(c).allowed) expect(before.evaluate(c).allowed).toBe(true);
      }),
    );
  });

  it('adding an allow entry to a non-empty ingress list never removes an allowed connection', () => {
    fc.assert(
      fc.property(fc.array(cnpArb, { minLength: 1, maxLength: 3 }), entryArb, connectionsArb, (policies, extra, connections) => {
        const [first, ...rest] = policies;
        if (first === undefined) return;
        const widened: Policy[] = [{ ...first, spec: { ...first.spec, ingress: [...(first.spec?.ingress ?? []), extra] } }, ...rest];
        const before = createEvaluator(cluster, policies);
        const after = createEvaluator(cluster, widened);
        for (const c of connections) if (before.evaluate(c).allowed) expect(after.evaluate(c).allowed).toBe(true);
      }),
    );
  });
});
