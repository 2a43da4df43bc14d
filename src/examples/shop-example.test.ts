/**
 * The bundled example examples/shop/ is exactly what scripts/example-shop generates, and its
 * files agree with each other: valid JSON lines, every pod IP in the flows belongs to a pod of a
 * snapshot, every ground-truth connection is visible in the Hubble flows and in conntrack.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateShopExample } from '../../scripts/example-shop/main.js';

const COMMITTED = fileURLToPath(new URL('../../examples/shop', import.meta.url));
/** Written by hand, not by the generator. */
const HANDWRITTEN = new Set(['README.md', '.gitignore']);
const GZ = 'hubble-export/hubble-2026-11-02T10-30-00.000.log.gz';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function listFiles(root: string, dir = root): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(root, path)));
    else out.push(relative(root, path));
  }
  return out.sort();
}

const text = (rel: string) => readFile(join(COMMITTED, rel), 'utf8');
const jsonLines = (s: string): Obj[] => s.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Obj);

let tmp: string;
let flows: Obj[];
let snapshots: Obj[][];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'hivewall-shop-'));
  await generateShopExample(tmp);
  flows = jsonLines(await text('flows.hubble.jsonl'));
  snapshots = await Promise.all(['cluster/snapshot-start.yaml', 'cluster/snapshot-end.yaml'].map(async (f) => {
    const docs = loadAll(await text(f)) as Obj[];
    return (docs[0] as Obj)['items'] as Obj[];
  }));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('examples/shop', () => {
  it('is byte-identical to a fresh run of the generator', async () => {
    const committed = (await listFiles(COMMITTED)).filter((f) => !HANDWRITTEN.has(f));
    const fresh = await listFiles(tmp);
    expect(committed).toEqual(fresh);
    for (const rel of fresh) {
      const [a, b] = await Promise.all([readFile(join(COMMITTED, rel)), readFile(join(tmp, rel))]);
      // A .gz is compared by content: deflate output may differ between zlib builds (SIMD paths).
      if (rel.endsWith('.gz')) expect(gunzipSync(a).equals(gunzipSync(b)), rel).toBe(true);
      else expect(a.equals(b), rel).toBe(true);
    }
  });

  it('has valid JSON on every line, and the exporter files are the two halves of the stream', async () => {
    const all = await text('flows.hubble.jsonl');
    expect(flows.length).toBeGreaterThan(1000);
    for (const line of all.split('\n').filter((l) => l !== '')) expect(() => JSON.parse(line)).not.toThrow();
    const older = gunzipSync(await readFile(join(COMMITTED, GZ))).toString('utf8');
    expect(older + (await text('hubble-export/hubble.log'))).toBe(all);
    expect(flows.filter((f) => f['lost_events']).length).toBe(2);
    expect(flows.filter((f) => f['node_status']).length).toBe(1);
  });

  it('names only pod IPs that a snapshot has', () => {
    const podIps = new Set(snapshots.flat().filter((o) => o['kind'] === 'Pod').map((p) => p['status']['podIP'] as string));
    const inPodCidr = /^10\.244\./;
    const seen = new Set<string>();
    for (const f of flows) {
      const ip = f['flow']?.['IP'];
      if (!ip) continue;
      for (const a of [ip['source'], ip['destination']]) if (inPodCidr.test(a)) seen.add(a);
    }
    expect(seen.size).toBeGreaterThan(20);
    for (const ip of seen) expect(podIps.has(ip), ip).toBe(true);
  });

  it('shows every ground-truth connection in the Hubble flows and in conntrack', async () => {
    const expected = JSON.parse(await text('expected/connections.json')) as Obj[];
    const denied = JSON.parse(await text('expected/denied.json')) as Obj[];
    expect(expected.length).toBeGreaterThan(40);
    expect(denied).toHaveLength(2);

    // Workload → pod IPs, through the ownerReferences of both snapshots.
    const items = snapshots.flat();
    const byUid = new Map(items.map((o) => [o['metadata']['uid'] as string, o]));
    /** Follows ownerReferences up to the top controller (Pod → ReplicaSet → Deployment, Pod → Job → CronJob, …). */
    const workloadOf = (pod: Obj): string => {
      let o = pod;
      for (;;) {
        const ref = (o['metadata']['ownerReferences'] as Obj[] | undefined)?.[0];
        if (!ref) return `${o['metadata']['namespace']}/${o['kind']}/${o['metadata']['name']}`;
        const owner = byUid.get(ref['uid'] as string);
        if (!owner) return `${o['metadata']['namespace']}/${ref['kind']}/${ref['name']}`;
        o = owner;
      }
    };
    const ipsOf = new Map<string, Set<string>>();
    const add = (key: string, ip: string) => ipsOf.set(key, (ipsOf.get(key) ?? new Set()).add(ip));
    for (const pod of items.filter((o) => o['kind'] === 'Pod')) add(workloadOf(pod), pod['status']['podIP']);
    for (const node of items.filter((o) => o['kind'] === 'Node')) {
      add('host', (node['status']['addresses'] as Obj[]).find((a) => a['type'] === 'InternalIP')?.['address']);
    }
    const ips = (party: Obj): Set<string> => {
      if (party['entity'] === 'host') return ipsOf.get('host') ?? new Set();
      if (party['entity']) return new Set([party['ip'] as string]);
      const set = ipsOf.get(`${party['namespace']}/${party['kind']}/${party['name']}`);
      expect(set, JSON.stringify(party)).toBeDefined();
      return set ?? new Set();
    };

    const hubble = flows.map((f) => f['flow']).filter((f): f is Obj => f !== undefined && f['Type'] === 'L3_L4' && f['is_reply'] === false && f['verdict'] === 'FORWARDED');
    const ctLines = (await Promise.all(['node-a', 'node-b', 'node-c'].map((n) => text(`conntrack/${n}.events`)))).join('').split('\n');
    const tuple = /(\[NEW\]) ipv4 +2 (tcp|udp) +\d+ \d+ (?:\w+ )?src=(\S+) dst=\S+ sport=\d+ dport=\d+ \[UNREPLIED\] src=(\S+) dst=\S+ sport=(\d+)/;
    const ct = ctLines.map((l) => tuple.exec(l)).filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ proto: (m[2] as string).toUpperCase(), src: m[3] as string, server: m[4] as string, port: Number(m[5]) }));

    for (const e of expected) {
      const label = JSON.stringify(e);
      const [client, server] = [ips(e['client']), ips(e['server'])];
      const inHubble = hubble.some((f) => {
        const l4 = f['l4'][e['protocol']];
        return l4 && client.has(f['IP']['source']) && server.has(f['IP']['destination']) && l4['destination_port'] === e['port'];
      });
      expect(inHubble, `Hubble: ${label}`).toBe(true);
      const inConntrack = ct.some((c) => c.proto === e['protocol'] && client.has(c.src) && server.has(c.server) && c.port === e['port']);
      expect(inConntrack, `conntrack: ${label}`).toBe(true);
    }
    for (const d of denied) {
      const [client, server] = [ips(d['client']), ips(d['server'])];
      const drops = flows.map((f) => f['flow']).filter((f) => f?.['verdict'] === 'DROPPED' && client.has(f['IP']['source']) && server.has(f['IP']['destination']));
      expect(drops.length, JSON.stringify(d)).toBe(d['syn_packets']);
      expect(drops.every((f) => f['drop_reason_desc'] === 'POLICY_DENIED')).toBe(true);
    }
  });
});
