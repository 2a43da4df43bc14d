import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomically } from './atomic-file.js';

describe('writeFileAtomically', () => {
  it('replaces the file whole, creating its directory, and leaves no temporary file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hivewall-atomic-'));
    const file = join(dir, 'state', 'point.json');
    await writeFileAtomically(file, '{"a":1}');
    await writeFileAtomically(file, '{"a":2}');
    expect(await readFile(file, 'utf8')).toBe('{"a":2}');
    expect(await readdir(join(dir, 'state'))).toEqual(['point.json']);
  });

  it('a write that cannot land rejects, keeps the old content and removes its temporary file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hivewall-atomic-'));
    const file = join(dir, 'point.json');
    await mkdir(file); // a directory in the way: the rename over it fails
    await writeFile(join(file, 'keep'), 'old');
    await expect(writeFileAtomically(file, 'new')).rejects.toThrow();
    expect(await readFile(join(file, 'keep'), 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['point.json']);
  });
});
