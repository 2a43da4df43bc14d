/**
 * Identity: the workload or entity behind each side of a flow.
 *
 * Order of evidence, strongest first:
 * 1. Cilium reserved identities carried by the flow (`reserved:world`, `host`, ...).
 * 2. The pod the flow names (Hubble `namespace` + `pod_name`), looked up in the snapshot;
 *    else Hubble's own `workloads` field; else the built-in controllers' pod naming rules.
 * 3. The IP: a pod IP (as of the flow's time: a reused IP is not confused with its previous
 *    owner), a node InternalIP (host / remote-node), an address of the `default/kubernetes`
 *    endpoints (kube-apiserver), a Service ClusterIP whose endpoints are one workload.
 * 4. An address outside every cluster range is `world`. An address inside a pod or service
 *    range that matches nothing is reported as unresolved, never invented.
 */
import type { FlowEndpoint, ReservedIdentity } from './flow.js';
import type { ClusterInventory, ControllerInfo, EndpointSliceInfo, NodeInfo, PodInfo, ServiceInfo } from './inventory.js';
import { mappedIpv4, parseCidr, type Cidr } from './ip.js';
import { peerKey, type Peer, type PeerKey, type WorkloadPeer } from './peer.js';
import { OwnerIndex, workloadFromPodName } from './workload.js';

export type UnresolvedReason =
  | 'unknown-pod-ip'
  | 'unknown-service-ip'
  | 'service-with-several-workloads'
  | 'no-identity'
  | 'reserved-unsupported';

export type Resolution =
  | {
      readonly ok: true;
      readonly peer: Peer;
      /** The pod's port after Service translation, when the flow named a Service address. */
      readonly port: number;
      /** The pod seen, when the peer is a workload. */
      readonly podName?: string;
      /** Pod labels when the flow carried them and the snapshot did not have the pod. */
      readonly labels?: readonly string[];
      /** `peerKey(peer)`, when the resolver already knows it (saves building it per flow). */
      readonly key?: PeerKey;
    }
  | { readonly ok: false; readonly reason: UnresolvedReason; readonly ip: string; readonly detail?: string };

export interface IdentityOptions {
  /** Extra pod CIDRs (beyond nodes' `spec.podCIDRs`): an unknown IP inside is unresolved, not world. */
  readonly podCidrs?: readonly string[];
  /** Service CIDRs: an unknown IP inside is unresolved, not world. */
  readonly serviceCidrs?: readonly string[];
}

/** Bound on cached pod hints per namespace (memory follows pods, never flows). */
const HINT_CACHE_PER_NAMESPACE = 50_000;

/**
 * How far a flow's time (a node's clock) may fall outside a pod's lifetime (the API server's
 * clock) and still name that pod, when no pod's lifetime covers it exactly.
 */
export const POD_CLOCK_SKEW_MS = 30_000;

export interface PodCandidate {
  readonly pod: PodInfo;
  readonly workload: WorkloadPeer;
}

/** The namespaced objects of one namespace that identity reads: what {@link IdentityResolver.replaceNamespace} takes. */
export interface NamespaceInventory {
  readonly pods: readonly PodInfo[];
  readonly controllers: readonly ControllerInfo[];
  readonly services: readonly ServiceInfo[];
  readonly endpointSlices: readonly EndpointSliceInfo[];
}

/** One namespace's share of the indexes, kept so that replacing it removes exactly what it added. */
interface NamespaceShare {
  readonly inventory: NamespaceInventory;
  readonly candidates: readonly PodCandidate[];
  readonly owners: OwnerIndex;
}

/**
 * Resolves flow endpoints against a cluster inventory. Its indexes are kept per namespace (plus the
 * Nodes), so the operator replaces one namespace's share when its objects change
 * ({@link replaceNamespace}, {@link replaceNodes}) at a cost that follows that namespace, never a
 * rebuild of the cluster. Addresses shared by several objects (a reused pod IP, a hostile duplicate
 * ClusterIP) keep every claimant in a fixed order (pods by creation time, then namespace and name;
 * Services by namespace and name), so removing one namespace's share leaves the others' intact and
 * the answer does not depend on the order namespaces were added in.
 */
