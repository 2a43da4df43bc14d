/**
 * The Hubble flow-log source: `hubble observe -o json|jsonpb` output and Cilium flow exporter files
 * (plain or gzip-rotated) → {@link ParseResult}s carrying normalized `Flow`s.
 *
 * - {@link readHubble} / {@link readHubbleFile} / {@link readHubbleStream}: the I/O reader (sink API),
 *   fast path by default; {@link hubbleResults}: the same as an async iterable.
 * - {@link scanHubbleLine} / {@link scanHubbleBytes}: the fast, exact byte scanner for one line.
 * - {@link parseHubbleLine}: the full `JSON.parse` + zod parser (the reference, and the fallback).
 * - {@link hubbleValueResult}: for sources that already hold the decoded JSON object (e.g. gRPC
 *   clients using protojson field names).
 */
export { DEFAULT_MAX_LINE_BYTES, type HubbleParseOptions } from './line-limit.js';
export { hubbleValueResult, parseHubbleLine } from './parse.js';
export { scanHubbleBytes, scanHubbleBytesOutcome, scanHubbleLine, type ScanOutcome } from './scan-line.js';
export {
  hubbleResults,
  readHubble,
  readHubbleFile,
  readHubbleStream,
  type HubbleReadOptions,
  type HubbleReadStats,
  type HubbleSink,
  type HubbleSource,
} from './reader.js';
export { canonicalIp } from './ip.js';
export { parseTimestamp } from './time.js';
export { classifyLabel, normalizeDnsName, normalizeLabels } from './build.js';
