import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONNTRACK_FORMATS, formatConntrackEntry, type ConntrackFormat } from './format.js';
import { parseIPv4, parseIPv6 } from './ip.js';
import { parseConntrackLine } from './parse.js';
import type { ConntrackEntry, ConntrackTuple } from './types.js';

const TCP_STATES = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2'];
const SCTP_STATES = ['CLOSED', 'COOKIE_WAIT', 'COOKIE_ECHOED', 'ESTABLISHED', 'SHUTDOWN_SENT', 'SHUTDOWN_RECD', 'SHUTDOWN_ACK_SENT', 'HEARTBEAT_SENT'];

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
/** Groups biased to zero so `::` runs, single zero groups and IPv4-mapped addresses all occur. */
const ipv6 = fc
  .oneof(
    fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0xfd00), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }),
    fc.tuple(fc.nat(0xffff), fc.nat(0xffff)).map(([a, b]) => [0, 0, 0, 0, 0, 0xffff, a, b]),
  )
  .map((g) => parseIPv6(g.map((x) => x.toString(16)).join(':')) as string);

const port = fc.nat(65535);
const u32 = fc.nat(0xffffffff);
const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const portTuple = (ip: fc.Arbitrary<string>) =>
  fc.record({ src: ip, dst: ip, sport: port, dport: port }).map((t): ConntrackTuple => ({ ...t, icmp: undefined }));
const icmpTuple = (ip: fc.Arbitrary<string>) =>
  fc
    .record({ src: ip, dst: ip, type: fc.nat(255), code: fc.nat(255), id: port })
    .map((t): ConntrackTuple => ({ src: t.src, dst: t.dst, sport: 0, dport: 0, icmp: { type: t.type, code: t.code, id: t.id } }));

const counter = fc.record({ packets: fc.nat(), bytes: fc.maxSafeNat() });

/** Any entry conntrack could print (offloaded entries never show [ASSURED]). */
const entryArb: fc.Arbitrary<ConntrackEntry> = fc
  .record({
    family: fc.constantFrom('ipv4' as const, 'ipv6' as const),
    kind: fc.constantFrom('tcp', 'udp', 'sctp', 'icmp'),
    event: optional(fc.constantFrom('NEW' as const, 'UPDATE' as const, 'DESTROY' as const)),
    sec: fc.integer({ min: 1_000_000_000, max: 4_000_000_000 }),
    usec: fc.nat(999_999),
    timed: fc.boolean(),
    state: fc.boolean(),
    tcpState: fc.constantFrom(...TCP_STATES),
    sctpState: fc.constantFrom(...SCTP_STATES),
    timeout: optional(u32),
    unreplied: fc.boolean(),
    assured: fc.boolean(),
    offload: optional(fc.constantFrom('OFFLOAD' as const, 'HW_OFFLOAD' as const)),
    zone: optional(fc.integer({ min: 1, max: 65535 })),
    mark: optional(fc.integer({ min: 1, max: 0xffffffff })),
    id: optional(u32),
    counters: optional(fc.record({ original: counter, reply: counter })),
    seed: fc.nat(),
  })
  .chain((r) => {
    const ip = r.family === 'ipv4' ? ipv4 : ipv6;
    const tuple = r.kind === 'icmp' ? icmpTuple(ip) : portTuple(ip);
    return fc.record({ original: tuple, reply: tuple }).map(({ original, reply }): ConntrackEntry => ({
      family: r.family,
      protocol: r.kind === 'tcp' ? 'TCP' : r.kind === 'udp' ? 'UDP' : r.kind === 'sctp' ? 'SCTP' : r.family === 'ipv4' ? 'ICMPv4' : 'ICMPv6',
      event: r.event,
      timestamp: r.timed ? r.sec * 1000 + r.usec / 1000 : undefined,
      state: !r.state ? undefined : r.kind === 'tcp' ? r.tcpState : r.kind === 'sctp' ? r.sctpState : undefined,
      timeout: r.timeout,
      original,
      reply,
      unreplied: r.unreplied,
      assured: r.offload === undefined && r.assured,
      offload: r.offload,
      zone: r.zone,
      mark: r.mark,
      id: r.id,
      counters: r.counters,
    }));
  });