export class IdentityResolver {
  private readonly shares = new Map<string, NamespaceShare>();
  private readonly podsByIp = new Map<string, PodCandidate[]>();
  private readonly podsByName = new Map<string, PodCandidate>();
  private readonly hintCache = new Map<string, Map<string, { peer: WorkloadPeer; key: PeerKey; labels?: readonly string[] }>>();
  /** Every pod (host-network ones included) by IP, oldest first: the newest one's node is the IP's node. */
  private readonly podsUsingIp = new Map<string, PodInfo[]>();
  private readonly servicesByIp = new Map<string, ServiceInfo[]>();
  /** EndpointSlices by `<namespace>/<service>` (the kubernetes.io/service-name label). */
  private readonly slicesByService = new Map<string, EndpointSliceInfo[]>();
  private apiserverIps = new Map<string, Set<number>>();
  private nodeList: readonly NodeInfo[] = [];
  private nodeByIp = new Map<string, string>();
  private clusterRanges: Cidr[] = [];
  private readonly extraRanges: Cidr[] = [];
  private podCount = 0;
  /** The pod CIDRs given beyond the nodes' `spec.podCIDRs` (`--pod-cidr`). */
  readonly configuredPodCidrs: readonly string[];

  constructor(inventory: ClusterInventory, options: IdentityOptions = {}) {
    this.configuredPodCidrs = [...(options.podCidrs ?? [])];
    for (const cidr of options.podCidrs ?? []) pushCidr(this.extraRanges, cidr);
    for (const cidr of options.serviceCidrs ?? []) pushCidr(this.extraRanges, cidr);
    this.replaceNodes(inventory.nodes);
    for (const [namespace, part] of byNamespace(inventory)) this.replaceNamespace(namespace, part);
  }

  /**
   * Replaces everything known of one namespace's pods, controllers, Services and EndpointSlices
   * (an empty inventory removes the namespace). Costs O(the namespace's objects), old and new.
   */
  replaceNamespace(namespace: string, inventory: NamespaceInventory): void {
    const old = this.shares.get(namespace);
    if (old) this.removeShare(namespace, old);
    this.hintCache.delete(namespace);
    if (inventory.pods.length + inventory.controllers.length + inventory.services.length + inventory.endpointSlices.length === 0) {
      if (namespace === 'default') this.apiserverIps = new Map();
      return;
    }
    const owners = new OwnerIndex(inventory.controllers);
    const candidates = inventory.pods.map((pod) => ({ pod, workload: owners.topOwner(pod) }));
    this.shares.set(namespace, { inventory, candidates, owners });
    this.podCount += candidates.length;
    for (const candidate of candidates) {
      const { pod } = candidate;
      this.podsByName.set(`${pod.namespace}/${pod.name}`, candidate);
      for (const ip of pod.ips) insertSorted(this.podsUsingIp, ip, pod, byCreation);
      if (pod.hostNetwork) continue; // host-network pods share the node's IP: the IP means the node
      for (const ip of pod.ips) insertSorted(this.podsByIp, ip, candidate, (a, b) => byCreation(a.pod, b.pod));
    }
    for (const slice of inventory.endpointSlices) if (slice.serviceName) pushTo(this.slicesByService, `${slice.namespace}/${slice.serviceName}`, slice);
    for (const service of inventory.services) {
      for (const ip of service.clusterIPs) if (ip && ip !== 'None') insertSorted(this.servicesByIp, ip, service, byName);
    }
    if (namespace === 'default') this.apiserverIps = apiserverAddresses(inventory.endpointSlices);
  }

  /** Replaces the Nodes: their addresses (host / remote-node) and pod CIDRs (cluster ranges). O(nodes). */
  replaceNodes(nodes: readonly NodeInfo[]): void {
    this.nodeList = nodes;
    this.nodeByIp = new Map();
    this.clusterRanges = [...this.extraRanges];
    for (const node of nodes) {
      for (const ip of node.ips) this.nodeByIp.set(ip, node.name);
      for (const cidr of node.podCIDRs) pushCidr(this.clusterRanges, cidr);
    }
  }

  private removeShare(namespace: string, share: NamespaceShare): void {
    this.shares.delete(namespace);
    this.podCount -= share.candidates.length;
    for (const { pod } of share.candidates) {
      this.podsByName.delete(`${pod.namespace}/${pod.name}`);
      for (const ip of pod.ips) {
        removeWhere(this.podsUsingIp, ip, (p) => p.namespace === namespace);
        removeWhere(this.podsByIp, ip, (c) => c.pod.namespace === namespace);
      }
    }
    for (const slice of share.inventory.endpointSlices) this.slicesByService.delete(`${slice.namespace}/${slice.serviceName}`);
    for (const service of share.inventory.services) {
      for (const ip of service.clusterIPs) removeWhere(this.servicesByIp, ip, (s) => s.namespace === namespace);
    }
  }

