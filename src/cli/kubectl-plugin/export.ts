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
 * - approved: per Segmentation, the newest Approved PolicyProposal (or, with
 *   `promotion.requireApproval: false`, the newest one not Rejected) — what the operator audits
 *   and enforces. `--include-proposed` takes the newest proposal still Pending instead, to open a
 *   pull request before the decision.
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
 * Per namespace and Segmentation, the proposal to export: the newest approved one (the rule the
 * operator uses), or with `includeProposed` the newest one that is neither rejected nor superseded.
 * Pure.
 */
export function chooseProposals(proposals: readonly unknown[], segmentations: readonly unknown[], includeProposed: boolean): NamespaceExport[] {
  const requireApproval = new Map<string, boolean>();
  for (const s of segmentations) {
    const o = rec(s);
    const flag = rec(rec(rec(o['spec'])['promotion']))['requireApproval'];
    requireApproval.set(`${str(rec(o['metadata'])['namespace'])}/${str(rec(o['metadata'])['name'])}`, flag !== false);
  }
  const groups = new Map<string, { summary: ProposalSummary; raw: Record<string, unknown> }[]>();
  for (const raw of proposals) {
    const summary = summarizeProposal(raw);
    if (!summary.namespace || !summary.name) continue;
    const key = `${summary.namespace}/${summary.segmentation}`;
    groups.set(key, [...(groups.get(key) ?? []), { summary, raw: rec(raw) }]);
  }
  const byNamespace = new Map<string, { objects: KubernetesObject[]; sources: string[]; notes: string[] }>();
  for (const [key, list] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const newestFirst = [...list].sort((a, b) => (b.summary.revision ?? 0) - (a.summary.revision ?? 0) || b.summary.name.localeCompare(a.summary.name));
    const needsApproval = requireApproval.get(key) ?? true;
    const isApproved = (p: ProposalSummary) => p.decision === 'Approved' || (!needsApproval && p.decision !== 'Rejected');
    const approved = newestFirst.find((p) => isApproved(p.summary));
    const proposed = newestFirst.find((p) => p.summary.decision !== 'Rejected' && (isApproved(p.summary) || p.summary.phase !== 'Superseded'));
    const chosen = includeProposed ? proposed : approved;
    const namespace = list[0]!.summary.namespace;
    const segmentation = list[0]!.summary.segmentation || '<none>';
    const entry = byNamespace.get(namespace) ?? { objects: [], sources: [], notes: [] };
    byNamespace.set(namespace, entry);
    const newest = newestFirst[0]!.summary;
    if (!chosen) {
      entry.notes.push(`${namespace}: nothing to export for segmentation ${segmentation}: no approved PolicyProposal (newest: ${describeProposal(newest)})${
        newest.decision === 'Pending' ? `; approve it (kubectl hivewall approve ${newest.name} -n ${namespace}) or pass --include-proposed` : ''}`);
      continue;
    }
    entry.objects.push(...proposalObjects(chosen.raw));
    entry.sources.push(describeProposal(chosen.summary));
    if (!isApproved(chosen.summary)) {
      entry.notes.push(`${namespace}: ${chosen.summary.name} is not approved yet (${chosen.summary.decision}): exported because of --include-proposed`);
    } else if (!includeProposed && newest !== chosen.summary && newest.decision === 'Pending' && newest.phase !== 'Superseded') {
      entry.notes.push(`${namespace}: ${newest.name} (Pending) is newer than the approved ${chosen.summary.name}: review it, or pass --include-proposed to export it`);
    }
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
