/**
 * The flavor-neutral policy model: per workload, the ingress it must accept and the egress it
 * must send, derived only from learned edges plus the explicit allowances (docs/architecture.md §1, §4).
 * Translation into NetworkPolicy or CiliumNetworkPolicy objects is a separate, pure step.
 */
import type { DnsNameLookup } from './dns-names.js';
import type { Protocol } from './flow.js';
import type { EdgeRecord } from './edge-store.js';
import type { WorkloadCatalog } from './catalog.js';
import { compareIps } from './ip.js';
import { cachedPeerFromKey, type Peer, type WorkloadPeer } from './peer.js';
import { minimalSelector, type Labels } from './selector.js';

export interface Allowances {
  /** Keep name resolution working: DNS servers on 53/UDP and 53/TCP whenever one was observed. */
  readonly dns: boolean;
  /** Workloads behind a LoadBalancer / NodePort Service reached from the world accept 0.0.0.0/0 on that port. */
  readonly publicIngress: boolean;
  /** Every workload with a policy may reach the kube-apiserver endpoints, observed or not. */
  readonly kubeApiserver?: boolean;
}

export const defaultAllowances: Allowances = { dns: true, publicIngress: true };

export interface PortSpec {
  readonly port: number;
  readonly protocol: Protocol;
}

/** The learned edge behind a rule: an EdgeRecord (client, server, port, protocol, count, first and last seen). */
export type Evidence = EdgeRecord;

export type ModelPeer =
  | { readonly kind: 'workload'; readonly workload: WorkloadPeer; readonly matchLabels: Labels }
  | { readonly kind: 'world'; readonly ip: string; readonly names: readonly string[] }
  | { readonly kind: 'public' }
  | { readonly kind: 'host' }
  | { readonly kind: 'remote-node'; readonly ip: string }
  | { readonly kind: 'kube-apiserver'; readonly ips: readonly string[] };

export interface ModelRule {
  readonly peer: ModelPeer;
  readonly ports: readonly PortSpec[];
  /** The learned edges behind the rule (an EdgeRecord is an Evidence). */
  readonly evidence: readonly Evidence[];
  /** Why the rule allows more than was observed, when it does (an allowance). */
  readonly allowance?: 'dns' | 'public-ingress' | 'kube-apiserver';
}

export interface WorkloadPolicy {
  readonly workload: WorkloadPeer;
  readonly matchLabels: Labels;
  readonly ingress: readonly ModelRule[];
  readonly egress: readonly ModelRule[];
}

export interface SkippedWorkload {
  readonly workload: WorkloadPeer;
  readonly reason: string;
}

export interface NamespacePolicies {
  readonly namespace: string;
  readonly workloads: readonly WorkloadPolicy[];
  /** Workloads with observed traffic that could not get a policy (they stay covered by default deny). */
  readonly skipped: readonly SkippedWorkload[];
  /** Rules left out because the peer could not be selected exactly. */
  readonly droppedRules: readonly { readonly workload: WorkloadPeer; readonly direction: 'ingress' | 'egress'; readonly peer: string; readonly reason: string }[];
}

export interface ModelInput {
  readonly edges: Iterable<EdgeRecord>;
  readonly catalog: WorkloadCatalog;
  readonly namespaces: readonly string[];
  /** DNS names per client workload: a world peer is named by what the policy's own workload resolved. */
  readonly dnsNames: DnsNameLookup;
  /** Every address of the `default/kubernetes` endpoints (an HA control plane has several). */
  readonly apiserverIps: readonly string[];
  /** The ports of those endpoints (6443 on most clusters), for the kube-apiserver allowance. */
  readonly apiserverPorts?: readonly number[];
  readonly allowances?: Allowances;
}

const DNS_PORT = 53;

