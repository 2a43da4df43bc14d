/**
 * The structured conntrack entry: one line of `conntrack -L`, `conntrack -E` or
 * `/proc/net/nf_conntrack`, whatever the format, parsed into the same shape.
 *
 * Field meanings follow the kernel's `struct nf_conn` as printed by
 * `ct_seq_show()` (net/netfilter/nf_conntrack_standalone.c) and by
 * libnetfilter_conntrack's `__snprintf_conntrack_default()` (src/conntrack/snprintf_default.c),
 * which `conntrack(8)` uses.
 */
import type { Protocol, SkipReason } from '../../domain/flow.js';

/** `%-8s %u` layer 3 name in `-o extended` and /proc (`ipv4 2`, `ipv6 10`). */
export type ConntrackFamily = 'ipv4' | 'ipv6';

/** `conntrack -E` message types, printed as `%9s` of `[NEW]`, `[UPDATE]`, `[DESTROY]`. */
export type ConntrackEventType = 'NEW' | 'UPDATE' | 'DESTROY';

/** ICMP / ICMPv6 tuple fields (`type=%u code=%u id=%u`): the kernel keys ICMP conntrack on these. */
export interface ConntrackIcmp {
  readonly type: number;
  readonly code: number;
  readonly id: number;
}

/**
 * One direction of the connection (`src=… dst=… sport=… dport=…`). The ORIGINAL tuple is the
 * packet as the client sent it; the REPLY tuple is what the kernel expects back, so after DNAT its
 * `src`/`sport` are the real backend and after SNAT its `dst`/`dport` are the translated client.
 */
export interface ConntrackTuple {
  /** Canonical text form: dotted quad, or RFC 5952 IPv6 (lower case, `::` compressed). */
  readonly src: string;
  readonly dst: string;
  /** L4 ports; 0 for ICMP / ICMPv6 (which have none). */
  readonly sport: number;
  readonly dport: number;
  /** ICMP / ICMPv6 only. */
  readonly icmp: ConntrackIcmp | undefined;
}

/** `packets=%llu bytes=%llu` of one direction (only with `net.netfilter.nf_conntrack_acct=1`). */
export interface ConntrackCounter {
  readonly packets: number;
  readonly bytes: number;
}

export interface ConntrackCounters {
  readonly original: ConntrackCounter;
  readonly reply: ConntrackCounter;
}

/**
 * A parsed conntrack line. Every property is always present (absent values are `undefined`) so all
 * entries share one object shape.
 *
 * Normalisation, so that the same connection read from /proc, `conntrack -L` and `conntrack -E`
 * gives the same entry: `mark` and `zone` are `undefined` when the line says 0 or omits them
 * (/proc always prints `mark=0 zone=0`, `conntrack -L` prints `mark=0`, events print neither).
 */
export interface ConntrackEntry {
  readonly family: ConntrackFamily;
  readonly protocol: Protocol;
  /** Set for `conntrack -E` lines only. */
  readonly event: ConntrackEventType | undefined;
  /**
   * Event time in milliseconds since the Unix epoch with the microseconds kept as a fraction,
   * from the `-o timestamp` prefix `[%-.8ld.%-.6ld]` (or the caller's `now` when given).
   */
  readonly timestamp: number | undefined;
  /** Protocol state word (`ESTABLISHED`, `SYN_SENT`, SCTP `COOKIE_WAIT`, …); UDP/ICMP have none. */
  readonly state: string | undefined;
  /**
   * Seconds until the entry expires. Absent for offloaded entries (/proc skips it) and for
   * kernel-initiated `[DESTROY]` events of expired entries.
   */
  readonly timeout: number | undefined;
  readonly original: ConntrackTuple;
  readonly reply: ConntrackTuple;
  /** `[UNREPLIED]`: IPS_SEEN_REPLY is not set, nothing ever came back. */
  readonly unreplied: boolean;
  /** `[ASSURED]`: IPS_ASSURED (the kernel will not early-drop it). */
  readonly assured: boolean;
  /** `[OFFLOAD]` / `[HW_OFFLOAD]`: flowtable (software / hardware) offload; replaces `[ASSURED]`. */
  readonly offload: 'OFFLOAD' | 'HW_OFFLOAD' | undefined;
  /** Conntrack zone (`zone=%u`), undefined for the default zone 0. */
  readonly zone: number | undefined;
  /** Connection mark (`mark=%u`), undefined when 0. */
  readonly mark: number | undefined;
  /** Conntrack id (`id=%u`, `conntrack -o id`): stable across NEW/UPDATE/DESTROY of one entry. */
  readonly id: number | undefined;
  /** Per-direction accounting counters, when the line has both directions' `packets=`/`bytes=`. */
  readonly counters: ConntrackCounters | undefined;
}

export type ConntrackSkip = { readonly kind: 'skip'; readonly reason: SkipReason; readonly detail: string };

export type ConntrackParseResult = { readonly kind: 'entry'; readonly entry: ConntrackEntry } | ConntrackSkip;

export interface ParseConntrackOptions {
  /**
   * Milliseconds since the epoch used as `timestamp` for lines without a `[sec.usec]` prefix.
   * The parser never reads the clock itself; leave unset to keep `timestamp` undefined.
   */
  readonly now?: number;
  /** Lines longer than this many characters are skipped as `too-long`. Default 8192. */
  readonly maxLineLength?: number;
}

/**
 * conntrack-tools formats `conntrack -L` into a 1024-byte buffer; /proc lines with `secctx=` can be
 * longer. 8 KiB leaves room for both while bounding work on garbage input.
 */
export const DEFAULT_MAX_LINE_LENGTH = 8192;
