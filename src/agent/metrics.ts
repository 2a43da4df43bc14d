/**
 * Prometheus metrics of the node agents (conntrack and Hubble) and the edge receiver (`hivewall_agent_*`,
 * `hivewall_edge_receiver_*`). The modules keep plain counters in their `stats`; these collectors
 * read them at scrape time, so the hot path (one conntrack line) touches no prom-client object.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AggregatorStats } from './aggregator.js';
import type { ConntrackSourceStats } from './conntrack-source.js';
import type { IdentityHistoryStats } from './identity-history.js';
import type { HubbleObserverStats } from '../ingest/hubble-grpc/index.js';
import type { HubbleAgentStats } from './hubble-agent.js';
import type { EdgeReceiverStats } from '../operator/receiver.js';
import type { ShipperStats } from './shipper.js';

type Labels<L extends string> = Partial<Record<L, string | number>>;

/** A counter whose value is read from `read()` at scrape time (one series per returned entry). */
function statCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], read: () => [Labels<L>, number][]): void {
  new Counter<L>({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) if (value > 0) this.inc(labels, value);
    },
  });
}

function statGauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], read: () => [Labels<L>, number][]): void {
  new Gauge<L>({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.set(labels, value);
    },
  });
}

export interface AgentMetricSources {
  readonly conntrack: ConntrackSourceStats;
  readonly aggregator: AggregatorStats;
  readonly shipper: ShipperStats;
  readonly identity: IdentityHistoryStats;
}

export interface HubbleAgentMetricSources {
  /** The Hubble stream's counters, read at scrape time. */
  readonly hubble: () => HubbleObserverStats;
  readonly agent: HubbleAgentStats;
  readonly aggregator: AggregatorStats;
  readonly shipper: ShipperStats;
}

/** Registers the Hubble agent's metrics (`hivewall_agent_hubble_*` and the shared shipping ones) on `registry`. */
export function registerHubbleAgentMetrics(registry: Registry, s: HubbleAgentMetricSources): void {
  statGauge(registry, 'hivewall_agent_hubble_connected', '1 while the GetFlows stream from the node-local Hubble server is established.', [], () => [[{}, s.hubble().connected ? 1 : 0]]);
  statCounter(registry, 'hivewall_agent_hubble_reconnects_total', 'Connection attempts to the node-local Hubble server after the first one (with backoff).', [], () => [[{}, s.hubble().reconnects]]);
  statCounter(registry, 'hivewall_agent_hubble_messages_total', 'Hubble messages delivered, by result (flow, lost-events, duplicate after a resume, or the skip reason).', ['result'], () => {
    const h = s.hubble();
    return [
      [{ result: 'flow' }, h.flows], [{ result: 'lost-events' }, h.lostEventNotices], [{ result: 'duplicate' }, h.duplicates],
      ...Object.entries(h.skipped).map(([reason, n]): [Labels<'result'>, number] => [{ result: reason }, n]),
    ];
  });
  statCounter(registry, 'hivewall_agent_hubble_lost_events_total', 'Events Hubble reported lost before the agent saw them (lost_events notices).', [], () => [[{}, s.hubble().lostEvents]]);
  statCounter(registry, 'hivewall_agent_hubble_left_to_server_node_total', 'Flows leaving a pod toward a pod, counted by the server pod\'s node instead.', [], () => [[{}, s.agent.leftToServerNode]]);
  registerShippingMetrics(registry, s.aggregator, s.shipper);
}

