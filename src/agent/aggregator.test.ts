import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EdgeStore } from '../domain/edge-store.js';
import type { ParseResult, Protocol } from '../domain/flow.js';
import { IdentityResolver } from '../domain/identity.js';
import { parseConntrackLine } from '../ingest/conntrack/parse.js';
import { conntrackEntryToFlow } from '../ingest/conntrack/flow.js';
import { deploymentPod, endpoint, flow, inventory } from '../testing/builders.js';
import { EdgeAggregator, type DeltaBatch } from './aggregator.js';
import { MAX_DENIED_BY } from './wire.js';

const T0 = Date.UTC(2026, 0, 1);
const CLIENTS = 4;
const SERVERS = 4;
const PORTS = [80, 53];
const pods = [
  ...Array.from({ length: CLIENTS }, (_, i) => deploymentPod('shop', `client${i}`, `10.244.0.${i + 1}`, {}, { nodeName: 'node-a' })),
  ...Array.from({ length: SERVERS }, (_, i) => deploymentPod('shop', `server${i}`, `10.244.1.${i + 1}`, {}, { nodeName: i === SERVERS - 1 ? 'node-b' : 'node-a' })),
];
const cluster = inventory({ nodes: [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: ['10.244.0.0/16'] }], pods });
const identity = () => new IdentityResolver(cluster);

let nextPort = 10_000;
/** One new connection (fresh client port) on edge (client c, server s, port, protocol). */
function connection(c: number, s: number, port: number, protocol: Protocol = 'TCP', time = T0): ParseResult {
  return { kind: 'flow', flow: flow(endpoint(`10.244.0.${c + 1}`, nextPort++), endpoint(`10.244.1.${s + 1}`, port), { time, protocol }) };
}

const line = (text: string): ParseResult => {
  const parsed = parseConntrackLine(text, { now: T0 });
  return parsed.kind === 'entry' ? conntrackEntryToFlow(parsed.entry, T0) : parsed;
};
const edgesOf = (batch: DeltaBatch | undefined) => (batch?.edges ?? []).map((e) => `${e.client} -> ${e.server} ${e.port}/${e.protocol} x${e.count}`);

