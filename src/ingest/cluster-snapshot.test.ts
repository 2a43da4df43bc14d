import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InventoryBuilder, loadClusterSnapshot, SnapshotError } from './cluster-snapshot.js';

const pod = (name: string, ip: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', uid: `uid-${name}`, labels: { app: 'cart' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'cart-6c9f7d8b5d', controller: true }], creationTimestamp: '2026-11-02T10:00:00Z' },
  spec: { nodeName: 'node-a', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }] },
  status: { podIP: ip, podIPs: [{ ip }] },
  ...extra,
});

describe('loadClusterSnapshot', () => {
  it('reads a List, multi-document YAML and a directory; counts bad objects without failing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hivewall-snap-'));
    await writeFile(join(dir, 'a.yaml'), `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [pod('cart-6c9f7d8b5d-aaaaa', '10.244.0.5'), { kind: 'Pod', metadata: {} }] })}\n`);
    await writeFile(join(dir, 'b.yaml'), `---\n${JSON.stringify(pod('cart-6c9f7d8b5d-bbbbb', '10.244.0.6'))}\n---\nkind: ConfigMap\nmetadata: {name: x}\n`);
    const snap = await loadClusterSnapshot(dir);
    expect(snap.inventory.pods.map((p) => p.name).sort()).toEqual(['cart-6c9f7d8b5d-aaaaa', 'cart-6c9f7d8b5d-bbbbb']);
    expect(snap.problems.map((p) => p.reason)).toEqual([expect.stringMatching(/metadata/), 'kind ConfigMap is not used for identity']);
  });

  it('keeps a pod that left between snapshots, with the time it was gone by', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hivewall-snap-'));
    const replacement = pod('cart-6c9f7d8b5d-new', '10.244.0.9', {});
    (replacement.metadata as { creationTimestamp: string }).creationTimestamp = '2026-11-02T10:30:05Z';
    await writeFile(join(dir, '1-start.yaml'), JSON.stringify({ kind: 'List', items: [pod('cart-6c9f7d8b5d-old', '10.244.0.5')] }));
    await writeFile(join(dir, '2-end.yaml'), JSON.stringify({ kind: 'List', items: [replacement] }));
    const snap = await loadClusterSnapshot(dir);
    const old = snap.inventory.pods.find((p) => p.name.endsWith('-old'))!;
    expect(old.deletedAt).toBe(Date.parse('2026-11-02T10:30:05Z'));
  });

  it('orders snapshots by their newest creationTimestamp, not by file name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hivewall-snap-'));
    const replacement = pod('cart-6c9f7d8b5d-new', '10.244.0.9', {});
    (replacement.metadata as { creationTimestamp: string }).creationTimestamp = '2026-11-02T10:30:05Z';
    // "end" sorts before "start": name order would take the later snapshot for the earlier one.
    await writeFile(join(dir, 'snapshot-end.yaml'), `kind: List\nitems:\n- ${JSON.stringify(replacement)}\n`);
    await writeFile(join(dir, 'snapshot-start.yaml'), JSON.stringify({ kind: 'List', items: [pod('cart-6c9f7d8b5d-old', '10.244.0.5')] }));
    const snap = await loadClusterSnapshot(dir);
    expect(snap.files.map((f) => f.slice(dir.length + 1))).toEqual(['snapshot-start.yaml', 'snapshot-end.yaml']);
    const byName = new Map(snap.inventory.pods.map((p) => [p.name, p]));
    expect(byName.get('cart-6c9f7d8b5d-old')?.deletedAt).toBe(Date.parse('2026-11-02T10:30:05Z'));
    expect(byName.get('cart-6c9f7d8b5d-new')?.deletedAt).toBeUndefined();
  });

  it.each([
    ['a missing path', '/nonexistent/snapshot.yaml', /no such file or directory/],
  ])('fails clearly for %s', async (_name, path, message) => {
    await expect(loadClusterSnapshot(path)).rejects.toThrow(SnapshotError);
    await expect(loadClusterSnapshot(path)).rejects.toThrow(message);
  });

  it('fails clearly for YAML that does not parse', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hivewall-snap-'));
    await writeFile(join(dir, 'bad.yaml'), 'items: [unclosed\n');
    await expect(loadClusterSnapshot(join(dir, 'bad.yaml'))).rejects.toThrow(/not valid YAML/);
  });

  it('refuses YAML aliases and files over the size cap, saying what was refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hivewall-snap-'));
    await writeFile(join(dir, 'alias.yaml'), 'x: &x {a: 1}\nkind: List\nitems: [*x]\n');
    await expect(loadClusterSnapshot(join(dir, 'alias.yaml'))).rejects.toThrow(/alias\.yaml: YAML aliases are not accepted in a cluster snapshot/);
    await writeFile(join(dir, 'big.yaml'), `kind: List\nitems: []\n${'#'.repeat(100)}\n`);
    await expect(loadClusterSnapshot(join(dir, 'big.yaml'), { maxBytes: 64 })).rejects.toThrow(/big\.yaml: \d+ bytes is more than the 64 bytes a snapshot may have; nothing was read/);
  });

  it.each([
    ['a namespace ..', { kind: 'Pod', metadata: { name: 'p', namespace: '..' } }, /metadata.namespace: not a DNS-1123 label/],
    ['a pod name with a slash', { kind: 'Pod', metadata: { name: 'a/b', namespace: 'shop' } }, /metadata.name: not a DNS-1123 subdomain/],
    ['an owner name climbing out', { kind: 'Pod', metadata: { name: 'p', namespace: 'shop', ownerReferences: [{ kind: 'ReplicaSet', name: '../../x' }] } }, /ownerReferences.0.name: not a DNS-1123 subdomain/],
    ['a label with an escape', { kind: 'Pod', metadata: { name: 'p', namespace: 'shop', labels: { app: 'x\u001b[2J' } } }, /label value/],
    ['a Deployment in namespace a/b', { kind: 'Deployment', metadata: { name: 'd', namespace: 'a/b' } }, /metadata.namespace: not a DNS-1123 label/],
  ])('skips an object with %s as a problem', (_name, object, reason) => {
    const builder = new InventoryBuilder();
    builder.addDocument(object, 'snap.yaml');
    expect(builder.problems).toHaveLength(1);
    expect(builder.problems[0]!.reason).toMatch(reason);
    expect(builder.build().pods).toEqual([]);
  });
});

describe('InventoryBuilder (property)', () => {
  it('never throws on arbitrary documents and keeps every valid pod', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.anything(), fc.record({ kind: fc.constantFrom('Pod', 'Service', 'Node', 'EndpointSlice', 'Deployment', 'List'), metadata: fc.anything(), spec: fc.anything(), status: fc.anything(), items: fc.anything() }))), (docs) => {
        const builder = new InventoryBuilder();
        builder.addDocument(pod('cart-6c9f7d8b5d-ok', '10.244.0.5'), 'x');
        for (const doc of docs) builder.addDocument(doc, 'x');
        const inventory = builder.build();
        expect(inventory.pods.some((p) => p.name === 'cart-6c9f7d8b5d-ok')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
