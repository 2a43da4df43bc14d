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
import { FlowSources } from './flow-sources.js';

const EXAMPLE = new URL('../../examples/shop/flows.hubble.jsonl', import.meta.url).pathname;
const sources: FlowSources[] = [];
afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
});

async function fileSources() {
  const dir = await mkdtemp(path.join(tmpdir(), 'hivewall-sources-'));
  const file = path.join(dir, 'events.log');
  const lines = (await readFile(EXAMPLE, 'utf8')).split('\n').filter((l) => l.length > 0);
  await writeFile(file, '');
  const learner = new Learner(new IdentityResolver(emptyInventory));
  // Only the file store's in-memory side is used: no ConfigMap is read or written here.
  const checkpoint = new OperatorCheckpoint({} as Kube, 'hivewall-system', 'cp');
  const flowSources = new FlowSources({
    config: parseConfig({ identity: 't', flowsPath: file, flowPollMs: 10 }),
    learner, audits: new Map(), checkpoint, log: captureLogger().logger, podOf: () => undefined,
  });
  sources.push(flowSources);
  flowSources.start([]);
  return { file, lines, learner, flowSources, checkpoint };
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
