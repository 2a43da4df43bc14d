/**
 * Ground truth, straight from the generator's model (the traffic table as simulated), never from
 * the rendered flow files: the workload-level connections made inside the capture window, and
 * the denied attempts.
 */
import type { Conn, Peer } from './conn.js';
import { WINDOW_END } from './time.js';

export type PartyRef =
  | { namespace: string; kind: string; name: string }
  | { entity: 'world' | 'host' | 'kube-apiserver'; ip?: string };

export interface ExpectedConnection {
  client: PartyRef;
  server: PartyRef;
  port: number;
  protocol: 'TCP' | 'UDP';
}

export interface ExpectedDenied extends ExpectedConnection {
  verdict: 'DROPPED';
  drop_reason_desc: 'POLICY_DENIED';
  attempts: number;
  /** TCP SYNs sent in all (retransmissions included). */
  syn_packets: number;
}

export function partyOf(peer: Peer): PartyRef {
  switch (peer.kind) {
    case 'pod': return { namespace: peer.pod.namespace, kind: peer.pod.app.kind, name: peer.pod.app.name };
    case 'world': return { entity: 'world', ip: peer.ip };
    case 'host': return { entity: 'host' };
    case 'apiserver': return { entity: 'kube-apiserver', ip: peer.ip };
  }
}

function keyOf(e: ExpectedConnection): string {
  return JSON.stringify([e.client, e.server, e.port, e.protocol]);
}

function inWindow(c: Conn): boolean {
  return c.t >= 0 && c.t < WINDOW_END;
}

export function expectedConnections(conns: readonly Conn[]): ExpectedConnection[] {
  const seen = new Map<string, ExpectedConnection>();
  for (const c of conns) {
    if (c.denied || !inWindow(c)) continue;
    const e: ExpectedConnection = { client: partyOf(c.client), server: partyOf(c.server), port: c.dport, protocol: c.proto };
    seen.set(keyOf(e), e);
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
}

export function expectedDenied(conns: readonly Conn[]): ExpectedDenied[] {
  const seen = new Map<string, ExpectedDenied>();
  for (const c of conns) {
    if (!c.denied || !inWindow(c)) continue;
    const base: ExpectedConnection = { client: partyOf(c.client), server: partyOf(c.server), port: c.dport, protocol: c.proto };
    const key = keyOf(base);
    const prev = seen.get(key);
    if (prev) {
      prev.attempts += 1;
      prev.syn_packets += c.synOffsets.length;
    } else {
      seen.set(key, { ...base, verdict: 'DROPPED', drop_reason_desc: 'POLICY_DENIED', attempts: 1, syn_packets: c.synOffsets.length });
    }
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
}
