/**
 * The fields of each watched kind that identity and the policy simulator read, and nothing else:
 * the inventory informers (./cluster-informers.ts) cache objects through {@link identityFields},
 * as a client-go informer's transform does, so a pod's images, environment, volumes and status
 * conditions, or a Deployment's pod template (all but its labels), never sit in the operator's or
 * an agent's heap.
 *
 * The readers are src/ingest/cluster-snapshot.ts (InventoryBuilder: metadata, pod IPs, node and
 * host networking, container ports, controller selectors, pod template labels and schedules,
 * Services, endpoints) and src/domain/simulate/cluster.ts (buildClusterModel: the same, plus sidecar ports and the
 * ServiceAccount). A field either of them starts to read must be kept here too; the test beside
 * this file builds both from full objects and from their slim form and requires equal results.
 */
import type { KubernetesObject } from '@kubernetes/client-node';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The listed keys of `value` that are set; undefined when it is not an object. */
function pick(value: unknown, keys: readonly string[]): Json | undefined {
  if (!isObject(value)) return undefined;
  const out: Json = {};
  for (const key of keys) if (value[key] !== undefined) out[key] = value[key];
  return out;
}

/** Each element of a list reduced to `keys` (a non-list is dropped). */
function pickEach(value: unknown, keys: readonly string[]): Json[] | undefined {
  return Array.isArray(value) ? value.map((item) => pick(item, keys) ?? {}) : undefined;
}

const METADATA = ['name', 'namespace', 'uid', 'labels', 'ownerReferences', 'creationTimestamp', 'deletionTimestamp', 'resourceVersion', 'generation'] as const;
const POD_SPEC = ['nodeName', 'hostNetwork', 'serviceAccountName', 'serviceAccount'] as const;
const CONTROLLER_SPEC = ['selector', 'replicas', 'schedule', 'timeZone', 'suspend'] as const;

/** A pod template reduced to its labels (the containers, images and volumes are dropped). */
function templateLabelsOnly(template: unknown): Json | undefined {
  if (!isObject(template) || !isObject(template['metadata']) || template['metadata']['labels'] === undefined) return undefined;
  return { metadata: { labels: template['metadata']['labels'] } };
}

/** An object's kind and metadata only (its identity and ownership), e.g. for an informer that only notices deletions. */
export function metadataFields<T extends KubernetesObject>(object: T): T {
  return { apiVersion: object.apiVersion, kind: object.kind, metadata: pick(object.metadata, METADATA) } as unknown as T;
}

/** `kind`'s object as identity and the simulator read it (a new object; the input is not changed). */
export function identityFields<T extends KubernetesObject>(kind: string, object: T): T {
  const source = object as unknown as Json;
  const out: Json = {};
  if (object.apiVersion !== undefined) out['apiVersion'] = object.apiVersion;
  if (object.kind !== undefined) out['kind'] = object.kind;
  if (object.metadata !== undefined) out['metadata'] = pick(object.metadata, METADATA);
  const set = (key: string, value: unknown) => {
    if (value !== undefined) out[key] = value;
  };
  switch (kind) {
    case 'Namespace':
      break;
    case 'Node':
      set('spec', pick(source['spec'], ['podCIDR', 'podCIDRs']));
      set('status', pick(source['status'], ['addresses']));
      break;
    case 'Pod': {
      const spec = pick(source['spec'], POD_SPEC);
      if (spec !== undefined && isObject(source['spec'])) {
        const containers = pickEach(source['spec']['containers'], ['name', 'ports']);
        const initContainers = pickEach(source['spec']['initContainers'], ['name', 'ports', 'restartPolicy']);
        if (containers !== undefined) spec['containers'] = containers;
        if (initContainers !== undefined) spec['initContainers'] = initContainers;
      }
      set('spec', spec);
      set('status', pick(source['status'], ['podIP', 'podIPs', 'phase']));
      break;
    }
    case 'Service':
      set('spec', source['spec']);
      break;
    case 'EndpointSlice':
      set('addressType', source['addressType']);
      set('endpoints', pickEach(source['endpoints'], ['addresses', 'conditions', 'targetRef']));
      set('ports', source['ports']);
      break;
    case 'Endpoints':
      set('subsets', source['subsets']);
      break;
    default: {
      // Workload controllers: Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob.
      const spec = pick(source['spec'], CONTROLLER_SPEC);
      const jobSpec = isObject(source['spec']) && isObject(source['spec']['jobTemplate']) && isObject(source['spec']['jobTemplate']['spec'])
        ? source['spec']['jobTemplate']['spec']
        : undefined;
      if (spec !== undefined && isObject(source['spec'])) {
        const template = templateLabelsOnly(source['spec']['template']);
        if (template !== undefined) spec['template'] = template;
        if (jobSpec !== undefined) {
          const jobTemplate: Json = {};
          if (jobSpec['selector'] !== undefined) jobTemplate['selector'] = jobSpec['selector'];
          const podTemplate = templateLabelsOnly(jobSpec['template']);
          if (podTemplate !== undefined) jobTemplate['template'] = podTemplate;
          spec['jobTemplate'] = { spec: jobTemplate };
        }
      }
      set('spec', spec);
    }
  }
  return out as unknown as T;
}
