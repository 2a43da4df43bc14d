/**
 * Kernel conntrack's view of the same traffic, per node: `conntrack -E -o timestamp,extended`
 * event lines and a `conntrack -L -o extended` table dump. Formats follow conntrack-tools 1.4.7
 * (see src/ingest/conntrack/testdata for real captures): the event tag right-aligned in 9
 * columns, `%-8s %u` for the L3 and L4 protocols, kernel-initiated DESTROY events without a
 * timeout (TCP keeps its last state name).
 *
 * The client's node sees the Service DNAT (original destination = ClusterIP:port or the LB IP,
 * reply source = backend pod:targetPort); a server on another node sees the pod IP directly;
 * pod → internet is masqueraded to the node's InternalIP (reply destination).
 */
import { type Conn, nodeOf } from './conn.js';
import type { NodeModel } from './model.js';
import type { Rng } from './rand.js';
import { US, WINDOW_END, conntrackStamp } from './time.js';

type State = 'SYN_SENT' | 'SYN_RECV' | 'ESTABLISHED' | 'FIN_WAIT' | 'LAST_ACK' | 'TIME_WAIT' | 'UDP';

const TIMEOUT: Record<State, number> = { SYN_SENT: 120, SYN_RECV: 60, ESTABLISHED: 432000, FIN_WAIT: 120, LAST_ACK: 30, TIME_WAIT: 120, UDP: 30 };

export interface CtEvent {
  /** Node-local time, ns after 10:00. */
  t: number;
  kind: 'NEW' | 'UPDATE' | 'DESTROY';
  state: State;
  unreplied: boolean;
  assured: boolean;
}

/** One conntrack entry (a connection as one node's netfilter tracks it). */
export interface CtEntry {
  node: NodeModel;
  conn: Conn;
  orig: string;
  reply: string;
  proto: 'TCP' | 'UDP';
  events: CtEvent[];
}

function tuple(src: string, dst: string, sport: number, dport: number): string {
  return `src=${src} dst=${dst} sport=${sport} dport=${dport}`;
}

/** The conntrack entries of one connection (one per node whose netfilter it crosses). */
export function ctEntries(rng: Rng, c: Conn, nodes: readonly NodeModel[]): CtEntry[] {
  const cn = nodeOf(c.client, nodes);
  const sn = nodeOf(c.server, nodes);
  const out: CtEntry[] = [];
  const replyDst = c.snatIp ?? c.clientIp;
  const reply = tuple(c.serverIp, replyDst, c.dport, c.sport);
  // The first node on the path translates: client node, or (internet → LB) the backend's node.
  const first = cn ?? sn;
  if (first) out.push({ node: first, conn: c, orig: tuple(c.clientIp, c.dialIp, c.sport, c.dialPort), reply, proto: c.proto, events: [] });
  if (sn && cn && sn !== cn) out.push({ node: sn, conn: c, orig: tuple(c.clientIp, c.serverIp, c.sport, c.dport), reply, proto: c.proto, events: [] });
  for (const e of out) {
    const serverSide = e.node === sn && e.node !== cn;
    // The event is delivered a few µs after the packet crossed this node's netfilter.
    const pass = (t: number) => t + rng.int(3 * US, 19 * US);
    const synArrive = c.t + (serverSide ? c.netNs : 0);
    const skew = e.node.skewNs;
    const ev = (t: number, kind: CtEvent['kind'], state: State, unreplied: boolean, assured: boolean) =>
      e.events.push({ t: t + skew, kind, state, unreplied, assured });
    if (c.denied) {
      const last = c.synOffsets[c.synOffsets.length - 1] ?? 0;
      ev(pass(synArrive), 'NEW', c.proto === 'TCP' ? 'SYN_SENT' : 'UDP', true, false);
      ev(synArrive + last + TIMEOUT.SYN_SENT * 1e9 + rng.int(0, 1_500_000) * 1_000, 'DESTROY', 'SYN_SENT', true, false);
      continue;
    }
    const answered = c.t + c.netNs + c.serverNs;
    const replySeen = serverSide ? answered : answered + c.netNs;
    if (c.proto === 'UDP') {
      ev(pass(synArrive), 'NEW', 'UDP', true, false);
      ev(pass(replySeen), 'UPDATE', 'UDP', false, false);
      ev(replySeen + TIMEOUT.UDP * 1e9 + rng.int(0, 1_500_000) * 1_000, 'DESTROY', 'UDP', false, false);
      continue;
    }
    const ackAtClient = answered + c.netNs + rng.int(8 * US, 30 * US);
    const ackSeen = serverSide ? ackAtClient + c.netNs : ackAtClient;
    const fin = ackAtClient + c.durationNs;
    const finSeen = serverSide ? fin + c.netNs : fin;
    const serverFin = fin + c.netNs + rng.int(60 * US, 1_800 * US);
    const serverFinSeen = serverSide ? serverFin : serverFin + c.netNs;
    const lastAck = serverFin + c.netNs + rng.int(9 * US, 40 * US);
    const lastAckSeen = serverSide ? lastAck + c.netNs : lastAck;
    ev(pass(synArrive), 'NEW', 'SYN_SENT', true, false);
    ev(pass(replySeen), 'UPDATE', 'SYN_RECV', false, false);
    ev(pass(ackSeen), 'UPDATE', 'ESTABLISHED', false, true);
    ev(pass(finSeen), 'UPDATE', 'FIN_WAIT', false, true);
    ev(pass(serverFinSeen), 'UPDATE', 'LAST_ACK', false, true);
    ev(pass(lastAckSeen), 'UPDATE', 'TIME_WAIT', false, true);
    ev(lastAckSeen + TIMEOUT.TIME_WAIT * 1e9 + rng.int(0, 1_500_000) * 1_000, 'DESTROY', 'TIME_WAIT', false, true);
  }
  return out;
}

