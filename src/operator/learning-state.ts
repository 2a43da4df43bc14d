/**
 * The operator's learned state: one Learner for every flow, per-namespace views of it, and the
 * TrafficProfile encoding that persists a namespace's edges so a restart loses nothing.
 */
import type { DnsNames } from '../domain/dns-names.js';
import { PROTOCOLS, type EdgeRecord } from '../domain/edge-store.js';
import type { Protocol } from '../domain/flow.js';
import { isValidIp } from '../domain/ip.js';
import { isDnsName } from '../domain/k8s-names.js';
import type { Learner } from '../domain/learner.js';
import { invalidPeerKey, peerFromKey } from '../domain/peer.js';
import type { TrafficProfile } from '../api/traffic-profile.js';

export interface NamespaceView {
  readonly edges: EdgeRecord[];
  /** Sum of the edges' connection counts. */
  readonly flows: number;
  /** First-seen time of the newest edge. */
  readonly lastNewEdge?: number;
}

/** The namespace's edges (read from the store's per-namespace index: its own edges only). */
export function namespaceView(learner: Learner, namespace: string): NamespaceView {
  const edges: EdgeRecord[] = [];
  let flows = 0;
  let lastNewEdge: number | undefined;
  for (const e of learner.edges.edgesOf(namespace)) {
    edges.push(e);
    flows += e.count;
    if (lastNewEdge === undefined || e.firstSeen > lastNewEdge) lastNewEdge = e.firstSeen;
  }
  return { edges, flows, ...(lastNewEdge !== undefined ? { lastNewEdge } : {}) };
}

/**
 * The compact TrafficProfile spec of a namespace view (peers once, edges as number tuples). DNS
 * names are stored per client workload, `<client> <ip> <name> ...`, for the external peers the
 * view's edges reach.
 */
export function toProfileSpec(segmentation: string, view: NamespaceView, dnsNames: DnsNames, lostEvents: number): TrafficProfile['spec'] {
  const peers = [...new Set(view.edges.flatMap((e) => [e.client, e.server]))].sort();
  const index = new Map(peers.map((p, i) => [p, i]));
  const edges = view.edges
    .map((e) => [index.get(e.client)!, index.get(e.server)!, e.port, PROTOCOLS.indexOf(e.protocol), e.count, e.firstSeen, e.lastSeen])
    .sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]! || a[3]! - b[3]! || a[2]! - b[2]!);
  const names = new Set<string>();
  for (const e of view.edges) {
    if (!e.client.startsWith('wl:')) continue;
    const server = peerFromKey(e.server);
    if (server.type !== 'entity' || !server.ip) continue;
    const resolved = dnsNames.namesFor(e.client, server.ip);
    if (resolved.length > 0) names.add([e.client, server.ip, ...resolved].join(' '));
  }
  return { segmentation, peers, edges, dnsNames: [...names].sort(), flows: view.flows, lostEvents };
}

/**
 * Restores a persisted profile into the learner (idempotent; see EdgeStore.restore). DNS entries
 * are taken only in the per-client form, with valid names, and (given the profile's `namespace`)
 * only for clients of that namespace: a profile never names another namespace's peers. Entries of
 * the earlier `<ip> <name> ...` form named no client and are dropped (those peers are named by
 * address until their workload resolves them again).
 */
export function restoreProfile(learner: Learner, spec: TrafficProfile['spec'], namespace?: string): number {
  let restored = 0;
  for (const row of spec.edges) {
    const [c, s, port, proto, count, first, last] = row;
    const client = spec.peers[c!];
    const server = spec.peers[s!];
    const protocol = PROTOCOLS[proto!] as Protocol | undefined;
    if (client === undefined || server === undefined || protocol === undefined || port === undefined) continue;
    learner.edges.restore(client, server, port, protocol, count ?? 1, first ?? 0, last ?? first ?? 0);
    restored++;
  }
  for (const entry of spec.dnsNames) {
    const [client, ip, ...names] = entry.split(' ');
    if (!client?.startsWith('wl:') || invalidPeerKey(client) !== undefined || !ip || !isValidIp(ip)) continue;
    if (namespace !== undefined && !client.startsWith(`wl:${namespace}/`)) continue;
    for (const name of names) if (isDnsName(name)) learner.dnsNames.add(client, ip, name);
  }
  return restored;
}