  /** The workload of a named pod in the snapshot, if present. */
  workloadOfPod(namespace: string, podName: string): WorkloadPeer | undefined {
    return this.podsByName.get(`${namespace}/${podName}`)?.workload;
  }

  /** The pods of one namespace with their top owners. */
  podsWithWorkloadsIn(namespace: string): readonly PodCandidate[] {
    return this.shares.get(namespace)?.candidates ?? [];
  }

  /** The controllers (Deployments, ReplicaSets, …) of one namespace. */
  controllersIn(namespace: string): readonly ControllerInfo[] {
    return this.shares.get(namespace)?.inventory.controllers ?? [];
  }

  /** The workload a controller belongs to: its ownerReferences followed to the top (a Deployment's ReplicaSet → the Deployment). */
  workloadOfController(controller: ControllerInfo): WorkloadPeer {
    const self = { kind: controller.kind, name: controller.name, controller: true };
    const owners = this.shares.get(controller.namespace)?.owners ?? new OwnerIndex([controller]);
    return owners.topOwner({ namespace: controller.namespace, name: controller.name, owners: [self], labels: controller.templateLabels ?? {} });
  }

  /** The Services of one namespace. */
  servicesIn(namespace: string): readonly ServiceInfo[] {
    return this.shares.get(namespace)?.inventory.services ?? [];
  }

  /** The EndpointSlices of one Service. */
  slicesOf(namespace: string, service: string): readonly EndpointSliceInfo[] {
    return this.slicesByService.get(`${namespace}/${service}`) ?? [];
  }

  /** Every pod of the snapshot with its top owner (for selectors and exposure). */
  podsWithWorkloads(): readonly PodCandidate[] {
    return [...this.podsByName.values()];
  }

  /** Every controller, namespace by namespace (for a catalog of the whole snapshot). */
  allControllers(): ControllerInfo[] {
    return [...this.shares.values()].flatMap((share) => share.inventory.controllers);
  }

  /** Every Service, namespace by namespace (for a catalog of the whole snapshot). */
  allServices(): ServiceInfo[] {
    return [...this.shares.values()].flatMap((share) => share.inventory.services);
  }

  /** The Nodes. */
  get nodes(): readonly NodeInfo[] {
    return this.nodeList;
  }

  /**
   * Resolves one side of a flow.
   * @param endpoint the side to resolve
   * @param role `server` for the destination: only a server side is translated through Services
   * @param time flow time in ms, to choose among pods that used the same IP
   * @param other the opposite side, to tell `host` from `remote-node` for a node IP
   */
  resolve(endpoint: FlowEndpoint, role: 'client' | 'server', time: number, other?: FlowEndpoint): Resolution {
    if (endpoint.ip.startsWith('::ffff:')) {
      const v4 = mappedIpv4(endpoint.ip);
      if (v4 !== undefined) endpoint = { ...endpoint, ip: v4 };
    }
    const port = endpoint.port;
    if (endpoint.reserved) return this.resolveReserved(endpoint.reserved, endpoint, port);
    if (endpoint.namespace && endpoint.podName) {
      const hinted = this.hinted(endpoint.namespace, endpoint.podName, endpoint);
      // Two literals, no spread: this runs for both sides of nearly every flow.
      const { peer, key, labels } = hinted;
      return labels ? { ok: true, peer, key, port, podName: endpoint.podName, labels } : { ok: true, peer, key, port, podName: endpoint.podName };
    }
    return this.resolveIp(endpoint.ip, port, role, time, other);
  }

  /**
   * A pod the flow names: the snapshot's pod if known, else Hubble's `workloads` or the pod
   * naming rules. Cached per namespace and pod (a busy source names the same pods constantly).
   */
  private hinted(namespace: string, podName: string, endpoint: FlowEndpoint): { peer: WorkloadPeer; key: PeerKey; labels?: readonly string[] } {
    let pods = this.hintCache.get(namespace);
    if (!pods) this.hintCache.set(namespace, (pods = new Map()));
    const cached = pods.get(podName);
    if (cached && (cached.labels !== undefined || endpoint.labels === undefined)) return cached;
    const known = this.podsByName.get(`${namespace}/${podName}`);
    let peer: WorkloadPeer;
    if (known) peer = known.workload;
    else if (endpoint.workload) peer = { type: 'workload', namespace, kind: endpoint.workload.kind, name: endpoint.workload.name };
    else peer = workloadFromPodName(namespace, podName, labelsToRecord(endpoint.labels ?? []));
    const entry = { peer, key: peerKey(peer), ...(!known && endpoint.labels ? { labels: endpoint.labels } : {}) };
    if (pods.size < HINT_CACHE_PER_NAMESPACE) pods.set(podName, entry);
    return entry;
  }

