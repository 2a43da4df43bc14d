/**
 * Renders a {@link ConntrackEntry} the way the kernel or conntrack-tools print it. Used by tests
 * (round-trip properties), the benchmark's line generator and anyone who needs realistic fixtures.
 *
 * - `proc`: `ct_seq_show()` in net/netfilter/nf_conntrack_standalone.c (`%pI6` full IPv6 groups,
 *   timeout omitted when offloaded, always `mark=%u` and `zone=%u`, ends with `use=%u`).
 * - `extended` / `plain`: `conntrack -L [-o extended]`, i.e. libnetfilter_conntrack's
 *   `__snprintf_conntrack_default()` (inet_ntop IPv6, `mark=%u` always, `zone=%u` when non-zero,
 *   `use=%u`, `id=%u` as with `-o id`).
 * - `event*`: `conntrack -E [-o extended][,timestamp]`: `%9s ` event type first, optional
 *   `[%-.8ld.%-.6ld]\t` prefix, `mark=` only when non-zero, no `use=`.
 */
import { expandIPv6 } from './ip.js';
import { FAMILY_NUMBER, L4_BY_PROTOCOL } from './protocols.js';
import type { ConntrackCounter, ConntrackEntry, ConntrackTuple } from './types.js';

export type ConntrackFormat =
  | 'proc'
  | 'extended'
  | 'plain'
  | 'event'
  | 'event-extended'
  | 'event-timestamp'
  | 'event-timestamp-extended';

export const CONNTRACK_FORMATS: readonly ConntrackFormat[] = [
  'proc',
  'extended',
  'plain',
  'event',
  'event-extended',
  'event-timestamp',
  'event-timestamp-extended',
];

function pad8(s: string): string {
  return s.length >= 8 ? s : s + ' '.repeat(8 - s.length);
}

function tuple(t: ConntrackTuple, proc: boolean, ipv6: boolean): string {
  const src = proc && ipv6 ? expandIPv6(t.src) : t.src;
  const dst = proc && ipv6 ? expandIPv6(t.dst) : t.dst;
  const l4 = t.icmp === undefined ? `sport=${t.sport} dport=${t.dport}` : `type=${t.icmp.type} code=${t.icmp.code} id=${t.icmp.id}`;
  return `src=${src} dst=${dst} ${l4} `;
}

function counter(c: ConntrackCounter | undefined): string {
  return c === undefined ? '' : `packets=${c.packets} bytes=${c.bytes} `;
}

/** `[sec.usec]` of a millisecond timestamp, as `printf("[%-.8ld.%-.6ld]", …)` prints it. */
export function formatEpoch(ms: number): string {
  const sec = Math.floor(ms / 1000);
  let usec = Math.round((ms - sec * 1000) * 1000);
  let s = sec;
  if (usec >= 1_000_000) {
    s += 1;
    usec -= 1_000_000;
  }
  return `[${s}.${String(usec).padStart(6, '0')}]`;
}

/** One line (without the newline) in `format`. Fields a format cannot show are left out. */
export function formatConntrackEntry(entry: ConntrackEntry, format: ConntrackFormat): string {
  const proc = format === 'proc';
  const isEvent = format.startsWith('event');
  const extended = proc || format === 'extended' || format.endsWith('extended');
  const l4 = L4_BY_PROTOCOL[entry.protocol];
  const ipv6 = entry.family === 'ipv6';
  let out = '';
  if (format === 'event-timestamp' || format === 'event-timestamp-extended') out += `${formatEpoch(entry.timestamp ?? 0)}\t`;
  if (isEvent) out += `[${entry.event ?? 'NEW'}] `.padStart(10);
  if (extended) out += `${pad8(entry.family)} ${FAMILY_NUMBER[entry.family]} `;
  out += `${pad8(l4.name)} ${l4.number} `;
  if (entry.timeout !== undefined && !(proc && entry.offload !== undefined)) out += `${entry.timeout} `;
  if (entry.state !== undefined) out += `${entry.state} `;
  out += tuple(entry.original, proc, ipv6);
  out += counter(entry.counters?.original);
  if (entry.unreplied) out += '[UNREPLIED] ';
  out += tuple(entry.reply, proc, ipv6);
  out += counter(entry.counters?.reply);
  if (entry.offload !== undefined) out += `[${entry.offload}] `;
  else if (entry.assured) out += '[ASSURED] ';
  if (proc) return `${out}mark=${entry.mark ?? 0} zone=${entry.zone ?? 0} use=2`;
  if (!isEvent || entry.mark !== undefined) out += `mark=${entry.mark ?? 0} `;
  if (entry.zone !== undefined) out += `zone=${entry.zone} `;
  if (!isEvent) out += 'use=1 ';
  if (entry.id !== undefined) out += `id=${entry.id} `;
  return out.slice(0, -1);
}
