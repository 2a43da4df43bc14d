/** `hivewall graph`: the learned communication graph as text, JSON or Graphviz DOT on stdout. */
import { buildGraph, graphToDot, graphToJson, graphToText } from '../domain/graph.js';
import { learnFromInputs, type FlowInputOptions } from './learn-pipeline.js';
import type { CliIo } from './main.js';
import { summarize } from './summary.js';
import { escapeControl } from './terminal.js';

export interface GraphOptions extends FlowInputOptions {
  readonly output: 'text' | 'json' | 'dot';
}

const iso = (ms: number) => new Date(ms).toISOString();

export async function runGraph(options: GraphOptions, io: CliIo): Promise<void> {
  const learned = await learnFromInputs(options, io);
  const graph = buildGraph(learned.learner.edges, learned.learner.dnsNames);
  const text = options.output === 'json' ? graphToJson(graph, iso) : options.output === 'dot' ? graphToDot(graph) : graphToText(graph, iso);
  io.stdout.write(escapeControl(text));
  if (!options.quiet && options.output === 'text') io.stderr.write(summarize(learned));
}
