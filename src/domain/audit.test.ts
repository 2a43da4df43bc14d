import { describe, expect, it } from 'vitest';
import { buildClusterModel, type Policy } from './simulate/index.js';
import { AuditEngine } from './audit.js';

const pod = (namespace: string, name: string, ip: string, labels: Record<string, string>) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { namespace, name, labels },
  spec: { nodeName: 'node-a' }, status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
});
const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } });

// shop: frontend → cart:8080 is allowed by the approved policy; nothing else reaches cart.
const cluster = buildClusterModel([
  ns('shop'), ns('other'),
  pod('shop', 'frontend-7d9-abc', '10.0.0.10', { app: 'frontend' }),
  pod('shop', 'cart-5f8-xyz', '10.0.0.20', { app: 'cart' }),
  pod('other', 'scraper-1', '10.0.1.5', { app: 'scraper' }),
]);
const policies = [{
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: 'shop', name: 'hivewall-cart' },
  spec: {
    podSelector: { matchLabels: { app: 'cart' } }, policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }], ports: [{ port: 8080, protocol: 'TCP' }] }],
  },
}] as unknown as Policy[];

const pods: Record<string, string> = {
  'wl:shop/Deployment/frontend': 'frontend-7d9-abc',
  'wl:shop/Deployment/cart': 'cart-5f8-xyz',
  'wl:other/Deployment/scraper': 'scraper-1',
};
const podOf = (key: string) => pods[key];
const edge = (client: string, server: string, port: number, count = 1) => ({ client, server, port, protocol: 'TCP', count, lastSeen: Date.UTC(2026, 0, 1) });

describe('AuditEngine.observeEdge (node agents\' workload-level edges)', () => {
  it('evaluates each side as a live pod of its workload and counts every connection of the delta', () => {
    const audit = new AuditEngine('shop', 'shop', 'shop-r1', policies, cluster, 'generic');
    audit.observeEdge(edge('wl:shop/Deployment/frontend', 'wl:shop/Deployment/cart', 8080, 5), podOf);
    expect(audit).toMatchObject({ flows: 5, wouldDeny: 0 });
    audit.observeEdge(edge('wl:other/Deployment/scraper', 'wl:shop/Deployment/cart', 8080, 3), podOf);
    audit.observeEdge(edge('wl:shop/Deployment/frontend', 'wl:shop/Deployment/cart', 9090, 2), podOf);
    expect(audit).toMatchObject({ flows: 10, wouldDeny: 5 });
    expect(audit.sampleList().map((s) => `${s.client} -> ${s.server} ${s.port}/${s.protocol} x${s.count}`)).toEqual([
      'other/Deployment/scraper -> shop/Deployment/cart 8080/TCP x3',
      'shop/Deployment/frontend -> shop/Deployment/cart 9090/TCP x2',
    ]);
    expect(audit.drainFresh().samples).toHaveLength(2);
    // The findings name the workloads as peer keys, for reports.
    expect(audit.sampleList()[0]).toMatchObject({ clientKey: 'wl:other/Deployment/scraper', serverKey: 'wl:shop/Deployment/cart' });
  });

  it('announces each would-deny pair once, and at most 100 between two drains (the rest counted)', () => {
    const audit = new AuditEngine('shop', 'shop', 'shop-r1', policies, cluster, 'generic');
    // A scan: the same pair again and again, then 5,000 distinct ports.
    for (let i = 0; i < 50; i++) audit.observeEdge(edge('wl:other/Deployment/scraper', 'wl:shop/Deployment/cart', 8080), podOf);
    expect(audit.drainFresh()).toMatchObject({ samples: [expect.objectContaining({ port: 8080 })], more: 0 });
    audit.observeEdge(edge('wl:other/Deployment/scraper', 'wl:shop/Deployment/cart', 8080), podOf);
    expect(audit.drainFresh()).toEqual({ samples: [], more: 0 });
    for (let port = 10_000; port < 15_000; port++) audit.observeEdge(edge('wl:other/Deployment/scraper', 'wl:shop/Deployment/cart', port), podOf);
    const drained = audit.drainFresh();
    expect(drained.samples).toHaveLength(100);
    expect(drained.more).toBe(4_900);
    expect(audit.drainFresh()).toEqual({ samples: [], more: 0 });
    expect(audit).toMatchObject({ flows: 5_051, wouldDeny: 5_051 });
  });

  it('ignores edges of other namespaces, workloads without a live pod, and ICMP', () => {
    const audit = new AuditEngine('shop', 'shop', 'shop-r1', policies, cluster, 'generic');
    audit.observeEdge(edge('wl:other/Deployment/scraper', 'en:world:203.0.113.7', 443), podOf);
    audit.observeEdge(edge('wl:shop/Deployment/gone', 'wl:shop/Deployment/cart', 8080), podOf);
    audit.observeEdge({ ...edge('wl:shop/Deployment/frontend', 'wl:shop/Deployment/cart', 0), protocol: 'ICMPv4' }, podOf);
    expect(audit).toMatchObject({ flows: 0, wouldDeny: 0 });
  });

  it('an external address is evaluated by its IP', () => {
    const audit = new AuditEngine('shop', 'shop', 'shop-r1', policies, cluster, 'generic');
    audit.observeEdge(edge('en:world:203.0.113.7', 'wl:shop/Deployment/cart', 8080, 4), podOf);
    expect(audit).toMatchObject({ flows: 4, wouldDeny: 4 });
    expect(audit.sampleList()[0]).toMatchObject({ client: 'world 203.0.113.7', server: 'shop/Deployment/cart' });
  });

  it('a denied flow names its pods, and their workloads as peer keys when the inventory knows them', () => {
    const audit = new AuditEngine('shop', 'shop', 'shop-r1', policies, cluster, 'generic');
    const flow = {
      time: Date.UTC(2026, 0, 1), verdict: 'FORWARDED', confirmed: true, isReply: false, protocol: 'TCP',
      source: { ip: '10.0.1.5', port: 40000, namespace: 'other', podName: 'scraper-1' },
      destination: { ip: '10.0.0.20', port: 8080, namespace: 'shop', podName: 'cart-5f8-xyz' },
    } as unknown as Parameters<AuditEngine['observe']>[0];
    audit.observe(flow, (ns, pod) => (pod === 'scraper-1' ? `wl:${ns}/Deployment/scraper` : undefined));
    expect(audit.sampleList()).toEqual([expect.objectContaining({ client: 'other/scraper-1', server: 'shop/cart-5f8-xyz', clientKey: 'wl:other/Deployment/scraper', count: 1 })]);
    expect(audit.sampleList()[0]!.serverKey).toBeUndefined();
  });
});
