/**
 * Graph vertices: the workloads and entities a flow resolves to.
 *
 * A workload is the top owner of a pod (Pod → ReplicaSet → Deployment, Job → CronJob,
 * StatefulSet, DaemonSet, or the bare Pod). An entity is everything that is not a pod:
 * the world (per IP, with DNS names), the local host, another node, the kube-apiserver.
 */
import { isValidIp } from './ip.js';
import { invalidWorkload } from './k8s-names.js';

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'CronJob' | 'Job' | 'ReplicaSet' | 'Pod' | (string & {});

export interface WorkloadPeer {
  readonly type: 'workload';
  readonly namespace: string;
  readonly kind: WorkloadKind;
  readonly name: string;
}

export type EntityName = 'world' | 'host' | 'remote-node' | 'kube-apiserver';

export interface EntityPeer {
  readonly type: 'entity';
  readonly entity: EntityName;
  /** The address for `world`, `remote-node` and `kube-apiserver` (policies name it as a /32 or /128). */
  readonly ip?: string;
}

export type Peer = WorkloadPeer | EntityPeer;

declare const peerKeyBrand: unique symbol;

/**
 * A peer's stable text key: `wl:<ns>/<Kind>/<name>` or `en:<entity>[:<ip>]`; sorting keys sorts
 * peers. Branded: only this module makes one (from a {@link Peer}, or from outside text that
 * {@link parsePeerKey} validated), so no other code builds or takes apart the text by hand.
 */
export type PeerKey = string & { readonly [peerKeyBrand]: true };

/** The key of a peer. */
export function peerKey(peer: Peer): PeerKey {
  if (peer.type === 'workload') return workloadKey(peer.namespace, peer.kind, peer.name);
  return entityKey(peer.entity, peer.ip);
}

/** The key of the workload `<namespace>/<kind>/<name>`. */
export function workloadKey(namespace: string, kind: string, name: string): PeerKey {
  return `wl:${namespace}/${kind}/${name}` as PeerKey;
}

/** The key of an entity, with its address for `world`, `remote-node` and `kube-apiserver`. */
export function entityKey(entity: EntityName, ip?: string): PeerKey {
  return (ip === undefined ? `en:${entity}` : `en:${entity}:${ip}`) as PeerKey;
}

/** The address of an entity key with one (`en:<entity>:<ip>`); undefined for a workload or a bare entity. Allocates only the address. */
export function entityAddressOf(key: PeerKey): string | undefined {
  if (!key.startsWith('en:')) return undefined;
  const colon = key.indexOf(':', 3);
  return colon < 0 ? undefined : key.slice(colon + 1);
}

/**
 * A peer key that arrived as text from outside (an agent, a stored object, a report input),
 * validated by {@link invalidPeerKey}; undefined when it is not a valid key.
 */
export function parsePeerKey(text: string): PeerKey | undefined {
  return invalidPeerKey(text) === undefined ? (text as PeerKey) : undefined;
}

/** Whether a key names a workload (not an entity). */
export function isWorkloadKey(key: string): boolean {
  return key.startsWith('wl:');
}

/** Whether a key names a workload of `namespace`. */
export function isWorkloadOf(key: string, namespace: string): boolean {
  return workloadNamespace(key) === namespace;
}

/**
 * The key of the workload a policy's `hivewall.dev/workload` annotation (`<Kind>/<name>`) names
 * in `namespace`; undefined for any other text.
 */
export function annotatedWorkloadKey(namespace: string, annotation: string): PeerKey | undefined {
  const slash = annotation.indexOf('/');
  if (slash <= 0 || slash === annotation.length - 1 || annotation.indexOf('/', slash + 1) >= 0) return undefined;
  return workloadKey(namespace, annotation.slice(0, slash), annotation.slice(slash + 1));
}

/** The key of a workload written as `<ns>/<Kind>/<name>` (coverage warnings); undefined for any other text. */
export function workloadKeyOfId(id: string): PeerKey | undefined {
  const parts = id.split('/');
  return parts.length === 3 && parts.every((p) => p !== '') ? workloadKey(parts[0]!, parts[1]!, parts[2]!) : undefined;
}

/** A key as conditions and Events show it: without its `wl:` / `en:` prefix. */
export function keyText(key: string): string {
  return key.startsWith('wl:') || key.startsWith('en:') ? key.slice(3) : key;
}

/**
 * The namespace of a workload peer key (`wl:<ns>/...`) without parsing the rest; undefined for
 * any other key. Cheap enough for the flow path (the edge store calls it per new peer).
 */
export function workloadNamespace(key: string): string | undefined {
  if (!key.startsWith('wl:')) return undefined;
  const slash = key.indexOf('/', 3);
  return slash < 0 ? undefined : key.slice(3, slash);
}

/** Inverse of {@link peerKey}. Throws on a key that {@link peerKey} cannot produce. */
export function peerFromKey(key: string): Peer {
  if (key.startsWith('wl:')) {
    const rest = key.slice(3);
    const first = rest.indexOf('/');
    const second = rest.indexOf('/', first + 1);
    if (first < 0 || second < 0) throw new Error(`invalid workload peer key ${JSON.stringify(key)}`);
    return { type: 'workload', namespace: rest.slice(0, first), kind: rest.slice(first + 1, second), name: rest.slice(second + 1) };
  }
  if (key.startsWith('en:')) {
    const rest = key.slice(3);
    const colon = rest.indexOf(':');
    const entity = (colon < 0 ? rest : rest.slice(0, colon)) as EntityName;
    if (!['world', 'host', 'remote-node', 'kube-apiserver'].includes(entity)) {
      throw new Error(`invalid entity peer key ${JSON.stringify(key)}`);
    }
    return colon < 0 ? { type: 'entity', entity } : { type: 'entity', entity, ip: rest.slice(colon + 1) };
  }
  throw new Error(`invalid peer key ${JSON.stringify(key)}`);
}

const parsedPeers = new Map<string, Peer>();
const PARSED_PEERS_KEPT = 65_536;

/**
 * {@link peerFromKey}, remembered: planning reads the same keys again for every namespace whose
 * edges reach them. The peers are shared, so they must not be changed (their fields are readonly).
 */
export function cachedPeerFromKey(key: string): Peer {
  let peer = parsedPeers.get(key);
  if (peer === undefined) {
    peer = peerFromKey(key);
    if (parsedPeers.size >= PARSED_PEERS_KEPT) parsedPeers.clear();
    parsedPeers.set(key, peer);
  }
  return peer;
}

/** Human-readable name: `shop/Deployment/cart`, `world 203.0.113.5`, `host`. */
export function peerLabel(peer: Peer): string {
  if (peer.type === 'workload') return `${peer.namespace}/${peer.kind}/${peer.name}`;
  return peer.ip === undefined ? peer.entity : `${peer.entity} ${peer.ip}`;
}

/**
 * Why a peer key that arrived from outside (an agent, a stored profile) cannot be a peer, or
 * undefined: it must parse, name a workload by valid Kubernetes names (src/domain/k8s-names.ts)
 * and an entity by a valid address.
 */
export function invalidPeerKey(key: string): string | undefined {
  let peer: Peer;
  try {
    peer = peerFromKey(key);
  } catch (error) {
    return (error as Error).message;
  }
  if (peer.type === 'workload') return invalidWorkload(peer.namespace, peer.kind, peer.name);
  if (peer.ip !== undefined && !isValidIp(peer.ip)) return `${JSON.stringify(peer.ip)} is not an IP address`;
  return undefined;
}
