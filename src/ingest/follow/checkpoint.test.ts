import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileCheckpointStore, InvalidCheckpointError, MemoryCheckpointStore, parseCheckpoint, type Checkpoint } from './checkpoint.js';
import { tempDir } from './test-support.js';

const checkpoint: Checkpoint = {
  version: 1,
  path: '/var/run/cilium/hubble/events.log',
  position: { kind: 'live', file: { dev: '2049', ino: '18446744073709551615', headLength: 812, headSha256: 'a'.repeat(64) }, offset: 4096 },
  backupsRead: ['events-2026-11-02T10-30-00.000.log'],
  savedAt: '2026-11-02T10:31:00.000Z',
};

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

describe('FileCheckpointStore', () => {
  it('loads nothing before the first save, then what was saved (inode numbers beyond 2^53 intact)', async () => {
    const store = new FileCheckpointStore(join(dir, 'a', 'b', 'checkpoint.json'));
    await expect(store.load()).resolves.toBeUndefined();
    await store.save(checkpoint);
    await expect(store.load()).resolves.toEqual(checkpoint);
    await store.save({ ...checkpoint, position: { kind: 'backup', name: 'events-2026-11-02T10-30-00.000.log', offset: 10 } });
    await expect(store.load()).resolves.toMatchObject({ position: { kind: 'backup', offset: 10 } });
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['checkpoint.json']);
  });

  it.each([
    ['not JSON', '{"version":1,'],
    ['another version', JSON.stringify({ ...checkpoint, version: 2 })],
    ['a negative offset', JSON.stringify({ ...checkpoint, position: { ...checkpoint.position, offset: -1 } })],
    ['an inode that is not a decimal', JSON.stringify({ ...checkpoint, position: { kind: 'live', file: { dev: '1', ino: 12 }, offset: 0 } })],
    ['a head longer than HEAD_MAX_BYTES', JSON.stringify({ ...checkpoint, position: { kind: 'live', file: { dev: '1', ino: '2', headLength: 2 ** 31, headSha256: 'a'.repeat(64) }, offset: 10 } })],
  ])('rejects %s as an InvalidCheckpointError', async (_name, content) => {
    const file = join(dir, 'checkpoint.json');
    await writeFile(file, content);
    await expect(new FileCheckpointStore(file).load()).rejects.toBeInstanceOf(InvalidCheckpointError);
  });

  it('passes I/O errors through (a directory where the file should be)', async () => {
    await expect(new FileCheckpointStore(dir).load()).rejects.not.toBeInstanceOf(InvalidCheckpointError);
  });
});

describe('MemoryCheckpointStore and parseCheckpoint', () => {
  it('round-trips through the schema', async () => {
    const store = new MemoryCheckpointStore();
    await store.save(checkpoint);
    await expect(store.load()).resolves.toEqual(checkpoint);
    expect(store.saves).toBe(1);
    expect(parseCheckpoint({ version: 1, path: '/x', backupsRead: [], savedAt: '' })).toEqual({ version: 1, path: '/x', backupsRead: [], savedAt: '' });
  });
});
