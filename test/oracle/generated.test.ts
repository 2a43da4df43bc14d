/**
 * The policies hivewall generates, judged by the CNIs' own engines: for examples/shop (the scenario
 * every e2e test replays — Hubble flows and conntrack + snapshot, NetworkPolicy and
 * CiliumNetworkPolicy), the oracle and the simulator must agree on every observed connection
 * (examples/shop/expected/connections.json, from every client pod to every server pod) and on a
 * seeded sample of unobserved ones. NetworkPolicies are also judged by Cilium's engine, as a Cilium
 * cluster would enforce them. Peers are given by address only: each engine classifies them from the
 * cluster model (the control-plane node 172.18.0.2 also serves the kube-apiserver).
 */
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { loadAll } from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../scripts/example-shop/rand.js';
import { main } from '../../src/cli/main.js';
import { buildClusterModel, type ClusterModel, type Connection, type EvaluateOptions, type Peer, type Policy } from '../../src/domain/simulate/index.js';
import { compareCases } from './differential.js';
import { buildOracles, type OracleName } from './oracle-process.js';

const EXAMPLE = new URL('../../examples/shop/', import.meta.url).pathname;
const KUBE_APISERVER = '172.18.0.2';
/** The example's outside names (toFQDNs selects by them). */
const DNS_NAMES: Record<string, string[]> = {
  '198.51.100.77': ['api.frankfurter.example'],
  '203.0.113.50': ['api.stripe.example'],
  '192.0.2.50': ['logs.example.net'],
};
const UNOBSERVED_SAMPLE = 4_000;

type Workload = { namespace: string; kind: string; name: string };
type Side = Workload | { entity: string; ip?: string };
interface Expected {
  client: Side;
  server: Side;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}
interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string; ownerReferences?: { kind: string; name: string; controller?: boolean }[] };
  status?: { phase?: string };
  spec?: { nodeName?: string };
}

async function learn(args: string[]): Promise<Policy[]> {
  const out = await mkdtemp(join(tmpdir(), 'hivewall-oracle-'));
  const sink = new PassThrough();
  sink.resume();
  const code = await main(['learn', ...args, '--cluster', join(EXAMPLE, 'cluster'), '--out', out, '-q'], { stdout: sink, stderr: sink, stdin: Readable.from([]) });
  if (code !== 0) throw new Error(`hivewall learn ${args.join(' ')} exited ${code}`);
  const policies: Policy[] = [];
  for (const ns of (await readdir(out)).sort()) {
    for (const f of (await readdir(join(out, ns))).sort()) {
      if (f !== 'kustomization.yaml') policies.push(loadAll(await readFile(join(out, ns, f), 'utf8'))[0] as Policy);
    }
  }
  return policies;
}

let oracles: Record<OracleName, string>;
let cluster: ClusterModel;
let observed: Connection[];
let unobserved: Connection[];
const generated = new Map<string, Policy[]>();

