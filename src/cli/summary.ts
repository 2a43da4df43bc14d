/** The human summary `learn` and `graph` print: what was read, skipped (by reason), learned, written. */
import type { GeneratedNamespace } from '../domain/generate.js';
import type { Learner } from '../domain/learner.js';
import { isWorkloadKey, peerFromKey, peerLabel } from '../domain/peer.js';
import type { Learned } from './learn-pipeline.js';
import { escapeControl } from './terminal.js';

const n = (x: number) => x.toLocaleString('en-US');

const SKIP_LABELS: [keyof Learner['stats']['skipped'], string][] = [
  ['malformed', 'malformed JSON or text'],
  ['schema-mismatch', 'schema mismatch'],
  ['too-long', 'line too long'],
  ['empty', 'empty'],
  ['unsupported-protocol', 'unsupported protocol'],
  ['invalid-name', 'invalid Kubernetes name'],
  ['non-flow', 'non-flow'],
  ['reply', 'reply'],
  ['duplicate', 'duplicate observation'],
  ['dropped', 'dropped'],
  ['unconfirmed', 'unconfirmed (no reply yet)'],
  ['unresolved', 'unresolved address'],
  ['out-of-window', 'outside --since/--until'],
  ['cilium-internal', 'cilium health'],
  ['socket-trace', 'socket trace'],
];

export function summarize(learned: Learned, generated?: { namespaces: readonly GeneratedNamespace[]; out: string; flavor: string; files: number }): string {
  const { learner } = learned;
  const s = learner.stats;
  const lines: string[] = [];
  const totalLines = learned.inputs.reduce((a, i) => a + i.lines, 0);
  lines.push(`read      ${n(totalLines)} lines from ${learned.inputs.length} input(s) in ${learned.seconds.toFixed(2)} s (${learned.inputs.map((i) => `${i.name}: ${i.format}`).join(', ')})`);
  if (learned.snapshot) {
    const inv = learned.snapshot.inventory;
    lines.push(`cluster   ${n(inv.pods.length)} pods, ${n(inv.services.length)} services, ${n(inv.nodes.length)} nodes from ${learned.snapshot.files.length} file(s)${learned.snapshot.problems.length ? `; ${learned.snapshot.problems.length} object(s) skipped` : ''}`);
  }
  lines.push(`flows     ${n(s.flows)} flows, ${n(s.learned)} connections learned`);
  const skipped = SKIP_LABELS.filter(([k]) => s.skipped[k] > 0).map(([k, label]) => `${label} ${n(s.skipped[k])}`);
  lines.push(`skipped   ${skipped.length ? skipped.join(', ') : 'none'}`);
  const graphNodes = new Set<string>();
  for (const e of learner.edges.edges()) graphNodes.add(e.client).add(e.server);
  const workloads = [...graphNodes].filter(isWorkloadKey).length;
  lines.push(`graph     ${n(learner.edges.size)} edges, ${n(workloads)} workloads, ${n(graphNodes.size - workloads)} entities`);
  if (generated) {
    const per = generated.namespaces.map((ns) => `${ns.namespace}: ${ns.objects.length}`).join(', ');
    const total = generated.namespaces.reduce((a, ns) => a + ns.objects.length, 0);
    lines.push(`policies  ${n(total)} ${generated.flavor} objects in ${generated.out} (${per || 'no namespace in scope'}); ${generated.files} file(s) changed`);
    for (const ns of generated.namespaces) {
      for (const skip of ns.model.skipped) lines.push(`warning   ${peerLabel(skip.workload)}: no policy written (${skip.reason}); default deny still applies`);
      for (const d of ns.model.droppedRules) lines.push(`warning   ${peerLabel(d.workload)} ${d.direction} from/to ${peerLabel(peerFromKey(d.peer))}: rule left out (${d.reason})`);
    }
  }
  if (s.lostEvents > 0) lines.push(`lost      ${n(s.lostEvents)} events lost by the flow source: the graph may be incomplete`);
  for (const d of [...learner.dropped.values()].sort((a, b) => b.count - a.count).slice(0, 20)) {
    lines.push(`denied    ${peerLabel(peerFromKey(d.client))} -> ${peerLabel(peerFromKey(d.server))} ${d.port}/${d.protocol} (${d.reason}) x${n(d.count)}`);
  }
  if (learner.dropped.size > 20) lines.push(`denied    ... ${n(learner.dropped.size - 20)} more`);
  const unresolved = [...learner.unresolved.values()].sort((a, b) => b.count - a.count);
  for (const u of unresolved.slice(0, 20)) lines.push(`unresolved ${u.ip} (${u.reason}${u.detail ? `: ${u.detail}` : ''}) x${n(u.count)}`);
  if (unresolved.length > 20) lines.push(`unresolved ... ${n(unresolved.length - 20)} more addresses`);
  // Reasons, names and paths come from the input: never raw control characters on a terminal.
  return escapeControl(`${lines.join('\n')}\n`);
}