describe('EdgeAggregator', () => {
  it('counts one connection once across NEW, UPDATE, DESTROY events and dump lines (real lines)', () => {
    const agg = new EdgeAggregator({ identity: identity() });
    const tuple = 'src=10.244.0.1 dst=10.96.0.10 sport=54115 dport=80';
    const reply = 'src=10.244.1.1 dst=10.244.0.1 sport=8080 dport=54115';
    for (const text of [
      `[1767225600.000100]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT ${tuple} [UNREPLIED] ${reply}`,
      `[1767225600.000200]\t [UPDATE] ipv4     2 tcp      6 60 SYN_RECV ${tuple} ${reply}`,
      `[1767225600.000300]\t [UPDATE] ipv4     2 tcp      6 432000 ESTABLISHED ${tuple} ${reply} [ASSURED]`,
      `ipv4     2 tcp      6 431999 ESTABLISHED ${tuple} ${reply} [ASSURED] mark=0 use=1`,
      `[1767225601.000000]\t[DESTROY] ipv4     2 tcp      6 ${tuple} ${reply} [ASSURED]`,
      'garbage line',
    ]) agg.ingest(line(text));
    agg.drain();
    expect(edgesOf(agg.nextBatch())).toEqual(['wl:shop/Deployment/client0 -> wl:shop/Deployment/server0 8080/TCP x1']);
    expect(agg.learner.stats.skipped.malformed).toBe(1);
  });

  it('does not learn [UNREPLIED] attempts', () => {
    const agg = new EdgeAggregator({ identity: identity() });
    agg.ingest(line('ipv4     2 udp      17 28 src=10.244.0.1 dst=10.244.1.1 sport=4000 dport=9999 [UNREPLIED] src=10.244.1.1 dst=10.244.0.1 sport=9999 dport=4000 mark=0 use=1'));
    agg.drain();
    expect(agg.nextBatch()).toBeUndefined();
    expect(agg.learner.stats.skipped.unconfirmed).toBe(1);
  });

  it('ships a TCP connection left SYN_SENT [UNREPLIED] as unanswered, never as learned (real lines)', () => {
    const agg = new EdgeAggregator({ identity: identity(), unansweredAfterMs: 3000 });
    const tuple = 'src=10.244.0.1 dst=10.244.1.2 sport=40001 dport=5432';
    const reply = 'src=10.244.1.2 dst=10.244.0.1 sport=5432 dport=40001';
    agg.ingest(line(`[1767225600.000100]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT ${tuple} [UNREPLIED] ${reply}`));
    agg.ingest(line(`ipv4     2 tcp      6 118 SYN_SENT ${tuple} [UNREPLIED] ${reply} mark=0 use=1`));
    agg.drain(T0 + 2999);
    expect(agg.nextBatch()).toBeUndefined();
    agg.drain(T0 + 3000);
    const batch = agg.nextBatch();
    expect(edgesOf(batch)).toEqual([]);
    expect(batch?.unanswered?.map((e) => `${e.client} -> ${e.server} ${e.port}/${e.protocol} x${e.count}`)).toEqual(['wl:shop/Deployment/client0 -> wl:shop/Deployment/server1 5432/TCP x1']);
    expect(agg.stats.unanswered).toBe(1);
    agg.ack(batch!.seq);
    agg.drain(T0 + 60_000);
    expect(agg.nextBatch()).toBeUndefined();
  });

  it('a refused connect (RST: the entry closes and is destroyed) is not shipped as unanswered (real lines)', () => {
    const agg = new EdgeAggregator({ identity: identity(), unansweredAfterMs: 3000 });
    const tuple = 'src=10.244.0.1 dst=10.244.1.2 sport=40002 dport=7777';
    const reply = 'src=10.244.1.2 dst=10.244.0.1 sport=7777 dport=40002';
    agg.ingest(line(`[1767225600.000100]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT ${tuple} [UNREPLIED] ${reply}`));
    agg.ingest(line(`[1767225600.000300]\t[DESTROY] ipv4     2 tcp      6 ${tuple} [UNREPLIED] ${reply}`));
    agg.drain(T0 + 10_000);
    expect(agg.nextBatch()).toBeUndefined();
    expect(agg.stats.unanswered).toBe(0);
  });

  it('an unanswered UDP packet is not shipped as unanswered (no handshake to tell a drop)', () => {
    const agg = new EdgeAggregator({ identity: identity(), unansweredAfterMs: 1000 });
    agg.ingest(line('ipv4     2 udp      17 28 src=10.244.0.1 dst=10.244.1.1 sport=4000 dport=9999 [UNREPLIED] src=10.244.1.1 dst=10.244.0.1 sport=9999 dport=4000 mark=0 use=1'));
    agg.drain(T0 + 10_000);
    expect(agg.nextBatch()).toBeUndefined();
  });

  it('re-sends the unacknowledged batch unchanged; what is learned meanwhile waits for the next seq', () => {
    const agg = new EdgeAggregator({ identity: identity() });
    agg.ingest(connection(0, 0, 80));
    agg.drain();
    const first = agg.nextBatch();
    agg.ingest(connection(0, 0, 80));
    agg.ingest(connection(1, 1, 80));
    agg.drain();
    expect(agg.nextBatch()).toBe(first);
    expect(agg.ack(first!.seq + 1)).toBe(false);
    expect(agg.ack(first!.seq)).toBe(true);
    const second = agg.nextBatch();
    expect(second?.seq).toBe(first!.seq + 1);
    expect(edgesOf(second)).toEqual([
      'wl:shop/Deployment/client0 -> wl:shop/Deployment/server0 80/TCP x1',
      'wl:shop/Deployment/client1 -> wl:shop/Deployment/server1 80/TCP x1',
    ]);
    expect(agg.stats).toMatchObject({ batches: 2, ackedBatches: 1, ackedConnections: 1, pendingEdges: 0, inflightEdges: 2 });
  });

  it('caps pending edges while the controller is unreachable: known edges merge, new ones are dropped and counted', () => {
    const agg = new EdgeAggregator({ identity: identity(), maxBufferedEdges: 2 });
    agg.ingest(connection(0, 0, 80));
    agg.drain();
    agg.nextBatch(); // in flight, never acknowledged
    for (let i = 0; i < 50; i++) agg.ingest(connection(1, 1, 80));
    agg.ingest(connection(2, 2, 80));
    agg.ingest(connection(2, 2, 80));
    agg.drain();
    for (let i = 0; i < 50; i++) agg.ingest(connection(1, 1, 80));
    agg.drain();
    expect(agg.stats).toMatchObject({ pendingEdges: 2, inflightEdges: 1, droppedEdges: 0, droppedConnections: 0 });
    agg.ingest(connection(3, 3, 80)); // a third new edge: no room
    agg.drain();
    expect(agg.stats).toMatchObject({ pendingEdges: 2, inflightEdges: 1, droppedEdges: 1, droppedConnections: 1 });
    expect(agg.bufferedConnections()).toBe(103);
    expect(agg.learnedTotal).toBe(104);
    // The drop is reported to the controller once, with the next batch cut (not with a retry of the in-flight one).
    const inflight = agg.nextBatch()!;
    expect(inflight.droppedConnections).toBeUndefined();
    agg.ack(inflight.seq);
    const next = agg.nextBatch()!;
    expect(next.droppedConnections).toBe(1);
    expect(agg.nextBatch()).toBe(next);
    agg.ack(next.seq);
    expect(agg.nextBatch()).toBeUndefined();
  });

  it('splits a large buffer into batches of maxBatchEdges', () => {
    const agg = new EdgeAggregator({ identity: identity(), maxBatchEdges: 3 });
    for (let c = 0; c < CLIENTS; c++) for (let s = 0; s < 2; s++) agg.ingest(connection(c, s, 80));
    agg.drain();
    const sizes: number[] = [];
    for (let batch = agg.nextBatch(); batch; batch = agg.nextBatch()) {
      sizes.push(batch.edges.length);
      agg.ack(batch.seq);
    }
    expect(sizes).toEqual([3, 3, 2]);
  });

  it('a batch the controller refuses for good is dropped and counted', () => {
    const agg = new EdgeAggregator({ identity: identity() });
    agg.ingest(connection(0, 0, 80));
    agg.drain();
    const batch = agg.nextBatch()!;
    expect(agg.reject(batch.seq)).toBe(true);
    expect(agg.nextBatch()).toBeUndefined();
    expect(agg.stats).toMatchObject({ rejectedBatches: 1, rejectedConnections: 1 });
  });

  it('replaces a Learner that grew past maxLearnerEdges without losing counts', () => {
    const agg = new EdgeAggregator({ identity: identity(), maxLearnerEdges: 2 });
    for (let s = 0; s < 3; s++) agg.ingest(connection(0, s, 80));
    agg.drain();
    expect(agg.stats.rotations).toBe(1);
    expect(agg.learner.edges.size).toBe(0);
    agg.ingest(connection(0, 0, 80));
    agg.drain();
    expect(edgesOf(agg.nextBatch())).toEqual([
      'wl:shop/Deployment/client0 -> wl:shop/Deployment/server0 80/TCP x2',
      'wl:shop/Deployment/client0 -> wl:shop/Deployment/server1 80/TCP x1',
      'wl:shop/Deployment/client0 -> wl:shop/Deployment/server2 80/TCP x1',
    ]);
    expect(agg.learnedTotal).toBe(4);
  });

  it('leaves connections whose client lives on another node to that node\'s agent', () => {
    const nodeOf = (ip: string) => pods.find((p) => p.ips.includes(ip))?.nodeName;
    const agg = new EdgeAggregator({ identity: identity(), localNode: 'node-b', nodeOf });
    agg.ingest(connection(0, SERVERS - 1, 80)); // client0 on node-a → server on node-b: node-a counts it
    agg.ingest({ kind: 'flow', flow: flow(endpoint('203.0.113.9', 5555), endpoint(`10.244.1.${SERVERS}`, 80), { time: T0 }) }); // world client: counted here
    agg.drain();
    expect(edgesOf(agg.nextBatch())).toEqual([`en:world:203.0.113.9 -> wl:shop/Deployment/server${SERVERS - 1} 80/TCP x1`]);
    expect(agg.stats.remoteClient).toBe(1);
  });
});

