/**
 * A namespace's proposal content from its learned edges and its Segmentation spec: the exact
 * objects, the evidence behind every rule, and the diff against the live policies. Pure and
 * deterministic: the same edges and spec give byte-identical objects and the same digest.
 */
import { canonicalJson } from './canonical-json.js';
import { createHash } from 'node:crypto';
import { createTwoFilesPatch } from 'diff';
import type { WorkloadCatalog } from './catalog.js';
import { NO_DNS_NAMES, type DnsNameLookup } from './dns-names.js';
import type { EdgeRecord } from './edge-store.js';
import { edgeId, type DeniedEdge } from './denials.js';
import { peerFromKey, peerKey, peerLabel } from './peer.js';
import { buildPolicyModel, type ModelPeer, type NamespacePolicies, type WorkloadPolicy } from './policy-model.js';
import { matchesSelector, type Selector } from './selector.js';
import { toCiliumPolicies } from './translate/cilium.js';
import { toNetworkPolicies, withoutInexpressibleRules, type KubernetesObject, type TranslateContext } from './translate/networkpolicy.js';
import type { RulePlacement } from './translate/translation.js';
import { canonicalPolicyOrder } from './translate/canonical.js';
import { toYaml } from './translate/render.js';

export interface ProposalSpecInput {
  readonly flavor: 'NetworkPolicy' | 'CiliumNetworkPolicy';
  readonly minFlowsPerEdge: number;
  readonly selector?: Selector;
  readonly exclude: readonly { readonly kind: string; readonly name: string }[];
  readonly allowDns: boolean;
  readonly allowPublicIngress: boolean;
  readonly allowKubeApiserver?: boolean;
  readonly externalBy: 'FQDN' | 'CIDR';
}

export interface ProposalInput {
  readonly namespace: string;
  readonly spec: ProposalSpecInput;
  readonly edges: Iterable<EdgeRecord>;
  readonly catalog: WorkloadCatalog;
  readonly dnsNames: DnsNameLookup;
  readonly apiserverIps: readonly string[];
  readonly apiserverPorts?: readonly number[];
  readonly nodeIps: readonly string[];
  readonly podCidrs: readonly string[];
  /** Live policies hivewall owns in the namespace, for the diff. */
  readonly live: readonly KubernetesObject[];
  /**
   * Edges enforced policies denied: proposed (whatever `minFlowsPerEdge`) so that a reviewer can
   * allow them, and marked in their evidence. Never learned: they exist only here and in status.
   */
  readonly denied?: readonly DeniedEdge[];
  readonly formatTime: (ms: number) => string;
}

export interface RuleEvidenceOut {
  readonly policy: string;
  readonly direction: 'ingress' | 'egress';
  readonly index: number;
  readonly peer: string;
  readonly ports: string[];
  readonly allowance?: string;
  readonly edges: { client: string; server: string; port: number; protocol: string; count: number; firstSeen: string; lastSeen: string; denied?: { count: number; since: string; note: string } }[];
}

/**
 * Digests of rendered policies, by a hash of their JSON: the digest is the SHA-256 of the policies'
 * YAML (what a reviewer approves, and what every stored proposal names), and rendering YAML costs
 * far more than JSON, while the same namespace plans the same policies again and again.
 */
const digests = new Map<string, string>();
const DIGESTS_KEPT = 8_192;

/** The proposal digest of `objects`: SHA-256 of their YAML documents joined by `---`. */
export function digestOf(objects: readonly KubernetesObject[]): string {
  const key = createHash('sha256').update(JSON.stringify(objects)).digest('base64');
  const known = digests.get(key);
  if (known !== undefined) return known;
  const digest = createHash('sha256').update(objects.map(toYaml).join('---\n')).digest('hex');
  if (digests.size >= DIGESTS_KEPT) digests.clear();
  digests.set(key, digest);
  return digest;
}

/**
 * What a proposal leaves out: a workload with no policy (`workload`, `reason`), or one rule of a
 * workload's policy (`direction`, `peer` too). Workload and peer are peer keys.
 */
