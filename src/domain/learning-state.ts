/**
 * The operator's learned state: one Learner for every flow, per-namespace views of it, and the
 * TrafficProfile encoding that persists a namespace's edges so a restart loses nothing.
 */
import type { DnsNames } from './dns-names.js';
import { PROTOCOLS, type EdgeRecord } from './edge-store.js';
import type { Protocol } from './flow.js';
import { isValidIp } from './ip.js';
import { isDnsName } from './k8s-names.js';
import type { Learner } from './learner.js';
import { entityAddressOf, invalidPeerKey, isWorkloadKey, isWorkloadOf, parsePeerKey, peerFromKey, workloadNamespace } from './peer.js';
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
    if (!isWorkloadKey(e.client)) continue;
    const server = peerFromKey(e.server);
    if (server.type !== 'entity' || !server.ip) continue;
    const resolved = dnsNames.namesFor(e.client, server.ip);
    if (resolved.length > 0) names.add([e.client, server.ip, ...resolved].join(' '));
  }
  return { segmentation, peers, edges, dnsNames: [...names].sort(), flows: view.flows, lostEvents };
}

/**
 * Restores a persisted profile into the learner (its `rows`: the stored edges, or
 * {@link rolledBackRows}; idempotent, see EdgeStore.restore). A stored object is input like any
 * other: a row is taken only when both peers are valid peer keys ({@link invalidPeerKey}) and,
 * given the profile's `namespace`, one side is a workload of that namespace, so an edited or
 * forged profile can never add an edge between other namespaces' workloads (which would widen
 * their policies). DNS entries are taken only in the per-client form, with valid names, and only
 * for clients of that namespace. Entries of the earlier `<ip> <name> ...` form named no client and
 * are dropped (those peers are named by address until their workload resolves them again).
 */
export function restoreProfile(learner: Learner, spec: TrafficProfile['spec'], namespace?: string, rows: readonly (readonly number[])[] = spec.edges): number {
  let restored = 0;
  const peers = spec.peers.map(parsePeerKey);
  /** `<client> <ip>` of the restored edges to an external address. */
  const edgeAddresses = new Set<string>();
  for (const row of rows) {
    const [c, s, port, proto, count, first, last] = row;
    const client = peers[c!];
    const server = peers[s!];
    const protocol = PROTOCOLS[proto!] as Protocol | undefined;
    if (client === undefined || server === undefined || protocol === undefined || port === undefined) continue;
    if (namespace !== undefined && workloadNamespace(client) !== namespace && workloadNamespace(server) !== namespace) continue;
    learner.edges.restore(client, server, port, protocol, count ?? 1, first ?? 0, last ?? first ?? 0);
    restored++;
    const address = entityAddressOf(server);
    if (address !== undefined) edgeAddresses.add(`${client} ${address}`);
  }
  for (const entry of spec.dnsNames) {
    const [client, ip, ...names] = entry.split(' ');
    if (client === undefined || !isWorkloadKey(client) || invalidPeerKey(client) !== undefined || !ip || !isValidIp(ip)) continue;
    if (namespace !== undefined && !isWorkloadOf(client, namespace)) continue;
    for (const name of names) if (isDnsName(name)) learner.dnsNames.add(client, ip, name);
    // The names of a restored edge's address make its FQDN rule: kept as the learned edge's are.
    if (edgeAddresses.has(`${client} ${ip}`)) learner.dnsNames.pin(client, ip);
  }
  return restored;
}

/** An edge's counts in a profile, by {@link rowKey}. */
export type RowCounts = Map<string, { readonly count: number; readonly last: number }>;

type ProfileRows = Pick<TrafficProfile['spec'], 'peers' | 'edges'>;

/** A row's identity within a namespace: `<client> <server> <port> <protocol index>` (peer keys). */
function rowKey(spec: ProfileRows, row: readonly number[]): string | undefined {
  const client = spec.peers[row[0]!];
  const server = spec.peers[row[1]!];
  return client === undefined || server === undefined ? undefined : `${client} ${server} ${row[2]} ${row[3]}`;
}

/** The count and last-seen time of every row of a profile spec. */
export function rowCountsOf(spec: ProfileRows, rows: readonly (readonly number[])[] = spec.edges): RowCounts {
  const counts: RowCounts = new Map();
  for (const row of rows) {
    const key = rowKey(spec, row);
    if (key !== undefined) counts.set(key, { count: row[4] ?? 0, last: row[6] ?? row[5] ?? 0 });
  }
  return counts;
}

/**
 * What undoes `spec`'s counts back to `base` (the namespace's rows at the last committed pass):
 * rows absent from `base` are `added`; rows whose count or last-seen time moved are `changed`
 * (`[row index, count, lastSeen]` at base).
 */
export function rollbackTo(spec: ProfileRows, base: RowCounts): { added: number[]; changed: number[][] } {
  const added: number[] = [];
  const changed: number[][] = [];
  spec.edges.forEach((row, i) => {
    const key = rowKey(spec, row);
    if (key === undefined) return;
    const before = base.get(key);
    if (before === undefined) added.push(i);
    else if (before.count !== row[4] || before.last !== row[6]) changed.push([i, before.count, before.last]);
  });
  return { added, changed };
}

/**
 * A profile's rows as they were at its `covers.base` pass, for a profile whose own pass was never
 * committed: changed rows get their base count and last-seen time back; rows added since are kept
 * (the edge was observed; the replay counts its connections again) with a count of 0.
 */
export function rolledBackRows(spec: TrafficProfile['spec']): number[][] {
  const rollback = spec.covers?.rollback;
  const rows = spec.edges.map((row) => [...row]);
  if (rollback === undefined) return rows;
  for (const i of rollback.added) {
    const row = rows[i];
    if (row === undefined) continue;
    row[4] = 0;
    row[6] = row[5] ?? 0;
  }
  for (const [i, count, last] of rollback.changed) {
    const row = i === undefined ? undefined : rows[i];
    if (row === undefined || count === undefined || last === undefined) continue;
    row[4] = count;
    row[6] = last;
  }
  return rows;
}
