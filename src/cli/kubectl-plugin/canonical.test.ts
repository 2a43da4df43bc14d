// canonicalPolicyOrder: objects whose keys arrive in any order (the API server sorts a custom
// resource's keys, returns a NetworkPolicy in Go struct order) render byte-identically to what
// `hivewall learn` writes; and the export writer on top of it is deterministic.
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { loadAll } from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesObject } from '../../domain/translate/networkpolicy.js';
import { toYaml } from '../../domain/translate/render.js';
import { main } from '../main.js';
import { canonicalPolicyOrder } from '../../domain/translate/canonical.js';
import { writeExport } from './export.js';
import { mulberry32 as random } from '../../../scripts/example-shop/rand.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/shop/', import.meta.url));
const GOLDEN = fileURLToPath(new URL('../../domain/translate/testdata/', import.meta.url));

/** `hivewall learn` on examples/shop: namespace → file name → bytes. */
async function learn(flavor: 'networkpolicy' | 'cilium'): Promise<{ out: string; files: Map<string, Map<string, string>> }> {
  const out = await mkdtemp(path.join(tmpdir(), `hivewall-canonical-${flavor}-`));
  const sink = new PassThrough();
  sink.resume();
  const code = await main(['learn', '--flows', path.join(EXAMPLE, 'flows.hubble.jsonl'), '--cluster', path.join(EXAMPLE, 'cluster'), '--flavor', flavor, '--out', out, '-q'],
    { stdout: sink, stderr: sink, stdin: Readable.from([]) });
  expect(code).toBe(0);
  const files = new Map<string, Map<string, string>>();
  for (const ns of (await readdir(out)).sort()) {
    const inNs = new Map<string, string>();
    for (const name of (await readdir(path.join(out, ns))).sort()) inNs.set(name, await readFile(path.join(out, ns, name), 'utf8'));
    files.set(ns, inNs);
  }
  return { out, files };
}


/** Every object's keys in a random order, at every depth (arrays keep their order). */
function shuffleKeys(value: unknown, next: () => number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, next));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  return Object.fromEntries(keys.map((k) => [k, shuffleKeys((value as Record<string, unknown>)[k], next)]));
}

/** Keys sorted at every depth: a custom resource as the API server returns it (Go's encoding/json). */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
}

/** A NetworkPolicy in the order the API server writes it (Go struct field order), with server-set metadata. */
function asServerReturnsNetworkPolicy(o: KubernetesObject): unknown {
  const spec = o['spec'] as { podSelector: unknown; policyTypes: unknown; ingress?: Record<string, unknown>[]; egress?: Record<string, unknown>[] };
  const peer = (p: Record<string, unknown>) => ({ ...(p['podSelector'] ? { podSelector: p['podSelector'] } : {}), ...(p['namespaceSelector'] ? { namespaceSelector: p['namespaceSelector'] } : {}), ...(p['ipBlock'] ? { ipBlock: p['ipBlock'] } : {}) });
  const rule = (key: 'from' | 'to') => (r: Record<string, unknown>) => ({ ports: r['ports'], [key]: (r[key] as Record<string, unknown>[]).map(peer) });
  return {
    kind: o.kind,
    apiVersion: o.apiVersion,
    metadata: { ...o.metadata, uid: '0b8b0d4e-1f7e-4b8e-9d7e-2a1c3e4f5a6b', resourceVersion: '4711', generation: 1 },
    spec: { podSelector: spec.podSelector, ...(spec.ingress ? { ingress: spec.ingress.map(rule('from')) } : {}), ...(spec.egress ? { egress: spec.egress.map(rule('to')) } : {}), policyTypes: spec.policyTypes },
  };
}

const learned: Record<string, Awaited<ReturnType<typeof learn>>> = {};
beforeAll(async () => {
  learned['networkpolicy'] = await learn('networkpolicy');
  learned['cilium'] = await learn('cilium');
});

/** Every learned policy (both flavors, every namespace) and the golden translator outputs (every peer kind). */
async function allPolicies(): Promise<{ name: string; text: string; object: KubernetesObject }[]> {
  const out: { name: string; text: string; object: KubernetesObject }[] = [];
  for (const [flavor, { files }] of Object.entries(learned)) {
    for (const [ns, inNs] of files) {
      for (const [name, text] of inNs) {
        if (name !== 'kustomization.yaml') out.push({ name: `${flavor} ${ns}/${name}`, text, object: loadAll(text)[0] as KubernetesObject });
      }
    }
  }
  for (const file of ['shop.networkpolicy.golden.yaml', 'shop.cilium.golden.yaml']) {
    (loadAll(await readFile(path.join(GOLDEN, file), 'utf8')) as KubernetesObject[]).forEach((object, i) => out.push({ name: `${file}#${i}`, text: toYaml(object), object }));
  }
  return out;
}

