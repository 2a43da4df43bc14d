import https from 'node:https';
import { createServer } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EdgeStore } from '../domain/edge-store.js';
import type { ParseResult } from '../domain/flow.js';
import { IdentityResolver } from '../domain/identity.js';
import { FakeClock, flushPromises } from '../runtime/fake-clock.js';
import { captureLogger } from '../runtime/testing.js';
import { issueCa, issueLeaf, receiverDnsNames, type KeyPairPem } from '../operator/receiver-tls.js';
import { deploymentPod, endpoint, flow, inventory } from '../testing/builders.js';
import { EdgeAggregator } from './aggregator.js';
import { AGENT_USERNAME } from './rbac.js';
import { EdgeReceiver, EdgeReceiverServer } from '../operator/receiver.js';
import { httpTransport, Shipper, type ShipperOptions, type Transport, type TransportRequest } from './shipper.js';

const T0 = Date.UTC(2026, 0, 1);
const cluster = inventory({
  nodes: [{ name: 'node-a', ips: ['172.18.0.2'], podCIDRs: ['10.244.0.0/16'] }],
  pods: Array.from({ length: 8 }, (_, i) => deploymentPod('shop', `app${i}`, `10.244.0.${i + 1}`)),
});
let nextPort = 20_000;
/** A confirmed connection from app<c> to app<s>:8080. */
const conn = (c: number, s: number): ParseResult => ({ kind: 'flow', flow: flow(endpoint(`10.244.0.${c + 1}`, nextPort++), endpoint(`10.244.0.${s + 1}`, 8080), { time: T0 }) });
const NO_JITTER = { baseMs: 1_000, capMs: 8_000 };

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
});

function setup(transport: Transport, extra: Partial<ShipperOptions> & { maxBufferedEdges?: number } = {}) {
  const clock = new FakeClock(T0);
  const log = captureLogger();
  const aggregator = new EdgeAggregator({ identity: new IdentityResolver(cluster), ...(extra.maxBufferedEdges ? { maxBufferedEdges: extra.maxBufferedEdges } : {}) });
  let token = 'token-1';
  const shipper = new Shipper({
    aggregator, controllerUrl: 'http://controller.test:8443', node: 'node-a', instance: 'inst', logger: log.logger, clock,
    token: async () => `${token}\n`, transport, intervalMs: 10_000, backoff: NO_JITTER, ...extra,
  });
  stops.push(() => shipper.stop());
  return { clock, log, aggregator, shipper, setToken: (t: string) => { token = t; } };
}

/** A transport that records requests and answers from a script (default: ack the batch). */
function scripted(answer?: (req: TransportRequest, n: number) => Promise<{ status: number; body: string }>) {
  const requests: TransportRequest[] = [];
  const transport: Transport = async (req) => {
    requests.push(req);
    if (answer) return answer(req, requests.length);
    return { status: 200, body: JSON.stringify({ ack: (JSON.parse(req.body) as { seq: number }).seq, applied: 1 }) };
  };
  return { requests, transport };
}

const seqOf = (req: TransportRequest) => (JSON.parse(req.body) as { seq: number }).seq;

