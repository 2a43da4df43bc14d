/**
 * `kubectl hivewall explain <proposal> [<policy>[/<ingress|egress>[/<index>]]]`: why each rule of
 * a proposal exists. For every rule: the peer and ports it allows, whether it allows more than was
 * observed because the Segmentation asks for it (an allowance), and the learned edges behind it
 * (client → server, port/protocol, flow count, first and last seen). Without a policy, a summary
 * per policy. Everything comes from the proposal's recorded evidence: no other read. Under the
 * header, the content digest and uid shown, which `approve --digest` pins (commands.ts).
 *
 * The rule counts come from the policy objects themselves (`spec.ingress`, `spec.egress`): a rule
 * the evidence does not explain is shown as `NO EVIDENCE: allows <the rule>`, never hidden behind
 * what the evidence says.
 *
 * Evidence with index -1 is traffic the policy needs no rule for: under NetworkPolicy, host
 * ingress (node → pod, kubelet probes: a pod's own node can always reach it). It is shown as what
 * it is, never as a rule `ingress/-1`, and the rule counts leave it out.
 */
import { peerFromKey, peerLabel } from '../../domain/peer.js';
import { DEFAULT_DENY_NAME, WORKLOAD_ANNOTATION } from '../../domain/translate/naming.js';
import type { KubernetesObject } from '../../domain/translate/networkpolicy.js';
import { dump } from 'js-yaml';
import { InputError, UsageError } from '../errors.js';
import type { PluginIo } from './commands.js';
import type { Connection } from './connection.js';
import { contentLine, proposalName, renderTable, rfc3339, summarizeProposal, type ProposalSummary } from './format.js';
import { proposalObjects } from './diff.js';
import { arr, getProposalObject, num, rec, str } from './reads.js';
import { escapeControl } from '../terminal.js';

export type Direction = 'ingress' | 'egress';

export interface Selection {
  readonly policy: string;
  readonly direction?: Direction;
  readonly index?: number;
}

const SELECTION_HELP = 'expected <policy>, <policy>/ingress, <policy>/egress or <policy>/<ingress|egress>/<index>, e.g. hivewall-cart/egress/0';

/** `hivewall-cart`, `hivewall-cart/ingress`, `hivewall-cart/egress/2`. */
export function parseSelection(arg: string): Selection {
  const m = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)(?:\/(ingress|egress)(?:\/(0|[1-9][0-9]{0,5}))?)?$/.exec(arg);
  if (!m?.[1]) throw new UsageError(`"${arg}" is not a policy or rule: ${SELECTION_HELP}`);
  return {
    policy: m[1],
    ...(m[3] ? { direction: m[3] as Direction } : {}),
    ...(m[4] !== undefined ? { index: Number(m[4]) } : {}),
  };
}

export interface EdgeView {
  readonly client: string;
  readonly server: string;
  readonly port: number | undefined;
  readonly protocol: string;
  readonly count: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** "denied N times since <time> while enforced", when enforced policies denied this edge. */
  readonly denied?: string;
}

export interface RuleView {
  readonly policy: string;
  readonly direction: Direction;
  readonly index: number;
  readonly peer: string;
  readonly ports: readonly string[];
  readonly allowance: string;
  readonly edges: readonly EdgeView[];
}

/** Evidence of a rule written in the policy (index ≥ 0); index -1 has no rule. */
export const isWrittenRule = (rule: RuleView): boolean => rule.index >= 0;

/** Host ingress without a rule: the node reaching its pods, which NetworkPolicy always allows. */
const isHostIngress = (rule: RuleView): boolean => !isWrittenRule(rule) && rule.direction === 'ingress' && rule.peer === 'host';

/** The written rules of one direction: distinct indexes (rules the policy merged count once). */
export function ruleCount(rules: readonly RuleView[], direction: Direction): number {
  return new Set(rules.filter((r) => r.direction === direction && isWrittenRule(r)).map((r) => r.index)).size;
}

/** A rule of a policy object (`spec.ingress[index]` / `spec.egress[index]`) that no evidence explains. */
export interface UnexplainedRule {
  readonly policy: string;
  readonly direction: Direction;
  readonly index: number;
  readonly rule: unknown;
}

/** The rules of `spec.<direction>` (NetworkPolicy and CiliumNetworkPolicy alike). */
const specRules = (object: KubernetesObject, direction: Direction): unknown[] => arr(rec(rec(object)['spec'])[direction]);

