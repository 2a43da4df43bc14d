/** Pure helpers of the plugin: reading proposals leniently, kubectl-style ages and tables. */
import { proposalContentDigest } from '../../domain/approval.js';

export { GROUP, PLURAL, VERSION } from './names.js';

/** What the plugin shows of a PolicyProposal; read leniently so one odd object never breaks a listing. */
export interface ProposalSummary {
  readonly namespace: string;
  readonly name: string;
  readonly resourceVersion: string;
  readonly creationTimestamp: string;
  readonly segmentation: string;
  readonly revision: number | undefined;
  readonly decision: string;
  readonly reviewer: string;
  readonly reviewedAt: string;
  readonly phase: string;
  /** metadata.uid, and the review's pins to it and to spec.contentDigest. */
  readonly uid: string;
  /** spec.contentDigest as stored, and the digest of spec.content computed here (undefined: invalid content). */
  readonly contentDigest: string;
  readonly computedDigest: string | undefined;
  readonly pinnedUID: string;
  readonly pinnedDigest: string;
  /** Coverage warnings: workloads the learning window could not have seen. */
  readonly coverage: number;
  /** Distinct edges proposed because enforced policies denied them. */
  readonly denied: number;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

export function summarizeProposal(raw: unknown): ProposalSummary {
  const o = obj(raw);
  const metadata = obj(o['metadata']);
  const spec = obj(o['spec']);
  const content = obj(spec['content']);
  const review = obj(spec['review']);
  const status = obj(o['status']);
  const revision = content['revision'];
  return {
    namespace: str(metadata['namespace']),
    name: str(metadata['name']),
    resourceVersion: str(metadata['resourceVersion']),
    creationTimestamp: str(metadata['creationTimestamp']),
    segmentation: str(content['segmentation']),
    revision: typeof revision === 'number' ? revision : undefined,
    decision: str(review['decision']) || 'Pending',
    reviewer: str(review['reviewer']),
    reviewedAt: str(review['reviewedAt']),
    phase: str(status['phase']),
    uid: str(metadata['uid']),
    contentDigest: str(spec['contentDigest']),
    computedDigest: proposalContentDigest(spec['content']),
    pinnedUID: str(review['proposalUID']),
    pinnedDigest: str(review['contentDigest']),
    coverage: Array.isArray(content['coverage']) ? content['coverage'].length : 0,
    denied: deniedEdgeCount(content['evidence']),
  };
}

/** Distinct client/server/port/protocol of evidence edges marked `denied`. */
function deniedEdgeCount(evidence: unknown): number {
  const edges = new Set<string>();
  for (const rule of Array.isArray(evidence) ? evidence : []) {
    for (const edge of Array.isArray(obj(rule)['edges']) ? (obj(rule)['edges'] as unknown[]) : []) {
      const e = obj(edge);
      if (Object.keys(obj(e['denied'])).length > 0) edges.add(`${str(e['client'])} ${str(e['server'])} ${String(e['port'])}/${str(e['protocol'])}`);
    }
  }
  return edges.size;
}

/** Lines under the proposals table for proposals a reviewer must look at closely (none: empty). */
export function proposalWarnings(proposals: readonly ProposalSummary[]): string {
  const lines = [...proposals].sort(compareProposals).filter((p) => p.coverage > 0 || p.denied > 0).map((p) => {
    const parts = [
      ...(p.denied > 0 ? [`${p.denied} denied ${p.denied === 1 ? 'edge' : 'edges'} (denied while enforced, proposed for review)`] : []),
      ...(p.coverage > 0 ? [`${p.coverage} coverage ${p.coverage === 1 ? 'warning' : 'warnings'} (traffic the learning window could not have seen)`] : []),
    ];
    return `${p.namespace}/${p.name}: ${parts.join('; ')}: kubectl hivewall explain ${p.name} -n ${p.namespace}\n`;
  });
  return lines.length > 0 ? `\n${lines.join('')}` : '';
}

/** `web-r3`, `policyproposal/web-r3`, `pp/web-r3`, `policyproposals.hivewall.dev/web-r3` → `web-r3`. */
export function proposalName(arg: string): string | undefined {
  const m = /^(?:(?:policyproposals?|proposals?|pp)(?:\.hivewall\.dev)?\/)?([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(arg);
  return m?.[1];
}

/** RFC 3339 in UTC with whole seconds, as Kubernetes writes times: `2025-01-31T12:00:00Z`. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** kubectl's age column (k8s.io/apimachinery/pkg/util/duration.HumanDuration). */
export function humanAge(fromIso: string, now: Date): string {
  const from = Date.parse(fromIso);
  if (Number.isNaN(from)) return '<unknown>';
  const ms = now.getTime() - from;
  if (ms < -1000) return '<invalid>';
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}

/** Left-aligned columns separated by three spaces, like `kubectl get`. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('   ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** Sort by namespace, segmentation, revision, name. */
export function compareProposals(a: ProposalSummary, b: ProposalSummary): number {
  return a.namespace.localeCompare(b.namespace)
    || a.segmentation.localeCompare(b.segmentation)
    || (a.revision ?? 0) - (b.revision ?? 0)
    || a.name.localeCompare(b.name);
}

/** `-o wide` adds the CONTENT digest and UID a review pins (approve --digest / --uid). */
export function proposalsTable(proposals: readonly ProposalSummary[], now: Date, wide = false): string {
  const rows = [...proposals].sort(compareProposals).map((p) => [
    p.namespace, p.name, p.segmentation || '<none>', p.revision === undefined ? '<none>' : String(p.revision),
    p.decision, p.reviewer || '<none>', humanAge(p.creationTimestamp, now),
    ...(wide ? [shownDigest(p), p.uid || '<none>'] : []),
  ]);
  return renderTable(['NAMESPACE', 'NAME', 'SEGMENTATION', 'REVISION', 'DECISION', 'REVIEWER', 'AGE', ...(wide ? ['CONTENT', 'UID'] : [])], rows);
}

/**
 * The digest of the content as read (what explain and diff show), or a marker when it is invalid or
 * does not hash to spec.contentDigest (approve refuses those).
 */
function shownDigest(p: ProposalSummary): string {
  if (p.computedDigest === undefined) return '<invalid content>';
  return p.computedDigest === p.contentDigest ? p.computedDigest : `${p.computedDigest} (NOT its spec.contentDigest)`;
}

/**
 * `content sha256:… (uid …)` and how to approve exactly that: what a reviewer passes to
 * `approve --digest`, so a proposal replaced under the same name after they looked is refused.
 */
export function contentLine(p: ProposalSummary): string {
  const line = `content ${shownDigest(p)} (uid ${p.uid || '<none>'})`;
  if (p.computedDigest === undefined || p.computedDigest !== p.contentDigest) return `${line}: it cannot be approved\n`;
  return `${line}: to approve exactly this, kubectl hivewall approve ${p.name} -n ${p.namespace} --digest ${p.computedDigest}\n`;
}
