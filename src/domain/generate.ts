/**
 * `hivewall learn`'s generation: every namespace of the learned state planned by the same
 * {@link planNamespace} the operator's reconciler uses (graph → policy model → NetworkPolicy or
 * CiliumNetworkPolicy objects), with the flags as the spec. Pure and deterministic.
 */
import { WorkloadCatalog } from './catalog.js';
import { buildGraph, type TrafficGraph } from './graph.js';
import type { IdentityResolver } from './identity.js';
import type { Learner } from './learner.js';
import { clusterFactsOf, planNamespace } from './plan.js';
import { defaultAllowances, type Allowances, type NamespacePolicies } from './policy-model.js';
import type { KubernetesObject } from './translate/networkpolicy.js';

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
  const namespaces = options.namespaces && options.namespaces.length > 0 ? [...new Set(options.namespaces)].sort() : observedNamespaces(learner);
  const facts = clusterFactsOf(identity);
  // One catalog of every workload for all namespaces: each namespace's own would be rebuilt from
  // the same snapshot once per namespace.
  const catalog = WorkloadCatalog.build(identity, learner.observedPods);
  const edges = learner.edges.edgesByNamespace();
  const allowances = options.allowances ?? defaultAllowances;
  const spec = {
    flavor: options.flavor === 'cilium' ? 'CiliumNetworkPolicy' : 'NetworkPolicy',
    // Every observed edge: learn has no threshold, and the store holds no edge it did not see.
    minFlowsPerEdge: 0,
    exclude: [],
    allowDns: allowances.dns,
    allowPublicIngress: allowances.publicIngress,
    allowKubeApiserver: allowances.kubeApiserver ?? false,
    externalBy: 'FQDN',
  } as const;
  let graph: TrafficGraph | undefined;
  return {
    get graph() {
      return (graph ??= buildGraph(learner.edges, learner.dnsNames, false));
    },
    namespaces: namespaces.map((namespace) => {
      const draft = planNamespace({
        namespace,
        spec,
        edges: edges.get(namespace) ?? [],
        identity,
        observed: learner,
        dnsNames: learner.dnsNames,
        facts,
        live: [],
        formatTime: (ms) => new Date(ms).toISOString(),
        catalog,
      });
      return { namespace, model: draft.model, objects: draft.objects };
    }),
  };
}

/** Every non-system namespace that has a workload on some edge (the edge store's namespace index). */
export function observedNamespaces(learner: Learner): string[] {
  return [...learner.edges.namespaces()].filter((namespace) => !SYSTEM_NAMESPACES.has(namespace)).sort();
}
