// status, diff, explain and export without a cluster: formatting, colour, rule selection, which
// proposal export picks, usage errors and an unreachable server. Against the real API server:
// test/plugin/.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '../../domain/translate/networkpolicy.js';
import { colorizeDiff, countsLine, diffWithLive, proposalObjects, useColor } from './diff.js';
import { parseSelection, peerDisplay, renderRule, renderSelection, renderSummary, type RuleView } from './explain.js';
import { chooseProposals, groupLive } from './export.js';
import { proposalContentSchema } from '../../api/policy-proposal.js';
import { proposalContentDigest } from '../../domain/approval.js';
import { main } from './main.js';
import { retrying } from './reads.js';
import { attention, enforcedCell, rawStatus, statusTable, viewSegmentation } from './status.js';

const NOW = new Date('2026-11-02T12:00:00Z');

// ------------------------------------------------------------------------------------ status

const seg = (namespace: string, name: string, mode: string | undefined, status?: Record<string, unknown>) =>
  ({ metadata: { namespace, name }, spec: mode ? { mode } : {}, ...(status ? { status } : {}) });
const cond = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, lastTransitionTime: '2026-11-02T11:00:00Z' });

describe('status', () => {
  it('prints one row per Segmentation, sorted, with the conditions that need attention under it', () => {
    const table = statusTable([
      seg('shop', 'shop', 'Enforce', {
        phase: 'Enforcing', learning: { flows: 4438, edges: 58, lastNewEdge: '2026-11-02T09:00:00Z' },
        proposal: { name: 'shop-r3', revision: 3, decision: 'Approved' }, audit: { flows: 900, wouldDeny: 0 }, enforcement: { inSync: true },
        conditions: [cond('Ready', 'True', 'Reconciled', 'phase Enforcing'), cond('Enforced', 'True', 'Applied', 'shop-r3 applied'), cond('Degraded', 'False', 'AsExpected', 'flow sources healthy')],
      }),
      seg('api', 'api', 'Audit', {
        phase: 'Auditing', learning: { flows: 10, edges: 2, lastNewEdge: '2026-11-02T11:59:30Z' }, proposal: { name: 'api-r1', revision: 1 },
        audit: { flows: 50, wouldDeny: 4 },
        conditions: [cond('AuditClean', 'False', 'WouldDeny', '4 live flows would be denied (allowed: 0)'), cond('Enforced', 'False', 'AuditMode', 'mode is Audit')],
      }),
      seg('new', 'new', undefined),
      seg('pay', 'pay', 'Learn', { phase: 'Degraded', conditions: [cond('Degraded', 'True', 'FlowSourceError', 'flow file /x does not exist (yet)')] }),
    ].map(viewSegmentation), NOW);
    expect(table).toBe([
      'NAMESPACE   NAME   MODE      PHASE       FLOWS    EDGES    LAST NEW EDGE   PROPOSAL             WOULD-DENY   ENFORCED',
      'api         api    Audit     Auditing    10       2        30s ago         api-r1 (Pending)     4            no (AuditMode)',
      '    AuditClean=False WouldDeny: 4 live flows would be denied (allowed: 0)',
      'new         new    Learn     <none>      <none>   <none>   <none>          <none>               <none>       <none>',
      'pay         pay    Learn     Degraded    <none>   <none>   <none>          <none>               <none>       <none>',
      '    Degraded=True FlowSourceError: flow file /x does not exist (yet)',
      'shop        shop   Enforce   Enforcing   4438     58       3h ago          shop-r3 (Approved)   0            yes (in sync)',
      '',
    ].join('\n'));
  });

  it.each([
    ['applied and in sync', [cond('Enforced', 'True', 'Applied', '')], { inSync: true }, 'yes (in sync)'],
    ['GitOps in sync', [cond('Enforced', 'True', 'GitOpsInSync', '')], { inSync: true }, 'yes (in sync)'],
    ['GitOps out of sync', [cond('Enforced', 'False', 'GitOpsOutOfSync', '')], { inSync: false }, 'no (GitOpsOutOfSync)'],
    ['promotion refused', [cond('Enforced', 'False', 'PromotionRefused', '')], undefined, 'no (PromotionRefused)'],
    ['no condition yet', [], undefined, '<none>'],
  ])('ENFORCED: %s', (_name, conditions, enforcement, cell) => {
    expect(enforcedCell(viewSegmentation(seg('a', 'a', 'Enforce', { conditions, ...(enforcement ? { enforcement } : {}) })))).toBe(cell);
  });

  it.each([
    ['Enforced PromotionRefused', cond('Enforced', 'False', 'PromotionRefused', 'm'), true],
    ['Enforced GitOpsOutOfSync', cond('Enforced', 'False', 'GitOpsOutOfSync', 'm'), true],
    ['Enforced while auditing', cond('Enforced', 'False', 'Auditing', 'm'), false],
    ['Enforced in Learn mode', cond('Enforced', 'False', 'LearnMode', 'm'), false],
    ['Degraded', cond('Degraded', 'True', 'FlowSourceError', 'm'), true],
    ['not Degraded', cond('Degraded', 'False', 'AsExpected', 'm'), false],
    ['invalid spec', cond('Ready', 'False', 'InvalidSpec', 'm'), true],
    ['audit not clean', cond('AuditClean', 'False', 'WouldDeny', 'm'), true],
    ['audit clean', cond('AuditClean', 'True', 'NoViolations', 'm'), false],
  ])('attention: %s → %s', (_name, c, shown) => {
    expect(attention([c]).length > 0).toBe(shown);
  });

  it('-o json|yaml prints the raw status as a List', () => {
    const status = { phase: 'Learning', learning: { flows: 3 } };
    const views = [viewSegmentation(seg('shop', 'shop', 'Learn', status))];
    expect(JSON.parse(rawStatus(views, 'json'))).toEqual({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', metadata: { name: 'shop', namespace: 'shop' }, status }] });
    expect(rawStatus(views, 'yaml')).toContain('    status:\n      phase: Learning\n      learning:\n        flows: 3\n');
  });
});

// -------------------------------------------------------------------------------------- diff

describe('diff colour', () => {
  it.each([
    ['a terminal', 'auto', true, {}, true],
    ['a pipe', 'auto', false, {}, false],
    ['a terminal with NO_COLOR=1', 'auto', true, { NO_COLOR: '1' }, false],
    ['a terminal with an empty NO_COLOR', 'auto', true, { NO_COLOR: '' }, true],
    ['--color always into a pipe', 'always', false, { NO_COLOR: '1' }, true],
    ['--color never on a terminal', 'never', true, {}, false],
  ] as const)('%s → %s', (_name, mode, isTTY, env, colored) => {
    expect(useColor(mode, { isTTY }, env)).toBe(colored);
  });

  it('colours added lines green, removed red, hunks cyan, file headers bold; nothing else changes', () => {
    const text = '===================================================================\n--- live/NetworkPolicy/a\n+++ proposed/NetworkPolicy/a\n@@ -1,3 +1,3 @@\n ctx\n-old\n+new\n';
    expect(colorizeDiff(text)).toBe([
      '\u001b[1m===================================================================\u001b[0m',
      '\u001b[1m--- live/NetworkPolicy/a\u001b[0m',
      '\u001b[1m+++ proposed/NetworkPolicy/a\u001b[0m',
      '\u001b[36m@@ -1,3 +1,3 @@\u001b[0m',
      ' ctx',
      '\u001b[31m-old\u001b[0m',
      '\u001b[32m+new\u001b[0m',
      '',
    ].join('\n'));
    // eslint-disable-next-line no-control-regex
    expect(colorizeDiff(text).replace(/\u001b\[[0-9;]*m/g, '')).toBe(text);
  });
});

const np = (name: string, port: number): KubernetesObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'hivewall' } },
  spec: { podSelector: { matchLabels: { app: name } }, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ protocol: 'TCP', port }] }] },
});

