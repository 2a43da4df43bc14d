/**
 * decode.ts on hand-made wire bytes: the same results as the Hubble JSON parser for the protojson
 * text of the same message, protobuf's last-wins rules, resume keys, and what broken bytes give.
 * (source.test.ts checks the same equivalence for every message a Cilium-built server sends.)
 * Messages are encoded with protobufjs from the bundled .proto files (definitions.ts).
 */
import { describe, expect, it } from 'vitest';
import { parseHubbleLine } from '../hubble/parse.js';
import { GetFlowsDecoder } from './decode.js';
import { loadHubbleDefinitions } from './definitions.js';

const { getFlows } = loadHubbleDefinitions();
const encode = (message: object): Buffer => getFlows.responseSerialize(message);

const T = { seconds: '1714641243', nanos: 512_874_321 };
const T_TEXT = '2024-05-02T09:14:03.512874321Z';
const ep = (ns: string, pod: string, extra: object = {}) => ({ namespace: ns, pod_name: pod, identity: 4711, labels: [`k8s:app=${pod}`, 'k8s:io.kubernetes.pod.namespace=' + ns], workloads: [{ name: pod, kind: 'Deployment' }], ...extra });
const epJson = (ns: string, pod: string, extra: object = {}) => ep(ns, pod, extra);

/** Hand-made wire bytes: a varint, a length-delimited field, a flow's bytes without the envelope. */
const varint = (n: number): number[] => {
  const out: number[] = [];
  for (; n > 0x7f; n >>>= 7) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
};
const field = (n: number, bytes: Buffer): Buffer => Buffer.concat([Buffer.from([...varint((n << 3) | 2), ...varint(bytes.length)]), bytes]);
const flowBytes = (flow: object): Buffer => {
  const message = encode({ flow }); // 0x0a, the flow's length (varint), the flow
  let i = 1;
  while (message[i]! & 0x80) i++;
  return message.subarray(i + 1);
};

