import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Flow, FlowEndpoint, ParseResult } from '../../domain/flow.js';
import { hubbleValueResult, parseHubbleLine } from './parse.js';
import { scanHubbleBytesOutcome, scanHubbleLine } from './scan-line.js';

/** testdata/observe.jsonl: real-looking `hubble observe -o json` / exporter lines, in this order. */
const FIXTURE_NAMES = [
  'tcp-syn-egress',
  'tcp-syn-ingress-at-destination',
  'tcp-syn-ack-reply',
  'dns-response',
  'dropped-policy-denied',
  'audit-policy-verdict',
  'world-to-pod-ingress',
  'pod-to-kube-apiserver',
  'pod-to-world-with-names',
  'icmp-echo',
  'ipv6-udp',
  'lost-events',
  'node-status',
  'agent-event',
  'debug-event',
  'legacy-bare-flow',
  'camel-case-jsonpb',
  'non-ip-flow',
  'unknown-verdict',
  'wrong-port-type',
  'no-l4-fragment',
] as const;
type FixtureName = (typeof FIXTURE_NAMES)[number];

const fixtureLines = readFileSync(new URL('./testdata/observe.jsonl', import.meta.url), 'utf8').split('\n').filter((l) => l !== '');
const fixtures = new Map(FIXTURE_NAMES.map((name, i) => [name, fixtureLines[i] ?? '']));
const fixture = (name: FixtureName): string => fixtures.get(name) ?? '';

// Builders for expected endpoints.
const frontend = (ip: string, port: number): FlowEndpoint => ({
  ip,
  port,
  namespace: 'shop',
  podName: 'frontend-7d9f8b6c5d-x2lqp',
  labels: ['app.kubernetes.io/part-of=shop', 'app=frontend', 'pod-template-hash=7d9f8b6c5d'],
  workload: { kind: 'Deployment', name: 'frontend' },
  identity: 48213,
});
const cart = (ip: string, port: number): FlowEndpoint => ({
  ip,
  port,
  namespace: 'shop',
  podName: 'cart-6b5c9d7f4-9zkq2',
  labels: ['app.kubernetes.io/part-of=shop', 'app=cart', 'pod-template-hash=6b5c9d7f4'],
  workload: { kind: 'Deployment', name: 'cart' },
  identity: 20931,
});
const payments = (port: number): FlowEndpoint => ({
  ip: '10.244.2.77',
  port,
  namespace: 'shop',
  podName: 'payments-0',
  labels: ['app=payments', 'controller-revision-hash=payments-5f7d8c9b6', 'statefulset.kubernetes.io/pod-name=payments-0'],
  workload: { kind: 'StatefulSet', name: 'payments' },
  identity: 11872,
});
const flowOf = (flow: Flow): ParseResult => ({ kind: 'flow', flow });
const ms = (iso: string) => Date.parse(iso);

interface Case {
  readonly name: string;
  readonly line: string;
  readonly expected: ParseResult | ((r: ParseResult) => void);
}

