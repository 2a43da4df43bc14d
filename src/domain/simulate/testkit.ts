/**
 * Builders and truth-table helpers for the evaluator's tests (pure; imported only by `*.test.ts`).
 *
 * The e2e model reproduces kubernetes `test/e2e/network/netpol`: namespaces x, y, z (labelled
 * `ns=<name>` plus the automatic `kubernetes.io/metadata.name`), pods a, b, c in each (labelled
 * `pod=<name>`), each serving ports 80 and 81 over TCP, UDP and SCTP on container ports named
 * `serve-<port>-<protocol>`. A {@link Reachability} mirrors the suite's truth tables.
 */
import type { Evaluator } from './evaluate.js';
import type {
  ClusterModel,
  Connection,
  ContainerPortModel,
  IPPeer,
  L4Protocol,
  LabelSelector,
  Labels,
  NamespaceModel,
  NetworkPolicy,
  NetworkPolicyEgressRule,
  NetworkPolicyIngressRule,
  NodeModel,
  Peer,
  PodModel,
} from './model.js';
import { NAMESPACE_NAME_LABEL } from './model.js';

export function namespace(name: string, labels: Labels = {}): NamespaceModel {
  return { name, labels: { ...labels, [NAMESPACE_NAME_LABEL]: name } };
}

export interface PodSpec {
  readonly labels?: Labels;
  readonly ips?: readonly string[];
  readonly ports?: readonly ContainerPortModel[];
  readonly node?: string;
  readonly hostNetwork?: boolean;
  readonly serviceAccount?: string;
}

/** `pod('default/db', {...})`. */
export function pod(ref: string, spec: PodSpec = {}): PodModel {
  const [ns, name] = ref.split('/');
  if (ns === undefined || name === undefined) throw new Error(`pod ref ${ref} must be ns/name`);
  return {
    namespace: ns,
    name,
    labels: spec.labels ?? {},
    ips: spec.ips ?? [],
    ports: spec.ports ?? [],
    hostNetwork: spec.hostNetwork ?? false,
    ...(spec.node === undefined ? {} : { nodeName: spec.node }),
    ...(spec.serviceAccount === undefined ? {} : { serviceAccount: spec.serviceAccount }),
  };
}

export function node(name: string, ...internalIPs: string[]): NodeModel {
  return { name, internalIPs };
}

/** A pod peer from `ns/name`. */
export function podPeer(ref: string): Peer {
  const [ns, name] = ref.split('/');
  if (ns === undefined || name === undefined) throw new Error(`pod ref ${ref} must be ns/name`);
  return { kind: 'pod', namespace: ns, name };
}

export function ipPeer(ip: string, extra: Omit<IPPeer, 'kind' | 'ip'> = {}): Peer {
  return { kind: 'ip', ip, ...extra };
}

/** A peer from text: `ns/name` is a pod, anything else an address. */
export function peer(text: string): Peer {
  return text.includes('/') && !text.includes(':') && !/^\d/.test(text) ? podPeer(text) : ipPeer(text);
}

export function connection(source: Peer | string, destination: Peer | string, port: number, protocol: L4Protocol = 'TCP'): Connection {
  return {
    source: typeof source === 'string' ? peer(source) : source,
    destination: typeof destination === 'string' ? peer(destination) : destination,
    port,
    protocol,
  };
}

export interface NetworkPolicyParts {
  readonly namespace?: string;
  readonly podSelector?: LabelSelector;
  readonly ingress?: readonly NetworkPolicyIngressRule[];
  readonly egress?: readonly NetworkPolicyEgressRule[];
  /** Explicit policyTypes; by default, like the e2e suite's SetSpecIngressRules / SetSpecEgressRules, one per present section. */
  readonly policyTypes?: readonly ('Ingress' | 'Egress')[];
}

/** A NetworkPolicy in the style of the e2e suite's `GenNetworkPolicyWithNameAndPodSelector`. */
export function networkPolicy(name: string, parts: NetworkPolicyParts): NetworkPolicy {
  const policyTypes =
    parts.policyTypes ?? [...(parts.ingress === undefined ? [] : ['Ingress' as const]), ...(parts.egress === undefined ? [] : ['Egress' as const])];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: parts.namespace ?? 'x' },
    spec: {
      podSelector: parts.podSelector ?? {},
      policyTypes,
      ...(parts.ingress === undefined ? {} : { ingress: parts.ingress }),
      ...(parts.egress === undefined ? {} : { egress: parts.egress }),
    },
  };
}

// ───────────────────────────── the e2e model ─────────────────────────────

export const E2E_NAMESPACES = ['x', 'y', 'z'] as const;
export const E2E_POD_NAMES = ['a', 'b', 'c'] as const;
export const E2E_PODS: readonly string[] = E2E_NAMESPACES.flatMap((ns) => E2E_POD_NAMES.map((name) => `${ns}/${name}`));

