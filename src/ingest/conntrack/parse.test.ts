import { describe, expect, it } from 'vitest';
import { parseConntrackLine } from './parse.js';
import { ctEntry, FIXTURES, fixtureLines, fixtureText, icmpTuple, tuple } from './test-support.js';
import type { ConntrackEntry } from './types.js';

/**
 * Named cases: each `line` is copied verbatim from a real capture in testdata/ (the test checks
 * it is still there; re-running testdata/capture.sh changes ports and ids, update these then).
 */
const realCases: ReadonlyArray<{ name: string; fixture: string; line: string; want: ConntrackEntry }> = [
  {
    name: 'conntrack -L -o extended: Service ClusterIP DNATed to a pod',
    fixture: 'list.basic.extended.txt',
    line: 'ipv4     2 tcp      6 431998 ESTABLISHED src=10.244.0.5 dst=10.96.0.10 sport=54115 dport=80 src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=54115 [ASSURED] mark=0 use=1',
    want: ctEntry({
      state: 'ESTABLISHED',
      timeout: 431998,
      assured: true,
      original: tuple('10.244.0.5', '10.96.0.10', 54115, 80),
      reply: tuple('10.244.1.7', '10.244.0.5', 8080, 54115),
    }),
  },
  {
    name: 'conntrack -L -o extended: SNAT to 10.244.0.99',
    fixture: 'list.basic.extended.txt',
    line: 'ipv4     2 tcp      6 431998 ESTABLISHED src=10.244.0.5 dst=10.244.2.9 sport=42255 dport=7000 src=10.244.2.9 dst=10.244.0.99 sport=7000 dport=42255 [ASSURED] mark=0 use=1',
    want: ctEntry({
      state: 'ESTABLISHED',
      timeout: 431998,
      assured: true,
      original: tuple('10.244.0.5', '10.244.2.9', 42255, 7000),
      reply: tuple('10.244.2.9', '10.244.0.99', 7000, 42255),
    }),
  },
  {
    name: 'conntrack -L -o extended: SYN dropped by the server side, UNREPLIED',
    fixture: 'list.basic.extended.txt',
    line: 'ipv4     2 tcp      6 118 SYN_SENT src=10.244.0.5 dst=10.244.2.9 sport=40717 dport=9999 [UNREPLIED] src=10.244.2.9 dst=10.244.0.5 sport=9999 dport=40717 mark=0 use=1',
    want: ctEntry({
      state: 'SYN_SENT',
      timeout: 118,
      unreplied: true,
      original: tuple('10.244.0.5', '10.244.2.9', 40717, 9999),
      reply: tuple('10.244.2.9', '10.244.0.5', 9999, 40717),
    }),
  },
  {
    name: 'conntrack -L -o extended: zone 7, mark 42',
    fixture: 'list.basic.extended.txt',
    line: 'ipv4     2 tcp      6 431998 ESTABLISHED src=10.244.0.5 dst=10.244.3.3 sport=34623 dport=6379 src=10.244.3.3 dst=10.244.0.5 sport=6379 dport=34623 [ASSURED] mark=42 zone=7 use=1',
    want: ctEntry({
      state: 'ESTABLISHED',
      timeout: 431998,
      assured: true,
      zone: 7,
      mark: 42,
      original: tuple('10.244.0.5', '10.244.3.3', 34623, 6379),
      reply: tuple('10.244.3.3', '10.244.0.5', 6379, 34623),
    }),
  },
  {
    name: 'conntrack -L -o extended: IPv6 Service DNAT',
    fixture: 'list.basic.extended.txt',
    line: 'ipv6     10 tcp      6 431998 ESTABLISHED src=fd00:10:244::5 dst=fd00:10:96::10 sport=33169 dport=80 src=fd00:10:244:1::7 dst=fd00:10:244::5 sport=8080 dport=33169 [ASSURED] mark=0 use=1',
    want: ctEntry({
      family: 'ipv6',
      state: 'ESTABLISHED',
      timeout: 431998,
      assured: true,
      original: tuple('fd00:10:244::5', 'fd00:10:96::10', 33169, 80),
      reply: tuple('fd00:10:244:1::7', 'fd00:10:244::5', 8080, 33169),
    }),
  },
  {
    name: 'conntrack -L: UDP has no state word',
    fixture: 'list.basic.plain.txt',
    line: 'udp      17 28 src=10.244.0.5 dst=10.96.0.20 sport=37796 dport=53 src=10.244.1.7 dst=10.244.0.5 sport=5353 dport=37796 mark=0 use=1',
    want: ctEntry({
      protocol: 'UDP',
      timeout: 28,
      original: tuple('10.244.0.5', '10.96.0.20', 37796, 53),
      reply: tuple('10.244.1.7', '10.244.0.5', 5353, 37796),
    }),
  },
  {
    name: 'conntrack -L: UDP to a port nobody listens on',
    fixture: 'list.basic.plain.txt',
    line: 'udp      17 28 src=10.244.0.5 dst=10.244.2.9 sport=59266 dport=5999 [UNREPLIED] src=10.244.2.9 dst=10.244.0.5 sport=5999 dport=59266 mark=0 use=1',
    want: ctEntry({
      protocol: 'UDP',
      timeout: 28,
      unreplied: true,
      original: tuple('10.244.0.5', '10.244.2.9', 59266, 5999),
      reply: tuple('10.244.2.9', '10.244.0.5', 5999, 59266),
    }),
  },
  {
    name: 'conntrack -L: IPv6 without the l3 column (family from the address)',
    fixture: 'list.basic.plain.txt',
    line: 'udp      17 28 src=fd00:10:244::5 dst=fd00:10:244:1::7 sport=35932 dport=5353 src=fd00:10:244:1::7 dst=fd00:10:244::5 sport=5353 dport=35932 mark=0 use=1',
    want: ctEntry({
      family: 'ipv6',
      protocol: 'UDP',
      timeout: 28,
      original: tuple('fd00:10:244::5', 'fd00:10:244:1::7', 35932, 5353),
      reply: tuple('fd00:10:244:1::7', 'fd00:10:244::5', 5353, 35932),
    }),
  },
  {
    name: 'conntrack -L: SCTP with its own state names',
    fixture: 'list.basic.plain.txt',
    line: 'sctp     132 208 ESTABLISHED src=10.244.0.5 dst=10.244.1.7 sport=5000 dport=6000 src=10.244.1.7 dst=10.244.0.5 sport=6000 dport=5000 [ASSURED] mark=0 use=1',
    want: ctEntry({
      protocol: 'SCTP',
      state: 'ESTABLISHED',
      timeout: 208,
      assured: true,
      original: tuple('10.244.0.5', '10.244.1.7', 5000, 6000),
      reply: tuple('10.244.1.7', '10.244.0.5', 6000, 5000),
    }),
  },
  {
    name: 'conntrack -L: ICMP echo',
    fixture: 'list.basic.plain.txt',
    line: 'icmp     1 28 src=10.244.0.5 dst=10.244.1.7 type=8 code=0 id=11708 src=10.244.1.7 dst=10.244.0.5 type=0 code=0 id=11708 mark=0 use=1',
    want: ctEntry({
      protocol: 'ICMPv4',
      timeout: 28,
      original: icmpTuple('10.244.0.5', '10.244.1.7', 8, 0, 11708),
      reply: icmpTuple('10.244.1.7', '10.244.0.5', 0, 0, 11708),
    }),
  },
  {
    name: '/proc/net/nf_conntrack: IPv6 as %pI6 (all groups zero-padded) becomes canonical',
    fixture: 'proc.basic.txt',
    line: 'ipv6     10 tcp      6 431998 ESTABLISHED src=fd00:0010:0244:0000:0000:0000:0000:0005 dst=fd00:0010:0096:0000:0000:0000:0000:0010 sport=33169 dport=80 src=fd00:0010:0244:0001:0000:0000:0000:0007 dst=fd00:0010:0244:0000:0000:0000:0000:0005 sport=8080 dport=33169 [ASSURED] mark=0 zone=0 use=2',
    want: ctEntry({
      family: 'ipv6',
      state: 'ESTABLISHED',
      timeout: 431998,
      assured: true,
      original: tuple('fd00:10:244::5', 'fd00:10:96::10', 33169, 80),
      reply: tuple('fd00:10:244:1::7', 'fd00:10:244::5', 8080, 33169),
    }),
  },
  {
    name: '/proc/net/nf_conntrack: ICMPv6 echo',
    fixture: 'proc.basic.txt',
    line: 'ipv6     10 icmpv6   58 28 src=fd00:0010:0244:0000:0000:0000:0000:0005 dst=fd00:0010:0244:0001:0000:0000:0000:0007 type=128 code=0 id=11709 src=fd00:0010:0244:0001:0000:0000:0000:0007 dst=fd00:0010:0244:0000:0000:0000:0000:0005 type=129 code=0 id=11709 mark=0 zone=0 use=2',
    want: ctEntry({
      family: 'ipv6',
      protocol: 'ICMPv6',
      timeout: 28,
      original: icmpTuple('fd00:10:244::5', 'fd00:10:244:1::7', 128, 0, 11709),
      reply: icmpTuple('fd00:10:244:1::7', 'fd00:10:244::5', 129, 0, 11709),
    }),
  },
  {
    name: '/proc/net/nf_conntrack with nf_conntrack_acct and nf_conntrack_timestamp',
    fixture: 'proc.acct.txt',
    line: 'ipv4     2 tcp      6 431998 ESTABLISHED src=10.244.0.5 dst=10.244.2.9 sport=57747 dport=7000 packets=4 bytes=220 src=10.244.2.9 dst=10.244.0.99 sport=7000 dport=57747 packets=3 bytes=168 [ASSURED] mark=0 zone=0 delta-time=1 use=2',
    want: ctEntry({
      state: 'ESTABLISHED',
      timeout: 431998,
      assured: true,
      original: tuple('10.244.0.5', '10.244.2.9', 57747, 7000),
      reply: tuple('10.244.2.9', '10.244.0.99', 7000, 57747),
      counters: { original: { packets: 4, bytes: 220 }, reply: { packets: 3, bytes: 168 } },
    }),
  },
  {
    name: 'conntrack -L -o extended,ktimestamp,id,labels: [start=…] with spaces, id=, labels=',
    fixture: 'list.acct.ktimestamp-id-labels.txt',
    line: 'ipv4     2 tcp      6 431998 ESTABLISHED src=10.244.0.5 dst=10.244.3.3 sport=42841 dport=6379 packets=4 bytes=220 src=10.244.3.3 dst=10.244.0.5 sport=6379 dport=42841 packets=3 bytes=168 [ASSURED] mark=42 zone=7 delta-time=2 [start=Fri Nov 27 04:14:16 2026] use=1 id=2754798952 labels=hivewall-learned',
    want: ctEntry({
      state: 'ESTABLISHED',
      timeout: 431998,
      assured: true,
      zone: 7,
      mark: 42,
      id: 2754798952,
      original: tuple('10.244.0.5', '10.244.3.3', 42841, 6379),
      reply: tuple('10.244.3.3', '10.244.0.5', 6379, 42841),
      counters: { original: { packets: 4, bytes: 220 }, reply: { packets: 3, bytes: 168 } },
    }),
  },
  {
    name: 'conntrack -L -o extended,id: ICMP id= in the tuple versus the conntrack id= at the end',
    fixture: 'list.acct.ktimestamp-id-labels.txt',
    line: 'ipv4     2 icmp     1 28 src=10.244.0.5 dst=10.244.1.7 type=8 code=0 id=12104 packets=1 bytes=84 src=10.244.1.7 dst=10.244.0.5 type=0 code=0 id=12104 packets=1 bytes=84 mark=0 delta-time=2 [start=Fri Nov 27 04:14:16 2026] use=1 id=4106576375',
    want: ctEntry({
      protocol: 'ICMPv4',
      timeout: 28,
      id: 4106576375,
      original: icmpTuple('10.244.0.5', '10.244.1.7', 8, 0, 12104),
      reply: icmpTuple('10.244.1.7', '10.244.0.5', 0, 0, 12104),
      counters: { original: { packets: 1, bytes: 84 }, reply: { packets: 1, bytes: 84 } },
    }),
  },
  {
    name: 'conntrack -E: [NEW] with mark and zone, no use=',
    fixture: 'events.acct.plain.txt',
    line: '    [NEW] tcp      6 120 SYN_SENT src=10.244.0.5 dst=10.244.3.3 sport=42841 dport=6379 [UNREPLIED] src=10.244.3.3 dst=10.244.0.5 sport=6379 dport=42841 mark=42 zone=7',
    want: ctEntry({
      event: 'NEW',
      state: 'SYN_SENT',
      timeout: 120,
      unreplied: true,
      zone: 7,
      mark: 42,
      original: tuple('10.244.0.5', '10.244.3.3', 42841, 6379),
      reply: tuple('10.244.3.3', '10.244.0.5', 6379, 42841),
    }),
  },
  {
    name: 'conntrack -E -o timestamp: [sec.usec]<TAB> prefix',
    fixture: 'events.basic.timestamp.txt',
    line: '[1795752849.772029]\t [UPDATE] tcp      6 60 SYN_RECV src=10.244.0.5 dst=10.96.0.10 sport=54115 dport=80 src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=54115',
    want: ctEntry({
      event: 'UPDATE',
      timestamp: 1795752849772.029,
      state: 'SYN_RECV',
      timeout: 60,
      original: tuple('10.244.0.5', '10.96.0.10', 54115, 80),
      reply: tuple('10.244.1.7', '10.244.0.5', 8080, 54115),
    }),
  },
  {
    name: 'conntrack -E -o timestamp,extended: ICMPv6 [NEW]',
    fixture: 'events.basic.timestamp-extended.txt',
    line: '[1795752849.884159]\t    [NEW] ipv6     10 icmpv6   58 30 src=fd00:10:244::5 dst=fd00:10:244:1::7 type=128 code=0 id=11709 [UNREPLIED] src=fd00:10:244:1::7 dst=fd00:10:244::5 type=129 code=0 id=11709',
    want: ctEntry({
      family: 'ipv6',
      protocol: 'ICMPv6',
      event: 'NEW',
      timestamp: 1795752849884.159,
      timeout: 30,
      unreplied: true,
      original: icmpTuple('fd00:10:244::5', 'fd00:10:244:1::7', 128, 0, 11709),
      reply: icmpTuple('fd00:10:244:1::7', 'fd00:10:244::5', 129, 0, 11709),
    }),
  },
  {
    name: 'conntrack -E -o timestamp,extended: SCTP [NEW] in state CLOSED',
    fixture: 'events.basic.timestamp-extended.txt',
    line: '[1795752849.787282]\t    [NEW] ipv4     2 sctp     132 10 CLOSED src=10.244.0.5 dst=10.244.1.7 sport=5000 dport=6000 [UNREPLIED] src=10.244.1.7 dst=10.244.0.5 sport=6000 dport=5000',
    want: ctEntry({
      protocol: 'SCTP',
      event: 'NEW',
      timestamp: 1795752849787.282,
      state: 'CLOSED',
      timeout: 10,
      unreplied: true,
      original: tuple('10.244.0.5', '10.244.1.7', 5000, 6000),
      reply: tuple('10.244.1.7', '10.244.0.5', 6000, 5000),
    }),
  },
  {
    name: 'conntrack -E: [DESTROY] from `conntrack -F` ends with [USERSPACE] portid= progname=',
    fixture: 'events.basic.timestamp-extended.txt',
    line: '[1795752854.816816]\t[DESTROY] ipv6     10 tcp      6 118 TIME_WAIT src=fd00:10:244::5 dst=fd00:10:96::10 sport=33169 dport=80 src=fd00:10:244:1::7 dst=fd00:10:244::5 sport=8080 dport=33169 [ASSURED] [USERSPACE] portid=11942 progname=conntrack',
    want: ctEntry({
      family: 'ipv6',
      event: 'DESTROY',
      timestamp: 1795752854816.816,
      state: 'TIME_WAIT',
      timeout: 118,
      assured: true,
      original: tuple('fd00:10:244::5', 'fd00:10:96::10', 33169, 80),
      reply: tuple('fd00:10:244:1::7', 'fd00:10:244::5', 8080, 33169),
    }),
  },
  {
    name: 'conntrack -E: [DESTROY] of an expired entry has a state but no timeout',
    fixture: 'events.expiry.timestamp-extended.txt',
    line: '[1795752866.085493]\t[DESTROY] ipv4     2 tcp      6 TIME_WAIT src=10.244.0.5 dst=10.96.0.10 sport=57299 dport=80 src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=57299 [ASSURED]',
    want: ctEntry({
      event: 'DESTROY',
      timestamp: 1795752866085.493,
      state: 'TIME_WAIT',
      assured: true,
      original: tuple('10.244.0.5', '10.96.0.10', 57299, 80),
      reply: tuple('10.244.1.7', '10.244.0.5', 8080, 57299),
    }),
  },
  {
    name: 'conntrack -E: [DESTROY] of an expired UDP entry has neither',
    fixture: 'events.expiry.timestamp-extended.txt',
    line: '[1795752866.085487]\t[DESTROY] ipv4     2 udp      17 src=10.244.0.5 dst=10.96.0.20 sport=45356 dport=53 src=10.244.1.7 dst=10.244.0.5 sport=5353 dport=45356',
    want: ctEntry({
      protocol: 'UDP',
      event: 'DESTROY',
      timestamp: 1795752866085.487,
      original: tuple('10.244.0.5', '10.96.0.20', 45356, 53),
      reply: tuple('10.244.1.7', '10.244.0.5', 5353, 45356),
    }),
  },
];