/** Builds the policy model for each namespace in scope, sorted, deterministic. */
export function buildPolicyModel(input: ModelInput): NamespacePolicies[] {
  const allowances = input.allowances ?? defaultAllowances;
  const scope = new Set(input.namespaces);
  const selectorOf = (workload: WorkloadPeer, key: string): ReturnType<typeof minimalSelector> => input.catalog.selectorOf(key, workload.namespace);

  const perWorkload = new Map<string, { workload: WorkloadPeer; ingress: EdgeRecord[]; egress: EdgeRecord[] }>();
  const bucket = (key: string, workload: WorkloadPeer) => {
    let b = perWorkload.get(key);
    if (!b) perWorkload.set(key, (b = { workload, ingress: [], egress: [] }));
    return b;
  };
  const workloadPeers = new Map<string, ModelPeer>();
  for (const edge of input.edges) {
    const client = cachedPeerFromKey(edge.client);
    const server = cachedPeerFromKey(edge.server);
    if (server.type === 'workload' && scope.has(server.namespace)) bucket(edge.server, server).ingress.push(edge);
    if (client.type === 'workload' && scope.has(client.namespace)) bucket(edge.client, client).egress.push(edge);
  }

  const result = new Map<string, { workloads: WorkloadPolicy[]; skipped: SkippedWorkload[]; droppedRules: NamespacePolicies['droppedRules'][number][] }>();
  for (const ns of [...scope].sort()) result.set(ns, { workloads: [], skipped: [], droppedRules: [] });

  for (const [key, { workload, ingress, egress }] of [...perWorkload].sort(([a], [b]) => compareText(a, b))) {
    const ns = result.get(workload.namespace)!;
    const own = selectorOf(workload, key);
    if (!own.ok) {
      ns.skipped.push({ workload, reason: `no unique selector: ${own.reason}` });
      continue;
    }
    const entry = input.catalog.get(key);
    const rules = { ingress: new Map<string, RuleBuilder>(), egress: new Map<string, RuleBuilder>() };
    for (const direction of ['ingress', 'egress'] as const) {
      const byPeer = rules[direction];
      for (const edge of direction === 'ingress' ? ingress : egress) {
        const otherKey = direction === 'ingress' ? edge.client : edge.server;
        const decision = toModelPeer(cachedPeerFromKey(otherKey), otherKey, direction, edge, entry?.exposed ?? [], allowances, input, selectorOf, workloadPeers);
        if ('error' in decision) {
          ns.droppedRules.push({ workload, direction, peer: otherKey, reason: decision.error });
          continue;
        }
        const groupKey = ruleGroup(decision, otherKey);
        let builder = byPeer.get(groupKey);
        if (!builder) byPeer.set(groupKey, (builder = { peer: decision.peer, ports: [], evidence: [], ...(decision.allowance ? { allowance: decision.allowance } : {}) }));
        else if (builder.peer.kind === 'kube-apiserver' && decision.peer.kind === 'kube-apiserver') builder.peer = mergeApiserverPeers(builder.peer, decision.peer);
        for (const p of decision.ports) builder.ports.push(p);
        builder.evidence.push(edge);
      }
    }
    if (allowances.kubeApiserver && input.apiserverIps.length > 0) addApiserverAllowance(rules.egress, input);
    ns.workloads.push({
      workload,
      matchLabels: own.matchLabels,
      ingress: finishRules(rules.ingress),
      egress: finishRules(rules.egress),
    });
  }

  return [...result].map(([namespace, v]) => ({ namespace, workloads: v.workloads, skipped: v.skipped, droppedRules: v.droppedRules }));
}

/**
 * Which rule an edge's ports join. The result must not depend on the order edges arrive in (a
 * restored profile replays them sorted), so a rule never takes its kind from whichever edge came
 * first:
 * - every world client of a public port shares one rule;
 * - every kube-apiserver address shares one rule (its peer lists them all);
 * - the DNS allowance to a DNS server is a rule of its own, so it holds 53/UDP and 53/TCP only
 *   (and in Cilium only those ports go through the DNS proxy), apart from other ports to that peer;
 * - any other peer has its own rule.
 */
function ruleGroup(decision: { peer: ModelPeer; allowance?: RuleBuilder['allowance'] }, otherKey: string): string {
  if (decision.peer.kind === 'public') return ' public';
  if (decision.peer.kind === 'kube-apiserver') return ' kube-apiserver';
  return decision.allowance === 'dns' ? `${otherKey} dns` : otherKey;
}