const cases: readonly Case[] = [
  {
    name: 'TCP SYN egress from a Deployment pod (envelope, TO_OVERLAY)',
    line: fixture('tcp-syn-egress'),
    expected: flowOf({
      time: ms('2024-05-02T09:14:03.512Z'),
      source: frontend('10.244.1.23', 51234),
      destination: cart('10.244.2.41', 8080),
      protocol: 'TCP',
      verdict: 'FORWARDED',
      isReply: false,
      node: 'kind-worker',
      observationPoint: 'TO_OVERLAY',
      trafficDirection: 'EGRESS',
      confirmed: true,
    }),
  },
  {
    name: 'the same connection observed at the destination (INGRESS, TO_ENDPOINT)',
    line: fixture('tcp-syn-ingress-at-destination'),
    expected: flowOf({
      time: ms('2024-05-02T09:14:03.513Z'),
      source: frontend('10.244.1.23', 51234),
      destination: cart('10.244.2.41', 8080),
      protocol: 'TCP',
      verdict: 'FORWARDED',
      isReply: false,
      node: 'kind-worker2',
      observationPoint: 'TO_ENDPOINT',
      trafficDirection: 'INGRESS',
      confirmed: true,
    }),
  },
  {
    name: 'the SYN-ACK reply (is_reply: true; Hubble does not swap the endpoints)',
    line: fixture('tcp-syn-ack-reply'),
    expected: flowOf({
      time: ms('2024-05-02T09:14:03.513Z'),
      source: cart('10.244.2.41', 8080),
      destination: frontend('10.244.1.23', 51234),
      protocol: 'TCP',
      verdict: 'FORWARDED',
      isReply: true,
      node: 'kind-worker2',
      observationPoint: 'TO_OVERLAY',
      trafficDirection: 'INGRESS',
      confirmed: true,
    }),
  },
  {
    name: 'DNS L7 response with ips gives dnsAnswer (query lower-cased, root dot stripped)',
    line: fixture('dns-response'),
    expected: flowOf({
      time: ms('2024-05-02T09:14:02.981Z'),
      source: {
        ip: '10.244.0.12',
        port: 53,
        namespace: 'kube-system',
        podName: 'coredns-5d78c9869d-4xwq8',
        labels: ['k8s-app=kube-dns'],
        workload: { kind: 'Deployment', name: 'coredns' },
        identity: 31455,
      },
      destination: frontend('10.244.1.23', 41922),
      protocol: 'UDP',
      verdict: 'FORWARDED',
      isReply: true,
      node: 'kind-worker',
      trafficDirection: 'EGRESS',
      dnsAnswer: { query: 'api.stripe.com', ips: ['3.18.12.63', '3.130.192.81'] },
      confirmed: true,
    }),
  },
  {
    name: 'DROPPED by policy carries the drop reason name',
    line: fixture('dropped-policy-denied'),
    expected: flowOf({
      time: ms('2024-05-02T09:15:41.000Z'),
      source: frontend('10.244.1.23', 40112),
      destination: payments(9090),
      protocol: 'TCP',
      verdict: 'DROPPED',
      isReply: false,
      node: 'kind-worker2',
      trafficDirection: 'INGRESS',
      dropReason: 'POLICY_DENIED',
      confirmed: true,
    }),
  },
  {
    name: 'AUDIT policy verdict',
    line: fixture('audit-policy-verdict'),
    expected: flowOf({
      time: ms('2024-05-02T09:16:07.774Z'),
      source: frontend('10.244.1.23', 40114),
      destination: payments(9090),
      protocol: 'TCP',
      verdict: 'AUDIT',
      isReply: false,
      node: 'kind-worker',
      trafficDirection: 'EGRESS',
      confirmed: true,
    }),
  },
  {
    name: 'world → ingress controller pod (reserved:world, identity 2)',
    line: fixture('world-to-pod-ingress'),
    expected: flowOf({
      time: ms('2024-05-02T09:17:12.300Z'),
      source: { ip: '203.0.113.45', port: 60211, reserved: 'world', identity: 2 },
      destination: {
        ip: '10.244.1.50',
        port: 443,
        namespace: 'ingress-nginx',
        podName: 'ingress-nginx-controller-6f9b8d7c5-k4m2t',
        labels: ['app.kubernetes.io/component=controller', 'app.kubernetes.io/instance=ingress-nginx', 'app.kubernetes.io/name=ingress-nginx'],
        workload: { kind: 'Deployment', name: 'ingress-nginx-controller' },
        identity: 60517,
      },
      protocol: 'TCP',
      verdict: 'FORWARDED',
      isReply: false,
      node: 'kind-worker',
      observationPoint: 'TO_ENDPOINT',
      trafficDirection: 'INGRESS',
      confirmed: true,
    }),
  },
  {
    name: 'pod → kube-apiserver (reserved:kube-apiserver wins over reserved:remote-node)',
    line: fixture('pod-to-kube-apiserver'),
    expected: flowOf({
      time: ms('2024-05-02T09:18:00.120Z'),
      source: frontend('10.244.1.23', 38822),
      destination: { ip: '172.18.0.3', port: 6443, reserved: 'kube-apiserver', identity: 7 },
      protocol: 'TCP',
      verdict: 'FORWARDED',
      isReply: false,
      node: 'kind-worker',
      observationPoint: 'TO_STACK',
      trafficDirection: 'EGRESS',
      confirmed: true,
    }),
  },
  {
    name: 'pod → world CIDR identity with destination_names (cidr:/fqdn: labels are not pod labels)',
    line: fixture('pod-to-world-with-names'),
    expected: flowOf({
      time: ms('2024-05-02T09:14:03.100Z'),
      source: frontend('10.244.1.23', 47001),
      destination: { ip: '3.18.12.63', port: 443, reserved: 'world', identity: 16777217 },
      protocol: 'TCP',
      verdict: 'FORWARDED',
      isReply: false,
      node: 'kind-worker',
      observationPoint: 'TO_STACK',
      trafficDirection: 'EGRESS',
      destinationNames: ['api.stripe.com'],
      confirmed: true,
    }),
  },
  {
    name: 'ICMPv4 echo: port 0',
    line: fixture('icmp-echo'),
    expected: flowOf({
      time: ms('2024-05-02T09:20:00.000Z'),
      source: frontend('10.244.1.23', 0),
      destination: cart('10.244.2.41', 0),
      protocol: 'ICMPv4',
      verdict: 'FORWARDED',
      isReply: false,
      node: 'kind-worker',
      observationPoint: 'TO_OVERLAY',
      trafficDirection: 'EGRESS',
      confirmed: true,
    }),
  },
  {
    name: 'IPv6 UDP flow',
    line: fixture('ipv6-udp'),
    expected: (r) => {
      expect(r.kind).toBe('flow');
      if (r.kind !== 'flow') return;
      expect(r.flow.source.ip).toBe('fd00:10:244:1::1f');
      expect(r.flow.destination.port).toBe(5353);
      expect(r.flow.protocol).toBe('UDP');
      expect(r.flow.time).toBe(ms('2024-05-02T09:21:30.500Z'));
    },
  },
  {
    name: 'lost_events (uint64 count written as a string)',
    line: fixture('lost-events'),
    expected: { kind: 'lost-events', source: 'PERF_EVENT_RING_BUFFER', count: 42 },
  },
  {
    name: 'node_status from Hubble Relay',
    line: fixture('node-status'),
    expected: { kind: 'node-status', node: 'kind-worker3', detail: 'NODE_UNAVAILABLE: rpc error: code = Unavailable desc = connection refused' },
  },
  { name: 'agent_event', line: fixture('agent-event'), expected: { kind: 'agent-event', detail: 'ENDPOINT_CREATED' } },
  { name: 'debug_event', line: fixture('debug-event'), expected: { kind: 'debug-event' } },
  {
    name: 'legacy bare flow (no envelope, deprecated reply: true, no workloads)',
    line: fixture('legacy-bare-flow'),
    expected: flowOf({
      time: ms('2021-03-10T16:02:41.512Z'),
      source: { ip: '10.244.1.23', port: 51234, namespace: 'shop', podName: 'frontend-7d9f8b6c5d-x2lqp', labels: ['app=frontend'], identity: 48213 },
      destination: { ip: '10.244.2.41', port: 8080, namespace: 'shop', podName: 'cart-6b5c9d7f4-9zkq2', labels: ['app=cart'], identity: 20931 },
      protocol: 'TCP',
      verdict: 'FORWARDED',
      isReply: true,
      node: 'kind-worker',
      observationPoint: 'TO_STACK',
      trafficDirection: 'EGRESS',
      confirmed: true,
    }),
  },
  {
    name: 'lowerCamelCase JSON names (protojson default, ", " separators); DROP_REASON_UNKNOWN is no reason',
    line: fixture('camel-case-jsonpb'),
    expected: flowOf({
      time: ms('2024-05-02T09:14:03.600Z'),
      source: { ip: '10.244.2.41', port: 8080, namespace: 'shop', podName: 'cart-6b5c9d7f4-9zkq2', labels: ['app=cart'], workload: { kind: 'Deployment', name: 'cart' }, identity: 20931 },
      destination: { ip: '10.244.1.23', port: 51234, namespace: 'shop', podName: 'frontend-7d9f8b6c5d-x2lqp', labels: ['app=frontend'], workload: { kind: 'Deployment', name: 'frontend' }, identity: 48213 },
      protocol: 'TCP',
      verdict: 'FORWARDED',
      isReply: true,
      node: 'kind-worker',
      observationPoint: 'TO_ENDPOINT',
      trafficDirection: 'INGRESS',
      confirmed: true,
    }),
  },
  { name: 'non-IP flow (ARP, ethernet only)', line: fixture('non-ip-flow'), expected: { kind: 'skip', reason: 'schema-mismatch', detail: 'flow has no IP (non-IP flow)' } },
  {
    name: 'unknown verdict enum name',
    line: fixture('unknown-verdict'),
    expected: (r) => expect(r).toMatchObject({ kind: 'skip', reason: 'schema-mismatch', detail: expect.stringContaining('flow.verdict') }),
  },
  {
    name: 'port of the wrong type',
    line: fixture('wrong-port-type'),
    expected: (r) => expect(r).toMatchObject({ kind: 'skip', reason: 'schema-mismatch', detail: expect.stringContaining('flow.l4.TCP.destination_port') }),
  },
  { name: 'IP flow without l4 (a fragment)', line: fixture('no-l4-fragment'), expected: { kind: 'skip', reason: 'unsupported-protocol', detail: 'flow has no l4' } },
  // Bad input.
  { name: 'blank line', line: '   \t ', expected: { kind: 'skip', reason: 'empty' } },
  { name: 'empty line', line: '', expected: { kind: 'skip', reason: 'empty' } },
  { name: 'CR only (a CRLF file blank line)', line: '\r', expected: { kind: 'skip', reason: 'empty' } },
  {
    name: 'truncated JSON (a partly written last line)',
    line: fixture('tcp-syn-egress').slice(0, 700),
    expected: (r) => expect(r).toMatchObject({ kind: 'skip', reason: 'malformed' }),
  },
  {
    name: 'not JSON (an agent log line in the flow file)',
    line: 'level=info msg="Starting Hubble server" address=":4244" subsys=hubble',
    expected: (r) => expect(r).toMatchObject({ kind: 'skip', reason: 'malformed' }),
  },
  { name: 'NUL bytes', line: '\u0000\u0000\u0000\u0000', expected: (r) => expect(r).toMatchObject({ kind: 'skip', reason: 'malformed' }) },
  {
    name: 'NUL byte inside a string',
    line: fixture('icmp-echo').replace('kind-worker', 'kind\u0000worker'),
    expected: (r) => expect(r).toMatchObject({ kind: 'skip', reason: 'malformed' }),
  },
  { name: 'JSON but not an object', line: '[1,2,3]', expected: (r) => expect(r).toMatchObject({ kind: 'skip', reason: 'schema-mismatch' }) },
  { name: 'empty object (no envelope member, no IP)', line: '{}', expected: { kind: 'skip', reason: 'schema-mismatch', detail: 'flow has no IP (non-IP flow)' } },
  {
    name: 'two envelope members (oneof)',
    line: '{"lost_events":{"num_events_lost":"1"},"agent_event":{"type":"AGENT_STARTED"}}',
    expected: (r) => expect(r).toMatchObject({ kind: 'skip', reason: 'schema-mismatch', detail: expect.stringContaining('oneof') }),
  },
  {
    name: 'a field under both its proto and JSON name',
    line: fixture('icmp-echo').replace('"node_name":"kind-worker","event_type"', '"node_name":"kind-worker","nodeName":"kind-worker","event_type"'),
    expected: (r) => expect(r).toMatchObject({ kind: 'skip', reason: 'schema-mismatch', detail: expect.stringContaining('duplicate field') }),
  },
  {
    name: 'invalid IP address',
    line: fixture('icmp-echo').replace('"10.244.2.41"', '"10.244.2.410"'),
    expected: (r) => expect(r).toMatchObject({ kind: 'skip', reason: 'schema-mismatch', detail: expect.stringContaining('not an IP address') }),
  },
  {
    name: 'invalid timestamp',
    line: fixture('icmp-echo').replace('"time":"2024-05-02T09:20:00Z"}', '"time":"yesterday"}'),
    expected: (r) => expect(r).toMatchObject({ kind: 'skip', reason: 'schema-mismatch', detail: expect.stringContaining('RFC 3339') }),
  },
];

