/**
 * The operator's Hubble Observer flow source end to end: a separate `hivewall operator` process
 * (its ServiceAccount, deploy/ RBAC, the real API server with examples/shop's objects) streams
 * `GetFlows` from test/hubble-server — a Go server built from Cilium v1.20.2's own API packages —
 * serving examples/shop/flows.hubble.jsonl (the export file's lines are `GetFlowsResponse` in
 * protojson, which is exactly the server's scenario format). Proves:
 *
 * 1. flows in, edges out: the `shop` proposal equals `hivewall learn`'s policies for the same flows,
 *    the TrafficProfile equals `hivewall graph`'s edges and counts, and only the namespaces that
 *    have a Segmentation are requested (the server prints the request as it decoded it); the
 *    scenario's two lost_events notices surface as FlowsComplete=False/EventsLost, a FlowEventsLost
 *    Warning Event and `hivewall_flow_events_lost_total{source="hubble-grpc"}`;
 * 2. mid-stream disconnects (one right after a lost-events notice): resumed with `since`, every edge
 *    count equals offline learning's exactly and the notice is counted once;
 * 3. SIGKILL mid-stream (the feed held at a known line) and a new process: it resumes from the
 *    checkpoint ConfigMap's `since`; what it re-reads is asserted exactly (see the test);
 * 4. an unreachable relay: Degraded, still healthy, and flows arrive once the server is up on that
 *    port — a server that also sends malformed messages, which are skipped without ending the stream.
 *
 * One operator process at a time (identity `hubble-op`, its lease released by SIGTERM so the next
 * one leads at once); each test starts from an empty state: no Segmentation, TrafficProfile,
 * proposal or checkpoint. Needs `npm run build` (bin/ runs dist/) and Go for the server (skips
 * with the build's reason otherwise).
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { load } from 'js-yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main as hivewall } from '../../src/cli/main.js';
import { IdentityResolver } from '../../src/domain/identity.js';
import { Learner } from '../../src/domain/learner.js';
import { PROTOCOLS } from '../../src/domain/edge-store.js';
import { loadClusterSnapshot, type LoadedSnapshot } from '../../src/ingest/cluster-snapshot.js';
import { parseHubbleLine } from '../../src/ingest/hubble/parse.js';
import { buildHubbleServer, startHubbleServer, unusedPort, type HubbleServerBuild, type HubbleServerOptions, type RunningHubbleServer } from '../../src/ingest/hubble-grpc/test-support.js';
import { namespaceView } from '../../src/domain/learning-state.js';
import { adminKubeconfigPath, kubectl, kubectlOk, serviceAccountIdentity } from '../harness/index.js';
import { createSnapshot, loadSnapshotObjects } from './cluster-objects.js';
import { eventually as eventuallyIn, getJson, OperatorProcesses, ROOT, type Json } from './operator-process.js';

const EXAMPLE = join(ROOT, 'examples/shop');
const FLOWS = join(EXAMPLE, 'flows.hubble.jsonl');
const NS = 'shop';
const OPERATOR_NS = 'hivewall-system';
const CHECKPOINT = 'hivewall-flow-checkpoint';
const ID = 'hubble-op';
const admin = () => ({ kubeconfig: adminKubeconfigPath() });

/** `client server port/protocol` → connection count. */
type Edges = Map<string, number>;

// ------------------------------------------------------------------ the scenario, as the server sees it

interface Endpoint { readonly namespace?: string; readonly pod_name?: string }
interface Line {
  readonly text: string;
  readonly flow?: { readonly time: string; readonly source?: Endpoint; readonly destination?: Endpoint };
  readonly lost_events?: { readonly num_events_lost: string };
}

let lines: Line[] = [];

