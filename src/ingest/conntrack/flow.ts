/**
 * Conntrack entry → normalized {@link Flow}.
 *
 * Which side is which (docs/architecture.md §4: "Ports are the pod's port after service translation"):
 * - the ORIGINAL tuple is the first packet as the client sent it, so its `src`/`sport` is the
 *   client — also when the client was SNATed / masqueraded (then the REPLY tuple's `dst` is the
 *   translated address, not the client);
 * - the REPLY tuple is the packet the kernel expects back, so its `src`/`sport` is the server that
 *   really answered — after DNAT (a Service ClusterIP 10.96.0.10:80 → endpoint 10.244.1.7:8080)
 *   that is the backend pod, which is what a NetworkPolicy must allow.
 *
 * One connection shows up many times: in every `conntrack -L` dump while it lives, and as
 * `[NEW]`, several `[UPDATE]` and a `[DESTROY]` event. Each becomes a Flow with the same
 * {@link conntrackConnectionKey}; the consumer (the graph) must deduplicate by that 5-tuple and
 * never count them as separate connections. `[UNREPLIED]` entries (nothing came back: a dropped
 * SYN, a UDP packet to nowhere) become flows with `confirmed: false`, reported but not learned.
 */
import type { Flow, ParseResult } from '../../domain/flow.js';
import type { ConntrackEntry } from './types.js';

/**
 * The Flow for `entry`. `time` (ms since the epoch) is used when the entry has no timestamp of its
 * own; the event timestamp is truncated to whole milliseconds.
 */
export function conntrackEntryToFlow(entry: ConntrackEntry, time: number): ParseResult {
  const at = entry.timestamp ?? time;
  if (!Number.isFinite(at) || at < 0) return { kind: 'skip', reason: 'malformed', detail: 'no valid observation time' };
  const flow: Flow = {
    time: Math.floor(at),
    source: { ip: entry.original.src, port: entry.original.sport },
    destination: { ip: entry.reply.src, port: entry.reply.sport },
    protocol: entry.protocol,
    verdict: 'FORWARDED',
    isReply: false,
    confirmed: !entry.unreplied,
    ...(entry.state !== undefined ? { connectionState: entry.state } : {}),
    ...(entry.event === 'DESTROY' ? { ended: true } : {}),
  };
  return { kind: 'flow', flow };
}

/** What address translation the kernel applied to the connection. */
export interface ConntrackNat {
  /** Destination NAT (Service / port-forward): the server that replied is not the address dialled. */
  readonly dnat: boolean;
  /** Source NAT / masquerade: replies go to a translated address, not to the client itself. */
  readonly snat: boolean;
}

/** DNAT when the reply source differs from the original destination; SNAT when the reply destination differs from the original source. */
export function conntrackNat(entry: ConntrackEntry): ConntrackNat {
  const { original: o, reply: r } = entry;
  return {
    dnat: r.src !== o.dst || r.sport !== o.dport,
    snat: r.dst !== o.src || r.dport !== o.sport,
  };
}

/**
 * A key that is equal for every line describing the same connection (dump lines and NEW / UPDATE /
 * DESTROY events alike): zone, protocol and the ORIGINAL tuple, which the kernel never changes
 * for the life of an entry (ICMP: type, code and id instead of ports).
 */
export function conntrackConnectionKey(entry: ConntrackEntry): string {
  const o = entry.original;
  const l4 = o.icmp === undefined ? `${o.sport}>${o.dport}` : `icmp:${o.icmp.type}/${o.icmp.code}/${o.icmp.id}`;
  return `${entry.zone ?? 0}|${entry.protocol}|${o.src}>${o.dst}|${l4}`;
}