describe('parseConntrackLine on real captured lines', () => {
  it.each(realCases)('$name', ({ fixture, line, want }) => {
    expect(fixtureText(fixture).split('\n')).toContain(line);
    expect(parseConntrackLine(line)).toEqual({ kind: 'entry', entry: want });
  });
});

/** Real lines hivewall skips on purpose. */
const realSkips: ReadonlyArray<{ name: string; fixture: string; line: string; reason: string; detail: string }> = [
  {
    name: 'GRE (srckey/dstkey) is not a policy protocol',
    fixture: 'list.basic.extended.txt',
    line: 'ipv4     2 gre      47 28 src=10.244.0.5 dst=10.244.1.7 srckey=0x0 dstkey=0x0 src=10.244.1.7 dst=10.244.0.5 srckey=0x0 dstkey=0x0 mark=0 use=1',
    reason: 'unsupported-protocol',
    detail: 'gre 47',
  },
  {
    name: "GRE in /proc carries its own 'timeout=30, stream_timeout=180'",
    fixture: 'proc.basic.txt',
    line: 'ipv4     2 gre      47 28 timeout=30, stream_timeout=180 src=10.244.0.5 dst=10.244.1.7 srckey=0x0 dstkey=0x0 src=10.244.1.7 dst=10.244.0.5 srckey=0x0 dstkey=0x0 mark=0 zone=0 use=2',
    reason: 'unsupported-protocol',
    detail: 'gre 47',
  },
  {
    name: 'IP protocol 253 is printed as unknown',
    fixture: 'list.basic.plain.txt',
    line: 'unknown  253 598 src=10.244.0.5 dst=10.244.1.7 [UNREPLIED] src=10.244.1.7 dst=10.244.0.5 mark=0 use=1',
    reason: 'unsupported-protocol',
    detail: 'unknown 253',
  },
  {
    name: 'UDP-Lite',
    fixture: 'proc.basic.txt',
    line: 'ipv4     2 udplite  136 28 src=10.244.0.5 dst=10.244.1.7 sport=35509 dport=7777 [UNREPLIED] src=10.244.1.7 dst=10.244.0.5 sport=7777 dport=35509 mark=0 zone=0 use=2',
    reason: 'unsupported-protocol',
    detail: 'udplite 136',
  },
  {
    name: "conntrack's stderr summary, when 2>&1 went into the file",
    fixture: 'list.basic.plain.stderr.txt',
    line: 'conntrack v1.4.7 (conntrack-tools): 16 flow entries have been shown.',
    reason: 'empty',
    detail: 'conntrack-tools summary line',
  },
];

