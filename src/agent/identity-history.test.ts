import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ParseResult } from '../domain/flow.js';
import type { ClusterInventory, PodInfo } from '../domain/inventory.js';
import { peerKey } from '../domain/peer.js';
import { conntrackEntryToFlow } from '../ingest/conntrack/flow.js';
import { parseConntrackLine } from '../ingest/conntrack/parse.js';
import { FakeClock } from '../runtime/fake-clock.js';
import { deploymentPod, endpoint, inventory, service } from '../testing/builders.js';
import { EdgeAggregator } from './aggregator.js';
import { IdentityHistory } from './identity-history.js';
import { StaticInventorySource } from './inventory.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);

const pod = (deployment: string, ip: string, extra: Partial<PodInfo>) => deploymentPod('shop', deployment, ip, {}, { uid: `${deployment}-${ip}`, nodeName: 'node-a', ...extra });
const sources = new WeakMap<IdentityHistory, StaticInventorySource>();
/** Applies a whole inventory as the agent does: the namespaces a source reports changed. */
function update(history: IdentityHistory, inv: ClusterInventory): void {
  let source = sources.get(history);
  if (source) source.set(inv);
  else sources.set(history, (source = new StaticInventorySource(inv)));
  history.apply(source.takeChanges(), source);
}

/** The pods the resolver knows in `shop`, live and remembered. */
function podsOf(history: IdentityHistory): PodInfo[] {
  return history.resolver.podsWithWorkloadsIn('shop').map((c) => c.pod);
}

/** Who `ip` was at `time`, as a peer key (or the unresolved reason). */
function who(history: IdentityHistory, ip: string, time: number): string {
  const r = history.resolver.resolve(endpoint(ip, 8080), 'server', time);
  return r.ok ? peerKey(r.peer) : `unresolved:${r.reason}`;
}

describe('IdentityHistory', () => {
  it('a pod deleted a minute ago still resolves (its flows arrive late)', async () => {
    const clock = new FakeClock(T0);
    const history = new IdentityHistory({ clock });
    const cart = pod('cart', '10.244.1.7', { createdAt: T0 - 60 * MIN });
    const nodes = [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: ['10.244.0.0/16'] }];
    update(history, inventory({ nodes, pods: [cart] }));
    await clock.advanceTo(T0 + MIN);
    update(history, inventory({ nodes, pods: [] })); // gone from the list
    expect(history.stats).toMatchObject({ livePods: 0, rememberedPods: 1 });
    expect(who(history, '10.244.1.7', T0 + 30_000)).toBe('wl:shop/Deployment/cart');
    expect(podsOf(history)[0]?.deletedAt).toBe(T0 + MIN);
  });

  it('a reused IP is not confused with its previous owner', async () => {
    const clock = new FakeClock(T0);
    const history = new IdentityHistory({ clock });
    update(history, inventory({ pods: [pod('cart', '10.244.1.7', { createdAt: T0 - 10 * MIN })] }));
    // Two minutes later: cart's pod is gone, and the IP went to a new `payments` pod 90 s in.
    await clock.advanceTo(T0 + 2 * MIN);
    update(history, inventory({ pods: [pod('payments', '10.244.1.7', { createdAt: T0 + 90_000 })] }));
    expect(who(history, '10.244.1.7', T0 + 60_000)).toBe('wl:shop/Deployment/cart');
    expect(who(history, '10.244.1.7', T0 + 100_000)).toBe('wl:shop/Deployment/payments');
    // cart's deletion is dated by the reuse, not by when the refresh noticed it.
    expect(podsOf(history).find((p) => p.name.startsWith('cart'))?.deletedAt).toBe(T0 + 90_000);
  });

  it('uses the deletionTimestamp of a pod that was terminating when last seen', async () => {
    const clock = new FakeClock(T0);
    const history = new IdentityHistory({ clock });
    update(history, inventory({ pods: [pod('cart', '10.244.1.7', { createdAt: T0 - MIN, deletedAt: T0 + 30_000 })] }));
    await clock.advanceTo(T0 + 5 * MIN);
    update(history, inventory({ pods: [] }));
    expect(podsOf(history)[0]?.deletedAt).toBe(T0 + 30_000);
  });

  it('forgets deleted pods after the retention, and keeps at most maxRememberedPods', async () => {
    const clock = new FakeClock(T0);
    const history = new IdentityHistory({ clock, retentionMs: 10 * MIN, maxRememberedPods: 2 });
    const nodes = [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: ['10.244.0.0/16'] }];
    const pods = [1, 2, 3].map((i) => pod(`app${i}`, `10.244.0.${i}`, { createdAt: T0 - MIN }));
    update(history, inventory({ nodes, pods }));
    await clock.advanceTo(T0 + MIN);
    update(history, inventory({ nodes, pods: [] }));
    expect(history.stats).toMatchObject({ rememberedPods: 2, forgottenPods: 1 });
    await clock.advanceTo(T0 + 12 * MIN);
    update(history, inventory({ nodes, pods: [] }));
    expect(history.stats).toMatchObject({ rememberedPods: 0, forgottenPods: 3 });
    // Inside the pod CIDR and forgotten: reported as unknown, never invented.
    expect(who(history, '10.244.0.2', T0)).toBe('unresolved:unknown-pod-ip');
  });

  it('a pod that comes back in a later list is live again, not remembered twice', async () => {
    const clock = new FakeClock(T0);
    const history = new IdentityHistory({ clock });
    const cart = pod('cart', '10.244.1.7', { createdAt: T0 - MIN });
    update(history, inventory({ pods: [cart] }));
    update(history, inventory({ pods: [] }));
    update(history, inventory({ pods: [cart] }));
    expect(history.stats).toMatchObject({ livePods: 1, rememberedPods: 0 });
    expect(podsOf(history)).toHaveLength(1);
  });

  it('knows the node of live pod IPs and node addresses', () => {
    const history = new IdentityHistory({ clock: new FakeClock(T0) });
    update(history, inventory({
      nodes: [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: [] }, { name: 'node-b', ips: ['172.18.0.3'], podCIDRs: [] }],
      pods: [pod('cart', '10.244.1.7', { nodeName: 'node-b' }), pod('host', '172.18.0.3', { hostNetwork: true, nodeName: 'node-b' })],
    }));
    expect(history.nodeOf('10.244.1.7')).toBe('node-b');
    expect(history.nodeOf('172.18.0.2')).toBe('node-a');
    expect(history.nodeOf('172.18.0.3')).toBe('node-b');
    expect(history.nodeOf('10.9.9.9')).toBeUndefined();
  });

  it('verifies: a Service ClusterIP resolves to the backend through the REPLY tuple, on the target port', () => {
    const history = new IdentityHistory({ clock: new FakeClock(T0) });
    const frontend = pod('frontend', '10.244.0.5', { createdAt: T0 - MIN });
    const cart = pod('cart', '10.244.1.7', { createdAt: T0 - MIN });
    update(history, inventory({
      pods: [frontend, cart],
      services: [service('shop', 'cart', { clusterIPs: ['10.96.0.10'], ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }] })],
      endpointSlices: [{ namespace: 'shop', serviceName: 'cart', endpoints: [{ addresses: ['10.244.1.7'] }], ports: [{ port: 8080, protocol: 'TCP' }] }],
    }));
    const line = 'ipv4     2 tcp      6 431998 ESTABLISHED src=10.244.0.5 dst=10.96.0.10 sport=54115 dport=80 src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=54115 [ASSURED] mark=0 use=1';
    const parsed = parseConntrackLine(line, { now: T0 });
    if (parsed.kind !== 'entry') throw new Error(parsed.detail);
    const result: ParseResult = conntrackEntryToFlow(parsed.entry, T0);
    if (result.kind !== 'flow') throw new Error('no flow');
    expect(result.flow.destination).toEqual({ ip: '10.244.1.7', port: 8080 }); // not 10.96.0.10:80
    const aggregator = new EdgeAggregator({ identity: history.resolver });
    aggregator.ingest(result);
    aggregator.drain();
    expect(aggregator.nextBatch()?.edges.map((e) => `${e.client} -> ${e.server} ${e.port}/${e.protocol}`)).toEqual([
      'wl:shop/Deployment/frontend -> wl:shop/Deployment/cart 8080/TCP',
    ]);
  });
});

