/**
 * Least privilege, checked independently of the generator: the policies `hivewall learn` writes
 * for the bundled example are evaluated by the policy simulator (written from the Kubernetes and
 * Cilium documentation) against the example's ground truth (`examples/shop/expected/`, produced by
 * the example's generator from its traffic table, not from flows):
 * - no false deny: every connection that happened is allowed, from every pod of the client
 *   workload to every pod of the server workload;
 * - no over-permit: for every pod in a segmented namespace, every other (peer, port, protocol) in a
 *   wide universe is denied on that pod's side, unless the CR's allowances explain it (DNS on
 *   53/UDP+TCP to the DNS server the workload used; public ingress to a LoadBalancer's serving
 *   port; host traffic, which NetworkPolicy cannot block).
 * Hubble and conntrack+snapshot inputs must give the same NetworkPolicies.
 */
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { loadAll } from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/main.js';
import { buildClusterModel, createEvaluator, type ClusterModel, type Connection, type Peer as SimPeer, type Policy } from '../domain/simulate/index.js';

const EXAMPLE = new URL('../../examples/shop/', import.meta.url).pathname;
const SEGMENTED = ['logging', 'monitoring', 'payments', 'shop'];
/** The external names of the example's scenario, for Cilium toFQDNs. */
const DNS_NAMES: Record<string, string[]> = {
  '198.51.100.77': ['api.frankfurter.example'],
  '203.0.113.50': ['api.stripe.example'],
  '192.0.2.50': ['logs.example.net'],
};

type WorkloadId = { namespace: string; kind: string; name: string };
type Side = WorkloadId | { entity: 'world' | 'host' | 'kube-apiserver' | 'remote-node'; ip?: string };
interface ExpectedConnection {
  client: Side;
  server: Side;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string; ownerReferences?: { kind: string; name: string; controller?: boolean }[] };
  status?: { phase?: string; podIP?: string };
  spec?: { nodeName?: string };
}

async function runLearn(args: string[]): Promise<void> {
  const out = new PassThrough();
  const err = new PassThrough();
  let errText = '';
  err.on('data', (c) => (errText += c));
  const code = await main(args, { stdout: out, stderr: err, stdin: Readable.from([]) });
  if (code !== 0) throw new Error(`hivewall ${args.join(' ')} exited ${code}: ${errText}`);
}

async function readPolicies(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const ns of (await readdir(dir)).sort()) {
    for (const f of (await readdir(join(dir, ns))).sort()) files.set(`${ns}/${f}`, await readFile(join(dir, ns, f), 'utf8'));
  }
  return files;
}

function policiesOf(files: Map<string, string>): Policy[] {
  return [...files].filter(([name]) => !name.endsWith('kustomization.yaml')).map(([, text]) => loadAll(text)[0] as Policy);
}

/** Ownership walk written for this test: Pod → ReplicaSet → Deployment, Job → CronJob, else the controller. */
function topOwner(pod: K8sObject, objects: Map<string, K8sObject>): WorkloadId {
  let kind = 'Pod';
  let name = pod.metadata.name;
  let refs = pod.metadata.ownerReferences;
  const ns = pod.metadata.namespace!;
  for (let i = 0; i < 4; i++) {
    const ref = refs?.find((r) => r.controller);
    if (!ref) break;
    kind = ref.kind;
    name = ref.name;
    refs = objects.get(`${ns}/${kind}/${name}`)?.metadata.ownerReferences;
  }
  return { namespace: ns, kind, name };
}

/**
 * Allowed because of the policies (or their absence), not because NetworkPolicy cannot block it:
 * a pod's own node always reaches it, and a pod always reaches itself.
 */
const byPolicy = (v: { allowed: boolean; basis: string }) => v.allowed && v.basis !== 'node-traffic' && v.basis !== 'self';
const wid = (w: WorkloadId) => `${w.namespace}/${w.kind}/${w.name}`;
const isWorkload = (s: Side): s is WorkloadId => 'namespace' in s;

let hubbleFiles: Map<string, string>;
let conntrackFiles: Map<string, string>;
let ciliumFiles: Map<string, string>;
let cluster: ClusterModel;
let podsByWorkload: Map<string, { namespace: string; name: string; nodeName?: string }[]>;
let workloadOfPod: Map<string, string>;
let nodeIps: Map<string, string>;
let expected: ExpectedConnection[];

