/**
 * Small file helpers for the follower: stat without throwing on a missing path, directory
 * listing, and a file's head (its first bytes, decompressed when the file is gzip) used to
 * recognise a file after lumberjack renamed and perhaps compressed it.
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';

/** The head hashed to identify a file: its first line, capped at this many bytes. */
export const HEAD_MAX_BYTES = 64 * 1024;

/** gzip magic bytes `1f 8b` (RFC 1952 §2.3.1). */
export function isGzipMagic(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

/** A short description for stats and logs: `EACCES: permission denied, open '…'`. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** True for the errors that mean "nothing at this path". */
export function isMissing(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** `stat` with bigint inode numbers; `undefined` when nothing is at `path`. Other errors throw. */
export async function statOrMissing(path: string): Promise<BigIntStats | undefined> {
  try {
    return await stat(path, { bigint: true });
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** The names in `dir`; none when it does not exist. Other errors throw. */
export async function listDirectory(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

export function sha256Hex(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/**
 * The first `length` bytes of the file at `path`, decompressed when it is gzip; `undefined` when
 * the file is shorter, missing, unreadable or corrupt (a head that cannot be read matches nothing),
 * and for a `length` over {@link HEAD_MAX_BYTES}, which no head has.
 */
export async function readFileHead(path: string, length: number): Promise<Buffer | undefined> {
  if (length > HEAD_MAX_BYTES) return undefined;
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const magic = Buffer.alloc(2);
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    if (bytesRead === 2 && isGzipMagic(magic)) return await gunzipHead(handle.createReadStream({ start: 0, autoClose: false }), length);
    const head = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead: n } = await handle.read(head, filled, length - filled, filled);
      if (n === 0) return undefined;
      filled += n;
    }
    return head;
  } catch {
    return undefined;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Inflates only as much of `input` as it takes to get `length` bytes. */
async function gunzipHead(input: NodeJS.ReadableStream & { destroy(): void }, length: number): Promise<Buffer | undefined> {
  const inflater = createGunzip();
  input.on('error', (error: Error) => inflater.destroy(error));
  input.pipe(inflater);
  const parts: Buffer[] = [];
  let have = 0;
  try {
    for await (const chunk of inflater) {
      const buf = chunk as Buffer;
      parts.push(buf);
      have += buf.length;
      if (have >= length) return Buffer.concat(parts).subarray(0, length);
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    input.destroy();
    inflater.destroy();
  }
}
