import { describe, expect, it } from 'vitest';
import { policyProposalSchema } from '../../api/policy-proposal.js';
import { segmentationSchema } from '../../api/segmentation.js';
import type { Denial } from '../../domain/learner.js';
import { DenialRegistry } from '../../operator/denial-registry.js';
import { key } from '../../testing/builders.js';
import { decide } from './decide.js';
import { safetyInputs, trackEnforcement } from './safety.js';

const seg = (name: string) => segmentationSchema.parse({ apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', metadata: { name, namespace: 'shop' }, spec: {} });

describe('trackEnforcement', () => {
  it('a Segmentation that enforces nothing releases only its own count, never another one\'s in the namespace', () => {
    const registry = new DenialRegistry({ now: () => 0, onCrossed: () => undefined });
    registry.enforce('shop', { segmentation: 'shop', proposal: 'shop-r1', budget: { maxDenied: 2, windowMs: 60_000 }, policies: [] });
    trackEnforcement(registry, seg('other'), { phase: 'Learning' }, undefined);
    expect(registry.view('shop', 'shop-r1')).toBeDefined();
    trackEnforcement(registry, seg('shop'), { phase: 'Learning' }, undefined);
    expect(registry.view('shop', 'shop-r1')).toBeUndefined();
  });
});

describe('the safety net through the reconcile\'s pieces: another tenant\'s denials roll nothing back', () => {
  const T = Date.parse('2026-11-27T10:00:00Z');
  const postgres = key('wl:payments/StatefulSet/postgres');
  const api = key('wl:shop/Deployment/api');
  const policy = (name: string, workload?: string) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: 'payments', ...(workload ? { annotations: { 'hivewall.dev/workload': workload } } : {}) }, spec: {} });
  // payments-r1, enforced: postgres accepts shop's api on 5432 (its evidence), web has a policy of its own.
  const r1 = policyProposalSchema.parse({
    apiVersion: 'hivewall.dev/v1alpha1', kind: 'PolicyProposal', metadata: { name: 'payments-r1', namespace: 'payments' },
    spec: {
      content: {
        segmentation: 'payments', revision: 1, flavor: 'NetworkPolicy', digest: 'd1',
        objects: [policy('hivewall-default-deny'), policy('hivewall-postgres', 'StatefulSet/postgres'), policy('hivewall-web', 'Deployment/web')],
        evidence: [{ policy: 'hivewall-postgres', direction: 'ingress', index: 0, peer: api, ports: ['5432/TCP'], edges: [{ client: api, server: postgres, port: 5432, protocol: 'TCP', count: 500, firstSeen: '2026-11-26T10:00:00Z', lastSeen: '2026-11-27T09:00:00Z' }] }],
        diff: {},
      },
      review: { decision: 'Approved', reviewer: 'alice' },
    },
  });
  const payments = segmentationSchema.parse({ apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', metadata: { name: 'payments', namespace: 'payments' }, spec: { mode: 'Enforce' } });
  const status = { phase: 'Enforcing' as const, approvedProposal: 'payments-r1', learning: { windowStart: new Date(T - 7_200_000).toISOString() }, audit: { since: new Date(T - 3_600_000).toISOString() }, enforcement: { inSync: true, policies: 3 } };

  /** 21 denials of `denial` (one past the default budget, 20 within 5m), then decide() as the reconcile calls it. */
  function afterDenials(denial: Omit<Denial, 'time'>) {
    const registry = new DenialRegistry({ now: () => T, onCrossed: () => undefined });
    trackEnforcement(registry, payments, status, r1);
    for (let i = 0; i < 21; i++) registry.observe({ ...denial, time: T - 1000 + i });
    return decide({
      now: T, name: 'payments', generation: 1, spec: payments.spec, status,
      learning: { flows: 100, edges: 10, lastNewEdge: T - 3_600_000, lostEvents: 0 },
      proposals: [{ name: 'payments-r1', revision: 1, digest: 'd1', decision: 'Approved' }],
      approved: { name: 'payments-r1', reviewer: 'alice' },
      audit: { flows: 50, wouldDeny: 0, samples: [] },
      liveInSync: true,
      ownedPolicies: 3,
      ...safetyInputs('payments', registry.view('payments', 'payments-r1'), r1),
    });
  }
  const rolledBackCondition = (d: ReturnType<typeof decide>) => d.status.conditions?.find((c) => c.type === 'RolledBack');

  it('21 INGRESS POLICY_DENIED drops from wl:evil/Deployment/x (no known peer) on 5433: nothing rolled back, the edge still recorded in status', () => {
    const d = afterDenials({ client: key('wl:evil/Deployment/x'), server: postgres, port: 5433, protocol: 'TCP', reason: 'POLICY_DENIED', direction: 'INGRESS', deniedBy: ['payments/hivewall-default-deny'] });
    expect(d.status.enforcement?.rolledBack).toBeUndefined();
    expect(rolledBackCondition(d)).toMatchObject({ status: 'False', reason: 'WithinBudget' });
    expect(d.actions.filter((a) => a.type === 'apply' || (a.type === 'event' && a.reason === 'RolledBack'))).toEqual([]);
    expect(d.status.enforcement?.denied).toEqual([expect.objectContaining({ client: 'wl:evil/Deployment/x', server: postgres, port: 5433, count: 21 })]);
  });

  it('21 from a known peer (shop\'s api, allowed on 5432, denied on 5433): postgres\'s policy and the default deny are removed, as before', () => {
    const d = afterDenials({ client: api, server: postgres, port: 5433, protocol: 'TCP', reason: 'POLICY_DENIED', direction: 'INGRESS', deniedBy: ['payments/hivewall-default-deny'] });
    expect(d.status.enforcement?.rolledBack).toMatchObject({ workloads: [postgres], policies: ['hivewall-default-deny', 'hivewall-postgres'] });
    expect(rolledBackCondition(d)).toMatchObject({ status: 'True', reason: 'DeniedTraffic' });
  });

  it('21 EGRESS drops of payments\' own web: web\'s policy and the default deny are removed', () => {
    const d = afterDenials({ client: key('wl:payments/Deployment/web'), server: key('en:world:198.51.100.7'), port: 443, protocol: 'TCP', reason: 'POLICY_DENIED', direction: 'EGRESS' });
    expect(d.status.enforcement?.rolledBack).toMatchObject({ workloads: ['wl:payments/Deployment/web'], policies: ['hivewall-default-deny', 'hivewall-web'] });
  });

  it('21 unanswered SYNs (a client\'s honest conntrack agent) from wl:evil/Deployment/x: nothing rolled back, the edge recorded', () => {
    const d = afterDenials({ client: key('wl:evil/Deployment/x'), server: postgres, port: 5433, protocol: 'TCP', reason: 'UNREPLIED' });
    expect(d.status.enforcement?.rolledBack).toBeUndefined();
    expect(d.status.enforcement?.denied).toEqual([expect.objectContaining({ client: 'wl:evil/Deployment/x', count: 21 })]);
  });
});
