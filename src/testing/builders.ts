/** Builders for test objects: small, explicit, with defaults that tests override by name. */
import type { Flow, FlowEndpoint, Protocol, Verdict } from '../domain/flow.js';
import type { ClusterInventory, PodInfo, ServiceInfo } from '../domain/inventory.js';
import { parsePeerKey, type PeerKey } from '../domain/peer.js';

export function endpoint(ip: string, port: number, hint: Partial<FlowEndpoint> = {}): FlowEndpoint {
  return { ip, port, ...hint };
}

export function flow(source: FlowEndpoint, destination: FlowEndpoint, overrides: Partial<Flow> & { protocol?: Protocol; verdict?: Verdict } = {}): Flow {
  return {
    time: Date.UTC(2026, 10, 2, 10, 0, 0),
    source,
    destination,
    protocol: 'TCP',
    verdict: 'FORWARDED',
    isReply: false,
    confirmed: true,
    ...overrides,
  };
}

let podCounter = 0;

/** A Deployment pod: `<deployment>-<hash>-<n>` owned by ReplicaSet `<deployment>-<hash>`. */
export function deploymentPod(namespace: string, deployment: string, ip: string, labels: Record<string, string> = {}, extra: Partial<PodInfo> = {}): PodInfo {
  const hash = '6c9f7d8b5d';
  podCounter++;
  return {
    namespace,
    name: `${deployment}-${hash}-p${podCounter}`,
    labels: { 'app.kubernetes.io/name': deployment, 'pod-template-hash': hash, ...labels },
    ips: [ip],
    hostNetwork: false,
    owners: [{ kind: 'ReplicaSet', name: `${deployment}-${hash}`, controller: true }],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    ...extra,
  };
}

export function statefulSetPod(namespace: string, sts: string, ordinal: number, ip: string, labels: Record<string, string> = {}): PodInfo {
  return {
    namespace,
    name: `${sts}-${ordinal}`,
    labels: { 'app.kubernetes.io/name': sts, 'controller-revision-hash': `${sts}-5d4f`, 'statefulset.kubernetes.io/pod-name': `${sts}-${ordinal}`, ...labels },
    ips: [ip],
    hostNetwork: false,
    owners: [{ kind: 'StatefulSet', name: sts, controller: true }],
    ports: [],
  };
}

export function service(namespace: string, name: string, overrides: Partial<ServiceInfo> = {}): ServiceInfo {
  return { namespace, name, type: 'ClusterIP', clusterIPs: [], ports: [], ...overrides };
}

export function inventory(parts: Partial<ClusterInventory>): ClusterInventory {
  return { namespaces: [], nodes: [], pods: [], controllers: [], services: [], endpointSlices: [], ...parts };
}

/** A peer key written out in a test (`wl:shop/Deployment/web`, `en:world:203.0.113.7`), validated as any outside text is. */
export function key(text: string): PeerKey {
  const parsed = parsePeerKey(text);
  if (parsed === undefined) throw new Error(`not a peer key: ${JSON.stringify(text)}`);
  return parsed;
}