describe('EdgeAggregator: what a previous run could not ship', () => {
  it('is reported as dropped with the next batch, and counts as unacknowledged until that batch is acknowledged', () => {
    const agg = new EdgeAggregator({ identity: identity() });
    agg.carryOver(7);
    agg.ingest(connection(0, 0, 80));
    agg.drain();
    expect(agg.unacknowledged()).toBe(8);
    const batch = agg.nextBatch()!;
    expect(batch).toMatchObject({ seq: 1, droppedConnections: 7 });
    expect(agg.unacknowledged()).toBe(8);
    agg.ack(batch.seq);
    expect(agg.unacknowledged()).toBe(0);
    expect(agg.idle).toBe(true);
    expect(agg.stats.carriedConnections).toBe(7);
  });
});

describe('EdgeAggregator memory: it lives as long as the agent', () => {
  const N = 2_000;

  it('keeps no per-pair tally of unanswered or dropped connections, nor of unknown addresses', () => {
    const agg = new EdgeAggregator({ identity: identity(), maxBufferedEdges: 10 });
    for (let i = 0; i < N; i++) {
      // An unanswered SYN to a distinct outside address, and one from an unknown pod address.
      agg.ingest({ kind: 'flow', flow: flow(endpoint('10.244.0.1', 20_000 + i), endpoint(`100.64.${i >> 8}.${i & 255}`, 443), { time: T0, confirmed: false }) });
      agg.ingest({ kind: 'flow', flow: flow(endpoint(`10.244.9.${i & 255}`, 30_000 + i), endpoint('10.244.1.1', 8080), { time: T0 }) });
      agg.ingest({ kind: 'flow', flow: flow(endpoint('10.244.0.1', 40_000 + i), endpoint(`100.65.${i >> 8}.${i & 255}`, 443), { time: T0, verdict: 'DROPPED' }) });
    }
    agg.drain(T0 + 60_000);
    expect(agg.stats.unanswered).toBe(N);
    expect(agg.learner.stats.skipped).toMatchObject({ unresolved: N, dropped: N });
    expect(agg.learner.dropped.size).toBe(0);
    expect(agg.learner.unresolved.size).toBe(0);
  });

  it('keeps the labels of at most one pod that no inventory knew, however many pods flows name', () => {
    const agg = new EdgeAggregator({ identity: new IdentityResolver(inventory({})) });
    for (let i = 0; i < N; i++) {
      const job = endpoint(`10.0.${i >> 8}.${i & 255}`, 40_000, { namespace: 'batch', podName: `report-${29_000_000 + i}-x7k2p`, labels: [`job-name=report-${29_000_000 + i}`], workload: { kind: 'CronJob', name: 'report' } });
      const pg = endpoint('10.0.200.2', 5432, { namespace: 'db', podName: 'pg-0', labels: ['app=pg'], workload: { kind: 'StatefulSet', name: 'pg' } });
      agg.ingest({ kind: 'flow', flow: flow(job, pg, { time: T0 + i, observationPoint: 'TO_ENDPOINT' }) });
    }
    agg.drain();
    expect(agg.learnedTotal).toBe(N);
    const kept = [...agg.learner.observedPods.values()].reduce((n, pods) => n + pods.size, 0);
    expect(kept).toBe(1);
  });
});

