/**
 * The workload catalog: for every workload, its pods' labels, its controller's selector and the
 * ports it serves through LoadBalancer / NodePort Services. Built from the cluster snapshot and,
 * where the snapshot is missing or lacks a pod, from the pod labels the flow source reported.
 */
import type { ContainerPort, ControllerInfo, ServiceInfo } from './inventory.js';
import type { IdentityResolver, PodCandidate } from './identity.js';
import { labelsToRecord } from './identity.js';
import { peerFromKey, peerKey, type WorkloadPeer } from './peer.js';
import { LabelIndex, matchesLabels, minimalSelector, type Labels } from './selector.js';

type SelectorResult = ReturnType<typeof minimalSelector>;

export interface ExposedPort {
  readonly port: number;
  readonly protocol: string;
  readonly service: string;
}

export interface WorkloadEntry {
  readonly key: string;
  readonly peer: WorkloadPeer;
  /** Pod name → labels. */
  readonly pods: Map<string, Labels>;
  readonly controllerSelector?: Labels;
  /** Pod ports reachable from outside through LoadBalancer or NodePort Services. */
  readonly exposed: ExposedPort[];
}

export class WorkloadCatalog {
  readonly entries = new Map<string, WorkloadEntry>();
  private readonly controllerSelectors = new Map<string, Labels | undefined>();
  /** Per namespace, every controller's pod template labels. */
  private readonly templatesByNamespace = new Map<string, Labels[]>();
  /** The same label objects by the key of the workload whose controllers they belong to. */
  private readonly templatesByWorkload = new Map<string, Labels[]>();
  private readonly podLabelsByNamespace = new Map<string, Labels[]>();
  private readonly labelIndexes = new Map<string, LabelIndex>();
  private readonly selectors = new Map<string, SelectorResult>();

  /** The catalog of every workload in the snapshot, plus pods the flow source named. */
  static build(identity: IdentityResolver, observedPods: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>): WorkloadCatalog {
    return WorkloadCatalog.from({
      controllers: identity.allControllers(),
      workloadOf: (c) => identity.workloadOfController(c),
      pods: identity.podsWithWorkloads(),
      observed: observedPods,
      services: identity.allServices(),
    });
  }

  /**
   * The catalog of the workloads of some namespaces only (a namespace's own and those its edges
   * reach): what one Segmentation's proposal needs, read from per-namespace indexes, so its cost
   * follows those namespaces and not the cluster. `observedKeysIn` lists the workload keys of a
   * namespace that the flow source named pods of.
   */
  static forNamespaces(
    identity: IdentityResolver,
    observedPods: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>,
    namespaces: Iterable<string>,
    observedKeysIn: (namespace: string) => Iterable<string>,
  ): WorkloadCatalog {
    const controllers = [];
    const pods = [];
    const services = [];
    const observed = new Map<string, ReadonlyMap<string, readonly string[]>>();
    for (const ns of new Set(namespaces)) {
      controllers.push(...identity.controllersIn(ns));
      pods.push(...identity.podsWithWorkloadsIn(ns));
      services.push(...identity.servicesIn(ns));
      for (const key of observedKeysIn(ns)) {
        const seen = observedPods.get(key);
        if (seen) observed.set(key, seen);
      }
    }
    return WorkloadCatalog.from({ controllers, workloadOf: (c) => identity.workloadOfController(c), pods, observed, services });
  }

  private static from(input: {
    controllers: Iterable<ControllerInfo>;
    workloadOf: (controller: ControllerInfo) => WorkloadPeer;
    pods: Iterable<PodCandidate>;
    observed: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;
    services: Iterable<ServiceInfo>;
  }): WorkloadCatalog {
    const catalog = new WorkloadCatalog();
    for (const c of input.controllers) {
      catalog.controllerSelectors.set(`${c.namespace}/${c.kind}/${c.name}`, c.selector);
      if (c.templateLabels) catalog.addTemplate(c.namespace, peerKey(input.workloadOf(c)), c.templateLabels);
    }
    const podPorts = new Map<string, readonly ContainerPort[]>();
    for (const { pod, workload } of input.pods) {
      const entry = catalog.ensure(workload);
      entry.pods.set(pod.name, pod.labels);
      podPorts.set(`${pod.namespace}/${pod.name}`, pod.ports);
    }
    for (const [key, pods] of input.observed) {
      const peer = peerFromKey(key);
      if (peer.type !== 'workload') continue;
      const entry = catalog.ensure(peer);
      for (const [podName, labels] of pods) if (!entry.pods.has(podName)) entry.pods.set(podName, labelsToRecord(labels));
    }
    for (const service of input.services) {
      if (service.type !== 'LoadBalancer' && service.type !== 'NodePort') continue;
      catalog.addExposure(service, podPorts);
    }
    return catalog;
  }

