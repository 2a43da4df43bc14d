/**
 * The operator end to end, against the real API server: a separate `hivewall operator` process
 * authenticated as its own ServiceAccount with only the deploy/ RBAC, fed a Hubble export file,
 * walks the `shop` namespace through Learn → Proposed → Approved (by a reviewer; a stranger and
 * the operator itself are refused by the API server) → Audit (a flow the policies would deny
 * shows up in status) → Enforce (exactly the policies `hivewall learn` writes for the same flows),
 * then: drift reverted, idle reconcile writes nothing, a kill mid-learning loses no edge, a second
 * replica takes over leadership, and rollback to Learn removes only hivewall's policies.
 */
import { appendFile, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as hivewall } from '../../src/cli/main.js';
import { comparable } from '../../src/domain/proposal.js';
import type { KubernetesObject as PolicyObject } from '../../src/domain/translate/networkpolicy.js';
import { adminKubeconfigPath, kubectl, kubectlOk, serviceAccountIdentity, userIdentity, type Identity } from '../harness/index.js';
import { createSnapshot, loadSnapshotObjects } from './cluster-objects.js';
import { eventually as eventuallyIn, getJson, OperatorProcesses, ROOT, type Json } from './operator-process.js';

const EXAMPLE = join(ROOT, 'examples/shop');
const NS = 'shop';
const admin = () => ({ kubeconfig: adminKubeconfigPath() });

let work: string;
let flowFile: string;
let lines: string[];
let operatorSa: Identity;
let reviewer: Identity;
let stranger: Identity;
let operators: OperatorProcesses;
const startOperator = (identity: string) => operators.start(identity);
const stopOperator = (identity: string, signal: NodeJS.Signals) => operators.stop(identity, signal);
const eventually = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000) => eventuallyIn(what, fn, timeoutMs, operators);

function canonical(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sort) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sort(value));
}

const segmentation = (spec: string) => `apiVersion: hivewall.dev/v1alpha1
kind: Segmentation
metadata: {name: shop, namespace: ${NS}}
spec:
${spec}`;

/** What `hivewall learn` writes for the same flows: the policies the operator must enforce. */
async function offlinePolicies(flows: string): Promise<Map<string, string>> {
  const out = await mkdtemp(join(tmpdir(), 'hivewall-offline-'));
  const sink = new PassThrough();
  sink.resume();
  const code = await hivewall(['learn', '--flows', flows, '--cluster', join(EXAMPLE, 'cluster'), '--namespace', NS, '--out', out, '-q'], { stdout: sink, stderr: sink, stdin: Readable.from([]) });
  expect(code).toBe(0);
  const files = new Map<string, string>();
  for (const f of (await readdir(join(out, NS))).filter((f) => f !== 'kustomization.yaml')) files.set(f.replace(/\.yaml$/, ''), await readFile(join(out, NS, f), 'utf8'));
  return files;
}

