/**
 * Memory of the long-lived learning state and speed of policy generation.
 *
 * bytes_per_edge: retained heap per distinct edge in the EdgeStore (peers interned, typed
 *   counters), measured with forced GC; a string-keyed Map of objects over the same edges is
 *   measured in the same process as the baseline it replaces.
 * generate_2k_workloads_ms: graph → model → NetworkPolicy objects for 2,000 workloads and
 *   50,000 edges (median of several runs).
 */
import { EdgeStore } from '../src/domain/edge-store.js';
import { generatePolicies } from '../src/domain/generate.js';
import { IdentityResolver } from '../src/domain/identity.js';
import type { ClusterInventory, PodInfo } from '../src/domain/inventory.js';
import { Learner } from '../src/domain/learner.js';
import { workloadKey, type PeerKey } from '../src/domain/peer.js';

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 4; i++) g();
}

function heap(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

export interface LearnStateBench {
  readonly bytesPerEdge: number;
  readonly baselineMapBytesPerEdge: number;
  readonly generateMs: number;
  readonly generatedObjects: number;
}

/** 2,000 peers, `edges` distinct (client, server, port) edges among them. */
function edgeTriples(edges: number): [PeerKey, PeerKey, number][] {
  const peers = Array.from({ length: 2000 }, (_, i) => workloadKey(`ns-${i % 20}`, 'Deployment', `workload-${i}`));
  const out: [PeerKey, PeerKey, number][] = [];
  for (let i = 0; i < edges; i++) out.push([peers[i % 2000]!, peers[(i * 7919 + 13) % 2000]!, 1024 + Math.floor(i / 2000)]);
  return out;
}

export function measureBytesPerEdge(edges = 200_000): { bytesPerEdge: number; baselineMapBytesPerEdge: number } {
  const triples = edgeTriples(edges);
  const before = heap();
  const store = new EdgeStore();
  for (const [c, s, p] of triples) store.record(c, s, p, 'TCP', 1, 1);
  const after = heap();
  const map = new Map<string, { count: number; first: number; last: number }>();
  for (const [c, s, p] of triples) map.set(`${c}|${s}|${p}|TCP`, { count: 1, first: 1, last: 1 });
  const afterMap = heap();
  if (store.size !== edges || map.size !== edges) throw new Error('edge count mismatch');
  return { bytesPerEdge: (after - before) / edges, baselineMapBytesPerEdge: (afterMap - after) / edges };
}

/** A cluster of 2,000 Deployments (2 pods each) over 20 namespaces and 50,000 edges among them. */
export function measureGenerate(runs = 15): { generateMs: number; generatedObjects: number } {
  const pods: PodInfo[] = [];
  for (let w = 0; w < 2000; w++) {
    for (let r = 0; r < 2; r++) {
      const ip = `10.${(w >> 8) & 255}.${w & 255}.${r + 1}`;
      pods.push({
        namespace: `ns-${w % 20}`,
        name: `workload-${w}-6c9f7d8b5d-${r}`,
        labels: { 'app.kubernetes.io/name': `workload-${w}`, 'app.kubernetes.io/part-of': `app-${w % 50}`, 'pod-template-hash': '6c9f7d8b5d' },
        ips: [ip],
        hostNetwork: false,
        owners: [{ kind: 'ReplicaSet', name: `workload-${w}-6c9f7d8b5d`, controller: true }],
        ports: [],
      });
    }
  }
  const inventory: ClusterInventory = { namespaces: [], nodes: [], pods, controllers: [], services: [], endpointSlices: [] };
  const identity = new IdentityResolver(inventory);
  const learner = new Learner(identity);
  for (const [c, s, p] of edgeTriples(50_000)) learner.edges.record(c, s, p, 'TCP', 1);
  const times: number[] = [];
  let objects = 0;
  for (let i = 0; i < runs; i++) {
    gc();
    const t0 = performance.now();
    const result = generatePolicies(learner, identity, { flavor: 'networkpolicy' });
    times.push(performance.now() - t0);
    objects = result.namespaces.reduce((n, ns) => n + ns.objects.length, 0);
  }
  times.sort((a, b) => a - b);
  return { generateMs: times[Math.floor(times.length / 2)]!, generatedObjects: objects };
}

export function runLearnStateBench(): LearnStateBench {
  return { ...measureBytesPerEdge(), ...measureGenerate() };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = runLearnStateBench();
  console.log(`bytes_per_edge=${r.bytesPerEdge.toFixed(1)}`);
  console.log(`bytes_per_edge_string_map_baseline=${r.baselineMapBytesPerEdge.toFixed(1)}`);
  console.log(`generate_2k_workloads_ms=${r.generateMs.toFixed(1)}`);
  console.log(`generate_2k_workloads_objects=${r.generatedObjects}`);
}
