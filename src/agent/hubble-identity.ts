/**
 * The Hubble node agent's identity (src/agent/hubble-agent.ts): it has no inventory of its own, so
 * a pod a flow names is taken as Cilium reports it, and nothing else.
 *
 * - The workload is Cilium's `workloads` field (Hubble `Endpoint.workloads`, which Cilium derives
 *   from the pod's controller ownerReferences). A pod without it is the bare pod
 *   `wl:<namespace>/Pod/<name>`. The pod's name and labels are never read as a workload: whoever
 *   may create a pod chooses both, so `frontend-6d4cf56db6-zzzzz` labelled
 *   `pod-template-hash=6d4cf56db6`, or `cart-0` labelled `statefulset.kubernetes.io/pod-name=cart-0`,
 *   would otherwise be shipped as Deployment `frontend` or StatefulSet `cart`
 *   (src/domain/workload.ts `workloadFromPodName`, which src/domain/identity.ts falls back to).
 * - Labels are not returned: an agent ships edges, never labels, so the Learner keeps none.
 * - The answers are cached per pod for the hot path, at most {@link HUBBLE_IDENTITY_CACHE} in all
 *   (then the cache starts again), so memory follows neither flows nor namespaces that come and go.
 * - Everything else (reserved identities, an address without a pod) is the domain resolver's,
 *   with an empty inventory.
 */
import type { FlowEndpoint } from '../domain/flow.js';
import { IdentityResolver, type Resolution } from '../domain/identity.js';
import { emptyInventory } from '../domain/inventory.js';
import { peerKey, type PeerKey, type WorkloadPeer } from '../domain/peer.js';

/** Pods whose resolution is cached, in all namespaces together. */
export const HUBBLE_IDENTITY_CACHE = 65_536;

interface NamedPod {
  readonly peer: WorkloadPeer;
  readonly key: PeerKey;
  /** What Cilium reported (undefined: nothing), so a later flow that reports otherwise is resolved again. */
  readonly reported: FlowEndpoint['workload'];
}

export class HubbleIdentity extends IdentityResolver {
  readonly #pods = new Map<string, Map<string, NamedPod>>();
  readonly #limit: number;
  #cached = 0;

  constructor(limit = HUBBLE_IDENTITY_CACHE) {
    super(emptyInventory);
    this.#limit = Math.max(1, limit);
  }

  /** Pods cached now (never above the limit). */
  get cachedPods(): number {
    return this.#cached;
  }

  override resolve(endpoint: FlowEndpoint, role: 'client' | 'server', time: number, other?: FlowEndpoint): Resolution {
    const { namespace, podName } = endpoint;
    if (endpoint.reserved || !namespace || !podName) return super.resolve(endpoint, role, time, other);
    const { peer, key } = this.#named(namespace, podName, endpoint.workload);
    return { ok: true, peer, key, port: endpoint.port, podName };
  }

  /** Cilium's workload of the pod, else the bare pod; cached. */
  #named(namespace: string, podName: string, reported: FlowEndpoint['workload']): NamedPod {
    let pods = this.#pods.get(namespace);
    const cached = pods?.get(podName);
    if (cached && cached.reported?.kind === reported?.kind && cached.reported?.name === reported?.name) return cached;
    const peer: WorkloadPeer = reported
      ? { type: 'workload', namespace, kind: reported.kind, name: reported.name }
      : { type: 'workload', namespace, kind: 'Pod', name: podName };
    const named = { peer, key: peerKey(peer), reported };
    if (!cached && this.#cached >= this.#limit) this.#forgetAll();
    if (!pods) this.#pods.set(namespace, (pods = new Map()));
    if (!cached) this.#cached++;
    pods.set(podName, named);
    return named;
  }

  #forgetAll(): void {
    this.#pods.clear();
    this.#cached = 0;
  }
}