// ---------------------------------------------------------------- properties

type Op =
  | { readonly kind: 'learn'; readonly c: number; readonly s: number; readonly port: number; readonly n: number }
  | { readonly kind: 'ship'; readonly outcome: 'ok' | 'lost-request' | 'lost-ack' | 'refused' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('learn' as const), c: fc.nat(CLIENTS - 1), s: fc.nat(SERVERS - 1), port: fc.constantFrom(...PORTS), n: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('ship' as const), outcome: fc.constantFrom('ok' as const, 'lost-request' as const, 'lost-ack' as const, 'refused' as const) }) },
);

/** The controller as far as counting goes: EdgeStore.record behind a per-sender seq check (as EdgeReceiver). */
class ModelController {
  readonly store = new EdgeStore();
  lastSeq = 0;
  applied = 0;
  apply(batch: DeltaBatch): void {
    if (batch.seq <= this.lastSeq) return;
    for (const e of batch.edges) {
      this.store.record(e.client, e.server, e.port, e.protocol, e.firstSeen, e.count, e.lastSeen);
      this.applied += e.count;
    }
    this.lastSeq = batch.seq;
  }
}

/** Applies `ops`; after each, checks the buffer holds at most two deltas per distinct edge learned (pending, in flight), at most `cap` pending and `maxBatch` in flight. */
function run(ops: readonly Op[], agg: EdgeAggregator, controller: ModelController, cap = Infinity, maxBatch = Infinity): void {
  const distinct = new Set<string>();
  for (const op of ops) {
    try {
      step(op, agg, controller, distinct);
    } finally {
      // An edge is at most once pending and once in flight (sent, not yet acknowledged).
      expect(agg.stats.pendingEdges).toBeLessThanOrEqual(distinct.size);
      expect(agg.stats.inflightEdges).toBeLessThanOrEqual(distinct.size);
      expect(agg.stats.pendingEdges).toBeLessThanOrEqual(cap);
      expect(agg.stats.inflightEdges).toBeLessThanOrEqual(maxBatch);
      expect(agg.learner.edges.size).toBeLessThanOrEqual(distinct.size);
    }
  }
}