describe('real lines that are skipped', () => {
  it.each(realSkips)('$name', ({ fixture, line, reason, detail }) => {
    expect(fixtureText(fixture).split('\n')).toContain(line);
    expect(parseConntrackLine(line)).toEqual({ kind: 'skip', reason, detail });
  });
});

describe('every captured fixture line', () => {
  it.each(FIXTURES.map((f) => ({ fixture: f })))('$fixture: entries for tcp/udp/sctp/icmp, unsupported-protocol for the rest', ({ fixture }) => {
    const lines = fixtureLines(fixture);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      const r = parseConntrackLine(line);
      const unsupported = /\b(gre|udplite|unknown) +\d+ /.test(line);
      if (line.startsWith('conntrack v')) expect(r, line).toMatchObject({ kind: 'skip', reason: 'empty' });
      else if (unsupported) expect(r, line).toMatchObject({ kind: 'skip', reason: 'unsupported-protocol' });
      else expect(r.kind, `${line}\n${JSON.stringify(r)}`).toBe('entry');
    }
  });

  it('a timestamped event file gives a timestamp on every entry; others never do', () => {
    for (const fixture of FIXTURES) {
      const timed = /\.timestamp(-extended)?\.txt$/.test(fixture);
      for (const line of fixtureLines(fixture)) {
        const r = parseConntrackLine(line);
        if (r.kind === 'entry') expect(r.entry.timestamp !== undefined, line).toBe(timed);
      }
    }
  });

  it('the same moment read from /proc, `conntrack -L` and `conntrack -L -o extended` gives the same entries', () => {
    for (const round of ['basic', 'acct']) {
      const byFormat = [`proc.${round}.txt`, `list.${round}.extended.txt`, `list.${round}.plain.txt`].map((f) =>
        fixtureLines(f)
          .map((l) => parseConntrackLine(l))
          .flatMap((r) => (r.kind === 'entry' ? [{ ...r.entry, timeout: undefined }] : []))
          .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      );
      expect(byFormat[0]?.length).toBeGreaterThanOrEqual(12);
      expect(byFormat[1]).toEqual(byFormat[0]);
      expect(byFormat[2]).toEqual(byFormat[0]);
    }
  });

  it('plain and extended event streams of one capture give the same entries', () => {
    for (const round of ['basic', 'acct']) {
      const parse = (f: string) =>
        fixtureLines(f).map((l) => {
          const r = parseConntrackLine(l);
          return r.kind === 'entry' ? { ...r.entry, timestamp: undefined } : r;
        });
      const plain = parse(`events.${round}.plain.txt`);
      expect(parse(`events.${round}.extended.txt`)).toEqual(plain);
      // different listeners can see events in a slightly different order; compare as sets
      const sorted = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).sort();
      expect(sorted(parse(`events.${round}.timestamp.txt`))).toEqual(sorted(plain));
      expect(sorted(parse(`events.${round}.timestamp-extended.txt`))).toEqual(sorted(plain));
    }
  });
});

