/**
 * `kubectl hivewall report --out report.html [-n ns | -A] [--proposal <name>]`: one self-contained
 * HTML file (no CDN, works offline) with the interactive graph of what the operator learned and
 * decided in a namespace, read from the cluster:
 *
 * - the graph: the namespace's TrafficProfile (the learned edges), restored and built with the
 *   operator's own functions;
 * - proposed: the current PolicyProposal of the Segmentation (the newest one not superseded, or
 *   `--proposal`), with the evidence it recorded for every rule;
 * - enforced: what the live NetworkPolicies / CiliumNetworkPolicies labelled
 *   `app.kubernetes.io/managed-by=hivewall` (the Segmentation's flavor) allow, judged by the policy
 *   simulator; absent when none is live;
 * - would-deny: the audit findings in the Segmentation's status.
 *
 * Permissions: get/list on segmentations, trafficprofiles and policyproposals (hivewall.dev) in the
 * namespace, and list on the live policies of the Segmentation's flavor (networkpolicies.networking.k8s.io
 * or ciliumnetworkpolicies.cilium.io) — the hivewall-viewer or hivewall-reviewer ClusterRole has
 * all of it. Without list on the live policies (a role of an older deploy/, or a hand-made one)
 * the report still works: when the Segmentation status says the live policies are in sync with
 * the approved proposal (phase Enforcing), the approved proposal's objects stand in for them;
 * otherwise nothing is shown as enforced. Either way a note on stderr says so.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { API_VERSION } from '../../api/meta.js';
import { policyProposalSchema, type PolicyProposal } from '../../api/policy-proposal.js';
import { segmentationSchema, type Segmentation } from '../../api/segmentation.js';
import { trafficProfileSchema, type TrafficProfile } from '../../api/traffic-profile.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../domain/translate/naming.js';
import type { KubernetesObject } from '../../domain/translate/networkpolicy.js';
import { loadReportAssets, ReportAssetsMissingError, type ReportAssets } from '../../report/assets.js';
import { chooseProposal, clusterReportInput, type LiveState, type NamespaceObjects } from '../../report/cluster.js';
import type { ReportData } from '../../report/data.js';
import { buildReportData } from '../../report/model.js';
import { renderReportData } from '../../report/render.js';
import { InputError, UsageError } from '../errors.js';
import { apiFailure, toCliError } from './api-errors.js';
import type { PluginIo } from './commands.js';
import type { Connection } from './connection.js';
import { GROUP, VERSION, proposalName } from './format.js';
import { arr, LIVE_POLICY_ROLE_HINT, listProposalObjects, listSegmentations, POLICY_APIS, proposalNotFound, rec, retrying, str, VIEWER_ROLE_HINT } from './reads.js';
import { escapeControl } from '../terminal.js';

export interface ReportOptions {
  readonly out: string;
  readonly allNamespaces: boolean;
  /** A PolicyProposal to show as proposed instead of the current one (one namespace only). */
  readonly proposal?: string;
}

const TRAFFIC_PROFILES = 'trafficprofiles';

export async function runReport(conn: Connection, opts: ReportOptions, io: PluginIo, assets?: ReportAssets): Promise<void> {
  let wanted: string | undefined;
  if (opts.proposal !== undefined) {
    if (opts.allNamespaces) throw new UsageError('--proposal names a proposal of one namespace: use it with -n <namespace>, not with -A');
    wanted = proposalName(opts.proposal);
    if (!wanted) throw new UsageError(`"${opts.proposal}" is not a PolicyProposal name (expected e.g. shop-r3 or policyproposal/shop-r3)`);
  }
  const namespace = opts.allNamespaces ? undefined : conn.namespace;

  // One read after the other, so a user who may read none of them hears about the first one.
  const rawSegmentations = await listSegmentations(conn, namespace);
  const rawProfiles = await listTrafficProfiles(conn, namespace);
  const rawProposals = await listProposalObjects(conn, namespace);

  const notes: string[] = [];
  const segmentations = parseAll(rawSegmentations, (v) => segmentationSchema.safeParse(v), 'Segmentation', notes);
  const profiles = parseAll(rawProfiles, (v) => trafficProfileSchema.safeParse(v), 'TrafficProfile', notes);
  const proposals = parseAll(rawProposals, (v) => policyProposalSchema.safeParse(v), 'PolicyProposal', notes);

  let data: ReportData;
  try {
    data = await writeReport(conn, opts, { namespace, wanted, segmentations, profiles, proposals, notes, invalidSegmentations: rawSegmentations.length - segmentations.length }, assets);
  } finally {
    // Said before the result or the error (an object left out may be why).
    for (const note of notes) io.stderr.write(escapeControl(`note: ${note}\n`));
  }
  io.stdout.write(escapeControl(`${summaryLine(opts.out, data)}\n`));
}