/** One kube-apiserver peer with the addresses of both, sorted. */
function mergeApiserverPeers(a: Extract<ModelPeer, { kind: 'kube-apiserver' }>, b: Extract<ModelPeer, { kind: 'kube-apiserver' }>): ModelPeer {
  return { kind: 'kube-apiserver', ips: [...new Set([...a.ips, ...b.ips])].sort(compareIps) };
}

/** Shared, frozen port specs and one-element lists: the model allocates nothing per edge for them. */
const PORT_SPECS = new Map<number, PortSpec>();
const SINGLE_PORTS = new Map<PortSpec, readonly PortSpec[]>();
function portSpec(port: number, protocol: Protocol): PortSpec {
  const key = port * 8 + PROTOCOL_ORDER[protocol];
  let spec = PORT_SPECS.get(key);
  if (!spec) PORT_SPECS.set(key, (spec = Object.freeze({ port, protocol })));
  return spec;
}
function single(spec: PortSpec): PortSpec[] {
  let list = SINGLE_PORTS.get(spec);
  if (!list) SINGLE_PORTS.set(spec, (list = Object.freeze([spec])));
  return list as PortSpec[];
}

/** Sort order of protocols in port lists (alphabetical, as comparePorts). */
const PROTOCOL_ORDER: Readonly<Record<Protocol, number>> = { ICMPv4: 0, ICMPv6: 1, SCTP: 2, TCP: 3, UDP: 4 };

interface RuleBuilder {
  peer: ModelPeer;
  /** Every port an edge of the rule asked for, repeats included ({@link finishRules} sorts and dedupes). */
  ports: PortSpec[];
  evidence: Evidence[];
  allowance?: 'dns' | 'public-ingress' | 'kube-apiserver';
}

type PeerDecision = { peer: ModelPeer; ports: PortSpec[]; allowance?: 'dns' | 'public-ingress' | 'kube-apiserver' } | { error: string };

function toModelPeer(
  other: Peer,
  otherKey: string,
  direction: 'ingress' | 'egress',
  edge: EdgeRecord,
  exposed: readonly { port: number; protocol: string }[],
  allowances: Allowances,
  input: ModelInput,
  selectorOf: (w: WorkloadPeer, key: string) => ReturnType<typeof minimalSelector>,
  workloadPeers: Map<string, ModelPeer>,
): PeerDecision {
  const observed = portSpec(edge.port, edge.protocol);
  if (edge.protocol === 'ICMPv4' || edge.protocol === 'ICMPv6') return { error: 'ICMP cannot be expressed as a policy port' };
  if (other.type === 'workload') {
    let peer = workloadPeers.get(otherKey);
    if (!peer) {
      const selector = selectorOf(other, otherKey);
      if (!selector.ok) return { error: `peer has no unique selector: ${selector.reason}` };
      workloadPeers.set(otherKey, (peer = { kind: 'workload', workload: other, matchLabels: selector.matchLabels }));
    }
    if (direction === 'egress' && allowances.dns && edge.port === DNS_PORT && (edge.protocol === 'UDP' || edge.protocol === 'TCP')) {
      return { peer, ports: [{ port: DNS_PORT, protocol: 'UDP' }, { port: DNS_PORT, protocol: 'TCP' }], allowance: 'dns' };
    }
    return { peer, ports: single(observed) };
  }
  switch (other.entity) {
    case 'world': {
      if (direction === 'ingress' && allowances.publicIngress && exposed.some((e) => e.port === edge.port && e.protocol === edge.protocol)) {
        return { peer: { kind: 'public' }, ports: [observed], allowance: 'public-ingress' };
      }
      const ip = other.ip ?? '';
      if (!ip) return { error: 'world peer without an address' };
      const names = direction === 'egress' ? input.dnsNames.namesFor(edge.client, ip) : [];
      return { peer: { kind: 'world', ip, names }, ports: [observed] };
    }
    case 'host':
      return { peer: { kind: 'host' }, ports: [observed] };
    case 'remote-node':
      return other.ip ? { peer: { kind: 'remote-node', ip: other.ip }, ports: [observed] } : { error: 'remote node without an address' };
    case 'kube-apiserver': {
      const ips = [...new Set([...input.apiserverIps, ...(other.ip ? [other.ip] : [])])].sort(compareIps);
      return { peer: { kind: 'kube-apiserver', ips }, ports: [observed] };
    }
  }
}

