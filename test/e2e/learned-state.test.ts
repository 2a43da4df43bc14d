/**
 * Learned state survives deletions, crashes and outages, end to end: a `hivewall operator` process
 * (its own ServiceAccount, the deploy/ RBAC) follows a Hubble export file whose connections are
 * known exactly. A TrafficProfile deleted by hand is written again from memory within seconds; a
 * checkpoint ConfigMap deleted while the operator is down is rebuilt from the profiles' `covers`,
 * so the restarted operator does not read the file again. Then the window between a pass's
 * profile writes and its checkpoint write is held open (a ValidatingAdmissionPolicy refuses the
 * checkpoint write, as a crash at that instant would leave it): the operator is SIGKILLed inside
 * it, and later the kube-apiserver itself is SIGKILLed inside it for 20 s. Every time, every edge
 * count equals the connections in the file: nothing lost, nothing counted twice.
 */
import { appendFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveredTcpLine, type PodEnd } from '../../src/testing/hubble-lines.js';
import { killApiServer } from '../harness/cluster.js';
import { adminKubeconfigPath, cluster, createNamespace, kubectl, kubectlOk, serviceAccountIdentity, type TestNamespace } from '../harness/index.js';
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
  // Another test file's operator stored its own lineage of learned state: its checkpoint points into
  // its own file, and its TrafficProfiles carry its own pass numbers (a cluster runs one operator).
  await kubectl(['delete', 'configmap', CHECKPOINT, '-n', 'hivewall-system', '--ignore-not-found'], admin());
  await kubectl(['delete', 'trafficprofiles', '--all', '--all-namespaces', '--wait=false'], admin());
  const sa = await serviceAccountIdentity('hivewall-system', 'hivewall-operator');
  operators = new OperatorProcesses(sa.kubeconfigPath, flowFile);
  ns = await createNamespace('learned-state');
}, 120_000);

/** Set while this file's test has the API server down: afterAll brings it back whatever happened. */
let restartApiServer: (() => Promise<void>) | undefined;

afterAll(async () => {
  await operators.stopAll();
  if (restartApiServer) await restartApiServer();
  await releaseCheckpoint();
  await ns.delete();
}, 180_000);

const HOLD = 'hivewall-test-hold-checkpoint';
/** Refuses every write of the checkpoint ConfigMap: each pass then stops after its profile writes. */
async function holdCheckpoint(): Promise<void> {
  await writeFile(join(work, 'hold.yaml'), `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: ${HOLD}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [configmaps]}
  validations:
    - expression: "object.metadata.name != '${CHECKPOINT}'"
      message: the test holds the checkpoint back
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: ${HOLD}}
spec:
  policyName: ${HOLD}
  validationActions: [Deny]
`);
  await kubectlOk(['apply', '-f', join(work, 'hold.yaml')], admin());
  await eventually('checkpoint writes refused', async () => !(await checkpointWritable()));
}

