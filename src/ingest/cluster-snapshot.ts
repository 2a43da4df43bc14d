/**
 * Loads a cluster snapshot for identity: the YAML printed by
 * `kubectl get namespaces,nodes,pods,services,endpointslices,replicasets,deployments,statefulsets,daemonsets,jobs,cronjobs -A -o yaml`
 * (a `List`), multi-document YAML, JSON, or a directory of such files (several snapshots over
 * time: a pod present in an earlier file only is kept with its lifetime, so flows of a replaced
 * pod still resolve). Every object is validated with zod where it enters; an object that does
 * not fit is counted and skipped with its reason, never fatal. Names, namespaces, owners and labels
 * must follow Kubernetes' syntax (src/domain/k8s-names.ts): they become peers and file names.
 *
 * A snapshot is untrusted input: YAML aliases are refused (`kubectl get -o yaml` never writes
 * them, and nested aliases expand exponentially in whatever walks the result) and a file larger
 * than {@link MAX_SNAPSHOT_BYTES} is refused before it is read.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { z } from 'zod';
import { invalidLabels, isDns1123Label, isDns1123Subdomain, isKind } from '../domain/k8s-names.js';
import type {
  ClusterInventory,
  ControllerInfo,
  EndpointSliceInfo,
  NamespaceInfo,
  NodeInfo,
  PodInfo,
  ServiceInfo,
} from '../domain/inventory.js';

/** A snapshot file larger than this is refused (a V8 string holds at most ~512 MiB). */
export const MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024;

const objectName = z.string().refine(isDns1123Subdomain, 'not a DNS-1123 subdomain');
const namespaceName = z.string().refine(isDns1123Label, 'not a DNS-1123 label');
const labelsSchema = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  const reason = invalidLabels(labels);
  if (reason !== undefined) ctx.addIssue({ code: 'custom', message: reason });
}).optional();
const ownerSchema = z.object({ kind: z.string().refine(isKind, 'not a Kubernetes kind'), name: objectName, uid: z.string().optional(), controller: z.boolean().optional() });
const metadataSchema = z.object({
  name: objectName,
  namespace: namespaceName.optional(),
  uid: z.string().optional(),
  labels: labelsSchema,
  ownerReferences: z.array(ownerSchema).optional(),
  // Text in YAML snapshots; a Date when the object came through @kubernetes/client-node.
  creationTimestamp: z.union([z.string(), z.date().transform((d) => d.toISOString())]).optional(),
  deletionTimestamp: z.union([z.string(), z.date().transform((d) => d.toISOString())]).optional(),
});
const selectorSchema = z.object({ matchLabels: labelsSchema }).optional();

const podSchema = z.object({
  metadata: metadataSchema.extend({ namespace: namespaceName }),
  spec: z.object({
    nodeName: z.string().optional(),
    hostNetwork: z.boolean().optional(),
    containers: z.array(z.object({
      ports: z.array(z.object({ name: z.string().optional(), containerPort: z.number().int(), protocol: z.string().optional() })).optional(),
    })).optional(),
  }).optional(),
  status: z.object({
    podIP: z.string().optional(),
    podIPs: z.array(z.object({ ip: z.string() })).optional(),
    phase: z.string().optional(),
  }).optional(),
});

/** A pod template's labels; an invalid set is ignored, not a reason to drop the controller. */
const templateSchema = z.object({ metadata: z.object({ labels: labelsSchema }).optional() }).optional().catch(undefined);

const controllerSchema = z.object({
  metadata: metadataSchema.extend({ namespace: namespaceName }),
  spec: z.object({
    selector: selectorSchema,
    template: templateSchema,
    jobTemplate: z.object({ spec: z.object({ selector: selectorSchema, template: templateSchema }).optional() }).optional(),
    replicas: z.number().int().min(0).optional().catch(undefined),
    schedule: z.string().max(1000).optional().catch(undefined),
    timeZone: z.string().max(100).optional().catch(undefined),
    suspend: z.boolean().optional().catch(undefined),
  }).optional(),
});

const serviceSchema = z.object({
  metadata: metadataSchema.extend({ namespace: namespaceName }),
  spec: z.object({
    type: z.string().optional(),
    clusterIP: z.string().optional(),
    clusterIPs: z.array(z.string()).optional(),
    selector: z.record(z.string(), z.string()).optional(),
    ports: z.array(z.object({
      name: z.string().optional(),
      port: z.number().int(),
      protocol: z.string().optional(),
      targetPort: z.union([z.number().int(), z.string()]).optional(),
      nodePort: z.number().int().optional(),
    })).optional(),
  }),
});