describe('parseHubbleLine (full parser) on named cases', () => {
  it('has a name for every fixture line', () => {
    expect(fixtureLines).toHaveLength(FIXTURE_NAMES.length);
  });
  for (const c of cases) {
    it(c.name, () => {
      const result = parseHubbleLine(c.line);
      if (typeof c.expected === 'function') c.expected(result);
      else expect(result).toEqual(c.expected);
    });
  }
});

describe('scanHubbleLine (fast path) on named cases', () => {
  for (const c of cases) {
    it(`${c.name}: same result as the full parser`, () => {
      expect(scanHubbleLine(c.line)).toEqual(parseHubbleLine(c.line));
      const bytes = Buffer.from(c.line, 'utf8');
      expect(scanHubbleLine(bytes)).toEqual(parseHubbleLine(bytes));
    });
  }
  it('decides every valid fixture line itself (no fallback)', () => {
    const bad = new Set<FixtureName>(['unknown-verdict', 'wrong-port-type']);
    for (const name of FIXTURE_NAMES) {
      const bytes = Buffer.from(fixture(name), 'utf8');
      expect({ name, fast: scanHubbleBytesOutcome(bytes, 0, bytes.length).fast }).toEqual({ name, fast: !bad.has(name) });
    }
  });
});

describe('hubbleValueResult (an already decoded object, e.g. from a protojson client)', () => {
  it('gives the same result as parsing the line', () => {
    for (const name of FIXTURE_NAMES) expect(hubbleValueResult(JSON.parse(fixture(name)))).toEqual(parseHubbleLine(fixture(name)));
  });
});