  get(key: string): WorkloadEntry | undefined {
    return this.entries.get(key);
  }

  /**
   * The smallest stable selector of a workload's pods among its namespace's pods
   * ({@link minimalSelector}), computed once per catalog: it depends on the catalog alone, and
   * every namespace whose edges reach the workload asks for it again.
   */
  selectorOf(key: string, namespace: string): SelectorResult {
    let result = this.selectors.get(key);
    if (!result) {
      const entry = this.entries.get(key);
      const ownTemplates = this.templatesByWorkload.get(key) ?? [];
      result = entry
        ? minimalSelector([...entry.pods.values()], this.namespaceLabelIndex(namespace), entry.controllerSelector, ownTemplates)
        : { ok: false, reason: 'no pod of the workload is known' };
      this.selectors.set(key, result);
    }
    return result;
  }

  /** {@link namespacePodLabels} by label pair, built once per namespace. */
  private namespaceLabelIndex(namespace: string): LabelIndex {
    let index = this.labelIndexes.get(namespace);
    if (!index) this.labelIndexes.set(namespace, (index = new LabelIndex(this.namespacePodLabels(namespace))));
    return index;
  }

  /**
   * Every pod's labels in a namespace, and every controller's pod template labels there (the
   * workload's own label objects included, by reference).
   */
  private namespacePodLabels(namespace: string): readonly Labels[] {
    // Every namespace's list in one pass over the catalog, on the first call.
    if (this.podLabelsByNamespace.size === 0) {
      const listOf = (ns: string) => {
        let pods = this.podLabelsByNamespace.get(ns);
        if (!pods) this.podLabelsByNamespace.set(ns, (pods = []));
        return pods;
      };
      for (const entry of this.entries.values()) {
        const pods = listOf(entry.peer.namespace);
        for (const labels of entry.pods.values()) pods.push(labels);
      }
      for (const [ns, templates] of this.templatesByNamespace) {
        const pods = listOf(ns);
        for (const labels of templates) pods.push(labels);
      }
    }
    return this.podLabelsByNamespace.get(namespace) ?? [];
  }

  /** A controller's pod template: the labels its pods will carry, whether or not any runs now. */
  private addTemplate(namespace: string, workload: string, labels: Labels): void {
    let inNamespace = this.templatesByNamespace.get(namespace);
    if (!inNamespace) this.templatesByNamespace.set(namespace, (inNamespace = []));
    inNamespace.push(labels);
    let ofWorkload = this.templatesByWorkload.get(workload);
    if (!ofWorkload) this.templatesByWorkload.set(workload, (ofWorkload = []));
    ofWorkload.push(labels);
  }

  private ensure(peer: WorkloadPeer): WorkloadEntry {
    const key = peerKey(peer);
    let entry = this.entries.get(key);
    if (!entry) {
      const selector = this.controllerSelectors.get(`${peer.namespace}/${peer.kind}/${peer.name}`);
      entry = { key, peer, pods: new Map(), exposed: [], ...(selector ? { controllerSelector: selector } : {}) };
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** Kubernetes Service rule: `targetPort` (number, or a container port name resolved per pod) on the selected pods. */
  private addExposure(service: ServiceInfo, podPorts: ReadonlyMap<string, readonly ContainerPort[]>): void {
    if (!service.selector || Object.keys(service.selector).length === 0) return;
    const selector = service.selector;
    for (const entry of this.entries.values()) {
      if (entry.peer.namespace !== service.namespace) continue;
      for (const [podName, labels] of entry.pods) {
        if (!matchesLabels(selector, labels)) continue;
        for (const sp of service.ports) {
          const port = typeof sp.targetPort === 'number'
            ? sp.targetPort
            : podPorts.get(`${service.namespace}/${podName}`)?.find((p) => p.name === sp.targetPort)?.port;
          if (port === undefined) continue;
          if (!entry.exposed.some((e) => e.port === port && e.protocol === sp.protocol)) {
            entry.exposed.push({ port, protocol: sp.protocol, service: service.name });
          }
        }
      }
    }
  }
}
