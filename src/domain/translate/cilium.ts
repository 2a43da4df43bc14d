/**
 * Translation of the policy model into Cilium `cilium.io/v2` CiliumNetworkPolicy objects.
 *
 * Cilium rules applied here (https://docs.cilium.io/en/stable/security/policy/language/):
 * - `endpointSelector` selects pods of the policy's namespace; `fromEndpoints` / `toEndpoints`
 *   without `k8s:io.kubernetes.pod.namespace` select only that namespace, with it another one.
 * - A rule with an empty member (`ingress: [{}]`, `egress: [{}]`) puts the selected endpoints in
 *   default deny for that direction without allowing anything: the namespace default deny.
 * - Entities name what is not a pod: `world`, `host`, `remote-node`, `kube-apiserver`.
 * - `toFQDNs` only works when DNS goes through Cilium's DNS proxy: a workload with FQDN egress
 *   gets `rules.dns` on its DNS egress (matchPattern `*`, so all name resolution keeps working).
 * - External peers without known names are `toCIDRSet` / `fromCIDRSet` host routes.
 */
import type { ModelPeer, ModelRule, NamespacePolicies, PortSpec } from '../policy-model.js';
import { hostCidr } from '../ip.js';
import type { KubernetesObject } from './networkpolicy.js';
import { DEFAULT_DENY_NAME, policyMetadata, policyNames, workloadId } from './naming.js';
import { placeRules, type RulePlacement, type Translation } from './translation.js';

const NAMESPACE_LABEL = 'k8s:io.kubernetes.pod.namespace';

/** Identical rules (several IPs behind one FQDN, several nodes) are written once, first position kept. */
export function toCiliumPolicies(model: NamespacePolicies): Translation {
  const names = policyNames(model.workloads.map((w) => w.workload));
  const objects: KubernetesObject[] = [defaultDeny(model.namespace)];
  const placements: RulePlacement[] = [];
  for (const policy of model.workloads) {
    const name = names.get(workloadId(policy.workload))!;
    const placed = (direction: 'ingress' | 'egress') => (rule: ModelRule, index: number) => placements.push({ workload: policy.workload, policy: name, direction, rule, index });
    const usesFqdn = policy.egress.some((r) => r.peer.kind === 'world' && r.peer.names.length > 0);
    const ingress = placeRules(policy.ingress, (r) => toRule(r, 'ingress', model.namespace, false), placed('ingress'), true);
    const egress = placeRules(policy.egress, (r) => toRule(r, 'egress', model.namespace, usesFqdn), placed('egress'), true);
    objects.push({
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNetworkPolicy',
      metadata: policyMetadata(name, model.namespace, policy.workload) as KubernetesObject['metadata'],
      spec: {
        endpointSelector: { matchLabels: { ...policy.matchLabels } },
        ...(ingress.length > 0 ? { ingress } : {}),
        ...(egress.length > 0 ? { egress } : {}),
      },
    });
  }
  return { objects, placements };
}

function defaultDeny(namespace: string): KubernetesObject {
  return {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNetworkPolicy',
    metadata: policyMetadata(DEFAULT_DENY_NAME, namespace) as KubernetesObject['metadata'],
    spec: { endpointSelector: {}, ingress: [{}], egress: [{}] },
  };
}

/** One model rule as a CiliumNetworkPolicy rule (`dnsProxy`: the workload has FQDN egress). */
function toRule(rule: ModelRule, direction: 'ingress' | 'egress', namespace: string, dnsProxy: boolean): Record<string, unknown> {
  const toPorts: Record<string, unknown>[] = [{ ports: rule.ports.map(toPort) }];
  if (direction === 'egress' && rule.allowance === 'dns' && dnsProxy) toPorts[0]!.rules = { dns: [{ matchPattern: '*' }] };
  return { ...toPeer(rule.peer, direction, namespace), toPorts };
}

function toPeer(peer: ModelPeer, direction: 'ingress' | 'egress', namespace: string): Record<string, unknown> {
  const prefix = direction === 'ingress' ? 'from' : 'to';
  switch (peer.kind) {
    case 'workload': {
      const labels: Record<string, string> = { ...peer.matchLabels };
      if (peer.workload.namespace !== namespace) labels[NAMESPACE_LABEL] = peer.workload.namespace;
      return { [`${prefix}Endpoints`]: [{ matchLabels: sortKeys(labels) }] };
    }
    case 'world':
      if (direction === 'egress' && peer.names.length > 0) return { toFQDNs: peer.names.map((name) => ({ matchName: name })) };
      return { [`${prefix}CIDRSet`]: [{ cidr: hostCidr(peer.ip) }] };
    case 'public':
      return { [`${prefix}Entities`]: ['world'] };
    case 'host':
      return { [`${prefix}Entities`]: ['host'] };
    case 'remote-node':
      return { [`${prefix}Entities`]: ['remote-node'] };
    case 'kube-apiserver':
      return { [`${prefix}Entities`]: ['kube-apiserver'] };
  }
}

function toPort(port: PortSpec): Record<string, unknown> {
  return { port: String(port.port), protocol: port.protocol };
}

function sortKeys(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(labels).sort().map((k) => [k, labels[k]!]));
}
