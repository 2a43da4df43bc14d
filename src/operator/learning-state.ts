/**
 * The operator's learned state: one Learner for every flow, per-namespace views of it, and the
 * TrafficProfile encoding that persists a namespace's edges so a restart loses nothing.
 */
import { PROTOCOLS, type EdgeRecord } from '../domain/edge-store.js';
import type { Protocol } from '../domain/flow.js';
import type { Learner } from '../domain/learner.js';
import { peerFromKey } from '../domain/peer.js';
import type { TrafficProfile } from '../api/traffic-profile.js';

/** Whether an edge belongs to a namespace's view: either side is a workload there. */
export function touchesNamespace(edge: EdgeRecord, namespace: string): boolean {
  return inNamespace(edge.client, namespace) || inNamespace(edge.server, namespace);
}

function inNamespace(key: string, namespace: string): boolean {
  return key.startsWith(`wl:${namespace}/`);
}

export interface NamespaceView {
  readonly edges: EdgeRecord[];
  /** Sum of the edges' connection counts. */
  readonly flows: number;
  /** First-seen time of the newest edge. */
  readonly lastNewEdge?: number;
}

export function namespaceView(learner: Learner, namespace: string): NamespaceView {
  const edges: EdgeRecord[] = [];
  let flows = 0;
  let lastNewEdge: number | undefined;
  for (const e of learner.edges.edges()) {
    if (!touchesNamespace(e, namespace)) continue;
    edges.push(e);
    flows += e.count;
    if (lastNewEdge === undefined || e.firstSeen > lastNewEdge) lastNewEdge = e.firstSeen;
  }
  return { edges, flows, ...(lastNewEdge !== undefined ? { lastNewEdge } : {}) };
}

/** The compact TrafficProfile spec of a namespace view (peers once, edges as number tuples). */
export function toProfileSpec(segmentation: string, view: NamespaceView, dnsNames: ReadonlyMap<string, ReadonlySet<string>>, lostEvents: number): TrafficProfile['spec'] {
  const peers = [...new Set(view.edges.flatMap((e) => [e.client, e.server]))].sort();
  const index = new Map(peers.map((p, i) => [p, i]));
  const edges = view.edges
    .map((e) => [index.get(e.client)!, index.get(e.server)!, e.port, PROTOCOLS.indexOf(e.protocol), e.count, e.firstSeen, e.lastSeen])
    .sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]! || a[3]! - b[3]! || a[2]! - b[2]!);
  const names: string[] = [];
  for (const key of peers) {
    const peer = peerFromKey(key);
    if (peer.type === 'entity' && peer.ip && dnsNames.has(peer.ip)) names.push([peer.ip, ...[...dnsNames.get(peer.ip)!].sort()].join(' '));
  }
  return { segmentation, peers, edges, dnsNames: names, flows: view.flows, lostEvents };
}

/** Restores a persisted profile into the learner (idempotent; see EdgeStore.restore). */
export function restoreProfile(learner: Learner, spec: TrafficProfile['spec']): number {
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
    const [ip, ...names] = entry.split(' ');
    if (!ip) continue;
    let set = learner.dnsNames.get(ip);
    if (!set) learner.dnsNames.set(ip, (set = new Set()));
    for (const n of names) set.add(n);
  }
  return restored;
}
