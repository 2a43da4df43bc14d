/**
 * `npm run bench`: every benchmark, printed as `name=value` lines. Speeds are ratios against a
 * baseline measured in the same process (or rates for context), never absolute timing goals.
 */
import { runAgentCpuBench, runOperatorCpuBench } from './agent-fleet.js';
import { formatAgentMemoryBench, runAgentMemoryBench } from './agent-memory.js';
import { runHelpBench, runLearnWholeBench, runPluginBench } from './cli.js';
import { runConntrackParseBench } from './conntrack-parse.js';
import { runGrpcIngestBench } from './grpc-ingest.js';
import { measureBytesPerEdge, measureGenerate } from './learn-state.js';
import { runIngestRatio, runPeakRss } from './pipeline.js';

const print = (name: string, value: number, digits = 2) => console.log(`${name}=${Number.isInteger(value) ? value : value.toFixed(digits)}`);
/** A figure with the goal it is held to (issue #14), on one line: `name=value  # goal <= 80`. */
const goal = (name: string, value: number, target: string, digits = 2) => console.log(`${name}=${value.toFixed(digits)}  # goal ${target}`);

const help = runHelpBench();
goal('cli_help_overhead_ms', help.overheadMs, '<= 80 (vs node -e 0)', 0);
print('cli_help_overhead_cpu_ms', Math.round(help.overheadCpuMs));
for (const [name, ms] of Object.entries(help.perCommand)) print(`cli_${name}_overhead_ms`, Math.round(ms));
print('cli_bare_node_ms', Math.round(help.bareMs));
goal('cli_help_peak_rss_mb', help.peakRssMb, '<= 60', 1);
goal('plugin_overhead_ms', await runPluginBench(), '<= 150 (before its first API request, vs node -e 0)', 0);

const whole = await runLearnWholeBench();
goal('learn_whole_ratio_1w', whole.ratio1w, '>= 1.5 (bare readline+JSON.parse process / learn --workers 1, 600k lines)');
goal('learn_whole_ratio', whole.ratio, '>= 2.5 (default workers, 2 cores)');
print('learn_whole_cpu_ratio_1w', whole.cpuRatio1w);
print('learn_whole_cpu_ratio', whole.cpuRatio);
print('learn_whole_bare_s', whole.bareS);
print('learn_whole_1w_s', whole.learn1wS);
print('learn_whole_s', whole.learnS);
print('learn_halves_at_once_ratio', whole.halvesRatio);
print('learn_halves_at_once_s', whole.halvesS);
goal('learn_whole_rss_growth', whole.rssGrowth, '<= 1.2 (60k -> 600k lines, default workers)');
print('learn_whole_rss_60k_mb', whole.rss60kMb, 1);
print('learn_whole_rss_600k_mb', whole.rss600kMb, 1);

const ingest = await runIngestRatio();
print('hubble_ingest_ratio', ingest.ratio);
print('hubble_flows_per_s', Math.round(ingest.flowsPerSecond));
print('hubble_baseline_json_parse_lines_per_s', Math.round(ingest.baselineLinesPerSecond));

const conntrack = await runConntrackParseBench();
print('conntrack_lines_per_s', Math.round(conntrack.linesPerSecond));
print('conntrack_lines_per_cpu_s', Math.round(conntrack.linesPerCpuSecond));

const rss = await runPeakRss();
print('learn_peak_rss_60k_mb', rss.smallMb, 1);
print('learn_peak_rss_600k_mb', rss.largeMb, 1);
print('learn_peak_rss_growth', rss.growth);
const rssDefault = await runPeakRss(60_000, 10, []);
print('learn_peak_rss_growth_default_v8_flags', rssDefault.growth);
print('learn_edges_60k', rss.edgesSmall);
print('learn_edges_600k', rss.edgesLarge);

const edges = measureBytesPerEdge();
print('bytes_per_edge', edges.bytesPerEdge, 1);
print('bytes_per_edge_string_map_baseline', edges.baselineMapBytesPerEdge, 1);

const generate = measureGenerate();
goal('generate_2k_workloads_ms', generate.generateMs, '<= 100 (2,000 workloads, 50,000 edges)', 1);

for (const line of formatAgentMemoryBench(runAgentMemoryBench())) console.log(line);

// The live Cilium paths: the gRPC client (relay or node-local), the Hubble node agent, the operator's receiver.
const grpc = await runGrpcIngestBench(100_000, 3);
if ('skipped' in grpc) console.log(`# grpc benchmarks skipped: ${grpc.skipped}`);
else {
  print('grpc_flows_per_s', Math.round(grpc.flowsPerSecond));
  print('grpc_flows_per_cpu_s', Math.round(grpc.flowsPerCpuSecond));
  print('grpc_decode_only_baseline_per_s', Math.round(grpc.decodeOnlyPerSecond));
  print('grpc_vs_decode_only_ratio', grpc.ratio);
}
const agentCpu = await runAgentCpuBench();
if ('skipped' in agentCpu) console.log(`# agent benchmark skipped: ${agentCpu.skipped}`);
else print('agent_cpu_per_1k_flows', agentCpu.coresPer1kFlowsPerSecond, 4);
const operatorCpu = await runOperatorCpuBench();
print('operator_cpu_100_agents', operatorCpu.cores, 4);
print('operator_edges_per_agent_batch', Math.round(operatorCpu.edgesPerBatch));