describe('line limits', () => {
  it('skips a line over the limit as too-long without parsing it', () => {
    const line = `{"flow":${' '.repeat(64)}}`;
    expect(parseHubbleLine(line, { maxLineBytes: 32 })).toEqual({ kind: 'skip', reason: 'too-long', detail: 'line of 73 bytes exceeds the 32-byte limit' });
    expect(scanHubbleLine(line, { maxLineBytes: 32 })).toEqual(parseHubbleLine(line, { maxLineBytes: 32 }));
  });
  it('counts the limit in UTF-8 bytes, not UTF-16 units', () => {
    const line = `"${'é'.repeat(20)}"`; // 22 units, 42 bytes
    expect(parseHubbleLine(line, { maxLineBytes: 41 })).toMatchObject({ reason: 'too-long' });
    expect(parseHubbleLine(line, { maxLineBytes: 42 })).toMatchObject({ reason: 'schema-mismatch' });
  });
  it('handles a 10 MB line as too-long under the default 1 MiB limit', () => {
    const line = `{"flow":{"Summary":"${'x'.repeat(10 * 1024 * 1024)}"}}`;
    expect(parseHubbleLine(line)).toMatchObject({ kind: 'skip', reason: 'too-long' });
    expect(scanHubbleLine(line)).toMatchObject({ kind: 'skip', reason: 'too-long' });
  });
});

describe('policy denials (Cilium egress_denied_by / ingress_denied_by)', () => {
  const line = '{"flow":{"time":"2026-12-05T12:00:00Z","verdict":"DROPPED","drop_reason_desc":"POLICY_DENIED","traffic_direction":"INGRESS","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":40000,"destination_port":8080}},"ingress_denied_by":[{"name":"hivewall-cart","namespace":"shop","labels":["k8s:io.cilium.k8s.policy.name=hivewall-cart"],"revision":"7"},{"name":"hivewall-default-deny","namespace":"shop"}],"egress_denied_by":[{"namespace":"shop"}]}}';
  it.each([['full parser', parseHubbleLine], ['fast path', scanHubbleLine]] as const)('%s names the denying policies as <namespace>/<name>, sorted, nameless ones left out', (_name, parse) => {
    const result = parse(line);
    expect(result.kind).toBe('flow');
    const flow = (result as Extract<ParseResult, { kind: 'flow' }>).flow;
    expect(flow.dropReason).toBe('POLICY_DENIED');
    expect(flow.deniedBy).toEqual(['shop/hivewall-cart', 'shop/hivewall-default-deny']);
  });
});
