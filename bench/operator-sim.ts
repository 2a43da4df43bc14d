/**
 * The operator's per-namespace planning at a size no test control plane holds: an in-memory
 * cluster of `namespaces` namespaces (Deployments of 3 pods, a ReplicaSet and a Service each),
 * the identity indexes and the audit's cluster lookup over it, and a learner with a chain of edges
 * per namespace. Reports how long planning one namespace takes (what one reconcile computes), how
 * long replacing one namespace's share of the indexes takes (what the operator does when that
 * namespace's pods change) and the memory of the indexes.
 */
import type { ClusterInventory, ControllerInfo, PodInfo, ServiceInfo } from '../src/domain/inventory.js';
import { IdentityResolver, type NamespaceInventory } from '../src/domain/identity.js';
import { ClusterLookup, type PodModel } from '../src/domain/simulate/index.js';
import { Learner } from '../src/domain/learner.js';
import { planNamespace, type ClusterFacts } from '../src/domain/plan.js';
import { workloadKey } from '../src/domain/peer.js';

export interface SimOptions {
  readonly namespaces: number;
  readonly podsPerNamespace: number;
}

export interface SimResult {
  /** Mean time to plan one namespace (view + catalog + proposal), ms. */
  readonly planMs: number;
  /** Heap held by the inventory, the identity indexes and the learned edges, MiB. */
  readonly indexMib: number;
  /** Building the identity indexes once, s. */
  readonly buildS: number;
  /** Mean time to replace one namespace's share of the identity indexes and the audit lookup (a pod added), ms. */
  readonly replaceNamespaceMs: number;
}

const PODS_PER_APP = 3;

function inventoryOf(opts: SimOptions): ClusterInventory {
  const pods: PodInfo[] = [];
  const controllers: ControllerInfo[] = [];
  const services: ServiceInfo[] = [];
  const apps = Math.max(1, Math.round(opts.podsPerNamespace / PODS_PER_APP));
  for (let i = 0; i < opts.namespaces; i++) {
    const namespace = `ns-${i}`;
    for (let a = 0; a < apps; a++) {
      const app = `app-${a}`;
      controllers.push({ kind: 'Deployment', namespace, name: app, owners: [], selector: { app } });
      controllers.push({ kind: 'ReplicaSet', namespace, name: `${app}-7c9d`, owners: [{ kind: 'Deployment', name: app, controller: true }], selector: { app, 'pod-template-hash': '7c9d' } });
      services.push({ namespace, name: app, type: 'ClusterIP', clusterIPs: [`172.${16 + (i >> 12)}.${(i >> 4) & 255}.${((i & 15) << 4) + a}`], selector: { app }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] as ServiceInfo['ports'] });
      for (let r = 0; r < PODS_PER_APP; r++) {
        const n = (i * apps + a) * PODS_PER_APP + r;
        pods.push({
          namespace, name: `${app}-7c9d-${r}`, labels: { app, 'pod-template-hash': '7c9d' },
          ips: [`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`], hostNetwork: false,
          owners: [{ kind: 'ReplicaSet', name: `${app}-7c9d`, controller: true }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        });
      }
    }
  }
  return { namespaces: [], nodes: [], pods, controllers, services, endpointSlices: [] };
}

function heapMib(): number {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

export async function simulatePlanning(opts: SimOptions): Promise<SimResult> {
  const before = heapMib();
  const inventory = inventoryOf(opts);
  const started = performance.now();
  const identity = new IdentityResolver(inventory);
  const buildS = (performance.now() - started) / 1000;
  const lookup = new ClusterLookup();
  const shares = new Map<string, { identity: NamespaceInventory; pods: PodModel[] }>();
  for (const pod of inventory.pods) {
    let share = shares.get(pod.namespace);
    if (!share) shares.set(pod.namespace, (share = { identity: { pods: [], controllers: [], services: [], endpointSlices: [] }, pods: [] }));
    (share.identity.pods as PodInfo[]).push(pod);
    share.pods.push(podModel(pod));
  }
  for (const c of inventory.controllers) (shares.get(c.namespace)!.identity.controllers as ControllerInfo[]).push(c);
  for (const svc of inventory.services) (shares.get(svc.namespace)!.identity.services as ServiceInfo[]).push(svc);
  for (const [namespace, share] of shares) lookup.replaceNamespace(namespace, { name: namespace, labels: {} }, share.pods);
  const learner = new Learner(identity);
  const apps = Math.max(1, Math.round(opts.podsPerNamespace / PODS_PER_APP));
  for (let i = 0; i < opts.namespaces; i++) {
    for (let a = 0; a + 1 < apps; a++) learner.edges.record(workloadKey(`ns-${i}`, 'Deployment', `app-${a}`), workloadKey(`ns-${i}`, 'Deployment', `app-${a + 1}`), 8080, 'TCP', 1_000, 5);
    // One cross-namespace edge each: the next namespace's first app.
    learner.edges.record(workloadKey(`ns-${i}`, 'Deployment', 'app-0'), workloadKey(`ns-${(i + 1) % opts.namespaces}`, 'Deployment', 'app-0'), 8080, 'TCP', 1_000, 5);
  }
  const indexMib = heapMib() - before;
  const facts: ClusterFacts = { nodeIps: [], podCidrs: [], apiserverIps: [], apiserverPorts: [] };
  const samples = 200;
  const planStart = performance.now();
  for (let s = 0; s < samples; s++) {
    const namespace = `ns-${(s * 7919) % opts.namespaces}`;
    planNamespace({
      namespace,
      spec: { flavor: 'NetworkPolicy', minFlowsPerEdge: 1, exclude: [], allowDns: true, allowPublicIngress: false, externalBy: 'CIDR' },
      edges: learner.edges.edgesOf(namespace),
      identity, observed: learner, dnsNames: learner.dnsNames, facts, live: [],
      formatTime: (ms) => new Date(ms).toISOString(),
    });
  }
  const planMs = (performance.now() - planStart) / samples;
  const replaceStart = performance.now();
  for (let s = 0; s < samples; s++) {
    const namespace = `ns-${(s * 7919) % opts.namespaces}`;
    const share = shares.get(namespace)!;
    const extra: PodInfo = { ...share.identity.pods[0]!, name: `extra-${s}`, ips: [`100.64.${s >> 8}.${s & 255}`] };
    identity.replaceNamespace(namespace, { ...share.identity, pods: [...share.identity.pods, extra] });
    lookup.replaceNamespace(namespace, { name: namespace, labels: {} }, [...share.pods, podModel(extra)]);
  }
  const replaceNamespaceMs = (performance.now() - replaceStart) / samples;
  // Keep everything measured alive until here.
  if (inventory.pods.length === 0 || learner.edges.size === 0 || !lookup.pod('ns-0', 'app-0-7c9d-0')) throw new Error('empty simulation');
  return { planMs, indexMib, buildS, replaceNamespaceMs };
}

function podModel(pod: PodInfo): PodModel {
  return { namespace: pod.namespace, name: pod.name, labels: pod.labels, ips: pod.ips, ports: [], hostNetwork: pod.hostNetwork, serviceAccount: 'default' };
}
