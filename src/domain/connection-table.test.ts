import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { connectionKey } from './connection-key.js';
import { ConnectionTable } from './connection-table.js';

type Tuple = readonly [string, number, string, number, string];

// Small alphabets so that tuples collide often; IPv4 ones take the numeric index, the rest the text one.
const ip = fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.11', '0.0.0.0', '255.255.255.255', '010.0.0.1', 'fd00::1', '1.2.3', '');
const port = fc.oneof(fc.constantFrom(0, 1, 80, 32_768, 65_535), fc.constantFrom(65_536, -1, 1.5));
const protocol = fc.constantFrom('TCP', 'UDP', 'ICMPv6', 'GRE');
const tuple = fc.tuple(ip, port, ip, port, protocol);
/** A few tuples, most of them one field away from the first, so that near-identical ones follow each other. */
const tuples: fc.Arbitrary<Tuple[]> = fc.tuple(tuple, fc.array(fc.tuple(fc.nat(4), tuple), { maxLength: 7 })).map(([base, variants]) => [
  base,
  ...variants.map(([field, other]) => base.map((value, i) => (i === field ? other[i] : value)) as unknown as Tuple),
]);

type Op = { readonly op: 'add' | 'find' | 'delete' | 'deleteOldest'; readonly pick: number };
/** An operation on one tuple of a run's few (ops pick them by index, so the same tuples come back often). */
const op: fc.Arbitrary<Op> = fc.record({ op: fc.constantFrom('add', 'add', 'find', 'delete', 'deleteOldest'), pick: fc.nat() });

/** What the table replaces: a Map keyed by connection-key.ts's string, in insertion order. */
const keyOf = ([a, ap, b, bp, p]: Tuple) => connectionKey(a, ap, b, bp, p);

describe('ConnectionTable', () => {
  it('holds what a Map keyed by connectionKey holds, in the same order', () => {
    fc.assert(
      fc.property(tuples, fc.array(op, { maxLength: 300 }), (pool, ops) => {
        const table = new ConnectionTable<number>();
        const model = new Map<string, number>();
        ops.forEach(({ op: kind, pick }, i) => {
          const t = pool[pick % pool.length]!;
          const key = keyOf(t);
          const found = table.find(...t);
          expect(found >= 0).toBe(model.has(key));
          if (found >= 0) expect(table.value(found)).toBe(model.get(key));
          if (kind === 'add' && found < 0) {
            table.add(...t, i);
            model.set(key, i);
          } else if (kind === 'delete' && found >= 0) {
            table.delete(found);
            model.delete(key);
          } else if (kind === 'deleteOldest' && table.first >= 0) {
            table.delete(table.first);
            model.delete(model.keys().next().value!);
          }
          const order: number[] = [];
          for (let r = table.first; r >= 0; r = table.after(r)) order.push(table.value(r));
          expect(order).toEqual([...model.values()]);
          expect(table.size).toBe(model.size);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('finds every IPv4 5-tuple among many after deletions shift the index back', () => {
    const table = new ConnectionTable<number>();
    const at = (i: number): Tuple => [`10.${(i >> 8) & 255}.${i & 255}.1`, 1000 + (i % 7), '10.0.0.1', 80, i % 3 === 0 ? 'UDP' : 'TCP'];
    for (let i = 0; i < 5000; i++) table.add(...at(i), i);
    for (let i = 0; i < 5000; i += 3) table.delete(table.find(...at(i)));
    for (let i = 0; i < 5000; i++) expect(table.find(...at(i))).toSatisfy((r: number) => (i % 3 === 0 ? r < 0 : table.value(r) === i));
    expect(table.size).toBe(5000 - Math.ceil(5000 / 3));
  });
});
