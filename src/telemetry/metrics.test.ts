import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';

describe('createMetrics', () => {
  it('defines every hivewall metric on its own registry, with the default process metrics', async () => {
    const m = createMetrics();
    const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name);
    expect(names.filter((n) => n.startsWith('hivewall_')).sort()).toEqual([
      'hivewall_denied_flows_total', 'hivewall_dns_names_dropped_total', 'hivewall_event_loop_delay_max_seconds', 'hivewall_event_loop_delay_seconds',
      'hivewall_flow_events_lost_total', 'hivewall_flows_ingested_total', 'hivewall_graph_edges', 'hivewall_informer_handler_errors_total', 'hivewall_intake_pauses_total',
      'hivewall_informer_last_sync_timestamp_seconds', 'hivewall_informer_objects', 'hivewall_informer_relists_total',
      'hivewall_informer_restarts_total', 'hivewall_leader_status',
      'hivewall_policies_applied', 'hivewall_proposals', 'hivewall_reconcile_duration_seconds',
      'hivewall_reconcile_errors_total', 'hivewall_would_deny_flows_total', 'hivewall_workqueue_adds_total',
      'hivewall_workqueue_depth', 'hivewall_workqueue_queue_duration_seconds', 'hivewall_workqueue_retries_total',
      'hivewall_workqueue_work_duration_seconds',
    ].sort());
    expect(names).toContain('process_cpu_user_seconds_total');
    expect(names).toContain('nodejs_eventloop_lag_seconds');
  });

  it('two instances do not collide (no global registry)', () => {
    expect(() => { createMetrics({ defaultMetrics: false }); createMetrics({ defaultMetrics: false }); }).not.toThrow();
  });

  it('the runtime adapters bind their labels', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const q = m.workQueueMetrics('segmentation');
    q.depth(3); q.add(); q.retry(); q.queueLatency(20); q.workDuration(1500);
    const inf = m.informerMetrics('configmaps');
    inf.restart('expired'); inf.handlerError(); inf.objects(7); inf.relist(); inf.synced(1_700_000_000_500);
    const c = m.controllerMetrics('segmentation');
    c.reconcileDuration(0.2, 'success'); c.reconcileError('terminal', 'Invalid'); c.reconcileError('retryable');
    m.leaderElectionMetrics('kube-system/hivewall').leader(true);
    const loop = m.eventLoopMetrics();
    loop.delay?.(0.3); loop.maxDelay?.(0.3);
    m.flowsIngested.inc({ source: 'hubble-grpc', result: 'accepted' }, 10);
    m.policiesApplied.set({ namespace: 'shop', flavor: 'CiliumNetworkPolicy' }, 4);

    const text = await m.registry.metrics();
    for (const line of [
      'hivewall_workqueue_depth{name="segmentation"} 3',
      'hivewall_workqueue_adds_total{name="segmentation"} 1',
      'hivewall_workqueue_retries_total{name="segmentation"} 1',
      'hivewall_workqueue_work_duration_seconds_sum{name="segmentation"} 1.5',
      'hivewall_informer_restarts_total{informer="configmaps",reason="expired"} 1',
      'hivewall_informer_restarts_total{informer="configmaps",reason="error"} 0',
      'hivewall_informer_objects{informer="configmaps"} 7',
      'hivewall_informer_relists_total{informer="configmaps"} 1',
      'hivewall_informer_last_sync_timestamp_seconds{informer="configmaps"} 1700000000.5',
      'hivewall_informer_handler_errors_total{informer="configmaps"} 1',
      'hivewall_reconcile_duration_seconds_count{controller="segmentation",result="success"} 1',
      'hivewall_reconcile_errors_total{controller="segmentation",kind="terminal",reason="Invalid"} 1',
      'hivewall_reconcile_errors_total{controller="segmentation",kind="retryable",reason="unknown"} 1',
      'hivewall_event_loop_delay_seconds_bucket{le="0.5"} 1',
      'hivewall_event_loop_delay_max_seconds 0.3',
      'hivewall_leader_status{lease="kube-system/hivewall"} 1',
      'hivewall_flows_ingested_total{source="hubble-grpc",result="accepted"} 10',
      'hivewall_policies_applied{namespace="shop",flavor="CiliumNetworkPolicy"} 4',
    ]) expect(text).toContain(line);
  });

  it('an informer\'s counters read 0 from the start, so rate() and alerts see them before the first restart', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.informerMetrics('pods');
    const text = await m.registry.metrics();
    for (const line of [
      'hivewall_informer_restarts_total{informer="pods",reason="error"} 0',
      'hivewall_informer_restarts_total{informer="pods",reason="expired"} 0',
      'hivewall_informer_relists_total{informer="pods"} 0',
      'hivewall_informer_handler_errors_total{informer="pods"} 0',
    ]) expect(text).toContain(line);
  });

  it('forgetNamespace removes that namespace\'s series and keeps the others', async () => {
    const m = createMetrics({ defaultMetrics: false });
    for (const namespace of ['shop', 'pay']) {
      m.graphEdges.set({ namespace }, 12);
      m.wouldDenyFlows.inc({ namespace }, 2);
      m.deniedFlows.inc({ namespace }, 3);
      m.policiesApplied.set({ namespace, flavor: namespace === 'shop' ? 'CiliumNetworkPolicy' : 'NetworkPolicy' }, 4);
    }
    m.forgetNamespace('shop');
    const text = await m.registry.metrics();
    expect(text).not.toContain('namespace="shop"');
    for (const line of ['hivewall_graph_edges{namespace="pay"} 12', 'hivewall_would_deny_flows_total{namespace="pay"} 2', 'hivewall_denied_flows_total{namespace="pay"} 3', 'hivewall_policies_applied{namespace="pay",flavor="NetworkPolicy"} 4']) {
      expect(text).toContain(line);
    }
  });

  it('default labels apply to every series', async () => {
    const m = createMetrics({ defaultMetrics: false, defaultLabels: { replica: 'hivewall-0' } });
    m.graphEdges.set({ namespace: 'shop' }, 12);
    expect(await m.registry.metrics()).toContain('hivewall_graph_edges{namespace="shop",replica="hivewall-0"} 12');
  });
});
