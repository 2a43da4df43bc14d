/**
 * `npm run bench`: every benchmark, printed as `name=value` lines. Speeds are ratios against a
 * baseline measured in the same process (or rates for context), never absolute timing goals.
 */
import { formatAgentMemoryBench, runAgentMemoryBench } from './agent-memory.js';
import { runConntrackParseBench } from './conntrack-parse.js';
import { measureBytesPerEdge, measureGenerate } from './learn-state.js';
import { runIngestRatio, runPeakRss } from './pipeline.js';

const print = (name: string, value: number, digits = 2) => console.log(`${name}=${Number.isInteger(value) ? value : value.toFixed(digits)}`);

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
print('generate_2k_workloads_ms', generate.generateMs, 1);

for (const line of formatAgentMemoryBench(runAgentMemoryBench())) console.log(line);