/** IPv4 address of an e2e pod: 10.244.<ns index + 1>.<pod index + 10>. */
export function e2ePodIP(ref: string): string {
  const [ns, name] = ref.split('/');
  const nsIndex = E2E_NAMESPACES.indexOf(ns as (typeof E2E_NAMESPACES)[number]);
  const podIndex = E2E_POD_NAMES.indexOf(name as (typeof E2E_POD_NAMES)[number]);
  return `10.244.${nsIndex + 1}.${podIndex + 10}`;
}

/** IPv6 address of an e2e pod: fd00:10:244:<ns index + 1>::<pod index + 10>. */
export function e2ePodIPv6(ref: string): string {
  const [ns, name] = ref.split('/');
  const nsIndex = E2E_NAMESPACES.indexOf(ns as (typeof E2E_NAMESPACES)[number]);
  const podIndex = E2E_POD_NAMES.indexOf(name as (typeof E2E_POD_NAMES)[number]);
  return `fd00:10:244:${nsIndex + 1}::${(podIndex + 10).toString(16)}`;
}

export const E2E_NODES = [node('node-1', '192.168.0.1'), node('node-2', '192.168.0.2')];

/** x and z pods run on node-1, y pods on node-2; every pod is dual-stack. */
export function e2eCluster(): ClusterModel {
  const ports: ContainerPortModel[] = [80, 81].flatMap((number) =>
    (['TCP', 'UDP', 'SCTP'] as const).map((protocol) => ({ name: `serve-${number}-${protocol.toLowerCase()}`, containerPort: number, protocol })),
  );
  return {
    namespaces: E2E_NAMESPACES.map((ns) => namespace(ns, { ns })),
    pods: E2E_PODS.map((ref) =>
      pod(ref, {
        labels: { pod: ref.split('/')[1] ?? '' },
        ips: [e2ePodIP(ref), e2ePodIPv6(ref)],
        ports,
        node: ref.startsWith('y/') ? 'node-2' : 'node-1',
      }),
    ),
    nodes: E2E_NODES,
    kubeApiserverIPs: [],
  };
}

export interface PeerPattern {
  readonly namespace?: string;
  readonly pod?: string;
}

function matchesPattern(ref: string, pattern: PeerPattern): boolean {
  const [ns, name] = ref.split('/');
  return (pattern.namespace === undefined || pattern.namespace === ns) && (pattern.pod === undefined || pattern.pod === name);
}

/** The e2e suite's truth table: `expected[from][to]`, built with the same helper vocabulary. */
export class Reachability {
  private readonly table = new Map<string, Map<string, boolean>>();

  constructor(
    readonly pods: readonly string[],
    initial: boolean,
  ) {
    for (const from of pods) this.table.set(from, new Map(pods.map((to) => [to, initial])));
  }

  expect(from: string, to: string, value: boolean): this {
    this.table.get(from)?.set(to, value);
    return this;
  }

  /** `ExpectPeer(&Peer{...}, &Peer{...}, value)`: an empty pattern matches every pod. */
  expectPeer(from: PeerPattern, to: PeerPattern, value: boolean): this {
    for (const a of this.pods) for (const b of this.pods) if (matchesPattern(a, from) && matchesPattern(b, to)) this.expect(a, b, value);
    return this;
  }

  expectAllIngress(to: string, value: boolean): this {
    for (const from of this.pods) this.expect(from, to, value);
    return this;
  }

  expectAllEgress(from: string, value: boolean): this {
    for (const to of this.pods) this.expect(from, to, value);
    return this;
  }

  get(from: string, to: string): boolean | undefined {
    return this.table.get(from)?.get(to);
  }
}

/** Probes every ordered pod pair through the evaluator, like the e2e suite's probe matrix. */
export function probe(evaluator: Evaluator, pods: readonly string[], port: number, protocol: L4Protocol): Reachability {
  const observed = new Reachability(pods, false);
  for (const from of pods) {
    for (const to of pods) observed.expect(from, to, evaluator.evaluate(connection(from, to, port, protocol)).allowed);
  }
  return observed;
}

/**
 * Differences between expected and observed tables, ignoring loopback like the suite does
 * ("let's just ignore loopback calls for the purposes of deciding test pass/fail").
 */
export function mismatches(expected: Reachability, observed: Reachability): string[] {
  const out: string[] = [];
  for (const from of expected.pods) {
    for (const to of expected.pods) {
      if (from === to) continue;
      const want = expected.get(from, to);
      const got = observed.get(from, to);
      if (want !== got) out.push(`${from} → ${to}: expected ${String(want)}, evaluated ${String(got)}`);
    }
  }
  return out;
}
