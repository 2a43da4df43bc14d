import { describe, expect, it } from 'vitest';
import type { Flow } from '../../domain/flow.js';
import { conntrackConnectionKey, conntrackEntryToFlow, conntrackNat } from './flow.js';
import { parseConntrackLine } from './parse.js';
import { fixtureLines } from './test-support.js';
import type { ConntrackEntry } from './types.js';

const T = 1_800_000_000_000;

function entryOf(line: string): ConntrackEntry {
  const r = parseConntrackLine(line);
  if (r.kind !== 'entry') throw new Error(`fixture line did not parse: ${JSON.stringify(r)}`);
  return r.entry;
}

function flowOf(line: string, time = T): Flow {
  const r = conntrackEntryToFlow(entryOf(line), time);
  if (r.kind !== 'flow') throw new Error(`no flow: ${JSON.stringify(r)}`);
  return r.flow;
}

/** Real lines (testdata/) and the flow hivewall must learn from each. */
const cases: ReadonlyArray<{ name: string; line: string; want: Flow; nat: { dnat: boolean; snat: boolean } }> = [
  {
    name: 'Service ClusterIP 10.96.0.10:80 DNATed: the destination is the backend pod 10.244.1.7:8080',
    line: 'ipv4     2 tcp      6 431998 ESTABLISHED src=10.244.0.5 dst=10.96.0.10 sport=54115 dport=80 src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=54115 [ASSURED] mark=0 use=1',
    want: { time: T, source: { ip: '10.244.0.5', port: 54115 }, destination: { ip: '10.244.1.7', port: 8080 }, protocol: 'TCP', verdict: 'FORWARDED', isReply: false, confirmed: true, connectionState: 'ESTABLISHED' },
    nat: { dnat: true, snat: false },
  },
  {
    name: 'SNAT to 10.244.0.99: the client is still the original source',
    line: 'ipv4     2 tcp      6 431998 ESTABLISHED src=10.244.0.5 dst=10.244.2.9 sport=42255 dport=7000 src=10.244.2.9 dst=10.244.0.99 sport=7000 dport=42255 [ASSURED] mark=0 use=1',
    want: { time: T, source: { ip: '10.244.0.5', port: 42255 }, destination: { ip: '10.244.2.9', port: 7000 }, protocol: 'TCP', verdict: 'FORWARDED', isReply: false, confirmed: true, connectionState: 'ESTABLISHED' },
    nat: { dnat: false, snat: true },
  },
  {
    name: 'UNREPLIED SYN: reported, not learned',
    line: 'tcp      6 118 SYN_SENT src=10.244.0.5 dst=10.244.2.9 sport=40717 dport=9999 [UNREPLIED] src=10.244.2.9 dst=10.244.0.5 sport=9999 dport=40717 mark=0 use=1',
    want: { time: T, source: { ip: '10.244.0.5', port: 40717 }, destination: { ip: '10.244.2.9', port: 9999 }, protocol: 'TCP', verdict: 'FORWARDED', isReply: false, confirmed: false, connectionState: 'SYN_SENT' },
    nat: { dnat: false, snat: false },
  },
  {
    name: 'DNS over a UDP Service: port 53 → 5353',
    line: 'udp      17 28 src=10.244.0.5 dst=10.96.0.20 sport=37796 dport=53 src=10.244.1.7 dst=10.244.0.5 sport=5353 dport=37796 mark=0 use=1',
    want: { time: T, source: { ip: '10.244.0.5', port: 37796 }, destination: { ip: '10.244.1.7', port: 5353 }, protocol: 'UDP', verdict: 'FORWARDED', isReply: false, confirmed: true },
    nat: { dnat: true, snat: false },
  },
  {
    name: 'ICMP has port 0',
    line: 'icmp     1 28 src=10.244.0.5 dst=10.244.1.7 type=8 code=0 id=11708 src=10.244.1.7 dst=10.244.0.5 type=0 code=0 id=11708 mark=0 use=1',
    want: { time: T, source: { ip: '10.244.0.5', port: 0 }, destination: { ip: '10.244.1.7', port: 0 }, protocol: 'ICMPv4', verdict: 'FORWARDED', isReply: false, confirmed: true },
    nat: { dnat: false, snat: false },
  },
  {
    name: '/proc IPv6 DNAT with canonical addresses',
    line: 'ipv6     10 tcp      6 431998 ESTABLISHED src=fd00:0010:0244:0000:0000:0000:0000:0005 dst=fd00:0010:0096:0000:0000:0000:0000:0010 sport=33169 dport=80 src=fd00:0010:0244:0001:0000:0000:0000:0007 dst=fd00:0010:0244:0000:0000:0000:0000:0005 sport=8080 dport=33169 [ASSURED] mark=0 zone=0 use=2',
    want: { time: T, source: { ip: 'fd00:10:244::5', port: 33169 }, destination: { ip: 'fd00:10:244:1::7', port: 8080 }, protocol: 'TCP', verdict: 'FORWARDED', isReply: false, confirmed: true, connectionState: 'ESTABLISHED' },
    nat: { dnat: true, snat: false },
  },
  {
    name: 'an event timestamp wins over the given time (whole milliseconds)',
    line: '[1795752849.772029]\t [UPDATE] tcp      6 60 SYN_RECV src=10.244.0.5 dst=10.96.0.10 sport=54115 dport=80 src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=54115',
    want: { time: 1_795_752_849_772, source: { ip: '10.244.0.5', port: 54115 }, destination: { ip: '10.244.1.7', port: 8080 }, protocol: 'TCP', verdict: 'FORWARDED', isReply: false, confirmed: true, connectionState: 'SYN_RECV' },
    nat: { dnat: true, snat: false },
  },
];

