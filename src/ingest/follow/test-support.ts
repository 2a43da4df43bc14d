/**
 * Test helpers for the follower: Hubble export lines that carry a unique id (in the flow's time),
 * a sink that collects them, and a lumberjack-style writer working on real files.
 */
import { appendFile, mkdtemp, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ParseResult } from '../../domain/flow.js';
import { backupNameFor } from './backups.js';

/** Flow times are `BASE_TIME + id` ms. */
export const BASE_TIME = Date.UTC(2026, 10, 2, 10, 0, 0);

/** One Cilium exporter line (no newline) whose flow carries `id`; `pad` bytes of summary make it longer. */
export function flowLine(id: number, pad = 0): string {
  return JSON.stringify({
    flow: {
      time: new Date(BASE_TIME + id).toISOString(),
      verdict: 'FORWARDED',
      IP: { source: '10.244.1.23', destination: '10.244.2.41', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 40000 + (id % 20000), destination_port: 8080 } },
      Summary: `flow ${id}${'x'.repeat(pad)}`,
    },
    node_name: 'kind-worker',
    time: new Date(BASE_TIME + id).toISOString(),
  });
}

/** Lines for ids `from..to` (inclusive), each ending in `\n`. */
export function flowLines(from: number, to: number): string {
  let out = '';
  for (let id = from; id <= to; id++) out += `${flowLine(id)}\n`;
  return out;
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Collects sink results. */
export class Collector {
  readonly results: ParseResult[] = [];
  readonly sink = (result: ParseResult): void => {
    this.results.push(result);
  };

  /** Ids of the flows, in delivery order. */
  ids(): number[] {
    return this.results.flatMap((r) => (r.kind === 'flow' ? [r.flow.time - BASE_TIME] : []));
  }

  skips(): string[] {
    return this.results.flatMap((r) => (r.kind === 'skip' ? [r.reason] : []));
  }
}

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'hivewall-follow-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Writes the way Cilium's exporter does through lumberjack: appends to the live file; `rotate`
 * renames it to `name-<timestamp>.ext` and creates a new empty file at the path; `compress` gzips a
 * backup to `.gz` and then removes the plain file (lumberjack's `compressLogFile`).
 */
export class LumberjackWriter {
  private clock = Date.UTC(2026, 10, 2, 10, 30, 0);

  constructor(readonly path: string) {}

  append(text: string): Promise<void> {
    return appendFile(this.path, text);
  }

  /** Renames the live file to its next backup name and, unless `create` is false, creates a new one. */
  async rotate(create = true): Promise<string> {
    this.clock += 1000;
    const backup = join(dirname(this.path), backupNameFor(basename(this.path), new Date(this.clock)));
    await rename(this.path, backup);
    if (create) await writeFile(this.path, '');
    return backup;
  }

  async compress(backup: string, removePlain = true): Promise<string> {
    const gz = `${backup}.gz`;
    await writeFile(gz, gzipSync(await readFile(backup)));
    if (removePlain) await unlink(backup);
    return gz;
  }
}
