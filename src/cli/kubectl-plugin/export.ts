/**
 * `kubectl hivewall export --out <dir>`: the approved (default) or the enforced policies as a
 * GitOps layout, `<out>/<namespace>/<name>.yaml` plus `<out>/<namespace>/kustomization.yaml`,
 * written by the same writer `hivewall learn` uses (`writeNamespacePolicies`): a file is rewritten
 * only when its bytes change, and a stale file is removed only if hivewall wrote it.
 *
 * Objects read back from the API server come in the server's key order; they are put back in
 * hivewall's order ({@link canonicalPolicyOrder}) first, so the files are byte-identical to what
 * `hivewall learn` writes for the same policies and a re-run after a change touches only the files
 * of the policies that changed.
 *
 * - approved: per Segmentation, the proposal the operator audits and enforces, chosen by the
 *   operator's own rule (`judgeProposals`, src/domain/approval.ts: bound by ownerReference and
 *   content, content digest and review pins checked). `--include-proposed` takes the newest
 *   proposal still Pending instead, to open a pull request before the decision.
 * - enforced: the live NetworkPolicies / CiliumNetworkPolicies labelled
 *   `app.kubernetes.io/managed-by=hivewall`, reduced to what hivewall writes (no status, no
 *   server-set metadata, no labels or annotations others added). Both kinds must be readable
 *   (the hivewall-viewer and hivewall-reviewer roles read them): an export that says it is what is
 *   live never leaves a kind out.
 */
import path from 'node:path';
import type { KubernetesObject } from '../../domain/translate/networkpolicy.js';
import { InputError, UsageError } from '../errors.js';
import { OutputPathError, planNamespacePolicies, writePlan, type NamespacePlan, type WriteResult } from '../write-policies.js';
import { canonicalPolicyOrder } from '../../domain/translate/canonical.js';
import type { PluginIo } from './commands.js';
import type { Connection } from './connection.js';
import { liveAsWritten, proposalObjects } from './diff.js';
import { summarizeProposal, type ProposalSummary } from './format.js';
import { listManagedPolicies, listProposalObjects, listSegmentations, rec, str } from './reads.js';
import { policyProposalSchema, type PolicyProposal } from '../../api/policy-proposal.js';
import { segmentationSchema } from '../../api/segmentation.js';
import { judgeProposals, proposalRefusal } from '../../domain/approval.js';
import { approvalCandidate, approvalSegmentation } from '../../controllers/segmentation/approval-facts.js';
import { escapeControl } from '../terminal.js';

export type ExportSource = 'approved' | 'enforced';

export interface ExportOptions {
  readonly out: string;
  readonly allNamespaces: boolean;
  readonly from: ExportSource;
  readonly includeProposed: boolean;
}

/** What to export for one namespace: the objects, where they come from, and anything worth saying. */
export interface NamespaceExport {
  readonly namespace: string;
  readonly objects: readonly KubernetesObject[];
  /** `shop-r2 (Approved by rita)`, `live policies`. */
  readonly source: string;
  readonly notes: readonly string[];
}

const describeProposal = (p: ProposalSummary) => `${p.name} (${p.decision}${p.reviewer && p.decision !== 'Pending' ? ` by ${p.reviewer}` : ''})`;

/**
 * Per Segmentation, the proposal to export, by the operator's own rule ({@link judgeProposals}):
 * only proposals bound to the Segmentation (its controller ownerReference and the immutable
 * `spec.content.segmentation`; the `hivewall.dev/segmentation` label decides nothing), whose content
 * hashes to `spec.contentDigest`, whose review pins this object and content, and which hold only
 * NetworkPolicies / CiliumNetworkPolicies of the namespace. A relabelled, foreign or re-created
 * proposal is never exported. With `includeProposed`, the newest bound proposal that is neither
 * rejected nor superseded and passes the same content checks (everything but the review). Pure.
 */
