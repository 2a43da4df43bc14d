/**
 * Conntrack ingest: parse `conntrack -L [-o extended]`, `conntrack -E [-o timestamp,extended]` and
 * `/proc/net/nf_conntrack` text into {@link ConntrackEntry} values and normalized flows.
 */
export type {
  ConntrackCounter,
  ConntrackCounters,
  ConntrackEntry,
  ConntrackEventType,
  ConntrackFamily,
  ConntrackIcmp,
  ConntrackParseResult,
  ConntrackSkip,
  ConntrackTuple,
  ParseConntrackOptions,
} from './types.js';
export { DEFAULT_MAX_LINE_LENGTH } from './types.js';
export { parseConntrackLine } from './parse.js';
export { conntrackConnectionKey, conntrackEntryToFlow, conntrackNat, type ConntrackNat } from './flow.js';
export { CONNTRACK_FORMATS, formatConntrackEntry, formatEpoch, type ConntrackFormat } from './format.js';
export { expandIPv6, parseIPv4, parseIPv6 } from './ip.js';
export {
  readConntrack,
  readConntrackEntries,
  type ConntrackEntrySink,
  type ConntrackFlowSink,
  type ConntrackInput,
  type ReadConntrackOptions,
  type ReadConntrackSummary,
} from './read.js';