const base = 'tcp      6 431999 ESTABLISHED src=10.244.0.5 dst=10.96.0.10 sport=40000 dport=80 src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=40000 [ASSURED] mark=0 use=1';

/** Damaged and hostile input: a skip with the right reason, never a throw. */
const badCases: ReadonlyArray<{ name: string; line: string; reason: string; detail?: RegExp }> = [
  { name: 'empty string', line: '', reason: 'empty' },
  { name: 'only white space', line: ' \t \r', reason: 'empty' },
  { name: 'a comment', line: '# captured on node-1', reason: 'empty' },
  { name: 'garbage words', line: 'hello world', reason: 'malformed', detail: /bad protocol number/ },
  { name: 'garbage symbols', line: '%%% !!! ???', reason: 'malformed', detail: /not a conntrack line/ },
  { name: 'JSON', line: '{"flow":{"source":{}}}', reason: 'malformed' },
  { name: 'truncated after the original tuple', line: 'tcp      6 431999 ESTABLISHED src=10.244.0.5 dst=10.96.0.10 sport=40000 dport=80', reason: 'malformed', detail: /missing reply tuple/ },
  { name: 'truncated inside the reply tuple', line: 'tcp      6 431999 ESTABLISHED src=10.244.0.5 dst=10.96.0.10 sport=40000 dport=80 src=10.244.1.7 dst=10.244.0.5 sport=80', reason: 'malformed', detail: /reply tuple without sport/ },
  { name: 'truncated in the header', line: 'ipv4     2 tcp', reason: 'malformed' },
  { name: 'header only', line: 'ipv4     2 tcp      6 431999 ESTABLISHED', reason: 'malformed', detail: /no tuple/ },
  { name: 'octet above 255', line: base.replace('src=10.244.0.5', 'src=999.1.1.1'), reason: 'malformed', detail: /bad ipv4 address: src=999.1.1.1/ },
  { name: 'three octets', line: base.replace('dst=10.96.0.10', 'dst=10.96.0'), reason: 'malformed', detail: /bad ipv4 address/ },
  { name: 'empty address', line: base.replace('dst=10.96.0.10', 'dst='), reason: 'malformed', detail: /bad ipv4 address/ },
  { name: 'IPv6 in an ipv4 line', line: `ipv4     2 ${base.replace('dst=10.96.0.10', 'dst=fd00::1')}`, reason: 'malformed', detail: /bad ipv4 address/ },
  { name: 'bad IPv6', line: base.replaceAll('10.244.0.5', 'fd00:::5'), reason: 'malformed', detail: /bad ipv6 address/ },
  { name: 'port 65536', line: base.replace('dport=80', 'dport=65536'), reason: 'malformed', detail: /bad port: dport=65536/ },
  { name: 'negative port', line: base.replace('sport=8080', 'sport=-1'), reason: 'malformed', detail: /bad port/ },
  { name: 'port with letters', line: base.replace('sport=8080', 'sport=80a'), reason: 'malformed', detail: /bad port/ },
  { name: 'port repeated', line: base.replace('dport=80', 'dport=80 dport=81'), reason: 'malformed', detail: /repeated dport/ },
  { name: 'three tuples', line: base.replace('[ASSURED]', 'src=1.2.3.4 dst=1.2.3.4 sport=1 dport=2'), reason: 'malformed', detail: /more than two tuples/ },
  { name: 'dst before src', line: 'tcp      6 5 dst=10.0.0.1 src=10.0.0.2', reason: 'malformed', detail: /dst= outside a tuple/ },
  { name: 'NUL byte', line: base.replace('sport=40000', 'sport=40\u0000000'), reason: 'malformed', detail: /NUL/ },
  { name: 'protocol name and number disagree', line: base.replace('tcp      6', 'tcp      17'), reason: 'malformed', detail: /disagree/ },
  { name: 'icmpv6 claimed as ipv4', line: 'ipv4     2 icmpv6   58 29 src=fd00::1 dst=fd00::2 type=128 code=0 id=1 src=fd00::2 dst=fd00::1 type=129 code=0 id=1', reason: 'malformed' },
  { name: 'ipv6 with the wrong family number', line: `ipv6     2 ${base}`, reason: 'malformed', detail: /family number/ },
  { name: 'ports on an ICMP tuple', line: 'icmp     1 29 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1', reason: 'malformed' },
  { name: 'ICMP type out of range', line: 'icmp     1 29 src=10.0.0.1 dst=10.0.0.2 type=256 code=0 id=1 src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=1', reason: 'malformed' },
  { name: 'ICMP tuple without id', line: 'icmp     1 29 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=1', reason: 'malformed' },
  { name: 'unknown event type', line: `[HELLO] ${base}`, reason: 'malformed', detail: /unknown event type/ },
  { name: 'bad timestamp', line: `[17000x0000.1]\t    [NEW] ${base}`, reason: 'malformed', detail: /bad timestamp/ },
  { name: 'unterminated timestamp', line: `[1700000000.1 [NEW] ${base}`, reason: 'malformed', detail: /bad timestamp/ },
  { name: 'mark not a number', line: base.replace('mark=0', 'mark=zero'), reason: 'malformed', detail: /bad mark/ },
  { name: 'mark above u32', line: base.replace('mark=0', 'mark=4294967296'), reason: 'malformed', detail: /bad mark/ },
  { name: 'too long', line: `${base} ${'x'.repeat(9000)}`, reason: 'too-long' },
  { name: 'conntrack -o save format (not supported)', line: '-A -t 431999 -u SEEN_REPLY,ASSURED -s 10.244.0.5 -d 10.96.0.10 -p tcp --sport 40000 --dport 80', reason: 'malformed' },
  { name: 'gre with srckey/dstkey', line: 'gre      47 29 src=10.0.0.1 dst=10.0.0.2 srckey=0x1 dstkey=0x2 src=10.0.0.2 dst=10.0.0.1 srckey=0x2 dstkey=0x1 mark=0 use=1', reason: 'unsupported-protocol' },
  { name: 'unknown protocol 2 (IGMP)', line: 'unknown  2 599 src=10.0.0.1 dst=224.0.0.1 [UNREPLIED] src=224.0.0.1 dst=10.0.0.1 mark=0 use=1', reason: 'unsupported-protocol', detail: /^unknown 2$/ },
  { name: 'dccp', line: 'dccp     33 100 REQUEST src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1', reason: 'unsupported-protocol' },
];