describe('diff against live', () => {
  it('ignores the server\'s key order and its metadata; shows only real change', () => {
    const live = {
      kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1',
      metadata: { name: 'a', namespace: 'shop', uid: 'u', resourceVersion: '9', labels: { 'app.kubernetes.io/managed-by': 'hivewall', team: 'x' }, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
      spec: { podSelector: { matchLabels: { app: 'a' } }, ingress: [{ ports: [{ port: 80, protocol: 'TCP' }], from: [{ podSelector: { matchLabels: { app: 'web' } } }] }], policyTypes: ['Ingress', 'Egress'] },
    } as unknown as KubernetesObject;
    const proposal = JSON.parse(JSON.stringify(np('a', 80), (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => x.localeCompare(y))) : v))) as KubernetesObject;
    expect(diffWithLive([proposal], [live])).toEqual({ added: [], changed: [], removed: [], unified: '' });
    const changed = diffWithLive([np('a', 8080), np('b', 80)], [live]);
    expect(changed).toMatchObject({ added: ['NetworkPolicy/b'], changed: ['NetworkPolicy/a'], removed: [] });
    expect(changed.unified).toContain('-          port: 80\n+          port: 8080\n');
    expect(countsLine(changed, 2)).toBe('1 added, 1 changed, 0 removed, 0 unchanged');
    expect(countsLine({ added: [], changed: [], removed: [] }, 14)).toBe('no difference (14 policies unchanged)');
  });

  it('reads a proposal\'s objects leniently', () => {
    expect(proposalObjects({ spec: { content: { objects: [np('a', 1), { kind: 'NetworkPolicy' }, 'junk', null] } } }).map((o) => o.metadata.name)).toEqual(['a']);
    expect(proposalObjects({})).toEqual([]);
  });
});

