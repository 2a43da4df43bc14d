// Real-looking inputs for the plugin tests: the policies `hivewall learn` writes for examples/shop
// (its `main`, in-process), the evidence behind each rule from the same learned model, and helpers
// to create Segmentations, PolicyProposals and live policies as cluster admin, and to run
// `kubectl hivewall` in-process as some identity.
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough, Readable } from 'node:stream';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { load } from 'js-yaml';
import { learnFromInputs } from '../../src/cli/learn-pipeline.js';
import { main as hivewall } from '../../src/cli/main.js';
import { main as kubectlHivewall } from '../../src/cli/kubectl-plugin/main.js';
import { proposalContentDigest } from '../../src/domain/approval.js';
import { generatePolicies } from '../../src/domain/generate.js';
import { peerLabel } from '../../src/domain/peer.js';
import type { ModelPeer, ModelRule } from '../../src/domain/policy-model.js';
import type { RuleEvidenceOut } from '../../src/domain/proposal.js';
import { diffAgainstLive } from '../../src/domain/proposal.js';
import type { KubernetesObject } from '../../src/domain/translate/networkpolicy.js';
import { adminKubeConfig, kubectl } from '../harness/index.js';

export const repo = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = path.join(repo, 'examples', 'shop');
export const GROUP = 'hivewall.dev';
export const VERSION = 'v1alpha1';

export interface LearnedShop {
  /** The folder `hivewall learn --namespace shop --out <dir>` wrote. */
  readonly dir: string;
  /** File name → bytes, as learn wrote them into `<dir>/shop/`. */
  readonly files: ReadonlyMap<string, string>;
  /** The objects of those files, in kustomization order (default deny first, then by workload). */
  readonly objects: readonly KubernetesObject[];
  readonly evidence: readonly RuleEvidenceOut[];
}

const quietIo = () => {
  const sink = new PassThrough();
  sink.resume();
  return { stdout: sink, stderr: sink, stdin: Readable.from([]) };
};

/** `hivewall learn` on examples/shop for namespace shop, and the evidence of its rules. */
export async function learnShop(): Promise<LearnedShop> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hivewall-plugin-learn-'));
  const args = ['--flows', path.join(EXAMPLE, 'flows.hubble.jsonl'), '--cluster', path.join(EXAMPLE, 'cluster')];
  const code = await hivewall(['learn', ...args, '--namespace', 'shop', '--out', dir, '-q'], quietIo());
  if (code !== 0) throw new Error(`hivewall learn exited ${code}`);
  const files = new Map<string, string>();
  for (const name of (await readdir(path.join(dir, 'shop'))).sort()) files.set(name, await readFile(path.join(dir, 'shop', name), 'utf8'));
  const objects = [...files].filter(([name]) => name !== 'kustomization.yaml').map(([, text]) => load(text) as KubernetesObject);
  objects.sort((a, b) => (a.metadata.name === 'hivewall-default-deny' ? -1 : b.metadata.name === 'hivewall-default-deny' ? 1 : a.metadata.name.localeCompare(b.metadata.name)));

  // The evidence, as the operator records it: from the same learned model, rule by rule.
  const learned = await learnFromInputs({ flows: [path.join(EXAMPLE, 'flows.hubble.jsonl')], format: 'auto', cluster: path.join(EXAMPLE, 'cluster'), quiet: true }, quietIo());
  const result = generatePolicies(learned.learner, learned.identity, { flavor: 'networkpolicy', namespaces: ['shop'] });
  const model = result.namespaces[0]!.model;
  const evidence: RuleEvidenceOut[] = [];
  for (const w of model.workloads) {
    const object = objects.find((o) => (o.metadata['annotations'] as Record<string, string> | undefined)?.['hivewall.dev/workload'] === `${w.workload.kind}/${w.workload.name}`);
    if (!object) throw new Error(`no learned policy for ${w.workload.kind}/${w.workload.name}`);
    for (const direction of ['ingress', 'egress'] as const) {
      // A NetworkPolicy has no rule for ingress from the node (always allowed).
      const rules = w[direction].filter((r) => !(direction === 'ingress' && r.peer.kind === 'host'));
      const written = ((object['spec'] as Record<string, unknown[] | undefined>)[direction] ?? []).length;
      if (rules.length !== written) throw new Error(`${object.metadata.name} ${direction}: ${rules.length} model rules, ${written} written`);
      rules.forEach((rule, index) => evidence.push(ruleEvidence(object.metadata.name, direction, index, rule)));
    }
  }
  return { dir, files, objects, evidence };
}

function describePeer(peer: ModelPeer): string {
  switch (peer.kind) {
    case 'workload': return peerLabel(peer.workload);
    case 'world': return peer.names.length > 0 ? `world ${peer.ip} (${peer.names.join(', ')})` : `world ${peer.ip}`;
    case 'public': return 'public (any address outside the cluster)';
    case 'host': return 'host';
    case 'remote-node': return `remote-node ${peer.ip}`;
    case 'kube-apiserver': return `kube-apiserver ${peer.ips.join(', ')}`;
  }
}

