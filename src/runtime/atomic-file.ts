/**
 * Replacing a small file so that a crash at any instant leaves either the old content or the new,
 * never a torn one: write a uniquely named temporary file beside it, fsync it, rename it over the
 * file (rename(2) is atomic within a filesystem), then fsync the directory so the rename itself
 * survives a power loss (best effort: some filesystems cannot fsync a directory).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes `text` to `file` atomically (see the module comment); creates the directory. Rejects when the file could not be written. */
export async function writeFileAtomically(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${randomUUID()}.tmp`;
  try {
    const handle = await open(temporary, 'w', 0o644);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  try {
    const directory = await open(dirname(file), 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  } catch {
    // not fatal: the file's data was synced
  }
}