beforeAll(async () => {
  const out = await mkdtemp(join(tmpdir(), 'hivewall-lp-'));
  const snapshotDir = join(EXAMPLE, 'cluster');
  await runLearn(['learn', '--flows', join(EXAMPLE, 'flows.hubble.jsonl'), '--cluster', snapshotDir, '--out', join(out, 'hubble'), '-q']);
  const conntrack = (await readdir(join(EXAMPLE, 'conntrack'))).sort().flatMap((f) => ['--flows', join(EXAMPLE, 'conntrack', f)]);
  await runLearn(['learn', ...conntrack, '--cluster', snapshotDir, '--out', join(out, 'conntrack'), '-q']);
  await runLearn(['learn', '--flows', join(EXAMPLE, 'flows.hubble.jsonl'), '--cluster', snapshotDir, '--flavor', 'cilium', '--out', join(out, 'cilium'), '-q']);
  hubbleFiles = await readPolicies(join(out, 'hubble'));
  conntrackFiles = await readPolicies(join(out, 'conntrack'));
  ciliumFiles = await readPolicies(join(out, 'cilium'));

  // Both snapshots: the replaced pod and its replacement are both real pods of the workload.
  const items: K8sObject[] = [];
  for (const f of (await readdir(snapshotDir)).sort()) {
    for (const doc of loadAll(await readFile(join(snapshotDir, f), 'utf8')) as { items: K8sObject[] }[]) items.push(...doc.items);
  }
  const byKey = new Map(items.map((o) => [`${o.metadata.namespace ?? ''}/${o.kind}/${o.metadata.name}`, o]));
  // A completed Job pod is still the workload that made the connections: evaluate it as running.
  const pods = [...byKey.values()].filter((o) => o.kind === 'Pod').map((p) => ({ ...p, status: { ...p.status, phase: 'Running' } }));
  cluster = buildClusterModel([...[...byKey.values()].filter((o) => o.kind !== 'Pod'), ...pods]);
  podsByWorkload = new Map();
  workloadOfPod = new Map();
  for (const pod of pods) {
    const w = wid(topOwner(pod, byKey));
    podsByWorkload.set(w, [...(podsByWorkload.get(w) ?? []), { namespace: pod.metadata.namespace!, name: pod.metadata.name, ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}) }]);
    workloadOfPod.set(`${pod.metadata.namespace}/${pod.metadata.name}`, w);
  }
  nodeIps = new Map(cluster.nodes.map((n) => [n.name, n.internalIPs[0]!]));
  expected = JSON.parse(await readFile(join(EXAMPLE, 'expected', 'connections.json'), 'utf8')) as ExpectedConnection[];
});

/** Concrete simulator peers for one side of a ground-truth connection. */
function concrete(side: Side, otherPods: { nodeName?: string }[]): SimPeer[] {
  if (isWorkload(side)) return (podsByWorkload.get(wid(side)) ?? []).map((p) => ({ kind: 'pod', namespace: p.namespace, name: p.name }));
  if (side.entity === 'host') return [...new Set(otherPods.map((p) => p.nodeName))].map((n) => ({ kind: 'ip', ip: nodeIps.get(n!)!, entity: 'host' }));
  return [{ kind: 'ip', ip: side.ip!, entity: side.entity, ...(DNS_NAMES[side.ip!] ? { dnsNames: DNS_NAMES[side.ip!] } : {}) }];
}

describe.each([
  ['NetworkPolicy from Hubble flows', () => hubbleFiles],
  ['NetworkPolicy from conntrack + snapshot', () => conntrackFiles],
  ['CiliumNetworkPolicy from Hubble flows', () => ciliumFiles],
])('%s', (_name, files) => {
  it('allows every connection that happened (no false deny)', () => {
    const evaluator = createEvaluator(cluster, policiesOf(files()), { networkPolicyEnforcer: _name.startsWith('Cilium') ? 'cilium' : 'generic' });
    expect(expected.length).toBeGreaterThan(20);
    const denied: string[] = [];
    for (const c of expected) {
      const servers = concrete(c.server, []);
      const clients = concrete(c.client, isWorkload(c.server) ? podsByWorkload.get(wid(c.server)) ?? [] : []);
      expect(servers.length, `no pod for ${JSON.stringify(c.server)}`).toBeGreaterThan(0);
      expect(clients.length, `no pod for ${JSON.stringify(c.client)}`).toBeGreaterThan(0);
      for (const source of clients) {
        for (const destination of servers) {
          const r = evaluator.evaluate({ source, destination, port: c.port, protocol: c.protocol });
          if (!r.allowed) denied.push(`${JSON.stringify(source)} -> ${JSON.stringify(destination)} ${c.port}/${c.protocol}: ${r.reason}`);
        }
      }
    }
    expect(denied).toEqual([]);
  });
});

