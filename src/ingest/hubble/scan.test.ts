/**
 * Property tests: the fast scanner is exact — the same ParseResult as the full parser — on generated
 * Hubble lines with random key order, whitespace, escapes, alias spellings, nulls, extra unknown
 * fields, wrong types, and on mutated and garbage lines.
 */
import { Buffer } from 'node:buffer';
import type { ParseResult } from '../../domain/flow.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseHubbleLine } from './parse.js';
import { jsonName } from './proto.js';
import { takeScannedLine } from './scan.js';
import { scanHubbleBytesOutcome, scanHubbleLine } from './scan-line.js';
import { mulberry32 as rng } from '../../../scripts/example-shop/rand.js';

// ---- a JSON model that can hold duplicate keys and number spellings -----------------------------

class Obj {
  constructor(readonly entries: readonly (readonly [string, Model])[]) {}
}
/** A number with its own spelling (`80.0`, `8e1`, `"80"` is a string, not this). */
class Num {
  constructor(readonly text: string) {}
}
type Model = null | boolean | number | string | Num | Obj | readonly Model[];


interface Style {
  readonly shuffle: boolean;
  readonly whitespace: boolean;
  readonly escapes: boolean;
}

// No LF: a line of a file never holds one (it ends there); LF between tokens is tested on its own below.
const WS = [' ', '  ', '\t', '\r', ' \r\t '];

function serialize(model: Model, seed: number, style: Style): string {
  const random = rng(seed);
  const ws = () => (style.whitespace && random() < 0.3 ? WS[Math.floor(random() * WS.length)]! : '');
  const str = (s: string): string => {
    let out = '"';
    for (const ch of s) {
      const code = ch.codePointAt(0)!;
      const escape = style.escapes && random() < 0.15;
      if (ch === '"' || ch === '\\') out += `\\${ch}`;
      else if (code < 0x20) out += random() < 0.5 && ch === '\n' ? '\\n' : `\\u${code.toString(16).padStart(4, '0')}`;
      else if (escape && ch === '/') out += '\\/';
      else if (escape) {
        for (let i = 0; i < ch.length; i++) {
          const hex = ch.charCodeAt(i).toString(16).padStart(4, '0');
          out += `\\u${random() < 0.5 ? hex : hex.toUpperCase()}`;
        }
      } else out += ch;
    }
    return `${out}"`;
  };
  const value = (m: Model): string => {
    if (m === null) return 'null';
    if (typeof m === 'boolean') return String(m);
    if (typeof m === 'number') return JSON.stringify(m);
    if (typeof m === 'string') return str(m);
    if (m instanceof Num) return m.text;
    if (m instanceof Obj) {
      const entries = [...m.entries];
      if (style.shuffle) {
        for (let i = entries.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [entries[i], entries[j]] = [entries[j]!, entries[i]!];
        }
      }
      return `{${ws()}${entries.map(([k, v]) => `${ws()}${str(k)}${ws()}:${ws()}${value(v)}${ws()}`).join(',')}${ws()}}`;
    }
    return `[${ws()}${m.map((v) => `${ws()}${value(v)}${ws()}`).join(',')}${ws()}]`;
  };
  return `${ws()}${value(model)}${ws()}`;
}

/** fc.jsonValue → Model (unknown extra fields). */
function toModel(v: unknown): Model {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(toModel);
  return new Obj(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toModel(x)] as const));
}

// ---- arbitraries --------------------------------------------------------------------------------

/** `clean`: only what the fast path decides itself; otherwise also the odd and the invalid. */
interface Mode {
  readonly clean: boolean;
}

type Entries = readonly (readonly [string, Model])[];

const pad = (n: number, w: number) => String(n).padStart(w, '0');

const validTimestamp = fc
  .record({
    y: fc.integer({ min: 1, max: 9999 }),
    mo: fc.integer({ min: 1, max: 12 }),
    d: fc.integer({ min: 1, max: 28 }),
    h: fc.integer({ min: 0, max: 23 }),
    mi: fc.integer({ min: 0, max: 59 }),
    s: fc.integer({ min: 0, max: 59 }),
    frac: fc.option(fc.stringMatching(/^[0-9]{1,9}$/), { nil: undefined }),
    zone: fc.oneof(fc.constant('Z'), fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })).map(([s, h, m]) => `${s}${pad(h, 2)}:${pad(m, 2)}`)),
  })
  .map(({ y, mo, d, h, mi, s, frac, zone }) => `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${frac === undefined ? '' : `.${frac}`}${zone}`);