describe('conntrackEntryToFlow', () => {
  it.each(cases)('$name', ({ line, want, nat }) => {
    expect(flowOf(line)).toEqual(want);
    expect(conntrackNat(entryOf(line))).toEqual(nat);
  });

  it('skips an entry without a usable time', () => {
    const e = entryOf(cases[0]?.line ?? '');
    expect(conntrackEntryToFlow(e, Number.NaN)).toMatchObject({ kind: 'skip', reason: 'malformed' });
  });
});

describe('one connection, many lines', () => {
  const supported = (f: string) =>
    fixtureLines(f).flatMap((l) => {
      const r = parseConntrackLine(l);
      return r.kind === 'entry' ? [r.entry] : [];
    });

  it('NEW, UPDATE and DESTROY of a connection share its key and its flow 5-tuple', () => {
    const events = supported('events.basic.timestamp-extended.txt');
    const byKey = new Map<string, ConntrackEntry[]>();
    for (const e of events) byKey.set(conntrackConnectionKey(e), [...(byKey.get(conntrackConnectionKey(e)) ?? []), e]);
    const service = [...byKey.values()].find((es) => es.some((e) => e.original.dst === '10.96.0.10' && e.state === 'ESTABLISHED'));
    expect(service?.map((e) => e.event)).toEqual(['NEW', 'UPDATE', 'UPDATE', 'UPDATE', 'UPDATE', 'UPDATE', 'DESTROY']);
    for (const es of byKey.values()) {
      const tuples = new Set(
        es.map((e) => {
          const r = conntrackEntryToFlow(e, T);
          if (r.kind !== 'flow') throw new Error('no flow');
          const f = r.flow;
          return `${f.protocol} ${f.source.ip}:${f.source.port} ${f.destination.ip}:${f.destination.port}`;
        }),
      );
      expect(tuples.size).toBe(1);
    }
  });

  it('a dump and the event stream of the same moment describe the same connections', () => {
    const keys = (f: string) => new Set(supported(f).map(conntrackConnectionKey));
    const fromEvents = keys('events.basic.timestamp-extended.txt');
    expect(keys('list.basic.extended.txt')).toEqual(fromEvents);
    expect(keys('proc.basic.txt')).toEqual(fromEvents);
  });
});