async function releaseCheckpoint(): Promise<void> {
  await kubectl(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', HOLD, '--ignore-not-found'], admin());
  await eventually('checkpoint writes allowed again', checkpointWritable);
}

/** Whether the API server admits a write of the checkpoint (a server-side dry run, nothing stored). */
async function checkpointWritable(): Promise<boolean> {
  const result = await kubectl(['label', 'configmap', CHECKPOINT, '-n', 'hivewall-system', 'hivewall.dev/probe=1', '--overwrite', '--dry-run=server'], admin());
  return result.code === 0;
}

/** The pass the checkpoint holds, and the pass of the namespace's profile. */
async function passes(): Promise<{ checkpoint: number; profile: number }> {
  const cm = await getJson(['configmap', CHECKPOINT, '-n', 'hivewall-system']);
  const tp = await getJson(['trafficprofile', 'seg', '-n', ns.name]);
  return { checkpoint: Number((cm.data as Json)['pass.json']), profile: Number(tp.spec.covers.pass) };
}

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

  it('operator SIGKILL between a pass\'s profile writes and its checkpoint: the restart rolls the profile back and counts the input once', async () => {
    await holdCheckpoint();
    await appendFile(flowFile, `${connections(5, Date.now()).join('\n')}\n`);
    await eventually('20 connections per edge in the profile', () => countsEqual(20));
    // The profile is of a pass the checkpoint does not hold: the window is open.
    const open = await passes();
    expect(open.profile).toBeGreaterThan(open.checkpoint);
    await operators.stop('ls-2', 'SIGKILL');
    await releaseCheckpoint();

    operators.start('ls-3');
    await appendFile(flowFile, `${connections(5, Date.now()).join('\n')}\n`);
    await eventually('25 connections per edge', () => countsEqual(25));
    await new Promise((r) => setTimeout(r, 3000));
    // Counting the held-back pass again would show 30.
    expect(await countsEqual(25)).toBe(true);
    await eventually('the checkpoint committed again', async () => {
      const p = await passes();
      return p.checkpoint >= p.profile;
    });
  });

  it('kube-apiserver SIGKILL for 20 s between a pass\'s profile writes and its checkpoint: nothing lost, nothing counted twice', async ({ skip }) => {
    if (cluster().external || cluster().dir === undefined) skip('the API server of an external cluster cannot be killed here');
    await holdCheckpoint();
    await appendFile(flowFile, `${connections(5, Date.now()).join('\n')}\n`);
    await eventually('30 connections per edge in the profile', () => countsEqual(30));
    const open = await passes();
    expect(open.profile).toBeGreaterThan(open.checkpoint);

    restartApiServer = await killApiServer(cluster().dir!);
    // Traffic goes on during the outage; the leader cannot renew its 4 s Lease and steps down.
    await appendFile(flowFile, `${connections(5, Date.now()).join('\n')}\n`);
    await new Promise((r) => setTimeout(r, 20_000));
    await restartApiServer();
    restartApiServer = undefined;
    await releaseCheckpoint();
    // A Deployment would restart an operator that exited; so does the test.
    const leader = operators.processes.get('ls-3');
    if (!leader || leader.exitCode !== null || leader.signalCode !== null) operators.start('ls-4');

    await eventually('35 connections per edge', () => countsEqual(35), 60_000);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await countsEqual(35)).toBe(true);
    await eventually('the checkpoint committed again', async () => {
      const p = await passes();
      return p.checkpoint >= p.profile;
    });
  }, 150_000);

  it('a TrafficProfile deleted while the operator is down: no start from empty — LearnedStateLost and an Event until traffic shows the edges again', async () => {
    for (const id of [...operators.processes.keys()]) await operators.stop(id, 'SIGTERM');
    const before = await getJson(['segmentation', 'seg', '-n', ns.name]);
    expect(before.status.learning.edges).toBe(3);
    await kubectlOk(['delete', 'trafficprofile', 'seg', '-n', ns.name], admin());

    operators.start('ls-5');
    const lost = await eventually('EdgesComplete=False LearnedStateLost', async () => {
      const seg = await getJson(['segmentation', 'seg', '-n', ns.name]);
      const condition = (seg.status?.conditions as Json[] | undefined)?.find((c) => c.type === 'EdgesComplete');
      return condition?.status === 'False' && condition.reason === 'LearnedStateLost' ? condition : undefined;
    });
    expect(lost.message).toContain('3 edges learned before are missing');
    await eventually('a LearnedStateLost Warning Event', async () => {
      const events = await getJson(['events', '-n', ns.name, '--field-selector', 'reason=LearnedStateLost']);
      return (events.items as Json[]).some((e) => e.type === 'Warning' && e.involvedObject.name === 'seg');
    });
    // The status still shows what was learned; it is not reset to the empty graph.
    expect((await getJson(['segmentation', 'seg', '-n', ns.name])).status.learning.edges).toBe(3);

    await appendFile(flowFile, `${connections(1, Date.now()).join('\n')}\n`);
    await eventually('EdgesComplete=True once the edges are seen again', async () => {
      const seg = await getJson(['segmentation', 'seg', '-n', ns.name]);
      return (seg.status?.conditions as Json[] | undefined)?.some((c) => c.type === 'EdgesComplete' && c.status === 'True');
    });
  });
});