const oddTimestamp = fc.constantFrom(
  '', 'yesterday', '2024-13-01T00:00:00Z', '2024-02-30T00:00:00Z', '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '2024-05-02 09:14:03Z',
  '2024-05-02T09:14:03.1234567890Z', '2024-05-02T09:14:03z', '2024-05-02T09:14:60Z', '0000-01-01T00:00:00Z', '2024-05-02T09:14:03.Z',
  '2024-05-02T09:14:03+2400', '1969-12-31T23:59:59.999Z', '0099-01-01T00:00:00Z',
);

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const ipv6 = fc.oneof(
  fc.ipV6(),
  fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16).toUpperCase().padStart(4, '0')).join(':')),
  fc.constantFrom('fd00:10:244:1::1f', '::', '::1', '::ffff:10.0.0.1', '::FFFF:a00:1', '2001:db8:0:0:1:0:0:1', '2001:DB8::', 'fe80::1:0:0:0'),
);
const oddIp = fc.constantFrom('', '10.0.0.256', '010.0.0.1', '1.2.3', '1::2::3', 'fe80::1%eth0', ':::', 'localhost', '1.2.3.4 ', '::ffff:1.2.3.4.5', '12345::');
const ip = (m: Mode): fc.Arbitrary<Model> => (m.clean ? fc.oneof(ipv4, ipv6) : fc.oneof({ weight: 6, arbitrary: fc.oneof(ipv4, ipv6) }, { weight: 1, arbitrary: oddIp }));

/** Text with unicode, control characters and quotes. */
const text = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
);

/** Namespace, pod and workload names: mostly Kubernetes names, sometimes not (those flows are skipped as invalid-name on both paths). */
const k8sName = fc.oneof(
  { weight: 40, arbitrary: fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/) },
  { weight: 1, arbitrary: text },
);

/** Labels as Cilium writes them (every one a Kubernetes label, or not a pod label at all). */
const wellFormedLabel = fc.constantFrom(
  'k8s:app=frontend', 'k8s:app.kubernetes.io/name=cart', 'k8s:pod-template-hash=7d9f8b6c5d', 'k8s:io.cilium.k8s.policy.cluster=default',
  'k8s:io.kubernetes.pod.namespace=shop', 'reserved:world', 'reserved:host', 'cidr:10.0.0.0/8', 'app=bare', 'k8s:x',
);

/** Labels: mostly well formed; otherwise anything (a flow with a pod label that is not a Kubernetes label is skipped as invalid-name). */
const labelValue = fc.oneof(
  { weight: 40, arbitrary: wellFormedLabel },
  { weight: 1, arbitrary: fc.constantFrom(
    'k8s:app=frontend', 'k8s:app.kubernetes.io/name=cart', 'k8s:pod-template-hash=7d9f8b6c5d', 'k8s:io.cilium.k8s.policy.cluster=default',
    'k8s:io.cilium.k8s.policy.serviceaccount=frontend', 'k8s:io.kubernetes.pod.namespace=shop', 'k8s:io.kubernetes.pod.namespace',
    'k8s:io.kubernetes.pod.namespaces=x', 'k8s:io.cilium.k8s.namespace.labels.team=a', 'reserved:world', 'reserved:world-ipv4',
    'reserved:world-ipv6', 'reserved:host', 'reserved:kube-apiserver', 'reserved:remote-node', 'reserved:health', 'reserved:init',
    'reserved:unmanaged', 'reserved:ingress', 'reserved:bogus', 'cidr:10.0.0.0/8', 'fqdn:api.example.com', 'container:foo=bar',
    'app=bare', 'a=b:c', 'k8s:', 'k8s:x', 'reserved:', ':x', '=x', '', 'k8s:io.cilium.k8s.policy.', 'K8S:app=upper',
  ) },
  { weight: 1, arbitrary: text },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('k8s:', 'reserved:', 'cidr:', ''), text, fc.constantFrom('', '=', '=v')).map(([a, b, c]) => a + b + c) },
);