describe('canonicalPolicyOrder', () => {
  it('covers both flavors and every peer kind', async () => {
    const policies = await allPolicies();
    expect(policies.length).toBeGreaterThan(30);
    const yaml = policies.map((p) => p.text).join('');
    for (const key of ['namespaceSelector:', 'ipBlock:', 'except:', 'toFQDNs:', 'toCIDRSet:', 'toEntities:', 'rules:', 'endpointSelector:']) expect(yaml).toContain(key);
  });

  it('renders a shuffled-key object byte-identically to the hivewall learn output', async () => {
    const policies = await allPolicies();
    fc.assert(fc.property(fc.integer({ min: 0, max: policies.length - 1 }), fc.integer(), (i, seed) => {
      const { text, object } = policies[i]!;
      return toYaml(canonicalPolicyOrder(shuffleKeys(object, random(seed)))) === text;
    }), { numRuns: 400 });
    for (const { name, text, object } of policies) expect(toYaml(canonicalPolicyOrder(shuffleKeys(object, random(42)))), name).toBe(text);
  });

  it('undoes the API server\'s orders: sorted keys (custom resources), Go struct order (NetworkPolicy)', async () => {
    for (const { name, text, object } of await allPolicies()) {
      expect(toYaml(canonicalPolicyOrder(sortKeys(object))), name).toBe(text);
      if (object.kind === 'NetworkPolicy') {
        const server = canonicalPolicyOrder(asServerReturnsNetworkPolicy(object)) as { metadata: Record<string, unknown> };
        expect(Object.keys(server.metadata)).toEqual(['name', 'namespace', 'labels', ...(object.metadata['annotations'] ? ['annotations'] : []), 'generation', 'resourceVersion', 'uid']);
        const { uid: _uid, resourceVersion: _rv, generation: _g, ...metadata } = server.metadata;
        expect(toYaml({ ...server, metadata }), name).toBe(text);
      }
    }
  });

  it('keeps values and array order, sorts unknown keys, and leaves its input alone', () => {
    const input = {
      spec: { egress: [{ ports: [{ port: 53, protocol: 'UDP' }], to: [{ podSelector: {}, namespaceSelector: { matchExpressions: [{ values: ['a'], operator: 'In', key: 'k' }], matchLabels: { z: '1', a: '2' } } }] }], zeta: 1, alpha: 2, podSelector: {} },
      metadata: { annotations: { b: '1', a: '2' }, uid: 'u', name: 'web' },
      status: {},
      kind: 'NetworkPolicy',
      apiVersion: 'networking.k8s.io/v1',
    };
    const before = JSON.stringify(input);
    expect(toYaml(canonicalPolicyOrder(input))).toBe([
      'apiVersion: networking.k8s.io/v1',
      'kind: NetworkPolicy',
      'metadata:',
      '  name: web',
      '  annotations:',
      '    a: \'2\'',
      '    b: \'1\'',
      '  uid: u',
      'spec:',
      '  podSelector: {}',
      '  egress:',
      '    - to:',
      '        - namespaceSelector:',
      '            matchLabels:',
      '              a: \'2\'',
      '              z: \'1\'',
      '            matchExpressions:',
      '              - key: k',
      '                operator: In',
      '                values:',
      '                  - a',
      '          podSelector: {}',
      '      ports:',
      '        - protocol: UDP',
      '          port: 53',
      '  alpha: 2',
      '  zeta: 1',
      'status: {}',
      '',
    ].join('\n'));
    expect(JSON.stringify(input)).toBe(before);
    expect(canonicalPolicyOrder(null)).toBeNull();
    expect(canonicalPolicyOrder('x')).toBe('x');
  });
});

describe('export writer (canonical order + the learn writer)', () => {
  it('writes shuffled objects byte-identical to hivewall learn, and a second run writes nothing', async () => {
    const { files } = learned['networkpolicy']!;
    const shop = files.get('shop')!;
    const objects = [...shop].filter(([name]) => name !== 'kustomization.yaml').map(([, text], i) => shuffleKeys(loadAll(text)[0], random(i)) as KubernetesObject);
    const out = await mkdtemp(path.join(tmpdir(), 'hivewall-export-'));
    const first = await writeExport(out, 'shop', objects);
    expect(first.written.map((p) => path.basename(p))).toEqual([...shop.keys()]);
    for (const [name, text] of shop) expect(await readFile(path.join(out, 'shop', name), 'utf8'), name).toBe(text);
    const second = await writeExport(out, 'shop', objects.map((o, i) => shuffleKeys(o, random(1000 + i)) as KubernetesObject));
    expect(second).toEqual({ written: [], unchanged: first.written, removed: [] });
  });
});