async function livePolicies(): Promise<Map<string, PolicyObject>> {
  const list = await getJson(['networkpolicies', '-n', NS, '-l', 'app.kubernetes.io/managed-by=hivewall']);
  return new Map((list.items as PolicyObject[]).map((o) => [o.metadata.name, comparable({ ...o, apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' })]));
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hivewall-e2e-'));
  flowFile = join(work, 'hubble.log');
  lines = (await readFile(join(EXAMPLE, 'flows.hubble.jsonl'), 'utf8')).split('\n').filter((l) => l.length > 0);
  await kubectlOk(['apply', '-k', join(ROOT, 'deploy')], admin());
  for (const f of ['snapshot-end.yaml']) await createSnapshot(await loadSnapshotObjects(join(EXAMPLE, 'cluster', f)));
  operatorSa = await serviceAccountIdentity('hivewall-system', 'hivewall-operator');
  operators = new OperatorProcesses(operatorSa.kubeconfigPath, flowFile);
  reviewer = await userIdentity('alice@example.com', ['e2e-security-reviewers']);
  stranger = await userIdentity('mallory@example.com');
  await kubectlOk(['create', 'clusterrolebinding', 'e2e-reviewers', '--clusterrole=hivewall-reviewer', '--group=e2e-security-reviewers'], admin());
  // A policy written by a user: hivewall must never touch it.
  await writeFile(join(work, 'user-policy.yaml'), `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: team-allow-metrics, namespace: ${NS}}\nspec:\n  podSelector: {matchLabels: {app.kubernetes.io/name: cart}}\n  ingress: [{ports: [{port: 9090}]}]\n`);
  await kubectlOk(['apply', '-f', join(work, 'user-policy.yaml')], admin());
}, 120_000);

afterAll(async () => {
  await operators.stopAll();
  // Cluster-scoped: other test files share the API server.
  await kubectl(['delete', 'clusterrolebinding', 'e2e-reviewers', '--ignore-not-found'], admin());
});

describe('hivewall operator', () => {
  it('learns, survives a kill mid-learning without losing an edge, and proposes', async () => {
    const half = Math.floor(lines.length / 2);
    await writeFile(flowFile, `${lines.slice(0, half).join('\n')}\n`);
    startOperator('op-1');
    await writeFile(join(work, 'seg.yaml'), segmentation('  mode: Enforce\n  learning: {window: 4s, stableFor: 2s}\n  promotion: {auditPeriod: 3s, allowedWouldDeny: 0}\n'));
    await kubectlOk(['apply', '-f', join(work, 'seg.yaml')], admin());
    const before = await eventually('a persisted TrafficProfile', async () => {
      const tp = await getJson(['trafficprofile', 'shop', '-n', NS]).catch(() => undefined);
      return tp && tp.spec.edges.length > 0 ? tp : undefined;
    });
    await stopOperator('op-1', 'SIGKILL');
    await appendFile(flowFile, `${lines.slice(half).join('\n')}\n`);
    startOperator('op-1');
    // The operator proposes as soon as the graph is stable; a later, larger graph makes a new
    // revision. Wait for the revision that has read the whole file.
    const offline = await offlinePolicies(flowFile);
    const pp = await eventually('a proposal of the whole file', async () => {
      const seg = await getJson(['segmentation', 'shop', '-n', NS]);
      if (seg.status?.phase !== 'Proposed' || !seg.status.proposal?.name) return undefined;
      const p = await getJson(['policyproposal', seg.status.proposal.name, '-n', NS]);
      // Stored objects come back with the API server's key order: compare content, not text.
      const proposed = new Map((p.spec.content.objects as PolicyObject[]).map((o) => [o.metadata.name, canonical(o)]));
      const same = [...offline].every(([name, yaml]) => proposed.get(name) === canonical(load(yaml))) && proposed.size === offline.size;
      if (!same) await writeFile(join(work, 'last-mismatch.json'), JSON.stringify({ proposed: Object.fromEntries(proposed), offline: Object.fromEntries(offline) }, null, 1));
      return same ? p : undefined;
    }, 45_000);
    // Nothing learned before the kill is missing: every edge persisted then is in the proposal's evidence.
    const evidence = new Set((pp.spec.content.evidence as { edges: { client: string; server: string; port: number }[] }[]).flatMap((r) => r.edges.map((e) => `${e.client} ${e.server} ${e.port}`)));
    for (const [c, s, port] of before.spec.edges as number[][]) {
      const client = before.spec.peers[c!] as string;
      const server = before.spec.peers[s!] as string;
      if (client.startsWith(`wl:${NS}/`) || server.startsWith(`wl:${NS}/`)) expect(evidence.has(`${client} ${server} ${port}`), `${client} -> ${server} ${port}`).toBe(true);
    }
    // Exactly what offline learning writes for the whole file (checked above), and the kill lost no edge.
    expect(pp.spec.content.objects.length).toBe(offline.size);
  }, 120_000);

  it('lets only a reviewer approve: strangers and the operator are refused by the API server', async () => {
    const name = (await getJson(['segmentation', 'shop', '-n', NS])).status.proposal.name as string;
    // Pinned to the proposal's uid and content digest, as `kubectl hivewall approve` writes it.
    const proposal = await getJson(['policyproposal', name, '-n', NS]);
    const pins = { proposalUID: proposal.metadata.uid as string, contentDigest: proposal.spec.contentDigest as string };
    expect(pins.contentDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const patch = (who: Identity, reviewerName: string) => kubectl(['patch', 'policyproposal', name, '-n', NS, '--type=merge', '-p',
      JSON.stringify({ spec: { review: { decision: 'Approved', reviewer: reviewerName, reviewedAt: new Date().toISOString(), ...pins } } })], { kubeconfig: who.kubeconfigPath });
    const byStranger = await patch(stranger, stranger.username);
    expect(byStranger.code).not.toBe(0);
    expect(byStranger.stderr).toMatch(/forbidden/i);
    const byOperator = await patch(operatorSa, operatorSa.username);
    expect(byOperator.code).not.toBe(0);
    expect(byOperator.stderr).toMatch(/forbidden|cannot review/i);
    const impersonating = await patch(reviewer, 'bob@example.com');
    expect(impersonating.code).not.toBe(0);
    expect(impersonating.stderr).toMatch(/reviewer must be the requesting user/);
    const ok = await patch(reviewer, reviewer.username);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    await eventually('Auditing', async () => (await getJson(['segmentation', 'shop', '-n', NS])).status?.phase === 'Auditing');
  }, 60_000);

  it('audits: a flow the policies would deny shows up in status and blocks promotion', async () => {
    // search → cart:6379 never happened: the approved policies deny it.
    const template = JSON.parse(lines.find((l) => l.includes('"pod_name":"search-') && l.includes('"TO_ENDPOINT"') && !l.includes('"is_reply":true'))!) as { flow: Json; time: string };
    const denied = structuredClone(template);
    denied.flow.time = new Date().toISOString();
    denied.time = denied.flow.time;
    denied.flow.l4 = { TCP: { source_port: 55555, destination_port: 6379, flags: { SYN: true } } };
    await appendFile(flowFile, `${JSON.stringify(denied)}\n`);
    const seg = await eventually('a would-deny sample', async () => {
      const s = await getJson(['segmentation', 'shop', '-n', NS]);
      return (s.status?.audit?.wouldDeny ?? 0) >= 1 ? s : undefined;
    });
    // The finding names the pods as seen and, for reports, their workloads as peer keys.
    expect(seg.status.audit.samples[0]).toMatchObject({ port: 6379, protocol: 'TCP', clientKey: 'wl:shop/Deployment/search' });
    expect(seg.status.audit.samples[0].client).toMatch(/^shop\/search-/);
    await new Promise((r) => setTimeout(r, 4000));
    const refused = await getJson(['segmentation', 'shop', '-n', NS]);
    expect(refused.status.phase).toBe('Auditing');
    expect(refused.status.conditions.find((c: { type: string }) => c.type === 'Enforced')).toMatchObject({ status: 'False', reason: 'PromotionRefused' });
  }, 60_000);

  it('enforces exactly the approved policies once the audit budget allows it', async () => {
    await kubectlOk(['patch', 'segmentation', 'shop', '-n', NS, '--type=merge', '-p', '{"spec":{"promotion":{"allowedWouldDeny":5}}}'], admin());
    await eventually('Enforcing', async () => (await getJson(['segmentation', 'shop', '-n', NS])).status?.phase === 'Enforcing');
    const offline = await offlinePolicies(join(EXAMPLE, 'flows.hubble.jsonl'));
    const live = await eventually('the policies', async () => {
      const l = await livePolicies();
      return l.size === offline.size ? l : undefined;
    });
    for (const [name, yaml] of offline) expect(live.get(name), name).toEqual(comparable(load(yaml) as PolicyObject));
    // Prometheus metrics of the leader reflect it.
    const port = /"port":(\d+),"identity":"op-1","msg":"operator starting"/.exec(operators.logs.get('op-1')!.join(''))?.[1];
    const metrics = await eventually('policies applied metric', async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return text.includes(`hivewall_policies_applied{namespace="shop",flavor="NetworkPolicy"} ${offline.size}`) ? text : undefined;
    }, 15_000);
    expect(metrics).toMatch(/hivewall_graph_edges\{namespace="shop"\} \d+/);
    expect(metrics).toMatch(/hivewall_would_deny_flows_total\{namespace="shop"\} [1-9]/);
    // Proposals by their own phase (the one enforced; earlier revisions superseded), not Segmentations.
    // The gauge counts every Segmentation's proposals, and other test files share this cluster (their
    // Segmentations may hold Enforced proposals too): shop's one Enforced proposal must be among them.
    const enforcedProposals = await eventually('proposal phase metric', async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const items = (await getJson(['policyproposals', '-n', NS])).items as { status?: { phase?: string } }[];
      const shopEnforced = items.filter((p) => p.status?.phase === 'Enforced').length;
      return shopEnforced === 1 && /hivewall_proposals\{phase="Enforced"\} [1-9]\d*\n/.test(text) ? text : undefined;
    }, 15_000);
    expect(enforcedProposals).not.toMatch(/hivewall_proposals\{phase="Enforcing"\}/);
    const np = await getJson(['networkpolicy', 'hivewall-cart', '-n', NS, '--show-managed-fields']);
    expect(np.metadata.managedFields.some((f: { manager: string; operation: string }) => f.manager === 'hivewall' && f.operation === 'Apply')).toBe(true);
    expect(np.metadata.ownerReferences[0]).toMatchObject({ kind: 'Segmentation', name: 'shop' });
  }, 60_000);

  it('reverts drift within seconds, and an idle reconcile writes nothing', async () => {
    await kubectlOk(['delete', 'networkpolicy', 'hivewall-cart', '-n', NS], admin());
    await kubectlOk(['patch', 'networkpolicy', 'hivewall-frontend', '-n', NS, '--type=merge', '-p', '{"spec":{"ingress":[{}]}}'], admin());
    await eventually('drift reverted', async () => {
      const live = await livePolicies();
      const frontend = await getJson(['networkpolicy', 'hivewall-frontend', '-n', NS]);
      return live.has('hivewall-cart') && JSON.stringify(frontend.spec.ingress) !== '[{}]';
    }, 15_000);
    await new Promise((r) => setTimeout(r, 2500));
    const versions = async () => {
      const all = await Promise.all([
        getJson(['segmentation', 'shop', '-n', NS]),
        getJson(['trafficprofile', 'shop', '-n', NS]),
        getJson(['networkpolicies', '-n', NS]),
        getJson(['policyproposals', '-n', NS]),
      ]);
      return JSON.stringify(all.map((o) => (o.items ? o.items.map((i: { metadata: { name: string; resourceVersion: string } }) => `${i.metadata.name}@${i.metadata.resourceVersion}`) : o.metadata.resourceVersion)));
    };
    const first = await versions();
    await new Promise((r) => setTimeout(r, 5000)); // five resyncs
    expect(await versions()).toBe(first);
  }, 60_000);

  it('a second replica takes over leadership within a lease period', async () => {
    startOperator('op-2');
    await new Promise((r) => setTimeout(r, 2000));
    const lease = await getJson(['lease', 'hivewall-operator', '-n', 'hivewall-system']);
    expect(lease.spec.holderIdentity).toBe('op-1');
    await stopOperator('op-1', 'SIGKILL');
    await eventually('op-2 leads', async () => (await getJson(['lease', 'hivewall-operator', '-n', 'hivewall-system'])).spec.holderIdentity === 'op-2', 15_000);
    await kubectlOk(['delete', 'networkpolicy', 'hivewall-cart', '-n', NS], admin());
    await eventually('op-2 reverts drift', async () => (await livePolicies()).has('hivewall-cart'), 15_000);
  }, 60_000);

  it('rollback to Learn removes only hivewall policies; deleting the Segmentation cleans up', async () => {
    await kubectlOk(['patch', 'segmentation', 'shop', '-n', NS, '--type=merge', '-p', '{"spec":{"mode":"Learn"}}'], admin());
    await eventually('hivewall policies removed', async () => (await livePolicies()).size === 0);
    const remaining = await getJson(['networkpolicies', '-n', NS]);
    expect(remaining.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['team-allow-metrics']);
    await kubectlOk(['delete', 'segmentation', 'shop', '-n', NS, '--wait=true', '--timeout=20s'], admin());
    expect((await kubectl(['get', 'segmentation', 'shop', '-n', NS], admin())).code).not.toBe(0);
    // The leader (op-2 now) drops the namespace's metric series once it has no Segmentation left.
    const port = /"port":(\d+),"identity":"op-2","msg":"operator starting"/.exec(operators.logs.get('op-2')!.join(''))?.[1];
    await eventually('shop\'s series removed', async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return text.includes('hivewall_proposals') && !text.includes(`namespace="${NS}"`);
    }, 15_000);
  }, 60_000);

  it('an invalid Segmentation gets a condition and an Event, and the operator keeps running', async () => {
    await kubectlOk(['create', 'namespace', 'broken'], admin()).catch(() => undefined);
    // Valid for the CRD schema but not for hivewall: a selector operator the CRD enum cannot express is caught by zod.
    await writeFile(join(work, 'bad.yaml'), `apiVersion: hivewall.dev/v1alpha1\nkind: Segmentation\nmetadata: {name: bad, namespace: broken}\nspec:\n  workloads:\n    selector:\n      matchExpressions: [{key: app, operator: In}]\n`);
    const applied = await kubectl(['apply', '-f', join(work, 'bad.yaml')], admin());
    if (applied.code !== 0) return; // the CRD itself rejected it: equally fine for users
    await eventually('Invalid phase', async () => (await getJson(['segmentation', 'bad', '-n', 'broken'])).status?.phase === 'Invalid');
    const events = await getJson(['events', '-n', 'broken', '--field-selector', 'reason=InvalidSpec']);
    expect(events.items.length).toBeGreaterThan(0);
    expect(operators.processes.get('op-2')?.exitCode).toBeNull();
  }, 60_000);
});