// ----------------------------------------------------------------------------------- explain

describe('explain selection', () => {
  it.each([
    ['hivewall-cart', { policy: 'hivewall-cart' }],
    ['hivewall-cart/ingress', { policy: 'hivewall-cart', direction: 'ingress' }],
    ['hivewall-cart/egress/0', { policy: 'hivewall-cart', direction: 'egress', index: 0 }],
    ['hivewall-db-statefulset-1a2b3c/egress/12', { policy: 'hivewall-db-statefulset-1a2b3c', direction: 'egress', index: 12 }],
    ['a.b/ingress/3', { policy: 'a.b', direction: 'ingress', index: 3 }],
  ])('%s', (arg, selection) => {
    expect(parseSelection(arg)).toEqual(selection);
  });

  it.each(['', 'Hivewall-Cart', 'hivewall-cart/', 'hivewall-cart/in', 'hivewall-cart/Ingress', 'hivewall-cart/egress/', 'hivewall-cart/egress/-1', 'hivewall-cart/egress/01', 'hivewall-cart/egress/x', 'hivewall-cart/egress/0/1', 'networkpolicy/hivewall-cart'])('rejects %j (exit 2, with the forms it takes)', (arg) => {
    expect(() => parseSelection(arg)).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('expected <policy>, <policy>/ingress, <policy>/egress or <policy>/<ingress|egress>/<index>') }));
  });
});

const edge = (client: string, server: string, port: number, count: number) =>
  ({ client, server, port, protocol: 'TCP', count, firstSeen: '2026-11-02T10:00:03.412Z', lastSeen: '2026-11-02T10:59:58.001Z' });

const proposal = {
  metadata: { namespace: 'shop', name: 'shop-r2' },
  spec: {
    review: { decision: 'Approved', reviewer: 'rita' },
    content: {
      segmentation: 'shop', revision: 2, flavor: 'NetworkPolicy',
      objects: [
        { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'hivewall-default-deny', namespace: 'shop' }, spec: {} },
        { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'hivewall-cart', namespace: 'shop', annotations: { 'hivewall.dev/workload': 'Deployment/cart' } },
          spec: { ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }] }], egress: [{ ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] }] } },
      ],
      evidence: [
        { policy: 'hivewall-cart', direction: 'egress', index: 0, peer: 'kube-system/Deployment/coredns', ports: ['53/UDP', '53/TCP'], allowance: 'dns', edges: [{ ...edge('wl:shop/Deployment/cart', 'wl:kube-system/Deployment/coredns', 53, 18), protocol: 'UDP' }] },
        { policy: 'hivewall-cart', direction: 'ingress', index: 0, peer: 'shop/Deployment/frontend', ports: ['8080/TCP'], edges: [edge('wl:shop/Deployment/frontend', 'wl:shop/Deployment/cart', 8080, 412), edge('wl:shop/Deployment/frontend-canary', 'wl:shop/Deployment/cart', 8080, 3)] },
      ],
      skipped: ['shop/Pod/debug: no unique selector'],
    },
  },
};