describe('NetworkPolicy over-permit check', () => {
  /** What each side may do: truth plus the allowances. */
  function allowedSets() {
    const egress = new Map<string, Set<string>>();
    const ingress = new Map<string, Set<string>>();
    const add = (m: Map<string, Set<string>>, k: string, v: string) => m.set(k, (m.get(k) ?? new Set()).add(v));
    const sideKey = (s: Side) => (isWorkload(s) ? wid(s) : `${s.entity}${s.entity === 'host' ? '' : ` ${s.ip}`}`);
    for (const c of expected) {
      add(egress, sideKey(c.client), `${sideKey(c.server)} ${c.port}/${c.protocol}`);
      add(ingress, sideKey(c.server), `${sideKey(c.client)} ${c.port}/${c.protocol}`);
      // Allowance: DNS keeps working on both protocols.
      if (c.port === 53) for (const p of ['UDP', 'TCP']) add(egress, sideKey(c.client), `${sideKey(c.server)} 53/${p}`);
    }
    return { egress, ingress, sideKey };
  }

  it('denies everything else from and to every segmented pod', () => {
    const evaluator = createEvaluator(cluster, policiesOf(hubbleFiles));
    const { egress, ingress } = allowedSets();
    const publicPorts = new Set(['shop/Deployment/frontend 8080/TCP']);
    const pods = cluster.pods.map((p) => ({ peer: { kind: 'pod' as const, namespace: p.namespace, name: p.name }, key: workloadOfPod.get(`${p.namespace}/${p.name}`)!, ns: p.namespace }));
    const worldIps = [...new Set(expected.flatMap((c) => [c.client, c.server]).filter((s) => !isWorkload(s) && s.entity === 'world').map((s) => (s as { ip: string }).ip)), '192.0.2.99'];
    const externals = [
      ...worldIps.map((ip) => ({ peer: { kind: 'ip' as const, ip, entity: 'world' as const, ...(DNS_NAMES[ip] ? { dnsNames: DNS_NAMES[ip] } : {}) }, key: `world ${ip}` })),
      { peer: { kind: 'ip' as const, ip: '172.18.0.2', entity: 'kube-apiserver' as const }, key: 'kube-apiserver 172.18.0.2' },
    ];
    const ports = [...new Set([...expected.map((c) => c.port), 22, 80, 443, 3306, 8000, 8443, 9153, 30080])].sort((a, b) => a - b);
    const protocols = ['TCP', 'UDP'] as const;
    const overPermits: string[] = [];
    let checked = 0;
    for (const src of [...pods, ...externals]) {
      for (const dst of [...pods, ...externals]) {
        if (src === dst || (!('ns' in src) && !('ns' in dst))) continue;
        for (const port of ports) {
          for (const protocol of protocols) {
            const conn: Connection = { source: src.peer, destination: dst.peer, port, protocol };
            const r = evaluator.evaluate(conn);
            checked++;
            const what = `${port}/${protocol}`;
            if ('ns' in src && SEGMENTED.includes(src.ns) && byPolicy(r.egress) && !egress.get(src.key)?.has(`${dst.key} ${what}`) ) {
              overPermits.push(`egress ${src.key} -> ${dst.key} ${what} (${r.egress.allowedBy.join(', ')})`);
            }
            if ('ns' in dst && SEGMENTED.includes(dst.ns) && byPolicy(r.ingress) && !ingress.get(dst.key)?.has(`${src.key} ${what}`)) {
              // Public ingress is every address outside the pod network (LoadBalancer traffic may arrive from node addresses).
              const isPublic = !('ns' in src) && publicPorts.has(`${dst.key} ${what}`);
              if (!isPublic) overPermits.push(`ingress ${src.key} -> ${dst.key} ${what} (${r.ingress.allowedBy.join(', ')})`);
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(10_000);
    expect([...new Set(overPermits)]).toEqual([]);
  });
});

describe('sources agree', () => {
  it('Hubble and conntrack+snapshot give byte-identical NetworkPolicies', () => {
    expect([...conntrackFiles.keys()]).toEqual([...hubbleFiles.keys()]);
    for (const [name, text] of hubbleFiles) expect(conntrackFiles.get(name), name).toBe(text);
  });
});