function step(op: Op, agg: EdgeAggregator, controller: ModelController, distinct: Set<string>): void {
  {
    if (op.kind === 'learn') {
      for (let i = 0; i < op.n; i++) agg.ingest(connection(op.c, op.s, op.port, op.port === 53 ? 'UDP' : 'TCP'));
      distinct.add(`${op.c} ${op.s} ${op.port}`);
      return;
    }
    agg.drain();
    const batch = agg.nextBatch();
    if (!batch) return;
    switch (op.outcome) {
      case 'ok':
        controller.apply(batch);
        agg.ack(batch.seq);
        break;
      case 'lost-ack': // applied, but the answer never arrived: the agent will send it again
        controller.apply(batch);
        break;
      case 'refused': // 400: a batch the controller cannot accept (never one it applied: that retry gets a duplicate ack)
        if (batch.seq <= controller.lastSeq) agg.ack(batch.seq);
        else agg.reject(batch.seq);
        break;
      case 'lost-request':
        break;
    }
  }
}

/** Ships until nothing is left, every request answered. */
function flush(agg: EdgeAggregator, controller: ModelController): void {
  agg.drain();
  for (let batch = agg.nextBatch(); batch; batch = agg.nextBatch()) {
    controller.apply(batch);
    agg.ack(batch.seq);
  }
}

describe('EdgeAggregator properties', () => {
  it('total counts are preserved across ship, lost requests, lost acks (retries) and refusals', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 80 }), fc.integer({ min: 1, max: 20 }), (ops, maxBatchEdges) => {
      const agg = new EdgeAggregator({ identity: identity(), maxBatchEdges });
      const controller = new ModelController();
      run(ops, agg, controller);
      flush(agg, controller);
      // Every learned connection is counted exactly once by the controller, or counted as refused.
      expect(controller.applied + agg.stats.rejectedConnections).toBe(agg.learnedTotal);
      expect(agg.stats.droppedConnections).toBe(0);
      if (agg.stats.rejectedConnections === 0) {
        const sent = new Map([...controller.store.edges()].map((e) => [`${e.client} ${e.server} ${e.port}`, e.count]));
        const learned = new Map([...agg.learner.edges.edges()].map((e) => [`${e.client} ${e.server} ${e.port}`, e.count]));
        expect(sent).toEqual(learned);
      }
    }), { numRuns: 300 });
  });

  it('with a small buffer: shipped + dropped + refused = learned, and the buffer never exceeds its cap', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 80 }), fc.integer({ min: 1, max: 6 }), (ops, cap) => {
      const agg = new EdgeAggregator({ identity: identity(), maxBufferedEdges: cap, maxBatchEdges: 4 });
      const controller = new ModelController();
      run(ops, agg, controller, cap, 4);
      flush(agg, controller);
      expect(controller.applied + agg.stats.droppedConnections + agg.stats.rejectedConnections).toBe(agg.learnedTotal);
    }), { numRuns: 300 });
  });

  it('memory follows distinct edges, not connections: 50,000 connections on 8 edges keep 8 deltas', () => {
    const agg = new EdgeAggregator({ identity: identity() });
    for (let i = 0; i < 50_000; i++) {
      agg.ingest(connection(i % CLIENTS, (i >> 2) % 2, 80));
      if (i % 5_000 === 0) agg.drain();
    }
    agg.drain();
    expect(agg.learner.edges.size).toBe(8);
    expect(agg.stats.pendingEdges).toBe(8);
    expect(agg.bufferedConnections()).toBe(50_000);
  });
});

