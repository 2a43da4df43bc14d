/** Writing a report file, and the report input `hivewall learn` has at hand. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { GenerateResult, Flavor } from '../domain/generate.js';
import type { Learner } from '../domain/learner.js';
import type { ReportInput } from './input.js';
import { renderReport, type RenderOptions } from './render.js';

/**
 * What `hivewall learn` knows: the learned graph, the generated policies, the learner's counters
 * and, as would-deny evidence, the flow pairs the network dropped (they never became edges, so
 * the generated policies deny them too).
 */
export function learnReportInput(learner: Learner, result: GenerateResult, flavor: Flavor, sources: readonly string[] = []): ReportInput {
  const s = learner.stats;
  return {
    graph: result.graph,
    generated: result.namespaces,
    flavor,
    ...(sources.length > 0 ? { source: sources.map((f) => (f === '-' ? 'stdin' : f)).join(', ') } : {}),
    stats: {
      flows: s.flows,
      connections: s.learned,
      lostEvents: s.lostEvents,
      ...(Number.isFinite(learner.firstFlowAt) ? { firstFlowAt: learner.firstFlowAt } : {}),
      ...(Number.isFinite(learner.lastFlowAt) ? { lastFlowAt: learner.lastFlowAt } : {}),
    },
    wouldDeny: [...learner.dropped.values()].map((d) => ({ client: d.client, server: d.server, port: d.port, protocol: d.protocol, count: d.count, reason: d.reason })),
  };
}

export async function writeReportFile(path: string, input: ReportInput, options: RenderOptions = {}): Promise<void> {
  const html = renderReport(input, options);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, html);
}
