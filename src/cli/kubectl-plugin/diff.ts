/**
 * `kubectl hivewall diff <proposal>`: the proposal's objects against what is live now — the
 * NetworkPolicies and CiliumNetworkPolicies labelled `app.kubernetes.io/managed-by=hivewall` in
 * its namespace, read as plain JSON — as a unified diff (`diffAgainstLive`, the same comparison
 * the operator makes when it writes a proposal). Both sides are put in hivewall's key order first,
 * so the server's own key order never shows up as a change. `--stored` prints the diff recorded in
 * the proposal when it was written instead.
 *
 * Only the policy kinds the proposal holds (its flavor) must be readable: a NetworkPolicy proposal
 * diffs for someone who may not list CiliumNetworkPolicies. The other kind is read when allowed
 * (live policies of an earlier flavor show as removed); when not, a note on stderr says it is left
 * out.
 *
 * The diff goes to stdout (plain, for `patch` or a pull request; coloured on a terminal), the
 * counts and the content digest and uid that `approve --digest` pins to stderr.
 */
import { comparable, diffAgainstLive } from '../../domain/proposal.js';
import type { KubernetesObject } from '../../domain/translate/networkpolicy.js';
import { UsageError } from '../errors.js';
import { canonicalPolicyOrder } from '../../domain/translate/canonical.js';
import type { PluginIo } from './commands.js';
import type { Connection } from './connection.js';
import { contentLine, proposalName, summarizeProposal } from './format.js';
import { arr, getProposalObject, listManagedPolicies, POLICY_APIS, rec, str, type PolicyKind } from './reads.js';
import { escapeControl } from '../terminal.js';

export type ColorMode = 'auto' | 'always' | 'never';

/**
 * Colour only for a person: `always`, or `auto` when stdout is a terminal and `NO_COLOR` is not
 * set to a non-empty value (https://no-color.org).
 */
export function useColor(mode: ColorMode, stdout: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (mode !== 'auto') return mode === 'always';
  return stdout.isTTY === true && !env['NO_COLOR'];
}

const SGR = { reset: '\u001b[0m', bold: '\u001b[1m', red: '\u001b[31m', green: '\u001b[32m', cyan: '\u001b[36m' } as const;

/** Unified diff with git's colours: added lines green, removed red, hunk headers cyan, file headers bold. */
export function colorizeDiff(text: string): string {
  return text.split('\n').map((line) => {
    if (line === '') return line;
    if (line.startsWith('+++ ') || line.startsWith('--- ') || /^={10,}$/.test(line)) return `${SGR.bold}${line}${SGR.reset}`;
    if (line.startsWith('@@')) return `${SGR.cyan}${line}${SGR.reset}`;
    if (line.startsWith('+')) return `${SGR.green}${line}${SGR.reset}`;
    if (line.startsWith('-')) return `${SGR.red}${line}${SGR.reset}`;
    return line;
  }).join('\n');
}

/** The policy objects of a proposal's `spec.content.objects`, read leniently. */
export function proposalObjects(proposal: Record<string, unknown>): KubernetesObject[] {
  return arr(rec(rec(proposal['spec'])['content'])['objects'])
    .map(rec)
    .filter((o) => str(o['kind']) !== '' && str(rec(o['metadata'])['name']) !== '')
    .map((o) => o as unknown as KubernetesObject);
}

/**
 * The policy kinds a diff of this proposal cannot do without: the kinds of its objects and its
 * flavor. Empty only for a proposal that names no known kind; then every kind is needed.
 */
export function neededPolicyKinds(proposal: Record<string, unknown>): PolicyKind[] {
  const named = new Set([...proposalObjects(proposal).map((o) => o.kind), str(rec(rec(proposal['spec'])['content'])['flavor'])]);
  return POLICY_APIS.map((a) => a.kind).filter((k) => named.has(k));
}

export interface DiffCounts {
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
}

/**
 * A live object reduced to what hivewall writes (`comparable`: no status, no server-set metadata,
 * no labels or annotations others added), without the empty `labels: {}` / `annotations: {}` that
 * leaves when others added some and hivewall none (kubectl apply's last-applied-configuration on
 * the default deny, which carries no annotation). In hivewall's key order.
 */
export function liveAsWritten(o: KubernetesObject): KubernetesObject {
  const reduced = comparable(o);
  const metadata: Record<string, unknown> = { ...reduced.metadata };
  for (const key of ['labels', 'annotations']) {
    const value = metadata[key];
    if (value !== null && typeof value === 'object' && Object.keys(value).length === 0) delete metadata[key];
  }
  return canonicalPolicyOrder({ ...reduced, metadata } as KubernetesObject);
}

/** The diff of a proposal's objects against live ones, both in hivewall's key order. */
export function diffWithLive(objects: readonly KubernetesObject[], live: readonly KubernetesObject[]): DiffCounts & { readonly unified: string } {
  return diffAgainstLive(objects.map(canonicalPolicyOrder), live.map(liveAsWritten));
}

export function countsLine(counts: DiffCounts, total: number): string {
  const unchanged = total - counts.added.length - counts.changed.length;
  if (counts.added.length + counts.changed.length + counts.removed.length === 0) return `no difference (${total} ${total === 1 ? 'policy' : 'policies'} unchanged)`;
  return `${counts.added.length} added, ${counts.changed.length} changed, ${counts.removed.length} removed, ${unchanged} unchanged`;
}

export interface DiffOptions {
  readonly stored: boolean;
  readonly color: ColorMode;
}

export async function printDiff(conn: Connection, arg: string, opts: DiffOptions, io: PluginIo, env: NodeJS.ProcessEnv): Promise<void> {
  const name = proposalName(arg);
  if (!name) throw new UsageError(`"${arg}" is not a PolicyProposal name (expected e.g. web-r3 or policyproposal/web-r3)`);
  const namespace = conn.namespace;
  const proposal = await getProposalObject(conn, namespace, name);
  const objects = proposalObjects(proposal);
  let unified: string;
  if (opts.stored) {
    const stored = rec(rec(rec(proposal['spec'])['content'])['diff']);
    unified = str(stored['unified']);
    const counts = { added: arr(stored['added']).map(str), changed: arr(stored['changed']).map(str), removed: arr(stored['removed']).map(str) };
    io.stderr.write(`policyproposal ${namespace}/${name} against the live policies when it was written: ${countsLine(counts, objects.length)}\n`);
  } else {
    const need = neededPolicyKinds(proposal);
    const { policies: live, unread } = await listManagedPolicies(conn, namespace, {
      instead: `or print the diff stored in the proposal: kubectl hivewall diff ${name} -n ${namespace} --stored`,
      ...(need.length > 0 ? { need } : {}),
    });
    for (const what of unread) {
      io.stderr.write(`note: you may not list ${what} in ${namespace}: the diff leaves them out (the proposal has none; live ones hivewall owns would be leftovers of an earlier flavor, which applying removes)\n`);
    }
    const diff = diffWithLive(objects, live);
    unified = diff.unified;
    io.stderr.write(`policyproposal ${namespace}/${name} against the live policies in ${namespace}: ${countsLine(diff, objects.length)}\n`);
  }
  io.stderr.write(contentLine(summarizeProposal(proposal)));
  if (unified === '') return;
  // Escaped before colouring: the only escapes on the terminal are the diff's own colours.
  const safe = escapeControl(unified);
  io.stdout.write(useColor(opts.color, io.stdout, env) ? colorizeDiff(safe) : safe);
}
