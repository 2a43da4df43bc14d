/**
 * HubbleObserverSource against a real, wire-compatible Hubble server: test/hubble-server, a Go
 * program built from Cilium's own published API packages (github.com/cilium/cilium/api/v1/observer
 * and /flow), started on 127.0.0.1 with a random port for each test. When the Go server cannot be
 * built here, these tests skip with the build's reason.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Socket } from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ParseResult } from '../../domain/flow.js';
import { parseHubbleLine } from '../hubble/parse.js';
import { Gate } from '../intake-gate.js';
import { HubbleObserverSource, systemClock, type HubbleClock, type HubbleObserverEvent, type HubbleObserverOptions } from './source.js';
import {
  buildHubbleServer,
  eventually,
  generateCerts,
  startHubbleServer,
  testdataDir,
  type HubbleServerBuild,
  type RunningHubbleServer,
} from './test-support.js';

const scenarioFile = path.join(testdataDir, 'scenario.jsonl');
const malformedFile = path.join(testdataDir, 'malformed.jsonl');
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
const scenario = lines(scenarioFile);
/** What the Hubble JSON parser makes of each scenario line: the gRPC path must give exactly this. */
const expected: ParseResult[] = scenario.map((line) => parseHubbleLine(line));

let build: HubbleServerBuild = { reason: 'not built yet' };
beforeAll(async () => {
  build = await buildHubbleServer();
}, 600_000);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Harness {
  readonly source: HubbleObserverSource;
  readonly results: ParseResult[];
  readonly events: HubbleObserverEvent[];
  readonly logs: { msg: string; [field: string]: unknown }[];
}

function observe(options: Omit<HubbleObserverOptions, 'sink' | 'logger'> & Partial<Pick<HubbleObserverOptions, 'sink'>>): Harness {
  const results: ParseResult[] = [];
  const events: HubbleObserverEvent[] = [];
  const logs: { msg: string; [field: string]: unknown }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as { msg: string }) });
  const source = new HubbleObserverSource({
    backoff: { initialMs: 10, maxMs: 100 },
    random: () => 0.5,
    sink: (r) => results.push(r),
    onEvent: (e) => events.push(e),
    logger,
    ...options,
  });
  cleanups.push(() => source.stop());
  return { source, results, events, logs };
}

async function server(options: Parameters<typeof startHubbleServer>[1]): Promise<RunningHubbleServer> {
  const binary = build.binary;
  if (binary === undefined) throw new Error(build.reason);
  const running = await startHubbleServer(binary, options);
  cleanups.push(() => running.stop());
  return running;
}

/** A clock whose timers run only when fired (time stands still otherwise). */
function manualClock(): HubbleClock & { pending(): number[]; fire(ms: number): void } {
  let now = 0;
  let next = 0;
  const timers = new Map<number, { at: number; callback: () => void }>();
  return {
    now: () => now,
    setTimeout: (callback, ms) => {
      timers.set(++next, { at: now + ms, callback });
      return next;
    },
    clearTimeout: (handle) => void timers.delete(handle as number),
    pending: () => [...timers.values()].map((t) => t.at - now),
    fire(ms) {
      now += ms;
      for (const [id, timer] of [...timers]) {
        if (timer.at > now) continue;
        timers.delete(id);
        timer.callback();
      }
    },
  };
}

function requireServer(skip: (condition: boolean, note?: string) => void): void {
  skip(build.binary === undefined, `Go Hubble test server unavailable: ${build.reason ?? ''}`);
}

