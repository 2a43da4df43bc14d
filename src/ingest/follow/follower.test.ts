import { Buffer } from 'node:buffer';
import { chmod, mkdir, readdir, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { captureLogger } from '../../runtime/testing.js';
import { backupNameFor } from './backups.js';
import { FileCheckpointStore, MemoryCheckpointStore, type CheckpointStore } from './checkpoint.js';
import { FlowFileFollower, type FlowFileFollowerOptions } from './follower.js';
import { Collector, flowLine, flowLines, LumberjackWriter, range, tempDir } from './test-support.js';
import { Gate } from '../intake-gate.js';

let dir: string;
let cleanup: () => Promise<void>;
let live: string;
let writer: LumberjackWriter;
const followers: FlowFileFollower[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  live = join(dir, 'events.log');
  writer = new LumberjackWriter(live);
});

afterEach(async () => {
  await Promise.all(followers.splice(0).map((f) => f.stop()));
  await cleanup();
});

function follower(collector: Collector, checkpoint: CheckpointStore = new MemoryCheckpointStore(), options: Partial<FlowFileFollowerOptions> = {}): FlowFileFollower {
  const f = new FlowFileFollower({ path: live, checkpoint, sink: collector.sink, pollIntervalMs: 20, watch: false, ...options });
  followers.push(f);
  return f;
}

describe('FlowFileFollower: appends and partial lines', () => {
  it('reads the existing file, then what is appended between drains', async () => {
    await writer.append(flowLines(1, 10));
    const seen = new Collector();
    const f = follower(seen);
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 10));
    await writer.append(flowLines(11, 25));
    await f.drain();
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 25));
    expect(f.stats()).toMatchObject({ lines: 25, flows: 25, rotations: 0, truncations: 0, errors: 0 });
  });

  it('follows appends while running (poll + fs.watch hint)', async () => {
    await writer.append(flowLines(1, 3));
    const seen = new Collector();
    const f = follower(seen, new MemoryCheckpointStore(), { watch: true, pollIntervalMs: 50 });
    f.start();
    await vi.waitFor(() => expect(seen.ids()).toEqual(range(1, 3)), { timeout: 2000, interval: 5 });
    for (let id = 4; id <= 40; id += 4) await writer.append(flowLines(id, id + 3));
    await vi.waitFor(() => expect(seen.ids()).toEqual(range(1, 43)), { timeout: 2000, interval: 5 });
    await f.stop();
  });

  it('keeps a partial last line until its newline arrives, and never checkpoints past it', async () => {
    const store = new MemoryCheckpointStore();
    const seen = new Collector();
    const f = follower(seen, store, { checkpointIntervalMs: 0 });
    const first = `${flowLine(1)}\n`;
    const second = flowLine(2);
    await writer.append(first + second.slice(0, 40));
    await f.drain();
    expect(seen.results).toHaveLength(1);
    expect(store.checkpoint?.position).toMatchObject({ kind: 'live', offset: Buffer.byteLength(first) });
    await writer.append(second.slice(40, 100));
    await f.drain();
    expect(seen.results).toHaveLength(1);
    await writer.append(`${second.slice(100)}\n`);
    await f.drain();
    expect(seen.ids()).toEqual([1, 2]);
    expect(seen.skips()).toEqual([]);
    expect(store.checkpoint?.position).toMatchObject({ kind: 'live', offset: Buffer.byteLength(first + second) + 1 });
  });
});