describe('GetFlowsDecoder', () => {
  it.each([
    {
      name: 'a TCP flow with endpoints, reply wrapper and observation point',
      proto: { flow: { time: T, uuid: 'u-1', verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { TCP: { source_port: 40000, destination_port: 8080 } }, source: ep('shop', 'web'), destination: ep('shop', 'api'), node_name: 'n1', is_reply: { value: false }, traffic_direction: 'INGRESS', trace_observation_point: 'TO_ENDPOINT' }, node_name: 'n1', time: T },
      json: { flow: { time: T_TEXT, uuid: 'u-1', verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { TCP: { source_port: 40000, destination_port: 8080 } }, source: epJson('shop', 'web'), destination: epJson('shop', 'api'), node_name: 'n1', is_reply: false, traffic_direction: 'INGRESS', trace_observation_point: 'TO_ENDPOINT' }, node_name: 'n1', time: T_TEXT },
    },
    {
      name: 'a present BoolValue without value is false; an IPv6 address is canonicalized',
      proto: { flow: { time: T, verdict: 'FORWARDED', IP: { source: '2001:DB8:0:0::1', destination: '2001:db8::2' }, l4: { UDP: { source_port: 5353, destination_port: 53 } }, is_reply: {} } },
      json: { flow: { time: T_TEXT, verdict: 'FORWARDED', IP: { source: '2001:DB8:0:0::1', destination: '2001:db8::2' }, l4: { UDP: { source_port: 5353, destination_port: 53 } }, is_reply: false } },
    },
    {
      name: 'a dropped flow with the deprecated drop reason and a DNS answer',
      proto: { flow: { time: T, verdict: 'DROPPED', drop_reason: 133, IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { ICMPv4: { type: 8 } }, destination_names: ['api.example.com'], l7: { dns: { query: 'API.example.com.', ips: ['192.0.2.1'] } } } },
      json: { flow: { time: T_TEXT, verdict: 'DROPPED', drop_reason: 133, IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { ICMPv4: { type: 8 } }, destination_names: ['api.example.com'], l7: { dns: { query: 'API.example.com.', ips: ['192.0.2.1'] } } } },
    },
    {
      name: 'a flow without l4 (e.g. VRRP) is an unsupported protocol',
      proto: { flow: { time: T, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' } } },
      json: { flow: { time: T_TEXT, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' } } },
    },
    {
      name: 'a flow without IP is a schema mismatch',
      proto: { flow: { time: T, verdict: 'FORWARDED' } },
      json: { flow: { time: T_TEXT, verdict: 'FORWARDED' } },
    },
    {
      name: 'a lost-events notice',
      proto: { lost_events: { source: 'HUBBLE_RING_BUFFER', num_events_lost: '42' }, node_name: 'n1', time: T },
      json: { lost_events: { source: 'HUBBLE_RING_BUFFER', num_events_lost: '42' }, node_name: 'n1', time: T_TEXT },
    },
    {
      name: 'relay node status',
      proto: { node_status: { state_change: 'NODE_UNAVAILABLE', node_names: ['n2'], message: 'gone' } },
      json: { node_status: { state_change: 'NODE_UNAVAILABLE', node_names: ['n2'], message: 'gone' } },
    },
    {
      name: 'an unknown open enum number stays a number',
      proto: { flow: { time: T, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { TCP: {} }, trace_observation_point: 77 } },
      json: { flow: { time: T_TEXT, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { TCP: {} }, trace_observation_point: 77 } },
    },
    {
      name: 'a flow to the world: reserved labels and identity, destination names filtered, the node only on the envelope',
      proto: { flow: { time: T, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '192.0.2.7' }, l4: { TCP: { source_port: 40001, destination_port: 443 } }, source: ep('shop', 'web'), destination: { identity: 2, labels: ['reserved:world'] }, destination_names: ['API.example.com.', 'not a name', ''], traffic_direction: 'EGRESS', trace_observation_point: 'TO_STACK' }, node_name: 'n7', time: T },
      json: { flow: { time: T_TEXT, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '192.0.2.7' }, l4: { TCP: { source_port: 40001, destination_port: 443 } }, source: epJson('shop', 'web'), destination: { identity: 2, labels: ['reserved:world'] }, destination_names: ['API.example.com.', 'not a name', ''], traffic_direction: 'EGRESS', trace_observation_point: 'TO_STACK' }, node_name: 'n7', time: T_TEXT },
    },
    {
      name: 'endpoints without a workload or labels, a host identity number, zero enums left out, the deprecated reply',
      proto: { flow: { time: T, verdict: 'AUDIT', IP: { source: '10.0.0.1', destination: '10.0.0.9' }, l4: { SCTP: { source_port: 7, destination_port: 9 } }, source: { namespace: 'shop', pod_name: 'web-1' }, destination: { identity: 1 }, reply: true, node_name: 'n2', traffic_direction: 'TRAFFIC_DIRECTION_UNKNOWN', trace_observation_point: 'UNKNOWN_POINT', drop_reason_desc: 'DROP_REASON_UNKNOWN' }, node_name: 'n1' },
      json: { flow: { time: T_TEXT, verdict: 'AUDIT', IP: { source: '10.0.0.1', destination: '10.0.0.9' }, l4: { SCTP: { source_port: 7, destination_port: 9 } }, source: { namespace: 'shop', pod_name: 'web-1' }, destination: { identity: 1 }, reply: true, node_name: 'n2', traffic_direction: 'TRAFFIC_DIRECTION_UNKNOWN', trace_observation_point: 'UNKNOWN_POINT', drop_reason_desc: 'DROP_REASON_UNKNOWN' }, node_name: 'n1' },
    },
    {
      name: 'a policy drop with its reason name, no time on the flow (the envelope\'s is used), ICMPv6',
      proto: { flow: { verdict: 'DROPPED', drop_reason: 133, drop_reason_desc: 'POLICY_DENIED', IP: { source: 'fd00::1', destination: 'fd00::2' }, l4: { ICMPv6: { type: 128 } }, traffic_direction: 'INGRESS', is_reply: { value: true }, reply: false }, time: T },
      json: { flow: { verdict: 'DROPPED', drop_reason: 133, drop_reason_desc: 'POLICY_DENIED', IP: { source: 'fd00::1', destination: 'fd00::2' }, l4: { ICMPv6: { type: 128 } }, traffic_direction: 'INGRESS', is_reply: true, reply: false }, time: T_TEXT },
    },
    {
      name: 'a DNS answer whose query is not a DNS name gives none; empty answers neither',
      proto: { flow: { time: T, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { UDP: { source_port: 53, destination_port: 5353 } }, l7: { dns: { query: 'bad name.', ips: ['192.0.2.1'] } }, is_reply: { value: true } } },
      json: { flow: { time: T_TEXT, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { UDP: { source_port: 53, destination_port: 5353 } }, l7: { dns: { query: 'bad name.', ips: ['192.0.2.1'] } }, is_reply: true } },
    },
    {
      name: 'a DNS record without ips, and an l7 without a record',
      proto: { flow: { time: T, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { UDP: {} }, l7: { dns: { query: 'api.example.com.' } } } },
      json: { flow: { time: T_TEXT, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { UDP: {} }, l7: { dns: { query: 'api.example.com.' } } } },
    },
    {
      name: 'an IP without a destination is a schema mismatch',
      proto: { flow: { time: T, verdict: 'FORWARDED', IP: { source: '10.0.0.1' }, l4: { TCP: {} } } },
      json: { flow: { time: T_TEXT, verdict: 'FORWARDED', IP: { source: '10.0.0.1' }, l4: { TCP: {} } } },
    },
    {
      name: 'a flow without any time is a schema mismatch',
      proto: { flow: { verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { TCP: {} } } },
      json: { flow: { verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { TCP: {} } } },
    },
    {
      name: 'an l4 without a protocol hivewall reads is an unsupported protocol',
      proto: { flow: { time: T, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: {} } },
      json: { flow: { time: T_TEXT, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: {} } },
    },
  ])('$name: the JSON parser\'s result for the same message', ({ proto, json }) => {
    const got = new GetFlowsDecoder().decode(encode(proto)).result;
    const want = parseHubbleLine(JSON.stringify(json));
    expect(got).toStrictEqual(want);
    // The same fields in the same order (what JSON output and Object.keys see).
    expect(JSON.stringify(got)).toBe(JSON.stringify(want));
  });

  it('reads the policies that denied a dropped flow (egress_denied_by, ingress_denied_by) as the JSON parser does', () => {
    const denied = {
      egress_denied_by: [{ name: 'admin-deny', namespace: 'shop', labels: ['k8s:x=y'], revision: '3', kind: 'CiliumNetworkPolicy' }, { namespace: 'shop' }],
      ingress_denied_by: [{ name: 'cluster-deny' }, { name: 'admin-deny', namespace: 'shop' }],
    };
    const base = { verdict: 'DROPPED', drop_reason_desc: 'POLICY_DENIED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { TCP: { source_port: 40000, destination_port: 80 } }, source: ep('shop', 'web'), traffic_direction: 'EGRESS', ...denied };
    const got = new GetFlowsDecoder().decode(encode({ flow: { time: T, ...base } })).result;
    const want = parseHubbleLine(JSON.stringify({ flow: { time: T_TEXT, ...base } }));
    expect(want).toMatchObject({ kind: 'flow', flow: { deniedBy: ['/cluster-deny', 'shop/admin-deny'] } });
    expect(got).toStrictEqual(want);
    expect(JSON.stringify(got)).toBe(JSON.stringify(want));
  });

  it('reads only the last member of Layer7.record: an http record after a DNS record clears its answer', () => {
    const base = { time: T, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { UDP: { source_port: 53, destination_port: 5353 } } };
    const dns = field(100, Buffer.concat([field(1, Buffer.from('API.example.com.')), field(2, Buffer.from('192.0.2.1'))]));
    const http = field(101, Buffer.alloc(0));
    const withL7 = (l7: Buffer) => field(1, Buffer.concat([flowBytes(base), field(15, l7)]));
    expect(new GetFlowsDecoder().decode(withL7(Buffer.concat([http, dns]))).result).toMatchObject({ kind: 'flow', flow: { dnsAnswer: { query: 'api.example.com', ips: ['192.0.2.1'] } } });
    const cleared = new GetFlowsDecoder().decode(withL7(Buffer.concat([dns, http]))).result;
    expect(cleared).toMatchObject({ kind: 'flow', flow: { protocol: 'UDP' } });
    expect(cleared.kind === 'flow' && 'dnsAnswer' in cleared.flow).toBe(false);
  });

  it('keeps the last Layer4 member hivewall reads: a later TCP replaces UDP and its ports, an unread member (VRRP) does not', () => {
    const base = { time: T, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' } };
    const udp = field(2, Buffer.from([0x08, 0x35, 0x10, 0x35])); // ports 53, 53
    const tcp = field(1, Buffer.from([0x10, 0x50])); // destination_port 80 only
    const vrrp = field(6, Buffer.alloc(0));
    const withL4 = (l4: Buffer) => field(1, Buffer.concat([flowBytes(base), field(6, l4)]));
    const flow = (l4: Buffer) => {
      const result = new GetFlowsDecoder().decode(withL4(l4)).result;
      if (result.kind !== 'flow') throw new Error(`not a flow: ${JSON.stringify(result)}`);
      return [result.flow.protocol, result.flow.source.port, result.flow.destination.port];
    };
    expect(flow(Buffer.concat([udp, tcp]))).toEqual(['TCP', 0, 80]);
    expect(flow(Buffer.concat([tcp, udp, vrrp]))).toEqual(['UDP', 53, 53]);
    // Two l4 fields on the flow: the second replaces the first whole.
    const twice = field(1, Buffer.concat([flowBytes(base), field(6, udp), field(6, Buffer.alloc(0))]));
    expect(new GetFlowsDecoder().decode(twice).result).toMatchObject({ kind: 'skip', reason: 'unsupported-protocol' });
  });

  it('returns the resume key: envelope time in nanoseconds and the uuid, else a digest of the flow bytes', () => {
    const d = new GetFlowsDecoder();
    const withUuid = d.decode(encode({ flow: { time: T, uuid: 'u-9', verdict: 'FORWARDED' }, time: T }));
    expect(withUuid).toMatchObject({ kind: 'flow', timeSeconds: 1_714_641_243, timeNanos: 512_874_321, identity: 'uuid:u-9' });
    const a = d.decode(encode({ flow: { time: T, verdict: 'FORWARDED', node_name: 'a' } }));
    const b = d.decode(encode({ flow: { time: T, verdict: 'FORWARDED', node_name: 'b' } }));
    expect(a.kind === 'flow' && a.identity).toMatch(/^sha256:[A-Za-z0-9_-]{43}$/);
    expect(a).toMatchObject({ timeSeconds: 1_714_641_243, timeNanos: 512_874_321 });
    expect(a.kind === 'flow' && b.kind === 'flow' && a.identity !== b.identity).toBe(true);
  });

  it('decodes a message given as a range of a larger buffer as it decodes the message alone', () => {
    const messages = [
      encode({ flow: { time: T, uuid: 'u-1', verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { TCP: { source_port: 1, destination_port: 80 } }, source: ep('shop', 'web'), node_name: 'n' }, node_name: 'n', time: T }),
      encode({ flow: { time: T, verdict: 'DROPPED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { UDP: {} } } }),
      encode({ lost_events: { source: 'PERF_EVENT_RING_BUFFER', num_events_lost: 3 }, time: T }),
    ];
    for (const message of messages) {
      const chunk = Buffer.concat([Buffer.from([0xff, 0x01, 0x02]), message, Buffer.from([0xff, 0x7f])]);
      expect(new GetFlowsDecoder().decode(chunk, 3, 3 + message.length)).toEqual(new GetFlowsDecoder().decode(message));
    }
  });

  it('skips a flow naming an invalid endpoint every time, also once the endpoint is cached', () => {
    const d = new GetFlowsDecoder();
    for (const [source, destination] of [[ep('Shop', 'web'), ep('shop', 'api')], [ep('shop', 'web'), ep('shop', 'api', { labels: ['k8s:app=a b'] })]]) {
      const message = encode({ flow: { time: T, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { TCP: {} }, source, destination } });
      const json = { flow: { time: T_TEXT, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { TCP: {} }, source, destination } };
      const want = parseHubbleLine(JSON.stringify(json));
      expect(want).toMatchObject({ kind: 'skip', reason: 'invalid-name' });
      for (let i = 0; i < 3; i++) expect(d.decode(message).result).toEqual(want);
    }
    const valid = encode({ flow: { time: T, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { TCP: {} }, source: ep('shop', 'web'), destination: ep('shop', 'api') } });
    for (let i = 0; i < 2; i++) expect(d.decode(valid).result).toMatchObject({ kind: 'flow' });
  });

  it('applies protobuf\'s last-wins rule to a oneof repeated on the wire', () => {
    const udp = encode({ flow: { time: T, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { UDP: { source_port: 1, destination_port: 53 } } } });
    const tcp = encode({ flow: { l4: { TCP: { source_port: 1, destination_port: 80 } } } });
    // Two serialized messages concatenated are one message whose fields merge (protobuf encoding rules).
    const merged = new GetFlowsDecoder().decode(Buffer.concat([udp, tcp])).result;
    expect(merged).toMatchObject({ kind: 'skip' }); // the second `flow` replaces the first: no time, no IP
    const l4Twice = new GetFlowsDecoder().decode(encode({ flow: { time: T, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { UDP: { source_port: 1, destination_port: 53 } } } }));
    expect(l4Twice.result).toMatchObject({ kind: 'flow', flow: { protocol: 'UDP' } });
  });

  it('reuses one endpoint record for repeated endpoint bytes (labels classified once)', () => {
    const d = new GetFlowsDecoder();
    const message = encode({ flow: { time: T, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { TCP: {} }, source: ep('shop', 'web'), destination: ep('shop', 'api') } });
    const first = d.decode(message).result;
    const second = d.decode(message).result;
    if (first.kind !== 'flow' || second.kind !== 'flow') throw new Error('not flows');
    expect(second.flow.source).toEqual(first.flow.source);
    expect(second.flow.source.labels).toBe(first.flow.source.labels);
    expect(first.flow.source).toMatchObject({ namespace: 'shop', podName: 'web', labels: ['app=web'], workload: { kind: 'Deployment', name: 'web' }, identity: 4711 });
  });

  it('keeps endpoints apart that differ in one byte anywhere (hash collisions, full buckets) and decodes large ones', () => {
    const d = new GetFlowsDecoder();
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    const filler = 'x'.repeat(60);
    const cases: string[][] = [];
    // One varying character at 8 consecutive positions in the middle label: most are not hashed,
    // so these collide and overflow a bucket; each must still come back as itself, twice.
    for (let at = 20; at < 28; at++) {
      for (const c of alphabet) cases.push([`k8s:a=${filler}`, `k8s:b=${filler.slice(0, at)}${c}${filler.slice(at + 1)}`, `k8s:c=${filler}`]);
    }
    cases.push(Array.from({ length: 100 }, (_, i) => `k8s:l${i}=${filler}`)); // larger than what is cached
    for (let round = 0; round < 2; round++) {
      for (const labels of cases) {
        const result = d.decode(encode({ flow: { time: T, verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { TCP: {} }, source: ep('shop', 'web', { labels }) } })).result;
        if (result.kind !== 'flow') throw new Error(`not a flow: ${JSON.stringify(result)}`);
        expect(result.flow.source.labels).toEqual(labels.map((l) => l.slice('k8s:'.length)).sort());
      }
    }
  });

  it.each([
    { name: 'a truncated message', bytes: () => encode({ flow: { time: T, verdict: 'FORWARDED', uuid: 'x'.repeat(40) } }).subarray(0, 20), reason: 'malformed' },
    { name: 'a varint longer than 10 bytes', bytes: () => Buffer.from([0x08, ...Array(11).fill(0xff), 0x01]), reason: 'malformed' },
    { name: 'a group wire type', bytes: () => Buffer.from([0x0b]), reason: 'malformed' },
    { name: 'a known field with the wrong wire type', bytes: () => Buffer.from([0x08, 0x01]), reason: 'malformed' },
    { name: 'an empty message', bytes: () => Buffer.alloc(0), reason: 'schema-mismatch' },
    { name: 'an unknown verdict number', bytes: () => encode({ flow: { time: T, verdict: 99, IP: { source: '10.0.0.1', destination: '10.0.0.2' } } }), reason: 'schema-mismatch' },
    { name: 'a Timestamp before year 1', bytes: () => encode({ flow: { time: { seconds: '-62135596801' }, verdict: 'FORWARDED' } }), reason: 'schema-mismatch' },
    { name: 'an invalid address', bytes: () => encode({ flow: { time: T, IP: { source: '10.0.0.300', destination: '10.0.0.2' } } }), reason: 'schema-mismatch' },
  ])('$name is a `$reason` skip, never a throw', ({ bytes, reason }) => {
    expect(new GetFlowsDecoder().decode(bytes())).toMatchObject({ kind: 'skip', result: { kind: 'skip', reason } });
  });
});