/** RFC 3339 UTC with up to 9 fractional digits → ns since the epoch. */
function nanos(time: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(time);
  if (!m) throw new Error(`not an RFC 3339 UTC time: ${time}`);
  return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** The server's whitelist semantics for `{source_pod: [ns/...]}, {destination_pod: [ns/...]}`. */
const accepted = (line: Line, scope: ReadonlySet<string>) =>
  line.flow === undefined || [line.flow.source, line.flow.destination].some((e) => e?.namespace !== undefined && e.namespace !== '' && scope.has(e.namespace));

/** Line indexes the server sends to a client with this scope, in order (non-flow events are never filtered). */
const sentLines = (scope: ReadonlySet<string>, from = 0, to = lines.length) =>
  [...Array(to - from).keys()].map((i) => i + from).filter((i) => accepted(lines[i]!, scope));

/** The ring position a `since` call starts at (Cilium's newRingReader, as main.go's startIndex). */
function resumeIndex(ringLength: number, since: bigint, scope: ReadonlySet<string>): number {
  for (let j = ringLength - 1; j >= 0; j--) {
    const l = lines[j]!;
    if (l.flow && accepted(l, scope) && nanos(l.flow.time) < since) return j + 1;
  }
  return 0;
}

const edgeKey = (e: { client: string; server: string; port: number; protocol: string }) => `${e.client} ${e.server} ${e.port}/${e.protocol}`;

/** Edges where a side differs, as `key: operator - offline` (missing = 0). */
function countDiff(actual: Edges, want: Edges): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...actual.keys(), ...want.keys()])) {
    const d = (actual.get(k) ?? 0) - (want.get(k) ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

const sameEdges = (a: Edges, b: Edges) => Object.keys(countDiff(a, b)).length === 0;

// ------------------------------------------------------------------ offline: `hivewall learn` / `hivewall graph`

const quietIo = (stdout = new PassThrough()) => {
  const stderr = new PassThrough();
  stderr.resume();
  return { stdout, stderr, stdin: Readable.from([]) };
};

/** `hivewall graph -o json`'s edges touching `shop` (what a TrafficProfile of `shop` holds). */
async function offlineEdges(flows: string): Promise<Edges> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  const code = await hivewall(['graph', '--flows', flows, '--cluster', join(EXAMPLE, 'cluster'), '-o', 'json', '-q'], quietIo(stdout));
  expect(code).toBe(0);
  const graph = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { edges: { client: string; server: string; port: number; protocol: string; count: number }[] };
  const shop = (k: string) => k.startsWith(`wl:${NS}/`);
  return new Map(graph.edges.filter((e) => shop(e.client) || shop(e.server)).map((e) => [edgeKey(e), e.count]));
}

/** The policies `hivewall learn --namespace shop` writes, by object name (as in operator.test.ts). */
async function offlinePolicies(flows: string): Promise<Map<string, string>> {
  const out = await mkdtemp(join(tmpdir(), 'hivewall-offline-'));
  try {
    const code = await hivewall(['learn', '--flows', flows, '--cluster', join(EXAMPLE, 'cluster'), '--namespace', NS, '--out', out, '-q'], quietIo());
    expect(code).toBe(0);
    const files = new Map<string, string>();
    for (const f of (await readdir(join(out, NS))).filter((f) => f !== 'kustomization.yaml')) files.set(f.replace(/\.yaml$/, ''), await readFile(join(out, NS, f), 'utf8'));
    return files;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

function canonical(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sort) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sort(value));
}

/** A Learner like `hivewall learn`'s, for replaying exactly what the server sent one process. */
const learner = (snapshot: LoadedSnapshot) => new Learner(new IdentityResolver(snapshot.inventory, { podCidrs: [], serviceCidrs: [] }));
const shopEdges = (l: Learner): Edges => new Map(namespaceView(l, NS).edges.map((e) => [edgeKey(e), e.count]));

// ------------------------------------------------------------------ cluster state

let work: string;
let build: HubbleServerBuild = { reason: 'not built yet' };
let operators: OperatorProcesses;
let offline: Edges;
let offlineLost: number;
const servers: RunningHubbleServer[] = [];
const eventually = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000) => eventuallyIn(what, fn, timeoutMs, operators);

async function server(options: HubbleServerOptions): Promise<RunningHubbleServer> {
  if (build.binary === undefined) throw new Error(build.reason);
  const running = await startHubbleServer(build.binary, options);
  servers.push(running);
  return running;
}

/** No Segmentation, profile, proposal, hivewall policy or checkpoint for `shop`; no operator running. */
async function resetShop(): Promise<void> {
  await operators.stopAll();
  // No garbage collector and no operator to remove the finalizer here: do both by hand.
  if ((await kubectl(['get', 'segmentation', 'shop', '-n', NS], admin())).code === 0) {
    await kubectlOk(['patch', 'segmentation', 'shop', '-n', NS, '--type=merge', '-p', '{"metadata":{"finalizers":null}}'], admin());
    await kubectlOk(['delete', 'segmentation', 'shop', '-n', NS, '--ignore-not-found', '--wait=true'], admin());
  }
  await kubectlOk(['delete', 'trafficprofiles,policyproposals', '--all', '-n', NS, '--ignore-not-found'], admin());
  await kubectlOk(['delete', 'networkpolicies', '-n', NS, '-l', 'app.kubernetes.io/managed-by=hivewall', '--ignore-not-found'], admin());
  await kubectlOk(['delete', 'configmap', CHECKPOINT, '-n', OPERATOR_NS, '--ignore-not-found'], admin());
  // Every TrafficProfile goes: an earlier test file's operator stored its own lineage of learned
  // state (its pass numbers, its flow source's positions), which this file's operator would restore
  // and rebuild its missing checkpoint from (a cluster runs one operator).
  await kubectlOk(['delete', 'trafficprofiles', '--all', '--all-namespaces', '--ignore-not-found'], admin());
}