const port = (m: Mode): fc.Arbitrary<Model> => {
  const plain = fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.constantFrom(0, 53, 80, 443, 8080));
  if (m.clean) return plain;
  return fc.oneof(
    { weight: 8, arbitrary: plain },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 65535 }).map((n) => String(n)) },
    { weight: 1, arbitrary: fc.constantFrom(new Num('80.0'), new Num('8e1'), new Num('-0'), new Num('0.5'), new Num('1E2'), new Num('4294967295'), new Num('4294967296'), new Num('99999999999999999999'), '080', '-1', '', 'http') },
  );
};
const uint32 = (m: Mode): fc.Arbitrary<Model> => (m.clean ? fc.oneof(fc.nat(), fc.integer({ min: 0, max: 12 }), fc.constant(16777217)) : fc.oneof(port(m), fc.nat(), fc.integer({ min: 0, max: 12 })));

const enumValue = (names: readonly string[], m: Mode, closed: boolean, maxNumber: number): fc.Arbitrary<Model> => {
  const known = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: closed ? names.length - 1 : maxNumber }) });
  if (m.clean) return closed ? known : fc.oneof(known, fc.constantFrom('TO_CRYPTO', 'FUTURE_VALUE'), fc.integer({ min: 0, max: 300 }));
  return fc.oneof({ weight: 6, arbitrary: known }, { weight: 1, arbitrary: fc.constantFrom('PERMITTED', 'forwarded', '', 'TO_CRYPTO', -1, 99, 2147483648, new Num('1.0'), true) });
};

/** Anything of the wrong type (the full parser decides). */
const wrong: fc.Arbitrary<Model> = fc.oneof(fc.constantFrom<Model>(true, false, 0, 'x', [], new Obj([]), [1], ['a', 1], [null]), fc.jsonValue({ maxDepth: 2 }).map(toModel));

function maybeWrong(arb: fc.Arbitrary<Model>, m: Mode): fc.Arbitrary<Model> {
  return m.clean ? arb : fc.oneof({ weight: 25, arbitrary: arb }, { weight: 1, arbitrary: wrong });
}

/**
 * One proto field: absent, under its proto or JSON name, null (unless `nulls` is false), or (odd
 * mode) under both names.
 */
function field(name: string, arb: fc.Arbitrary<Model>, m: Mode, presence = 0.8, nulls = true): fc.Arbitrary<Entries> {
  const json = jsonName(name);
  const value = nulls ? fc.oneof({ weight: 12, arbitrary: maybeWrong(arb, m) }, { weight: 1, arbitrary: fc.constant(null) }) : maybeWrong(arb, m);
  const spelled = json === name ? fc.constant(name) : fc.constantFrom(name, json);
  const present = fc.tuple(spelled, value).map(([k, v]): Entries => [[k, v]]);
  const options: fc.WeightedArbitrary<Entries>[] = [
    { weight: Math.round(presence * 20), arbitrary: present },
    { weight: Math.round((1 - presence) * 20) || 1, arbitrary: fc.constant([]) },
  ];
  if (!m.clean) {
    options.push({ weight: 1, arbitrary: fc.tuple(value, value).map(([a, b]): Entries => (json === name ? [[name, a], [name, b]] : [[name, a], [json, b]])) });
  }
  return fc.oneof(...options);
}

/**
 * Hubble field names of at most 6 characters, at any level: a random "unknown" field name must not
 * be one of them (`"IP": false` at the top of a line is a bare flow's IP field of the wrong type,
 * not an unknown field, and the line is no longer clean).
 */
const SHORT_FIELD_NAMES = new Set(['IP', 'l4', 'l7', 'time', 'flow', 'source', 'reply', 'dns', 'ips', 'query', 'rcode', 'kind', 'name', 'labels', 'type', 'TCP', 'UDP', 'SCTP', 'ICMPv4', 'ICMPv6']);