export function chooseProposals(proposals: readonly unknown[], segmentations: readonly unknown[], includeProposed: boolean): NamespaceExport[] {
  const byNamespace = new Map<string, { objects: KubernetesObject[]; sources: string[]; notes: string[] }>();
  const entry = (namespace: string) => {
    let e = byNamespace.get(namespace);
    if (!e) byNamespace.set(namespace, (e = { objects: [], sources: [], notes: [] }));
    return e;
  };
  const parsed: PolicyProposal[] = [];
  for (const raw of proposals) {
    const r = policyProposalSchema.safeParse(raw);
    const meta = rec(rec(raw)['metadata']);
    if (r.success) parsed.push(r.data);
    else if (str(meta['namespace'])) entry(str(meta['namespace'])).notes.push(`${str(meta['namespace'])}: policyproposal ${str(meta['name'])} is not valid (${r.error.issues[0]?.path.join('.') ?? ''}: ${r.error.issues[0]?.message ?? 'schema mismatch'}): ignored`);
  }
  const segs = segmentations.flatMap((raw) => {
    const r = segmentationSchema.safeParse(raw);
    return r.success ? [r.data] : [];
  }).sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  const boundNames = new Set<string>();

  for (const seg of segs) {
    const namespace = seg.metadata.namespace ?? '';
    const segmentation = seg.metadata.name;
    const e = entry(namespace);
    const own = parsed.filter((p) => p.metadata.namespace === namespace);
    const approval = approvalSegmentation(seg);
    const candidates = new Map(own.map((p) => [p.metadata.name, approvalCandidate(p)]));
    const judgement = judgeProposals(approval, [...candidates.values()]);
    for (const name of judgement.bound) boundNames.add(`${namespace}/${name}`);
    const bound = judgement.bound.map((name) => own.find((p) => p.metadata.name === name)!);
    for (const r of judgement.refused) e.notes.push(`${namespace}: not exported: ${r.message}`);
    if (bound.length === 0) {
      e.notes.push(`${namespace}: nothing to export for segmentation ${segmentation}: no PolicyProposal belongs to it (its ownerReference and spec.content.segmentation)`);
      continue;
    }
    const approved = bound.find((p) => p.metadata.name === judgement.approved?.name);
    const proposed = bound.find((p) => p === approved || (p.spec.review.decision !== 'Rejected' && p.status?.phase !== 'Superseded'
      && proposalRefusal(approval, candidates.get(p.metadata.name)!, false) === undefined));
    const chosen = includeProposed ? proposed : approved;
    const newest = summarizeProposal(bound[0]);
    if (!chosen) {
      e.notes.push(`${namespace}: nothing to export for segmentation ${segmentation}: no approved PolicyProposal (newest: ${describeProposal(newest)})${
        newest.decision === 'Pending' && !judgement.refused.some((r) => r.name === newest.name) ? `; approve it (kubectl hivewall approve ${newest.name} -n ${namespace}) or pass --include-proposed` : ''}`);
      continue;
    }
    const summary = summarizeProposal(chosen);
    e.objects.push(...proposalObjects(chosen));
    e.sources.push(describeProposal(summary));
    if (chosen !== approved) {
      e.notes.push(`${namespace}: ${summary.name} is not approved yet (${summary.decision}): exported because of --include-proposed`);
    } else if (!includeProposed && bound[0] !== chosen && newest.decision === 'Pending' && newest.phase !== 'Superseded' && !judgement.refused.some((r) => r.name === newest.name)) {
      e.notes.push(`${namespace}: ${newest.name} (Pending) is newer than the approved ${summary.name}: review it, or pass --include-proposed to export it`);
    }
  }
  // Proposals no Segmentation owns (relabelled, foreign, left from a deleted Segmentation): never exported.
  for (const p of parsed) {
    const namespace = p.metadata.namespace ?? '';
    if (boundNames.has(`${namespace}/${p.metadata.name}`)) continue;
    entry(namespace).notes.push(`${namespace}: ${p.metadata.name} is not exported: no Segmentation of ${namespace} owns it (ownerReference and spec.content.segmentation ${JSON.stringify(p.spec.content.segmentation)})`);
  }
  return [...byNamespace].sort(([a], [b]) => a.localeCompare(b)).map(([namespace, e]) => ({ namespace, objects: e.objects, source: e.sources.join(', '), notes: e.notes }));
}