beforeAll(async () => {
  oracles = await buildOracles();
  const conntrack = (await readdir(join(EXAMPLE, 'conntrack'))).sort().flatMap((f) => ['--flows', join(EXAMPLE, 'conntrack', f)]);
  generated.set('networkpolicy-hubble', await learn(['--flows', join(EXAMPLE, 'flows.hubble.jsonl')]));
  generated.set('networkpolicy-conntrack', await learn(conntrack));
  generated.set('cilium-hubble', await learn(['--flows', join(EXAMPLE, 'flows.hubble.jsonl'), '--flavor', 'cilium']));

  const items: K8sObject[] = [];
  for (const f of (await readdir(join(EXAMPLE, 'cluster'))).sort()) {
    for (const doc of loadAll(await readFile(join(EXAMPLE, 'cluster', f), 'utf8')) as { items: K8sObject[] }[]) items.push(...doc.items);
  }
  const byKey = new Map(items.map((o) => [`${o.metadata.namespace ?? ''}/${o.kind}/${o.metadata.name}`, o]));
  // Both snapshots' pods are real pods of their workloads; a completed Job pod is judged as running.
  const pods = [...byKey.values()].filter((o) => o.kind === 'Pod').map((p) => ({ ...p, status: { ...p.status, phase: 'Running' } }));
  const model = buildClusterModel([...[...byKey.values()].filter((o) => o.kind !== 'Pod'), ...pods]);
  cluster = { ...model, kubeApiserverIPs: [KUBE_APISERVER] };

  const ownerOf = (pod: K8sObject): string => {
    let kind = 'Pod';
    let name = pod.metadata.name;
    let refs = pod.metadata.ownerReferences;
    for (let i = 0; i < 4; i++) {
      const ref = refs?.find((r) => r.controller);
      if (!ref) break;
      kind = ref.kind;
      name = ref.name;
      refs = byKey.get(`${pod.metadata.namespace}/${kind}/${name}`)?.metadata.ownerReferences;
    }
    return `${pod.metadata.namespace}/${kind}/${name}`;
  };
  const podsOf = new Map<string, { namespace: string; name: string; nodeName?: string }[]>();
  for (const pod of pods) {
    const key = ownerOf(pod);
    podsOf.set(key, [...(podsOf.get(key) ?? []), { namespace: pod.metadata.namespace!, name: pod.metadata.name, ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}) }]);
  }
  const nodeIp = new Map(cluster.nodes.map((n) => [n.name, n.internalIPs[0]!]));
  const ipPeer = (ip: string): Peer => ({ kind: 'ip', ip, ...(DNS_NAMES[ip] ? { dnsNames: DNS_NAMES[ip] } : {}) });
  const concrete = (side: Side, others: { nodeName?: string }[]): Peer[] => {
    if ('namespace' in side) return (podsOf.get(`${side.namespace}/${side.kind}/${side.name}`) ?? []).map((p) => ({ kind: 'pod', namespace: p.namespace, name: p.name }));
    if (side.entity === 'host') return [...new Set(others.map((p) => p.nodeName))].map((n) => ipPeer(nodeIp.get(n!)!));
    return [ipPeer(side.ip!)];
  };

  const expected = JSON.parse(await readFile(join(EXAMPLE, 'expected', 'connections.json'), 'utf8')) as Expected[];
  observed = [];
  for (const c of expected) {
    const servers = concrete(c.server, []);
    const clients = concrete(c.client, 'namespace' in c.server ? podsOf.get(`${c.server.namespace}/${c.server.kind}/${c.server.name}`) ?? [] : []);
    for (const source of clients) for (const destination of servers) observed.push({ source, destination, port: c.port, protocol: c.protocol });
  }

  // Unobserved: a seeded sample of (peer, peer, port, protocol) over every pod, node, outside address.
  const peers: Peer[] = [
    ...cluster.pods.map((p): Peer => ({ kind: 'pod', namespace: p.namespace, name: p.name })),
    ...cluster.nodes.map((n) => ipPeer(n.internalIPs[0]!)),
    ...Object.keys(DNS_NAMES).map(ipPeer),
    ipPeer('192.0.2.99'),
  ];
  const ports = [...new Set([...expected.map((c) => c.port), 22, 80, 443, 3306, 6443, 8000, 8443, 9153, 30080])];
  const seen = new Set(observed.map((c) => JSON.stringify(c)));
  const random = mulberry32(15);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  unobserved = [];
  while (unobserved.length < UNOBSERVED_SAMPLE) {
    const c: Connection = { source: pick(peers), destination: pick(peers), port: pick(ports), protocol: pick(['TCP', 'UDP'] as const) };
    if (c.source === c.destination || (c.source.kind !== 'pod' && c.destination.kind !== 'pod') || seen.has(JSON.stringify(c))) continue;
    unobserved.push(c);
  }
}, 40 * 60_000);

const runs: readonly [string, string, OracleName, EvaluateOptions][] = [
  ['NetworkPolicy from Hubble flows', 'networkpolicy-hubble', 'netpol-oracle', {}],
  ['NetworkPolicy from conntrack + snapshot', 'networkpolicy-conntrack', 'netpol-oracle', {}],
  ['CiliumNetworkPolicy from Hubble flows', 'cilium-hubble', 'cilium-oracle', { networkPolicyEnforcer: 'cilium' }],
  ['NetworkPolicy from Hubble flows, enforced by Cilium', 'networkpolicy-hubble', 'cilium-oracle', { networkPolicyEnforcer: 'cilium' }],
];

describe.each(runs)('%s', (_name, policiesKey, oracle, options) => {
  it.each([
    ['every observed connection', () => observed],
    [`${UNOBSERVED_SAMPLE} unobserved connections`, () => unobserved],
  ])('the engine and the simulator agree on %s', async (_what, connections) => {
    const policies = generated.get(policiesKey)!;
    expect(policies.length).toBeGreaterThan(4);
    const flavor = oracle === 'cilium-oracle' ? 'cilium' : 'networkpolicy';
    const report = await compareCases(flavor, oracles[oracle], [{ cluster, policies, connections: connections() }], 0, 0, options);
    expect(report.rejected).toEqual([]);
    expect(report.connections).toBe(connections().length);
    expect(report.disagreements.map((d) => `${JSON.stringify(d.connection)}: simulator ${d.simulator}, engine ${JSON.stringify(d.oracle)}; ${d.reason}`)).toEqual([]);
  }, 120_000);
});