describe('explain output', () => {
  it('summarizes rules, edges, flows and allowances per policy', () => {
    expect(renderSummary(proposal)).toBe([
      'policyproposal shop/shop-r2: segmentation shop, revision 2, 2 NetworkPolicy objects, Approved by rita',
      '',
      'POLICY                  WORKLOAD                   INGRESS RULES   EGRESS RULES   EDGES   FLOWS   ALLOWANCES',
      'hivewall-default-deny   (namespace default deny)   0               0              0       0       <none>',
      'hivewall-cart           Deployment/cart            1               1              3       433     dns',
      '',
      'left out (no policy or rule for them):',
      '  shop/Pod/debug: no unique selector',
      '',
      'the evidence behind each rule: kubectl hivewall explain shop-r2 hivewall-cart -n shop',
      '',
    ].join('\n'));
  });

  it('shows the edges behind each rule, ingress first, and names an allowance plainly', () => {
    expect(renderSelection(proposal, { policy: 'hivewall-cart' })).toBe([
      'NetworkPolicy hivewall-cart (Deployment/cart) in policyproposal shop/shop-r2',
      '',
      'ingress/0: from shop/Deployment/frontend on 8080/TCP',
      '  observed: 2 edges, 415 flows',
      '    shop/Deployment/frontend → shop/Deployment/cart          8080/TCP   412 flows   first seen 2026-11-02T10:00:03Z   last seen 2026-11-02T10:59:58Z',
      '    shop/Deployment/frontend-canary → shop/Deployment/cart   8080/TCP   3 flows     first seen 2026-11-02T10:00:03Z   last seen 2026-11-02T10:59:58Z',
      '',
      'egress/0: to kube-system/Deployment/coredns on 53/UDP, 53/TCP',
      '  allowed beyond observation because the Segmentation asks for it: dns (spec.allow.dns keeps name resolution working: 53/UDP and 53/TCP to the observed DNS servers)',
      '  observed: 1 edge, 18 flows',
      '    shop/Deployment/cart → kube-system/Deployment/coredns   53/UDP   18 flows   first seen 2026-11-02T10:00:03Z   last seen 2026-11-02T10:59:58Z',
      '',
    ].join('\n'));
    expect(renderSelection(proposal, { policy: 'hivewall-cart', direction: 'egress', index: 0 })).not.toContain('ingress/0');
    expect(renderSelection(proposal, { policy: 'hivewall-default-deny' })).toContain('no rule: it selects every pod in shop and allows nothing (namespace default deny)');
  });

  it('refuses a policy or rule the proposal does not have, listing what it has', () => {
    expect(() => renderSelection(proposal, { policy: 'hivewall-kart' })).toThrow('policy "hivewall-kart" is not in policyproposal shop/shop-r2; its policies: hivewall-default-deny, hivewall-cart');
    expect(() => renderSelection(proposal, { policy: 'hivewall-cart', direction: 'ingress', index: 4 })).toThrow('hivewall-cart has no ingress/4 rule: its ingress rules are ingress/0');
    expect(() => renderSelection(proposal, { policy: 'hivewall-default-deny', direction: 'egress' })).toThrow('hivewall-default-deny has no egress rules in policyproposal shop/shop-r2');
  });

  it('says so when a rule has no evidence at all', () => {
    const rule: RuleView = { policy: 'p', direction: 'ingress', index: 0, peer: 'world 203.0.113.9', ports: ['22/TCP'], allowance: '', edges: [] };
    expect(renderRule(rule)).toBe('ingress/0: from world 203.0.113.9 on 22/TCP\n  observed: nothing — this rule allows traffic nobody was seen sending\n');
  });

  it.each([
    ['wl:shop/Deployment/cart', 'shop/Deployment/cart'],
    ['en:world:203.0.113.7', 'world 203.0.113.7'],
    ['en:host', 'host'],
    ['something else', 'something else'],
  ])('peer %s → %s', (key, text) => {
    expect(peerDisplay(key)).toBe(text);
  });
});

// ------------------------------------------------------------------------------------ export

/** A Segmentation as the API server returns it (uid set). */
const sg = (namespace: string, name: string, over: { uid?: string; promotion?: Record<string, unknown>; annotations?: Record<string, string> } = {}) => ({
  apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation',
  metadata: { namespace, name, uid: over.uid ?? `uid-${namespace}-${name}`, ...(over.annotations ? { annotations: over.annotations } : {}) },
  spec: over.promotion ? { promotion: over.promotion } : {},
});

