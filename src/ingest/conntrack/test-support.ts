/**
 * Test support for the conntrack parser: the real fixtures captured by testdata/capture.sh and a
 * builder for entries. Not used by production code.
 */
import { readFileSync } from 'node:fs';
import type { ConntrackEntry, ConntrackTuple } from './types.js';

export const TESTDATA = new URL('./testdata/', import.meta.url);

/** Every fixture file captured from the kernel (see testdata/capture.sh). */
export const FIXTURES = [
  'proc.basic.txt',
  'proc.acct.txt',
  'list.basic.extended.txt',
  'list.basic.plain.txt',
  'list.basic.ipv6-extended.txt',
  'list.acct.extended.txt',
  'list.acct.plain.txt',
  'list.acct.ipv6-extended.txt',
  'list.acct.ktimestamp-id-labels.txt',
  'events.basic.plain.txt',
  'events.basic.timestamp.txt',
  'events.basic.extended.txt',
  'events.basic.timestamp-extended.txt',
  'events.acct.plain.txt',
  'events.acct.timestamp.txt',
  'events.acct.extended.txt',
  'events.acct.timestamp-extended.txt',
  'events.acct.ktimestamp-id-labels.txt',
  'events.expiry.timestamp-extended.txt',
] as const;

export type Fixture = (typeof FIXTURES)[number];

export function fixturePath(name: string): string {
  return new URL(name, TESTDATA).pathname;
}

export function fixtureText(name: string): string {
  return readFileSync(new URL(name, TESTDATA), 'utf8');
}

/** The non-empty lines of a fixture. */
export function fixtureLines(name: string): string[] {
  return fixtureText(name)
    .split('\n')
    .filter((l) => l.length > 0);
}

export function tuple(src: string, dst: string, sport: number, dport: number): ConntrackTuple {
  return { src, dst, sport, dport, icmp: undefined };
}

export function icmpTuple(src: string, dst: string, type: number, code: number, id: number): ConntrackTuple {
  return { src, dst, sport: 0, dport: 0, icmp: { type, code, id } };
}

/** An entry with every optional field unset; override what the case needs. */
export function ctEntry(overrides: Partial<ConntrackEntry> & Pick<ConntrackEntry, 'original' | 'reply'>): ConntrackEntry {
  return {
    family: 'ipv4',
    protocol: 'TCP',
    event: undefined,
    timestamp: undefined,
    state: undefined,
    timeout: undefined,
    unreplied: false,
    assured: false,
    offload: undefined,
    zone: undefined,
    mark: undefined,
    id: undefined,
    counters: undefined,
    ...overrides,
  };
}
