/**
 * Builds the evaluator's {@link ClusterModel} from Kubernetes objects as the API server returns them
 * (plain JSON: Namespace, Pod, Node, Service, EndpointSlice, Endpoints, and `*List` wrappers).
 * Unknown kinds are skipped; malformed fields are read defensively and never throw.
 */
import type { ClusterModel, ContainerPortModel, L4Protocol, Labels, NamespaceModel, NodeModel, PodModel, ServiceModel } from './model.js';
import { NAMESPACE_NAME_LABEL } from './model.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objects(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function labelsOf(value: unknown): Labels {
  if (!isObject(value)) return {};
  const out: Record<string, string> = {};
  for (const [key, labelValue] of Object.entries(value)) {
    if (typeof labelValue === 'string') out[key] = labelValue;
  }
  return out;
}

function meta(object: Json): { name?: string; namespace?: string; labels: Labels } {
  const metadata = isObject(object.metadata) ? object.metadata : {};
  const name = text(metadata.name);
  const namespace = text(metadata.namespace);
  return { ...(name === undefined ? {} : { name }), ...(namespace === undefined ? {} : { namespace }), labels: labelsOf(metadata.labels) };
}

function protocolOf(value: unknown): L4Protocol {
  return value === 'UDP' || value === 'SCTP' ? value : 'TCP';
}

/** Flattens `List` / `PodList` / ... wrappers (`items`) into their objects. */
function flatten(input: readonly unknown[]): Json[] {
  const out: Json[] = [];
  for (const item of input) {
    if (!isObject(item)) continue;
    if (typeof item.kind === 'string' && item.kind.endsWith('List') && Array.isArray(item.items)) {
      const kind = item.kind === 'List' ? undefined : item.kind.slice(0, -'List'.length);
      for (const child of objects(item.items)) out.push(kind !== undefined && child.kind === undefined ? { ...child, kind } : child);
    } else {
      out.push(item);
    }
  }
  return out;
}

/** "The Kubernetes control plane sets an immutable label kubernetes.io/metadata.name on all namespaces". */
function namespaceModel(object: Json): NamespaceModel | undefined {
  const { name, labels } = meta(object);
  if (name === undefined) return undefined;
  return { name, labels: { ...labels, [NAMESPACE_NAME_LABEL]: name } };
}

function containerPorts(containers: readonly Json[]): ContainerPortModel[] {
  const ports: ContainerPortModel[] = [];
  for (const container of containers) {
    for (const port of objects(container.ports)) {
      if (typeof port.containerPort !== 'number') continue;
      const name = text(port.name);
      ports.push({ ...(name === undefined ? {} : { name }), containerPort: port.containerPort, protocol: protocolOf(port.protocol) });
    }
  }
  return ports;
}

/**
 * A Pod: IPs from `status.podIPs` (falling back to `status.podIP`); ports of every container and of
 * restartable (sidecar) init containers; `spec.hostNetwork`, `spec.nodeName`,
 * `spec.serviceAccountName` (default `default`). Pods in phase Succeeded or Failed are dropped: they
 * no longer hold their IPs.
 */
function podModel(object: Json): PodModel | undefined {
  const { name, namespace, labels } = meta(object);
  if (name === undefined) return undefined;
  const spec = isObject(object.spec) ? object.spec : {};
  const status = isObject(object.status) ? object.status : {};
  if (status.phase === 'Succeeded' || status.phase === 'Failed') return undefined;
  const ips = objects(status.podIPs)
    .map((entry) => text(entry.ip))
    .filter((ip): ip is string => ip !== undefined);
  const podIP = text(status.podIP);
  if (ips.length === 0 && podIP !== undefined) ips.push(podIP);
  const sidecars = objects(spec.initContainers).filter((container) => container.restartPolicy === 'Always');
  const nodeName = text(spec.nodeName);
  return {
    namespace: namespace ?? 'default',
    name,
    labels,
    ips,
    ports: containerPorts([...objects(spec.containers), ...sidecars]),
    hostNetwork: spec.hostNetwork === true,
    ...(nodeName === undefined ? {} : { nodeName }),
    serviceAccount: text(spec.serviceAccountName) ?? text(spec.serviceAccount) ?? 'default',
  };
}

