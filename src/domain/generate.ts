/**
 * From learned state to policy objects: graph → policy model → NetworkPolicy or
 * CiliumNetworkPolicy objects per namespace. Pure and deterministic.
 */
import { WorkloadCatalog } from './catalog.js';
import type { EdgeRecord } from './edge-store.js';
import { buildGraph, type TrafficGraph } from './graph.js';
import type { IdentityResolver } from './identity.js';
import type { Learner } from './learner.js';
import { peerFromKey } from './peer.js';
import { clusterFactsOf } from './plan.js';
import { buildPolicyModel, defaultAllowances, type Allowances, type NamespacePolicies } from './policy-model.js';
import { toCiliumPolicies } from './translate/cilium.js';
import { toNetworkPolicies, type KubernetesObject } from './translate/networkpolicy.js';

export type Flavor = 'networkpolicy' | 'cilium';

/** Namespaces hivewall never segments unless named explicitly. */
export const SYSTEM_NAMESPACES: ReadonlySet<string> = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

export interface GenerateOptions {
  readonly flavor: Flavor;
  /** Namespaces to write policies for; default: every non-system namespace with an observed workload. */
  readonly namespaces?: readonly string[];
  readonly allowances?: Allowances;
}

export interface GeneratedNamespace {
  readonly namespace: string;
  readonly model: NamespacePolicies;
  readonly objects: readonly KubernetesObject[];
}

export interface GenerateResult {
  /** The learned graph, built on first use (the report draws it; generation itself does not need it). */
  readonly graph: TrafficGraph;
  readonly namespaces: readonly GeneratedNamespace[];
}

export function generatePolicies(learner: Learner, identity: IdentityResolver, options: GenerateOptions): GenerateResult {
  // Order does not matter here: the model sorts workloads, rules, peers and evidence.
  const edges = [...learner.edges.edges()];
  const catalog = WorkloadCatalog.build(identity, learner.observedPods);
  const namespaces = options.namespaces && options.namespaces.length > 0 ? [...new Set(options.namespaces)].sort() : observedNamespaces(edges);
  const { apiserverIps, apiserverPorts, nodeIps, podCidrs } = clusterFactsOf(identity.cluster, identity);
  const models = buildPolicyModel({
    edges,
    catalog,
    namespaces,
    dnsNames: learner.dnsNames,
    apiserverIps,
    apiserverPorts,
    allowances: options.allowances ?? defaultAllowances,
  });
  let graph: TrafficGraph | undefined;
  return {
    get graph() {
      return (graph ??= buildGraph(learner.edges, learner.dnsNames, false));
    },
    namespaces: models.map((model) => ({
      namespace: model.namespace,
      model,
      objects: options.flavor === 'cilium' ? toCiliumPolicies(model) : toNetworkPolicies(model, { nodeIps, podCidrs }),
    })),
  };
}

/** Every non-system namespace that has a workload on some edge. */
export function observedNamespaces(edges: readonly EdgeRecord[]): string[] {
  const keys = new Set<string>();
  for (const e of edges) keys.add(e.client).add(e.server);
  const out = new Set<string>();
  for (const key of keys) {
    const peer = peerFromKey(key);
    if (peer.type === 'workload' && !SYSTEM_NAMESPACES.has(peer.namespace)) out.add(peer.namespace);
  }
  return [...out].sort();
}