describe('FlowFileFollower: rotation by rename (lumberjack)', () => {
  it('finishes the old file after a rotation that happened while a line was half read', async () => {
    const seen = new Collector();
    const f = follower(seen);
    const half = flowLine(3);
    await writer.append(flowLines(1, 2) + half.slice(0, 50));
    await f.drain();
    expect(seen.ids()).toEqual([1, 2]);
    // The writer completes the line, lumberjack rotates, the new file gets more lines.
    await writer.append(`${half.slice(50)}\n`);
    await writer.rotate();
    await writer.append(flowLines(4, 6));
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 6));
    expect(f.stats()).toMatchObject({ rotations: 1, backupsRead: 0, lines: 6 });
    // The backup is the old file: recognised, never read again.
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 6));
  });

  it('delivers the unterminated last line of a rotated file once; half a line is a malformed skip, never a flow', async () => {
    const seen = new Collector();
    const f = follower(seen);
    await writer.append(flowLines(1, 2) + flowLine(3)); // complete JSON, no newline
    await f.drain();
    expect(seen.ids()).toEqual([1, 2]);
    await writer.rotate();
    await writer.append(flowLines(4, 5) + flowLine(6).slice(0, 30)); // then a torn write
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 5));
    await writer.rotate();
    await writer.append(flowLines(7, 8));
    await f.drain();
    await f.drain();
    expect(seen.ids()).toEqual([1, 2, 3, 4, 5, 7, 8]);
    expect(seen.skips()).toEqual(['malformed']);
    expect(f.stats()).toMatchObject({ rotations: 2, lines: 8 });
  });

  it('handles several rotations between two polls, and a path missing between rename and create', async () => {
    const seen = new Collector();
    const f = follower(seen);
    await writer.append(flowLines(1, 5));
    await f.drain();
    await writer.append(flowLines(6, 8));
    await writer.rotate();
    await writer.append(flowLines(9, 20));
    await writer.rotate();
    await writer.append(flowLines(21, 30));
    await writer.rotate(false); // renamed, not yet recreated
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 8)); // the old descriptor is read to its end; the path is empty
    await writer.append(flowLines(31, 33)); // creates the new live file
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 33));
    expect(f.stats()).toMatchObject({ rotations: 1, backupsRead: 2, lostFiles: 0 });
  });

  it('recognises its file after the mill gzipped it, and reads a backup being compressed once', async () => {
    const seen = new Collector();
    const f = follower(seen);
    await writer.append(flowLines(1, 4));
    await f.drain();
    await writer.append(flowLines(5, 6));
    const first = await writer.rotate();
    await writer.compress(first); // plain removed: only the .gz has the old file's lines
    await writer.append(flowLines(7, 9));
    const second = await writer.rotate();
    await writer.compress(second, false); // compression in progress: both exist
    await writer.append(flowLines(10, 12));
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 12));
    expect(f.stats()).toMatchObject({ rotations: 1, backupsRead: 1 });
    await unlink(second);
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 12));
  });

  it('rotates while running with start()', async () => {
    const seen = new Collector();
    const f = follower(seen, new MemoryCheckpointStore(), { pollIntervalMs: 10, watch: true });
    await writer.append(flowLines(1, 10));
    f.start();
    await vi.waitFor(() => expect(seen.ids()).toHaveLength(10), { timeout: 2000, interval: 5 });
    let next = 11;
    for (let round = 0; round < 5; round++) {
      await writer.append(flowLines(next, next + 9));
      next += 10;
      await writer.rotate();
    }
    await writer.append(flowLines(next, next + 4));
    await vi.waitFor(() => expect(seen.ids()).toHaveLength(next + 4), { timeout: 2000, interval: 5 });
    await f.stop();
    expect(seen.ids()).toEqual(range(1, next + 4));
  });
});

describe('FlowFileFollower: backups on first start', () => {
  it('reads the plain and gzipped backups oldest first, each once, then the live file', async () => {
    await writer.append(flowLines(1, 5));
    await writer.compress(await writer.rotate());
    await writer.append(flowLines(6, 10));
    await writer.rotate();
    await writer.append(flowLines(11, 15));
    await writer.compress(await writer.rotate());
    await writer.append(flowLines(16, 20));
    // Not backups of events.log: ignored.
    await writeFile(join(dir, 'events-old.log'), flowLines(900, 901));
    await writeFile(join(dir, 'other-2026-11-02T10-00-00.000.log'), flowLines(902, 903));
    const seen = new Collector();
    const store = new MemoryCheckpointStore();
    const f = follower(seen, store);
    await f.drain();
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 20));
    expect(f.stats()).toMatchObject({ backupsRead: 3, rotations: 0 });
    await f.stop();
    expect(store.checkpoint?.backupsRead).toHaveLength(3);
  });
});