describe('Shipper', () => {
  it('POSTs the deltas as JSON to /v1/edges every interval with the token as Bearer; acked deltas are gone', async () => {
    const { requests, transport } = scripted();
    const { clock, aggregator, shipper } = setup(transport);
    aggregator.ingest(conn(0, 1));
    aggregator.ingest(conn(0, 1));
    shipper.start();
    await clock.advance(9_999);
    expect(requests).toHaveLength(0);
    await clock.advance(1);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.url).toBe('http://controller.test:8443/v1/edges');
    expect(requests[0]!.headers).toMatchObject({ Authorization: 'Bearer token-1', 'Content-Type': 'application/json' });
    expect(JSON.parse(requests[0]!.body)).toEqual({
      node: 'node-a', instance: 'inst', seq: 1,
      edges: [{ client: 'wl:shop/Deployment/app0', server: 'wl:shop/Deployment/app1', port: 8080, protocol: 'TCP', count: 2, firstSeen: T0, lastSeen: T0 }],
    });
    expect(aggregator.bufferedConnections()).toBe(0);
    expect(shipper.stats).toMatchObject({ requests: 1, outcomes: { acked: 1 }, lastAckAt: T0 + 10_000 });
    await clock.advance(10_000);
    expect(requests).toHaveLength(1); // nothing new: nothing sent
  });

  it('keeps the batch on network errors and 5xx and retries it unchanged with backoff, then at the interval again', async () => {
    let failing = 3;
    const { requests, transport } = scripted(async (req) => {
      if (failing-- > 0) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      return { status: 200, body: JSON.stringify({ ack: seqOf(req), applied: 1 }) };
    });
    const { clock, aggregator, shipper, log } = setup(transport);
    aggregator.ingest(conn(0, 1));
    shipper.start();
    await clock.advance(10_000); // fails
    aggregator.ingest(conn(2, 3)); // learned meanwhile: waits for the next batch
    await clock.advance(1_000); // fails
    await clock.advance(2_000); // fails
    expect(requests.map(seqOf)).toEqual([1, 1, 1]);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    expect(shipper.stats.consecutiveFailures).toBe(3);
    expect(log.find('shipping edges failed: kept for retry')[0]).toMatchObject({ detail: 'ECONNREFUSED: connect ECONNREFUSED', buffered: 1 });
    await clock.advance(4_000); // works: seq 1, then seq 2 right away
    expect(requests.map(seqOf)).toEqual([1, 1, 1, 1, 2]);
    expect(aggregator.bufferedConnections()).toBe(0);
    expect(shipper.stats).toMatchObject({ consecutiveFailures: 0, outcomes: { retry: 3, acked: 2 } });
    aggregator.ingest(conn(4, 5));
    await clock.advance(9_999);
    expect(requests).toHaveLength(5);
    await clock.advance(1);
    expect(requests).toHaveLength(6);
  });

  it('a refused token (401/403) is counted apart, kept, and the re-read token is used next time', async () => {
    const { requests, transport } = scripted(async (req) => req.headers['Authorization'] === 'Bearer rotated'
      ? { status: 200, body: JSON.stringify({ ack: seqOf(req), applied: 1 }) }
      : { status: 401, body: '{"error":"token not accepted"}' });
    const { clock, aggregator, shipper, log, setToken } = setup(transport);
    aggregator.ingest(conn(0, 1));
    shipper.start();
    await clock.advance(10_000);
    expect(shipper.stats.outcomes.unauthorized).toBe(1);
    expect(log.find('controller refused the agent token: edges kept')).toHaveLength(1);
    setToken('rotated'); // the kubelet rotated the projected token
    await clock.advance(1_000);
    expect(requests.map((r) => r.headers['Authorization'])).toEqual(['Bearer token-1', 'Bearer rotated']);
    expect(aggregator.stats.ackedConnections).toBe(1);
  });

  it('a batch refused for good (400) is dropped and counted, and the next batch still goes', async () => {
    const { requests, transport } = scripted(async (req) => seqOf(req) === 1
      ? { status: 400, body: '{"error":"invalid batch"}' }
      : { status: 200, body: JSON.stringify({ ack: seqOf(req), applied: 1 }) });
    const small = new EdgeAggregator({ identity: new IdentityResolver(cluster), maxBatchEdges: 1 });
    const shipper = new Shipper({ aggregator: small, controllerUrl: 'http://c', node: 'n', token: async () => 't', logger: captureLogger().logger, transport, clock: new FakeClock() });
    small.ingest(conn(0, 1));
    small.ingest(conn(2, 3));
    expect(await shipper.shipOnce()).toBe(true);
    expect(requests.map(seqOf)).toEqual([1, 2]);
    expect(small.stats).toMatchObject({ rejectedBatches: 1, rejectedConnections: 1, ackedConnections: 1 });
    expect(shipper.stats.outcomes).toMatchObject({ rejected: 1, acked: 1 });
  });

  it('a 200 without the right ack is not an ack', async () => {
    const { transport } = scripted(async () => ({ status: 200, body: '<html>proxy</html>' }));
    const { aggregator, shipper } = setup(transport);
    aggregator.ingest(conn(0, 1));
    expect(await shipper.shipOnce()).toBe(false);
    expect(aggregator.bufferedConnections()).toBe(1);
    expect(shipper.stats.lastError).toContain('200 without the ack of seq 1');
  });

  it('a token file that cannot be read is a retry, never a crash', async () => {
    const { transport, requests } = scripted();
    const { aggregator, shipper } = setup(transport, { token: async () => { throw new Error('ENOENT: no such file'); } });
    aggregator.ingest(conn(0, 1));
    expect(await shipper.shipOnce()).toBe(false);
    expect(requests).toHaveLength(0);
    expect(shipper.stats.lastError).toContain('cannot read the ServiceAccount token');
  });
});

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Shipper over HTTP to a real EdgeReceiver', () => {
  function receiverOn(port: number, store: EdgeStore) {
    const log = captureLogger();
    const receiver = new EdgeReceiver({
      authenticator: { authenticate: async (t) => (t === 'agent' ? { authenticated: true, username: AGENT_USERNAME, groups: [], extra: {} } : { authenticated: false }) },
      store, logger: log.logger,
    });
    const server = new EdgeReceiverServer({ receiver, host: '127.0.0.1', port, logger: log.logger });
    stops.push(() => server.close());
    return { receiver, server };
  }

  it('an unreachable controller: deltas are kept (bounded, drops counted) and delivered once it is back', async () => {
    const port = await freePort();
    const aggregator = new EdgeAggregator({ identity: new IdentityResolver(cluster), maxBufferedEdges: 4 });
    const shipper = new Shipper({
      aggregator, controllerUrl: `http://127.0.0.1:${port}`, node: 'node-a', token: async () => 'agent',
      logger: captureLogger().logger, transport: httpTransport(), clock: new FakeClock(), timeoutMs: 2_000,
    });
    for (let round = 0; round < 3; round++) {
      for (let s = 0; s < 6; s++) for (let i = 0; i < 10; i++) aggregator.ingest(conn(0, s));
      expect(await shipper.shipOnce()).toBe(false);
    }
    expect(shipper.stats.lastError).toMatch(/ECONNREFUSED/);
    expect(aggregator.stats).toMatchObject({ inflightEdges: 4, pendingEdges: 4, droppedEdges: 2 * 3, droppedConnections: 60 });
    expect(aggregator.bufferedConnections()).toBe(120);

    const store = new EdgeStore();
    const { receiver, server } = receiverOn(port, store);
    await server.listen();
    expect(await shipper.shipOnce()).toBe(true);
    expect(receiver.stats.connections).toBe(120);
    expect(receiver.stats.connections + aggregator.stats.droppedConnections).toBe(aggregator.learnedTotal);
  });

  it('a lost ack (applied, answer lost): the retry is recognised and nothing is counted twice', async () => {
    const store = new EdgeStore();
    const { receiver, server } = receiverOn(0, store);
    const { url } = await server.listen();
    const real = httpTransport();
    let loseNext = true;
    const lossy: Transport = async (req) => {
      const res = await real(req);
      if (loseNext) {
        loseNext = false;
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      }
      return res;
    };
    const aggregator = new EdgeAggregator({ identity: new IdentityResolver(cluster) });
    const shipper = new Shipper({ aggregator, controllerUrl: url, node: 'node-a', token: async () => 'agent', logger: captureLogger().logger, transport: lossy, clock: new FakeClock() });
    for (let i = 0; i < 7; i++) aggregator.ingest(conn(1, 2));
    expect(await shipper.shipOnce()).toBe(false);
    expect(receiver.stats.connections).toBe(7); // applied, though the agent does not know
    expect(await shipper.shipOnce()).toBe(true);
    expect(receiver.stats.requests).toMatchObject({ accepted: 1, duplicate: 1 });
    expect([...store.edges()].map((e) => e.count)).toEqual([7]);
    await flushPromises();
  });

  it('a batch with a pod the operator\'s inventory does not place yet (503 unknown-placement) is kept and delivered once it does, counted once', async () => {
    const store = new EdgeStore();
    let placed = false;
    const receiver = new EdgeReceiver({
      authenticator: { authenticate: async () => ({ authenticated: true, username: AGENT_USERNAME, groups: [], extra: {} }) },
      store: { record: (...a) => store.record(...a), refusal: () => (placed ? undefined : 'unknown-placement') },
      logger: captureLogger().logger,
    });
    const server = new EdgeReceiverServer({ receiver, host: '127.0.0.1', port: 0, logger: captureLogger().logger });
    stops.push(() => server.close());
    const { url } = await server.listen();
    const aggregator = new EdgeAggregator({ identity: new IdentityResolver(cluster) });
    const shipper = new Shipper({ aggregator, controllerUrl: url, node: 'node-a', token: async () => 'agent', logger: captureLogger().logger, transport: httpTransport(), clock: new FakeClock() });
    for (let i = 0; i < 3; i++) aggregator.ingest(conn(1, 2));
    expect(await shipper.shipOnce()).toBe(false);
    expect(shipper.stats.outcomes.retry).toBe(1);
    expect(shipper.stats.lastError).toMatch(/^503: .*unknown-placement/);
    expect(aggregator.bufferedConnections()).toBe(3);
    expect(aggregator.stats.rejectedConnections).toBe(0);
    placed = true;
    expect(await shipper.shipOnce()).toBe(true);
    expect(receiver.stats.requests).toMatchObject({ 'unknown-placement': 1, accepted: 1 });
    expect([...store.edges()].map((e) => e.count)).toEqual([3]);
    await flushPromises();
  });

  it('a wrong token is refused by the receiver: counted on both sides, deltas kept', async () => {
    const store = new EdgeStore();
    const { receiver, server } = receiverOn(0, store);
    const { url } = await server.listen();
    const aggregator = new EdgeAggregator({ identity: new IdentityResolver(cluster) });
    const shipper = new Shipper({ aggregator, controllerUrl: url, node: 'node-a', token: async () => 'stolen', logger: captureLogger().logger, transport: httpTransport(), clock: new FakeClock() });
    aggregator.ingest(conn(1, 2));
    expect(await shipper.shipOnce()).toBe(false);
    expect(shipper.stats.outcomes.unauthorized).toBe(1);
    expect(receiver.stats.requests.unauthenticated).toBe(1);
    expect(aggregator.bufferedConnections()).toBe(1);
  });
});