/** Every rule of the object's spec without evidence for its index: it allows what nothing observed or asked for explains. */
export function unexplainedRules(object: KubernetesObject, evidence: readonly RuleView[]): UnexplainedRule[] {
  const policy = object.metadata.name;
  return (['ingress', 'egress'] as const).flatMap((direction) => specRules(object, direction)
    .map((rule, index) => ({ policy, direction, index, rule }))
    .filter((r) => !evidence.some((e) => e.policy === policy && e.direction === direction && e.index === r.index)));
}

/** `ingress/0: NO EVIDENCE: allows {}`: the rule as one line of (flow) YAML. */
export function unexplainedLine(r: UnexplainedRule): string {
  return `${r.direction}/${r.index}: NO EVIDENCE: allows ${dump(r.rule, { flowLevel: 0, lineWidth: -1 }).trimEnd()}`;
}

function renderUnexplained(r: UnexplainedRule): string {
  return `${unexplainedLine(r)}\n  no observed traffic and no allowance of the Segmentation explains this rule: do not approve it without knowing why it is there\n`;
}

export function readEvidence(proposal: Record<string, unknown>): RuleView[] {
  return arr(rec(rec(proposal['spec'])['content'])['evidence']).map((raw) => {
    const e = rec(raw);
    return {
      policy: str(e['policy']),
      direction: str(e['direction']) === 'egress' ? 'egress' : 'ingress',
      index: num(e['index']) ?? 0,
      peer: str(e['peer']),
      ports: arr(e['ports']).map(str),
      allowance: str(e['allowance']),
      edges: arr(e['edges']).map((x) => {
        const edge = rec(x);
        return {
          client: str(edge['client']), server: str(edge['server']), port: num(edge['port']), protocol: str(edge['protocol']),
          count: num(edge['count']) ?? 0, firstSeen: str(edge['firstSeen']), lastSeen: str(edge['lastSeen']),
          ...(str(rec(edge['denied'])['note']) ? { denied: str(rec(edge['denied'])['note']) } : {}),
        };
      }),
    };
  });
}

/** `wl:shop/Deployment/cart` → `shop/Deployment/cart`, `en:world:203.0.113.7` → `world 203.0.113.7`. */
export function peerDisplay(key: string): string {
  try {
    return peerLabel(peerFromKey(key));
  } catch {
    return key;
  }
}

const time = (iso: string) => (Number.isNaN(Date.parse(iso)) ? iso || '<unknown>' : rfc3339(new Date(iso)));
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const flowsOf = (rules: readonly RuleView[]) => rules.reduce((n, r) => n + r.edges.reduce((m, e) => m + e.count, 0), 0);
const edgesOf = (rules: readonly RuleView[]) => rules.reduce((n, r) => n + r.edges.length, 0);

const ALLOWANCE_WHY: Readonly<Record<string, string>> = {
  'dns': 'spec.allow.dns keeps name resolution working: 53/UDP and 53/TCP to the observed DNS servers',
  'public-ingress': 'spec.allow.publicIngress: a workload behind a LoadBalancer or NodePort that was reached from outside accepts any outside address on its serving port',
  'kube-apiserver': 'spec.allow.kubeApiserver: every segmented workload may reach the kube-apiserver',
};

/** The text for one rule: what it allows, why, and the edges behind it. */
export function renderRule(rule: RuleView): string {
  const ports = rule.ports.join(', ') || '<no ports>';
  const peer = `${rule.direction === 'ingress' ? 'from' : 'to'} ${rule.peer || '<unknown peer>'}`;
  const lines = isHostIngress(rule)
    ? [`host (node → pod, allowed without a rule): ${peer} on ${ports}`,
      '  no rule needed: under NetworkPolicy a pod\'s own node (kubelet probes) can always reach it']
    : isWrittenRule(rule)
      ? [`${rule.direction}/${rule.index}: ${peer} on ${ports}`]
      : [`${rule.direction} without a rule: ${peer} on ${ports}`, `  the policy has no ${rule.direction} rule for this observed traffic`];
  if (rule.allowance) {
    const why = ALLOWANCE_WHY[rule.allowance];
    lines.push(`  allowed beyond observation because the Segmentation asks for it: ${rule.allowance}${why ? ` (${why})` : ''}`);
  }
  if (rule.edges.length === 0) {
    lines.push(rule.allowance || !isWrittenRule(rule) ? '  observed: nothing yet' : '  observed: nothing — this rule allows traffic nobody was seen sending');
    return lines.join('\n') + '\n';
  }
  lines.push(`  observed: ${plural(rule.edges.length, 'edge')}, ${plural(flowsOf([rule]), 'flow')}`);
  const rows = rule.edges.map((e) => [
    `${peerDisplay(e.client)} → ${peerDisplay(e.server)}`,
    `${e.port ?? '?'}/${e.protocol || '?'}`,
    plural(e.count, 'flow'),
    `first seen ${time(e.firstSeen)}`,
    `last seen ${time(e.lastSeen)}`,
  ]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) lines.push(`    ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('   ')}`);
  for (const e of rule.edges.filter((x) => x.denied)) {
    lines.push(`  DENIED while enforced: ${peerDisplay(e.client)} → ${peerDisplay(e.server)} ${e.port ?? '?'}/${e.protocol || '?'} was ${e.denied}; proposed for review, allowed only once approved`);
  }
  return lines.join('\n') + '\n';
}