export interface SkippedItem {
  readonly workload: string;
  readonly direction?: 'ingress' | 'egress';
  readonly peer?: string;
  readonly reason: string;
}

/** A left-out item as a reviewer reads it: `<workload>: <reason>` or `<workload> <direction> <peer>: <reason>`. */
export function describeSkipped(item: SkippedItem): string {
  const workload = peerLabel(peerFromKey(item.workload));
  return item.direction !== undefined && item.peer !== undefined
    ? `${workload} ${item.direction} ${peerLabel(peerFromKey(item.peer))}: ${item.reason}`
    : `${workload}: ${item.reason}`;
}

/** A planned revision. `digest`, `evidence` and `diff` are computed on first read. */
export interface ProposalDraft {
  readonly objects: KubernetesObject[];
  /** The policy model the objects were translated from, after the Segmentation's scope. */
  readonly model: NamespacePolicies;
  readonly digest: string;
  readonly evidence: RuleEvidenceOut[];
  readonly diff: { added: string[]; changed: string[]; removed: string[]; unified: string };
  readonly skipped: SkippedItem[];
  readonly edges: number;
}

export function buildProposal(input: ProposalInput): ProposalDraft {
  const denied = new Map((input.denied ?? []).map((d) => [edgeId(d), d]));
  const min = input.spec.minFlowsPerEdge;
  const edges: EdgeRecord[] = [];
  for (const e of input.edges) if (e.count >= min || (denied.size > 0 && denied.has(edgeId(e)))) edges.push(e);
  if (denied.size > 0) {
    const learned = new Set(edges.map(edgeId));
    for (const [id, d] of denied) {
      if (!learned.has(id)) edges.push({ client: d.client, server: d.server, port: d.port, protocol: d.protocol, count: d.count, firstSeen: d.firstDenied, lastSeen: d.lastDenied });
    }
  }
  const [model] = buildPolicyModel({
    edges,
    catalog: input.catalog,
    namespaces: [input.namespace],
    dnsNames: input.spec.externalBy === 'FQDN' ? input.dnsNames : NO_DNS_NAMES,
    apiserverIps: input.apiserverIps,
    ...(input.apiserverPorts ? { apiserverPorts: input.apiserverPorts } : {}),
    allowances: { dns: input.spec.allowDns, publicIngress: input.spec.allowPublicIngress, kubeApiserver: input.spec.allowKubeApiserver ?? false },
  });
  const context: TranslateContext = { nodeIps: input.nodeIps, podCidrs: input.podCidrs };
  const cilium = input.spec.flavor === 'CiliumNetworkPolicy';
  const scoped = cilium ? scope(model!, input) : withoutInexpressibleRules(scope(model!, input), context);
  const translation = cilium ? toCiliumPolicies(scoped) : toNetworkPolicies(scoped, context);
  const objects = translation.objects;
  // The digest, the evidence and the diff against the live policies are built when read: `learn`
  // needs none of them, most reconciles only compare the digest (is there anything new to
  // propose?), and rendering evidence and diff costs more than planning the policies.
  let digest: string | undefined;
  let evidence: RuleEvidenceOut[] | undefined;
  let diff: ProposalDraft['diff'] | undefined;
  return {
    objects,
    model: scoped,
    get digest() {
      return (digest ??= digestOf(objects));
    },
    get evidence() {
      return (evidence ??= evidenceOf(translation.placements, input.formatTime, denied));
    },
    get diff() {
      return (diff ??= diffAgainstLive(objects, input.live));
    },
    skipped: skippedOf(scoped),
    edges: edges.length,
  };
}

/** An edge as a reviewer reads it: `shop/Deployment/web -> shop/Deployment/api 8080/TCP`. */
export function describeEdge(e: { readonly client: string; readonly server: string; readonly port: number; readonly protocol: string }): string {
  return `${peerLabel(peerFromKey(e.client))} -> ${peerLabel(peerFromKey(e.server))} ${e.port}/${e.protocol}`;
}

