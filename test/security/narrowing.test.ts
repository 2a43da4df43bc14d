/**
 * A proposal never silently narrows, on the real API server: the Segmentation reconcile (the
 * operator's own function, with its own Kube client) runs against a learner that lost edges of the
 * newest revision (as after a TrafficProfile was deleted and the operator restarted); no narrower
 * revision is written, the Segmentation says which edges are missing and why, and an Event is
 * recorded. A graph that only comes back to an earlier revision's content proposes nothing either.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { reconcileSegmentation, type ReconcileContext } from '../../src/controllers/segmentation/reconciler.js';
import { IdentityResolver } from '../../src/domain/identity.js';
import { emptyInventory } from '../../src/domain/inventory.js';
import { Learner } from '../../src/domain/learner.js';
import { parseHubbleLine } from '../../src/ingest/hubble/parse.js';
import { Kube } from '../../src/k8s/kube.js';
import { ClusterCache } from '../../src/operator/cluster-cache.js';
import { adminKubeConfig, adminKubeconfigPath, kubectlOk, testNamespace, writeTempManifest } from '../harness/index.js';
import { connection, type Pod } from './flows.js';

const kc = () => ({ kubeconfig: adminKubeconfigPath() });
const log = pino({ level: 'silent' });

function pods(ns: string): Record<'web' | 'api' | 'db' | 'cache', Pod> {
  return {
    web: { ip: '10.244.1.21', ns, pod: 'web-5f6b7c8d9e-abcde', app: 'web' },
    api: { ip: '10.244.1.22', ns, pod: 'api-5f6b7c8d9e-abcde', app: 'api' },
    db: { ip: '10.244.1.23', ns, pod: 'db-0', app: 'db', workload: { kind: 'StatefulSet', name: 'db' } },
    cache: { ip: '10.244.1.24', ns, pod: 'cache-5f6b7c8d9e-abcde', app: 'cache' },
  };
}

/** A learner that saw exactly these connections (Hubble lines, parsed as the operator parses them). */
function learnerOf(lines: readonly string[]): Learner {
  const learner = new Learner(new IdentityResolver(emptyInventory));
  for (const line of lines) learner.ingest(parseHubbleLine(line));
  learner.finish();
  return learner;
}

function context(learner: Learner): ReconcileContext {
  return {
    kube: new Kube(adminKubeConfig()),
    learner,
    cluster: new ClusterCache({ kubeConfig: adminKubeConfig(), logger: log }),
    audits: new Map(),
    log,
    now: () => Date.now(),
    sourceError: () => undefined,
  };
}

async function getJson(args: string[]): Promise<Record<string, unknown>> {
  return JSON.parse(await kubectlOk([...args, '-o', 'json'], kc())) as Record<string, unknown>;
}

async function proposals(ns: string): Promise<{ name: string; digest: string; revision: number }[]> {
  const list = await getJson(['get', 'policyproposals', '-n', ns]);
  return (list.items as { metadata: { name: string }; spec: { content: { digest: string; revision: number } } }[])
    .map((p) => ({ name: p.metadata.name, digest: p.spec.content.digest, revision: p.spec.content.revision }))
    .sort((a, b) => a.revision - b.revision);
}

async function segmentation(ns: string, spec: string): Promise<void> {
  await kubectlOk(['apply', '-f', await writeTempManifest(`apiVersion: hivewall.dev/v1alpha1
kind: Segmentation
metadata: {name: seg, namespace: ${ns}}
spec:
  learning: {window: 0s, stableFor: 0s}
${spec}`)], kc());
}

