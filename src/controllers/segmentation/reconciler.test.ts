import type { KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { proposalContentSchema } from '../../api/policy-proposal.js';
import { contentDigest } from '../../domain/approval.js';
import { IdentityResolver } from '../../domain/identity.js';
import { emptyInventory } from '../../domain/inventory.js';
import { Learner } from '../../domain/learner.js';
import { parsePeerKey } from '../../domain/peer.js';
import { clusterFactsOf } from '../../domain/plan.js';
import { ClusterLookup } from '../../domain/simulate/index.js';
import { Kube, KubeError } from '../../k8s/kube.js';
import type { ClusterCache } from '../../operator/cluster-cache.js';
import { DenialRegistry } from '../../operator/denial-registry.js';
import type { SegmentationReads } from './reads.js';
import { reconcileSegmentation, type ReconcileContext } from './reconciler.js';

const T = Date.parse('2026-11-27T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
type Obj = KubernetesObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };
const clone = <V>(v: V): V => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as V));

/** RFC 7386 JSON merge patch, as the API server applies a status patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const np = (name: string, namespace = 'shop'): Obj => ({
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
  metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'hivewall' }, annotations: { 'hivewall.dev/workload': `Deployment/${name.replace(/^hivewall-/, '')}` } },
  spec: { podSelector: { matchLabels: { app: name } }, policyTypes: ['Ingress'] },
});

/** A fake API server: objects in maps, status writes merge-patched, every write recorded. */
class World {
  readonly segs = new Map<string, Obj>();
  readonly proposals = new Map<string, Obj>();
  readonly policies = new Map<string, Obj>();
  readonly calls: string[] = [];
  readonly events: string[] = [];
  private uid = 0;

  addSeg(namespace: string, name: string, spec: Record<string, unknown>, status?: Record<string, unknown>, created = T - 86_400_000): string {
    const uid = `seg-uid-${++this.uid}`;
    this.segs.set(`${namespace}/${name}`, {
      apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation',
      metadata: { name, namespace, uid, generation: 1, resourceVersion: '1', finalizers: ['hivewall.dev/cleanup'], creationTimestamp: iso(created) as unknown as Date },
      spec, ...(status ? { status } : {}),
    });
    return uid;
  }