describe('IdentityHistory.apply reads only what changed', () => {
  const NAMESPACES = ['shop', 'pay'];
  const state = fc.uniqueArray(fc.record({
    namespace: fc.constantFrom(...NAMESPACES),
    name: fc.constantFrom('a', 'b', 'c'),
    ip: fc.constantFrom('10.244.1.1', '10.244.1.2'),
    createdAt: fc.integer({ min: 0, max: 5 }).map((m) => T0 + m * MIN),
  }), { maxLength: 4, selector: (p) => `${p.namespace}/${p.name}` })
    .map((pods) => inventory({ nodes: [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: ['10.244.0.0/16'] }], pods: pods.map((p) => deploymentPod(p.namespace, 'web', p.ip, {}, { name: p.name, uid: `${p.namespace}-${p.name}-${p.createdAt}`, nodeName: 'node-a', createdAt: p.createdAt })) }));

  /** Every answer of the history, as data. */
  const answers = (history: IdentityHistory) => ({
    stats: history.stats,
    pods: NAMESPACES.map((ns) => history.resolver.podsWithWorkloadsIn(ns).map((c) => c.pod)),
    who: ['10.244.1.1', '10.244.1.2'].flatMap((ip) => [0, 3, 6, 30].map((m) => who(history, ip, T0 + m * MIN))),
    nodeOf: history.nodeOf('10.244.1.1'),
  });

  it('told only the namespaces that differ, it answers as when told every namespace changed', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(state, fc.integer({ min: 0, max: 12 })), { minLength: 1, maxLength: 6 }), async (steps) => {
      const clock = new FakeClock(T0);
      const everything = new IdentityHistory({ clock, maxRememberedPods: 3 });
      const changed = new IdentityHistory({ clock, maxRememberedPods: 3 });
      let previous = inventory({});
      for (const [inv, minutes] of steps) {
        await clock.advanceTo(clock.now() + minutes * MIN);
        everything.apply({ namespaces: new Set(NAMESPACES), nodes: true }, new StaticInventorySource(inv));
        const differs = NAMESPACES.filter((ns) => JSON.stringify(inv.pods.filter((p) => p.namespace === ns)) !== JSON.stringify(previous.pods.filter((p) => p.namespace === ns)));
        changed.apply({ namespaces: new Set(differs), nodes: previous.nodes.length === 0 }, new StaticInventorySource(inv));
        previous = inv;
        expect(answers(changed)).toEqual(answers(everything));
      }
    }), { numRuns: 300 });
  });
});
