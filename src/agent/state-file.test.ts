import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureLogger } from '../runtime/testing.js';
import { AgentStateFile } from './state-file.js';

describe('AgentStateFile', () => {
  it('round-trips the count; no file is nothing unshipped', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'hivewall-state-')), 'sub', 'state.json');
    const state = new AgentStateFile(file, captureLogger().logger);
    expect(await state.readUnshipped()).toBe(0);
    await state.writeUnshipped(42);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ unshippedConnections: 42 });
    expect(await new AgentStateFile(file, captureLogger().logger).readUnshipped()).toBe(42);
  });

  it.each(['not json', '{"unshippedConnections":-1}', '{"unshippedConnections":1.5}', '[]'])('an invalid file (%s) is logged and read as nothing', async (text) => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'hivewall-state-')), 'state.json');
    await writeFile(file, text);
    const log = captureLogger();
    expect(await new AgentStateFile(file, log.logger).readUnshipped()).toBe(0);
    expect(log.find('the agent state file is invalid; ignored')).toHaveLength(1);
  });
});