const endpointSliceSchema = z.object({
  metadata: metadataSchema.extend({ namespace: namespaceName }),
  endpoints: z.array(z.object({
    addresses: z.array(z.string()),
    targetRef: z.object({ kind: z.string().optional(), name: z.string().optional() }).optional(),
  })).nullish(),
  ports: z.array(z.object({ name: z.string().optional(), port: z.number().int().optional(), protocol: z.string().optional() })).nullish(),
});

const endpointsSchema = z.object({
  metadata: metadataSchema.extend({ namespace: namespaceName }),
  subsets: z.array(z.object({
    addresses: z.array(z.object({ ip: z.string(), targetRef: z.object({ name: z.string().optional() }).optional() })).optional(),
    ports: z.array(z.object({ name: z.string().optional(), port: z.number().int(), protocol: z.string().optional() })).optional(),
  })).optional(),
});

const nodeSchema = z.object({
  metadata: metadataSchema,
  spec: z.object({ podCIDR: z.string().optional(), podCIDRs: z.array(z.string()).optional() }).optional(),
  status: z.object({ addresses: z.array(z.object({ type: z.string(), address: z.string() })).optional() }).optional(),
});

const namespaceSchema = z.object({ metadata: metadataSchema.extend({ name: namespaceName }) });

const CONTROLLER_KINDS = new Set(['ReplicaSet', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicationController']);

export interface SnapshotProblem {
  readonly file: string;
  readonly object: string;
  readonly reason: string;
}

export interface LoadedSnapshot {
  readonly inventory: ClusterInventory;
  readonly files: readonly string[];
  readonly objects: number;
  readonly problems: readonly SnapshotProblem[];
}

export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}

/** Loads a file or a directory (its `.yaml`, `.yml` and `.json` files, sorted by name = time order). */
export async function loadClusterSnapshot(path: string, limits: { maxBytes?: number } = {}): Promise<LoadedSnapshot> {
  const maxBytes = limits.maxBytes ?? MAX_SNAPSHOT_BYTES;
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new SnapshotError(`cluster snapshot ${path}: no such file or directory`);
  }
  const files = info.isDirectory()
    ? (await readdir(path)).filter((f) => /\.(ya?ml|json)$/i.test(f)).sort().map((f) => join(path, f))
    : [path];
  if (files.length === 0) throw new SnapshotError(`cluster snapshot ${path}: the directory has no .yaml, .yml or .json file`);
  for (const file of files) {
    const size = (await stat(file)).size;
    if (size > maxBytes) throw new SnapshotError(`cluster snapshot ${file}: ${size} bytes is more than the ${maxBytes} bytes a snapshot may have; nothing was read`);
  }
  const texts = new Map<string, string>();
  for (const file of files) texts.set(file, await readFile(file, 'utf8'));
  const ordered = inTimeOrder(texts);
  const builder = new InventoryBuilder();
  for (const [index, file] of ordered.entries()) {
    let documents: unknown[];
    try {
      documents = loadAll(texts.get(file)!, { maxAliases: 0, filename: file });
    } catch (error) {
      const message = (error as Error).message.split('\n')[0] ?? '';
      if (/alias/i.test(message)) throw new SnapshotError(`cluster snapshot ${file}: YAML aliases are not accepted in a cluster snapshot (kubectl get -o yaml never writes them; nested aliases can expand without bound); nothing was read`);
      throw new SnapshotError(`cluster snapshot ${file}: not valid YAML (${message})`);
    }
    builder.beginSnapshot(index);
    for (const doc of documents) builder.addDocument(doc, file);
  }
  return { inventory: builder.build(), files: ordered, objects: builder.objects, problems: builder.problems };
}

/** A `creationTimestamp` in YAML or JSON text (RFC 3339 in UTC, as the API server writes it). */
const CREATION_TIMESTAMP = /creationTimestamp"?\s*:\s*["']?(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)/g;

/**
 * Snapshot files oldest first, whatever their names: a snapshot is as recent as the newest object
 * created in it (its newest `creationTimestamp`); equal times keep name order. The order decides
 * which pods left between snapshots ({@link InventoryBuilder}) and which version of
 * every other object wins, so `snapshot-end.yaml` sorting before `snapshot-start.yaml` must not
 * make the start look like the end.
 */
function inTimeOrder(texts: ReadonlyMap<string, string>): string[] {
  const takenAt = new Map<string, number>();
  for (const [file, text] of texts) {
    let newest = 0;
    for (const match of text.matchAll(CREATION_TIMESTAMP)) {
      const time = Date.parse(match[1]!);
      if (time > newest) newest = time;
    }
    takenAt.set(file, newest);
  }
  return [...texts.keys()].sort((a, b) => takenAt.get(a)! - takenAt.get(b)! || (a < b ? -1 : a > b ? 1 : 0));
}

/** The inventory of some Kubernetes objects as the API server returns them (each with `kind`): one snapshot. */
export function inventoryFromObjects(objects: Iterable<unknown>): ClusterInventory {
  const builder = new InventoryBuilder();
  builder.beginSnapshot(0);
  for (const object of objects) builder.addDocument(object, 'api');
  return builder.build();
}

