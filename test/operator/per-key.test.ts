// The per-key contract of the operator core, on the real API server: with 200 namespaces, each
// with a Segmentation and learned edges, one new edge in one namespace reconciles that namespace
// only, and every API request that follows names that namespace (or the operator's own, for the
// checkpoint); one new pod in another namespace reconciles that namespace only. Counted per key: reconciles (the controller's report hook) and API requests (a
// Kube that records the namespace of every call).
import { appendFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { Kube } from '../../src/k8s/kube.js';
import { runLeaderWork } from '../../src/operator/operator.js';
import { captureLogger } from '../../src/runtime/testing.js';
import { deliveredTcpLine, type PodEnd } from '../../src/testing/hubble-lines.js';
import { adminKubeConfig, createNamespace, kubectl, type TestNamespace } from '../harness/index.js';

const N = 200;

/** A Kube that counts every request by the namespace it concerns. */
class CountingKube extends Kube {
  readonly byNamespace = new Map<string, number>();
  counting = false;
  private note(namespace: string | undefined): void {
    if (this.counting) this.byNamespace.set(namespace ?? '<cluster>', (this.byNamespace.get(namespace ?? '<cluster>') ?? 0) + 1);
  }
  override list<T extends KubernetesObject>(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<T[]> {
    this.note(namespace);
    return super.list<T>(apiVersion, kind, namespace, labelSelector);
  }
  override listRaw<T>(group: string, version: string, plural: string, namespace: string, labelSelector?: string): Promise<T[]> {
    this.note(namespace);
    return super.listRaw<T>(group, version, plural, namespace, labelSelector);
  }
  override get<T extends KubernetesObject>(apiVersion: string, kind: string, namespace: string, name: string): Promise<T | undefined> {
    this.note(namespace);
    return super.get<T>(apiVersion, kind, namespace, name);
  }
  override create<T extends KubernetesObject>(object: T): Promise<T> {
    this.note(object.metadata?.namespace);
    return super.create(object);
  }
  override apply<T extends KubernetesObject>(object: T): Promise<T> {
    this.note(object.metadata?.namespace);
    return super.apply(object);
  }
  override mergePatch<T extends KubernetesObject>(object: T, patch: Record<string, unknown>): Promise<T> {
    this.note(object.metadata?.namespace);
    return super.mergePatch(object, patch);
  }
  override delete(object: KubernetesObject): Promise<void> {
    this.note(object.metadata?.namespace);
    return super.delete(object);
  }
  override patchStatus(group: string, version: string, plural: string, namespace: string, name: string, status: unknown): Promise<void> {
    this.note(namespace);
    return super.patchStatus(group, version, plural, namespace, name, status);
  }
  override event(involved: KubernetesObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    this.note(involved.metadata?.namespace);
    return super.event(involved, type, reason, message);
  }
}

const pod = (namespace: string, app: string, i: number, ip: string): PodEnd => ({ namespace, deployment: app, pod: `${app}-7d4b9c8f6d-x${i}q2z`, ip, labels: { app } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe(`per-key reconcile at N=${N} namespaces`, () => {
  const namespaces: TestNamespace[] = [];
  afterAll(async () => {
    await Promise.all(namespaces.map((ns) => ns.delete().catch(() => undefined)));
  }, 300_000);

  it('one new edge, or one new pod, in one namespace reconciles that namespace only, and requests only its objects', async () => {
    const operatorNs = await createNamespace('pk-operator');
    namespaces.push(operatorNs);
    for (let i = 0; i < N; i += 20) namespaces.push(...await Promise.all(Array.from({ length: Math.min(20, N - i) }, () => createNamespace('pk'))));
    const tenants = namespaces.slice(1).map((n) => n.name);
    const work = await mkdtemp(join(tmpdir(), 'hivewall-per-key-'));
    const segs = tenants.map((ns) => `apiVersion: hivewall.dev/v1alpha1\nkind: Segmentation\nmetadata: {name: seg, namespace: ${ns}}\nspec:\n  learning: {window: 1h, stableFor: 1h}\n`).join('---\n');
    await writeFile(join(work, 'segs.yaml'), segs);
    const applied = await kubectl(['apply', '-f', join(work, 'segs.yaml')]);
    expect(applied.code, applied.stderr).toBe(0);

    // Every namespace: web → api:8080 (one edge each), so every Segmentation has learned state.
    const t0 = Date.now();
    const flows = join(work, 'flows.jsonl');
    await writeFile(flows, `${tenants.map((ns, i) => deliveredTcpLine(pod(ns, 'web', 1, `10.1.${i >> 8}.${(i & 255)}`), pod(ns, 'api', 1, `10.2.${i >> 8}.${i & 255}`), 8080, t0, 40000 + i)).join('\n')}\n`);

    const kube = new CountingKube(adminKubeConfig());
    const reconciles = new Map<string, number>();
    const log = captureLogger('warn');
    const abort = new AbortController();
    const config = parseConfig({ identity: 'per-key-test', namespace: operatorNs.name, flowsPath: flows, flowPollMs: 100, inventoryRefreshMs: 500, resyncMs: 600_000 });
    let ready = false;
    const running = runLeaderWork({
      config, kube, log: log.logger, signal: abort.signal,
      onReady: () => (ready = true),
      metrics: { onReport: (r) => reconciles.set(r.namespace, (reconciles.get(r.namespace) ?? 0) + 1) },
    });
    try {
      // Every Segmentation reconciled with its edge, and every profile stored.
      await waitFor('every Segmentation to show its edge', async () => {
        if (!ready) return undefined;
        const list = await kube.list<KubernetesObject & { status?: { learning?: { edges?: number } } }>('hivewall.dev/v1alpha1', 'Segmentation');
        const mine = list.filter((s) => tenants.includes(s.metadata?.namespace ?? ''));
        return mine.length === N && mine.every((s) => s.status?.learning?.edges === 1) ? true : undefined;
      }, 240_000);
      await waitFor('every TrafficProfile', async () => ((await kube.list('hivewall.dev/v1alpha1', 'TrafficProfile')).filter((p) => tenants.includes(p.metadata?.namespace ?? '')).length === N ? true : undefined), 60_000);
      // Quiet: nothing is reconciled without a change.
      await sleep(3000);
      const before = new Map(reconciles);
      await sleep(3000);
      // Other test files' leftovers in the shared API server (Segmentations whose namespace was
      // force-deleted) may be retried with backoff meanwhile: the contract is about these N.
      const ours = (ns: string) => tenants.includes(ns) || ns === operatorNs.name;
      expect([...reconciles].filter(([ns, n]) => ours(ns) && (before.get(ns) ?? 0) !== n)).toEqual([]);

      // One new edge in one namespace.
      const target = tenants[7]!;
      reconciles.clear();
      kube.byNamespace.clear();
      kube.counting = true;
      await appendFile(flows, `${deliveredTcpLine(pod(target, 'web', 1, '10.1.0.7'), pod(target, 'db', 1, '10.3.0.7'), 5432, t0 + 1000, 50000)}\n`);
      await waitFor('the new edge in the status', async () => {
        const seg = await kube.get<KubernetesObject & { status?: { learning?: { edges?: number } } }>('hivewall.dev/v1alpha1', 'Segmentation', target, 'seg');
        return seg?.status?.learning?.edges === 2 ? true : undefined;
      }, 30_000);
      await sleep(3000); // anything that would follow has time to happen
      kube.counting = false;

      expect([...reconciles.keys()].filter(ours)).toEqual([target]);
      expect(reconciles.get(target)).toBeLessThanOrEqual(3);
      const touched = [...kube.byNamespace.keys()].filter((ns) => ours(ns) || ns === '<cluster>' || ns.startsWith('pk-')).sort();
      expect(touched.every((ns) => ns === target || ns === operatorNs.name), JSON.stringify(Object.fromEntries(kube.byNamespace))).toBe(true);
      expect(kube.byNamespace.get(target)).toBeGreaterThan(0);

      // A pod created in another namespace (whose edges reach no other namespace): the inventory
      // refresh re-reads that namespace, and only its Segmentation is reconciled.
      const podTarget = tenants[11]!;
      reconciles.clear();
      await writeFile(join(work, 'pod.yaml'), `apiVersion: v1\nkind: Pod\nmetadata: {name: cache-0, namespace: ${podTarget}, labels: {app: cache}}\nspec:\n  containers: [{name: c, image: busybox}]\n`);
      const created = await kubectl(['apply', '-f', join(work, 'pod.yaml')]);
      expect(created.code, created.stderr).toBe(0);
      await waitFor('the pod\'s namespace to be reconciled', () => (reconciles.has(podTarget) ? true : undefined), 30_000);
      await sleep(3000);
      expect([...reconciles.keys()].filter(ours)).toEqual([podTarget]);
    } finally {
      abort.abort();
      await running.catch(() => undefined);
    }
  }, 600_000);
});