describe('bad input', () => {
  it.each(badCases)('$name → $reason', ({ line, reason, detail }) => {
    const r = parseConntrackLine(line);
    expect(r).toMatchObject({ kind: 'skip', reason });
    if (detail !== undefined && r.kind === 'skip') expect(r.detail).toMatch(detail);
  });
});

/** Variations the formats allow that the capture did not happen to show. */
const tolerated: ReadonlyArray<{ name: string; line: string; check: (e: ConntrackEntry) => void }> = [
  { name: 'CRLF line ending', line: `${base}\r`, check: (e) => expect(e.original.sport).toBe(40000) },
  { name: 'leading and trailing white space', line: `  \t${base}   `, check: (e) => expect(e.reply.sport).toBe(8080) },
  {
    name: 'software flowtable offload: no timeout in /proc, [OFFLOAD] instead of [ASSURED]',
    line: 'ipv4     2 tcp      6 ESTABLISHED src=10.244.0.5 dst=10.96.0.10 sport=40000 dport=80 src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=40000 [OFFLOAD] mark=0 zone=0 use=3',
    check: (e) => expect([e.offload, e.timeout, e.state, e.assured]).toEqual(['OFFLOAD', undefined, 'ESTABLISHED', false]),
  },
  {
    name: 'hardware offload',
    line: base.replace('[ASSURED]', '[HW_OFFLOAD]'),
    check: (e) => expect(e.offload).toBe('HW_OFFLOAD'),
  },
  {
    name: 'secctx=, secmark=, helper=, zone-orig=, zone-reply= and unknown keys',
    line: 'ipv4     2 tcp      6 100 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=21 zone-orig=3 src=10.0.0.2 dst=10.0.0.1 sport=21 dport=1 zone-reply=3 [ASSURED] mark=7 secmark=9 secctx=system_u:object_r:unlabeled_t:s0 zone=3 helper=ftp future=thing use=1',
    check: (e) => expect([e.mark, e.zone, e.original.dport]).toEqual([7, 3, 21]),
  },
  {
    name: 'an event without timeout and state (older kernels print DESTROY this way)',
    line: '[DESTROY] tcp      6 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 [ASSURED]',
    check: (e) => expect([e.event, e.timeout, e.state]).toEqual(['DESTROY', undefined, undefined]),
  },
  {
    name: 'timestamp without fraction, then an extended event',
    line: `[1700000000]\t    [NEW] ipv4     2 ${base}`,
    check: (e) => expect(e.timestamp).toBe(1_700_000_000_000),
  },
  {
    name: 'timestamp with nanoseconds',
    line: `[1700000000.123456789]\t    [NEW] ${base}`,
    check: (e) => expect(e.timestamp).toBeCloseTo(1_700_000_000_123.457, 3),
  },
  {
    name: 'IPv4-mapped and upper-case IPv6 become canonical',
    line: 'tcp      6 5 ESTABLISHED src=::FFFF:10.0.0.1 dst=FD00:0:0:0:0:0:0:1 sport=1 dport=2 src=fd00::1 dst=::ffff:a00:1 sport=2 dport=1',
    check: (e) => expect([e.original.src, e.original.dst, e.reply.dst]).toEqual(['::ffff:10.0.0.1', 'fd00::1', '::ffff:10.0.0.1']),
  },
  { name: 'labels= with several names', line: `${base} labels=a,b,c`, check: (e) => expect(e.assured).toBe(true) },
  { name: 'an unterminated bracket value at the end', line: `${base} [start=Fri Nov`, check: (e) => expect(e.assured).toBe(true) },
];

describe('tolerated variations', () => {
  it.each(tolerated)('$name', ({ line, check }) => {
    const r = parseConntrackLine(line);
    expect(r.kind, JSON.stringify(r)).toBe('entry');
    if (r.kind === 'entry') check(r.entry);
  });
});

describe('options', () => {
  it('now stamps lines without a timestamp and leaves timestamped lines alone', () => {
    expect(parseConntrackLine(base, { now: 42 })).toMatchObject({ kind: 'entry', entry: { timestamp: 42 } });
    expect(parseConntrackLine(`[1700000000.000001]\t    [NEW] ${base}`, { now: 42 })).toMatchObject({
      kind: 'entry',
      entry: { timestamp: 1_700_000_000_000.001 },
    });
  });

  it('maxLineLength', () => {
    expect(parseConntrackLine(base, { maxLineLength: 20 })).toMatchObject({ kind: 'skip', reason: 'too-long' });
    expect(parseConntrackLine(base, { maxLineLength: base.length }).kind).toBe('entry');
  });
});