/**
 * The learned edges an earlier revision's evidence shows that the learned graph no longer has,
 * described and sorted. Learning only adds edges (the edge store never forgets one), so any edge
 * here means learned state was lost (a deleted TrafficProfile, a restart in between): a revision
 * built now would silently narrow what was allowed before.
 */
export function edgesMissingFrom(
  previousEvidence: readonly { readonly edges: readonly { readonly client: string; readonly server: string; readonly port: number; readonly protocol: string }[] }[],
  learned: Iterable<{ readonly client: string; readonly server: string; readonly port: number; readonly protocol: string }>,
): string[] {
  const key = (e: { client: string; server: string; port: number; protocol: string }) => `${e.client} ${e.server} ${e.port}/${e.protocol}`;
  const have = new Set<string>();
  for (const e of learned) have.add(key(e));
  const missing = new Map<string, string>();
  for (const rule of previousEvidence) {
    for (const e of rule.edges) {
      const k = key(e);
      if (!have.has(k) && !missing.has(k)) missing.set(k, describeEdge(e));
    }
  }
  return [...missing.values()].sort();
}

/** {@link edgesMissingFrom} the newest of `revisions` (none: nothing is missing). */
export function edgesMissingFromNewest(
  revisions: readonly { readonly revision: number; readonly evidence: Parameters<typeof edgesMissingFrom>[0] }[],
  learned: Iterable<{ readonly client: string; readonly server: string; readonly port: number; readonly protocol: string }>,
): string[] {
  const newest = [...revisions].sort((a, b) => b.revision - a.revision)[0];
  return newest ? edgesMissingFrom(newest.evidence, learned) : [];
}

/**
 * Drops excluded workloads and workloads the Segmentation's selector does not select. The
 * namespace's default deny still selects their pods, so what they were seen doing is denied: each
 * one dropped is listed as skipped, saying so, rather than left out without a word.
 */
function scope(model: NamespacePolicies, input: ProposalInput): NamespacePolicies {
  const keep = (w: WorkloadPolicy): boolean => {
    if (input.spec.exclude.some((e) => e.kind === w.workload.kind && e.name === w.workload.name)) return false;
    if (!input.spec.selector) return true;
    const pods = input.catalog.get(peerKey(w.workload))?.pods;
    return pods !== undefined && [...pods.values()].every((labels) => matchesSelector(input.spec.selector!, labels));
  };
  const kept = model.workloads.filter(keep);
  if (kept.length === model.workloads.length) return model;
  const dropped = model.workloads.filter((w) => !kept.includes(w)).map((w) => ({ workload: w.workload, reason: OUT_OF_SCOPE }));
  return { ...model, workloads: kept, skipped: [...model.skipped, ...dropped] };
}

const OUT_OF_SCOPE = 'outside spec.workloads (excluded, or not matched by its selector): it gets no policy of its own, and the namespace\'s default deny denies the traffic it was seen with';

/** The workloads the model could not give a policy, then the rules it left out, as peer keys. */
function skippedOf(model: NamespacePolicies): SkippedItem[] {
  return [
    ...model.skipped.map((s) => ({ workload: peerKey(s.workload), reason: s.reason })),
    ...model.droppedRules.map((d) => ({ workload: peerKey(d.workload), direction: d.direction, peer: d.peer, reason: d.reason })),
  ];
}

/**
 * The evidence of every rule, with `index` = the rule's position in the written object (where the
 * translator placed it), so `explain` points at the YAML a reviewer sees. A rule that needs no YAML
 * (host ingress under NetworkPolicy) has index -1.
 */
function evidenceOf(placements: readonly RulePlacement[], formatTime: (ms: number) => string, denied: ReadonlyMap<string, DeniedEdge>): RuleEvidenceOut[] {
  return placements.map(({ policy, direction, rule, index }) => ({
    policy,
    direction,
    index,
    peer: describePeer(rule.peer),
    ports: rule.ports.map((p) => `${p.port}/${p.protocol}`),
    ...(rule.allowance ? { allowance: rule.allowance } : {}),
    edges: rule.evidence.map((e) => ({
      client: e.client,
      server: e.server,
      port: e.port,
      protocol: e.protocol,
      count: e.count,
      firstSeen: formatTime(e.firstSeen),
      lastSeen: formatTime(e.lastSeen),
      ...deniedMark(denied.get(edgeId(e)), formatTime),
    })),
  }));
}

