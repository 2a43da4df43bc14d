/**
 * Translation of the policy model into Kubernetes `networking.k8s.io/v1` NetworkPolicy objects.
 *
 * Kubernetes rules applied here (https://kubernetes.io/docs/concepts/services-networking/network-policies/):
 * - A pod is isolated for a direction when a policy selecting it lists that direction in
 *   `policyTypes`; a namespace default deny is `podSelector: {}` with both types.
 * - Policies are additive; each rule allows traffic matching any of its peers AND any of its ports.
 * - A peer with `namespaceSelector` and `podSelector` in one element selects those pods in those
 *   namespaces (AND); `kubernetes.io/metadata.name` is set by the API server on every namespace.
 * - `ipBlock` is for cluster-external addresses: external peers are /32 (or /128) blocks, and
 *   public ingress (`0.0.0.0/0`) excepts the pod CIDRs, since whether an ipBlock matches pod
 *   addresses is left to the implementation.
 * - "Pods cannot block access from their resident node": host (kubelet probe) ingress needs no
 *   rule and is always allowed, so none is written. Host *egress* can be blocked, and an ipBlock
 *   is the only way to name a node: without node addresses it cannot be written, and
 *   {@link withoutInexpressibleRules} reports it instead of dropping it silently.
 */
import type { ModelPeer, ModelRule, NamespacePolicies, PortSpec } from '../policy-model.js';
import { compareIps, hostCidr, ipFamily } from '../ip.js';
import { entityKey, peerFromKey } from '../peer.js';
import { DEFAULT_DENY_NAME, policyMetadata, policyNames, workloadId } from './naming.js';
import { placeRules, type RulePlacement, type Translation } from './translation.js';

export interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string } & Record<string, unknown>;
  readonly [key: string]: unknown;
}

export interface TranslateContext {
  /** Node InternalIPs, for pod → host egress (NetworkPolicy can only name nodes by address). */
  readonly nodeIps: readonly string[];
  /** Pod CIDRs: public ingress excepts them, so `0.0.0.0/0` never stands in for in-cluster pods. */
  readonly podCidrs?: readonly string[];
}

export function toNetworkPolicies(model: NamespacePolicies, context: TranslateContext): Translation {
  const names = policyNames(model.workloads.map((w) => w.workload));
  const objects: KubernetesObject[] = [defaultDeny(model.namespace)];
  const placements: RulePlacement[] = [];
  for (const policy of model.workloads) {
    const name = names.get(workloadId(policy.workload))!;
    const placed = (direction: 'ingress' | 'egress') => (rule: ModelRule, index: number) => placements.push({ workload: policy.workload, policy: name, direction, rule, index });
    const ingress = placeRules(policy.ingress, (r) => toRule(r, 'from', model.namespace, context), placed('ingress'), false);
    const egress = placeRules(policy.egress, (r) => toRule(r, 'to', model.namespace, context), placed('egress'), false);
    objects.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: policyMetadata(name, model.namespace, policy.workload) as KubernetesObject['metadata'],
      spec: {
        podSelector: { matchLabels: { ...policy.matchLabels } },
        policyTypes: ['Ingress', 'Egress'],
        ...(ingress.length > 0 ? { ingress } : {}),
        ...(egress.length > 0 ? { egress } : {}),
      },
    });
  }
  return { objects, placements };
}

/**
 * The model without the rules NetworkPolicy cannot express with what is known, each moved to the
 * model's dropped rules (the summary and the proposal list them): pod → host egress when no node
 * address is known (no Node in the snapshot or inventory).
 */
export function withoutInexpressibleRules(model: NamespacePolicies, context: TranslateContext): NamespacePolicies {
  if (context.nodeIps.length > 0) return model;
  const droppedRules = [...model.droppedRules];
  const workloads = model.workloads.map((policy) => {
    const egress = policy.egress.filter((rule) => rule.peer.kind !== 'host');
    if (egress.length === policy.egress.length) return policy;
    droppedRules.push({ workload: policy.workload, direction: 'egress', peer: entityKey('host'), reason: 'egress to a node needs the nodes\' addresses: give a cluster snapshot with the Nodes' });
    return { ...policy, egress };
  });
  return { ...model, workloads, droppedRules };
}

function defaultDeny(namespace: string): KubernetesObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: policyMetadata(DEFAULT_DENY_NAME, namespace) as KubernetesObject['metadata'],
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  };
}

/** One model rule as a NetworkPolicy rule; undefined when none is needed (host ingress). */
function toRule(rule: ModelRule, key: 'from' | 'to', namespace: string, context: TranslateContext): Record<string, unknown> | undefined {
  const peers = rule.peer.kind === 'public' ? publicPeers(rule, context) : toPeers(rule.peer, namespace, key, context);
  if (peers === 'no-rule-needed') return undefined;
  return { [key]: peers, ports: rule.ports.map(toPort) };
}

function toPeers(peer: ModelPeer, namespace: string, key: 'from' | 'to', context: TranslateContext): Record<string, unknown>[] | 'no-rule-needed' {
  switch (peer.kind) {
    case 'workload':
      return [peer.workload.namespace === namespace
        ? { podSelector: { matchLabels: { ...peer.matchLabels } } }
        : {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': peer.workload.namespace } },
            podSelector: { matchLabels: { ...peer.matchLabels } },
          }];
    case 'world':
    case 'remote-node':
      return [{ ipBlock: { cidr: hostCidr(peer.ip) } }];
    case 'kube-apiserver':
      return peer.ips.map((ip) => ({ ipBlock: { cidr: hostCidr(ip) } }));
    case 'public':
      throw new Error('public ingress is rendered by publicPeers');
    case 'host':
      if (key === 'from') return 'no-rule-needed';
      return context.nodeIps.length > 0 ? context.nodeIps.map((ip) => ({ ipBlock: { cidr: hostCidr(ip) } })) : 'no-rule-needed';
  }
}

/**
 * Public ingress: every address of each IP family its observed clients used (`0.0.0.0/0`, `::/0`),
 * except that family's pod CIDRs. A rule with no client address (none observed) is IPv4.
 */
function publicPeers(rule: ModelRule, context: TranslateContext): Record<string, unknown>[] {
  const families = new Set<4 | 6>();
  for (const edge of rule.evidence) {
    const client = peerFromKey(edge.client);
    if (client.type === 'entity' && client.ip !== undefined) {
      const family = ipFamily(client.ip);
      if (family === 4 || family === 6) families.add(family);
    }
  }
  if (families.size === 0) families.add(4);
  return ([4, 6] as const).filter((f) => families.has(f)).map((family) => {
    const cidr = family === 4 ? '0.0.0.0/0' : '::/0';
    const except = (context.podCidrs ?? []).filter((c) => ipFamily(c.split('/')[0] ?? '') === family);
    return { ipBlock: except.length > 0 ? { cidr, except: [...except].sort(compareIps) } : { cidr } };
  });
}

function toPort(port: PortSpec): Record<string, unknown> {
  return { protocol: port.protocol, port: port.port };
}