/** What a format can carry: the entry the parser must recover from `formatConntrackEntry(entry, format)`. */
function visible(entry: ConntrackEntry, format: ConntrackFormat): ConntrackEntry {
  const isEvent = format.startsWith('event');
  const timed = format.startsWith('event-timestamp');
  return {
    ...entry,
    event: isEvent ? (entry.event ?? 'NEW') : undefined,
    timestamp: timed ? (entry.timestamp ?? 0) : undefined,
    timeout: format === 'proc' && entry.offload !== undefined ? undefined : entry.timeout,
    id: format === 'proc' ? undefined : entry.id,
  };
}

describe('property: render then parse recovers the entry', () => {
  it.each(CONNTRACK_FORMATS.map((format) => ({ format })))('$format', ({ format }) => {
    fc.assert(
      fc.property(entryArb, (entry) => {
        const line = formatConntrackEntry(entry, format);
        expect(parseConntrackLine(line)).toEqual({ kind: 'entry', entry: visible(entry, format) });
      }),
      { numRuns: 400 },
    );
  });

  it('with CRLF and extra white space too', () => {
    fc.assert(
      fc.property(entryArb, fc.constantFrom(...CONNTRACK_FORMATS), (entry, format) => {
        const line = `  ${formatConntrackEntry(entry, format).replaceAll(' ', '  ')}\r`;
        expect(parseConntrackLine(line)).toEqual({ kind: 'entry', entry: visible(entry, format) });
      }),
    );
  });
});

const SKIP_REASONS = new Set(['empty', 'malformed', 'too-long', 'unsupported-protocol']);

/** The parser's promise for any input: a skip with a known reason, or a well-formed entry. */
function checkTotal(line: string): void {
  const r = parseConntrackLine(line);
  if (r.kind === 'skip') {
    expect(SKIP_REASONS.has(r.reason), r.reason).toBe(true);
    expect(typeof r.detail).toBe('string');
    return;
  }
  expect(r.kind).toBe('entry');
  const e = r.entry;
  const canonical = e.family === 'ipv4' ? parseIPv4 : parseIPv6;
  for (const t of [e.original, e.reply]) {
    expect(canonical(t.src)).toBe(t.src);
    expect(canonical(t.dst)).toBe(t.dst);
    for (const p of [t.sport, t.dport]) expect(Number.isInteger(p) && p >= 0 && p <= 65535).toBe(true);
  }
}

/** A rendered line with a few characters inserted, deleted or replaced. */
const mutatedLine = fc
  .tuple(entryArb, fc.constantFrom(...CONNTRACK_FORMATS), fc.array(fc.tuple(fc.nat(), fc.nat(2), fc.string({ maxLength: 3, unit: 'binary' })), { minLength: 1, maxLength: 4 }))
  .map(([entry, format, edits]) => {
    let line = formatConntrackEntry(entry, format);
    for (const [at, op, text] of edits) {
      const i = at % (line.length + 1);
      if (op === 0) line = line.slice(0, i) + text + line.slice(i);
      else if (op === 1) line = line.slice(0, i) + line.slice(i + 1 + text.length);
      else line = line.slice(0, i) + text + line.slice(i + text.length);
    }
    return line;
  });

/** Real-looking tokens shuffled into random orders. */
const tokenSoup = fc
  .array(
    fc.constantFrom(
      'ipv4', 'ipv6', '2', '10', 'tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'gre', '6', '17', '1', '58', '132', '120', 'ESTABLISHED',
      '[NEW]', '[DESTROY]', '[1700000000.123456]', 'src=10.0.0.1', 'dst=10.0.0.2', 'src=fd00::1', 'dst=::', 'sport=1', 'dport=65535',
      'type=8', 'code=0', 'id=1', 'id=4294967295', '[UNREPLIED]', '[ASSURED]', '[OFFLOAD]', 'mark=1', 'zone=2', 'use=1',
      'packets=1', 'bytes=2', '[start=Fri', 'Nov', '2026]', 'labels=a,b', '=', '[', ']', '\t', '\r', '\u0000',
    ),
    { maxLength: 40 },
  )
  .map((tokens) => tokens.join(' '));

describe('property: arbitrary input never throws', () => {
  it('arbitrary unicode strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), checkTotal), { numRuns: 2000 });
  });

  it('arbitrary ASCII strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary-ascii', maxLength: 300 }), checkTotal), { numRuns: 2000 });
  });

  it('mutated real-format lines', () => {
    fc.assert(fc.property(mutatedLine, checkTotal), { numRuns: 3000 });
  });

  it('shuffled conntrack tokens', () => {
    fc.assert(fc.property(tokenSoup, checkTotal), { numRuns: 3000 });
  });
});
