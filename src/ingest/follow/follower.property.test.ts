/**
 * Random writer/reader interleavings against real files: appends (whole lines and torn writes),
 * lumberjack rotations (with and without the new file created yet), gzip compression (finished or
 * in progress), polls, and restarts (between polls, or in the middle of a read). Whatever the
 * sequence, every line is delivered exactly once and in order. `FOLLOW_RUNS=2000` runs it longer.
 */
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FileCheckpointStore } from './checkpoint.js';
import { FlowFileFollower } from './follower.js';
import { Collector, flowLine, LumberjackWriter, range, tempDir } from './test-support.js';

type Op =
  | { readonly kind: 'append'; readonly lines: number }
  | { readonly kind: 'torn'; readonly cut: number }
  | { readonly kind: 'rotate'; readonly create: boolean }
  | { readonly kind: 'compress'; readonly which: number; readonly removePlain: boolean }
  | { readonly kind: 'finish-compression' }
  | { readonly kind: 'drain' }
  | { readonly kind: 'restart'; readonly afterLines: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), lines: fc.integer({ min: 1, max: 15 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('torn' as const), cut: fc.integer({ min: 1, max: 250 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rotate' as const), create: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compress' as const), which: fc.nat(), removePlain: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'finish-compression' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'drain' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), afterLines: fc.integer({ min: 0, max: 40 }) }) },
);

async function run(ops: readonly Op[]): Promise<void> {
  const { dir, cleanup } = await tempDir();
  try {
    const live = join(dir, 'events.log');
    const writer = new LumberjackWriter(live);
    const store = new FileCheckpointStore(join(dir, 'state', 'checkpoint.json'));
    const seen = new Collector();
    let nextId = 1;
    let torn = ''; // the rest of a line written in part
    let liveExists = false;
    let stopAfter: number | undefined;
    let current: FlowFileFollower;
    const make = () => {
      const f: FlowFileFollower = new FlowFileFollower({
        path: live,
        checkpoint: store,
        watch: false,
        chunkBytes: 1024,
        checkpointEveryLines: 7,
        sink: (result) => {
          seen.sink(result);
          if (stopAfter !== undefined && --stopAfter <= 0) {
            stopAfter = undefined;
            void f.stop();
          }
        },
      });
      return f;
    };
    current = make();
    const completeTorn = async () => {
      if (torn === '') return;
      await writer.append(`${torn}\n`);
      torn = '';
    };
    for (const step of ops) {
      switch (step.kind) {
        case 'append': {
          await completeTorn();
          let text = '';
          for (let i = 0; i < step.lines; i++) text += `${flowLine(nextId++)}\n`;
          await writer.append(text);
          liveExists = true;
          break;
        }
        case 'torn': {
          if (torn !== '') break;
          const line = flowLine(nextId++);
          const cut = Math.min(step.cut, line.length - 1);
          await writer.append(line.slice(0, cut));
          torn = line.slice(cut);
          liveExists = true;
          break;
        }
        case 'rotate': {
          if (!liveExists) break;
          await completeTorn(); // lumberjack writes whole lines: a rotation never splits one
          await writer.rotate(step.create);
          liveExists = step.create;
          break;
        }
        case 'compress': {
          const names = await readdir(dir);
          const plain = names.filter((n) => /^events-.*\.log$/.test(n) && !names.includes(`${n}.gz`)).sort();
          if (plain.length === 0) break;
          await writer.compress(join(dir, plain[step.which % plain.length]!), step.removePlain);
          break;
        }
        case 'finish-compression': {
          const names = await readdir(dir);
          for (const n of names) if (n.endsWith('.log.gz') && names.includes(n.slice(0, -3))) await unlink(join(dir, n.slice(0, -3)));
          break;
        }
        case 'drain':
          await current.drain();
          break;
        case 'restart': {
          if (step.afterLines > 0) {
            stopAfter = step.afterLines;
            await current.drain();
            stopAfter = undefined;
          }
          await current.stop();
          current = make();
          break;
        }
      }
    }
    await completeTorn();
    if (!liveExists) await writer.append('');
    await current.drain();
    await current.drain();
    await current.stop();
    expect(seen.skips()).toEqual([]);
    expect(seen.ids()).toEqual(range(1, nextId - 1));
  } finally {
    await cleanup();
  }
}

describe('FlowFileFollower under random rotations, compression and restarts', () => {
  it('delivers every line exactly once, in order', async () => {
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), run), { numRuns: Number(process.env.FOLLOW_RUNS ?? 60) });
  });
});
