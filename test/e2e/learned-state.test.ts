/**
 * Learned state survives deletions, end to end: a `hivewall operator` process (its own
 * ServiceAccount, the deploy/ RBAC) follows a Hubble export file whose connections are known
 * exactly. A TrafficProfile deleted by hand is written again from memory within seconds; a
 * checkpoint ConfigMap deleted while the operator is down is rebuilt from the profiles' `covers`,
 * so the restarted operator does not read the file again: every edge count equals the connections
 * in the file, before and after.
 */
import { appendFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveredTcpLine, type PodEnd } from '../../src/testing/hubble-lines.js';
import { adminKubeconfigPath, createNamespace, kubectl, kubectlOk, serviceAccountIdentity, type TestNamespace } from '../harness/index.js';
import { eventually as eventuallyIn, getJson, OperatorProcesses, ROOT, type Json } from './operator-process.js';

const admin = () => ({ kubeconfig: adminKubeconfigPath() });
const CHECKPOINT = 'hivewall-flow-checkpoint';

let ns: TestNamespace;
let work: string;
let flowFile: string;
let operators: OperatorProcesses;
const eventually = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000) => eventuallyIn(what, fn, timeoutMs, operators);

const pod = (app: string, ip: string): PodEnd => ({ namespace: ns.name, deployment: app, pod: `${app}-6b8f9c7d5e-q7x2k`, ip, labels: { app } });
let sourcePort = 30000;
/** `n` connections on each of web → api:8080, web → db:5432, api → db:5432. */
function connections(n: number, time: number): string[] {
  const [web, api, db] = [pod('web', '10.9.0.1'), pod('api', '10.9.0.2'), pod('db', '10.9.0.3')];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(deliveredTcpLine(web, api, 8080, time + i, sourcePort++));
    out.push(deliveredTcpLine(web, db, 5432, time + i, sourcePort++));
    out.push(deliveredTcpLine(api, db, 5432, time + i, sourcePort++));
  }
  return out;
}

/** The profile's edge counts as `client server port` → count. */
async function profileCounts(): Promise<Map<string, number> | undefined> {
  const tp = await getJson(['trafficprofile', 'seg', '-n', ns.name]).catch(() => undefined);
  if (!tp) return undefined;
  const peers = tp.spec.peers as string[];
  return new Map((tp.spec.edges as number[][]).map(([c, s, port, , count]) => [`${peers[c!]} ${peers[s!]} ${port}`, count!]));
}

const expected = (n: number) => new Map([
  [`wl:${ns.name}/Deployment/web wl:${ns.name}/Deployment/api 8080`, n],
  [`wl:${ns.name}/Deployment/web wl:${ns.name}/Deployment/db 5432`, n],
  [`wl:${ns.name}/Deployment/api wl:${ns.name}/Deployment/db 5432`, n],
]);

async function countsEqual(n: number): Promise<true | undefined> {
  const counts = await profileCounts();
  return counts && JSON.stringify([...counts].sort()) === JSON.stringify([...expected(n)].sort()) ? true : undefined;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hivewall-learned-state-'));
  flowFile = join(work, 'hubble.log');
  await kubectlOk(['apply', '-k', join(ROOT, 'deploy')], admin());
  // Another test file's checkpoint would point into its own file.
  await kubectl(['delete', 'configmap', CHECKPOINT, '-n', 'hivewall-system', '--ignore-not-found'], admin());
  const sa = await serviceAccountIdentity('hivewall-system', 'hivewall-operator');
  operators = new OperatorProcesses(sa.kubeconfigPath, flowFile);
  ns = await createNamespace('learned-state');
}, 120_000);

afterAll(async () => {
  await operators.stopAll();
  await ns.delete();
});

describe('learned state under deletions', () => {
  it('a TrafficProfile deleted by hand is written again from memory, with the same counts', async () => {
    await writeFile(flowFile, `${connections(10, Date.now()).join('\n')}\n`);
    operators.start('ls-1');
    await writeFile(join(work, 'seg.yaml'), `apiVersion: hivewall.dev/v1alpha1\nkind: Segmentation\nmetadata: {name: seg, namespace: ${ns.name}}\nspec:\n  learning: {window: 1h, stableFor: 1h}\n`);
    await kubectlOk(['apply', '-f', join(work, 'seg.yaml')], admin());
    await eventually('the profile with 10 connections per edge', () => countsEqual(10));
    const before = (await getJson(['trafficprofile', 'seg', '-n', ns.name])).metadata as Json;

    await kubectlOk(['delete', 'trafficprofile', 'seg', '-n', ns.name], admin());
    await eventually('the profile written again', async () => {
      const tp = await getJson(['trafficprofile', 'seg', '-n', ns.name]).catch(() => undefined);
      return tp && tp.metadata.uid !== before.uid ? tp : undefined;
    }, 15_000);
    expect(await countsEqual(10)).toBe(true);
  });

  it('a checkpoint deleted while the operator is down is rebuilt from the profiles: the file is not counted again', async () => {
    await operators.stop('ls-1', 'SIGTERM');
    const checkpoint = await getJson(['configmap', CHECKPOINT, '-n', 'hivewall-system']);
    expect(Object.keys(checkpoint.data as Json)).toContain('pass.json');
    await kubectlOk(['delete', 'configmap', CHECKPOINT, '-n', 'hivewall-system'], admin());

    operators.start('ls-2');
    await appendFile(flowFile, `${connections(5, Date.now()).join('\n')}\n`);
    await eventually('15 connections per edge', () => countsEqual(15));
    // Nothing more arrives later (a re-read would show up as 25).
    await new Promise((r) => setTimeout(r, 3000));
    expect(await countsEqual(15)).toBe(true);
    const rebuilt = await getJson(['configmap', CHECKPOINT, '-n', 'hivewall-system']);
    expect(Object.keys(rebuilt.data as Json)).toEqual(expect.arrayContaining(['checkpoint.json', 'pass.json']));
  });
});