/** Registers the conntrack agent's metrics on `registry`. */
export function registerAgentMetrics(registry: Registry, s: AgentMetricSources): void {
  statCounter(registry, 'hivewall_agent_conntrack_lines_total', 'Conntrack lines read, by origin (events, dump) and result (flow, or the skip reason).', ['origin', 'result'], () => [
    [{ origin: 'events', result: 'read' }, s.conntrack.lines.events],
    [{ origin: 'dump', result: 'read' }, s.conntrack.lines.dump],
    [{ origin: 'all', result: 'flow' }, s.conntrack.flows],
    ...Object.entries(s.conntrack.skipped).map(([reason, n]): [Labels<'origin' | 'result'>, number] => [{ origin: 'all', result: reason }, n]),
  ]);
  statCounter(registry, 'hivewall_agent_conntrack_errors_total', 'Conntrack process failures by kind (missing-binary, permission, exited, dump-failed, dump-timeout).', ['kind'], () =>
    Object.entries(s.conntrack.errors).map(([kind, n]) => [{ kind }, n ?? 0]));
  statCounter(registry, 'hivewall_agent_conntrack_starts_total', 'Starts of the conntrack events process.', [], () => [[{}, s.conntrack.eventStarts]]);
  statCounter(registry, 'hivewall_agent_conntrack_stderr_lines_total', 'Lines conntrack printed on stderr (not counting its summary line).', [], () => [[{}, s.conntrack.stderrLines]]);
  statCounter(registry, 'hivewall_agent_conntrack_lost_events_total', 'Times conntrack -E reported that the kernel dropped events (ENOBUFS); each is shipped as lost.', [], () => [[{}, s.conntrack.lostEventNotices]]);
  statCounter(registry, 'hivewall_agent_conntrack_dumps_total', 'Full-table dumps, by result.', ['result'], () => [
    [{ result: 'ok' }, s.conntrack.dumps.ok], [{ result: 'failed' }, s.conntrack.dumps.failed],
  ]);
  registerShippingMetrics(registry, s.aggregator, s.shipper);
  statGauge(registry, 'hivewall_agent_identity_pods', 'Pods the agent resolves, by state (live, remembered after deletion).', ['state'], () => [
    [{ state: 'live' }, s.identity.livePods], [{ state: 'remembered' }, s.identity.rememberedPods],
  ]);
}

/** Learning and shipping metrics shared by both agents (one aggregator, one shipper). */
function registerShippingMetrics(registry: Registry, aggregator: AggregatorStats, shipper: ShipperStats): void {
  statCounter(registry, 'hivewall_agent_connections_learned_total', 'Connections the agent learned (deduplicated by 5-tuple).', [], () => [[{}, aggregator.learned]]);
  statCounter(registry, 'hivewall_agent_remote_client_flows_total', 'Flows left to the agent of the client\'s node.', [], () => [[{}, aggregator.remoteClient]]);
  statGauge(registry, 'hivewall_agent_buffered_edges', 'Edge deltas not yet acknowledged by the controller, by state (pending, inflight).', ['state'], () => [
    [{ state: 'pending' }, aggregator.pendingEdges], [{ state: 'inflight' }, aggregator.inflightEdges],
  ]);
  statCounter(registry, 'hivewall_agent_dropped_edges_total', 'New edges dropped because the delta buffer was full.', [], () => [[{}, aggregator.droppedEdges]]);
  statCounter(registry, 'hivewall_agent_dropped_connections_total', 'Connections in dropped edges (buffer full), in batches the controller refused for good, and those the previous run stopped with unshipped.', ['reason'], () => [
    [{ reason: 'buffer-full' }, aggregator.droppedConnections], [{ reason: 'rejected' }, aggregator.rejectedConnections],
    [{ reason: 'previous-run' }, aggregator.carriedConnections],
  ]);
  statCounter(registry, 'hivewall_agent_ship_requests_total', 'Edge batches sent to the controller, by outcome.', ['outcome'], () =>
    Object.entries(shipper.outcomes).map(([outcome, n]) => [{ outcome }, n]));
  statGauge(registry, 'hivewall_agent_ship_consecutive_failures', 'Shipping rounds in a row that failed.', [], () => [[{}, shipper.consecutiveFailures]]);
}

/** Registers the receiver's metrics on `registry` (the operator's). */
export function registerReceiverMetrics(registry: Registry, stats: EdgeReceiverStats): void {
  statCounter(registry, 'hivewall_edge_receiver_requests_total', 'Edge pushes from node agents, by result (accepted, duplicate, unauthenticated, forbidden, bad-json, unknown-placement: retried because the inventory does not show a pod yet, …).', ['result'], () =>
    Object.entries(stats.requests).map(([result, n]) => [{ result }, n]));
  statCounter(registry, 'hivewall_edge_receiver_edges_refused_total', 'Edges from node agents refused and not learned, by reason (not-on-node: neither side is a pod of the reporting node or the node itself; unknown-node).', ['reason'], () =>
    Object.entries(stats.refused).map(([reason, n]) => [{ reason }, n]));
  statCounter(registry, 'hivewall_edge_receiver_connections_total', 'Connections merged from node agents.', [], () => [[{}, stats.connections]]);
  statCounter(registry, 'hivewall_edge_receiver_dropped_connections_total', 'Connections node agents reported dropped before shipping (their buffer was full).', [], () => [[{}, stats.dropped]]);
}
