/**
 * The follower under injected I/O faults (node:fs/promises wrapped): a transient error while
 * looking up a rotated file's backup neither re-reads nor loses it, and no descriptor the follower
 * opened outlives an error.
 */
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryCheckpointStore, type CheckpointStore } from './checkpoint.js';
import { FlowFileFollower } from './follower.js';
import { Collector, flowLines, LumberjackWriter, range, tempDir } from './test-support.js';

/** What the wrapped node:fs/promises does: which calls fail, and every handle opened. */
const faults = vi.hoisted(() => ({
  readdirCalls: 0,
  /** Fails the readdir call with this number (1-based, counted from the last reset). */
  failReaddirCall: new Set<number>(),
  /** How many `read`s on handles still to fail. */
  failReads: 0,
  handles: [] as { path: string; closed: boolean }[],
  reset(): void {
    this.readdirCalls = 0;
    this.failReaddirCall.clear();
    this.failReads = 0;
    this.handles.length = 0;
  },
}));

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const fault = (code: string, message: string) => Object.assign(new Error(`${code}: ${message}`), { code });
  const readdir = (async (...args: Parameters<typeof actual.readdir>) => {
    if (faults.failReaddirCall.has(++faults.readdirCalls)) throw fault('EMFILE', 'too many open files, scandir');
    return actual.readdir(...args);
  }) as typeof actual.readdir;
  const open = async (...args: Parameters<typeof actual.open>): Promise<FileHandle> => {
    const handle = await actual.open(...args);
    const record = { path: String(args[0]), closed: false };
    faults.handles.push(record);
    const close = handle.close.bind(handle);
    const read = handle.read.bind(handle) as (...a: unknown[]) => ReturnType<FileHandle['read']>;
    return Object.assign(handle, {
      close: () => {
        record.closed = true;
        return close();
      },
      read: (...a: unknown[]) => (faults.failReads > 0 && faults.failReads-- > 0 ? Promise.reject(fault('EIO', 'i/o error, read')) : read(...a)),
    });
  };
  return { ...actual, readdir, open, default: { ...actual, readdir, open } };
});

let dir: string;
let cleanup: () => Promise<void>;
let live: string;
let writer: LumberjackWriter;
const followers: FlowFileFollower[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  live = join(dir, 'events.log');
  writer = new LumberjackWriter(live);
  faults.reset();
});

afterEach(async () => {
  await Promise.all(followers.splice(0).map((f) => f.stop()));
  faults.reset();
  await cleanup();
});

function follower(collector: Collector, checkpoint: CheckpointStore = new MemoryCheckpointStore()): FlowFileFollower {
  const f = new FlowFileFollower({ path: live, checkpoint, sink: collector.sink, pollIntervalMs: 20, watch: false, checkpointIntervalMs: 0 });
  followers.push(f);
  return f;
}

/** Fails the next directory listing. */
function failNextListing(after = 0): void {
  faults.failReaddirCall.add(faults.readdirCalls + 1 + after);
}

const openHandles = () => faults.handles.filter((h) => !h.closed).map((h) => h.path);

describe('FlowFileFollower under I/O faults', () => {
  it('retries the lookup of a rotated file after a listing error: every line once, none lost', async () => {
    await writer.append(flowLines(1, 5));
    const seen = new Collector();
    const f = follower(seen);
    await f.drain();
    await writer.rotate();
    await writer.append(flowLines(6, 8));
    failNextListing(); // the first listing of this poll is the rotated file's lookup
    await f.drain();
    expect(f.stats()).toMatchObject({ errors: 1, rotations: 1, lastError: expect.stringContaining('find-rotated') });
    await f.drain();
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 8));
    expect(f.stats()).toMatchObject({ rotations: 1, backupsRead: 0 });
  });

  it('resumes exactly once when stopped while the rotated file could not be looked up', async () => {
    const store = new MemoryCheckpointStore();
    await writer.append(flowLines(1, 5));
    const seen = new Collector();
    const one = follower(seen, store);
    await one.drain();
    await writer.rotate();
    await writer.append(flowLines(6, 8));
    failNextListing();
    await one.drain();
    await one.stop();
    const two = follower(seen, store);
    await two.drain();
    expect(seen.ids()).toEqual(range(1, 8));
  });

  it('closes the live file it opened when the listing after opening it fails', async () => {
    await writer.append(flowLines(1, 3));
    const seen = new Collector();
    const f = follower(seen);
    failNextListing(1); // advance(): list, open the live file, list again (fails)
    await f.drain();
    expect(f.stats().errors).toBe(1);
    expect(openHandles()).toEqual([]);
    await f.drain();
    expect(seen.ids()).toEqual(range(1, 3));
    expect(openHandles()).toEqual([live]);
  });

  it('closes the live file it opened to resume when reading its head fails', async () => {
    const store = new MemoryCheckpointStore();
    await writer.append(flowLines(1, 3));
    const seen = new Collector();
    const one = follower(seen, store);
    await one.drain();
    await one.stop();
    expect(store.checkpoint?.position).toMatchObject({ kind: 'live', file: { headSha256: expect.any(String) } });
    await writer.append(flowLines(4, 5));
    const two = follower(seen, store);
    faults.handles.length = 0;
    faults.failReads = 1; // resumeLive → isSame: the head read
    await two.drain();
    expect(two.stats().errors).toBe(1);
    expect(openHandles()).toEqual([]);
    await two.drain();
    expect(seen.ids()).toEqual(range(1, 5));
    expect(openHandles()).toEqual([live]);
  });
});
