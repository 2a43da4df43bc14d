import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ParseResult } from '../../domain/flow.js';
import { readHubbleParallel } from './parallel.js';
import { readHubble } from './reader.js';

const dir = mkdtempSync(join(tmpdir(), 'hivewall-parallel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readHubbleParallel', () => {
  // Parser threads need the built JavaScript (parse-worker.js: test/learn/parallel-threads.test.ts
  // runs them); here the calling thread claims and parses every range itself, in order.
  it('on the calling thread alone, gives the single-thread reader\'s results in order, whatever the range size', async () => {
    const example = readFileSync(new URL('../../../examples/shop/flows.hubble.jsonl', import.meta.url), 'utf8').split('\n').slice(0, 300).join('\n');
    const path = join(dir, 'flows.jsonl');
    writeFileSync(path, `${example}\nnot json\n\n${example.slice(0, 3000)}`);
    const expected: ParseResult[] = [];
    await readHubble(path, (r) => expected.push(r));
    for (const rangeBytes of [997, 7777, 64 * 1024]) {
      const results: ParseResult[] = [];
      const stats = await readHubbleParallel(path, (r) => results.push(r), { workers: 1, rangeBytes });
      expect(stats.lines).toBe(expected.length);
      expect(stats.parsedByThreads).toBe(0);
      expect(results).toEqual(expected);
    }
  });
});