describe('httpTransport over HTTPS: servername (kubeconfig\'s tls-server-name)', () => {
  // The operator's receiver certificate names the Service, never the address an agent may dial.
  const SERVICE_NAME = 'hivewall-operator.hivewall-system.svc';
  let ca: KeyPairPem;
  let leaf: KeyPairPem;
  let otherCa: KeyPairPem;
  beforeAll(async () => {
    const now = new Date();
    ca = await issueCa({ now, validityMs: 86_400_000 });
    leaf = await issueLeaf({ ca, dnsNames: receiverDnsNames('hivewall-operator', 'hivewall-system'), now, validityMs: 86_400_000 });
    otherCa = await issueCa({ now, validityMs: 86_400_000 });
  });

  /** A TLS EdgeReceiver on 127.0.0.1 serving `leaf`; records the SNI of every TLS connection. */
  async function tlsReceiver() {
    const log = captureLogger();
    const store = new EdgeStore();
    const receiver = new EdgeReceiver({
      authenticator: { authenticate: async (t) => (t === 'agent' ? { authenticated: true, username: AGENT_USERNAME, groups: [], extra: {} } : { authenticated: false }) },
      store, logger: log.logger,
    });
    const server = new EdgeReceiverServer({ receiver, host: '127.0.0.1', port: 0, tls: { cert: leaf.cert, key: leaf.key }, logger: log.logger });
    const { url, port } = await server.listen();
    stops.push(() => server.close());
    return { receiver, store, url, port };
  }

  async function ship(url: string, transport: Transport) {
    const aggregator = new EdgeAggregator({ identity: new IdentityResolver(cluster) });
    const shipper = new Shipper({ aggregator, controllerUrl: url, node: 'node-a', token: async () => 'agent', logger: captureLogger().logger, transport, clock: new FakeClock(), timeoutMs: 5_000 });
    aggregator.ingest(conn(3, 4));
    aggregator.ingest(conn(3, 4));
    return { ok: await shipper.shipOnce(), shipper, aggregator };
  }

  it('verifies the certificate against servername and sends it as SNI, while connecting to the URL\'s address', async () => {
    const { url, store } = await tlsReceiver();
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const { ok, shipper } = await ship(url, httpTransport({ ca: ca.cert, servername: SERVICE_NAME }));
    expect(shipper.stats.lastError).toBeUndefined();
    expect(ok).toBe(true);
    expect([...store.edges()].map((e) => `${e.client} -> ${e.server} ${e.port}/${e.protocol} x${e.count}`)).toEqual(['wl:shop/Deployment/app3 -> wl:shop/Deployment/app4 8080/TCP x2']);
  });

  it('sends servername as SNI (the server sees it)', async () => {
    const seen: (string | false | null)[] = [];
    const server = https.createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
      seen.push((req.socket as TLSSocket).servername);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ ack: 1, applied: 0 }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    stops.push(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }));
    const { port } = server.address() as { port: number };
    const res = await httpTransport({ ca: ca.cert, servername: SERVICE_NAME })({ url: `https://127.0.0.1:${port}/v1/edges`, headers: {}, body: '{}', timeoutMs: 5_000 });
    expect(res.status).toBe(200);
    expect(seen).toEqual([SERVICE_NAME]);
  });

  it.each([
    ['no servername: the certificate does not name 127.0.0.1', {}, 'ERR_TLS_CERT_ALTNAME_INVALID'],
    ['a servername the certificate does not carry', { servername: 'hivewall-operator.other-namespace.svc' }, 'ERR_TLS_CERT_ALTNAME_INVALID'],
  ] as const)('refuses the receiver with the right CA but %s: kept for retry', async (_name, extra, code) => {
    const { url, receiver } = await tlsReceiver();
    const { ok, shipper, aggregator } = await ship(url, httpTransport({ ca: ca.cert, ...extra }));
    expect(ok).toBe(false);
    expect(shipper.stats.outcomes.retry).toBe(1);
    expect(shipper.stats.lastError).toContain(code);
    expect(aggregator.bufferedConnections()).toBe(2);
    expect(receiver.stats.requests.accepted).toBe(0);
  });

  it('servername does not stand in for trust: a certificate from another CA is refused', async () => {
    const { url, receiver } = await tlsReceiver();
    const { ok, shipper } = await ship(url, httpTransport({ ca: otherCa.cert, servername: SERVICE_NAME }));
    expect(ok).toBe(false);
    expect(shipper.stats.lastError).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify|self[- ]signed/i);
    expect(receiver.stats.requests.accepted).toBe(0);
  });

  it('is ignored for http:// URLs', async () => {
    const store = new EdgeStore();
    const log = captureLogger();
    const receiver = new EdgeReceiver({
      authenticator: { authenticate: async () => ({ authenticated: true, username: AGENT_USERNAME, groups: [], extra: {} }) },
      store, logger: log.logger,
    });
    const server = new EdgeReceiverServer({ receiver, host: '127.0.0.1', port: 0, logger: log.logger });
    const { url } = await server.listen();
    stops.push(() => server.close());
    const { ok } = await ship(url, httpTransport({ servername: SERVICE_NAME }));
    expect(ok).toBe(true);
    expect(receiver.stats.requests.accepted).toBe(1);
  });
});