/** A message: its fields plus random unknown fields, as an Obj (the serializer shuffles it). */
function message(fields: readonly fc.Arbitrary<Entries>[], extra = true): fc.Arbitrary<Model> {
  const randomName = fc.string({ maxLength: 6 }).filter((k) => !SHORT_FIELD_NAMES.has(k));
  const unknown = extra
    ? fc.array(fc.tuple(fc.oneof(fc.constantFrom('uuid', 'Summary', 'ethernet', 'ID', 'flags', 'node_labels', '__proto__', 'constructor', 'IPv4'), randomName), fc.jsonValue({ maxDepth: 3 }).map(toModel)), { maxLength: 3 })
    : fc.constant([]);
  return fc.tuple(fc.tuple(...fields), unknown).map(([fs, un]) => new Obj([...fs.flat(), ...un.map(([k, v]) => [k, v] as const)]));
}

const list = (arb: fc.Arbitrary<Model>, max = 6): fc.Arbitrary<Model> => fc.array(arb, { maxLength: max });

function endpoint(m: Mode): fc.Arbitrary<Model> {
  return message([
    field('ID', fc.nat(4000), m, 0.5),
    field('identity', uint32(m), m),
    field('namespace', k8sName, m),
    field('labels', list(m.clean ? labelValue : maybeWrong(labelValue, m), 12), m),
    field('pod_name', k8sName, m),
    field('workloads', list(message([field('name', k8sName, m), field('kind', fc.constantFrom('Deployment', 'StatefulSet', 'DaemonSet', 'Job', ''), m)], false), 2), m),
  ]);
}

const VERDICT_NAMES = ['VERDICT_UNKNOWN', 'FORWARDED', 'DROPPED', 'ERROR', 'AUDIT', 'REDIRECTED', 'TRACED', 'TRANSLATED'];

function flow(m: Mode): fc.Arbitrary<Model> {
  const ports = message([field('source_port', port(m), m), field('destination_port', port(m), m), field('flags', fc.constant(new Obj([['SYN', true]])), m, 0.3)]);
  const l4 = m.clean
    ? fc.oneof(
        { weight: 10, arbitrary: fc.constantFrom('TCP', 'UDP', 'SCTP').chain((p) => ports.map((v) => new Obj([[p, v]]))) },
        { weight: 3, arbitrary: fc.constantFrom('ICMPv4', 'ICMPv6').map((p) => new Obj([[p, new Obj([['type', 8]])]])) },
        { weight: 1, arbitrary: fc.constant(new Obj([])) },
      )
    : message([field('TCP', ports, m, 0.4), field('UDP', ports, m, 0.2), field('SCTP', ports, m, 0.1), field('ICMPv4', message([field('type', fc.nat(20), m)]), m, 0.1), field('ICMPv6', message([]), m, 0.1)]);
  const dns = message([field('query', fc.oneof(text, fc.constantFrom('API.Example.com.', '.', '', 'example.org')), m), field('ips', list(ip(m), 4), m), field('rcode', fc.nat(5), m, 0.3)]);
  return message([
    field('time', m.clean ? validTimestamp : fc.oneof(validTimestamp, oddTimestamp), m, 0.95, !m.clean),
    field('verdict', enumValue(VERDICT_NAMES, m, true, 7), m),
    field('drop_reason', uint32(m), m, 0.2),
    field('drop_reason_desc', enumValue(['DROP_REASON_UNKNOWN', 'POLICY_DENIED', 'POLICY_DENY', 'CT_MAP_INSERTION_FAILED'], m, false, 210), m, 0.3),
    field('IP', message([field('source', ip(m), m, 0.97, !m.clean), field('destination', ip(m), m, 0.97, !m.clean), field('ipVersion', fc.constantFrom('IPv4', 'IPv6'), m, 0.5)]), m, 0.97, !m.clean),
    field('l4', l4, m, 0.95, !m.clean),
    field('source', endpoint(m), m),
    field('destination', endpoint(m), m),
    field('Type', fc.constantFrom('L3_L4', 'L7', 'SOCK'), m, 0.5),
    field('node_name', text, m),
    field('destination_names', list(text, 3), m, 0.3),
    field('source_names', list(text, 3), m, 0.2),
    field('l7', message([field('type', fc.constantFrom('REQUEST', 'RESPONSE'), m), field('dns', dns, m, 0.8)]), m, 0.3),
    field('reply', fc.boolean(), m, 0.3),
    field('is_reply', fc.boolean(), m, 0.7),
    field('traffic_direction', enumValue(['TRAFFIC_DIRECTION_UNKNOWN', 'INGRESS', 'EGRESS'], m, true, 2), m),
    field('trace_observation_point', enumValue(['UNKNOWN_POINT', 'TO_PROXY', 'TO_STACK', 'TO_ENDPOINT', 'FROM_ENDPOINT', 'TO_OVERLAY'], m, false, 101), m),
    field('event_type', fc.constant(new Obj([['type', 4], ['sub_type', 3]])), m, 0.5),
  ]);
}