interface PpOptions {
  phase?: string;
  segmentation?: string;
  reviewer?: string;
  /** The owning Segmentation's uid (default: that of sg(namespace, segmentation)); null for none. */
  owner?: string | null;
  /** metadata.name (default `<segmentation>-r<revision>`). */
  name?: string;
  labels?: Record<string, string>;
  /** What the review pins (default: this object and its digest, as kubectl hivewall approve writes). */
  pins?: { proposalUID?: string; contentDigest?: string };
  objects?: KubernetesObject[];
  /** Replace spec.content.objects after the digest was computed (content changed behind the digest). */
  tamper?: KubernetesObject[];
  legacy?: boolean;
}

/** A PolicyProposal as the operator writes it: owned, content digest set; reviewed like the plugin does. */
const pp = (namespace: string, revision: number, decision: string, opts: PpOptions = {}) => {
  const segmentation = opts.segmentation ?? 'shop';
  const name = opts.name ?? `${segmentation}-r${revision}`;
  const uid = `uid-${namespace}-${name}`;
  const content = proposalContentSchema.parse({
    segmentation, revision, flavor: 'NetworkPolicy', digest: `d${revision}`, objects: opts.objects ?? [np(`hivewall-r${revision}`, 80)], evidence: [], diff: {},
  });
  const digest = proposalContentDigest(content)!;
  const owner = opts.owner === undefined ? `uid-${namespace}-${segmentation}` : opts.owner;
  return {
    apiVersion: 'hivewall.dev/v1alpha1', kind: 'PolicyProposal',
    metadata: {
      namespace, name, uid, labels: { 'hivewall.dev/segmentation': segmentation, ...opts.labels },
      ...(owner !== null ? { ownerReferences: [{ apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', name: segmentation, uid: owner, controller: true }] } : {}),
    },
    spec: {
      content: opts.tamper ? { ...content, objects: opts.tamper } : content,
      ...(opts.legacy ? {} : { contentDigest: digest }),
      review: { decision, ...(opts.reviewer ? { reviewer: opts.reviewer } : {}), ...(decision !== 'Pending' ? (opts.pins ?? { proposalUID: uid, contentDigest: digest }) : {}) },
    },
    ...(opts.phase ? { status: { phase: opts.phase } } : {}),
  };
};

describe('export: which proposal (the operator\'s rule, judgeProposals)', () => {
  const pick = (proposals: unknown[], includeProposed = false, segmentations: unknown[] = [sg('shop', 'shop')]) =>
    chooseProposals(proposals, segmentations, includeProposed).map((e) => ({ namespace: e.namespace, objects: e.objects.map((o) => o.metadata.name), source: e.source, notes: e.notes }));

  it('takes the newest approved proposal per Segmentation, and says when a newer one waits for review', () => {
    expect(pick([pp('shop', 1, 'Approved', { reviewer: 'rita', phase: 'Superseded' }), pp('shop', 3, 'Pending'), pp('shop', 2, 'Approved', { reviewer: 'sam', phase: 'Enforced' }), pp('api', 1, 'Rejected', { segmentation: 'api' })], false, [sg('shop', 'shop'), sg('api', 'api')])).toEqual([
      { namespace: 'api', objects: [], source: '', notes: ['api: nothing to export for segmentation api: no approved PolicyProposal (newest: api-r1 (Rejected))'] },
      { namespace: 'shop', objects: ['hivewall-r2'], source: 'shop-r2 (Approved by sam)', notes: ['shop: shop-r3 (Pending) is newer than the approved shop-r2: review it, or pass --include-proposed to export it'] },
    ]);
  });

  it('with --include-proposed takes the newest one not rejected or superseded', () => {
    expect(pick([pp('shop', 1, 'Approved'), pp('shop', 2, 'Pending', { phase: 'Superseded' }), pp('shop', 3, 'Pending')], true)[0]).toMatchObject({ objects: ['hivewall-r3'], notes: ['shop: shop-r3 is not approved yet (Pending): exported because of --include-proposed'] });
    expect(pick([pp('shop', 1, 'Approved'), pp('shop', 2, 'Rejected')], true)[0]).toMatchObject({ objects: ['hivewall-r1'], notes: [] });
  });

  it('tells how to proceed when nothing is approved yet', () => {
    expect(pick([pp('shop', 1, 'Pending')])[0]!.notes).toEqual(['shop: nothing to export for segmentation shop: no approved PolicyProposal (newest: shop-r1 (Pending)); approve it (kubectl hivewall approve shop-r1 -n shop) or pass --include-proposed']);
  });

  it('follows promotion.requireApproval: false like the operator: only while the waiver is signed', () => {
    const unsigned = sg('shop', 'shop', { promotion: { requireApproval: false } });
    const signed = sg('shop', 'shop', { promotion: { requireApproval: false }, annotations: { 'hivewall.dev/approval-waived-by': 'olga' } });
    expect(pick([pp('shop', 1, 'Approved'), pp('shop', 2, 'Pending')], false, [signed])[0]).toMatchObject({ objects: ['hivewall-r2'], notes: [] });
    expect(pick([pp('shop', 1, 'Approved'), pp('shop', 2, 'Pending')], false, [unsigned])[0]).toMatchObject({ objects: ['hivewall-r1'] });
  });

  describe('nothing but what the operator would enforce is ever written', () => {
    const attack = (evil: ReturnType<typeof pp>) => pick([pp('shop', 1, 'Approved', { reviewer: 'rita' }), evil]);
    const evilObjects = [np('hivewall-allow-all', 1)];

    it.each<[string, ReturnType<typeof pp>]>([
      ['a proposal of another Segmentation relabelled hivewall.dev/segmentation=shop', pp('shop', 9, 'Approved', { name: 'shop-r9', segmentation: 'web', owner: 'uid-shop-web', labels: { 'hivewall.dev/segmentation': 'shop' }, objects: evilObjects })],
      ['a proposal owned by a deleted Segmentation of the same name (re-created: new uid)', pp('shop', 9, 'Approved', { owner: 'uid-old-shop', objects: evilObjects })],
      ['a proposal without any ownerReference', pp('shop', 9, 'Approved', { owner: null, objects: evilObjects })],
      ['a proposal whose review pins another object (deleted and re-created under the name)', pp('shop', 9, 'Approved', { pins: { proposalUID: 'uid-of-the-deleted-one' }, objects: evilObjects })],
      ['a proposal whose content does not hash to its spec.contentDigest', pp('shop', 9, 'Approved', { tamper: evilObjects })],
      ['a proposal from before content pinning (no spec.contentDigest)', pp('shop', 9, 'Approved', { legacy: true, pins: {}, objects: evilObjects })],
      ['a proposal holding a ClusterRoleBinding', pp('shop', 9, 'Approved', { objects: [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'hivewall-allow-all' } } as KubernetesObject] })],
      ['a proposal with a policy for another namespace', pp('shop', 9, 'Approved', { objects: [{ ...np('hivewall-allow-all', 1), metadata: { name: 'hivewall-allow-all', namespace: 'payments' } }] })],
    ])('%s', (_name, evil) => {
      const [shop] = attack(evil);
      expect(shop).toMatchObject({ namespace: 'shop', objects: ['hivewall-r1'], source: 'shop-r1 (Approved by rita)' });
      expect(shop!.notes.join('\n')).toMatch(/shop-r9/);
      // --include-proposed never takes it either, unless only its review was wrong (then it is a genuine proposal under review).
      const pending = { ...evil, spec: { ...evil.spec, review: { decision: 'Pending' } } };
      const genuine = evil.spec.review.proposalUID === 'uid-of-the-deleted-one';
      expect(pick([pp('shop', 1, 'Approved', { reviewer: 'rita' }), pending], true)[0]!.objects).toEqual([genuine ? 'hivewall-allow-all' : 'hivewall-r1']);
    });

    it('a Segmentation that does not exist exports nothing, however the proposals are labelled', () => {
      expect(pick([pp('shop', 1, 'Approved')], false, [])).toEqual([{ namespace: 'shop', objects: [], source: '', notes: ['shop: shop-r1 is not exported: no Segmentation of shop owns it (ownerReference and spec.content.segmentation "shop")'] }]);
    });
  });

  it('groups live policies by namespace, reduced to what hivewall writes', () => {
    const live = [{ ...np('b', 1), metadata: { name: 'b', namespace: 'shop', uid: 'u', labels: { 'app.kubernetes.io/managed-by': 'hivewall', extra: 'x' } }, status: {} }, np('a', 1), { ...np('c', 1), metadata: { name: 'c', namespace: 'api' } }] as KubernetesObject[];
    const groups = groupLive(live);
    expect(groups.map((g) => [g.namespace, g.objects.map((o) => o.metadata.name)])).toEqual([['api', ['c']], ['shop', ['a', 'b']]]);
    expect(groups[1]!.objects[1]).toEqual({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'b', namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'hivewall' } }, spec: np('b', 1)['spec'] });
  });
});

