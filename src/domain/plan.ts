/**
 * Planning one namespace: its learned edges, the workloads they reach and the cluster-wide facts
 * in, a proposal draft (policies, digest, evidence, diff) out. Pure; reads only the namespace's
 * own edges and the workloads of the namespaces those edges reach (per-namespace indexes of
 * IdentityResolver and the Learner), so its cost follows the namespace, not the cluster.
 */
import { WorkloadCatalog } from './catalog.js';
import type { DnsNameLookup } from './dns-names.js';
import type { EdgeRecord } from './edge-store.js';
import type { IdentityResolver } from './identity.js';
import { workloadNamespace } from './peer.js';
import { buildProposal, type ProposalDraft, type ProposalInput } from './proposal.js';

/** Node addresses, pod CIDRs and the kube-apiserver's endpoints: what every namespace's policies may name. */
export interface ClusterFacts {
  readonly nodeIps: readonly string[];
  readonly podCidrs: readonly string[];
  readonly apiserverIps: readonly string[];
  readonly apiserverPorts: readonly number[];
}

/**
 * The cluster facts: node addresses and pod CIDRs, the nodes' and the configured ones (NetworkPolicy
 * ipBlocks must name host traffic by address, and public ingress excepts every pod range), and the `default/kubernetes` Service's EndpointSlices (the
 * kube-apiserver's real addresses and ports, which policies must name after DNAT). One place for
 * `hivewall learn` and the operator.
 */
export function clusterFactsOf(identity: IdentityResolver): ClusterFacts {
  const apiserverSlices = identity.slicesOf('default', 'kubernetes');
  return {
    nodeIps: [...new Set(identity.nodes.flatMap((n) => n.ips))].sort(),
    podCidrs: [...new Set([...identity.nodes.flatMap((n) => n.podCIDRs), ...identity.configuredPodCidrs])].sort(),
    apiserverIps: apiserverSlices.flatMap((s) => s.endpoints.flatMap((e) => e.addresses)),
    apiserverPorts: [...new Set(apiserverSlices.flatMap((s) => s.ports.map((p) => p.port)))].sort((a, b) => a - b),
  };
}

/** What the flow source told about pods the cluster inventory may lack. */
export interface ObservedPods {
  readonly observedPods: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;
  observedKeysIn(namespace: string): Iterable<string>;
}

export interface PlanInput {
  readonly namespace: string;
  readonly spec: ProposalInput['spec'];
  /** The namespace's edges (either side a workload there). */
  readonly edges: readonly EdgeRecord[];
  readonly identity: IdentityResolver;
  readonly observed: ObservedPods;
  readonly dnsNames: DnsNameLookup;
  readonly facts: ClusterFacts;
  readonly live: ProposalInput['live'];
  readonly denied?: ProposalInput['denied'];
  readonly formatTime: (ms: number) => string;
  /**
   * The workloads to plan with, when the caller holds a catalog of the whole cluster already
   * (`hivewall learn` plans every namespace of one snapshot); otherwise one is read from the
   * per-namespace indexes of the namespace and the namespaces its edges reach.
   */
  readonly catalog?: WorkloadCatalog;
}

export function planNamespace(input: PlanInput): ProposalDraft {
  const { namespace, identity, observed, facts } = input;
  return buildProposal({
    namespace,
    spec: input.spec,
    edges: input.edges,
    catalog: input.catalog ?? WorkloadCatalog.forNamespaces(identity, observed.observedPods, [namespace, ...workloadNamespaces(input.edges)], (ns) => observed.observedKeysIn(ns)),
    dnsNames: input.dnsNames,
    apiserverIps: facts.apiserverIps,
    apiserverPorts: facts.apiserverPorts,
    nodeIps: facts.nodeIps,
    podCidrs: facts.podCidrs,
    live: input.live,
    formatTime: input.formatTime,
    ...(input.denied ? { denied: input.denied } : {}),
  });
}

/** The namespaces of the workload peers of some edges (`wl:<namespace>/...`). */
export function workloadNamespaces(edges: readonly { client: string; server: string }[]): Set<string> {
  const out = new Set<string>();
  for (const e of edges) {
    for (const key of [e.client, e.server]) {
      const namespace = workloadNamespace(key);
      if (namespace) out.add(namespace);
    }
  }
  return out;
}
