/**
 * `kubectl hivewall status`: where each Segmentation stands — mode, phase, learning progress, the
 * current proposal and its decision, audit findings, enforcement — one row each, with the message
 * of every condition that needs attention printed under its row. `-o json|yaml` prints the raw
 * status instead.
 */
import { dump } from 'js-yaml';
import type { PluginIo } from './commands.js';
import type { Connection } from './connection.js';
import { GROUP, VERSION, humanAge, renderTable } from './format.js';
import { APPROVAL_WAIVED_BY_ANNOTATION } from '../../domain/approval.js';
import { arr, listSegmentations, num, rec, str } from './reads.js';
import { escapeControl } from '../terminal.js';

export type StatusOutput = 'table' | 'json' | 'yaml';

export interface ConditionView {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message: string;
}

/** What the table shows of a Segmentation, read leniently. */
export interface SegmentationView {
  readonly namespace: string;
  readonly name: string;
  readonly mode: string;
  readonly phase: string;
  readonly flows: number | undefined;
  readonly edges: number | undefined;
  readonly lastNewEdge: string;
  readonly proposal: { readonly name: string; readonly decision: string } | undefined;
  readonly wouldDeny: number | undefined;
  readonly auditFlows: number | undefined;
  readonly inSync: boolean | undefined;
  readonly conditions: readonly ConditionView[];
  readonly status: Record<string, unknown>;
  /**
   * Set when `spec.promotion.requireApproval` is false: who signed that (the
   * hivewall.dev/approval-waived-by annotation, checked by the admission policy), '' when nobody did.
   */
  readonly approvalWaivedBy: string | undefined;
}

export function viewSegmentation(raw: unknown): SegmentationView {
  const o = rec(raw);
  const metadata = rec(o['metadata']);
  const spec = rec(o['spec']);
  const status = rec(o['status']);
  const learning = rec(status['learning']);
  const proposal = rec(status['proposal']);
  const audit = status['audit'] === undefined ? undefined : rec(status['audit']);
  const enforcement = rec(status['enforcement']);
  return {
    namespace: str(metadata['namespace']),
    name: str(metadata['name']),
    mode: str(spec['mode']) || 'Learn',
    phase: str(status['phase']),
    flows: num(learning['flows']),
    edges: num(learning['edges']),
    lastNewEdge: str(learning['lastNewEdge']),
    proposal: str(proposal['name']) ? { name: str(proposal['name']), decision: str(proposal['decision']) || 'Pending' } : undefined,
    wouldDeny: audit ? num(audit['wouldDeny']) ?? 0 : undefined,
    auditFlows: audit ? num(audit['flows']) : undefined,
    inSync: typeof enforcement['inSync'] === 'boolean' ? enforcement['inSync'] : undefined,
    conditions: arr(status['conditions']).map((c) => {
      const r = rec(c);
      return { type: str(r['type']), status: str(r['status']), reason: str(r['reason']), message: str(r['message']) };
    }),
    status,
    approvalWaivedBy: rec(spec['promotion'])['requireApproval'] === false ? str(rec(metadata['annotations'])[APPROVAL_WAIVED_BY_ANNOTATION]) : undefined,
  };
}

/** The line under a Segmentation whose proposals are enforced without review, or undefined. */
export function waiverLine(v: SegmentationView): string | undefined {
  if (v.approvalWaivedBy === undefined) return undefined;
  return v.approvalWaivedBy
    ? `    approval waived by ${JSON.stringify(v.approvalWaivedBy)} (promotion.requireApproval: false): proposals are enforced without a review`
    : `    promotion.requireApproval is false but unsigned (no ${APPROVAL_WAIVED_BY_ANNOTATION} annotation): proposals still need a review`;
}

/**
 * Conditions that need a person's attention: the ones that are not True although they should be
 * (Ready, AuditClean, Enforced refused or out of sync), and Degraded when it is True.
 */
export function attention(conditions: readonly ConditionView[]): ConditionView[] {
  return conditions.filter((c) => {
    switch (c.type) {
      case 'Degraded':
        return c.status === 'True';
      case 'Ready':
      case 'AuditClean':
        return c.status === 'False';
      case 'Approved':
        return c.status === 'False' && (c.reason === 'ReviewNotPinned' || c.reason === 'ContentDigestMismatch' || c.reason === 'ObjectsNotApplicable' || c.reason === 'LegacyProposal');
      case 'Enforced':
        return c.status === 'False' && (c.reason === 'PromotionRefused' || c.reason === 'GitOpsOutOfSync' || c.reason === 'LegacyProposal');
      default:
        return false;
    }
  });
}

const orNone = (n: number | undefined) => (n === undefined ? '<none>' : String(n));

/** `yes (in sync)`, `no (Auditing)`, `<none>`: the Enforced condition and whether live matches approved. */
export function enforcedCell(v: SegmentationView): string {
  const enforced = v.conditions.find((c) => c.type === 'Enforced');
  const sync = v.inSync === undefined ? '' : v.inSync ? 'in sync' : 'out of sync';
  if (!enforced) return sync || '<none>';
  if (enforced.status === 'True') return `yes${sync ? ` (${sync})` : ''}`;
  return `no${enforced.reason ? ` (${enforced.reason})` : ''}`;
}

export function statusTable(segmentations: readonly SegmentationView[], now: Date): string {
  const sorted = [...segmentations].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  const header = ['NAMESPACE', 'NAME', 'MODE', 'PHASE', 'FLOWS', 'EDGES', 'LAST NEW EDGE', 'PROPOSAL', 'WOULD-DENY', 'ENFORCED'];
  const rows = sorted.map((v) => [
    v.namespace, v.name, v.mode, v.phase || '<none>', orNone(v.flows), orNone(v.edges),
    v.lastNewEdge ? `${humanAge(v.lastNewEdge, now)} ago` : '<none>',
    v.proposal ? `${v.proposal.name} (${v.proposal.decision})` : '<none>',
    orNone(v.wouldDeny),
    enforcedCell(v),
  ]);
  const lines = renderTable(header, rows).split('\n');
  const out: string[] = [lines[0] ?? ''];
  sorted.forEach((v, i) => {
    out.push(lines[i + 1] ?? '');
    const waiver = waiverLine(v);
    if (waiver) out.push(waiver);
    for (const c of attention(v.conditions)) out.push(`    ${c.type}=${c.status} ${c.reason}: ${c.message}`);
  });
  return out.join('\n') + '\n';
}

/** The raw status of each Segmentation, as a kubectl-style List. */
export function rawStatus(segmentations: readonly SegmentationView[], output: 'json' | 'yaml'): string {
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    items: [...segmentations]
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name))
      .map((v) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: 'Segmentation', metadata: { name: v.name, namespace: v.namespace }, status: v.status })),
  };
  return output === 'json' ? `${JSON.stringify(list, null, 2)}\n` : dump(list, { lineWidth: -1, noRefs: true });
}

export async function printStatus(conn: Connection, allNamespaces: boolean, output: StatusOutput, io: PluginIo, now: () => Date): Promise<void> {
  const namespace = allNamespaces ? undefined : conn.namespace;
  const views = (await listSegmentations(conn, namespace)).map(viewSegmentation);
  if (output !== 'table') {
    io.stdout.write(escapeControl(rawStatus(views, output)));
    return;
  }
  if (views.length === 0) {
    io.stderr.write(namespace ? `No Segmentations found in namespace ${namespace}.\n` : 'No Segmentations found.\n');
    return;
  }
  io.stdout.write(escapeControl(statusTable(views, now())));
}
