import { appendFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../config.js';
import type { AuditEngine } from '../domain/audit.js';
import type { Flow } from '../domain/flow.js';
import { IdentityResolver } from '../domain/identity.js';
import { emptyInventory } from '../domain/inventory.js';
import { Learner } from '../domain/learner.js';
import { OperatorCheckpoint } from '../k8s/checkpoint-store.js';
import type { Kube } from '../k8s/kube.js';
import { captureLogger } from '../runtime/testing.js';
import { AGENT_USERNAME } from '../agent/rbac.js';
import { DenialRegistry } from './denial-registry.js';
import { FlowSources, type FlowSourcesOptions } from './flow-sources.js';
import { EdgeReceiver, EdgeReceiverServer } from './receiver.js';

const EXAMPLE = new URL('../../examples/shop/flows.hubble.jsonl', import.meta.url).pathname;
const sources: FlowSources[] = [];
const servers: EdgeReceiverServer[] = [];
afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function fileSources(extra: Partial<FlowSourcesOptions> = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'hivewall-sources-'));
  const file = path.join(dir, 'events.log');
  const lines = (await readFile(EXAMPLE, 'utf8')).split('\n').filter((l) => l.length > 0);
  await writeFile(file, '');
  const learner = new Learner(new IdentityResolver(emptyInventory));
  // Only the file store's in-memory side is used: no ConfigMap is read or written here.
  const checkpoint = new OperatorCheckpoint({} as Kube, 'hivewall-system', 'cp');
  const log = captureLogger('info');
  const flowSources = new FlowSources({
    config: parseConfig({ identity: 't', flowsPath: file, flowPollMs: 10 }),
    learner, audits: new Map(), checkpoint, log: log.logger, podOf: () => undefined, ...extra,
  });
  sources.push(flowSources);
  flowSources.start([]);
  return { file, lines, learner, flowSources, checkpoint, log };
}

/** A receiver taking pushes of the agent ServiceAccount (unbound tokens), served on a free port. */
async function agentReceiver() {
  const receiver = new EdgeReceiver({
    authenticator: { authenticate: async () => ({ authenticated: true, username: AGENT_USERNAME, groups: [], extra: {} }) },
    logger: captureLogger().logger,
  });
  const server = new EdgeReceiverServer({ receiver, host: '127.0.0.1', port: 0, logger: captureLogger().logger });
  servers.push(server);
  const { url } = await server.listen();
  const oneEdge = [{ client: 'wl:shop/Deployment/a', server: 'wl:shop/Deployment/b', port: 80, protocol: 'TCP', count: 1, firstSeen: 1, lastSeen: 1 }];
  const push = (seq: number, edges: readonly Record<string, unknown>[] = oneEdge, extra: Record<string, unknown> = {}) => fetch(`${url}/v1/edges`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
    body: JSON.stringify({ node: 'n1', instance: 'i1', seq, edges, ...extra }),
  }).then(async (res) => ({ status: res.status, body: await res.json() as Record<string, unknown> }));
  return { receiver, push };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The promise's value if it settles within `ms`, else 'pending'. */
const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise, sleep(ms).then(() => 'pending' as const)]);