function ruleEvidence(policy: string, direction: 'ingress' | 'egress', index: number, rule: ModelRule): RuleEvidenceOut {
  return {
    policy, direction, index,
    peer: describePeer(rule.peer),
    ports: rule.ports.map((p) => `${p.port}/${p.protocol}`),
    ...(rule.allowance ? { allowance: rule.allowance } : {}),
    edges: rule.evidence.map((e) => ({
      client: e.client, server: e.server, port: e.port, protocol: e.protocol, count: e.count,
      firstSeen: new Date(e.firstSeen).toISOString(), lastSeen: new Date(e.lastSeen).toISOString(),
    })),
  };
}

/** The learned object moved to another namespace (a fresh test namespace). */
export function inNamespace(o: KubernetesObject, namespace: string): KubernetesObject {
  return { ...o, metadata: { ...o.metadata, namespace } };
}

/** The bytes learn wrote, with `namespace: shop` → the test namespace. */
export function learnedFile(shop: LearnedShop, name: string, namespace: string): string {
  const text = shop.files.get(name);
  if (text === undefined) throw new Error(`learn wrote no ${name}`);
  return text.replace(/^ {2}namespace: shop$/m, `  namespace: ${namespace}`);
}

const custom = () => adminKubeConfig().makeApiClient(CustomObjectsApi);

/** A Segmentation as cluster admin, with the status the operator would have written; returns its uid. */
export async function createSegmentation(namespace: string, name: string, spec: Record<string, unknown>, status: Record<string, unknown>): Promise<string> {
  const api = custom();
  const created = await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'segmentations', body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'Segmentation', metadata: { name }, spec } }) as { metadata: { uid: string } };
  await setSegmentationStatus(namespace, name, status);
  return created.metadata.uid;
}

/** The status the operator would have written, as cluster admin (merge patch). */
export async function setSegmentationStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<void> {
  await custom().patchNamespacedCustomObjectStatus(
    { group: GROUP, version: VERSION, namespace, plural: 'segmentations', name, body: { status } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

/**
 * A PolicyProposal as the operator writes it (Pending), with the diff against `live` at creation,
 * owned by the Segmentation `shop` whose uid is `owner` (what binds a proposal to its Segmentation;
 * without it no Segmentation counts the proposal, see src/domain/approval.ts).
 */
export async function createShopProposal(namespace: string, revision: number, objects: readonly KubernetesObject[], evidence: readonly RuleEvidenceOut[], live: readonly KubernetesObject[] = [], owner?: string): Promise<string> {
  const name = `shop-r${revision}`;
  const content = {
    segmentation: 'shop', revision, flavor: 'NetworkPolicy', digest: `sha256:r${revision}`,
    objects, evidence, diff: diffAgainstLive(objects, live), skipped: ['shop/Pod/debug-shell: no unique selector (bare pod)'],
  };
  await custom().createNamespacedCustomObject({
    group: GROUP, version: VERSION, namespace, plural: 'policyproposals',
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'PolicyProposal',
      metadata: {
        name, labels: { 'hivewall.dev/segmentation': 'shop', 'app.kubernetes.io/managed-by': 'hivewall' },
        ...(owner ? { ownerReferences: [{ apiVersion: `${GROUP}/${VERSION}`, kind: 'Segmentation', name: 'shop', uid: owner, controller: true }] } : {}),
      },
      spec: {
        content,
        // As the operator writes it: the digest a review pins (src/domain/approval.ts).
        contentDigest: proposalContentDigest(content),
        review: { decision: 'Pending' },
      },
    },
  });
  return name;
}

/** A live policy as cluster admin (plain JSON through the generic API, like the operator applies). */
export async function createLivePolicy(o: KubernetesObject): Promise<void> {
  await custom().createNamespacedCustomObject({ group: 'networking.k8s.io', version: 'v1', namespace: o.metadata.namespace!, plural: 'networkpolicies', body: o });
}

/**
 * Delete what the tests created in a namespace, then the namespace. Without a namespace controller
 * its objects would stay in etcd; an orphaned Segmentation would then be reconciled by an operator
 * that a later test file runs.
 */
export async function deleteTestNamespace(ns: { readonly name: string; delete(): Promise<void> } | undefined): Promise<void> {
  if (!ns) return;
  await kubectl(['delete', 'segmentations.hivewall.dev,policyproposals.hivewall.dev,networkpolicies.networking.k8s.io', '--all', '-n', ns.name, '--wait=false']);
  await ns.delete();
}

export interface PluginRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `kubectl hivewall <args>` in-process as the identity of `kubeconfig`; `tty` makes stdout a terminal. */
export async function hw(args: readonly string[], kubeconfig: string, opts: { tty?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<PluginRun> {
  const out = Object.assign(new PassThrough(), { isTTY: opts.tty === true });
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await kubectlHivewall(args, { stdout: out, stderr: err }, { env: { HOME: '/nonexistent-home', KUBECONFIG: kubeconfig, ...opts.env } });
  return { code, stdout, stderr };
}