function line(m: Mode): fc.Arbitrary<Model> {
  const envelopeExtras = [field('node_name', text, m, 0.7), field('time', m.clean ? validTimestamp : fc.oneof(validTimestamp, oddTimestamp), m, 0.7)];
  const lost = message([field('source', enumValue(['UNKNOWN_LOST_EVENT_SOURCE', 'PERF_EVENT_RING_BUFFER', 'HUBBLE_RING_BUFFER'], m, false, 3), m), field('num_events_lost', m.clean ? fc.oneof(fc.nat(), fc.nat().map(String)) : fc.oneof(fc.nat().map(String), fc.constantFrom('18446744073709551615', '18446744073709551616', '9007199254740993', '-1', '01')), m), field('cpu', fc.nat(64), m, 0.5)]);
  const nodeStatus = message([field('state_change', enumValue(['NODE_CONNECTED', 'NODE_UNAVAILABLE', 'NODE_GONE'], m, false, 4), m), field('node_names', list(text, 3), m), field('message', text, m)]);
  const agent = message([field('type', enumValue(['AGENT_STARTED', 'POLICY_UPDATED', 'ENDPOINT_CREATED'], m, false, 12), m), field('endpoint_update', fc.jsonValue({ maxDepth: 2 }).map(toModel), m, 0.5)]);
  const debug = message([field('type', fc.constantFrom('DBG_CT_LOOKUP4_1', 'DBG_GENERIC'), m), field('message', text, m)]);
  const envelope = (member: string, arb: fc.Arbitrary<Model>) => message([field(member, arb, m, 1, !m.clean), ...envelopeExtras]);
  const options: fc.Arbitrary<Model>[] = [
    envelope('flow', flow(m)),
    envelope('flow', flow(m)),
    envelope('flow', flow(m)),
    flow(m), // a bare flow
    envelope('lost_events', lost),
    envelope('node_status', nodeStatus),
    envelope('agent_event', agent),
    envelope('debug_event', debug),
  ];
  if (!m.clean) {
    options.push(
      message([field('flow', flow(m), m), field('lost_events', lost, m), field('agent_event', agent, m), field('debug_event', debug, m), ...envelopeExtras]),
      fc.jsonValue({ maxDepth: 3 }).map(toModel),
    );
  }
  return fc.oneof(...options);
}

const style: fc.Arbitrary<Style> = fc.record({ shuffle: fc.boolean(), whitespace: fc.boolean(), escapes: fc.boolean() });
const serialized = (m: Mode) => fc.tuple(line(m), fc.nat(), style).map(([model, seed, st]) => serialize(model, seed, st));

/** The contract: same result for the string and for its bytes, deep-equal. */
function expectSame(text: string): void {
  const full = parseHubbleLine(text);
  expect(scanHubbleLine(text)).toEqual(full);
  const bytes = Buffer.from(text, 'utf8');
  expect(scanHubbleLine(bytes)).toEqual(parseHubbleLine(bytes));
}

const RUNS = Number(process.env.HUBBLE_FC_RUNS ?? 400);

