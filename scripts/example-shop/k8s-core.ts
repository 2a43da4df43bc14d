/** Namespaces, Nodes, Services and EndpointSlices as `kubectl get -o yaml` prints them. */
import { servingPods } from './cluster.js';
import { resourceVersion } from './k8s-pods.js';
import { APISERVER, type ClusterModel, type NodeModel, type PodModel, type ServiceModel } from './model.js';
import { k8sTime } from './time.js';

type Obj = Record<string, unknown>;

export function namespaceObject(ns: ClusterModel['namespaces'][number]): Obj {
  return {
    apiVersion: 'v1', kind: 'Namespace',
    metadata: { creationTimestamp: k8sTime(ns.createdNs), labels: { 'kubernetes.io/metadata.name': ns.name }, name: ns.name, resourceVersion: resourceVersion(ns.uid), uid: ns.uid },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

export function nodeObject(node: NodeModel, at: number): Obj {
  const labels: Record<string, string> = {
    'beta.kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux',
  };
  if (node.name === 'node-a') labels['node-role.kubernetes.io/control-plane'] = '';
  const heartbeat = k8sTime(at - 17_000_000_000);
  const cond = (type: string, st: string, reason: string, message: string) => ({
    lastHeartbeatTime: heartbeat, lastTransitionTime: k8sTime(node.createdNs + 30_000_000_000), message, reason, status: st, type,
  });
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: {
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
      creationTimestamp: k8sTime(node.createdNs), labels, name: node.name,
      resourceVersion: resourceVersion(node.uid, at > 0 ? 151_000 : 0), uid: node.uid,
    },
    spec: { podCIDR: node.podCidr, podCIDRs: [node.podCidr], providerID: `kind://docker/shop/${node.name}` },
    status: {
      addresses: [{ address: node.ip, type: 'InternalIP' }, { address: node.name, type: 'Hostname' }],
      allocatable: { cpu: '8', 'ephemeral-storage': '101430960Ki', memory: '32794908Ki', pods: '110' },
      capacity: { cpu: '8', 'ephemeral-storage': '101430960Ki', memory: '32794908Ki', pods: '110' },
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: 'amd64', bootID: node.uid.replace(/^.{8}/, 'b0070000'), containerRuntimeVersion: 'containerd://2.1.3',
        kernelVersion: '6.8.0-84-generic', kubeProxyVersion: '', kubeletVersion: 'v1.34.1',
        machineID: node.uid.replaceAll('-', ''), operatingSystem: 'linux', osImage: 'Debian GNU/Linux 12 (bookworm)',
        systemUUID: node.uid,
      },
    },
  };
}

function serviceLabels(svc: ServiceModel): Record<string, string> {
  if (svc.name === 'kubernetes') return { component: 'apiserver', provider: 'kubernetes' };
  if (svc.name === 'kube-dns') return { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' };
  return { ...svc.app?.labels };
}

export function serviceObject(svc: ServiceModel): Obj {
  const def = svc.def;
  const spec: Obj = {
    clusterIP: svc.clusterIP, clusterIPs: [svc.clusterIP], internalTrafficPolicy: 'Cluster',
    ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack',
    ports: def.ports.map((p) => ({ name: p.name, ...(p.nodePort ? { nodePort: p.nodePort } : {}), port: p.port, protocol: p.protocol, targetPort: p.targetPort })),
    sessionAffinity: 'None', type: def.type,
  };
  if (svc.selector) spec['selector'] = { ...svc.selector };
  if (def.type === 'LoadBalancer') {
    spec['allocateLoadBalancerNodePorts'] = true;
    spec['externalTrafficPolicy'] = 'Local';
    spec['healthCheckNodePort'] = def.nodePortHealthCheck;
  }
  const metadata: Obj = {
    creationTimestamp: k8sTime(svc.createdNs), labels: serviceLabels(svc), name: svc.name, namespace: svc.namespace,
    resourceVersion: resourceVersion(svc.uid), uid: svc.uid,
  };
  if (svc.name === 'kube-dns') metadata['annotations'] = { 'prometheus.io/port': '9153', 'prometheus.io/scrape': 'true' };
  const status = def.type === 'LoadBalancer' ? { loadBalancer: { ingress: [{ ip: def.loadBalancerIP, ipMode: 'VIP' }] } } : { loadBalancer: {} };
  return { apiVersion: 'v1', kind: 'Service', metadata, spec, status };
}

/** The container port a Service port's targetPort names (or numbers) on a pod. */
export function targetPortOf(pod: PodModel, targetPort: number | string, protocol: string): number {
  if (typeof targetPort === 'number') return targetPort;
  const port = pod.app.ports.find((p) => p.name === targetPort && p.protocol === protocol);
  if (!port) throw new Error(`${pod.name}: no container port named ${targetPort}`);
  return port.containerPort;
}

export function endpointSliceObject(cluster: ClusterModel, svc: ServiceModel, at: number): Obj {
  const changed = svc.name === 'catalog' && at > 0;
  const metadata: Obj = {
    creationTimestamp: k8sTime(svc.createdNs + 1_000_000_000),
    generation: changed ? 9 : 4,
    labels: {
      ...serviceLabels(svc),
      'endpointslice.kubernetes.io/managed-by': svc.name === 'kubernetes' ? 'endpointslice-mirroring-controller.k8s.io' : 'endpointslice-controller.k8s.io',
      'kubernetes.io/service-name': svc.name,
    },
    name: svc.sliceName, namespace: svc.namespace,
    resourceVersion: resourceVersion(svc.sliceUid, changed ? 104_000 : 0), uid: svc.sliceUid,
  };
  if (svc.name === 'kubernetes') {
    return {
      addressType: 'IPv4', apiVersion: 'discovery.k8s.io/v1',
      endpoints: [{ addresses: [APISERVER.ip], conditions: { ready: true } }],
      kind: 'EndpointSlice', metadata,
      ports: [{ name: 'https', port: APISERVER.port, protocol: 'TCP' }],
    };
  }
  metadata['generateName'] = `${svc.name}-`;
  metadata['ownerReferences'] = [{ apiVersion: 'v1', blockOwnerDeletion: true, controller: true, kind: 'Service', name: svc.name, uid: svc.uid }];
  const pods = servingPods(cluster, svc.app?.name ?? '', at).sort((a, b) => a.name.localeCompare(b.name));
  const first = pods[0];
  return {
    addressType: 'IPv4', apiVersion: 'discovery.k8s.io/v1',
    endpoints: pods.map((p) => ({
      addresses: [p.ip],
      conditions: { ready: true, serving: true, terminating: false },
      ...(svc.def.headless ? { hostname: p.name } : {}),
      nodeName: p.node.name,
      targetRef: { kind: 'Pod', name: p.name, namespace: p.namespace, uid: p.uid },
    })),
    kind: 'EndpointSlice', metadata,
    ports: svc.def.ports.map((sp) => ({
      name: sp.name, port: first ? targetPortOf(first, sp.targetPort, sp.protocol) : Number(sp.targetPort), protocol: sp.protocol,
    })),
  };
}