/**
 * Accumulates objects from one or more snapshots. A pod missing from a later snapshot than the
 * one it appeared in was deleted in between; later snapshots win for every other kind.
 */
export class InventoryBuilder {
  objects = 0;
  readonly problems: SnapshotProblem[] = [];
  private readonly namespaces = new Map<string, NamespaceInfo>();
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly pods = new Map<string, PodInfo & { lastSnapshot: number }>();
  private readonly controllers = new Map<string, ControllerInfo>();
  private readonly services = new Map<string, ServiceInfo>();
  private readonly slices = new Map<string, EndpointSliceInfo>();
  private snapshot = 0;
  private snapshotTime = new Map<number, number>();

  beginSnapshot(index: number): void {
    this.snapshot = index;
  }

  addDocument(doc: unknown, file: string): void {
    if (doc === null || doc === undefined) return;
    if (typeof doc !== 'object') {
      this.problems.push({ file, object: '(document)', reason: 'not a Kubernetes object' });
      return;
    }
    const record = doc as Record<string, unknown>;
    if ((record.kind === 'List' || String(record.kind ?? '').endsWith('List')) && Array.isArray(record.items)) {
      for (const item of record.items) this.addObject(item, file);
      return;
    }
    this.addObject(doc, file);
  }

  private addObject(item: unknown, file: string): void {
    this.objects++;
    const obj = (item ?? {}) as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
    const kind = typeof obj.kind === 'string' ? obj.kind : '';
    const id = `${kind || '(no kind)'} ${String(obj.metadata?.namespace ?? '')}/${String(obj.metadata?.name ?? '')}`;
    const fail = (reason: string): void => void this.problems.push({ file, object: id, reason });
    const parse = <T>(schema: z.ZodType<T>): T | undefined => {
      const r = schema.safeParse(item);
      if (r.success) return r.data;
      fail(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).slice(0, 3).join('; '));
      return undefined;
    };
    switch (kind) {
      case 'Namespace': {
        const ns = parse(namespaceSchema);
        if (ns) this.namespaces.set(ns.metadata.name, { name: ns.metadata.name, labels: { 'kubernetes.io/metadata.name': ns.metadata.name, ...(ns.metadata.labels ?? {}) } });
        return;
      }
      case 'Node': {
        const node = parse(nodeSchema);
        if (!node) return;
        const ips = (node.status?.addresses ?? []).filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a) => a.address);
        const podCIDRs = node.spec?.podCIDRs ?? (node.spec?.podCIDR ? [node.spec.podCIDR] : []);
        this.nodes.set(node.metadata.name, { name: node.metadata.name, ips, podCIDRs });
        return;
      }
      case 'Pod': {
        const pod = parse(podSchema);
        if (!pod) return;
        const m = pod.metadata;
        const ips = pod.status?.podIPs?.map((p) => p.ip) ?? (pod.status?.podIP ? [pod.status.podIP] : []);
        const key = `${m.namespace}/${m.name}/${m.uid ?? ''}`;
        const createdAt = parseTime(m.creationTimestamp);
        const deletedAt = parseTime(m.deletionTimestamp);
        const previous = this.pods.get(key);
        this.pods.set(key, {
          namespace: m.namespace,
          name: m.name,
          ...(m.uid ? { uid: m.uid } : {}),
          labels: m.labels ?? {},
          ips: ips.length > 0 ? ips : (previous?.ips ?? []),
          ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
          hostNetwork: pod.spec?.hostNetwork ?? false,
          owners: m.ownerReferences ?? [],
          ports: (pod.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => ({
            ...(p.name ? { name: p.name } : {}),
            port: p.containerPort,
            protocol: p.protocol ?? 'TCP',
          }))),
          ...(createdAt !== undefined ? { createdAt } : {}),
          ...(deletedAt !== undefined ? { deletedAt } : {}),
          lastSnapshot: this.snapshot,
        });
        if (createdAt !== undefined) {
          const latest = this.snapshotTime.get(this.snapshot) ?? createdAt;
          this.snapshotTime.set(this.snapshot, Math.max(latest, createdAt));
        }
        return;
      }
      case 'Service': {
        const svc = parse(serviceSchema);
        if (!svc) return;
        const clusterIPs = svc.spec.clusterIPs ?? (svc.spec.clusterIP ? [svc.spec.clusterIP] : []);
        this.services.set(`${svc.metadata.namespace}/${svc.metadata.name}`, {
          namespace: svc.metadata.namespace,
          name: svc.metadata.name,
          type: svc.spec.type ?? 'ClusterIP',
          clusterIPs: clusterIPs.filter((ip) => ip !== 'None'),
          ...(svc.spec.selector ? { selector: svc.spec.selector } : {}),
          ports: (svc.spec.ports ?? []).map((p) => ({
            ...(p.name ? { name: p.name } : {}),
            port: p.port,
            protocol: p.protocol ?? 'TCP',
            targetPort: p.targetPort ?? p.port,
            ...(p.nodePort ? { nodePort: p.nodePort } : {}),
          })),
        });
        return;
      }
      case 'EndpointSlice': {
        const slice = parse(endpointSliceSchema);
        if (!slice) return;
        const serviceName = slice.metadata.labels?.['kubernetes.io/service-name'];
        if (!serviceName) {
          fail('EndpointSlice without the kubernetes.io/service-name label');
          return;
        }
        this.slices.set(`${slice.metadata.namespace}/${slice.metadata.name}`, {
          namespace: slice.metadata.namespace,
          serviceName,
          endpoints: (slice.endpoints ?? []).map((e) => ({ addresses: e.addresses, ...(e.targetRef?.kind === 'Pod' && e.targetRef.name ? { podName: e.targetRef.name } : {}) })),
          ports: (slice.ports ?? []).filter((p) => p.port !== undefined).map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port!, protocol: p.protocol ?? 'TCP' })),
        });
        return;
      }
      case 'Endpoints': {
        // Legacy core/v1 Endpoints: used only when no EndpointSlice names the same Service.
        const ep = parse(endpointsSchema);
        if (!ep) return;
        const key = `${ep.metadata.namespace}/endpoints:${ep.metadata.name}`;
        this.slices.set(key, {
          namespace: ep.metadata.namespace,
          serviceName: ep.metadata.name,
          endpoints: (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => ({ addresses: [a.ip], ...(a.targetRef?.name ? { podName: a.targetRef.name } : {}) }))),
          ports: (ep.subsets ?? []).flatMap((s) => (s.ports ?? []).map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: p.protocol ?? 'TCP' }))),
        });
        return;
      }
      default: {
        if (!CONTROLLER_KINDS.has(kind)) {
          fail(kind ? `kind ${kind} is not used for identity` : 'object without kind');
          return;
        }
        const c = parse(controllerSchema);
        if (!c) return;
        const selector = c.spec?.selector?.matchLabels ?? c.spec?.jobTemplate?.spec?.selector?.matchLabels;
        const templateLabels = c.spec?.template?.metadata?.labels ?? c.spec?.jobTemplate?.spec?.template?.metadata?.labels;
        const createdAt = parseTime(c.metadata.creationTimestamp);
        this.controllers.set(`${c.metadata.namespace}/${kind}/${c.metadata.name}`, {
          kind,
          namespace: c.metadata.namespace,
          name: c.metadata.name,
          ...(c.metadata.uid ? { uid: c.metadata.uid } : {}),
          owners: c.metadata.ownerReferences ?? [],
          ...(selector ? { selector } : {}),
          ...(templateLabels ? { templateLabels } : {}),
          ...(createdAt !== undefined ? { createdAt } : {}),
          ...((kind === 'Deployment' || kind === 'StatefulSet') && c.spec?.replicas !== undefined ? { replicas: c.spec.replicas } : {}),
          ...(kind === 'CronJob' && c.spec?.schedule !== undefined ? { schedule: c.spec.schedule } : {}),
          ...(kind === 'CronJob' && c.spec?.timeZone !== undefined ? { timeZone: c.spec.timeZone } : {}),
          ...(kind === 'CronJob' && c.spec?.suspend === true ? { suspend: true } : {}),
        });
      }
    }
  }

  build(): ClusterInventory {
    const lastSnapshot = this.snapshot;
    const pods: PodInfo[] = [];
    for (const pod of this.pods.values()) {
      const { lastSnapshot: seenIn, ...info } = pod;
      // Gone from a later snapshot: deleted at the latest by the time that snapshot's newest pod was created.
      if (seenIn < lastSnapshot && info.deletedAt === undefined) {
        const goneBy = this.snapshotTime.get(seenIn + 1);
        pods.push(goneBy !== undefined ? { ...info, deletedAt: goneBy } : info);
      } else pods.push(info);
    }
    const hasSlices = new Set([...this.slices.entries()].filter(([k]) => !k.includes('/endpoints:')).map(([, s]) => `${s.namespace}/${s.serviceName}`));
    const slices = [...this.slices.entries()]
      .filter(([k, s]) => !k.includes('/endpoints:') || !hasSlices.has(`${s.namespace}/${s.serviceName}`))
      .map(([, s]) => s);
    return {
      namespaces: [...this.namespaces.values()],
      nodes: [...this.nodes.values()],
      pods,
      controllers: [...this.controllers.values()],
      services: [...this.services.values()],
      endpointSlices: slices,
    };
  }
}

function parseTime(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
}