function head(proto: 'TCP' | 'UDP'): string {
  return proto === 'TCP' ? 'ipv4     2 tcp      6' : 'ipv4     2 udp      17';
}

/** The body of an entry in state `e` (without the event tag), conntrack -o extended style. */
function body(entry: CtEntry, e: CtEvent, timeout: number | undefined, tail = ''): string {
  const parts = [head(entry.proto)];
  if (timeout !== undefined) parts.push(String(timeout));
  if (entry.proto === 'TCP') parts.push(e.state);
  parts.push(entry.orig);
  if (e.unreplied) parts.push('[UNREPLIED]');
  parts.push(entry.reply);
  if (e.assured) parts.push('[ASSURED]');
  if (tail) parts.push(tail);
  return parts.join(' ');
}

export function eventLine(entry: CtEntry, e: CtEvent): string {
  const tag = `[${e.kind}]`.padStart(9);
  const timeout = e.kind === 'DESTROY' ? undefined : TIMEOUT[e.state];
  return `${conntrackStamp(e.t)}\t${tag} ${body(entry, e, timeout)}`;
}

/** Event lines of one node inside the capture window, in time order. */
export function nodeEvents(entries: readonly CtEntry[], node: string): string[] {
  const lines: { t: number; seq: number; i: number; line: string }[] = [];
  for (const entry of entries) {
    if (entry.node.name !== node) continue;
    entry.events.forEach((e, i) => {
      if (e.t >= 0 && e.t < WINDOW_END) lines.push({ t: e.t, seq: entry.conn.seq, i, line: eventLine(entry, e) });
    });
  }
  lines.sort((a, b) => a.t - b.t || a.seq - b.seq || a.i - b.i);
  return lines.map((l) => l.line);
}

/** `conntrack -L -o extended` on `node` at node-local time `at`: entries that exist then, in hash order. */
export function tableDump(rng: Rng, entries: readonly CtEntry[], node: string, at: number): string[] {
  const out: string[] = [];
  for (const entry of entries) {
    if (entry.node.name !== node) continue;
    const before = entry.events.filter((e) => e.t < at);
    const last = before[before.length - 1];
    if (!last || last.kind === 'DESTROY') continue;
    const elapsed = Math.floor((at - last.t) / 1e9);
    const timeout = last.state === 'ESTABLISHED' ? TIMEOUT.ESTABLISHED - rng.int(1, Math.min(elapsed, 40) + 1) : Math.max(TIMEOUT[last.state] - elapsed - 1, 0);
    out.push(body(entry, last, timeout, 'mark=0 use=1'));
  }
  return rng.shuffle(out);
}