describe('no narrower revision on the real API server', () => {
  it('lost edges block a narrower revision with a condition and an Event; they return, a wider one is proposed', async () => {
    const { name: ns } = await testNamespace('narrow');
    const p = pods(ns);
    await segmentation(ns, '');
    const full = [connection(p.web, p.api, 8080), connection(p.web, p.db, 5432), connection(p.api, p.db, 5432)];
    await reconcileSegmentation(context(learnerOf(full)), ns, 'seg');
    expect((await proposals(ns)).map((x) => x.name)).toEqual(['seg-r1']);

    // State lost: the learner knows only one of r1's three edges.
    const narrower = context(learnerOf([connection(p.web, p.api, 8080)]));
    await reconcileSegmentation(narrower, ns, 'seg');
    await reconcileSegmentation(narrower, ns, 'seg');
    expect((await proposals(ns)).map((x) => x.name)).toEqual(['seg-r1']);
    const status = (await getJson(['get', 'segmentation', 'seg', '-n', ns])).status as { conditions: { type: string; status: string; reason: string; message: string }[] };
    const edgesComplete = status.conditions.find((c) => c.type === 'EdgesComplete');
    expect(edgesComplete).toMatchObject({ status: 'False', reason: 'LearnedStateLost' });
    expect(edgesComplete!.message).toContain(`${ns}/Deployment/web -> ${ns}/StatefulSet/db 5432/TCP`);
    expect(edgesComplete!.message).toContain(`${ns}/Deployment/api -> ${ns}/StatefulSet/db 5432/TCP`);
    expect(edgesComplete!.message).toContain('learned state was lost');
    const events = (await getJson(['get', 'events', '-n', ns, '--field-selector', 'reason=NarrowerProposalRefused'])).items as { type: string; message: string; count?: number }[];
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'Warning', message: edgesComplete!.message });

    // The edges are seen again, plus a new one: a wider revision, and the condition clears.
    await reconcileSegmentation(context(learnerOf([...full, connection(p.web, p.cache, 6379)])), ns, 'seg');
    expect((await proposals(ns)).map((x) => x.name)).toEqual(['seg-r1', 'seg-r2']);
    const after = (await getJson(['get', 'segmentation', 'seg', '-n', ns])).status as { conditions: { type: string; status: string }[] };
    expect(after.conditions.find((c) => c.type === 'EdgesComplete')).toMatchObject({ status: 'True' });
  });

  it('edges held without connections (a restart rolled back a pass it reads again) block a narrower revision too', async () => {
    const { name: ns } = await testNamespace('narrow');
    const p = pods(ns);
    await segmentation(ns, '');
    const full = [connection(p.web, p.api, 8080), connection(p.web, p.db, 5432)];
    await reconcileSegmentation(context(learnerOf(full)), ns, 'seg');
    expect((await proposals(ns)).map((x) => x.name)).toEqual(['seg-r1']);

    // The edge web -> db is still in the graph but with no connection counted (below minFlowsPerEdge).
    const rolledBack = learnerOf([connection(p.web, p.api, 8080)]);
    const [db] = learnerOf([connection(p.web, p.db, 5432)]).edges.edgesOf(ns);
    rolledBack.edges.restore(db!.client, db!.server, db!.port, db!.protocol, 0, db!.firstSeen, db!.firstSeen);
    expect(rolledBack.edges.edgesOf(ns)).toHaveLength(2);
    await reconcileSegmentation(context(rolledBack), ns, 'seg');
    expect((await proposals(ns)).map((x) => x.name)).toEqual(['seg-r1']);
    const status = (await getJson(['get', 'segmentation', 'seg', '-n', ns])).status as { conditions: { type: string; status: string; reason: string; message: string }[] };
    expect(status.conditions.find((c) => c.type === 'EdgesComplete')).toMatchObject({ status: 'False', reason: 'LearnedStateLost' });
  });

  it('a spec change may narrow on purpose: raising minFlowsPerEdge proposes the revision without the rarer edge', async () => {
    const { name: ns } = await testNamespace('narrow');
    const p = pods(ns);
    const learner = learnerOf([connection(p.web, p.api, 8080), connection(p.web, p.db, 5432), connection(p.web, p.db, 5432)]);
    expect(learner.edges.edgesOf(ns).map((e) => [e.port, e.count]).sort()).toEqual([[5432, 2], [8080, 1]]);
    const ctx = context(learner);
    await segmentation(ns, '');
    await reconcileSegmentation(ctx, ns, 'seg');
    await kubectlOk(['patch', 'segmentation', 'seg', '-n', ns, '--type', 'merge', '-p', '{"spec":{"learning":{"minFlowsPerEdge":2}}}'], kc());
    await reconcileSegmentation(ctx, ns, 'seg');
    expect((await proposals(ns)).map((x) => x.name)).toEqual(['seg-r1', 'seg-r2']);
  });

  it('a graph whose proposal equals an earlier revision proposes nothing', async () => {
    const { name: ns } = await testNamespace('narrow');
    const p = pods(ns);
    const ctx = context(learnerOf([connection(p.web, p.api, 8080), connection(p.web, p.db, 5432)]));
    await segmentation(ns, '');
    await reconcileSegmentation(ctx, ns, 'seg');
    // A spec change makes different objects from the same edges (r2) ...
    await segmentation(ns, '  workloads: {exclude: [{kind: StatefulSet, name: db}]}');
    await reconcileSegmentation(ctx, ns, 'seg');
    // ... and changing it back would propose r1's objects again: no r3.
    await segmentation(ns, '');
    await reconcileSegmentation(ctx, ns, 'seg');
    const list = await proposals(ns);
    expect(list.map((x) => x.name)).toEqual(['seg-r1', 'seg-r2']);
    expect(new Set(list.map((x) => x.digest)).size).toBe(2);
  });
});