function header(p: ProposalSummary, flavor: string, policies: number): string {
  const review = p.decision === 'Pending' ? 'Pending review' : `${p.decision}${p.reviewer ? ` by ${p.reviewer}` : ''}`;
  return `policyproposal ${p.namespace}/${p.name}: segmentation ${p.segmentation || '<none>'}, revision ${p.revision ?? '?'}, ${plural(policies, `${flavor || 'policy'} object`)}, ${review}\n`;
}

/**
 * The summary: one row per policy with its rules (written ones only), and the edges and flows of
 * all its evidence (host ingress too, which needs no rule).
 */
export function renderSummary(proposal: Record<string, unknown>): string {
  const p = summarizeProposal(proposal);
  const content = rec(rec(proposal['spec'])['content']);
  const objects = proposalObjects(proposal);
  const evidence = readEvidence(proposal);
  const names = [...objects.map((o) => o.metadata.name), ...evidence.map((e) => e.policy)].filter((n, i, all) => all.indexOf(n) === i);
  const workloadOf = new Map(objects.map((o) => [o.metadata.name, str(rec(rec(o.metadata)['annotations'])[WORKLOAD_ANNOTATION])]));
  const rows = names.map((name) => {
    const rules = evidence.filter((e) => e.policy === name);
    const object = objects.find((o) => o.metadata.name === name);
    // The object's own rules when it is there: evidence may leave some out (NO EVIDENCE below).
    const count = (d: Direction) => String(object ? specRules(object, d).length : ruleCount(rules, d));
    const allowances = [...new Set(rules.map((r) => r.allowance).filter((a) => a !== ''))].sort();
    const workload = workloadOf.get(name) || (name === DEFAULT_DENY_NAME ? '(namespace default deny)' : '<none>');
    return [
      name, workload,
      count('ingress'), count('egress'),
      String(edgesOf(rules)), String(flowsOf(rules)), allowances.join(',') || '<none>',
    ];
  });
  let out = header(p, str(content['flavor']), objects.length) + '\n';
  out += renderTable(['POLICY', 'WORKLOAD', 'INGRESS RULES', 'EGRESS RULES', 'EDGES', 'FLOWS', 'ALLOWANCES'], rows);
  out += unexplainedSection(objects.flatMap((o) => unexplainedRules(o, evidence)), p);
  if (evidence.some(isHostIngress)) {
    out += '\nhost traffic (node → pod, kubelet probes) is allowed without a rule: counted in EDGES and FLOWS, not in INGRESS RULES\n';
  }
  const skipped = arr(content['skipped']).map(str).filter((s) => s !== '');
  if (skipped.length > 0) out += `\nleft out (no policy or rule for them):\n${skipped.map((s) => `  ${s}\n`).join('')}`;
  out += deniedSection(evidence) + coverageSection(content);
  const example = names.find((n) => n !== DEFAULT_DENY_NAME) ?? names[0];
  if (example) out += `\nthe evidence behind each rule: kubectl hivewall explain ${p.name} ${example} -n ${p.namespace}\n`;
  return out;
}

/** The rules no evidence explains, by policy: they allow more than the table's evidence shows. */
function unexplainedSection(rules: readonly UnexplainedRule[], p: ProposalSummary): string {
  if (rules.length === 0) return '';
  const lines = rules.map((r) => `  ${r.policy} ${unexplainedLine(r)}\n`).join('');
  return `\nNO EVIDENCE: rules nothing observed or asked for explains; they allow more than the evidence shows (kubectl hivewall explain ${p.name} <policy> -n ${p.namespace}):\n${lines}`;
}

/** Edges proposed because enforced policies denied them, apart from the learned ones. */
function deniedSection(evidence: readonly RuleView[]): string {
  const lines = new Set<string>();
  for (const rule of evidence) for (const e of rule.edges) if (e.denied) lines.add(`  ${peerDisplay(e.client)} → ${peerDisplay(e.server)} ${e.port ?? '?'}/${e.protocol || '?'}: ${e.denied}\n`);
  if (lines.size === 0) return '';
  return `\ndenied while enforced (proposed so you can allow them; nothing allows them until you approve):\n${[...lines].sort().join('')}`;
}

