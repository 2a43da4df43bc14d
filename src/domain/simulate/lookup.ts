/**
 * The cluster facts the evaluator looks up — pods by name and by address, namespace labels, node
 * addresses, the kube-apiserver's backends — indexed so that one namespace (or the Nodes) can be
 * replaced alone. Audit mode keeps one lookup current from the operator's informers at a cost that
 * follows the namespace that changed; a fixed {@link ClusterModel} becomes one through {@link ClusterLookup.of}.
 * An address several pods claim (a hostile or stale duplicate) keeps every claimant, and the last
 * by namespace and name answers, whatever order the namespaces were replaced in.
 */
import { addressKey } from './cidr.js';
import type { ClusterModel, NamespaceModel, NodeModel, PodModel } from './model.js';

export class ClusterLookup {
  readonly #namespaces = new Map<string, NamespaceModel>();
  readonly #podsByNamespace = new Map<string, readonly PodModel[]>();
  readonly #pods = new Map<string, PodModel>();
  readonly #podsByAddress = new Map<string, PodModel[]>();
  #nodesByAddress = new Map<string, NodeModel>();
  #apiserverAddresses = new Set<string>();

  /** The lookup of a fixed model. */
  static of(cluster: ClusterModel): ClusterLookup {
    const lookup = new ClusterLookup();
    const pods = new Map<string, PodModel[]>();
    const namespaces = new Map<string, NamespaceModel>();
    for (const namespace of cluster.namespaces) namespaces.set(namespace.name, namespace);
    for (const pod of cluster.pods) {
      const list = pods.get(pod.namespace);
      if (list) list.push(pod);
      else pods.set(pod.namespace, [pod]);
    }
    for (const name of new Set([...namespaces.keys(), ...pods.keys()])) lookup.replaceNamespace(name, namespaces.get(name), pods.get(name) ?? []);
    lookup.replaceNodes(cluster.nodes);
    lookup.replaceApiserver(cluster.kubeApiserverIPs);
    return lookup;
  }

  /** Replaces one namespace: its Namespace object (labels; undefined when absent) and its pods. O(its pods). */
  replaceNamespace(namespace: string, model: NamespaceModel | undefined, pods: readonly PodModel[]): void {
    for (const pod of this.#podsByNamespace.get(namespace) ?? []) {
      this.#pods.delete(podKey(namespace, pod.name));
      for (const key of podAddresses(pod)) {
        const claimants = this.#podsByAddress.get(key)?.filter((p) => p.namespace !== namespace);
        if (claimants?.length) this.#podsByAddress.set(key, claimants);
        else this.#podsByAddress.delete(key);
      }
    }
    if (model) this.#namespaces.set(namespace, model);
    else this.#namespaces.delete(namespace);
    if (pods.length > 0) this.#podsByNamespace.set(namespace, pods);
    else this.#podsByNamespace.delete(namespace);
    for (const pod of pods) {
      this.#pods.set(podKey(namespace, pod.name), pod);
      for (const key of podAddresses(pod)) {
        const claimants = this.#podsByAddress.get(key);
        if (!claimants) {
          this.#podsByAddress.set(key, [pod]);
          continue;
        }
        let at = claimants.length;
        while (at > 0 && podKey(claimants[at - 1]!.namespace, claimants[at - 1]!.name) > podKey(pod.namespace, pod.name)) at--;
        claimants.splice(at, 0, pod);
      }
    }
  }

  /** Replaces the Nodes (their internal and external addresses). */
  replaceNodes(nodes: readonly NodeModel[]): void {
    this.#nodesByAddress = new Map();
    for (const node of nodes) {
      for (const ip of [...node.internalIPs, ...(node.externalIPs ?? [])]) {
        const key = addressKey(ip);
        if (key !== undefined) this.#nodesByAddress.set(key, node);
      }
    }
  }

  /** Replaces the backends of the `default/kubernetes` Service. */
  replaceApiserver(ips: readonly string[]): void {
    this.#apiserverAddresses = new Set();
    for (const ip of ips) {
      const key = addressKey(ip);
      if (key !== undefined) this.#apiserverAddresses.add(key);
    }
  }

  namespace(name: string): NamespaceModel | undefined {
    return this.#namespaces.get(name);
  }

  pod(namespace: string, name: string): PodModel | undefined {
    return this.#pods.get(podKey(namespace, name));
  }

  /** The pod-network pod holding an address (an {@link addressKey}). */
  podAt(key: string): PodModel | undefined {
    return this.#podsByAddress.get(key)?.at(-1);
  }

  /** The node holding an address (an {@link addressKey}). */
  nodeAt(key: string): NodeModel | undefined {
    return this.#nodesByAddress.get(key);
  }

  /** Whether an address (an {@link addressKey}) is a backend of the `default/kubernetes` Service. */
  isApiserver(key: string): boolean {
    return this.#apiserverAddresses.has(key);
  }
}

export function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The address keys a pod claims on the pod network (a hostNetwork pod's are its node's). */
function podAddresses(pod: PodModel): string[] {
  if (pod.hostNetwork) return [];
  return pod.ips.map(addressKey).filter((key): key is string => key !== undefined);
}