  private resolveReserved(reserved: ReservedIdentity, endpoint: FlowEndpoint, port: number): Resolution {
    switch (reserved) {
      case 'world':
        return { ok: true, peer: { type: 'entity', entity: 'world', ip: endpoint.ip }, port };
      case 'host':
        return { ok: true, peer: { type: 'entity', entity: 'host' }, port };
      case 'remote-node':
        return { ok: true, peer: { type: 'entity', entity: 'remote-node', ip: endpoint.ip }, port };
      case 'kube-apiserver':
        return { ok: true, peer: { type: 'entity', entity: 'kube-apiserver', ip: endpoint.ip }, port };
      default:
        return { ok: false, reason: 'reserved-unsupported', ip: endpoint.ip, detail: `reserved:${reserved}` };
    }
  }

  private resolveIp(ip: string, port: number, role: 'client' | 'server', time: number, other?: FlowEndpoint): Resolution {
    const pod = this.podAt(ip, time);
    if (pod) return { ok: true, peer: pod.workload, port, podName: pod.pod.name };
    const apiserverPorts = this.apiserverIps.get(ip);
    if (role === 'server' && apiserverPorts?.has(port)) {
      return { ok: true, peer: { type: 'entity', entity: 'kube-apiserver', ip }, port };
    }
    const node = this.nodeByIp.get(ip);
    if (node !== undefined) {
      const otherNode = other ? this.podsUsingIp.get(other.ip)?.at(-1)?.nodeName : undefined;
      if (otherNode === undefined || otherNode === node) return { ok: true, peer: { type: 'entity', entity: 'host' }, port };
      return { ok: true, peer: { type: 'entity', entity: 'remote-node', ip }, port };
    }
    const service = this.servicesByIp.get(ip)?.at(-1);
    if (service) {
      if (role === 'server') return this.resolveService(service, ip, port, time);
      return { ok: false, reason: 'unknown-service-ip', ip, detail: `${service.namespace}/${service.name} as a client address` };
    }
    if (this.podCount === 0 && this.nodeList.length === 0) return { ok: false, reason: 'no-identity', ip };
    if (this.clusterRanges.some((range) => range.contains(ip))) return { ok: false, reason: 'unknown-pod-ip', ip };
    return { ok: true, peer: { type: 'entity', entity: 'world', ip }, port };
  }

  /**
   * A flow addressed to a Service (no DNAT visible in the source): Kubernetes Service rule
   * `port` → `targetPort` on the endpoints. Resolved only when every endpoint is one workload.
   */
  private resolveService(service: ServiceInfo, ip: string, port: number, time: number): Resolution {
    if (service.namespace === 'default' && service.name === 'kubernetes') {
      const target = this.apiserverTarget();
      if (target) return { ok: true, peer: { type: 'entity', entity: 'kube-apiserver', ip: target.ip }, port: target.port };
    }
    const servicePort = service.ports.find((p) => p.port === port);
    if (!servicePort) return { ok: false, reason: 'unknown-service-ip', ip, detail: `${service.namespace}/${service.name} has no port ${port}` };
    const workloads = new Map<string, { workload: WorkloadPeer; port: number }>();
    for (const slice of this.slicesOf(service.namespace, service.name)) {
      const slicePort = slice.ports.find((p) => (servicePort.name ? p.name === servicePort.name : true));
      if (!slicePort) continue;
      for (const endpoint of slice.endpoints) {
        for (const address of endpoint.addresses) {
          const pod = this.podAt(address, time);
          if (pod) workloads.set(`${pod.workload.kind}/${pod.workload.name}`, { workload: pod.workload, port: slicePort.port });
        }
      }
    }
    if (workloads.size === 1) {
      const only = [...workloads.values()][0]!;
      return { ok: true, peer: only.workload, port: only.port };
    }
    return {
      ok: false,
      reason: workloads.size === 0 ? 'unknown-service-ip' : 'service-with-several-workloads',
      ip,
      detail: `${service.namespace}/${service.name}`,
    };
  }

