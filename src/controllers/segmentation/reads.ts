/**
 * What a Segmentation reconcile reads: the Segmentation, hivewall's live policies in its namespace,
 * and its proposals. {@link apiReads} asks the API server every time; the operator passes
 * {@link cachedReads}, served from the informers it already runs for its watches, so a round
 * costs no reads at all once they are synced (client-go controllers read from listers the same
 * way). A kind whose informer has not synced (e.g. CiliumNetworkPolicy on a cluster without
 * Cilium) is read from the API server, which also gives the right error.
 *
 * Caches can lag a write by the watch latency; the reconcile tolerates it (a proposal created
 * twice is an AlreadyExists that is ignored, a stale finalizer patch is a conflict retried next
 * round), and every watch event starts a new round, which then sees the change.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { API_VERSION } from '../../api/meta.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../domain/translate/naming.js';
import { KINDS } from '../../k8s/kinds.js';
import type { Kube } from '../../k8s/kube.js';
import type { Informer } from '../../runtime/informer.js';

export type PolicyFlavor = 'NetworkPolicy' | 'CiliumNetworkPolicy';

export const POLICY_KIND = { NetworkPolicy: KINDS.NetworkPolicy, CiliumNetworkPolicy: KINDS.CiliumNetworkPolicy } as const;

/**
 * The label a proposal (or profile) carries with its Segmentation's name, for people and
 * `kubectl -l`. Anyone who may patch a proposal can change it, so it binds nothing: a proposal
 * belongs to a Segmentation by its controller ownerReference and `spec.content.segmentation`
 * (src/domain/approval.ts).
 */
export const SEGMENTATION_LABEL = 'hivewall.dev/segmentation';

export interface SegmentationReads {
  /** The Segmentations of one namespace (from the informer's per-namespace index), or of every namespace. */
  segmentations(namespace?: string): Promise<KubernetesObject[]>;
  segmentation(namespace: string, name: string): Promise<KubernetesObject | undefined>;
  /** hivewall's live policies of one flavor in a namespace, as plain JSON with apiVersion and kind. */
  owned(flavor: PolicyFlavor, namespace: string): Promise<KubernetesObject[]>;
  /** The PolicyProposals naming a Segmentation in their immutable `spec.content.segmentation` (not by label). */
  proposals(namespace: string, segmentation: string): Promise<KubernetesObject[]>;
}

/** Reads straight from the API server. */
export function apiReads(kube: Kube): SegmentationReads {
  return {
    segmentations: (namespace) => kube.list<KubernetesObject>(API_VERSION, 'Segmentation', namespace),
    segmentation: (namespace, name) => kube.get<KubernetesObject>(API_VERSION, 'Segmentation', namespace, name),
    owned: (flavor, namespace) => {
      const { group, version, plural } = POLICY_KIND[flavor];
      return kube.listRaw<KubernetesObject>(group, version, plural, namespace, `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`);
    },
    proposals: async (namespace, segmentation) => (await kube.list<KubernetesObject>(API_VERSION, 'PolicyProposal', namespace)).filter((p) => contentSegmentation(p) === segmentation),
  };
}

export interface ReadInformers {
  readonly segmentations: Informer<KubernetesObject>;
  readonly proposals: Informer<KubernetesObject>;
  /** Informers on hivewall's policies (label selector managed-by=hivewall), by flavor. */
  readonly policies: Readonly<Record<PolicyFlavor, Informer<KubernetesObject>>>;
}

/** Reads from the informers' caches when they are synced, else from the API server. */
export function cachedReads(informers: ReadInformers, fallback: SegmentationReads): SegmentationReads {
  // Items of a list carry no apiVersion/kind; everything downstream expects them.
  const typed = (objects: readonly KubernetesObject[], apiVersion: string, kind: string) => objects.map((o) => ({ ...o, apiVersion, kind }));
  return {
    segmentations: async (namespace) => (informers.segmentations.hasSynced() ? typed(informers.segmentations.list(namespace), API_VERSION, 'Segmentation') : fallback.segmentations(namespace)),
    segmentation: async (namespace, name) => {
      if (!informers.segmentations.hasSynced()) return fallback.segmentation(namespace, name);
      const found = informers.segmentations.get(name, namespace);
      return found ? { ...found, apiVersion: API_VERSION, kind: 'Segmentation' } : undefined;
    },
    owned: async (flavor, namespace) => {
      const informer = informers.policies[flavor];
      if (!informer.hasSynced()) return fallback.owned(flavor, namespace);
      const { group, version } = POLICY_KIND[flavor];
      return typed(informer.list(namespace), `${group}/${version}`, flavor);
    },
    proposals: async (namespace, segmentation) => {
      if (!informers.proposals.hasSynced()) return fallback.proposals(namespace, segmentation);
      const mine = informers.proposals.list(namespace).filter((p) => contentSegmentation(p) === segmentation);
      return mine.map(typedProposal);
    },
  };
}

/**
 * A cached proposal with its apiVersion and kind, the same object for as long as the informer keeps
 * the same version: ./proposal-cache.ts parses and judges each version once by that identity.
 */
const typedProposals = new WeakMap<KubernetesObject, KubernetesObject>();
function typedProposal(cached: KubernetesObject): KubernetesObject {
  let typed = typedProposals.get(cached);
  if (typed === undefined) {
    typed = { ...cached, apiVersion: API_VERSION, kind: 'PolicyProposal' };
    typedProposals.set(cached, typed);
  }
  return typed;
}

/** `spec.content.segmentation` of a raw proposal. */
function contentSegmentation(p: KubernetesObject): unknown {
  return (p as { spec?: { content?: { segmentation?: unknown } } }).spec?.content?.segmentation;
}