/** spec.content.coverage: what the learning window could not have seen. */
function coverageSection(content: Record<string, unknown>): string {
  const warnings = arr(content['coverage']).map(rec);
  if (warnings.length === 0) return '';
  return `\ncoverage: traffic the learning window could not have seen (these workloads' policies may deny what they do later):\n${warnings.map((w) => `  ${str(w['workload'])} ${str(w['reason'])}: ${str(w['message'])}\n`).join('')}`;
}

/** The evidence for one policy, or one direction or rule of it. */
export function renderSelection(proposal: Record<string, unknown>, selection: Selection): string {
  const p = summarizeProposal(proposal);
  const objects = proposalObjects(proposal);
  const evidence = readEvidence(proposal);
  const object = objects.find((o) => o.metadata.name === selection.policy);
  const rules = evidence.filter((e) => e.policy === selection.policy);
  if (!object && rules.length === 0) {
    const names = objects.map((o) => o.metadata.name);
    throw new InputError(`policy "${selection.policy}" is not in policyproposal ${p.namespace}/${p.name}; ${names.length > 0 ? `its policies: ${names.join(', ')}` : 'it has no policies'}`);
  }
  const workload = object ? str(rec(rec(object.metadata)['annotations'])[WORKLOAD_ANNOTATION]) : '';
  const out = `${object?.kind ?? 'policy'} ${selection.policy}${workload ? ` (${workload})` : ''} in policyproposal ${p.namespace}/${p.name}\n`;
  const unexplained = (object ? unexplainedRules(object, evidence) : [])
    .filter((u) => (!selection.direction || u.direction === selection.direction) && (selection.index === undefined || u.index === selection.index));
  let chosen = selection.direction ? rules.filter((r) => r.direction === selection.direction) : rules;
  if (selection.direction && chosen.length === 0 && unexplained.length === 0) {
    throw new InputError(`${selection.policy} has no ${selection.direction} rules in policyproposal ${p.namespace}/${p.name}`);
  }
  if (rules.length === 0 && unexplained.length === 0) {
    return out + (selection.policy === DEFAULT_DENY_NAME
      ? `\nno rule: it selects every pod in ${p.namespace} and allows nothing (namespace default deny); the other policies allow exactly what was observed\n`
      : '\nno evidence is recorded for this policy\n');
  }
  if (selection.index !== undefined) {
    const one = chosen.filter((r) => isWrittenRule(r) && r.index === selection.index);
    if (one.length === 0 && unexplained.length === 0) {
      const inSpec = object && selection.direction ? specRules(object, selection.direction).map((_, i) => i) : [];
      const indexes = [...new Set([...chosen.filter(isWrittenRule).map((r) => r.index), ...inSpec])].sort((a, b) => a - b);
      const which = indexes.length > 0
        ? `its ${selection.direction} rules are ${indexes.map((i) => `${selection.direction}/${i}`).join(', ')}`
        : `it has no ${selection.direction} rules${chosen.some(isHostIngress) ? ' (its host traffic needs none)' : ''}`;
      throw new InputError(`${selection.policy} has no ${selection.direction}/${selection.index} rule: ${which}`);
    }
    chosen = one;
  }
  // Ingress before egress; in each, the written rules by index (with or without evidence), then what needs no rule.
  const items = [
    ...chosen.map((r) => ({ direction: r.direction, index: r.index, text: renderRule(r) })),
    ...unexplained.map((u) => ({ direction: u.direction, index: u.index, text: renderUnexplained(u) })),
  ];
  const order = (r: { direction: Direction; index: number }) => (r.direction === 'ingress' ? 0 : 2) + (r.index >= 0 ? 0 : 1);
  return out + [...items].sort((a, b) => order(a) - order(b) || a.index - b.index).map((i) => `\n${i.text}`).join('');
}

export async function printExplain(conn: Connection, arg: string, selectionArg: string | undefined, io: PluginIo): Promise<void> {
  const name = proposalName(arg);
  if (!name) throw new UsageError(`"${arg}" is not a PolicyProposal name (expected e.g. web-r3 or policyproposal/web-r3)`);
  const selection = selectionArg === undefined ? undefined : parseSelection(selectionArg);
  const proposal = await getProposalObject(conn, conn.namespace, name);
  io.stdout.write(escapeControl(withContentLine(selection ? renderSelection(proposal, selection) : renderSummary(proposal), proposal)));
}

/** The rendered text with the content digest and uid shown (what `approve --digest` pins) under its first line. */
export function withContentLine(text: string, proposal: Record<string, unknown>): string {
  const end = text.indexOf('\n') + 1;
  return text.slice(0, end) + contentLine(summarizeProposal(proposal)) + text.slice(end);
}