describe('EdgeAggregator: policy denials (a Hubble agent\'s drops)', () => {
  /** One dropped connection attempt from client c to server s, as Hubble reports it. */
  const drop = (c: number, s: number, port: number, over: Record<string, unknown> = {}): ParseResult => ({
    kind: 'flow',
    flow: flow(endpoint(`10.244.0.${c + 1}`, nextPort++), endpoint(`10.244.1.${s + 1}`, port), { time: T0, verdict: 'DROPPED', dropReason: 'POLICY_DENIED', ...over }),
  });

  it('ships POLICY_DENIED drops of any protocol with their direction and denying policies, per edge, never as learned', () => {
    const agg = new EdgeAggregator({ identity: identity() });
    agg.ingest(drop(0, 0, 8080, { trafficDirection: 'INGRESS', deniedBy: ['shop/hivewall-server0'] }));
    agg.ingest(drop(0, 0, 8080, { trafficDirection: 'INGRESS', deniedBy: ['shop/hivewall-server0'], time: T0 + 500 }));
    agg.ingest(drop(1, 1, 53, { protocol: 'UDP', trafficDirection: 'EGRESS', deniedBy: ['shop/b', 'shop/a'] }));
    agg.ingest(drop(2, 2, 9000, { dropReason: 'CT_MAP_INSERTION_FAILED' })); // not a policy's doing
    agg.drain();
    const batch = agg.nextBatch();
    expect(batch?.edges).toEqual([]);
    expect(batch?.denied).toEqual([
      { client: 'wl:shop/Deployment/client0', server: 'wl:shop/Deployment/server0', port: 8080, protocol: 'TCP', count: 2, firstSeen: T0, lastSeen: T0 + 500, direction: 'INGRESS', deniedBy: ['shop/hivewall-server0'] },
      { client: 'wl:shop/Deployment/client1', server: 'wl:shop/Deployment/server1', port: 53, protocol: 'UDP', count: 1, firstSeen: T0, lastSeen: T0, direction: 'EGRESS', deniedBy: ['shop/a', 'shop/b'] },
    ]);
    expect(agg.stats).toMatchObject({ denied: 3, droppedDenied: 0 });
  });

  it(`names no denying policy when Cilium named more than ${MAX_DENIED_BY} (the wire's bound)`, () => {
    const agg = new EdgeAggregator({ identity: identity() });
    agg.ingest(drop(0, 0, 8080, { trafficDirection: 'INGRESS', deniedBy: Array.from({ length: MAX_DENIED_BY + 1 }, (_, i) => `shop/p${i}`) }));
    agg.drain();
    expect(agg.nextBatch()?.denied).toEqual([expect.not.objectContaining({ deniedBy: expect.anything() })]);
  });

  it('is not idle while denials wait to be shipped (a Hubble agent stores its resume point only when idle)', () => {
    const agg = new EdgeAggregator({ identity: identity() });
    agg.ingest(drop(0, 0, 8080, { trafficDirection: 'INGRESS' }));
    agg.drain();
    expect(agg.idle).toBe(false);
    const batch = agg.nextBatch()!;
    expect(agg.idle).toBe(false);
    agg.ack(batch.seq);
    expect(agg.idle).toBe(true);
  });
});