const until = async (cond: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('FlowSources rounds', () => {
  it('holds input that arrives during a round until it ends, so the round\'s positions cover exactly what was applied', async () => {
    const { file, lines, learner, flowSources, checkpoint } = await fileSources();
    await appendFile(file, `${lines.slice(0, 100).join('\n')}\n`);
    await until(() => learner.stats.events === 100);
    // The follower records its position right after delivering a chunk (the first chunk of a file
    // after hashing its first line).
    await until(() => checkpoint.snapshot()['checkpoint.json'] !== undefined);
    const positions = flowSources.beginRound();
    const offset = (JSON.parse(positions['checkpoint.json']!) as { position: { offset: number } }).position.offset;
    await appendFile(file, `${lines.slice(100, 200).join('\n')}\n`);
    await new Promise((r) => setTimeout(r, 200));
    expect(learner.stats.events).toBe(100); // read, but held
    expect(flowSources.takeNewFlows()).toBe(learner.stats.flows);
    flowSources.endRound(true);
    expect(learner.stats.events).toBe(200);
    // The snapshot taken at the start of the round names the offset of the first 100 lines.
    expect(offset).toBe(Buffer.byteLength(`${lines.slice(0, 100).join('\n')}\n`));
  });

  it('acknowledges stored input only: persisted() resolves after the next stored round, rejects when storing failed', async () => {
    const { flowSources } = await fileSources();
    const settled = (p: Promise<void>) => p.then(() => 'stored', (e: Error) => `refused: ${e.message}`);
    expect(flowSources.hasWaiters()).toBe(false);
    const before = settled(flowSources.persisted());
    expect(flowSources.hasWaiters()).toBe(true);
    flowSources.beginRound();
    const during = settled(flowSources.persisted());
    flowSources.endRound(true);
    expect(await before).toBe('stored');
    // Applied while that round was running: only the next round covers it.
    const race = await Promise.race([during, new Promise((r) => setTimeout(() => r('pending'), 50))]);
    expect(race).toBe('pending');
    flowSources.beginRound();
    flowSources.endRound(false);
    expect(await during).toMatch(/^refused: the learned state could not be stored/);
    const last = settled(flowSources.persisted());
    flowSources.abandonWaiters();
    expect(await last).toMatch(/stopped leading/);
  });

  it('pauses its sources once a round holds holdLimit inputs and resumes them when it ends: nothing lost, nothing applied twice', async () => {
    // An agent's receiver, attached by start() like the operator's.
    const { receiver, push } = await agentReceiver();
    let pauses = 0;
    const { file, lines, learner, flowSources, log } = await fileSources({ holdLimit: 100, receiver, metrics: { onPaused: () => pauses++ } });
    await appendFile(file, `${lines.slice(0, 100).join('\n')}\n`);
    await until(() => learner.stats.events === 100);
    flowSources.beginRound();
    // 4,341 lines, about 6 MB: the follower reads 1 MiB at a time.
    await appendFile(file, `${lines.slice(100).join('\n')}\n`);
    await until(() => flowSources.paused);
    await new Promise((r) => setTimeout(r, 200));
    expect(learner.stats.events).toBe(100); // held, not applied
    expect(await push(1)).toMatchObject({ status: 503, body: { reason: 'paused' } });
    flowSources.endRound(true);
    // The round's held input is applied at once: the first chunk, read before the pause, not the whole file.
    const applied = learner.stats.events - 100;
    expect(applied).toBeGreaterThanOrEqual(100);
    expect(applied).toBeLessThan(1_500);
    expect(flowSources.paused).toBe(false);
    await until(() => learner.stats.events === lines.length);
    await new Promise((r) => setTimeout(r, 100));
    expect(learner.stats.events).toBe(lines.length);
    // Outside a round nothing is held, so nothing pauses; the agent's retry goes through.
    const retried = push(1);
    await until(() => flowSources.hasWaiters());
    flowSources.beginRound();
    flowSources.endRound(true);
    expect(await retried).toMatchObject({ status: 200, body: { ack: 1 } });
    expect(pauses).toBe(1);
    expect(log.find('the store pass holds too much input: flow sources paused until it ends')).toHaveLength(1);
  });

  it('with a Hubble source and no Segmentation yet, opens no stream (an empty filter would mean every flow) and starts one later', async () => {
    const learner = new Learner(new IdentityResolver(emptyInventory));
    const log = captureLogger('info');
    const flowSources = new FlowSources({
      config: parseConfig({ identity: 't', hubbleAddress: '127.0.0.1:1' }),
      learner, audits: new Map(), checkpoint: new OperatorCheckpoint({} as Kube, 'hivewall-system', 'cp'), log: log.logger, podOf: () => undefined,
    });
    sources.push(flowSources);
    expect(() => flowSources.start([])).not.toThrow();
    expect(flowSources.error()).toBeUndefined();
    expect(log.find('no Segmentation yet: the Hubble stream starts with the first one')).toHaveLength(1);
    await flowSources.setNamespaces(['shop']);
    // Now a stream is tried (nothing listens on port 1): the failure shows as the source's error.
    await until(() => flowSources.error() !== undefined);
    expect(flowSources.error()).toMatch(/^hubble-relay 127\.0\.0\.1:1: /);
  });
});

describe('FlowSources: acknowledging an agent\'s retry', () => {
  /** Connections learned from agents (each push carries one). */
  const learned = (learner: Learner) => [...learner.edges.edges()].reduce((sum, e) => sum + e.count, 0);

  it('answers a retry of a batch the last committed round stored at once, even while a round runs', async () => {
    const { receiver, push } = await agentReceiver();
    const { learner, flowSources } = await fileSources({ receiver });
    const first = push(1);
    await until(() => flowSources.hasWaiters());
    flowSources.beginRound();
    flowSources.endRound(true);
    expect(await first).toMatchObject({ status: 200, body: { ack: 1, applied: 1 } });
    flowSources.beginRound(); // a long store pass
    // The agent did not get that answer in time and sends the batch again.
    expect(await within(push(1), 1_000)).toMatchObject({ status: 200, body: { ack: 1, duplicate: true } });
    expect(flowSources.hasWaiters()).toBe(false);
    flowSources.endRound(true);
    expect(learned(learner)).toBe(1);
  });

  it('answers a retry of a batch applied before the running round once that round commits, not a later one; 503 when it fails', async () => {
    const { receiver, push } = await agentReceiver();
    const { learner, flowSources } = await fileSources({ receiver });
    const original = push(1);
    await until(() => flowSources.hasWaiters());
    flowSources.beginRound(); // covers batch 1
    const retry = push(1);
    expect(await within(retry, 200)).toBe('pending'); // not stored yet
    flowSources.endRound(true);
    expect(await original).toMatchObject({ status: 200, body: { ack: 1, applied: 1 } });
    expect(await within(retry, 1_000)).toMatchObject({ status: 200, body: { ack: 1, duplicate: true } });

    const second = push(2);
    await until(() => flowSources.hasWaiters());
    flowSources.beginRound(); // covers batch 2, and fails
    const secondRetry = push(2);
    expect(await within(secondRetry, 200)).toBe('pending');
    flowSources.endRound(false);
    expect(await second).toMatchObject({ status: 503, body: { reason: 'not-stored' } });
    expect(await within(secondRetry, 1_000)).toMatchObject({ status: 503, body: { reason: 'not-stored' } });

    // Applied while a round runs: held, so only the next round stores it.
    flowSources.beginRound(); // stores batch 2
    const third = push(3);
    await sleep(150);
    const thirdRetry = push(3);
    await sleep(150);
    flowSources.endRound(true);
    expect(await within(thirdRetry, 200)).toBe('pending');
    flowSources.beginRound();
    flowSources.endRound(true);
    expect(await third).toMatchObject({ status: 200, body: { ack: 3, applied: 1 } });
    expect(await thirdRetry).toMatchObject({ status: 200, body: { ack: 3, duplicate: true } });
    expect(learned(learner)).toBe(3); // each batch once
  });
});

describe('FlowSources: audits', () => {
  /** An audit engine that notes what it is handed. */
  const recordingAudit = (namespace: string) => {
    const seen: string[] = [];
    const audit = {
      namespace,
      observe: (flow: Flow) => seen.push(`${flow.source.namespace ?? '-'} > ${flow.destination.namespace ?? '-'}`),
      observeEdge: (edge: { client: string; server: string }) => seen.push(`${edge.client} > ${edge.server}`),
    };
    return { audit: audit as unknown as AuditEngine, seen };
  };

  it('hands a flow or an agent\'s edge only to the audit engines of its ends\' namespaces, once each', async () => {
    const engines = new Map(['shop', 'payments', 'unrelated'].map((namespace) => [namespace, recordingAudit(namespace)]));
    const { receiver, push } = await agentReceiver();
    const { file, lines, learner, flowSources } = await fileSources({ receiver, audits: new Map([...engines].map(([namespace, e]) => [namespace, e.audit])) });
    await appendFile(file, `${lines.join('\n')}\n`);
    await until(() => learner.stats.events === lines.length);
    const ends = (namespace: string) => lines.flatMap((line) => {
      const flow = (JSON.parse(line) as { flow?: { source?: { namespace?: string }; destination?: { namespace?: string } } }).flow;
      const pair = [flow?.source?.namespace, flow?.destination?.namespace];
      return flow && pair.includes(namespace) ? [`${pair[0] ?? '-'} > ${pair[1] ?? '-'}`] : [];
    });
    expect(engines.get('shop')!.seen).toEqual(ends('shop'));
    expect(engines.get('payments')!.seen).toEqual(ends('payments'));
    expect(engines.get('shop')!.seen).toContain('shop > payments');
    expect(engines.get('payments')!.seen).toContain('shop > payments');
    expect(engines.get('unrelated')!.seen).toEqual([]);

    for (const e of engines.values()) e.seen.length = 0;
    const edge = (client: string, server: string) => ({ client, server, port: 80, protocol: 'TCP', count: 1, firstSeen: 1, lastSeen: 1 });
    const pushed = push(1, [edge('wl:shop/Deployment/a', 'wl:payments/Deployment/b'), edge('wl:shop/Deployment/a', 'en:world:203.0.113.9'), edge('wl:shop/Deployment/a', 'wl:shop/Deployment/c'), edge('en:host', 'wl:kube-system/Deployment/dns')]);
    await until(() => flowSources.hasWaiters());
    flowSources.beginRound();
    flowSources.endRound(true);
    expect((await pushed).status).toBe(200);
    expect(engines.get('shop')!.seen).toEqual(['wl:shop/Deployment/a > wl:payments/Deployment/b', 'wl:shop/Deployment/a > en:world:203.0.113.9', 'wl:shop/Deployment/a > wl:shop/Deployment/c']);
    expect(engines.get('payments')!.seen).toEqual(['wl:shop/Deployment/a > wl:payments/Deployment/b']);
    expect(engines.get('unrelated')!.seen).toEqual([]);
  });
});

describe('FlowSources: an agent\'s policy denials', () => {
  it('go to the denial registry as hubble-relay\'s drops do: direction and denying policies kept, another\'s policy not counted against hivewall', async () => {
    const denials = new DenialRegistry({ now: () => 1_000, onCrossed: () => {} });
    denials.enforce('shop', { segmentation: 'shop', proposal: 'shop-r1', budget: { maxDenied: 100, windowMs: 60_000 }, policies: ['hivewall-cart'] });
    const { receiver, push } = await agentReceiver();
    const { flowSources } = await fileSources({ receiver, denials });
    const denial = { client: 'wl:shop/Deployment/frontend', server: 'wl:shop/Deployment/cart', port: 8080, protocol: 'UDP', count: 3, firstSeen: 500, lastSeen: 900 };
    const pushed = push(1, [], { denied: [
      { ...denial, direction: 'INGRESS', deniedBy: ['shop/hivewall-cart'] },
      { ...denial, port: 9090, direction: 'EGRESS', deniedBy: ['shop/platform-deny'] },
    ] });
    await until(() => flowSources.hasWaiters()); // the batch's seq is acknowledged once a round stores it
    flowSources.beginRound();
    flowSources.endRound(true);
    expect(await pushed).toMatchObject({ status: 200, body: { ack: 1 } });
    expect(denials.view('shop', 'shop-r1')?.edges).toEqual([
      { client: 'wl:shop/Deployment/frontend', server: 'wl:shop/Deployment/cart', port: 8080, protocol: 'UDP', count: 3, firstDenied: 1_000, lastDenied: 1_000, direction: 'ingress' },
    ]);
  });
});