describe('FlowFileFollower: truncation', () => {
  it('reads from the start after the file shrank below the offset', async () => {
    const seen = new Collector();
    const f = follower(seen);
    await writer.append(flowLines(1, 10));
    await f.drain();
    await truncate(live, 0);
    await writer.append(flowLines(11, 12));
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 12));
    expect(f.stats().truncations).toBe(1);
  });
});

describe('FlowFileFollower: restart from a checkpoint', () => {
  it('resumes in the middle of the live file: every line exactly once', async () => {
    const store = new FileCheckpointStore(join(dir, 'state', 'checkpoint.json'));
    const seen = new Collector();
    await writer.append(flowLines(1, 10) + flowLine(11).slice(0, 20));
    const one = follower(seen, store);
    await one.drain();
    await one.stop();
    expect(seen.ids()).toEqual(range(1, 10));
    await writer.append(`${flowLine(11).slice(20)}\n${flowLines(12, 20)}`);
    const two = follower(seen, store);
    await two.drain();
    expect(seen.ids()).toEqual(range(1, 20));
    await two.stop();
    const three = follower(seen, store);
    await three.drain();
    expect(seen.ids()).toEqual(range(1, 20));
  });

  it('resumes after rotations happened while stopped (the checkpointed file now gzipped): exactly once', async () => {
    const store = new FileCheckpointStore(join(dir, 'checkpoint.json'));
    const seen = new Collector();
    // Backups present on first start.
    await writer.append(flowLines(1, 5));
    await writer.compress(await writer.rotate());
    await writer.append(flowLines(6, 10));
    const one = follower(seen, store);
    await one.drain();
    await writer.append(flowLines(11, 15));
    await writer.rotate();
    await writer.append(flowLines(16, 20));
    await one.drain();
    await one.stop();
    expect(seen.ids()).toEqual(range(1, 20));
    // While stopped: more lines, a rotation (gzipped), another one, a new live file.
    await writer.append(flowLines(21, 30));
    await writer.compress(await writer.rotate());
    await writer.append(flowLines(31, 40));
    await writer.rotate();
    await writer.append(flowLines(41, 45));
    const two = follower(seen, store);
    await two.drain();
    await two.drain();
    expect(seen.ids()).toEqual(range(1, 45));
    expect(two.stats()).toMatchObject({ backupsRead: 2, lostFiles: 0 });
    await two.stop();
    const three = follower(seen, store);
    await three.drain();
    expect(seen.ids()).toEqual(range(1, 45));
  });

  it('resumes inside a backup it was reading when stopped', async () => {
    const store = new MemoryCheckpointStore();
    await writer.append(flowLines(1, 300));
    await writer.compress(await writer.rotate());
    await writer.append(flowLines(301, 310));
    const seen = new Collector();
    const stopper = new Collector();
    const one: FlowFileFollower = new FlowFileFollower({
      path: live,
      checkpoint: store,
      watch: false,
      chunkBytes: 4096,
      sink: (result) => {
        stopper.sink(result);
        seen.sink(result);
        if (stopper.ids().length === 100) void one.stop(); // stops between two chunks of the backup
      },
    });
    followers.push(one);
    await one.drain();
    await one.stop();
    expect(store.checkpoint?.position).toMatchObject({ kind: 'backup' });
    const partial = seen.ids().length;
    expect(partial).toBeGreaterThanOrEqual(100);
    expect(partial).toBeLessThan(300);
    const two = follower(seen, store);
    await two.drain();
    expect(seen.ids()).toEqual(range(1, 310));
  });

  it('restarts right when its file, read only up to a torn first line, was rotated, gzipped and its inode reused', async () => {
    const store = new MemoryCheckpointStore();
    const seen = new Collector();
    const line = flowLine(1);
    await writer.append(line.slice(0, 1));
    const one = follower(seen, store);
    await one.drain();
    await writer.append(`${line.slice(1)}\n`);
    const backup = await writer.rotate(false);
    await one.stop();
    expect(store.checkpoint?.position).toMatchObject({ kind: 'live', offset: 0 });
    await writer.compress(backup); // frees the inode…
    await writer.append(flowLines(2, 3)); // …which the new live file may well get
    const two = follower(seen, store);
    await two.drain();
    expect(seen.ids()).toEqual(range(1, 3));
  });

  it('counts a checkpointed file deleted (max-backups) while stopped as lost, and reads what is left once', async () => {
    const store = new MemoryCheckpointStore();
    const seen = new Collector();
    await writer.append(flowLines(1, 5));
    const one = follower(seen, store);
    await one.drain();
    await one.stop();
    await writer.append(flowLines(6, 10));
    await unlink(await writer.rotate());
    await writer.append(flowLines(11, 15));
    await writer.rotate();
    await writer.append(flowLines(16, 20));
    const two = follower(seen, store);
    await two.drain();
    expect(seen.ids()).toEqual([...range(1, 5), ...range(11, 20)]);
    expect(two.stats()).toMatchObject({ lostFiles: 1, backupsRead: 1 });
  });

  it('starts afresh, and says so, when the checkpoint file is not a checkpoint', async () => {
    const file = join(dir, 'checkpoint.json');
    await writeFile(file, '{"version":1,"path":');
    await writer.append(flowLines(1, 3));
    const seen = new Collector();
    const f = follower(seen, new FileCheckpointStore(file));
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 3));
    expect(f.stats().errors).toBe(1);
    await f.stop();
    await expect(new FileCheckpointStore(file).load()).resolves.toMatchObject({ position: { kind: 'live' } });
  });

  it('starts afresh when the checkpoint names a head longer than any head (2^31 bytes), allocating nothing', async () => {
    await writer.append(flowLines(1, 5));
    const { dev, ino } = await stat(live, { bigint: true });
    const file = join(dir, 'checkpoint.json');
    const position = { kind: 'live', file: { dev: String(dev), ino: String(ino), headLength: 2 ** 31, headSha256: 'a'.repeat(64) }, offset: 10 };
    await writeFile(file, JSON.stringify({ version: 1, path: live, position, backupsRead: [], savedAt: '' }));
    const seen = new Collector();
    const f = follower(seen, new FileCheckpointStore(file));
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 5));
    expect(f.stats()).toMatchObject({ errors: 1, lastError: expect.stringContaining('headLength') });
  });

  it('never reads a head longer than HEAD_MAX_BYTES, even from a store that does not validate', async () => {
    await writer.append(flowLines(1, 5));
    const { dev, ino } = await stat(live, { bigint: true });
    const position = { kind: 'live', file: { dev: String(dev), ino: String(ino), headLength: 2 ** 45, headSha256: 'a'.repeat(64) }, offset: 10 } as const;
    const seen = new Collector();
    const f = follower(seen, new MemoryCheckpointStore({ version: 1, path: live, position, backupsRead: [], savedAt: '' }));
    await f.drain();
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 5));
    expect(f.stats().errors).toBe(0);
  });

  it('saves after batches (throttled), always on a line boundary', async () => {
    const store = new MemoryCheckpointStore();
    const seen = new Collector();
    const f = follower(seen, store, { checkpointEveryLines: 50, checkpointIntervalMs: 60_000, chunkBytes: 2048 });
    const text = flowLines(1, 200);
    await writer.append(text);
    await f.drain();
    const saves = store.saves;
    expect(saves).toBeGreaterThanOrEqual(2);
    expect(saves).toBeLessThan(20);
    const offset = store.checkpoint?.position?.offset ?? -1;
    expect(offset === 0 || text[offset - 1] === '\n').toBe(true);
    await f.stop();
    expect(store.checkpoint?.position?.offset).toBe(Buffer.byteLength(text));
  });
});

