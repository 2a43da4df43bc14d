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
  // Parser threads need the built JavaScript (parse-worker.js); here the calling thread parses
  // every range itself, through the same in-order delivery (and its compact encoding of the ranges
  // parsed ahead of the sink).
  it('on the calling thread alone, gives the single-thread reader\'s results in order, whatever the range size', async () => {
    const example = readFileSync(new URL('../../../examples/shop/flows.hubble.jsonl', import.meta.url), 'utf8').split('\n').slice(0, 300).join('\n');
    const path = join(dir, 'flows.jsonl');
    writeFileSync(path, `${example}\nnot json\n\n${example.slice(0, 3000)}`);
    const expected: ParseResult[] = [];
    await readHubble(path, (r) => expected.push(r));
    for (const rangeBytes of [997, 7777, 64 * 1024]) {
      const results: ParseResult[] = [];
      const lines = await readHubbleParallel(path, (r) => results.push(r), { workers: 1, rangeBytes });
      expect(lines).toBe(expected.length);
      expect(results).toEqual(expected);
    }
  });
});
