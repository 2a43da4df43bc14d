import { describe, expect, it } from 'vitest';
import { deploymentPod, endpoint, flow, inventory, service } from '../testing/builders.js';
import { inventoryFromObjects } from '../ingest/cluster-snapshot.js';
import { IdentityResolver } from './identity.js';
import { Learner, type Denial } from './learner.js';

const T0 = Date.UTC(2026, 10, 2, 10, 0, 0);
const frontend = deploymentPod('shop', 'frontend', '10.244.0.5');
const cart = deploymentPod('shop', 'cart', '10.244.1.7');
const cluster = inventory({
  nodes: [
    { name: 'node-a', ips: ['172.18.0.2'], podCIDRs: ['10.244.0.0/24'] },
    { name: 'node-b', ips: ['172.18.0.3'], podCIDRs: ['10.244.1.0/24'] },
  ],
  pods: [{ ...frontend, nodeName: 'node-a' }, { ...cart, nodeName: 'node-b' }],
  services: [service('shop', 'cart', { clusterIPs: ['10.96.5.5'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http' }] })],
  endpointSlices: [
    { namespace: 'shop', serviceName: 'cart', endpoints: [{ addresses: ['10.244.1.7'] }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
    { namespace: 'default', serviceName: 'kubernetes', endpoints: [{ addresses: ['172.18.0.2'] }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] },
  ],
});

function learn(...flows: Parameters<Learner['ingestFlow']>[0][]): Learner {
  const learner = new Learner(new IdentityResolver(cluster));
  for (const f of flows) learner.ingestFlow(f);
  learner.finish();
  return learner;
}

const edges = (l: Learner) => [...l.edges.edges()].map((e) => `${e.client} -> ${e.server} ${e.port}/${e.protocol} x${e.count}`);

describe('Learner', () => {
  it('a connection seen at source egress and destination ingress counts once', () => {
    const l = learn(
      flow(endpoint('10.244.0.5', 40000), endpoint('10.244.1.7', 8080), { time: T0, observationPoint: 'TO_STACK' }),
      flow(endpoint('10.244.0.5', 40000), endpoint('10.244.1.7', 8080), { time: T0 + 2, observationPoint: 'TO_ENDPOINT' }),
      flow(endpoint('10.244.0.5', 40001), endpoint('10.244.1.7', 8080), { time: T0 + 5 }),
    );
    expect(edges(l)).toEqual(['wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x2']);
    expect(l.stats.learned).toBe(2);
  });

  it('a retransmitted SYN is a duplicate observation', () => {
    const l = learn(
      flow(endpoint('10.244.0.5', 40000), endpoint('10.244.1.7', 8080), { time: T0, observationPoint: 'TO_ENDPOINT' }),
      flow(endpoint('10.244.0.5', 40000), endpoint('10.244.1.7', 8080), { time: T0 + 1000, observationPoint: 'TO_ENDPOINT' }),
    );
    expect(edges(l)).toEqual(['wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x1']);
    expect(l.stats.skipped.duplicate).toBe(1);
  });

  it('settlePending learns connections waiting for a reply and keeps them, so later observations stay duplicates', () => {
    const l = new Learner(new IdentityResolver(cluster));
    const out = (port: number, time: number) => flow(endpoint('10.244.0.5', port), endpoint('198.51.100.7', 443), { time, observationPoint: 'TO_STACK' });
    expect(l.ingestFlow(out(40000, T0))).toBe('pending');
    expect(l.ingestFlow(flow(endpoint('10.244.0.5', 40009), endpoint('10.244.1.7', 9999), { time: T0, confirmed: false }))).toBe('unconfirmed');
    l.settlePending();
    expect(edges(l)).toEqual(['wl:shop/Deployment/frontend -> en:world:198.51.100.7 443/TCP x1']);
    expect(l.ingestFlow(out(40000, T0 + 1000))).toBe('duplicate'); // the FIN of the same connection
    l.settlePending();
    expect(edges(l)).toEqual(['wl:shop/Deployment/frontend -> en:world:198.51.100.7 443/TCP x1']);
    l.finish(); // the unconfirmed attempt is still reported as unanswered, never learned
    expect([...l.dropped.values()].map((d) => d.reason)).toEqual(['UNREPLIED']);
  });

  it('forwarded at the source but dropped by the destination is denied, not learned', () => {
    const l = learn(
      flow(endpoint('10.244.0.5', 40000), endpoint('10.244.1.7', 5432), { time: T0, observationPoint: 'TO_STACK' }),
      flow(endpoint('10.244.0.5', 40000), endpoint('10.244.1.7', 5432), { time: T0 + 1, verdict: 'DROPPED', dropReason: 'POLICY_DENIED' }),
      flow(endpoint('10.244.0.5', 40000), endpoint('10.244.1.7', 5432), { time: T0 + 1000, observationPoint: 'TO_STACK' }),
      flow(endpoint('10.244.0.5', 40000), endpoint('10.244.1.7', 5432), { time: T0 + 1001, verdict: 'DROPPED', dropReason: 'POLICY_DENIED' }),
    );
    expect(edges(l)).toEqual([]);
    expect([...l.dropped.values()].map((d) => `${d.server} ${d.port} ${d.reason} x${d.count}`)).toEqual(['wl:shop/Deployment/cart 5432 POLICY_DENIED x2']);
  });

  it('a connection seen only leaving its source is learned when a reply proves it, or at the end', () => {
    const l = new Learner(new IdentityResolver(cluster));
    expect(l.ingestFlow(flow(endpoint('10.244.0.5', 40000), endpoint('198.51.100.7', 443), { observationPoint: 'TO_STACK' }))).toBe('pending');
    expect(l.ingestFlow(flow(endpoint('198.51.100.7', 443), endpoint('10.244.0.5', 40000), { isReply: true, observationPoint: 'TO_ENDPOINT' }))).toBe('reply');
    expect(edges(l)).toEqual(['wl:shop/Deployment/frontend -> en:world:198.51.100.7 443/TCP x1']);
    expect(l.ingestFlow(flow(endpoint('10.244.0.5', 40001), endpoint('198.51.100.8', 443), { observationPoint: 'TO_STACK' }))).toBe('pending');
    l.finish();
    expect(edges(l)).toHaveLength(2);
  });

  it('a small dedupe table evicts and reuses connection records without mixing up the ones still in it', () => {
    const l = new Learner(new IdentityResolver(cluster), { dedupeCapacity: 16 });
    // Pending connections (seen leaving their source) to two servers, interleaved: each eviction
    // learns the oldest and frees their records for the next ones.
    for (let i = 0; i < 200; i++) {
      const [client, server, port] = i % 2 === 0 ? ['10.244.0.5', '10.244.1.7', 8080] : ['10.244.1.7', '10.244.0.5', 9090];
      expect(l.ingestFlow(flow(endpoint(client, 30000 + i), endpoint(server, port), { time: T0 + i, observationPoint: 'TO_STACK' }))).toBe('pending');
      // The connection just before this one is still in the table: its drop denies its own pair.
      if (i % 5 === 4) {
        const [pc, ps, pp] = i % 2 === 0 ? ['10.244.1.7', '10.244.0.5', 9090] : ['10.244.0.5', '10.244.1.7', 8080];
        expect(l.ingestFlow(flow(endpoint(pc, 30000 + i - 1), endpoint(ps, pp), { time: T0 + i, verdict: 'DROPPED', dropReason: 'POLICY_DENIED' }))).toBe('dropped');
      }
    }
    l.finish();
    expect(edges(l).sort()).toEqual([
      'wl:shop/Deployment/cart -> wl:shop/Deployment/frontend 9090/TCP x80',
      'wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x80',
    ]);
    expect([...l.dropped.values()].map((d) => `${d.client} ${d.server} ${d.port} ${d.reason} x${d.count}`).sort()).toEqual([
      'wl:shop/Deployment/cart wl:shop/Deployment/frontend 9090 POLICY_DENIED x20',
      'wl:shop/Deployment/frontend wl:shop/Deployment/cart 8080 POLICY_DENIED x20',
    ]);
  });

  it('replies never create an edge, not even a reversed one', () => {
    const l = learn(flow(endpoint('10.244.1.7', 8080), endpoint('10.244.0.5', 40000), { isReply: true }));
    expect(edges(l)).toEqual([]);
    expect(l.stats.skipped.reply).toBe(1);
  });

  it('dropped flows are reported, not learned', () => {
    const l = learn(flow(endpoint('10.244.0.5', 40000), endpoint('10.244.1.7', 5432), { verdict: 'DROPPED', dropReason: 'POLICY_DENIED' }));
    expect(edges(l)).toEqual([]);
    expect([...l.dropped.values()]).toEqual([
      { client: 'wl:shop/Deployment/frontend', server: 'wl:shop/Deployment/cart', port: 5432, protocol: 'TCP', reason: 'POLICY_DENIED', count: 1 },
    ]);
  });

  it('without tallies (the operator\'s learner) drops and unknown addresses are counted and told, but nothing is kept per pair or address', () => {
    const denials: Denial[] = [];
    const l = new Learner(new IdentityResolver(cluster), { tallies: false, onDenied: (d) => denials.push(d) });
    for (let i = 0; i < 50; i++) {
      l.ingestFlow(flow(endpoint('10.244.0.5', 40000 + i), endpoint('10.244.1.7', 5432), { time: T0 + i, verdict: 'DROPPED', dropReason: 'POLICY_DENIED' }));
      l.ingestFlow(flow(endpoint(`10.244.1.${100 + i}`, 40000), endpoint('10.244.1.7', 8080), { time: T0 + i }));
    }
    l.ingestFlow(flow(endpoint('10.244.0.5', 41000), endpoint('10.244.1.7', 8080), { time: T0 + 60 }));
    l.finish();
    expect(l.dropped.size).toBe(0);
    expect(l.unresolved.size).toBe(0);
    expect(l.stats.skipped.dropped).toBe(50);
    expect(l.stats.skipped.unresolved).toBe(50);
    expect(denials).toHaveLength(50);
    expect(edges(l)).toEqual(['wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x1']);
  });

  it('AUDIT flows are traffic', () => {
    const l = learn(flow(endpoint('10.244.0.5', 40000), endpoint('10.244.1.7', 8080), { verdict: 'AUDIT' }));
    expect(edges(l)).toHaveLength(1);
  });

  it('an unreplied conntrack entry confirmed later is learned and not reported', () => {
    const l = learn(
      flow(endpoint('10.244.0.5', 40000), endpoint('10.244.1.7', 8080), { confirmed: false }),
      flow(endpoint('10.244.0.5', 40000), endpoint('10.244.1.7', 8080), { time: T0 + 1 }),
    );
    expect(edges(l)).toHaveLength(1);
    expect(l.dropped.size).toBe(0);
  });

  it('an entry that never gets a reply is reported as unanswered', () => {
    const l = learn(flow(endpoint('203.0.113.66', 51000), endpoint('10.244.1.7', 8080), { confirmed: false }));
    expect(edges(l)).toEqual([]);
    expect([...l.dropped.values()].map((d) => `${d.client} ${d.server} ${d.reason}`)).toEqual(['en:world:203.0.113.66 wl:shop/Deployment/cart UNREPLIED']);
  });

  it('a Service address resolves to the backend workload and its target port', () => {
    const l = learn(flow(endpoint('10.244.0.5', 40000), endpoint('10.96.5.5', 80)));
    expect(edges(l)).toEqual(['wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x1']);
  });

  it('node and apiserver addresses become entities; outside addresses become world', () => {
    const l = learn(
      flow(endpoint('172.18.0.3', 50000), endpoint('10.244.1.7', 8080)),
      flow(endpoint('172.18.0.2', 50000), endpoint('10.244.1.7', 8080)),
      flow(endpoint('10.244.0.5', 40002), endpoint('172.18.0.2', 6443)),
      flow(endpoint('10.244.0.5', 40003), endpoint('198.51.100.77', 443)),
    );
    expect(edges(l).sort()).toEqual([
      'en:host -> wl:shop/Deployment/cart 8080/TCP x1',
      'en:remote-node:172.18.0.2 -> wl:shop/Deployment/cart 8080/TCP x1',
      'wl:shop/Deployment/frontend -> en:kube-apiserver:172.18.0.2 6443/TCP x1',
      'wl:shop/Deployment/frontend -> en:world:198.51.100.77 443/TCP x1',
    ]);
  });

  it('an unknown address inside a pod CIDR is reported, never invented', () => {
    const l = learn(flow(endpoint('10.244.1.99', 40000), endpoint('10.244.1.7', 8080)));
    expect(edges(l)).toEqual([]);
    expect([...l.unresolved.values()]).toEqual([{ ip: '10.244.1.99', reason: 'unknown-pod-ip', count: 1 }]);
  });

  it('DNS answers name external peers for the workload they were sent to, and for no other', () => {
    const l = learn(
      flow(endpoint('10.244.0.9', 53), endpoint('10.244.0.5', 33000), { protocol: 'UDP', isReply: true, dnsAnswer: { query: 'api.stripe.example', ips: ['203.0.113.50'] } }),
      flow(endpoint('10.244.0.5', 40000), endpoint('203.0.113.50', 443)),
      flow(endpoint('10.244.1.7', 40001), endpoint('203.0.113.50', 443)),
    );
    expect(edges(l).map((e) => e.split(' ')[0]).sort()).toEqual(['wl:shop/Deployment/cart', 'wl:shop/Deployment/frontend']);
    expect(l.dnsNames.namesFor('wl:shop/Deployment/frontend', '203.0.113.50')).toEqual(['api.stripe.example']);
    expect(l.dnsNames.namesFor('wl:shop/Deployment/cart', '203.0.113.50')).toEqual([]);
  });

  it('DNS names are bounded: a workload resolving thousands of names keeps the ones its learned edges use', () => {
    const dropped: number[] = [];
    const l = new Learner(new IdentityResolver(cluster), { dnsLimits: { recentNamesPerClient: 16 }, onDnsNamesDropped: (_, n) => dropped.push(n) });
    const answer = (time: number, query: string, ip: string) =>
      flow(endpoint('10.244.0.9', 53), endpoint('10.244.0.5', 33000 + (time % 1000)), { time, protocol: 'UDP', isReply: true, dnsAnswer: { query, ips: [ip] } });
    l.ingestFlow(answer(T0, 'api.stripe.example', '203.0.113.50'));
    l.ingestFlow(flow(endpoint('10.244.0.5', 40000), endpoint('203.0.113.50', 443), { time: T0 + 1 }));
    // 5,000 answers for addresses never connected to; then one more name for the connected address, kept with it.
    for (let i = 0; i < 5000; i++) l.ingestFlow(answer(T0 + 2 + i, `r${i}.random.example`, `198.51.${100 + (i >> 8)}.${i & 255}`));
    l.ingestFlow(answer(T0 + 6000, 'api2.stripe.example', '203.0.113.50'));
    l.finish();
    expect(l.dnsNames.namesFor('wl:shop/Deployment/frontend', '203.0.113.50')).toEqual(['api.stripe.example', 'api2.stripe.example']);
    expect(l.dnsNames.addresses).toBe(1 + 16);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(5000 - 16);
  });

  it('an edge the edge limits refuse pins no DNS names', () => {
    const l = new Learner(new IdentityResolver(cluster), { limits: { maxEdges: 1 }, dnsLimits: { recentNamesPerClient: 1 } });
    l.ingestFlow(flow(endpoint('10.244.0.5', 40000), endpoint('10.244.1.7', 8080), { time: T0 }));
    l.ingestFlow(flow(endpoint('10.244.0.9', 53), endpoint('10.244.0.5', 33000), { time: T0 + 1, protocol: 'UDP', isReply: true, dnsAnswer: { query: 'a.example', ips: ['203.0.113.1'] } }));
    l.ingestFlow(flow(endpoint('10.244.0.5', 40001), endpoint('203.0.113.1', 443), { time: T0 + 2 }));
    l.finish();
    expect(l.edges.refusedEdges).toBe(1);
    l.ingestFlow(flow(endpoint('10.244.0.9', 53), endpoint('10.244.0.5', 33001), { time: T0 + 3, protocol: 'UDP', isReply: true, dnsAnswer: { query: 'b.example', ips: ['203.0.113.2'] } }));
    expect(l.dnsNames.namesFor('wl:shop/Deployment/frontend', '203.0.113.1')).toEqual([]);
    expect(l.dnsNames.dropped.evicted).toBe(1);
  });

  it('Hubble pod hints resolve without a snapshot', () => {
    const l = new Learner(new IdentityResolver(inventory({})));
    l.ingestFlow(flow(
      endpoint('10.0.0.1', 1234, { namespace: 'a', podName: 'web-6c9f7d8b5d-x2k4p', labels: ['app=web', 'pod-template-hash=6c9f7d8b5d'] }),
      endpoint('10.0.0.2', 80, { namespace: 'b', podName: 'api-0', workload: { kind: 'StatefulSet', name: 'api' } }),
    ));
    expect(edges(l)).toEqual(['wl:a/Deployment/web -> wl:b/StatefulSet/api 80/TCP x1']);
    expect([...l.observedPods.keys()]).toEqual(['wl:a/Deployment/web']);
  });

  it('keeps the newest observed pods per workload when bounded (the operator), all of them otherwise', () => {
    const pods = (bound?: number) => {
      const l = new Learner(new IdentityResolver(inventory({})), bound === undefined ? {} : { observedPodLimits: { podsPerWorkload: bound, workloads: 10 } });
      for (let i = 0; i < 10; i++) {
        l.ingestFlow(flow(
          endpoint(`10.0.0.${i + 10}`, 1234, { namespace: 'a', podName: `report-2891${i}-x${i}k4p`, labels: ['app=report', `run=${i}`], workload: { kind: 'CronJob', name: 'report' } }),
          endpoint('10.0.0.2', 80, { namespace: 'b', podName: 'api-0', workload: { kind: 'StatefulSet', name: 'api' } }),
          { time: T0 + i },
        ));
      }
      return [...l.observedPods.get('wl:a/CronJob/report')!.values()].map((labels) => labels[1]);
    };
    expect(pods()).toHaveLength(10);
    expect(pods(3)).toEqual(['run=7', 'run=8', 'run=9']);
  });

  it('keeps the workloads named most recently when bounded (every bare pod is a workload of its own)', () => {
    const l = new Learner(new IdentityResolver(inventory({})), { observedPodLimits: { podsPerWorkload: 4, workloads: 3 } });
    const from = (i: number, port: number) => l.ingestFlow(flow(
      endpoint(`10.0.0.${i + 10}`, port, { namespace: i < 5 ? 'a' : 'c', podName: `debug-${i}`, labels: [`run=${i}`] }),
      endpoint('10.0.0.2', 80, { namespace: 'b', podName: 'api-0', workload: { kind: 'StatefulSet', name: 'api' } }),
      { time: T0 + port },
    ));
    for (let i = 0; i < 10; i++) {
      from(i, 1000 + i);
      if (i >= 5) from(0, 2000 + i); // debug-0 keeps talking: it stays
    }
    // The server's pods carry no labels here: only the clients are observed.
    expect([...l.observedPods.keys()].sort()).toEqual(['wl:a/Pod/debug-0', 'wl:c/Pod/debug-8', 'wl:c/Pod/debug-9']);
    expect([...l.observedKeysIn('a')]).toEqual(['wl:a/Pod/debug-0']);
    expect([...l.observedKeysIn('c')]).toEqual(['wl:c/Pod/debug-8', 'wl:c/Pod/debug-9']);
  });

  it('a reused IP resolves to the pod that had it at the flow time', () => {
    const oldPod = deploymentPod('shop', 'catalog', '10.244.1.50', {}, { createdAt: T0 - 3600_000, deletedAt: T0 + 1000 });
    const newPod = deploymentPod('shop', 'search', '10.244.1.50', {}, { createdAt: T0 + 2000 });
    const resolver = new IdentityResolver(inventory({ pods: [oldPod, newPod, frontend] }));
    const l = new Learner(resolver);
    l.ingestFlow(flow(endpoint('10.244.0.5', 1), endpoint('10.244.1.50', 8080), { time: T0 }));
    l.ingestFlow(flow(endpoint('10.244.0.5', 2), endpoint('10.244.1.50', 8080), { time: T0 + 5000 }));
    expect(edges(l).sort()).toEqual([
      'wl:shop/Deployment/frontend -> wl:shop/Deployment/catalog 8080/TCP x1',
      'wl:shop/Deployment/frontend -> wl:shop/Deployment/search 8080/TCP x1',
    ]);
  });

  it('a pod created after the flow, or gone before it, is not the peer, even when it is the only pod with the IP', () => {
    const later = deploymentPod('evil', 'attacker', '10.244.1.60', {}, { createdAt: T0 + 45 * 60_000 });
    const gone = deploymentPod('shop', 'catalog', '10.244.1.61', {}, { createdAt: T0 - 3600_000, deletedAt: T0 - 10 * 60_000 });
    const l = new Learner(new IdentityResolver(inventory({ pods: [later, gone, frontend], nodes: cluster.nodes })));
    l.ingestFlow(flow(endpoint('10.244.0.5', 1), endpoint('10.244.1.60', 5432), { time: T0 }));
    l.ingestFlow(flow(endpoint('10.244.0.5', 2), endpoint('10.244.1.61', 8080), { time: T0 }));
    // Within the allowed clock skew of its creation, the pod is still named.
    l.ingestFlow(flow(endpoint('10.244.0.5', 3), endpoint('10.244.1.60', 5432), { time: T0 + 45 * 60_000 - 5_000 }));
    l.finish();
    expect(edges(l)).toEqual(['wl:shop/Deployment/frontend -> wl:evil/Deployment/attacker 5432/TCP x1']);
    expect([...l.unresolved.keys()].sort()).toEqual(['10.244.1.60', '10.244.1.61']);
  });

  it("a Service's externalIPs and LoadBalancer addresses never capture traffic to that outside address", () => {
    const hijack = {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'hijack', namespace: 'evil' },
      spec: { type: 'LoadBalancer', clusterIP: '10.96.9.9', clusterIPs: ['10.96.9.9'], externalIPs: ['8.8.8.8'], selector: { app: 'attacker' }, ports: [{ port: 443, targetPort: 443 }] },
      status: { loadBalancer: { ingress: [{ ip: '1.1.1.1' }] } },
    };
    const resolver = new IdentityResolver({ ...inventoryFromObjects([hijack]), pods: [frontend], nodes: cluster.nodes });
    const l = new Learner(resolver);
    l.ingestFlow(flow(endpoint('10.244.0.5', 1), endpoint('8.8.8.8', 443), { time: T0 }));
    l.ingestFlow(flow(endpoint('10.244.0.5', 2), endpoint('1.1.1.1', 443), { time: T0 }));
    l.finish();
    expect(edges(l).sort()).toEqual([
      'wl:shop/Deployment/frontend -> en:world:1.1.1.1 443/TCP x1',
      'wl:shop/Deployment/frontend -> en:world:8.8.8.8 443/TCP x1',
    ]);
  });

  it('an IPv4-mapped IPv6 address resolves as the IPv4 address it stands for', () => {
    const l = learn(
      flow(endpoint('10.244.0.5', 40000), endpoint('::ffff:10.244.1.7', 8080), { time: T0 }),
      flow(endpoint('10.244.0.5', 40001), endpoint('::ffff:10.244.1.99', 8080), { time: T0 }),
      flow(endpoint('10.244.0.5', 40002), endpoint('::ffff:198.51.100.7', 443), { time: T0 }),
    );
    expect(edges(l).sort()).toEqual([
      'wl:shop/Deployment/frontend -> en:world:198.51.100.7 443/TCP x1',
      'wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x1',
    ]);
    // Inside a pod range and unknown: unresolved, never an outside address.
    expect([...l.unresolved.keys()]).toEqual(['10.244.1.99']);
  });

  it('counts skipped lines by reason', () => {
    const l = new Learner(new IdentityResolver(cluster));
    l.ingest({ kind: 'skip', reason: 'malformed' });
    l.ingest({ kind: 'skip', reason: 'schema-mismatch' });
    l.ingest({ kind: 'lost-events', source: 'PERF_EVENT_RING_BUFFER', count: 12 });
    l.ingest({ kind: 'node-status', detail: 'x' });
    expect(l.stats).toMatchObject({ events: 4, lostEvents: 12, skipped: { malformed: 1, 'schema-mismatch': 1, 'non-flow': 2 } });
  });
});

describe('Learner denials (onDenied)', () => {
  const collect = () => {
    const denials: Denial[] = [];
    const learner = new Learner(new IdentityResolver(cluster), { onDenied: (d) => denials.push(d) });
    return { learner, denials };
  };

  it('a POLICY_DENIED drop is told once per connection, with direction and the denying policies', () => {
    const { learner, denials } = collect();
    const denied = { verdict: 'DROPPED' as const, dropReason: 'POLICY_DENIED', trafficDirection: 'INGRESS' as const, deniedBy: ['shop/hivewall-cart'] };
    learner.ingestFlow(flow(endpoint('10.244.0.5', 40000), endpoint('10.244.1.7', 8080), { time: T0, ...denied }));
    learner.ingestFlow(flow(endpoint('10.244.0.5', 40000), endpoint('10.244.1.7', 8080), { time: T0 + 1000, ...denied }));
    learner.ingestFlow(flow(endpoint('10.244.0.5', 40001), endpoint('10.244.1.7', 8080), { time: T0 + 2000, ...denied }));
    learner.finish();
    expect(denials).toEqual([
      { client: 'wl:shop/Deployment/frontend', server: 'wl:shop/Deployment/cart', port: 8080, protocol: 'TCP', reason: 'POLICY_DENIED', time: T0, direction: 'INGRESS', deniedBy: ['shop/hivewall-cart'] },
      { client: 'wl:shop/Deployment/frontend', server: 'wl:shop/Deployment/cart', port: 8080, protocol: 'TCP', reason: 'POLICY_DENIED', time: T0 + 2000, direction: 'INGRESS', deniedBy: ['shop/hivewall-cart'] },
    ]);
    expect(edges(learner)).toEqual([]);
  });

  const unreplied = (port: number, time: number, confirmed = false) => flow(endpoint('10.244.0.5', port), endpoint('10.244.1.7', 8080), { time, confirmed });
  const cases: { name: string; flows: ReturnType<typeof unreplied>[]; now: number; expired: number; later: number; learned: string[] }[] = [
    { name: 'unanswered for the threshold: denied, not learned', flows: [unreplied(40000, T0)], now: T0 + 5000, expired: 1, later: 0, learned: [] },
    { name: 'still within the threshold: waits', flows: [unreplied(40000, T0)], now: T0 + 4999, expired: 0, later: 1, learned: [] },
    { name: 'answered before the threshold: learned, never denied', flows: [unreplied(40000, T0), unreplied(40000, T0 + 20, true)], now: T0 + 10_000, expired: 0, later: 0, learned: ['wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP x1'] },
  ];
  it.each(cases)('expireUnanswered: $name', ({ flows, now, expired, later, learned }) => {
    const { learner, denials } = collect();
    for (const f of flows) learner.ingestFlow(f);
    expect(learner.expireUnanswered(now, 5000)).toBe(expired);
    expect(denials.map((d) => `${d.reason} ${d.time}`)).toEqual(expired > 0 ? [`UNREPLIED ${T0}`] : []);
    expect(learner.expireUnanswered(now + 60_000, 5000)).toBe(later);
    learner.finish();
    expect(edges(learner)).toEqual(learned);
    expect(denials).toHaveLength(expired + later);
  });

  it('an unanswered connection released at the end of a batch is told as UNREPLIED once', () => {
    const { learner, denials } = collect();
    learner.ingestFlow(unreplied(40000, T0));
    learner.ingestFlow(unreplied(40000, T0 + 1000));
    learner.finish();
    expect(denials.map((d) => d.reason)).toEqual(['UNREPLIED']);
  });
});