/** A Learn-mode Segmentation for `shop`; returns the namespaces every Segmentation of the cluster is in (the operator's scope). */
async function createSegmentation(): Promise<Set<string>> {
  const file = join(work, 'seg.yaml');
  await writeFile(file, `apiVersion: hivewall.dev/v1alpha1\nkind: Segmentation\nmetadata: {name: shop, namespace: ${NS}}\nspec:\n  mode: Learn\n  learning: {window: 2s, stableFor: 1s}\n`);
  await kubectlOk(['apply', '-f', file], admin());
  const all = await getJson(['segmentations', '-A']);
  return new Set((all.items as Json[]).map((s) => s.metadata.namespace as string));
}

const whitelist = (scope: ReadonlySet<string>) => {
  const prefixes = [...scope].sort().map((ns) => `${ns}/`);
  return [{ source_pod: prefixes }, { destination_pod: prefixes }];
};

function startOperator(address: string): void {
  operators.start(ID, ['--hubble-address', address]);
}

/** The running operator's health/metrics port (it listens on a random one). */
async function healthPort(): Promise<number> {
  return eventually('the health port in the log', async () => {
    const m = new RegExp(`"port":(\\d+),"identity":"${ID}","msg":"operator starting"`).exec((operators.logs.get(ID) ?? []).join(''));
    return m ? Number(m[1]) : undefined;
  }, 15_000);
}