describe('fast path ≡ full parser (property)', () => {
  it('on generated valid lines (random key order, whitespace, escapes, aliases, unknown fields), deciding them itself', () => {
    const kinds = new Map<string, number>();
    fc.assert(
      fc.property(serialized({ clean: true }), (text) => {
        const bytes = Buffer.from(text, 'utf8');
        const outcome = scanHubbleBytesOutcome(bytes, 0, bytes.length);
        expect(outcome.result).toEqual(parseHubbleLine(text));
        expect(outcome.fast).toBe(true);
        const kind = outcome.result.kind === 'skip' ? `skip:${outcome.result.reason}` : outcome.result.kind;
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      }),
      { numRuns: RUNS },
    );
    // The generator must make real flows in good number, not mostly lines the builder rejects.
    // About a third of its lines are flows; 20% leaves room for chance (a CI run once saw 29%)
    // while a generator that stopped making flows still fails.
    expect(kinds.get('flow') ?? 0).toBeGreaterThan(RUNS * 0.2);
    for (const kind of ['lost-events', 'node-status', 'agent-event', 'debug-event']) expect(kinds.get(kind) ?? 0).toBeGreaterThan(0);
  });

  it('on lines with an LF between tokens (possible only through the string API): the full parser decides them', () => {
    fc.assert(
      fc.property(serialized({ clean: true }), (text) => {
        for (const withLf of [`{\n${text.slice(1)}`, `${text.slice(0, -1)}\n}`, `${text}\n`]) {
          const bytes = Buffer.from(withLf, 'utf8');
          const outcome = scanHubbleBytesOutcome(bytes, 0, bytes.length);
          expect(outcome.result).toEqual(parseHubbleLine(withLf));
          expect(outcome.fast).toBe(false);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('on generated lines with odd and invalid values (wrong types, nulls, quoted numbers, duplicate fields, oneof clashes)', () => {
    fc.assert(fc.property(serialized({ clean: false }), expectSame), { numRuns: RUNS });
  });

  it('on mutated lines (deleted, inserted, replaced characters; truncation)', () => {
    const mutation = fc.tuple(fc.constantFrom('delete', 'insert', 'replace', 'truncate', 'duplicate'), fc.nat(), fc.nat(), fc.constantFrom(...'{}[]":,\\ 0123456789-+.eEtrufalsn/u\u0000\u001f\u00e9\u2028\ud83d'.split('')));
    const mutated = fc.tuple(serialized({ clean: true }), fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([text, ms]): [string, string] => {
      let s = text;
      for (const [kind, a, b, ch] of ms) {
        const i = s.length === 0 ? 0 : a % s.length;
        const j = Math.min(s.length, i + 1 + (b % 16));
        if (kind === 'delete') s = s.slice(0, i) + s.slice(j);
        else if (kind === 'insert') s = s.slice(0, i) + ch + s.slice(i);
        else if (kind === 'replace') s = s.slice(0, i) + ch + s.slice(i + 1);
        else if (kind === 'truncate') s = s.slice(0, i);
        else s = s.slice(0, j) + s.slice(i, j) + s.slice(j);
      }
      return [text, s];
    });
    fc.assert(
      fc.property(mutated, ([original, text]) => {
        // Scan the original first: its endpoints are then in the scanner's endpoint cache, and the
        // mutated line's endpoints (same prefix, different bytes) must not be mistaken for them.
        scanHubbleLine(original);
        expectSame(text);
      }),
      { numRuns: RUNS },
    );
  });

  it('finds where a line ends while scanning it (takeScannedLine): the first LF, and the line parsed as on its own', () => {
    // A line (valid, mutated, CRLF, trailing blanks) with the next line after it, sometimes cut
    // before its LF: takeScannedLine either declines, or reports the first LF and the result of the line
    // parsed alone. Valid lines that start with `{` it must decide itself.
    const edit = fc.tuple(fc.nat(), fc.constantFrom('', '\r', ' ', '\n', '}', '"', '\u0000'));
    const next = fc.constantFrom('', '{"flow":{}}', '\n', 'x"}\n');
    fc.assert(
      fc.property(serialized({ clean: true }), fc.option(edit), fc.constantFrom('', '\r', ' \t\r'), next, fc.boolean(), (text, mutation, tail, after, cut) => {
        let line = text;
        if (mutation !== null) {
          const at = mutation[0] % (line.length + 1);
          line = line.slice(0, at) + mutation[1] + line.slice(at);
        }
        const buf = Buffer.from(`${line}${tail}\n${after}`, 'utf8');
        const lf = buf.indexOf(0x0a);
        const limit = cut ? lf : buf.length;
        const delivered: ParseResult[] = [];
        const end = takeScannedLine(buf, 0, limit, (r) => delivered.push(r));
        if (end < 0) {
          expect(delivered).toEqual([]);
          expect(cut || mutation !== null || !line.startsWith('{')).toBe(true);
          return;
        }
        expect(cut).toBe(false);
        expect(end).toBe(lf);
        expect(delivered).toHaveLength(1);
        const result = delivered[0];
        const alone = buf.subarray(0, lf);
        expect(result).toEqual(parseHubbleLine(alone.at(-1) === 0x0d ? alone.subarray(0, -1) : alone));
      }),
      { numRuns: RUNS },
    );
  });

  it('on byte-level corruption (invalid UTF-8, NUL bytes) of valid lines', () => {
    const corrupt = fc.tuple(serialized({ clean: true }), fc.array(fc.tuple(fc.nat(), fc.constantFrom(0x00, 0x80, 0xbf, 0xc3, 0xe2, 0xed, 0xf0, 0xff, 0x22, 0x5c)), { minLength: 1, maxLength: 3 }));
    fc.assert(
      fc.property(corrupt, ([text, edits]) => {
        const bytes = Buffer.from(text, 'utf8');
        for (const [at, byte] of edits) if (bytes.length > 0) bytes[at % bytes.length] = byte;
        expect(scanHubbleLine(bytes)).toEqual(parseHubbleLine(bytes));
      }),
      { numRuns: RUNS },
    );
  });

  it('on garbage', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json()), expectSame), { numRuns: RUNS });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      expect(scanHubbleLine(bytes)).toEqual(parseHubbleLine(bytes));
    }), { numRuns: RUNS });
  });
});

