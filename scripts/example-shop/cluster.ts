/**
 * Builds the cluster model: nodes, controllers, pods (with IPs from their node's pod CIDR) and
 * Services. Two pods change during the window: the catalog pod on node-c is deleted at 10:30:00 and
 * replaced by a pod of the same ReplicaSet on node-b at 10:30:05; the nightly-report Job pod runs
 * at 10:05.
 */
import { APPS, NAMESPACES, NODES, selectorOf } from './apps.js';
import type { AppDef, ClusterModel, ControllerModel, NodeModel, OwnerRef, PodModel, ServiceModel } from './model.js';
import { type Rng, rngFor } from './rand.js';
import { MIN, SEC, epochSeconds } from './time.js';

const DAY = 24 * 60 * MIN;

export const CATALOG_DELETED_NS = 30 * MIN;
export const CATALOG_CREATED_NS = 30 * MIN + 5 * SEC;
export const JOB_SCHEDULED_NS = 5 * MIN;

function ownerOf(c: ControllerModel): OwnerRef {
  return { apiVersion: c.apiVersion, kind: c.kind, name: c.name, uid: c.uid };
}

class IpAllocator {
  private next = new Map<string, number>();
  constructor(private readonly rng: Rng) {}
  allocate(node: NodeModel): string {
    const n = this.next.get(node.name) ?? this.rng.int(3, 9);
    this.next.set(node.name, n + this.rng.int(1, 3));
    return `${node.prefix}${n}`;
  }
}