  addProposal(namespace: string, seg: string, segUid: string, revision: number, objects: Obj[], decision: 'Pending' | 'Approved', phase?: string): string {
    const content = proposalContentSchema.parse({ segmentation: seg, revision, flavor: 'NetworkPolicy', digest: `d${revision}`, objects, evidence: [], diff: {} });
    const uid = `p-uid-${++this.uid}`;
    const digest = contentDigest(content);
    const review = decision === 'Pending' ? { decision } : { decision, reviewer: 'rita', reviewedAt: '2026-01-01T00:00:00Z', proposalUID: uid, contentDigest: digest };
    const name = `${seg}-r${revision}`;
    this.proposals.set(`${namespace}/${name}`, {
      apiVersion: 'hivewall.dev/v1alpha1', kind: 'PolicyProposal',
      metadata: { name, namespace, uid, resourceVersion: '1', annotations: { 'hivewall.dev/segmentation-generation': '1' }, ownerReferences: [{ apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', name: seg, uid: segUid, controller: true }] },
      spec: { content, contentDigest: digest, review }, ...(phase ? { status: { phase } } : {}),
    });
    return name;
  }

  live(policy: Obj): void {
    this.policies.set(`${policy.kind}/${policy.metadata!.namespace}/${policy.metadata!.name}`, clone(policy));
  }

  livePolicies(): string[] {
    return [...this.policies.values()].map((p) => `${p.kind}/${p.metadata!.name}`).sort();
  }

  status(namespace: string, name: string): Record<string, unknown> & { phase?: string; conditions?: { type: string; status: string; reason: string; message: string }[]; enforcement?: Record<string, unknown> } {
    return (this.segs.get(`${namespace}/${name}`)?.status ?? {}) as never;
  }

  writes(): string[] {
    return this.calls.filter((c) => !c.startsWith('event'));
  }

  nextUid(): number {
    return ++this.uid;
  }
}

/** The Kube calls the reconciler makes, against the world. */
function fakeKube(w: World): Kube {
  const key = (o: KubernetesObject) => `${o.metadata!.namespace}/${o.metadata!.name}`;
  return {
    async mergePatch(o: KubernetesObject, patch: unknown) { w.calls.push(`mergePatch ${o.metadata!.name}`); w.segs.set(key(o), mergePatch(w.segs.get(key(o)), patch) as Obj); },
    async patchStatus(_g: string, _v: string, plural: string, namespace: string, name: string, status: unknown) {
      w.calls.push(`patchStatus ${plural} ${name}`);
      const map = plural === 'segmentations' ? w.segs : w.proposals;
      const o = map.get(`${namespace}/${name}`);
      if (!o) throw new KubeError('patch', name, 404, new Error('not found'));
      map.set(`${namespace}/${name}`, { ...o, status: mergePatch(o.status, status) as Record<string, unknown> });
    },
    async create(o: Obj) {
      w.calls.push(`create ${o.kind} ${o.metadata!.name}`);
      if (w.proposals.has(key(o))) throw new KubeError('create', key(o), 409, new Error('exists'));
      w.proposals.set(key(o), { ...clone(o), metadata: { ...clone(o.metadata), uid: `p-uid-${w.nextUid()}`, resourceVersion: '1' } });
    },
    async apply(o: Obj) { w.calls.push(`apply ${o.kind} ${o.metadata!.name}`); w.live(o); },
    async delete(o: Obj) { w.calls.push(`delete ${o.kind} ${o.metadata!.name}`); w.policies.delete(`${o.kind}/${key(o)}`); },
    async deleteUnchanged(o: Obj) { w.calls.push(`deleteUnchanged ${o.metadata!.name}`); w.proposals.delete(key(o)); return true; },
    async event(_o: KubernetesObject, type: string, reason: string) { w.calls.push(`event ${reason}`); w.events.push(`${type} ${reason}`); },
  } as unknown as Kube;
}

/** The reads, from the world. */
function fakeReads(w: World): SegmentationReads {
  return {
    segmentations: async (namespace) => [...w.segs.values()].filter((s) => namespace === undefined || s.metadata!.namespace === namespace).map(clone),
    segmentation: async (namespace, name) => clone(w.segs.get(`${namespace}/${name}`)),
    owned: async (flavor, namespace) => [...w.policies.values()].filter((p) => p.kind === flavor && p.metadata!.namespace === namespace).map(clone),
    proposals: async (namespace, seg) => [...w.proposals.values()].filter((p) => p.metadata!.namespace === namespace && (p.spec!.content as { segmentation: string }).segmentation === seg).map(clone),
  };
}

function context(world: World, clock: { now: number }): ReconcileContext & { denials: DenialRegistry } {
  const identity = new IdentityResolver(emptyInventory);
  return {
    kube: fakeKube(world),
    learner: new Learner(identity, { tallies: false }),
    cluster: { identity, clusterFacts: clusterFactsOf(identity), clusterLookup: new ClusterLookup() } as unknown as ClusterCache,
    audits: new Map(),
    log: pino({ level: 'silent' }),
    now: () => clock.now,
    sourceError: () => undefined,
    countsShown: new Map(),
    reads: fakeReads(world),
    denials: new DenialRegistry({ now: () => clock.now, onCrossed: () => undefined }),
  };
}

const enforcingStatus = (proposal: string, enforcement: Record<string, unknown> = {}) => ({
  phase: 'Enforcing', approvedProposal: proposal, observedGeneration: 1,
  learning: { windowStart: iso(T - 7_200_000), flows: 0, edges: 0, lostEvents: 0 },
  audit: { since: iso(T - 7_200_000), flows: 0, wouldDeny: 0, samples: [] },
  enforcement: { policies: 0, inSync: true, lastApplied: iso(T - 600_000), driftReverted: 0, ...enforcement },
});
const baseSpec = { mode: 'Enforce', learning: { window: '1h', stableFor: '10m' }, promotion: { auditPeriod: '30m' }, enforcement: { rollback: { maxDenied: 2, window: '5m' } } };
const condition = (w: World, type: string, name = 'shop') => w.status('shop', name).conditions?.find((c) => c.type === type);
const denial = (time: number) => ({ client: parsePeerKey('wl:shop/Deployment/web')!, server: parsePeerKey('wl:shop/Deployment/db')!, port: 5432, protocol: 'TCP' as const, reason: 'POLICY_DENIED', direction: 'INGRESS' as const, time });

/** shop-r1 enforced with its policies live; `r2` extra objects approved as shop-r2 when asked. */
function enforcedR1(status: Record<string, unknown> = enforcingStatus('shop-r1')) {
  const world = new World();
  const clock = { now: T };
  const uid = world.addSeg('shop', 'shop', clone(baseSpec), status);
  const objects = [np('hivewall-default-deny'), np('hivewall-web'), np('hivewall-db')];
  world.addProposal('shop', 'shop', uid, 1, objects, 'Approved', 'Enforced');
  for (const o of objects) world.live(o);
  const ctx = context(world, clock);
  const approveR2 = () => world.addProposal('shop', 'shop', uid, 2, [...objects, np('hivewall-new')], 'Approved');
  const reconcile = async (advance = 10_000, name = 'shop') => {
    clock.now += advance;
    world.calls.length = 0;
    world.events.length = 0;
    return reconcileSegmentation(ctx, 'shop', name);
  };
  return { world, clock, ctx, uid, objects, approveR2, reconcile };
}

describe('reconcileSegmentation: a follow-up approval under audit keeps the enforced proposal enforced', () => {
  it('approving shop-r2 keeps shop-r1 enforced: Enforced=True naming it, denials still counted, rollback and drift repair of its policies', async () => {
    const { world, ctx, approveR2, reconcile } = enforcedR1();
    await reconcile();
    expect(ctx.denials.view('shop', 'shop-r1')).toBeDefined();

    approveR2();
    await reconcile();
    expect(world.status('shop', 'shop')).toMatchObject({ phase: 'Auditing', approvedProposal: 'shop-r2' });
    expect(condition(world, 'Enforced')).toMatchObject({ status: 'True', reason: 'Applied' });
    expect(condition(world, 'Enforced')?.message).toMatch(/^shop-r1 applied .*; auditing shop-r2 for 30m before enforcing$/);
    expect(ctx.denials.view('shop', 'shop-r1')).toBeDefined();
    expect(world.writes().filter((c) => c.startsWith('apply') || c.startsWith('delete'))).toEqual([]);

    // Denials of shop-r1's live policies past the budget: its denying policies are rolled back.
    ctx.denials.observe(denial(T), 5);
    await reconcile();
    expect(world.writes()).toContain('delete NetworkPolicy hivewall-db');
    expect(world.events).toContain('Warning RolledBack');
    expect(world.livePolicies()).toEqual(['NetworkPolicy/hivewall-web']);
    expect(world.status('shop', 'shop').enforcement).toMatchObject({ rolledBack: { proposal: 'shop-r1', policies: ['hivewall-db', 'hivewall-default-deny'] } });
    expect(condition(world, 'Enforced')).toMatchObject({ status: 'True', reason: 'PartlyRolledBack' });

    // A policy of shop-r1 edited by hand is restored (the rolled-back ones stay away).
    world.live({ ...np('hivewall-web'), spec: { podSelector: {}, policyTypes: ['Ingress'] } });
    await reconcile();
    expect(world.writes().filter((c) => c.startsWith('apply'))).toEqual(['apply NetworkPolicy hivewall-web']);
    expect(world.events).toContain('Warning DriftReverted');
    expect(world.status('shop', 'shop').phase).toBe('Auditing');

    // Nothing new: no write at all.
    await reconcile();
    expect(world.calls).toEqual([]);
  });

  it('once shop-r2\'s audit period passed clean, it replaces shop-r1 whole; shop-r1\'s rollback and denials are gone from status and from the count', async () => {
    const { world, ctx, approveR2, reconcile } = enforcedR1();
    approveR2();
    await reconcile();
    ctx.denials.observe(denial(T), 5);
    await reconcile();
    expect(world.status('shop', 'shop').enforcement).toHaveProperty('rolledBack');

    await reconcile(31 * 60_000);
    expect(world.status('shop', 'shop')).toMatchObject({ phase: 'Enforcing', approvedProposal: 'shop-r2' });
    expect(world.livePolicies()).toEqual(['NetworkPolicy/hivewall-db', 'NetworkPolicy/hivewall-default-deny', 'NetworkPolicy/hivewall-new', 'NetworkPolicy/hivewall-web']);
    expect(world.status('shop', 'shop').enforcement).not.toHaveProperty('rolledBack');
    expect(world.status('shop', 'shop').enforcement).not.toHaveProperty('denied');
    expect(ctx.denials.view('shop', 'shop-r2')?.edges).toEqual([]);
    expect(condition(world, 'Enforced')).toMatchObject({ status: 'True', reason: 'Applied', message: 'shop-r2 applied with server-side apply' });

    await reconcile();
    expect(world.calls).toEqual([]);
  });
});

describe('reconcileSegmentation: status writes remove what the status no longer has (JSON merge patch)', () => {
  it('after shop-r1 was rolled back and shop-r2 enforced, status.enforcement keeps no rolledBack or denied of shop-r1, and an idle reconcile writes nothing', async () => {
    const deniedEdge = { client: 'wl:shop/Deployment/frontend', server: 'wl:shop/Deployment/cart', port: 8080, protocol: 'TCP', count: 7, firstDenied: iso(T - 50_000), lastDenied: iso(T - 10_000) };
    const rolledBack = { proposal: 'shop-r1', at: iso(T - 5_000), workloads: ['wl:shop/Deployment/db'], policies: ['hivewall-db', 'hivewall-default-deny'] };
    const { world, ctx, approveR2, reconcile } = enforcedR1(enforcingStatus('shop-r1', { denied: [deniedEdge], rolledBack }));
    world.policies.clear();
    world.live(np('hivewall-web'));
    approveR2();
    await reconcile();
    await reconcile(31 * 60_000);
    expect(world.status('shop', 'shop')).toMatchObject({ phase: 'Enforcing', approvedProposal: 'shop-r2' });
    expect(world.status('shop', 'shop').enforcement).not.toHaveProperty('rolledBack');
    expect(world.status('shop', 'shop').enforcement).not.toHaveProperty('denied');
    // shop-r1's denied edges are not seeded into shop-r2's count.
    expect(ctx.denials.view('shop', 'shop-r2')?.edges).toEqual([]);
    await reconcile();
    expect(world.calls).toEqual([]);
  });
});

describe('reconcileSegmentation: a changed spec.flavor', () => {
  it('with shop-r1\'s NetworkPolicies live and the flavor switched to CiliumNetworkPolicy, nothing is re-applied (no drift)', async () => {
    const { world, reconcile } = enforcedR1();
    await reconcile();
    const seg = world.segs.get('shop/shop')!;
    world.segs.set('shop/shop', { ...seg, metadata: { ...seg.metadata, generation: 2 }, spec: { ...seg.spec, flavor: 'CiliumNetworkPolicy' } });
    for (let i = 0; i < 3; i++) {
      await reconcile();
      expect(world.writes().filter((c) => c.startsWith('apply') || c.startsWith('delete'))).toEqual([]);
      expect(world.events).not.toContain('Warning DriftReverted');
    }
    expect(world.status('shop', 'shop').enforcement).toMatchObject({ driftReverted: 0 });
  });
});

describe('reconcileSegmentation: one Segmentation per namespace', () => {
  it('a second Segmentation is a duplicate: Ready=False DuplicateSegmentation, one Warning; it deletes no policy and resets no denial count, also when deleted', async () => {
    const { world, ctx, reconcile } = enforcedR1();
    world.addSeg('shop', 'other', { mode: 'Learn' }, undefined, T - 3_600_000);
    await reconcile();
    ctx.denials.observe(denial(T), 1);

    const outcome = await reconcile(1000, 'other');
    expect(world.writes()).toEqual(['patchStatus segmentations other']);
    expect(world.events).toEqual(['Warning DuplicateSegmentation']);
    expect(world.status('shop', 'other')).toMatchObject({ phase: 'Invalid' });
    expect(condition(world, 'Ready', 'other')).toMatchObject({ status: 'False', reason: 'DuplicateSegmentation' });
    expect(condition(world, 'Ready', 'other')?.message).toContain('Segmentation shop');
    expect(outcome.requeueAfter).toBeGreaterThan(0);
    expect(world.livePolicies()).toHaveLength(3);
    expect(ctx.denials.view('shop', 'shop-r1')?.inWindow).toBe(1);

    // Again: nothing written, no second Event.
    await reconcile(1000, 'other');
    expect(world.calls).toEqual([]);
    // The active one is untouched by it.
    await reconcile(1000, 'shop');
    expect(world.writes().filter((c) => c.startsWith('apply') || c.startsWith('delete'))).toEqual([]);

    // Deleting the duplicate removes its finalizer only.
    const other = world.segs.get('shop/other')!;
    world.segs.set('shop/other', { ...other, metadata: { ...other.metadata, deletionTimestamp: iso(T) as unknown as Date } });
    expect(await reconcile(1000, 'other')).toEqual({ settled: true });
    expect(world.writes()).toEqual(['mergePatch other']);
    expect(world.livePolicies()).toHaveLength(3);
    expect(ctx.denials.view('shop', 'shop-r1')?.inWindow).toBe(1);
  });

  it('the oldest is the active one: a newer Segmentation named first alphabetically is still the duplicate', async () => {
    const { world, reconcile } = enforcedR1();
    world.addSeg('shop', 'aaa', { mode: 'Learn' }, undefined, T);
    await reconcile(1000, 'aaa');
    expect(condition(world, 'Ready', 'aaa')).toMatchObject({ reason: 'DuplicateSegmentation' });
    expect(world.livePolicies()).toHaveLength(3);
    await reconcile(1000, 'shop');
    expect(condition(world, 'Ready')).toMatchObject({ status: 'True' });
  });
});

describe('reconcileSegmentation: a proposal name taken by another owner', () => {
  it('a leftover shop-r1 of an earlier Segmentation "shop": no create, no ProposalCreated, Proposed=False NameTaken, one Warning', async () => {
    const world = new World();
    const clock = { now: T };
    world.addProposal('shop', 'shop', 'old-uid', 1, [np('hivewall-default-deny')], 'Approved');
    world.addSeg('shop', 'shop', { mode: 'Enforce', learning: { window: '1h', stableFor: '10m' } }, { learning: { windowStart: iso(T - 7_200_000) } });
    const ctx = context(world, clock);
    ctx.learner.edges.restore(parsePeerKey('wl:shop/Deployment/web')!, parsePeerKey('wl:shop/Deployment/db')!, 5432, 'TCP', 10, T - 7_000_000, T - 3_600_000);
    for (const round of [1, 2]) {
      clock.now += 60_000;
      world.calls.length = 0;
      world.events.length = 0;
      await reconcileSegmentation(ctx, 'shop', 'shop');
      expect(world.calls.filter((c) => c.startsWith('create') || c.includes('policyproposals'))).toEqual([]);
      expect(world.events).toEqual(round === 1 ? ['Warning NameTaken'] : []);
      expect(condition(world, 'Proposed')).toMatchObject({ status: 'False', reason: 'NameTaken' });
    }
  });
});
