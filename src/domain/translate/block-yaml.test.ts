import fc from 'fast-check';
import { dump } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { blockYaml, DUMP_OPTIONS } from './block-yaml.js';
import { toYaml } from './render.js';

/** Characters YAML treats specially somewhere: indicators, quotes, blanks, breaks, escapes. */
const NASTY = [...'aZ09-_./:#?,[]{}&*!|>\'"%@` \t\r\\=~+<'].concat(['\n', '\u0085', '\u00a0', '\u2028', '\ufeff', '\u0000', '\u001b', 'é', '😀']);
const WORDS = ['true', 'False', 'NULL', 'null', '~', 'yes', 'no', 'on', 'off', 'y', 'n', '<<', '=', '0x1f', '0o17', '1e3', '.inf', '-.Inf', '.nan', '2026-12-06', '2026-12-06T10:00:00Z', '80', '-1', '+1', '1_000', '0.5', '', ' ', '- a', 'a: b', 'a #b', '#a', 'k8s:app', 'app.kubernetes.io/name', '10.0.0.0/8', '::1', 'fd00::/8'];

/** Names, label keys and addresses: the strings the fast writer decides itself (block-yaml.ts readsAsString). */
const PLAINISH = [...'abyYnNoOfFtTlLeExX0123456789_./:-'];
const NOT_STRING_WORDS = ['y', 'Y', 'yes', 'Yes', 'YES', 'n', 'N', 'no', 'No', 'NO', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE', 'on', 'On', 'ON', 'off', 'Off', 'OFF', 'null', 'Null', 'NULL', 'nULL', 'oN', 'yES'];

const scalarString = fc.oneof(
  fc.constantFrom(...WORDS, ...NOT_STRING_WORDS),
  fc.array(fc.constantFrom(...PLAINISH), { minLength: 1, maxLength: 10 }).map((cs) => cs.join('')),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255), fc.option(fc.nat(32))).map(([a, b, c, d, p]) => `${a}.${b}.${c}.${d}${p === null ? '' : `/${p}`}`),
  fc.array(fc.constantFrom(...NASTY), { maxLength: 8 }).map((cs) => cs.join('')),
  fc.string({ maxLength: 12 }),
);
const scalar = fc.oneof(scalarString, fc.integer({ min: -70000, max: 70000 }), fc.boolean(), fc.constant(null));

const { value: data } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('list'), tie('map')),
  list: fc.array(fc.oneof(tie('value'), fc.constant(undefined)), { maxLength: 4 }),
  map: fc.dictionary(scalarString, fc.oneof(tie('value'), fc.constant(undefined)), { maxKeys: 4 }),
}));

describe('blockYaml', () => {
  it('writes what js-yaml dump writes, or leaves the value to it', () => {
    let written = 0;
    fc.assert(
      fc.property(data, (value) => {
        const fast = blockYaml(value);
        if (fast === undefined) return;
        written++;
        expect(fast).toBe(dump(value, DUMP_OPTIONS));
      }),
      { numRuns: 3000 },
    );
    // The generator stays inside what the fast writer writes nearly always, so the check above bites.
    expect(written).toBeGreaterThan(2500);
  });

  it('writes a NetworkPolicy-shaped object as dump does', () => {
    const policy = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'hivewall-frontend', namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'hivewall' }, annotations: {} },
      spec: {
        podSelector: { matchLabels: { app: 'frontend' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }], ports: [{ port: 8080, protocol: 'TCP' }] }],
        egress: [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: {} }], ports: [{ port: 53, protocol: 'UDP' }, { port: '53', protocol: 'TCP' }] }],
        extra: [[], [[1, 2], { a: undefined }], undefined],
      },
    };
    expect(blockYaml(policy)).toBe(dump(policy, DUMP_OPTIONS));
    expect(blockYaml(policy)).toContain("      - port: '53'\n");
  });

  it.each([
    ['a multi-line string', { a: 'one\ntwo' }],
    ['a string starting a document marker', ['--- x']],
    ['a string starting an end marker', { a: '...' }],
    ['a fraction', { a: 0.5 }],
    ['minus zero', [-0]],
    ['an unsafe integer', [2 ** 60]],
    ['a Date', { at: new Date(0) }],
    ['a Map', new Map([['a', 1]])],
    ['a class instance', { a: new (class Point { x = 1 })() }],
    ['a key written longer than 1,024 characters', { [`${'x'.repeat(1023)}: `]: 1 }],
  ])('leaves %s to dump', (_name, value) => {
    expect(blockYaml(value)).toBeUndefined();
    // toYaml does what dump does with it, writing it or refusing it.
    const outcome = (render: () => string) => {
      try {
        return render();
      } catch (error) {
        return `threw ${(error as Error).message}`;
      }
    };
    expect(outcome(() => toYaml(value))).toBe(outcome(() => dump(value, DUMP_OPTIONS)));
  });

  it('writes objects without a prototype (as dump takes them) and sparse arrays as dump does', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, b: { c: ['x'] } });
    // eslint-disable-next-line no-sparse-arrays
    const value = { bare, sparse: [1, , 3] };
    expect(blockYaml(value)).toBe(dump(value, DUMP_OPTIONS));
    expect(blockYaml(value)).toContain('  - null\n');
  });

  it('writes a 1,024-character key as dump does', () => {
    const value = { ['k'.repeat(1024)]: 'v' };
    expect(blockYaml(value)).toBe(dump(value, DUMP_OPTIONS));
  });
});