export function buildCluster(): ClusterModel {
  const rng = rngFor('cluster');
  const nodes: NodeModel[] = NODES.map((n) => ({ ...n, uid: rng.uuid(), createdNs: -45 * DAY + rng.int(0, 600) * SEC }));
  const nodeByName = (name: string) => {
    const node = nodes.find((n) => n.name === name);
    if (!node) throw new Error(`unknown node ${name}`);
    return node;
  };
  const ips = new IpAllocator(rng);
  const usedIdentities = new Set<number>();
  const usedEndpointIds = new Set<number>();
  const ifindex = new Map<string, number>();
  const controllers: ControllerModel[] = [];
  const pods: PodModel[] = [];
  const services: ServiceModel[] = [];

  const unique = (used: Set<number>, lo: number, hi: number) => {
    for (;;) {
      const v = rng.int(lo, hi);
      if (!used.has(v)) { used.add(v); return v; }
    }
  };

  const controller = (app: AppDef, kind: ControllerModel['kind'], name: string, createdNs: number, extra: Partial<ControllerModel> = {}): ControllerModel => {
    const c: ControllerModel = {
      apiVersion: kind === 'Job' || kind === 'CronJob' ? 'batch/v1' : 'apps/v1',
      kind, name, namespace: app.namespace, uid: rng.uuid(), app, createdNs,
      labels: { ...app.labels }, selector: selectorOf(app), templateLabels: { ...app.labels },
      replicas: app.nodes.length, hash: '', revision: 1, inStart: true, inEnd: true, ...extra,
    };
    controllers.push(c);
    return c;
  };

  const pod = (app: AppDef, name: string, nodeName: string, owner: ControllerModel, labels: Record<string, string>, createdNs: number, identity: number): PodModel => {
    const node = nodeByName(nodeName);
    const idx = (ifindex.get(node.name) ?? rng.int(8, 14)) + rng.int(1, 4);
    ifindex.set(node.name, idx);
    const p: PodModel = {
      app, name, namespace: app.namespace, uid: rng.uuid(), ip: ips.allocate(node), node, labels, owner: ownerOf(owner),
      createdNs, readyNs: createdNs + rng.int(3_000, 9_000) * 1_000_000, endpointId: unique(usedEndpointIds, 80, 3999),
      identity, lxc: `lxc${rng.hex(12)}`, ifindex: idx,
    };
    pods.push(p);
    return p;
  };

  let catalogRs: ControllerModel | undefined;
  for (const app of APPS) {
    const created = -app.ageDays * DAY + rng.int(0, 8 * 3600) * SEC;
    const identity = unique(usedIdentities, 10_000, 65_000);
    const podCreated = (i: number) => created + (4 + i * 3 + rng.int(0, 2)) * SEC;
    if (app.kind === 'Deployment') {
      const dep = controller(app, 'Deployment', app.name, created);
      const revised = app.name === 'frontend' || app.name === 'cart';
      if (revised) {
        const oldHash = rng.k8sSuffix(10);
        controller(app, 'ReplicaSet', `${app.name}-${oldHash}`, created, {
          owner: ownerOf(dep), hash: oldHash, replicas: 0,
          labels: { ...app.labels, 'pod-template-hash': oldHash },
          selector: { ...selectorOf(app), 'pod-template-hash': oldHash }, templateLabels: { ...app.labels, 'pod-template-hash': oldHash },
        });
        dep.revision = 2;
      }
      const hash = rng.k8sSuffix(10);
      const rsCreated = revised ? created + rng.int(1, 36) * 3600 * SEC : created;
      const rs = controller(app, 'ReplicaSet', `${app.name}-${hash}`, rsCreated, {
        owner: ownerOf(dep), hash, revision: dep.revision,
        labels: { ...app.labels, 'pod-template-hash': hash },
        selector: { ...selectorOf(app), 'pod-template-hash': hash }, templateLabels: { ...app.labels, 'pod-template-hash': hash },
      });
      dep.templateLabels = { ...app.labels };
      if (app.name === 'catalog') catalogRs = rs;
      app.nodes.forEach((n, i) => {
        const created = rsCreated + (4 + i * 3 + rng.int(0, 2)) * SEC;
        pod(app, `${rs.name}-${rng.k8sSuffix(5)}`, n, rs, { ...app.labels, 'pod-template-hash': hash }, created, identity);
      });
    } else if (app.kind === 'StatefulSet') {
      const hash = `${app.name}-${rng.k8sSuffix(9)}`;
      const sts = controller(app, 'StatefulSet', app.name, created, { hash });
      app.nodes.forEach((n, i) => {
        const labels = { ...app.labels, 'apps.kubernetes.io/pod-index': String(i), 'controller-revision-hash': hash, 'statefulset.kubernetes.io/pod-name': `${app.name}-${i}` };
        pod(app, `${app.name}-${i}`, n, sts, labels, podCreated(i), identity);
      });
    } else if (app.kind === 'DaemonSet') {
      const hash = rng.k8sSuffix(9);
      const ds = controller(app, 'DaemonSet', app.name, created, { hash });
      app.nodes.forEach((n, i) => {
        const labels = { ...app.labels, 'controller-revision-hash': hash, 'pod-template-generation': '1' };
        pod(app, `${app.name}-${rng.k8sSuffix(5)}`, n, ds, labels, podCreated(i), identity);
      });
    } else {
      const cron = controller(app, 'CronJob', app.name, created, { replicas: 1, inStart: true });
      const jobName = `${app.name}-${Math.floor(epochSeconds(JOB_SCHEDULED_NS) / 60)}`;
      const jobUid = rng.uuid();
      const jobLabels = {
        ...app.labels, 'batch.kubernetes.io/controller-uid': jobUid, 'batch.kubernetes.io/job-name': jobName,
        'controller-uid': jobUid, 'job-name': jobName,
      };
      const job = controller(app, 'Job', jobName, JOB_SCHEDULED_NS, {
        uid: jobUid, owner: ownerOf(cron), inStart: false, labels: jobLabels,
        selector: { 'batch.kubernetes.io/controller-uid': jobUid }, templateLabels: jobLabels, replicas: 1,
      });
      const jp = pod(app, `${jobName}-${rng.k8sSuffix(5)}`, app.nodes[0] as string, job, jobLabels, JOB_SCHEDULED_NS + 870 * 1_000_000, identity);
      jp.readyNs = JOB_SCHEDULED_NS + 2_412_000_000;
      jp.finishedNs = JOB_SCHEDULED_NS + 41 * SEC + 305_000_000;
    }
  }

  // The catalog pod on node-c is replaced mid-window by a new pod of the same ReplicaSet on node-b.
  const catalogApp = APPS.find((a) => a.name === 'catalog') as AppDef;
  const old = pods.find((p) => p.app === catalogApp && p.node.name === 'node-c') as PodModel;
  old.deletedNs = CATALOG_DELETED_NS;
  if (!catalogRs) throw new Error('catalog ReplicaSet missing');
  const replacement = pod(catalogApp, `${catalogRs.name}-${rng.k8sSuffix(5)}`, 'node-b', catalogRs, { ...old.labels }, CATALOG_CREATED_NS, old.identity);
  replacement.readyNs = CATALOG_CREATED_NS + 4_183_000_000;

  // Services (and their EndpointSlice names).
  const usedIps = new Set<string>(['10.96.0.1', '10.96.0.10']);
  const clusterIp = () => {
    for (;;) {
      const ip = `10.96.${rng.int(0, 255)}.${rng.int(2, 254)}`;
      if (!usedIps.has(ip)) { usedIps.add(ip); return ip; }
    }
  };
  services.push({
    def: { name: 'kubernetes', type: 'ClusterIP', clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, targetPort: 6443, protocol: 'TCP' }] },
    name: 'kubernetes', namespace: 'default', uid: rng.uuid(), clusterIP: '10.96.0.1', createdNs: -45 * DAY + 9 * SEC,
    sliceName: 'kubernetes', sliceUid: rng.uuid(),
  });
  for (const app of APPS) {
    if (!app.service) continue;
    const def = app.service;
    const dep = controllers.find((c) => c.app === app && c.owner === undefined) as ControllerModel;
    services.push({
      def, app, name: def.name, namespace: app.namespace, uid: rng.uuid(),
      clusterIP: def.headless ? 'None' : def.clusterIP ?? clusterIp(), createdNs: dep.createdNs - rng.int(1, 5) * SEC,
      sliceName: `${def.name}-${rng.k8sSuffix(5)}`, sliceUid: rng.uuid(), selector: selectorOf(app),
    });
  }

  const namespaces = NAMESPACES.map((name) => {
    const firstApp = APPS.filter((a) => a.namespace === name).reduce((m, a) => Math.max(m, a.ageDays), 0);
    const createdNs = name.startsWith('kube-') || name === 'default' ? -45 * DAY + rng.int(0, 30) * SEC : -(firstApp * DAY) - rng.int(600, 7200) * SEC;
    return { name, uid: rng.uuid(), createdNs };
  });
  return { nodes, apps: [...APPS], pods, controllers, services, namespaces };
}

/** Pods able to serve traffic at `t` (endpoint ready, not yet deleted / finished). */
export function servingPods(cluster: ClusterModel, appName: string, t: number): PodModel[] {
  return cluster.pods.filter((p) => p.app.name === appName && p.readyNs <= t && (p.deletedNs === undefined || t < p.deletedNs) && (p.finishedNs === undefined || t < p.finishedNs));
}

/** Pods present (created, not deleted) at `t` — what `kubectl get pods` lists. */
export function podsAt(cluster: ClusterModel, t: number): PodModel[] {
  return cluster.pods.filter((p) => p.createdNs <= t && (p.deletedNs === undefined || t < p.deletedNs));
}
