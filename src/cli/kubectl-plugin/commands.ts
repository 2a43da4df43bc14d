/**
 * `kubectl hivewall approve|reject|proposals`: a reviewer's side of a PolicyProposal.
 *
 * A review is a JSON merge patch of the proposal's `spec.review` (never its status):
 * decision, reviewer = the requesting user as the API server reports it (SelfSubjectReview),
 * comment, reviewedAt, and the pins proposalUID (the proposal's metadata.uid) and contentDigest
 * (its spec.contentDigest, after checking that spec.content really hashes to it), so the decision
 * holds only for the object and content this command read. With --digest (and --uid) the read must
 * also be the content (and object) the reviewer was shown by explain, diff or `proposals -o wide`,
 * so a proposal deleted and re-created under the same name after they looked is refused, not
 * approved. The patch carries the resourceVersion that was read, so a concurrent review is a
 * conflict instead of being overwritten. The API server
 * checks the rest: RBAC (the hivewall-reviewer ClusterRole) and the ValidatingAdmissionPolicy
 * hivewall-review-identity (the reviewer is the requesting user; the operator cannot review; the
 * pins match the object).
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { InputError, UsageError } from '../errors.js';
import { apiFailure, toCliError, type ApiFailure } from './api-errors.js';
import { whoAmI, type Connection } from './connection.js';
import { GROUP, PLURAL, VERSION, proposalName, rfc3339, summarizeProposal, type ProposalSummary } from './format.js';
import { printProposalTable } from './proposals.js';
import { proposalNotFound } from './reads.js';
import { escapeControl } from '../terminal.js';

export interface PluginIo {
  /** `isTTY` decides whether `diff` colours its output. */
  readonly stdout: NodeJS.WritableStream & { readonly isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream;
}

export type Decision = 'Approved' | 'Rejected';

export interface ReviewOptions {
  readonly comment?: string;
  readonly overwrite?: boolean;
  /** The content digest the reviewer was shown (explain, diff, proposals -o wide): the proposal read must still hold it. */
  readonly digest?: string;
  /** The proposal uid the reviewer was shown: the proposal read must still be that object. */
  readonly uid?: string;
}

const REVIEWER_ROLE_HINT = 'ask for the hivewall-reviewer ClusterRole';

const forbiddenToReview = (namespace: string) => (f: ApiFailure) =>
  `you are not allowed to review proposals in ${namespace}: ${REVIEWER_ROLE_HINT} (the API server said: ${f.message})`;

const apiMissing = (conn: Connection) =>
  `the PolicyProposal API (${PLURAL}.${GROUP}/${VERSION}) is not installed on ${conn.server}: install hivewall with kubectl apply -k deploy/`;

async function readProposal(conn: Connection, namespace: string, name: string): Promise<ProposalSummary> {
  const api = conn.kubeConfig.makeApiClient(CustomObjectsApi);
  try {
    return summarizeProposal(await api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name }));
  } catch (err) {
    if (apiFailure(err)?.code === 404 && apiFailure(err)?.name) throw new InputError(await proposalNotFound(conn, namespace, name));
    throw toCliError(err, conn, {
      action: `read policyproposal ${namespace}/${name}`,
      forbidden: forbiddenToReview(namespace),
      notFound: () => apiMissing(conn),
    });
  }
}

