import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Flow, FlowEndpoint, ParseResult } from '../../domain/flow.js';
import { CompactDecoder, CompactEncoder, type CompactBatch } from './compact.js';
import { parseHubbleLine } from './parse.js';
import { parseRange, scanRange, type ReadAt } from './ranges.js';

const fullParser = (line: Uint8Array) => parseHubbleLine(line, { maxLineBytes: 2000 });

/** Encodes `results` in batches cut at `cuts`, sends each through a structured clone (as a port does) and decodes them. */
function roundTrip(results: readonly ParseResult[], cuts: readonly number[] = [], tableLimit?: number): ParseResult[] {
  const encoder = new CompactEncoder(tableLimit);
  const decoder = new CompactDecoder(fullParser);
  const out: ParseResult[] = [];
  const points = new Set(cuts.map((c) => c % (results.length + 1)));
  const send = () => {
    const { batch, transfer } = encoder.take();
    const received = structuredClone(batch, { transfer }) as CompactBatch;
    expect(batch.times.byteLength).toBe(0); // transferred, not copied
    decoder.decode(received, (r) => out.push(r));
  };
  results.forEach((result, i) => {
    if (points.has(i)) send();
    encoder.add(result);
  });
  send();
  return out;
}

/** Deep-equal, and the same key order (what a JSON dump of a flow would show). */
function expectSame(actual: readonly ParseResult[], expected: readonly ParseResult[]): void {
  expect(actual).toStrictEqual(expected);
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
}

const fixtureLines = readFileSync(new URL('./testdata/observe.jsonl', import.meta.url), 'utf8').split('\n').filter((l) => l !== '');
const exampleLines = readFileSync(new URL('../../../examples/shop/flows.hubble.jsonl', import.meta.url), 'utf8').split('\n').filter((l) => l !== '');

const base = '{"flow":{"time":"2026-12-05T12:00:00.123456789Z","verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":40000,"destination_port":8080}},"source":{"identity":1234,"namespace":"shop","pod_name":"cart-7d4b9c-x2k4p","labels":["k8s:app=cart","k8s:io.kubernetes.pod.namespace=shop"],"workloads":[{"name":"cart","kind":"Deployment"}]},"destination":{"identity":2,"labels":["reserved:world"]},"node_name":"node-a","traffic_direction":"EGRESS","trace_observation_point":"TO_STACK"}}';
/** Lines the scanner turns into every kind of result: replies, drops, DNS, names, denials, missing fields, skips. */
const oddLines = [
  base,
  base.replace('"traffic_direction"', '"is_reply":true,"traffic_direction"'),
  base.replace('"traffic_direction"', '"reply":true,"traffic_direction"'),
  base.replace('"FORWARDED"', '"DROPPED","drop_reason_desc":"POLICY_DENIED","egress_denied_by":[{"name":"hivewall-a","namespace":"shop"}],"ingress_denied_by":[{"namespace":"x","name":"b"}]'),
  base.replace('"FORWARDED"', '"DROPPED","drop_reason":133'),
  base.replace('"node_name":"node-a",', '"l7":{"dns":{"query":"API.Example.com.","ips":["93.184.216.34","2606:2800:220:1::248"]}},"destination_names":["api.example.com","not a name!"],'),
  base.replace(',"node_name":"node-a","traffic_direction":"EGRESS","trace_observation_point":"TO_STACK"', ''),
  base.replace('"source":{"identity":1234', '"source":{"identity":1234,"labels":[]'),
  base.replace('"l4":{"TCP":{"source_port":40000,"destination_port":8080}}', '"l4":{"ICMPv4":{"type":8}}'),
  base.replace('"l4":{"TCP":{"source_port":40000,"destination_port":8080}}', '"l4":{"UDP":{"source_port":4000000000,"destination_port":53}}'),
  base.replace('"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},', ''),
  base.replace('"l4":{"TCP":{"source_port":40000,"destination_port":8080}},', ''),
  base.replace('"pod_name":"cart-7d4b9c-x2k4p"', '"pod_name":"Not_A_Pod"'),
  base.replace('"verdict":"FORWARDED"', '"verdict":"PERMITTED"'),
  '{"time":"2026-12-05T12:00:01Z","verdict":"TRACED","IP":{"source":"fd00::1","destination":"fd00::2"},"l4":{"SCTP":{}},"node_name":"n"}',
  '{"lost_events":{"source":"PERF_EVENT_RING_BUFFER","num_events_lost":"7"}}',
  '{"node_status":{"state_change":"NODE_CONNECTED","node_names":["a","b"],"message":"hello"}}',
  '{"agent_event":{"type":"POLICY_UPDATED"}}',
  '{"debug_event":{"type":"DBG_GENERIC"}}',
  '',
  '   ',
  'not json',
  '{"flow":',
  '[1,2]',
  `{"flow":{"x":"${'a'.repeat(3000)}"}}`,
];