/** Live objects grouped by namespace, reduced to what hivewall writes ({@link liveAsWritten}). Pure. */
export function groupLive(live: readonly KubernetesObject[]): NamespaceExport[] {
  const byNamespace = new Map<string, KubernetesObject[]>();
  for (const o of live) {
    const namespace = str(o.metadata.namespace);
    byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), liveAsWritten(o)]);
  }
  return [...byNamespace].sort(([a], [b]) => a.localeCompare(b))
    .map(([namespace, objects]) => ({ namespace, objects: objects.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name) || a.kind.localeCompare(b.kind)), source: 'live policies', notes: [] }));
}

/** One namespace folder checked (names, paths inside `outDir`) in canonical key order; throws OutputPathError. */
export function planExport(outDir: string, namespace: string, objects: readonly KubernetesObject[]): NamespacePlan {
  return planNamespacePolicies(outDir, namespace, objects.map(canonicalPolicyOrder));
}

/** Write one namespace folder: canonical key order, then the learn writer. */
export function writeExport(outDir: string, namespace: string, objects: readonly KubernetesObject[]): Promise<WriteResult> {
  return Promise.resolve().then(() => writePlan(planExport(outDir, namespace, objects)));
}

function report(out: string, e: NamespaceExport, r: WriteResult): string {
  const rel = (p: string) => path.relative(out, p) || p;
  const dir = path.join(out, e.namespace);
  const files = r.written.length + r.unchanged.length;
  const changes = r.written.length + r.removed.length === 0
    ? `${files} files unchanged`
    : `${r.written.length} written, ${r.unchanged.length} unchanged, ${r.removed.length} removed`;
  const lines = [`${e.namespace}: ${e.source} → ${dir}: ${e.objects.length} ${e.objects.length === 1 ? 'policy' : 'policies'}; ${changes}`];
  for (const p of r.written) lines.push(`  wrote   ${rel(p)}`);
  for (const p of r.removed) lines.push(`  removed ${rel(p)}`);
  return lines.join('\n') + '\n';
}

export async function runExport(conn: Connection, opts: ExportOptions, io: PluginIo): Promise<void> {
  if (opts.from === 'enforced' && opts.includeProposed) throw new UsageError('--include-proposed goes with --from approved: live policies have no proposals');
  const namespace = opts.allNamespaces ? undefined : conn.namespace;
  const where = namespace ? `namespace ${namespace}` : 'any namespace';
  let exports: NamespaceExport[];
  if (opts.from === 'enforced') {
    exports = groupLive((await listManagedPolicies(conn, namespace)).policies);
    if (exports.length === 0) {
      throw new InputError(`nothing to export: no live NetworkPolicy or CiliumNetworkPolicy labelled app.kubernetes.io/managed-by=hivewall in ${where} (kubectl hivewall status${namespace ? ` -n ${namespace}` : ' -A'} shows what is enforced)`);
    }
  } else {
    const [proposals, segmentations] = await Promise.all([listProposalObjects(conn, namespace), listSegmentations(conn, namespace)]);
    if (proposals.length === 0) throw new InputError(`nothing to export: there are no PolicyProposals in ${where}`);
    exports = chooseProposals(proposals, segmentations, opts.includeProposed);
  }
  const writable = exports.filter((e) => e.objects.length > 0);
  for (const e of exports) for (const note of e.notes) io.stderr.write(escapeControl(`note: ${note}\n`));
  if (writable.length === 0) throw new InputError(`nothing to export in ${where}: no approved PolicyProposal (see the notes above)`);
  const out = path.resolve(opts.out);
  // Names in proposals are not checked by the API server: every folder is checked before the first write.
  const plans = new Map<NamespaceExport, NamespacePlan>();
  for (const e of writable) {
    try {
      plans.set(e, planExport(out, e.namespace, e.objects));
    } catch (err) {
      if (err instanceof OutputPathError) throw new InputError(`refusing to export ${JSON.stringify(e.namespace)}: ${err.message}`);
      throw err;
    }
  }
  for (const e of writable) {
    let result: WriteResult;
    try {
      result = await writePlan(plans.get(e)!);
    } catch (err) {
      throw new InputError(`cannot write the policies of ${e.namespace} into ${path.join(opts.out, e.namespace)}: ${err instanceof Error ? err.message : String(err)}`);
    }
    io.stdout.write(escapeControl(report(opts.out, e, result)));
  }
}