/** Approve or reject a proposal as the requesting user. */
export async function reviewProposal(
  conn: Connection, arg: string, decision: Decision, opts: ReviewOptions, io: PluginIo, now: () => Date,
): Promise<void> {
  const name = proposalName(arg);
  if (!name) throw new UsageError(`"${arg}" is not a PolicyProposal name (expected e.g. web-r3 or policyproposal/web-r3)`);
  const namespace = conn.namespace;
  const verb = decision === 'Approved' ? 'approve' : 'reject';

  const [user, current] = await Promise.all([whoAmI(conn), readProposal(conn, namespace, name)]);

  refuseUnreviewable(current, { namespace, name }, decision, opts);
  if (current.decision !== 'Pending' && !opts.overwrite) {
    const by = current.reviewer === user ? 'you' : current.reviewer || 'an unknown reviewer';
    const at = current.reviewedAt ? ` at ${current.reviewedAt}` : '';
    if (current.decision === decision && current.reviewer === user && opts.comment === undefined) {
      io.stdout.write(escapeControl(`policyproposal.${GROUP}/${name} was already ${decision.toLowerCase()} by you${at} (unchanged)\n`));
      return;
    }
    throw new InputError(`policyproposal ${namespace}/${name} was already ${current.decision.toLowerCase()} by ${by}${at}: pass --overwrite to replace that decision`);
  }

  if (current.contentDigest === '' || current.computedDigest !== current.contentDigest) {
    throw new InputError(current.contentDigest === ''
      ? `policyproposal ${namespace}/${name} has no spec.contentDigest (written by an older hivewall): it cannot be ${decision.toLowerCase()}: the operator proposes its content again as a new revision; review that one (kubectl hivewall proposals -n ${namespace})`
      : `policyproposal ${namespace}/${name}: its content hashes to ${current.computedDigest ?? '(invalid content)'}, not to its spec.contentDigest ${current.contentDigest}: refusing to ${verb} content that is not what was proposed`);
  }
  // Pinned to what was read: the API server refuses the decision for any other object or content.
  const review = { decision, reviewer: user, comment: opts.comment ?? null, reviewedAt: rfc3339(now()), proposalUID: current.uid, contentDigest: current.contentDigest };
  const api = conn.kubeConfig.makeApiClient(CustomObjectsApi);
  let read = current;
  try {
    // The patch carries the resourceVersion read, so a concurrent *review* is a conflict. The
    // operator also writes the proposal (its status phase) at any time; when the review is still
    // the one this command looked at, the conflict was only that, and the patch is sent again.
    for (let attempt = 0; ; attempt++) {
      try {
        await api.patchNamespacedCustomObject(
          { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { metadata: { resourceVersion: read.resourceVersion }, spec: { review } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        break;
      } catch (err) {
        if (apiFailure(err)?.code !== 409 || attempt >= 4) throw err;
        const again = await readProposal(conn, namespace, name);
        // Retried only when it is the same object (uid), the same content and the same review.
        if (again.uid !== current.uid || again.contentDigest !== current.contentDigest || again.computedDigest !== current.computedDigest
          || again.decision !== current.decision || again.reviewer !== current.reviewer || again.reviewedAt !== current.reviewedAt) throw err;
        // The operator's write may have been the one that superseded it: the same checks as the first read.
        refuseUnreviewable(again, { namespace, name }, decision, opts);
        read = again;
      }
    }
  } catch (err) {
    throw toCliError(err, conn, {
      action: `${verb} policyproposal ${namespace}/${name}`,
      forbidden: forbiddenToReview(namespace),
      notFound: () => `policyproposal ${namespace}/${name} was deleted while you were reviewing it (a newer revision may have replaced it): kubectl hivewall proposals -n ${namespace}`,
      conflict: () => `policyproposal ${namespace}/${name} changed while you were reviewing it (someone else may have reviewed it): look at it again (kubectl hivewall proposals -n ${namespace}) and rerun`,
    });
  }
  const what = current.segmentation ? ` (segmentation ${current.segmentation}, revision ${current.revision ?? '?'})` : '';
  io.stdout.write(escapeControl(`policyproposal.${GROUP}/${name} ${decision.toLowerCase()} by ${user} in namespace ${namespace}${what}: content ${review.contentDigest} (uid ${review.proposalUID})\n`));
}

/**
 * Refuses (before any patch) to approve a superseded proposal, or to review one that is not the
 * object and content the reviewer was shown (`--uid`, `--digest`). Run on every read the patch is based on.
 */
function refuseUnreviewable(p: ProposalSummary, where: { namespace: string; name: string }, decision: Decision, opts: ReviewOptions): void {
  const { namespace, name } = where;
  if (decision === 'Approved' && p.phase === 'Superseded') {
    throw new InputError(`policyproposal ${namespace}/${name} is superseded by a newer revision of ${p.segmentation || 'its Segmentation'}: review the current one (kubectl hivewall proposals -n ${namespace})`);
  }
  const verb = decision === 'Approved' ? 'approve' : 'reject';
  const now = `it now holds content ${p.computedDigest ?? '(invalid content)'} (uid ${p.uid || '<none>'})`;
  const again = `it was changed or re-created since you looked: look again (kubectl hivewall explain ${name} -n ${namespace}) and ${verb} with the digest it prints; nothing was changed`;
  if (opts.digest !== undefined && opts.digest !== p.computedDigest) {
    throw new InputError(`refusing to ${verb} policyproposal ${namespace}/${name}: you were shown content ${opts.digest}, ${now}: ${again}`);
  }
  if (opts.uid !== undefined && opts.uid !== p.uid) {
    throw new InputError(`refusing to ${verb} policyproposal ${namespace}/${name}: you were shown uid ${opts.uid}, ${now}: ${again}`);
  }
}

/** The proposals table, for one namespace or all of them, through the Kubernetes client. */
export async function printProposals(conn: Connection, allNamespaces: boolean, io: PluginIo, now: () => Date, wide = false): Promise<void> {
  const api = conn.kubeConfig.makeApiClient(CustomObjectsApi);
  const list = (namespace: string | undefined): Promise<unknown> => namespace === undefined
    ? api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })
    : api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL });
  await printProposalTable({ ...conn, list }, allNamespaces, io, now, wide);
}