function nodeModel(object: Json): NodeModel | undefined {
  const { name } = meta(object);
  if (name === undefined) return undefined;
  const status = isObject(object.status) ? object.status : {};
  const addresses = objects(status.addresses);
  const of = (type: string): string[] =>
    addresses
      .filter((address) => address.type === type)
      .map((address) => text(address.address))
      .filter((ip): ip is string => ip !== undefined);
  return { name, internalIPs: of('InternalIP'), externalIPs: of('ExternalIP') };
}

function serviceModel(object: Json): ServiceModel | undefined {
  const { name, namespace } = meta(object);
  if (name === undefined) return undefined;
  const spec = isObject(object.spec) ? object.spec : {};
  const clusterIPs = Array.isArray(spec.clusterIPs)
    ? spec.clusterIPs.filter((ip): ip is string => typeof ip === 'string' && ip !== 'None')
    : typeof spec.clusterIP === 'string' && spec.clusterIP !== 'None' && spec.clusterIP !== ''
      ? [spec.clusterIP]
      : [];
  const selector = isObject(spec.selector) ? labelsOf(spec.selector) : undefined;
  return { namespace: namespace ?? 'default', name, clusterIPs, ...(selector === undefined ? {} : { selector }) };
}

/** Ready addresses of the `default/kubernetes` EndpointSlice ("kubernetes.io/service-name: kubernetes"). */
function apiserverFromEndpointSlice(object: Json): string[] {
  const { namespace, labels } = meta(object);
  if ((namespace ?? 'default') !== 'default' || labels['kubernetes.io/service-name'] !== 'kubernetes') return [];
  return objects(object.endpoints)
    .filter((endpoint) => !(isObject(endpoint.conditions) && endpoint.conditions.ready === false))
    .flatMap((endpoint) => (Array.isArray(endpoint.addresses) ? endpoint.addresses : []))
    .filter((ip): ip is string => typeof ip === 'string');
}

/** Addresses of the `default/kubernetes` Endpoints object (`subsets[].addresses[].ip`). */
function apiserverFromEndpoints(object: Json): string[] {
  const { name, namespace } = meta(object);
  if (name !== 'kubernetes' || (namespace ?? 'default') !== 'default') return [];
  return objects(object.subsets)
    .flatMap((subset) => objects(subset.addresses))
    .map((address) => text(address.ip))
    .filter((ip): ip is string => ip !== undefined);
}

/**
 * Builds the cluster model. Example:
 * `buildClusterModel([namespaceList, podList, nodeList, kubernetesEndpointSlice])`.
 */
export function buildClusterModel(input: readonly unknown[]): ClusterModel {
  const namespaces: NamespaceModel[] = [];
  const pods: PodModel[] = [];
  const nodes: NodeModel[] = [];
  const services: ServiceModel[] = [];
  const apiserver = new Set<string>();
  for (const object of flatten(input)) {
    switch (object.kind) {
      case 'Namespace': {
        const model = namespaceModel(object);
        if (model !== undefined) namespaces.push(model);
        break;
      }
      case 'Pod': {
        const model = podModel(object);
        if (model !== undefined) pods.push(model);
        break;
      }
      case 'Node': {
        const model = nodeModel(object);
        if (model !== undefined) nodes.push(model);
        break;
      }
      case 'Service': {
        const model = serviceModel(object);
        if (model !== undefined) services.push(model);
        break;
      }
      case 'EndpointSlice':
        for (const ip of apiserverFromEndpointSlice(object)) apiserver.add(ip);
        break;
      case 'Endpoints':
        for (const ip of apiserverFromEndpoints(object)) apiserver.add(ip);
        break;
      default:
        break;
    }
  }
  return { namespaces, pods, nodes, services, kubeApiserverIPs: [...apiserver].sort() };
}