/**
 * The kube-apiserver allowance: egress to every `default/kubernetes` endpoint on its ports, merged
 * into an observed kube-apiserver rule when there is one (which then keeps its evidence).
 */
function addApiserverAllowance(egress: Map<string, RuleBuilder>, input: ModelInput): void {
  const ports = (input.apiserverPorts && input.apiserverPorts.length > 0 ? input.apiserverPorts : [443]).map((port) => ({ port, protocol: 'TCP' as const }));
  const existing = [...egress.values()].find((r) => r.peer.kind === 'kube-apiserver');
  if (existing) {
    existing.ports.push(...ports);
    return;
  }
  egress.set(' kube-apiserver', {
    peer: { kind: 'kube-apiserver', ips: [...input.apiserverIps].sort(compareIps) },
    ports,
    evidence: [],
    allowance: 'kube-apiserver',
  });
}

/** A stable identity for grouping rules by peer (also the sort key of rules). */
export function modelPeerId(peer: ModelPeer): string {
  switch (peer.kind) {
    case 'workload':
      return `1 ${peer.workload.namespace}/${peer.workload.kind}/${peer.workload.name}`;
    case 'kube-apiserver':
      return `2 kube-apiserver`;
    case 'host':
      return `3 host`;
    case 'remote-node':
      return `4 remote-node ${ipSortKey(peer.ip)}`;
    case 'public':
      return `5 public`;
    case 'world':
      return `6 world ${ipSortKey(peer.ip)}`;
  }
}

/** Fixed-width key so that text order equals numeric IPv4 order. */
function ipSortKey(ip: string): string {
  const parts = ip.split('.');
  if (parts.length === 4) return parts.map((p) => p.padStart(3, '0')).join('.');
  return `~${ip}`;
}

function finishRules(rules: Map<string, RuleBuilder>): ModelRule[] {
  return [...rules.values()]
    .map((r) => [`${modelPeerId(r.peer)} ${r.allowance ?? ''}`, r] as const)
    .sort(([a], [b]) => compareText(a, b))
    .map(([, r]) => ({
      peer: r.peer,
      ports: distinctPorts(r.ports),
      evidence: sortEvidence(r.evidence),
      ...(r.allowance ? { allowance: r.allowance } : {}),
    }));
}

/** The ports sorted ({@link comparePorts}), each (protocol, port) once. */
function distinctPorts(ports: PortSpec[]): PortSpec[] {
  if (ports.length === 1) return ports;
  ports.sort(comparePorts);
  let kept = 1;
  for (let i = 1; i < ports.length; i++) {
    const p = ports[i]!;
    const last = ports[kept - 1]!;
    if (p.port !== last.port || p.protocol !== last.protocol) ports[kept++] = p;
  }
  ports.length = kept;
  return ports;
}

/**
 * Evidence in (client, server, protocol, port) order. A rule's edges mostly share their client and
 * server (one peer, several ports): then only protocol and port are compared.
 */
function sortEvidence(evidence: Evidence[]): Evidence[] {
  const first = evidence[0];
  if (first !== undefined && evidence.every((e) => e.client === first.client && e.server === first.server)) {
    return evidence.sort((a, b) => compareText(a.protocol, b.protocol) || a.port - b.port);
  }
  return evidence.sort((a, b) => compareText(a.client, b.client) || compareText(a.server, b.server) || compareText(a.protocol, b.protocol) || a.port - b.port);
}

export function comparePorts(a: PortSpec, b: PortSpec): number {
  return compareText(a.protocol, b.protocol) || a.port - b.port;
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
