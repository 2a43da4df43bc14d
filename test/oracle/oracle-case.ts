/**
 * The JSON case both reference oracles read (test/oracle/cilium/main.go, test/oracle/netpol/main.go):
 * a cluster (namespaces, pods with labels, IPs and container ports, nodes, kube-apiserver addresses),
 * the policy objects as the API server returns them, and the connections to judge. Built from the
 * simulator's own ClusterModel so both sides judge the very same input.
 */
import type { ClusterModel, Connection, Policy } from '../../src/domain/simulate/index.js';

export interface OracleCase {
  readonly namespaces: readonly { name: string; labels: Record<string, string> }[];
  readonly pods: readonly {
    namespace: string;
    name: string;
    labels: Record<string, string>;
    ips: readonly string[];
    ports: readonly { name?: string; containerPort: number; protocol: string }[];
    nodeName?: string;
    hostNetwork: boolean;
    serviceAccount?: string;
  }[];
  readonly nodes: readonly { name: string; ips: readonly string[] }[];
  readonly kubeApiserverIPs: readonly string[];
  readonly policies: readonly Policy[];
  readonly connections: readonly Connection[];
}

/** One oracle verdict. `egress` / `ingress` come from the Cilium oracle only. */
export interface OracleVerdict {
  readonly allowed: boolean;
  readonly egress?: boolean;
  readonly ingress?: boolean;
}

/** One oracle answer per case: a verdict per connection, or why the engine refused the case. */
export type OracleResult = { readonly verdicts: readonly OracleVerdict[] } | { readonly error: string };

export function toOracleCase(cluster: ClusterModel, policies: readonly Policy[], connections: readonly Connection[]): OracleCase {
  return {
    namespaces: cluster.namespaces.map((ns) => ({ name: ns.name, labels: { ...ns.labels } })),
    pods: cluster.pods.map((pod) => ({
      namespace: pod.namespace,
      name: pod.name,
      labels: { ...pod.labels },
      ips: pod.ips,
      ports: pod.ports.map((port) => ({ ...(port.name === undefined ? {} : { name: port.name }), containerPort: port.containerPort, protocol: port.protocol })),
      ...(pod.nodeName === undefined ? {} : { nodeName: pod.nodeName }),
      hostNetwork: pod.hostNetwork,
      ...(pod.serviceAccount === undefined ? {} : { serviceAccount: pod.serviceAccount }),
    })),
    nodes: cluster.nodes.map((node) => ({ name: node.name, ips: [...node.internalIPs, ...(node.externalIPs ?? [])] })),
    kubeApiserverIPs: cluster.kubeApiserverIPs,
    policies,
    connections,
  };
}