/** The evidence mark of an edge enforced policies denied: "denied N times since <time> while enforced". */
function deniedMark(d: DeniedEdge | undefined, formatTime: (ms: number) => string): { denied?: { count: number; since: string; note: string } } {
  if (!d) return {};
  const since = formatTime(d.firstDenied);
  return { denied: { count: d.count, since, note: `denied ${d.count} times since ${since} while enforced` } };
}

function describePeer(peer: ModelPeer): string {
  switch (peer.kind) {
    case 'workload':
      return peerLabel(peer.workload);
    case 'world':
      return peer.names.length > 0 ? `world ${peer.ip} (${peer.names.join(', ')})` : `world ${peer.ip}`;
    case 'public':
      return 'public (any address outside the cluster)';
    case 'host':
      return 'host';
    case 'remote-node':
      return `remote-node ${peer.ip}`;
    case 'kube-apiserver':
      return `kube-apiserver ${peer.ips.join(', ')}`;
  }
}

/** Which objects the proposal adds, changes or removes relative to the live ones, and the unified diff. */
export function diffAgainstLive(objects: readonly KubernetesObject[], live: readonly KubernetesObject[]): ProposalDraft['diff'] {
  const key = (o: KubernetesObject) => `${o.kind}/${o.metadata.name}`;
  const liveByKey = new Map(live.map((o) => [key(o), o]));
  const wantByKey = new Map(objects.map((o) => [key(o), o]));
  const added: string[] = [];
  const changed: string[] = [];
  const removed: string[] = [];
  const patches: string[] = [];
  for (const [k, o] of [...wantByKey].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const current = liveByKey.get(k);
    const want = toYaml(canonicalPolicyOrder(o));
    if (!current) added.push(k);
    const have = current ? toYaml(canonicalPolicyOrder(comparable(current))) : '';
    if (current && have !== want) changed.push(k);
    if (have !== want) patches.push(createTwoFilesPatch(current ? `live/${k}` : '/dev/null', `proposed/${k}`, have, want, '', '', { context: 3 }));
  }
  for (const [k, o] of [...liveByKey].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (wantByKey.has(k)) continue;
    removed.push(k);
    patches.push(createTwoFilesPatch(`live/${k}`, '/dev/null', toYaml(canonicalPolicyOrder(comparable(o))), '', '', '', { context: 3 }));
  }
  return { added, changed, removed, unified: patches.join('') };
}

/** Only hivewall's annotations; none at all when it wrote none (kubectl's last-applied is not ours). */
function ownAnnotations(annotations: Record<string, string> | undefined): { annotations?: Record<string, string> } {
  const own = Object.entries(annotations ?? {}).filter(([k]) => k.startsWith('hivewall.dev/'));
  return own.length > 0 ? { annotations: Object.fromEntries(own) } : {};
}

/** {@link comparable} as key-order-independent text: equal texts mean the live object is what hivewall wrote (drift checks). */
export function comparableText(o: KubernetesObject): string {
  return canonicalJson(comparable(o));
}

/** A live object reduced to what hivewall writes (no status, no server-set metadata, no labels or annotations others added). */
export function comparable(o: KubernetesObject): KubernetesObject {
  const m = o.metadata as Record<string, unknown>;
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: {
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      ...(m.labels ? { labels: Object.fromEntries(Object.entries(m.labels as Record<string, string>).filter(([k]) => k === 'app.kubernetes.io/managed-by')) } : {}),
      ...ownAnnotations(m.annotations as Record<string, string> | undefined),
    },
    spec: (o as { spec?: unknown }).spec,
  } as KubernetesObject;
}
