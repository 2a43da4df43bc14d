/**
 * The live Hubble flow source: `observer.Observer/GetFlows` over gRPC (hubble-relay or a Cilium
 * agent), with hivewall's own wire-compatible subset of Cilium's .proto files (proto/).
 *
 * - {@link HubbleObserverSource}: follow the stream, resume with `since` and boundary
 *   de-duplication, reconnect with capped exponential backoff and full jitter, `stats()`.
 * - {@link namespaceWhitelist}: the FlowFilters for "source or destination pod in these namespaces".
 * - {@link backoffDelay} / {@link backoffCeiling}: the reconnect delay policy.
 * - {@link GetFlowsDecoder}: protobuf bytes → the same results as the Hubble JSON parser.
 * - {@link loadHubbleDefinitions}: the GetFlows method (request encoding).
 */
export {
  HubbleObserverSource,
  systemClock,
  type HubbleClock,
  type HubbleObserverError,
  type HubbleObserverEvent,
  type HubbleObserverOptions,
  type HubbleObserverSink,
  type HubbleObserverStats,
  type HubbleResumePoint,
  type HubbleTlsOptions,
} from './source.js';
export { namespaceWhitelist, type FlowFilterObject } from './filter.js';
export { backoffCeiling, backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
export { GET_FLOWS_PATH, LOADER_OPTIONS, loadHubbleDefinitions, protoDirCandidates, resolveProtoDir, type HubbleDefinitions } from './definitions.js';
export { formatTimestamp, parseTimestampNanos, timestampFromNanos, timestampNanos } from './timestamp.js';
export { GetFlowsDecoder, type DecodedResponse } from './decode.js';
export { ResumeTracker } from './resume.js';