describe('FlowFileFollower: backpressure (a shut gate)', () => {
  /** A sink that shuts `gate` once `after` flows arrived, as the operator's FlowSources does at its bound. */
  const shutting = (seen: Collector, gate: Gate, after: number) => (result: Parameters<Collector['sink']>[0]) => {
    seen.sink(result);
    if (seen.ids().length === after) gate.shut();
  };

  it('reads nothing more while the gate is shut, and goes on from the same line once it opens: every line once, in order', async () => {
    await writer.append(flowLines(1, 200));
    const gate = new Gate();
    const seen = new Collector();
    const lineBytes = flowLine(1).length + 1;
    const f = follower(seen, new MemoryCheckpointStore(), { gate, chunkBytes: 4096, sink: shutting(seen, gate, 20) });
    f.start();
    await vi.waitFor(() => expect(gate.isOpen).toBe(false), { timeout: 2000, interval: 5 });
    await new Promise((resolve) => setTimeout(resolve, 200)); // ten polls' worth
    const paused = seen.ids().length;
    // The chunk that reached the bound is finished, nothing after it is read.
    expect(paused).toBeGreaterThanOrEqual(20);
    expect(paused).toBeLessThan(20 + Math.ceil(4096 / lineBytes) + 1);
    expect(f.stats().offset).toBe(Buffer.byteLength(flowLines(1, paused)));
    gate.open();
    await vi.waitFor(() => expect(seen.ids()).toEqual(range(1, 200)), { timeout: 2000, interval: 5 });
    await writer.append(flowLines(201, 210));
    await vi.waitFor(() => expect(seen.ids()).toEqual(range(1, 210)), { timeout: 2000, interval: 5 });
  });

  it('pauses inside a gzipped backup too; a stop while paused ends at once, and the next process resumes exactly once', async () => {
    await writer.append(flowLines(1, 300));
    await writer.compress(await writer.rotate());
    await writer.append(flowLines(301, 310));
    const store = new MemoryCheckpointStore();
    const gate = new Gate();
    const seen = new Collector();
    const one = follower(seen, store, { gate, chunkBytes: 4096, sink: shutting(seen, gate, 50) });
    one.start();
    await vi.waitFor(() => expect(gate.isOpen).toBe(false), { timeout: 2000, interval: 5 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const paused = seen.ids().length;
    expect(paused).toBeLessThan(300);
    const stopping = one.stop();
    const stoppedInTime = await Promise.race([stopping.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 1000))]);
    expect(stoppedInTime).toBe(true);
    expect(seen.ids().length).toBe(paused);
    expect(store.checkpoint?.position).toMatchObject({ kind: 'backup' });
    const two = follower(seen, store);
    await two.drain();
    expect(seen.ids()).toEqual(range(1, 310));
  });
});