describe('HubbleObserverSource against a Go server built from Cilium api/v1', () => {
  it('delivers, for every message, exactly the ParseResult the JSON parser gives for the same line; stop() cancels the call', async ({ skip }) => {
    requireServer(skip);
    const hubble = await server({ scenario: scenarioFile });
    const { source, results, events, logs } = observe({ address: hubble.address });
    source.start();
    await eventually(() => results.length >= expected.length, 5000, 'all scenario messages');

    expect(results).toEqual(expected);
    const stats = source.stats();
    expect(stats).toMatchObject({
      connected: true,
      flows: expected.filter((r) => r.kind === 'flow').length,
      lostEventNotices: 1,
      lostEvents: 7,
      nodeStatus: 2,
      reconnects: 0,
      duplicates: 0,
      // The ARP flow has no IP: a schema mismatch for both parsers.
      malformed: 1,
      lastFlowTime: '2024-05-02T09:14:03.900Z',
    });
    expect(stats.lastError).toBeUndefined();
    expect(hubble.requests()).toEqual([{ follow: true }]);

    // Lost events and node status reach the operator as events and log lines.
    expect(events.filter((e) => e.type !== 'connected')).toEqual([
      { type: 'node-status', node: 'kind-worker,kind-worker2', detail: 'NODE_CONNECTED: Connected' },
      { type: 'lost-events', source: 'PERF_EVENT_RING_BUFFER', count: 7, total: 7 },
      { type: 'node-status', node: 'kind-worker3', detail: 'NODE_UNAVAILABLE: connection refused' },
    ]);
    expect(logs.filter((l) => l.msg === 'hubble node status').map((l) => l['detail'])).toEqual([
      'NODE_CONNECTED: Connected',
      'NODE_UNAVAILABLE: connection refused',
    ]);
    expect(logs.filter((l) => l.msg === 'hubble lost events')).toHaveLength(1);

    await source.stop();
    const end = await hubble.waitFor((e) => e.event === 'end');
    expect(String(end['reason'])).toMatch(/Canceled/i);
    expect(source.stats().connected).toBe(false);
    expect(events.at(-1)).toEqual({ type: 'stopped' });
  });

  it('sends the namespace whitelist as Hubble decodes it, and receives only flows with a pod in scope', async ({ skip }) => {
    requireServer(skip);
    const hubble = await server({ scenario: scenarioFile });
    const scope = new Set(['shop', 'payments']);
    const inScope = expected.filter((r) => {
      if (r.kind === 'flow') return scope.has(r.flow.source.namespace ?? '') || scope.has(r.flow.destination.namespace ?? '');
      return r.kind !== 'skip'; // lost events and node status are never filtered; the ARP flow has no pod
    });
    const { source, results } = observe({ address: hubble.address, namespaces: ['shop', 'payments'] });
    source.start();
    await eventually(() => results.length >= inScope.length, 5000, 'the in-scope messages');
    // Let any out-of-scope message that would (wrongly) arrive do so.
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(hubble.requests()).toEqual([
      { follow: true, whitelist: [{ source_pod: ['payments/', 'shop/'] }, { destination_pod: ['payments/', 'shop/'] }] },
    ]);
    expect(results).toEqual(inScope);
    expect(results.length).toBeLessThan(expected.length);
  });

  it('reconnects after mid-stream disconnects with since = last flow time and delivers every message exactly once', async ({ skip }) => {
    requireServer(skip);
    // Call 1 ends after 8 messages, in the middle of four flows stamped .300; call 2 after 5.
    const hubble = await server({ scenario: scenarioFile, disconnectAfter: [8, 5] });
    const { source, results, events } = observe({ address: hubble.address });
    source.start();
    await eventually(() => results.length >= expected.length, 5000, 'all scenario messages');
    await hubble.waitFor((e) => e.event === 'request' && e['call'] === 3);
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(results).toEqual(expected);
    expect(hubble.events.filter((e) => e.event === 'disconnect').map((e) => e['after'])).toEqual([8, 5]);
    expect(hubble.requests()).toEqual([
      { follow: true },
      { follow: true, since: '2024-05-02T09:14:03.300Z' },
      { follow: true, since: '2024-05-02T09:14:03.300Z' },
    ]);
    // Hubble's since is inclusive: call 2 repeats the lost-event notice and the two .300 flows
    // already seen; call 3 repeats those and the two .300 flows call 2 added.
    expect(source.stats()).toMatchObject({ reconnects: 2, duplicates: 3 + 5, lostEvents: 7, connected: true });
    const disconnected = events.filter((e) => e.type === 'disconnected');
    expect(disconnected).toHaveLength(2);
    for (const e of disconnected) {
      expect(e).toMatchObject({ error: { code: 'UNAVAILABLE' }, attempt: 0, retryInMs: 5 });
    }
    expect(events.filter((e) => e.type === 'connected').map((e) => (e.type === 'connected' ? e.since : 'x'))).toEqual([
      undefined,
      '2024-05-02T09:14:03.300Z',
      '2024-05-02T09:14:03.300Z',
    ]);
  });

  it('starts from the given since (e.g. the last flow time persisted with the graph)', async ({ skip }) => {
    requireServer(skip);
    const hubble = await server({ scenario: scenarioFile, preload: true });
    const since = new Date('2024-05-02T09:14:03.700Z');
    // Cilium's ring reader starts right after the newest flow older than since (the ARP flow at
    // .550), so the node-status notice at .600 that follows it comes too (notices are not time-filtered).
    const first = scenario.findIndex((l) => l.includes('NODE_UNAVAILABLE'));
    expect(scenario[first + 1]).toContain('09:14:03.700');
    const want = expected.slice(first);
    const { source, results } = observe({ address: hubble.address, since });
    source.start();
    await eventually(() => results.length >= want.length, 5000, 'the flows since .700');
    expect(results).toEqual(want);
    expect(hubble.requests()).toEqual([{ follow: true, since: '2024-05-02T09:14:03.700Z' }]);
  });

  it('counts and skips malformed messages (bad IP, unknown enum number, undecodable bytes) without ending the stream', async ({ skip }) => {
    requireServer(skip);
    const hubble = await server({ scenario: malformedFile });
    const { source, results } = observe({ address: hubble.address });
    source.start();
    await eventually(() => results.length >= 6, 5000, 'six results');
    expect(results.map((r) => (r.kind === 'skip' ? `${r.kind}:${r.reason}` : r.kind))).toEqual([
      'flow',
      'skip:schema-mismatch',
      'skip:schema-mismatch',
      'skip:malformed',
      'skip:malformed',
      'flow',
    ]);
    const details = results.map((r) => (r.kind === 'skip' ? r.detail : undefined));
    expect(details[1]).toMatch(/not an IP address/);
    expect(details[2]).toMatch(/^flow\.verdict: /);
    expect(details[3]).toMatch(/^undecodable GetFlowsResponse: /);
    // The JSON path agrees on the two decodable ones.
    const json = lines(malformedFile).slice(1, 3).map((l) => parseHubbleLine(l));
    expect(results.slice(1, 3)).toEqual(json);
    expect(source.stats()).toMatchObject({ malformed: 4, reconnects: 0, flows: 2, connected: true });
  });

  it('connects with mTLS (CA, client certificate, server name override) and fails cleanly without a client certificate', async ({ skip }) => {
    requireServer(skip);
    const certs = await generateCerts(build.binary ?? '');
    cleanups.push(() => certs.cleanup());
    const hubble = await server({ scenario: scenarioFile, tls: { cert: certs.serverCert, key: certs.serverKey, clientCa: certs.ca } });

    const { source, results } = observe({
      address: hubble.address,
      tls: { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey, serverName: certs.serverName },
    });
    source.start();
    await eventually(() => results.length >= expected.length, 5000, 'all scenario messages over mTLS');
    expect(results).toEqual(expected);
    await source.stop();

    const anonymous = observe({ address: hubble.address, tls: { caFile: certs.ca, serverName: certs.serverName } });
    anonymous.source.start();
    await eventually(() => anonymous.source.stats().lastError !== undefined, 5000, 'a TLS error');
    await anonymous.source.stop();
    expect(anonymous.results).toEqual([]);
    expect(anonymous.source.stats().lastError?.code).toBe('UNAVAILABLE');
    expect(hubble.requests()).toHaveLength(1);
  });

  it('retries an unreachable endpoint with capped, jittered backoff, records the error and stops on stop()', async ({ skip }) => {
    requireServer(skip);
    // A port nobody listens on: bind one, then close it.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    const { source, events, results } = observe({ address: `127.0.0.1:${port}`, backoff: { initialMs: 10, maxMs: 40 }, random: () => 0.999 });
    source.start();
    await eventually(() => source.stats().reconnects >= 4, 5000, 'four reconnects');
    await source.stop();
    const stats = source.stats();
    expect(stats.connected).toBe(false);
    expect(stats.lastError).toMatchObject({ code: 'UNAVAILABLE' });
    expect(stats.lastError?.message).toMatch(/ECONNREFUSED|connect|No connection/i);
    expect(results).toEqual([]);
    const delays = events.flatMap((e) => (e.type === 'disconnected' ? [e.retryInMs] : []));
    expect(delays.slice(0, 4)).toEqual([9, 19, 39, 39]);
    const after = stats.reconnects;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(source.stats().reconnects).toBe(after);
    expect(events.at(-1)).toEqual({ type: 'stopped' });
  });

  it('counts a quiet follow stream on a READY channel as connected after the connect timeout', async ({ skip }) => {
    requireServer(skip);
    const empty = path.join(testdataDir, 'empty.jsonl');
    const hubble = await server({ scenario: empty });
    const clock = manualClock();
    const { source, events } = observe({ address: hubble.address, clock, connectTimeoutMs: 10_000 });
    source.start();
    await hubble.waitFor((e) => e.event === 'request');
    expect(source.stats().connected).toBe(false);
    expect(clock.pending()).toEqual([10_000]);
    clock.fire(10_000);
    expect(source.stats().connected).toBe(true);
    expect(events).toEqual([{ type: 'connected', address: hubble.address }]);
    expect(source.stats().lastError).toBeUndefined();
  });

  it('abandons an attempt whose connection is not READY within the connect timeout', async ({ skip }) => {
    requireServer(skip);
    // Accepts TCP connections and never speaks HTTP/2.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const address = silent.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const clock = manualClock();
    const { source, events } = observe({ address: `127.0.0.1:${port}`, clock, connectTimeoutMs: 2000, random: () => 0.5 });
    source.start();
    await eventually(() => sockets.size > 0, 5000, 'a TCP connection');
    clock.fire(2000);
    await eventually(() => source.stats().lastError !== undefined, 5000, 'the attempt to be abandoned');
    expect(source.stats().lastError).toMatchObject({ code: 'DEADLINE_EXCEEDED', message: 'no connection within 2000 ms' });
    expect(events).toEqual([expect.objectContaining({ type: 'disconnected', attempt: 0, retryInMs: 5 })]);
    expect(clock.pending()).toEqual([5]);
    await source.stop();
    expect(clock.pending()).toEqual([]);
  });

  /** 20,000 flows, about 10 MB of messages: more than twice the 4 MiB window. Returns the file and the flows' times. */
  function bigScenario(): { file: string; count: number; times: number[] } {
    const template = JSON.parse(scenario.find((line) => line.includes('"flow"'))!) as { flow: Record<string, unknown>; time: string };
    const start = Date.parse('2024-05-02T10:00:00Z');
    const count = 20_000;
    const big: string[] = [];
    for (let i = 0; i < count; i++) {
      const time = new Date(start + i).toISOString();
      big.push(JSON.stringify({ ...template, time, flow: { ...template.flow, time, uuid: `c1000000-0000-4000-8000-${String(i).padStart(12, '0')}` } }));
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'hivewall-hubble-gate-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'big.jsonl');
    writeFileSync(file, `${big.join('\n')}\n`);
    return { file, count, times: big.map((_, i) => start + i) };
  }

  /** Resolves once no message arrived for 300 ms: what the window let through is in, the server waits for credit. */
  async function standsStill(results: readonly unknown[]): Promise<void> {
    for (let seen = -1; results.length !== seen;) {
      seen = results.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }

  it('while its gate is shut, receives no more than the HTTP/2 window from grpc-go, then everything once the gate opens', async ({ skip }) => {
    requireServer(skip);
    const { file, count, times } = bigScenario();
    const hubble = await server({ scenario: file });
    const gate = new Gate();
    gate.shut();
    const { source, results } = observe({ address: hubble.address, gate });
    source.start();
    await hubble.waitFor((e) => e.event === 'fed', 10_000);
    await eventually(() => results.length > 0, 5000, 'the first window of messages');
    await standsStill(results);
    expect(results.length).toBeLessThan(count / 2);
    gate.open();
    await eventually(() => results.length === count, 10_000, 'every flow after the gate opened');
    expect(results.map((r) => (r.kind === 'flow' ? r.flow.time : -1))).toEqual(times);
    expect(source.stats()).toMatchObject({ reconnects: 0, duplicates: 0 });
  });

  it('a gate shut in the middle of a stream holds it at the window from then on; opened, the rest follows once', async ({ skip }) => {
    requireServer(skip);
    const { file, count, times } = bigScenario();
    const hubble = await server({ scenario: file, holdAfter: 100 });
    const gate = new Gate();
    const { source, results } = observe({ address: hubble.address, gate });
    source.start();
    await eventually(() => results.length === 100, 10_000, 'the first 100 flows, gate open');
    gate.shut();
    hubble.resume();
    await hubble.waitFor((e) => e.event === 'fed', 10_000);
    await standsStill(results);
    expect(results.length).toBeLessThan(count / 2);
    gate.open();
    await eventually(() => results.length === count, 10_000, 'every flow after the gate opened');
    expect(results.map((r) => (r.kind === 'flow' ? r.flow.time : -1))).toEqual(times);
  });

  it("compares flow times with its clock: a node's flow an hour ahead is delivered but does not move the resume point", async ({ skip }) => {
    requireServer(skip);
    const template = JSON.parse(scenario.find((line) => line.includes('"flow"'))!) as { flow: Record<string, unknown>; time: string };
    const flowAt = (time: string, uuid: string) => JSON.stringify({ ...template, time, flow: { ...template.flow, time, uuid } });
    const dir = mkdtempSync(path.join(tmpdir(), 'hivewall-hubble-skew-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'skew.jsonl');
    writeFileSync(file, `${flowAt('2024-05-02T09:14:03.100Z', 'd1000000-0000-4000-8000-000000000001')}\n${flowAt('2024-05-02T10:14:03.200Z', 'd1000000-0000-4000-8000-000000000002')}\n`);
    const hubble = await server({ scenario: file });
    const clock: HubbleClock = { ...systemClock, now: () => Date.parse('2024-05-02T09:14:04Z') };
    const { source, results } = observe({ address: hubble.address, clock });
    source.start();
    await eventually(() => results.length === 2, 5000, 'both flows');
    expect(source.stats().lastFlowTime).toBe('2024-05-02T09:14:03.100Z');
    expect(source.resumePoint()).toEqual({ since: '2024-05-02T09:14:03.100Z', seen: ['uuid:d1000000-0000-4000-8000-000000000001'], lostEvents: [] });
  });

  it('retries, without throwing, when the TLS material is not PEM (node:tls rejects it while setting up)', async () => {
    const { source, events } = observe({ address: '127.0.0.1:1', tls: { cert: 'not a certificate', key: 'not a key' }, backoff: { initialMs: 10, maxMs: 20 } });
    source.start();
    await eventually(() => source.stats().reconnects >= 2, 5000, 'two reconnects');
    await source.stop();
    expect(source.stats().lastError?.message).toMatch(/^cannot set up the connection: .*PEM/);
    expect(source.stats().connected).toBe(false);
    expect(events.at(-1)).toEqual({ type: 'stopped' });
  });
});