interface ReadObjects {
  readonly namespace: string | undefined;
  readonly wanted: string | undefined;
  readonly segmentations: readonly Segmentation[];
  readonly profiles: readonly TrafficProfile[];
  readonly proposals: readonly PolicyProposal[];
  readonly notes: string[];
  /** Segmentations listed but not valid (named in the notes). */
  readonly invalidSegmentations: number;
}

/** Chooses what to show per Segmentation, reads the live policies, renders and writes the file. */
async function writeReport(conn: Connection, opts: ReportOptions, read: ReadObjects, assets: ReportAssets | undefined): Promise<ReportData> {
  const { namespace, wanted, segmentations, profiles, proposals, notes } = read;
  const where = namespace ? `namespace ${namespace}` : 'any namespace';
  if (segmentations.length === 0 && read.invalidSegmentations > 0) {
    throw new InputError(`no valid Segmentation in ${where} (see the note above): fix it (kubectl get segmentations -n <namespace> -o yaml shows it) and let the operator reconcile it`);
  }
  if (segmentations.length === 0) {
    throw new InputError(`no Segmentation in ${where}: hivewall does not segment it, so it has learned nothing to report (kubectl hivewall status -A lists the namespaces it segments)`);
  }
  if (wanted !== undefined && !proposals.some((p) => p.metadata.name === wanted)) {
    throw new InputError(await proposalNotFound(conn, namespace!, wanted));
  }

  const chosen: { segmentation: Segmentation; profile: TrafficProfile; proposals: PolicyProposal[]; proposal?: PolicyProposal }[] = [];
  const missing: string[] = [];
  for (const seg of sortByName(segmentations)) {
    const ns = namespaceOf(seg);
    const profile = profiles.find((p) => namespaceOf(p) === ns && (p.spec.segmentation === seg.metadata.name || p.metadata.name === seg.metadata.name));
    if (!profile || profile.spec.edges.length === 0) {
      missing.push(noProfile(seg));
      continue;
    }
    const own = proposals.filter((p) => namespaceOf(p) === ns && p.spec.content.segmentation === seg.metadata.name);
    const named = wanted !== undefined ? own.find((p) => p.metadata.name === wanted) : undefined;
    const proposal = named ?? chooseProposal(own, seg.metadata.name);
    chosen.push({ segmentation: seg, profile, proposals: own, ...(proposal ? { proposal } : {}) });
  }
  if (chosen.length === 0) {
    if (missing.length === 1) throw new InputError(missing[0]!);
    throw new InputError(`no Segmentation in ${where} has a TrafficProfile yet: learning has not produced a profile (${missing.length} Segmentations; kubectl hivewall status${namespace ? ` -n ${namespace}` : ' -A'} shows their progress)`);
  }
  for (const m of missing) notes.push(`${m}; it is left out of the report`);
  if (wanted !== undefined && !chosen.some((c) => c.proposal?.metadata.name === wanted)) {
    notes.push(`policyproposal ${wanted} belongs to no Segmentation with a TrafficProfile in ${where}: it is not shown`);
  }

  const objects: NamespaceObjects[] = [];
  const liveByNamespace = new Map<string, LiveState>();
  for (const c of chosen) {
    const ns = namespaceOf(c.segmentation);
    let live = liveByNamespace.get(ns);
    if (!live) {
      live = await readLive(conn, c.segmentation, c.proposals, notes);
      liveByNamespace.set(ns, live);
    }
    objects.push({ ...c, live });
  }

  const report = clusterReportInput(objects, { source: describeSource(conn, objects) });
  notes.push(...report.notes);
  const data = buildReportData(report.input);
  const html = renderReportData(data, assets ?? readAssets());
  try {
    await mkdir(path.dirname(path.resolve(opts.out)), { recursive: true });
    await writeFile(opts.out, html);
  } catch (err) {
    throw new InputError(`cannot write the report to ${opts.out}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return data;
}

/** `wrote <file>: N workloads, M edges (P proposed, E enforced, W would-deny)`. */
export function summaryLine(file: string, data: ReportData): string {
  const s = data.summary;
  return `wrote ${file}: ${s.workloads} workloads, ${s.edges} edges (${s.byStatus.proposed} proposed, ${s.byStatus.enforced} enforced, ${s.byStatus['would-deny']} would-deny)`;
}

function readAssets(): ReportAssets {
  try {
    return loadReportAssets();
  } catch (err) {
    if (err instanceof ReportAssetsMissingError) throw new InputError(`cannot write the report: ${err.message}`);
    throw err;
  }
}

const namespaceOf = (o: { readonly metadata: { readonly namespace?: string | undefined } }): string => o.metadata.namespace ?? 'default';
const sortByName = <T extends { readonly metadata: { readonly name: string; readonly namespace?: string | undefined } }>(list: readonly T[]): T[] =>
  [...list].sort((a, b) => namespaceOf(a).localeCompare(namespaceOf(b)) || a.metadata.name.localeCompare(b.metadata.name));

/** Valid objects; an invalid one is named in a note and left out (it never breaks the report). */
function parseAll<T>(items: readonly unknown[], parse: (v: unknown) => { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } }, kind: string, notes: string[]): T[] {
  const out: T[] = [];
  for (const item of items) {
    const o = rec(item);
    const r = parse({ apiVersion: API_VERSION, kind, ...o });
    if (r.success) {
      out.push(r.data);
      continue;
    }
    const m = rec(o['metadata']);
    const issue = r.error.issues[0];
    notes.push(`${kind} ${str(m['namespace'])}/${str(m['name'])} is not valid (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'schema mismatch'}): it is left out`);
  }
  return out;
}

/** Why a Segmentation has nothing to report yet, and what to do. */
function noProfile(seg: Segmentation): string {
  const ns = namespaceOf(seg);
  const learning = seg.status?.learning;
  const progress = `phase ${seg.status?.phase ?? 'not reconciled yet'}, ${learning?.flows ?? 0} flows, ${learning?.edges ?? 0} edges`;
  return `segmentation ${ns}/${seg.metadata.name} has no TrafficProfile yet: learning has not produced a profile (${progress}); `
    + `the operator writes one once it has seen traffic in ${ns} (kubectl hivewall status -n ${ns} shows its progress)`;
}

async function listTrafficProfiles(conn: Connection, namespace: string | undefined): Promise<unknown[]> {
  const api = conn.kubeConfig.makeApiClient(CustomObjectsApi);
  try {
    const list: unknown = await retrying(() => namespace === undefined
      ? api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: TRAFFIC_PROFILES })
      : api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: TRAFFIC_PROFILES }));
    return arr(rec(list)['items']);
  } catch (err) {
    throw toCliError(err, conn, {
      action: namespace ? `list ${TRAFFIC_PROFILES} in ${namespace}` : `list ${TRAFFIC_PROFILES} in all namespaces`,
      forbidden: (f) => namespace
        ? `you are not allowed to read ${TRAFFIC_PROFILES} in ${namespace}: ${VIEWER_ROLE_HINT} (the API server said: ${f.message})`
        : `you are not allowed to list ${TRAFFIC_PROFILES} in all namespaces: use -n <namespace>, or ask for a cluster-wide binding of hivewall-viewer (the API server said: ${f.message})`,
      notFound: () => `the TrafficProfile API (${TRAFFIC_PROFILES}.${GROUP}/${VERSION}) is not installed on ${conn.server}: install hivewall with kubectl apply -k deploy/`,
    });
  }
}

/**
 * The live hivewall policies of the Segmentation's flavor in its namespace. When the user may not
 * list them: the approved proposal's objects if the status says the live policies equal them,
 * otherwise unknown. Either way a note says so.
 */
async function readLive(conn: Connection, seg: Segmentation, proposals: readonly PolicyProposal[], notes: string[]): Promise<LiveState> {
  const namespace = namespaceOf(seg);
  const api = POLICY_APIS.find((a) => a.kind === seg.spec.flavor) ?? POLICY_APIS[0];
  const custom = conn.kubeConfig.makeApiClient(CustomObjectsApi);
  try {
    const list: unknown = await retrying(() => custom.listNamespacedCustomObject({
      group: api.group, version: api.version, namespace, plural: api.plural, labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
    }));
    const policies = arr(rec(list)['items']).map((item) => {
      const o = rec(item);
      return { ...o, apiVersion: `${api.group}/${api.version}`, kind: api.kind, metadata: { ...rec(o['metadata']), name: str(rec(o['metadata'])['name']), namespace } } as KubernetesObject;
    });
    return { from: 'api', policies };
  } catch (err) {
    const f = apiFailure(err);
    // The policy API is not served (no Cilium CRD): nothing of that kind can be live.
    if (f?.code === 404 && !f.name) return { from: 'api', policies: [] };
    if (f?.code !== 403) throw toCliError(err, conn, { action: `list ${api.plural}.${api.group} in ${namespace}` });
    const status = seg.status;
    const approved = proposals.find((p) => p.metadata.name === status?.approvedProposal);
    const cannot = `you may not list ${api.plural}.${api.group} in ${namespace}`;
    const grant = `for the live view, ${LIVE_POLICY_ROLE_HINT}`;
    if (status?.phase === 'Enforcing' && status.enforcement?.inSync === true && approved) {
      notes.push(`${cannot}: enforced edges are judged on the objects of ${approved.metadata.name}, which the Segmentation status reports in sync with the live policies; ${grant}`);
      return { from: 'status', proposal: approved.metadata.name, policies: approved.spec.content.objects as unknown as KubernetesObject[] };
    }
    // hivewall applies nothing before Enforcing (with Apply delivery): then there is nothing to miss.
    if (status?.phase === 'Enforcing' || seg.spec.delivery === 'GitOps') {
      notes.push(`${cannot}: the report shows no edge of ${namespace} as enforced; ${grant}`);
    }
    return { from: 'unknown' };
  }
}

/**
 * `context <name> · namespace shop: profile shop, proposal shop-r2 (Pending), 4 live NetworkPolicies`.
 * The context, not the server's URL: the file holds no address of anything to load.
 */
function describeSource(conn: Connection, objects: readonly NamespaceObjects[]): string {
  const parts = objects.map((o) => {
    const ns = namespaceOf(o.segmentation);
    const proposal = o.proposal ? `proposal ${o.proposal.metadata.name} (${o.proposal.spec.review.decision})` : 'no proposal yet';
    const live = o.live.from === 'api'
      ? `${o.live.policies.length} live ${o.live.policies.length === 1 ? o.segmentation.spec.flavor : o.segmentation.spec.flavor.replace(/y$/, 'ies')}`
      : o.live.from === 'status' ? `live policies as ${o.live.proposal} (per status)` : 'live policies not read';
    return `namespace ${ns}: profile ${o.profile.metadata.name}, ${proposal}, ${live}`;
  });
  return `context ${conn.contextName} · ${parts.join(' · ')}`;
}