describe('FlowFileFollower: long lines, corrupt backups, missing and unreadable files', () => {
  it('skips a 2 MB line as too-long (default 1 MiB limit), even when it arrives in pieces', async () => {
    const seen = new Collector();
    const f = follower(seen);
    const big = `${flowLine(2, 2 * 1024 * 1024)}\n`;
    await writer.append(`${flowLine(1)}\n${big.slice(0, 1_500_000)}`);
    await f.drain();
    await writer.append(big.slice(1_500_000));
    await writer.append(flowLines(3, 4));
    await f.drain();
    expect(seen.ids()).toEqual([1, 3, 4]);
    expect(seen.skips()).toEqual(['too-long']);
  });

  it('parses a 2 MB line when the limit allows it', async () => {
    const seen = new Collector();
    const f = follower(seen, new MemoryCheckpointStore(), { maxLineBytes: 4 * 1024 * 1024 });
    await writer.append(`${flowLine(1)}\n${flowLine(2, 2 * 1024 * 1024)}\n${flowLine(3)}\n`);
    await f.drain();
    expect(seen.ids()).toEqual([1, 2, 3]);
  });

  it('reports a corrupt gzip backup, skips it once and for all, and reads the rest', async () => {
    await writer.append(flowLines(1, 5));
    await writer.rotate();
    await writer.append(flowLines(6, 400));
    const corrupt = await writer.compress(await writer.rotate());
    const gz = gzipSync(Buffer.from(flowLines(6, 400)));
    await writeFile(corrupt, gz.subarray(0, Math.floor(gz.length / 2))); // cut in half
    await writer.append(flowLines(401, 405));
    await writer.rotate();
    await writeFile(join(dir, backupNameFor('events.log', new Date(Date.UTC(2026, 10, 2, 11))) + '.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6]));
    await writer.append(flowLines(406, 410));
    const store = new MemoryCheckpointStore();
    const seen = new Collector();
    const f = follower(seen, store);
    await f.drain();
    const ids = seen.ids();
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.slice(0, 5)).toEqual(range(1, 5));
    expect(ids.slice(-5)).toEqual(range(406, 410));
    expect(ids).toEqual(expect.arrayContaining(range(401, 405)));
    expect(seen.skips()).toEqual([]);
    expect(f.stats()).toMatchObject({ corruptBackups: 2, backupsRead: 2 });
    expect(f.stats().errors).toBeGreaterThanOrEqual(2);
    await f.drain();
    await f.stop();
    const again = new Collector();
    const g = follower(again, store);
    await g.drain();
    expect(again.results).toEqual([]);
  });

  it('waits for a file that appears later (and for its directory)', async () => {
    live = join(dir, 'not-yet', 'events.log');
    writer = new LumberjackWriter(live);
    const seen = new Collector();
    const f = follower(seen, new MemoryCheckpointStore(), { watch: true });
    await f.drain();
    await f.drain();
    expect(f.stats()).toMatchObject({ waiting: true, missing: 2, errors: 0 });
    await mkdir(join(dir, 'not-yet'));
    await f.drain();
    await writer.append(flowLines(1, 3));
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 3));
    expect(f.stats().waiting).toBe(false);
  });

  it('reports a path that is not a regular file and recovers when it becomes one', async () => {
    await mkdir(live);
    const seen = new Collector();
    const f = follower(seen);
    await f.drain();
    expect(f.stats().errors).toBe(1);
    expect(f.stats().lastError).toMatch(/not a regular file/);
    await rm(live, { recursive: true });
    await writer.append(flowLines(1, 2));
    await f.drain();
    expect(seen.ids()).toEqual([1, 2]);
  });

  it('reports a backup it cannot read, skips it, and reads the rest', async () => {
    await writer.append(flowLines(1, 2));
    await writer.rotate();
    await mkdir(join(dir, backupNameFor('events.log', new Date(Date.UTC(2026, 10, 2, 10, 30, 1, 500))))); // EISDIR on read
    await writer.append(flowLines(3, 4));
    await writer.rotate();
    await writer.append(flowLines(5, 6));
    const seen = new Collector();
    const f = follower(seen);
    await f.drain();
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 6));
    expect(f.stats()).toMatchObject({ errors: 1, backupsRead: 2 });
    expect(f.stats().lastError).toMatch(/EISDIR/);
  });

  it.skipIf(process.getuid?.() === 0)('reports a permission error and retries on the next poll', async () => {
    await writer.append(flowLines(1, 2));
    await chmod(live, 0o000);
    const seen = new Collector();
    const f = follower(seen);
    await f.drain();
    expect(f.stats().errors).toBe(1);
    expect(f.stats().lastError).toMatch(/EACCES/);
    await chmod(live, 0o644);
    await f.drain();
    expect(seen.ids()).toEqual([1, 2]);
  });

  it('counts a throwing sink and keeps going', async () => {
    await writer.append(flowLines(1, 4));
    const ids: number[] = [];
    const f = new FlowFileFollower({
      path: live,
      checkpoint: new MemoryCheckpointStore(),
      watch: false,
      sink: (result) => {
        if (result.kind === 'flow') ids.push(result.flow.time);
        if (ids.length === 2) throw new Error('boom');
      },
    });
    followers.push(f);
    await f.drain();
    expect(ids).toHaveLength(4);
    expect(f.stats()).toMatchObject({ sinkErrors: 1, lines: 4 });
  });

  it('logs a failure as the Error itself (type, message, stack under err), not its message', async () => {
    await writer.append(flowLines(1, 2));
    const log = captureLogger();
    const f = follower(new Collector(), new MemoryCheckpointStore(), {
      logger: log.logger,
      sink: () => { throw new TypeError('sink bug'); },
    });
    await f.drain();
    const line = log.find('flow sink threw')[0];
    expect(line?.['err']).toMatchObject({ type: 'TypeError', message: 'sink bug', stack: expect.stringContaining('TypeError: sink bug') });
  });

  it('leaves nothing but the live file, its backups and the checkpoint in the directory', async () => {
    const store = new FileCheckpointStore(join(dir, 'checkpoint.json'));
    await writer.append(flowLines(1, 3));
    const f = follower(new Collector(), store);
    await f.drain();
    await f.stop();
    expect((await readdir(dir)).sort()).toEqual(['checkpoint.json', 'events.log']);
  });
});