  private apiserverTarget(): { ip: string; port: number } | undefined {
    const ips = [...this.apiserverIps.keys()].sort();
    const ip = ips[0];
    if (ip === undefined) return undefined;
    const port = [...(this.apiserverIps.get(ip) ?? [])].sort((a, b) => a - b)[0];
    return port === undefined ? undefined : { ip, port };
  }

  /**
   * The pod that had this IP at `time`: the newest pod whose lifetime (creationTimestamp up to its
   * deletionTimestamp, which is the end of its grace period) covers it; failing that, the newest
   * one it misses by at most {@link POD_CLOCK_SKEW_MS}. No pod otherwise, even when one pod has
   * the IP now: a pod created after the flow (or gone before it) is not the peer, and naming it
   * would let a pod that takes over a freed address inherit the traffic of the one before it.
   */
  private podAt(ip: string, time: number): PodCandidate | undefined {
    const list = this.podsByIp.get(ip);
    if (!list) return undefined;
    let exact: PodCandidate | undefined;
    let near: PodCandidate | undefined;
    for (const candidate of list) {
      const created = candidate.pod.createdAt ?? Number.NEGATIVE_INFINITY;
      const deleted = candidate.pod.deletedAt ?? Number.POSITIVE_INFINITY;
      if (created <= time && time < deleted) exact = candidate;
      else if (created - POD_CLOCK_SKEW_MS <= time && time < deleted + POD_CLOCK_SKEW_MS) near = candidate;
    }
    return exact ?? near;
  }
}

/** An inventory's namespaced objects, grouped by namespace (in the order namespaces first appear). */
function byNamespace(inventory: ClusterInventory): Map<string, NamespaceInventory> {
  const parts = new Map<string, { pods: PodInfo[]; controllers: ControllerInfo[]; services: ServiceInfo[]; endpointSlices: EndpointSliceInfo[] }>();
  const part = (namespace: string) => {
    let p = parts.get(namespace);
    if (!p) parts.set(namespace, (p = { pods: [], controllers: [], services: [], endpointSlices: [] }));
    return p;
  };
  for (const pod of inventory.pods) part(pod.namespace).pods.push(pod);
  for (const controller of inventory.controllers) part(controller.namespace).controllers.push(controller);
  for (const service of inventory.services) part(service.namespace).services.push(service);
  for (const slice of inventory.endpointSlices) part(slice.namespace).endpointSlices.push(slice);
  return parts;
}

/** The kube-apiserver's addresses and ports: the endpoints of the `default/kubernetes` Service. */
function apiserverAddresses(slices: readonly EndpointSliceInfo[]): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const slice of slices) {
    if (slice.namespace !== 'default' || slice.serviceName !== 'kubernetes') continue;
    for (const endpoint of slice.endpoints) {
      for (const ip of endpoint.addresses) {
        const ports = out.get(ip) ?? new Set<number>();
        for (const p of slice.ports) ports.add(p.port);
        out.set(ip, ports);
      }
    }
  }
  return out;
}

/** Removes the items matching `drop` from `map`'s list at `key` (and the key when none is left). */
function removeWhere<K, V>(map: Map<K, V[]>, key: K, drop: (value: V) => boolean): void {
  const list = map.get(key);
  if (!list) return;
  const kept = list.filter((value) => !drop(value));
  if (kept.length === 0) map.delete(key);
  else if (kept.length !== list.length) map.set(key, kept);
}

/** Oldest first; pods created together by namespace and name. */
function byCreation(a: PodInfo, b: PodInfo): number {
  return (a.createdAt ?? 0) - (b.createdAt ?? 0) || byName(a, b);
}

function byName(a: { namespace: string; name: string }, b: { namespace: string; name: string }): number {
  return a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Adds `value` to `map`'s list at `key`, after every item that does not sort after it. */
function insertSorted<K, V>(map: Map<K, V[]>, key: K, value: V, order: (a: V, b: V) => number): void {
  const list = map.get(key);
  if (!list) {
    map.set(key, [value]);
    return;
  }
  let at = list.length;
  while (at > 0 && order(list[at - 1]!, value) > 0) at--;
  list.splice(at, 0, value);
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function pushCidr(list: Cidr[], text: string): void {
  const cidr = parseCidr(text);
  if (cidr) list.push(cidr);
}

/** `["app=cart", "tier=web"]` → `{app: "cart", tier: "web"}`. */
export function labelsToRecord(labels: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const label of labels) {
    const eq = label.indexOf('=');
    if (eq < 0) out[label] = '';
    else out[label.slice(0, eq)] = label.slice(eq + 1);
  }
  return out;
}
