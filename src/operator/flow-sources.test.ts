import { appendFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../config.js';
import { IdentityResolver } from '../domain/identity.js';
import { emptyInventory } from '../domain/inventory.js';
import { Learner } from '../domain/learner.js';
import { OperatorCheckpoint } from '../k8s/checkpoint-store.js';
import type { Kube } from '../k8s/kube.js';
import { captureLogger } from '../runtime/testing.js';
import { AGENT_USERNAME } from '../agent/rbac.js';
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
    const receiver = new EdgeReceiver({
      authenticator: { authenticate: async () => ({ authenticated: true, username: AGENT_USERNAME, groups: [], extra: {} }) },
      logger: captureLogger().logger,
    });
    const server = new EdgeReceiverServer({ receiver, host: '127.0.0.1', port: 0, logger: captureLogger().logger });
    servers.push(server);
    const { url } = await server.listen();
    const push = (seq: number) => fetch(`${url}/v1/edges`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
      body: JSON.stringify({ node: 'n1', instance: 'i1', seq, edges: [{ client: 'wl:shop/Deployment/a', server: 'wl:shop/Deployment/b', port: 80, protocol: 'TCP', count: 1, firstSeen: 1, lastSeen: 1 }] }),
    }).then(async (res) => ({ status: res.status, body: await res.json() as Record<string, unknown> }));
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
