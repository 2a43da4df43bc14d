/** `hivewall learn`: flows (+ snapshot) → policies on disk, and a summary. */
import { generatePolicies, type Flavor } from '../domain/generate.js';
import { InputError } from './errors.js';
import { learnFromInputs, type FlowInputOptions } from './learn-pipeline.js';
import type { CliIo } from './main.js';
import { summarize } from './summary.js';
import { OutputPathError, planNamespacePolicies, writePlan } from './write-policies.js';

export interface LearnOptions extends FlowInputOptions {
  readonly out: string;
  readonly namespace?: readonly string[];
  readonly flavor: Flavor;
  readonly publicIngress: boolean;
  readonly allowKubeApiserver?: boolean;
  readonly dns: boolean;
  /** Also write the HTML report here. */
  readonly report?: string;
}

export async function runLearn(options: LearnOptions, io: CliIo): Promise<void> {
  const learned = await learnFromInputs(options, io);
  const result = generatePolicies(learned.learner, learned.identity, {
    flavor: options.flavor,
    ...(options.namespace ? { namespaces: options.namespace } : {}),
    allowances: { dns: options.dns, publicIngress: options.publicIngress, kubeApiserver: options.allowKubeApiserver === true },
  });
  const withPolicies = result.namespaces.filter((ns) => ns.model.workloads.length > 0);
  if (withPolicies.length === 0) {
    throw new InputError(`no policy to write: no workload with learned traffic in ${options.namespace?.join(', ') ?? 'any non-system namespace'} (${learned.learner.stats.flows} flows read)`);
  }
  let plans;
  try {
    // Every namespace is checked before the first file is written.
    plans = result.namespaces.map((ns) => planNamespacePolicies(options.out, ns.namespace, ns.objects));
  } catch (error) {
    if (error instanceof OutputPathError) throw new InputError(error.message);
    throw error;
  }
  let changed = 0;
  for (const plan of plans) {
    const written = await writePlan(plan);
    changed += written.written.length + written.removed.length;
  }
  if (options.report) {
    // The report's renderer (and node:crypto) load only when a report is asked for.
    const { learnReportInput, writeReportFile } = await import('../report/write.js');
    await writeReportFile(options.report, learnReportInput(learned.learner, result, options.flavor, options.flows));
  }
  if (!options.quiet) {
    io.stdout.write(summarize(learned, { namespaces: result.namespaces, out: options.out, flavor: options.flavor === 'cilium' ? 'CiliumNetworkPolicy' : 'NetworkPolicy', files: changed }));
  }
}
