/**
 * `hivewall learn`'s parser threads for real: readHubbleParallel from the build (a parser thread
 * runs dist/src/ingest/hubble/parse-worker.js, so this needs `npm run build`, which test:all runs
 * first), with 2-4 threads claiming ranges of random sizes as their speeds allow, against the
 * single-thread reader on the same file. Whatever the split between the threads, the sink must see
 * the single-thread reader's results in the same order.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParseResult } from '../../src/domain/flow.js';
import { readHubble } from '../../src/ingest/hubble/reader.js';

type ParallelModule = typeof import('../../src/ingest/hubble/parallel.js');
type ThreadsModule = typeof import('../../src/ingest/hubble/parser-threads.js');

const built = new URL('../../dist/src/ingest/hubble/parallel.js', import.meta.url);
const builtThreads = new URL('../../dist/src/ingest/hubble/parser-threads.js', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'hivewall-parallel-threads-'));
let parallel: ParallelModule;
let threads: ThreadsModule;

beforeAll(async () => {
  parallel = (await import(built.href)) as ParallelModule;
  threads = (await import(builtThreads.href)) as ThreadsModule;
  expect(threads.parallelAvailable()).toBe(true);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fixtureLines = readFileSync(new URL('../../src/ingest/hubble/testdata/observe.jsonl', import.meta.url), 'utf8').split('\n').filter((l) => l !== '');
const exampleLines = readFileSync(new URL('../../examples/shop/flows.hubble.jsonl', import.meta.url), 'utf8').split('\n').slice(0, 2000).filter((l) => l !== '');

/** Example and fixture lines plus the awkward ones: blank, CRLF, non-JSON, lines the scanner leaves to the full parser, overlong. */
const line = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...exampleLines) },
  { weight: 2, arbitrary: fc.constantFrom(...fixtureLines) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', 'not json', '{"flow":', '{"lost_events":{"num_events_lost":"3"}}', '{"flow":{"time":"2024-05-02T09:00:00Z","verdict":"FORWARDED","source":{"namespace":"a\\u0062"}}}') },
  { weight: 1, arbitrary: fc.constantFrom(...exampleLines).map((l) => `${l}\r`) },
  { weight: 1, arbitrary: fc.integer({ min: 2500, max: 6000 }).map((n) => `{"flow":{"x":"${'a'.repeat(n)}"}}`) },
);

/** Blocks the calling thread, as a busy sink would. */
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

async function singleThread(path: string, maxLineBytes: number): Promise<ParseResult[]> {
  const results: ParseResult[] = [];
  await readHubble(path, (r) => results.push(r), { maxLineBytes });
  return results;
}

describe('readHubbleParallel with parser threads', () => {
  it('gives the single-thread reader\'s results in order, whatever the range size and the threads\' speeds', async () => {
    let run = 0;
    let threadRanges = 0;
    let allRanges = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { minLength: 150, maxLength: 700 }),
        fc.integer({ min: 2000, max: 60_000 }),
        fc.integer({ min: 2, max: 4 }),
        fc.constantFrom(1024 * 1024, 2000),
        // The sink stalls once, for long enough that the threads are up (a thread takes tens of
        // milliseconds to start; without the stall the calling thread parses a small file alone).
        fc.nat({ max: 699 }),
        fc.integer({ min: 60, max: 160 }),
        async (lines, rangeBytes, workers, maxLineBytes, stallAt, stallMs) => {
          const path = join(dir, `flows-${run++}.jsonl`);
          writeFileSync(path, `${lines.join('\n')}\n`);
          const expected = await singleThread(path, maxLineBytes);
          const results: ParseResult[] = [];
          const sink = (r: ParseResult) => {
            if (results.length === stallAt % expected.length) sleep(stallMs);
            results.push(r);
          };
          const stats = await parallel.readHubbleParallel(path, sink, { workers, rangeBytes, maxLineBytes });
          expect(stats.lines).toBe(expected.length);
          expect(results).toEqual(expected);
          threadRanges += stats.parsedByThreads;
          allRanges += stats.ranges;
          rmSync(path);
        },
      ),
      { numRuns: 25 },
    );
    // The split follows the threads' speeds, but over 25 files both sides must have taken ranges.
    expect(threadRanges).toBeGreaterThan(allRanges / 10);
    expect(threadRanges).toBeLessThan(allRanges);
  });

  it('a 12 MB file in the default 1 MiB ranges: the same results as one thread', async () => {
    // 8,000 example lines repeated: ~12 MB, a dozen 1 MiB ranges, so parser threads claim and post many.
    const path = join(dir, 'large.jsonl');
    const body = `${exampleLines.join('\n')}\n`;
    writeFileSync(path, body.repeat(Math.ceil(12_000_000 / body.length)));
    const expected = await singleThread(path, 1024 * 1024);
    for (const workers of [2, 3]) {
      const results: ParseResult[] = [];
      const stats = await parallel.readHubbleParallel(path, (r) => {
        if (results.length === 0) sleep(150);
        results.push(r);
      }, { workers });
      expect(stats.lines).toBe(expected.length);
      expect(results).toEqual(expected);
      expect(stats.parsedByThreads).toBeGreaterThan(0);
    }
  });

  it('a read takes the threads started early (as `hivewall learn` starts them) before starting new ones', async () => {
    const path = join(dir, 'early.jsonl');
    writeFileSync(path, `${exampleLines.join('\n')}\n`.repeat(2));
    const expected = await singleThread(path, 1024 * 1024);
    threads.prestartParserThreads(2);
    expect(threads.waitingParserThreads()).toBe(2);
    // The first read takes one of them; the second takes the other and starts one more.
    for (const workers of [2, 3]) {
      const results: ParseResult[] = [];
      const stats = await parallel.readHubbleParallel(path, (r) => {
        if (results.length === 0) sleep(150);
        results.push(r);
      }, { workers, rangeBytes: 64 * 1024 });
      expect(results).toEqual(expected);
      expect(stats.parsedByThreads).toBeGreaterThan(0);
    }
    expect(threads.waitingParserThreads()).toBe(0);
  });

  it('threads started early that no read takes do not keep the process alive', () => {
    const script = `import(${JSON.stringify(builtThreads.href)}).then((m) => { m.prestartParserThreads(2); console.log(m.waitingParserThreads()); });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('2\n');
  });
});