async function metric(port: number, series: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function profileEdges(): Promise<{ edges: Edges; spec: Json } | undefined> {
  const tp = await getJson(['trafficprofile', 'shop', '-n', NS]).catch(() => undefined);
  if (!tp) return undefined;
  const peers = tp.spec.peers as string[];
  const edges: Edges = new Map((tp.spec.edges as number[][]).map(([c, s, port, proto, count]) => [
    edgeKey({ client: peers[c!]!, server: peers[s!]!, port: port!, protocol: PROTOCOLS[proto!]! }), count!,
  ]));
  return { edges, spec: tp.spec as Json };
}

/** Waits until the TrafficProfile equals `want`; on timeout the error shows the difference. */
async function profileEquals(want: Edges, what: string, timeoutMs = 30_000): Promise<Json> {
  let last: Edges | undefined;
  try {
    return await eventually(what, async () => {
      const p = await profileEdges();
      last = p?.edges;
      return p && sameEdges(p.edges, want) ? p.spec : undefined;
    }, timeoutMs);
  } catch (error) {
    throw new Error(`${(error as Error).message}\nprofile - expected: ${JSON.stringify(last ? countDiff(last, want) : 'no profile')}`, { cause: error });
  }
}

const segmentation = () => getJson(['segmentation', 'shop', '-n', NS]);
const condition = (seg: Json, type: string): Json | undefined => (seg.status?.conditions as Json[] | undefined)?.find((c) => c.type === type);
const checkpointSince = async (): Promise<string | undefined> => {
  const cm = await getJson(['configmap', CHECKPOINT, '-n', OPERATOR_NS]).catch(() => undefined);
  const text = cm?.data?.['hubble.json'] as string | undefined;
  return text === undefined ? undefined : (JSON.parse(text) as { since: string }).since;
};

beforeAll(async () => {
  build = await buildHubbleServer();
  work = await mkdtemp(join(tmpdir(), 'hivewall-hubble-e2e-'));
  lines = (await readFile(FLOWS, 'utf8')).split('\n').filter((l) => l.trim() !== '').map((text) => ({ ...(JSON.parse(text) as Omit<Line, 'text'>), text }));
  await kubectlOk(['apply', '-k', join(ROOT, 'deploy')], admin());
  await createSnapshot(await loadSnapshotObjects(join(EXAMPLE, 'cluster', 'snapshot-end.yaml')));
  const sa = await serviceAccountIdentity(OPERATOR_NS, 'hivewall-operator');
  operators = new OperatorProcesses(sa.kubeconfigPath);
  await resetShop();
  offline = await offlineEdges(FLOWS);
  offlineLost = lines.reduce((n, l) => n + Number(l.lost_events?.num_events_lost ?? 0), 0);
}, 120_000);

afterEach(async () => {
  await operators?.stopAll();
  for (const s of servers.splice(0)) await s.stop();
});

afterAll(async () => {
  if (operators) await resetShop();
  // The last operator was SIGKILLed holding the Lease: free it for the next file's operators.
  await kubectl(['delete', 'lease', 'hivewall-operator', '-n', OPERATOR_NS, '--ignore-not-found'], admin());
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

describe('hivewall operator with a Hubble Observer (gRPC) flow source', () => {
  it('flows in, edges out: exactly offline learning\'s profile and proposal, only namespaces in scope requested, lost events surfaced', async ({ skip }) => {
    skip(build.binary === undefined, `Go Hubble test server unavailable: ${build.reason ?? ''}`);
    const [policies] = await Promise.all([offlinePolicies(FLOWS), resetShop()]);
    const scope = await createSegmentation();
    const hubble = await server({ scenario: FLOWS });
    startOperator(hubble.address);

    const spec = await profileEquals(offline, 'the TrafficProfile of every streamed flow');
    expect(spec.flows).toBe([...offline.values()].reduce((a, b) => a + b, 0));
    // One call, following, filtered server-side to the namespaces that have a Segmentation.
    expect(scope.has(NS) && !scope.has('payments')).toBe(true);
    expect(hubble.requests()).toEqual([{ follow: true, whitelist: whitelist(scope) }]);

    const pp = await eventually('a proposal equal to `hivewall learn`', async () => {
      const seg = await segmentation();
      if (!seg.status?.proposal?.name) return undefined;
      const p = await getJson(['policyproposal', seg.status.proposal.name, '-n', NS]);
      const proposed = new Map((p.spec.content.objects as Json[]).map((o) => [o.metadata.name as string, canonical(o)]));
      return proposed.size === policies.size && [...policies].every(([name, yaml]) => proposed.get(name) === canonical(load(yaml))) ? p : undefined;
    }, 20_000);
    expect(pp.spec.content.objects.length).toBe(policies.size);

    // Only in-scope flows reached the operator (the server filtered, the operator counted them).
    const port = await healthPort();
    const inScopeFlows = sentLines(scope).filter((i) => lines[i]!.flow !== undefined).length;
    expect(inScopeFlows).toBeLessThan(lines.filter((l) => l.flow).length);
    expect(await metric(port, 'hivewall_flows_ingested_total{source="hubble-grpc",result="read"}')).toBe(inScopeFlows);

    // The scenario's two lost_events notices (12 + 12, never filtered by Hubble).
    expect(offlineLost).toBe(24);
    expect(await metric(port, 'hivewall_flow_events_lost_total{source="hubble-grpc"}')).toBe(offlineLost);
    const seg = await eventually('FlowsComplete=False', async () => {
      const s = await segmentation();
      return condition(s, 'FlowsComplete')?.status === 'False' && s.status.learning?.lostEvents === offlineLost ? s : undefined;
    });
    expect(condition(seg, 'FlowsComplete')).toMatchObject({ status: 'False', reason: 'EventsLost' });
    expect(condition(seg, 'FlowsComplete')?.message).toMatch(/^24 flow events were reported lost by the flow source/);
    expect(spec.lostEvents).toBe(offlineLost);
    const events = await getJson(['events', '-n', NS, '--field-selector', `involvedObject.uid=${seg.metadata.uid as string},reason=FlowEventsLost`]);
    expect(events.items.length).toBeGreaterThanOrEqual(1);
    expect(events.items.every((e: Json) => e.type === 'Warning')).toBe(true);
    expect((events.items as Json[]).map((e) => e.message as string)).toContainEqual(expect.stringMatching(/flow events lost \(24 in total\): the learned graph may be incomplete$/));
    expect(condition(seg, 'Degraded')).toMatchObject({ status: 'False' });
  }, 60_000);

  it('resumes after mid-stream disconnects with `since`: every edge count equals offline learning\'s, the repeated lost-events notice counts once', async ({ skip }) => {
    skip(build.binary === undefined, `Go Hubble test server unavailable: ${build.reason ?? ''}`);
    await resetShop();
    const scope = await createSegmentation();
    const sent = sentLines(scope);
    // Call 1 ends right after the first lost-events notice; call 2 in the middle of the flows.
    const notice = sent.findIndex((i) => lines[i]!.lost_events !== undefined);
    const first = notice + 1;
    const second = 700;
    const hubble = await server({ scenario: FLOWS, disconnectAfter: [first, second] });
    startOperator(hubble.address);

    await profileEquals(offline, 'the TrafficProfile after two resumes');
    await hubble.waitFor((e) => e.event === 'request' && e['call'] === 3, 5000);
    expect(hubble.events.filter((e) => e.event === 'disconnect').map((e) => e['after'])).toEqual([first, second]);

    // Each resume asks from the newest flow delivered (ns precision), with the same whitelist.
    const lastFlow = (sentIdx: readonly number[]) => lines[sentIdx.filter((i) => lines[i]!.flow).at(-1)!]!.flow!.time;
    const since2 = lastFlow(sent.slice(0, first));
    const call2 = sentLines(scope, resumeIndex(lines.length, nanos(since2), scope)).slice(0, second);
    // Hubble's since is inclusive: call 2 starts with the flow at since2, then the notice again.
    expect(lines[call2[0]!]!.flow?.time).toBe(since2);
    expect(lines[call2[1]!]!.lost_events).toBeDefined();
    const since3 = lastFlow(call2);
    const requests = hubble.requests();
    expect(requests.map((r) => ({ ...r, since: r['since'] === undefined ? undefined : nanos(String(r['since'])) }))).toEqual([
      { follow: true, whitelist: whitelist(scope), since: undefined },
      { follow: true, whitelist: whitelist(scope), since: nanos(since2) },
      { follow: true, whitelist: whitelist(scope), since: nanos(since3) },
    ]);

    // Still exact a round later (nothing arrives twice late), and the notice sent twice counted once.
    await new Promise((r) => setTimeout(r, 1500));
    expect(countDiff((await profileEdges())!.edges, offline)).toEqual({});
    const port = await healthPort();
    expect(await metric(port, 'hivewall_flow_events_lost_total{source="hubble-grpc"}')).toBe(offlineLost);
    expect((await eventually('lostEvents in status', async () => {
      const s = await segmentation();
      return s.status?.learning?.lostEvents === offlineLost ? s : undefined;
    })).status.learning.lostEvents).toBe(offlineLost);
  }, 60_000);

  it('SIGKILL mid-stream, new process: resumes from the checkpoint\'s exact resume point; edges and counts equal offline learning\'s', async ({ skip }) => {
    skip(build.binary === undefined, `Go Hubble test server unavailable: ${build.reason ?? ''}`);
    await resetShop();
    const scope = await createSegmentation();
    const snapshot = await loadClusterSnapshot(join(EXAMPLE, 'cluster'));
    // The feed stops after line 2500 (between the two lost-events notices) until resumed.
    const held = 2500;
    const hubble = await server({ scenario: FLOWS, holdAfter: held });
    startOperator(hubble.address);
    await hubble.waitFor((e) => e.event === 'held', 15_000);

    // What the killed process has learned and stored: the in-scope messages of lines [0, held).
    const before = learner(snapshot);
    for (const i of sentLines(scope, 0, held)) before.ingest(parseHubbleLine(lines[i]!.text));
    const boundary = lines[sentLines(scope, 0, held).filter((i) => lines[i]!.flow).at(-1)!]!.flow!.time;
    await profileEquals(shopEdges(before), 'the profile of the first 2500 lines');
    await eventually('the checkpoint at the newest flow', async () => {
      const since = await checkpointSince();
      return since !== undefined && nanos(since) === nanos(boundary);
    }, 15_000);
    const stored = (await profileEdges())!.spec;
    expect(stored.lostEvents).toBe(12);

    await operators.stop(ID, 'SIGKILL');
    startOperator(hubble.address);
    const resumed = await hubble.waitFor((e) => e.event === 'request' && e['call'] === 2, 20_000);
    // The new process asks from the checkpoint's time to the nanosecond; the flows and the
    // lost-events notice the server repeats there were counted by the killed process and are dropped.
    const request = resumed['request'] as Json;
    expect({ ...request, since: nanos(String(request['since'])) }).toEqual({ follow: true, whitelist: whitelist(scope), since: nanos(boundary) });
    await profileEquals(shopEdges(before), 'the restored profile, nothing counted again');
    // The lost-events count continues from the stored profile: the graph is still known incomplete.
    const restored = await eventually('status of the new process', async () => {
      const s = await segmentation();
      return s.status?.learning?.lostEvents === 12 && condition(s, 'FlowsComplete')?.status === 'False' ? s : undefined;
    }, 10_000);
    expect(condition(restored, 'FlowsComplete')).toMatchObject({ status: 'False', reason: 'EventsLost' });

    hubble.resume();
    await hubble.waitFor((e) => e.event === 'fed', 15_000);
    const final = await profileEquals(offline, 'the profile of the whole scenario');
    const finalEdges = (await profileEdges())!.edges;
    // Edges and counts are offline learning's, exactly: nothing missing, nothing counted twice.
    expect([...finalEdges.keys()].sort()).toEqual([...offline.keys()].sort());
    expect(countDiff(finalEdges, offline)).toEqual({});
    expect(final.lostEvents).toBe(offlineLost);
    expect(offlineLost).toBe(24);
  }, 60_000);

  it('an unreachable relay degrades the Segmentation, the operator stays healthy, and flows arrive once the server is up; malformed messages are skipped', async ({ skip }) => {
    skip(build.binary === undefined, `Go Hubble test server unavailable: ${build.reason ?? ''}`);
    await resetShop();
    const scope = await createSegmentation();
    const port = await unusedPort();
    const address = `127.0.0.1:${port}`;
    startOperator(address);

    const degraded = await eventually('Degraded=True', async () => {
      const s = await segmentation();
      return condition(s, 'Degraded')?.status === 'True' ? s : undefined;
    }, 20_000);
    expect(condition(degraded, 'Degraded')).toMatchObject({ status: 'True', reason: 'FlowSourceError' });
    expect(condition(degraded, 'Degraded')?.message).toContain(`hubble-relay ${address}: `);
    expect(degraded.status.phase).toBe('Degraded');
    const health = await healthPort();
    expect((await fetch(`http://127.0.0.1:${health}/healthz`)).status).toBe(200);
    expect(operators.processes.get(ID)?.exitCode).toBeNull();

    // The server that comes up also sends malformed messages between the flows: a flow with a bad
    // IP, one with an unknown verdict number (both in scope) and two undecodable frames.
    const at = sentLines(scope).find((i) => i > 100 && lines[i]!.flow?.source?.namespace === NS)!;
    const template = JSON.parse(lines[at]!.text) as { flow: Json };
    const badIp = structuredClone(template);
    badIp.flow.uuid = 'e2e00000-0000-4000-8000-000000000001';
    badIp.flow.IP.source = 'not-an-ip';
    const badVerdict = structuredClone(template);
    badVerdict.flow.uuid = 'e2e00000-0000-4000-8000-000000000002';
    badVerdict.flow.verdict = 2147483647;
    const malformed = [JSON.stringify(badIp), JSON.stringify(badVerdict), '{"hivewall_test":{"raw_base64":"Cn8B"}}', '{"hivewall_test":{"raw_base64":"CAE="}}'];
    const scenario = join(work, 'with-malformed.jsonl');
    await writeFile(scenario, [...lines.slice(0, at + 1).map((l) => l.text), ...malformed, ...lines.slice(at + 1).map((l) => l.text)].join('\n') + '\n');
    const hubble = await server({ scenario, listen: address });

    await profileEquals(offline, 'the TrafficProfile once the relay is up', 45_000);
    const healed = await eventually('Degraded=False', async () => {
      const s = await segmentation();
      return condition(s, 'Degraded')?.status === 'False' ? s : undefined;
    }, 10_000);
    expect(healed.status.phase).not.toBe('Degraded');
    // The malformed messages were skipped and logged with their reasons; the stream never ended
    // (one GetFlows call) and the process is up.
    expect(hubble.requests()).toHaveLength(1);
    const skipped = (operators.logs.get(ID) ?? []).join('').split('\n').filter((l) => l.includes('"msg":"hubble message skipped"')).map((l) => JSON.parse(l) as Json);
    expect(skipped.map((l) => l.reason)).toEqual(['schema-mismatch', 'schema-mismatch', 'malformed', 'malformed']);
    expect(skipped[0]!.detail).toMatch(/not an IP address/);
    expect(skipped[1]!.detail).toMatch(/^flow\.verdict: /);
    expect(skipped[2]!.detail).toMatch(/^undecodable GetFlowsResponse: /);
    expect(operators.processes.get(ID)?.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${health}/healthz`)).status).toBe(200);
  }, 90_000);
});
