import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';

describe('createMetrics', () => {
  it('defines every hivewall metric on its own registry, with the default process metrics', async () => {
    const m = createMetrics();
    const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name);
    expect(names.filter((n) => n.startsWith('hivewall_')).sort()).toEqual([
      'hivewall_denied_flows_total', 'hivewall_flow_events_lost_total', 'hivewall_flows_ingested_total', 'hivewall_graph_edges', 'hivewall_informer_handler_errors_total',
      'hivewall_informer_objects', 'hivewall_informer_restarts_total', 'hivewall_leader_status',
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
    const q = m.workQueue('segmentation');
    q.depth?.(3); q.add?.(); q.retry?.(); q.queueLatency?.(20); q.workDuration?.(1500);
    const inf = m.informer('configmaps');
    inf.restart?.('expired'); inf.handlerError?.(); inf.objects?.(7);
    const c = m.controller('segmentation');
    c.reconcileDuration?.(0.2, 'success'); c.reconcileError?.('terminal');
    m.leaderElection('kube-system/hivewall').leader?.(true);
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
      'hivewall_reconcile_duration_seconds_count{controller="segmentation",result="success"} 1',
      'hivewall_reconcile_errors_total{controller="segmentation",kind="terminal"} 1',
      'hivewall_reconcile_errors_total{controller="segmentation",kind="retryable"} 0',
      'hivewall_leader_status{lease="kube-system/hivewall"} 1',
      'hivewall_flows_ingested_total{source="hubble-grpc",result="accepted"} 10',
      'hivewall_policies_applied{namespace="shop",flavor="CiliumNetworkPolicy"} 4',
    ]) expect(text).toContain(line);
  });

  it('default labels apply to every series', async () => {
    const m = createMetrics({ defaultMetrics: false, defaultLabels: { replica: 'hivewall-0' } });
    m.graphEdges.set({ namespace: 'shop' }, 12);
    expect(await m.registry.metrics()).toContain('hivewall_graph_edges{namespace="shop",replica="hivewall-0"} 12');
  });
});
