/**
 * readFlowInput on gzip input that breaks midway: the lines hubble/reader.ts would deliver are
 * delivered, the break is reported, and the file stream it opened is closed.
 */
import { randomBytes } from 'node:crypto';
import type { ReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readFlowInput } from './flow-input.js';
import { readHubble } from './hubble/reader.js';

/** Every stream fs.createReadStream made. */
const streams = vi.hoisted(() => [] as ReadStream[]);
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  const createReadStream = ((...args: Parameters<typeof actual.createReadStream>) => {
    const stream = actual.createReadStream(...args);
    streams.push(stream);
    return stream;
  }) as typeof actual.createReadStream;
  return { ...actual, createReadStream, default: { ...actual, createReadStream } };
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hivewall-flow-input-'));
  streams.length = 0;
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** `count` Hubble lines that hardly compress (so the member spans several 256 KiB reads). */
function lines(count: number): Buffer {
  let text = '';
  for (let i = 0; i < count; i++) {
    text += `${JSON.stringify({ flow: { time: '2024-05-02T09:14:03.512874321Z', verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' }, l4: { TCP: { source_port: 1000 + i, destination_port: 80 } }, Summary: randomBytes(40).toString('base64') } })}\n`;
  }
  return Buffer.from(text);
}

/** A valid gzip member, then a member header followed by garbage deflate data. */
function corruptMultiMember(valid: Buffer): Buffer {
  return Buffer.concat([gzipSync(valid), Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), Buffer.alloc(1024 * 1024, 0xff)]);
}

/** The lines hubble/reader.ts delivers from `path` before it rejects. */
async function readerLines(path: string): Promise<number> {
  let n = 0;
  await expect(readHubble(path, () => n++)).rejects.toThrow();
  return n;
}

async function expectClosed(path: string): Promise<void> {
  const opened = streams.filter((s) => s.path === path);
  expect(opened.length).toBeGreaterThan(0);
  await vi.waitFor(() => expect(opened.every((s) => s.closed)).toBe(true), { timeout: 2000, interval: 5 });
}

describe('readFlowInput on a corrupt multi-member gzip file', () => {
  it('delivers the lines before the break as hubble/reader.ts does, reports it, and closes the file', async () => {
    const path = join(dir, 'events.jsonl.gz');
    const file = corruptMultiMember(lines(8000));
    expect(file.length).toBeGreaterThan(256 * 1024 * 2);
    await writeFile(path, file);
    let delivered = 0;
    const stats = await readFlowInput({ path }, 'auto', () => delivered++);
    const expected = await readerLines(path);
    expect(expected).toBeGreaterThan(1000);
    expect(stats).toMatchObject({ format: 'hubble', gzip: true, lines: expected, error: expect.any(String) });
    expect(delivered).toBe(expected);
    await expectClosed(path);
  });

  it('closes the file when nothing could be inflated before the break (the early return)', async () => {
    const path = join(dir, 'small.jsonl.gz');
    await writeFile(path, corruptMultiMember(lines(10)));
    let delivered = 0;
    const stats = await readFlowInput({ path }, 'auto', () => delivered++);
    expect(delivered).toBe(await readerLines(path));
    expect(stats).toMatchObject({ gzip: true, lines: delivered, error: expect.any(String) });
    await expectClosed(path);
  });

  it('reads a valid gzip file whole and closes it', async () => {
    const path = join(dir, 'valid.jsonl.gz');
    await writeFile(path, gzipSync(lines(3000)));
    let delivered = 0;
    const stats = await readFlowInput({ path }, 'hubble', () => delivered++);
    expect(stats).toEqual({ name: path, format: 'hubble', gzip: true, lines: 3000 });
    expect(delivered).toBe(3000);
    await expectClosed(path);
  });
});