// ----------------------------------------------------------------------------------- retries

describe('reads retry 429 like kubectl', () => {
  const tooMany = () => new ApiException(429, 'x', JSON.stringify({ message: 'storage is (re)initializing', code: 429 }), { 'retry-after': '0.01' });

  it('waits Retry-After and tries again', async () => {
    let calls = 0;
    expect(await retrying(async () => (++calls < 3 ? Promise.reject(tooMany()) : 'ok'))).toBe('ok');
    expect(calls).toBe(3);
  });

  it('gives up after the last attempt, and never retries other failures', async () => {
    let calls = 0;
    await expect(retrying(async () => { calls++; throw tooMany(); }, 3)).rejects.toMatchObject({ code: 429 });
    expect(calls).toBe(3);
    calls = 0;
    await expect(retrying(async () => { calls++; throw new ApiException(403, 'x', '{}', {}); })).rejects.toMatchObject({ code: 403 });
    expect(calls).toBe(1);
  });
});

// ------------------------------------------------------------------- the commands, no cluster

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let outText = '';
  let errText = '';
  out.on('data', (c: Buffer) => (outText += c.toString()));
  err.on('data', (c: Buffer) => (errText += c.toString()));
  const code = await main(args, { stdout: out, stderr: err }, { env: { HOME: '/nonexistent-home', ...env } });
  return { code, out: outText, err: errText };
}

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