describe('fast path edge cases', () => {
  const base = '{"flow":{"time":"2024-05-02T09:14:03Z","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"destination_port":80}}}}';
  const cases: readonly (readonly [string, string])[] = [
    ['escaped key', base.replace('"flow"', '"fl\\u006fw"')],
    ['escaped / in a skipped string', base.replace('}}}}', '}},"Summary":"a\\/b"}}')],
    ['lone surrogate escape in a kept string', base.replace('}}}}', '}},"node_name":"\\ud800"}}')],
    ['trailing garbage', `${base}x`],
    ['two values', `${base} {}`],
    ['deep nesting in an unknown field', base.replace('}}}}', `}},"x":${'['.repeat(200)}${']'.repeat(200)}}}`)],
    ['deep nesting unclosed', base.replace('}}}}', `}},"x":${'['.repeat(200)}}}`)],
    ['number with leading zero', base.replace(':80', ':080')],
    ['number with exponent', base.replace(':80', ':8e1')],
    ['negative zero port', base.replace(':80', ':-0')],
    ['key with raw tab', base.replace('"flow"', '"fl\tow"')],
    ['UTF-8 BOM', `\ufeff${base}`],
    ['null flow (bare object, no IP)', '{"flow":null}'],
    ['__proto__ field', base.replace('}}}}', '}},"__proto__":{"flow":1}}}')],
    ['uint64 beyond 2^53 as string', '{"lost_events":{"num_events_lost":"9007199254740993"}}'],
    ['uint64 beyond 2^64', '{"lost_events":{"num_events_lost":"18446744073709551616"}}'],
    ['enum as number', base.replace('"time"', '"verdict":2,"traffic_direction":1,"trace_observation_point":101,"time"')],
    ['unknown closed enum number', base.replace('"time"', '"verdict":8,"time"')],
    ['is_reply null, reply true', base.replace('"time"', '"is_reply":null,"reply":true,"time"')],
    ['denied by policies', base.replace('"time"', '"verdict":"DROPPED","drop_reason_desc":"POLICY_DENIED","egress_denied_by":[{"name":"hivewall-a","namespace":"shop","labels":["k8s:x=y"],"revision":"3"}],"ingressDeniedBy":[{"namespace":"shop"},{"name":"b"}],"time"')],
    ['denied_by null and empty', base.replace('"time"', '"egress_denied_by":null,"ingress_denied_by":[],"time"')],
    ['denied_by not an array', base.replace('"time"', '"egress_denied_by":{"name":"x"},"time"')],
  ];
  for (const [name, text] of cases) it(name, () => expectSame(text));
});
