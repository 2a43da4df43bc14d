import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PARALLEL_MIN_BYTES } from '../ingest/hubble/parser-threads.js';
import { parserThreadsWanted } from './parser-prestart.js';

const dir = mkdtempSync(join(tmpdir(), 'hivewall-prestart-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const large = join(dir, 'large.jsonl');
const small = join(dir, 'small.jsonl');
writeFileSync(large, Buffer.alloc(PARALLEL_MIN_BYTES, 0x20));
writeFileSync(small, Buffer.alloc(PARALLEL_MIN_BYTES - 1, 0x20));

describe('parserThreadsWanted', () => {
  it.each([
    ['learn on a large file: one thread per core but the calling one', ['learn', '--flows', large, '--out', 'x'], 4, 3],
    ['graph on a large file', ['graph', '--flows', large], 2, 1],
    ['--workers as the next argument', ['learn', '--workers', '3', '--flows', large], 8, 2],
    ['--workers=n and --flows=path', ['learn', `--flows=${large}`, '--workers=5'], 2, 4],
    ['--workers 1: no threads', ['learn', '--flows', large, '--workers', '1'], 4, 0],
    ['one large file among small ones', ['learn', '--flows', small, '--flows', large], 2, 1],
    ['only small files', ['learn', '--flows', small], 4, 0],
    ['standard input', ['learn', '--flows', '-'], 4, 0],
    ['a missing file', ['learn', '--flows', join(dir, 'missing.jsonl')], 4, 0],
    ['a folder', ['learn', '--flows', dir], 4, 0],
    ['one core', ['learn', '--flows', large], 1, 0],
    ['help', ['learn', '--flows', large, '--help'], 4, 0],
    ['-h', ['learn', '-h', '--flows', large], 4, 0],
    ['a value commander will refuse', ['learn', '--flows', large, '--workers', '1.5'], 4, 0],
    ['workers past the limit', ['learn', '--flows', large, '--workers', '65'], 4, 0],
    ['a flag without its value', ['learn', '--flows'], 4, 0],
    ['another command', ['operator', '--flows', large], 4, 0],
    ['no command', [], 4, 0],
    ['a file named like a flag after --', ['learn', '--', '--flows', large], 4, 0],
  ])('%s', (_name, argv, cores, wanted) => {
    expect(parserThreadsWanted(argv, cores)).toBe(wanted);
  });
});