async function kubeconfigFor(server: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hivewall-gitops-cli-'));
  const file = path.join(dir, 'kubeconfig');
  await writeFile(file, `apiVersion: v1\nkind: Config\nclusters: [{ name: c, cluster: { server: "${server}" } }]\nusers: [{ name: u, user: { token: t } }]\ncontexts: [{ name: one, context: { cluster: c, user: u, namespace: shop } }]\ncurrent-context: one\n`);
  return file;
}

describe('kubectl hivewall status|diff|explain|export (no cluster)', () => {
  it.each([
    [['status', '-o', 'xml']],
    [['diff']],
    [['diff', 'deployment/web']],
    [['diff', 'shop-r1', '--color', 'sometimes']],
    [['explain', 'shop-r1', 'hivewall-cart/sideways']],
    [['export']],
    [['export', '--out', '/tmp/x', '--from', 'git']],
    [['export', '--out', '/tmp/x', '--from', 'enforced', '--include-proposed']],
  ])('%j is bad usage (exit 2)', async (args) => {
    const file = await kubeconfigFor('https://127.0.0.1:1');
    expect((await run([...args, '--kubeconfig', file])).code).toBe(2);
  });

  it('lists the new commands in --help', async () => {
    const help = await run(['--help']);
    for (const command of ['status', 'diff', 'explain', 'export']) expect(help.out).toMatch(new RegExp(`^ {2}${command} `, 'm'));
  });

  it('names the server it cannot reach', async () => {
    const server = `https://127.0.0.1:${await closedPort()}`;
    const file = await kubeconfigFor(server);
    for (const args of [['status'], ['status', '-A'], ['diff', 'shop-r1'], ['explain', 'shop-r1'], ['export', '--out', path.join(tmpdir(), 'never-written')], ['export', '--out', '/tmp/x', '--from', 'enforced']]) {
      const r = await run([...args, '--kubeconfig', file]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err, args.join(' ')).toMatch(new RegExp(`^error: cannot reach the Kubernetes API server at ${server.replace(/\./g, '\\.')} \\(context "one"\\): .*ECONNREFUSED`));
    }
  });
});