function resultsOf(lines: readonly string[], maxLineBytes = 1024 * 1024): ParseResult[] {
  const bytes = Buffer.from(lines.join('\n'), 'utf8');
  const read: ReadAt = (buffer, position) => (position >= bytes.length ? 0 : bytes.copy(buffer, 0, position, Math.min(bytes.length, position + buffer.length)));
  return parseRange(read, { start: 0, end: bytes.length }, (line) => parseHubbleLine(line, { maxLineBytes }), { maxLineBytes });
}

describe('compact batches (parser thread → main thread)', () => {
  it('decode the scanner\'s results of the fixtures and the odd lines exactly, skips and malformed lines included', () => {
    const results = resultsOf([...fixtureLines, ...exampleLines.slice(0, 2000), ...oddLines], 2000);
    const kinds = new Set(results.map((r) => (r.kind === 'skip' ? `skip:${r.reason}` : r.kind === 'flow' ? `flow:${r.flow.isReply}:${r.flow.verdict}` : r.kind)));
    for (const kind of ['flow:true:FORWARDED', 'flow:false:DROPPED', 'flow:false:TRACED', 'lost-events', 'node-status', 'agent-event', 'debug-event', 'skip:empty', 'skip:malformed', 'skip:too-long', 'skip:schema-mismatch', 'skip:unsupported-protocol', 'skip:invalid-name']) {
      expect(kinds).toContain(kind);
    }
    expect(results.some((r) => r.kind === 'flow' && r.flow.dnsAnswer !== undefined && r.flow.destinationNames !== undefined && r.flow.deniedBy === undefined)).toBe(true);
    expect(results.some((r) => r.kind === 'flow' && r.flow.deniedBy !== undefined && r.flow.dropReason === 'POLICY_DENIED')).toBe(true);
    expectSame(roundTrip(results), results);
    expectSame(roundTrip(results, [1, 7, 30, 31, 500, 1999]), results);
    expectSame(roundTrip(results, [3, 50, 400, 900, 1500], 4), results); // tables started afresh along the way
  });

  it('carry the lines the scanner leaves to the full parser as bytes, parsed by the decoder in their place', () => {
    const lines = [...oddLines, ...fixtureLines];
    const bytes = Buffer.from(lines.join('\n'), 'utf8');
    const read: ReadAt = (buffer, position) => (position >= bytes.length ? 0 : bytes.copy(buffer, 0, position, Math.min(bytes.length, position + buffer.length)));
    const encoder = new CompactEncoder();
    let unscanned = 0;
    scanRange(read, { start: 0, end: bytes.length }, { result: (r) => encoder.add(r), unscanned: (line) => { unscanned++; encoder.addUnscanned(line); } }, { maxLineBytes: 2000 });
    expect(unscanned).toBeGreaterThan(0);
    const { batch, transfer } = encoder.take();
    const out: ParseResult[] = [];
    new CompactDecoder(fullParser).decode(structuredClone(batch, { transfer }) as CompactBatch, (r) => out.push(r));
    expectSame(out, resultsOf(lines, 2000));
  });

  it('shares each endpoint\'s labels array and workload between the flows that name it', () => {
    const decoded = roundTrip(resultsOf([base, base.replace('40000', '40001'), base]), [1]);
    const sources = decoded.map((r) => (r as { flow: Flow }).flow.source);
    expect(sources[0]!.labels).toEqual(['app=cart']);
    expect(sources[1]!.labels).toBe(sources[0]!.labels);
    expect(sources[2]!.workload).toBe(sources[0]!.workload);
    expect(Object.isFrozen(sources[0]!.labels)).toBe(true);
  });

  // Any flow, also ones the Hubble builder never makes (conntrack's fields, odd ports): exact or sent whole.
  const text = fc.oneof(fc.constantFrom('', 'a', 'shop', 'cart-1', 'ü', '\u2028'), fc.string({ maxLength: 6 }));
  const labels = fc.oneof(fc.constantFrom(['app=a'], ['app=a', 'tier=web'], []), fc.array(text, { maxLength: 3 }));
  const endpoint: fc.Arbitrary<FlowEndpoint> = fc.record(
    {
      ip: fc.constantFrom('10.0.0.1', '10.0.0.2', 'fd00::1', '93.184.216.34'),
      port: fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.constantFrom(0, 2 ** 31, 4294967295)),
      namespace: text,
      podName: text,
      labels,
      workload: fc.record({ kind: fc.constantFrom('Deployment', 'StatefulSet'), name: text }),
      reserved: fc.constantFrom('world', 'host', 'remote-node', 'kube-apiserver', 'health'),
      identity: fc.oneof(fc.nat(), fc.constant(16777217)),
    },
    { requiredKeys: ['ip', 'port'] },
  ) as fc.Arbitrary<FlowEndpoint>;
  const flow: fc.Arbitrary<Flow> = fc.record(
    {
      time: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.double({ min: 0, max: 2 ** 45, noNaN: true })),
      source: endpoint,
      destination: endpoint,
      protocol: fc.constantFrom('TCP', 'UDP', 'SCTP', 'ICMPv4', 'ICMPv6'),
      verdict: fc.constantFrom('FORWARDED', 'DROPPED', 'AUDIT', 'ERROR', 'TRACED', 'VERDICT_UNKNOWN'),
      isReply: fc.boolean(),
      node: text,
      observationPoint: fc.constantFrom('TO_ENDPOINT', 'TO_STACK', 'FROM_ENDPOINT'),
      trafficDirection: fc.constantFrom('INGRESS', 'EGRESS', 'TRAFFIC_DIRECTION_UNKNOWN'),
      destinationNames: fc.array(text, { minLength: 1, maxLength: 2 }),
      dnsAnswer: fc.record({ query: text, ips: fc.array(fc.constantFrom('1.1.1.1', '::1'), { minLength: 1, maxLength: 2 }) }),
      dropReason: fc.constantFrom('POLICY_DENIED', 'CT_MAP_INSERTION_FAILED'),
      deniedBy: fc.array(fc.constantFrom('shop/a', '/b'), { minLength: 1, maxLength: 2 }),
      confirmed: fc.boolean(),
      connectionState: fc.constantFrom('SYN_SENT', 'ESTABLISHED'),
      ended: fc.boolean(),
    },
    { requiredKeys: ['time', 'source', 'destination', 'protocol', 'verdict', 'isReply', 'confirmed'] },
  ) as fc.Arbitrary<Flow>;
  // The builder's key order (src/ingest/hubble/build.ts), which a decoded flow has.
  const ordered = flow.map((f) => {
    const order = ['time', 'source', 'destination', 'protocol', 'verdict', 'isReply', 'confirmed', 'node', 'observationPoint', 'trafficDirection', 'destinationNames', 'dnsAnswer', 'dropReason', 'deniedBy', 'connectionState', 'ended'];
    const epOrder = ['ip', 'port', 'namespace', 'podName', 'labels', 'workload', 'reserved', 'identity'];
    const sort = <T extends object>(o: T, keys: readonly string[]) => Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, (o as Record<string, unknown>)[k]])) as T;
    return structuredClone(sort({ ...f, source: sort(f.source, epOrder), destination: sort(f.destination, epOrder) }, order)); // plain prototypes, as a parser makes
  });
  const result: fc.Arbitrary<ParseResult> = fc.oneof(
    { weight: 8, arbitrary: ordered.map((f): ParseResult => ({ kind: 'flow', flow: f })) },
    { weight: 1, arbitrary: fc.constantFrom<ParseResult>(
      { kind: 'skip', reason: 'empty' },
      { kind: 'skip', reason: 'malformed', detail: 'Unexpected token' },
      { kind: 'lost-events', source: 'HUBBLE_RING_BUFFER', count: 3 },
      { kind: 'node-status', detail: 'NODE_GONE' },
      { kind: 'node-status', node: 'a,b', detail: 'NODE_CONNECTED: hi' },
      { kind: 'agent-event', detail: 'AGENT_STARTED' },
      { kind: 'debug-event' },
    ) },
  );

  it('label lists that join to the same text stay apart', () => {
    const flowWith = (source: string[], destination: string[]): ParseResult => ({ kind: 'flow', flow: {
      time: 0, protocol: 'TCP', verdict: 'FORWARDED', isReply: false, confirmed: true,
      source: { ip: '10.0.0.1', port: 0, labels: source }, destination: { ip: '10.0.0.2', port: 0, labels: destination },
    } });
    // CI's counterexample: [''] then [] (both join to ''); and a label holding the separator.
    const results = [flowWith([''], []), flowWith(['k8s:a\nk8s:b'], ['k8s:a', 'k8s:b'])];
    expect(roundTrip(results)).toStrictEqual(results);
  });

  it('round-trip any sequence of results, cut into batches anywhere (property)', () => {
    fc.assert(
      fc.property(fc.array(result, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 5 }), fc.constantFrom(undefined, 2, 5), (results, cuts, limit) => {
        expect(roundTrip(results, cuts, limit)).toStrictEqual(results);
      }),
      { numRuns: 300, examples: [[[{ kind: 'flow', flow: { time: 0, source: { ip: '10.0.0.1', port: 0, labels: [''] }, destination: { ip: '10.0.0.1', port: 0, labels: [] }, protocol: 'TCP', verdict: 'FORWARDED', isReply: false, confirmed: true } }], [], undefined]] },
    );
  });
});
