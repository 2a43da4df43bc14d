/**
 * Where a {@link FlowFileFollower} stands, persisted so an operator restart neither re-counts nor
 * misses a flow line: the file being read (identity + byte offset of the next unread line) and the
 * rotated backups already read to their end.
 *
 * The store is an interface: {@link FileCheckpointStore} (atomic write + rename) serves tests and
 * the CLI; the operator provides one backed by a Kubernetes object. Loaded content is parsed with
 * zod (docs/architecture.md §6 rule 2): anything else is an {@link InvalidCheckpointError}, never a guess.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomically } from '../../runtime/atomic-file.js';
import { HEAD_MAX_BYTES } from './files.js';

/**
 * Identifies a file independently of its name, so it can be found again after lumberjack renamed
 * (and perhaps gzipped) it. `dev` and `ino` (decimal strings: inode numbers may exceed 2^53) are
 * the cheap check for a plain file; the head — SHA-256 of the file's first `headLength` bytes
 * (its first line, at most 64 KiB) — survives compression, copying and a device renumbering, and
 * is authoritative when known. A Hubble export line starts with a nanosecond timestamp and a flow
 * UUID, so two files never share a first line in practice.
 */
export interface FileIdentity {
  readonly dev: string;
  readonly ino: string;
  /** Bytes hashed; absent while the file has no complete first line. */
  readonly headLength?: number;
  readonly headSha256?: string;
}

/**
 * The next byte to read. `offset` always sits on a line boundary, right after the last line
 * handed to the sink (bytes of the decompressed stream for a gzipped backup).
 */
export type CheckpointPosition =
  /** Inside the file that was live at the path (it may have been rotated away since). */
  | { readonly kind: 'live'; readonly file: FileIdentity; readonly offset: number }
  /** Inside a rotated backup, named by its uncompressed name (`events-<timestamp>.log`). */
  | { readonly kind: 'backup'; readonly name: string; readonly offset: number };

export interface Checkpoint {
  readonly version: 1;
  /** The followed live path (absolute); a checkpoint for another path is ignored. */
  readonly path: string;
  /** Absent before any file was opened. */
  readonly position?: CheckpointPosition;
  /**
   * Uncompressed names of rotated backups read to their end (or given up on), including files
   * that were read while live and rotated afterwards. Names of backups lumberjack has deleted are
   * pruned, except the newest, which marks how far the backups were read.
   */
  readonly backupsRead: readonly string[];
  /** When it was saved (ISO 8601); informational. */
  readonly savedAt: string;
}

/** Loads and saves one checkpoint. `load` resolves `undefined` when none was ever saved. */
export interface CheckpointStore {
  load(): Promise<Checkpoint | undefined>;
  save(checkpoint: Checkpoint): Promise<void>;
}

/** Stored content that is not a checkpoint (the follower then starts afresh and says so). */
export class InvalidCheckpointError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidCheckpointError';
  }
}

const Decimal = z.string().regex(/^\d+$/);
const Offset = z.number().int().nonnegative();
const CheckpointSchema = z.object({
  version: z.literal(1),
  path: z.string().min(1),
  position: z
    .discriminatedUnion('kind', [
      z.object({
        kind: z.literal('live'),
        file: z.object({
          dev: Decimal,
          ino: Decimal,
          // A head is never longer than HEAD_MAX_BYTES (follower.ts computeHead); a longer one is not ours.
          headLength: z.number().int().positive().max(HEAD_MAX_BYTES).optional(),
          headSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
        }),
        offset: Offset,
      }),
      z.object({ kind: z.literal('backup'), name: z.string().min(1), offset: Offset }),
    ])
    .optional(),
  backupsRead: z.array(z.string().min(1)),
  savedAt: z.string(),
});

/** Validates a decoded checkpoint; throws {@link InvalidCheckpointError} naming the first issue. */
export function parseCheckpoint(value: unknown): Checkpoint {
  const parsed = CheckpointSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '' : `${issue.path.map(String).join('.')}: `;
    throw new InvalidCheckpointError(`invalid follow checkpoint: ${where}${issue?.message ?? 'schema mismatch'}`);
  }
  return parsed.data as Checkpoint;
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

/**
 * A checkpoint in a JSON file. `save` writes a temporary file next to it, fsyncs it and renames it
 * over the old one (rename is atomic on POSIX filesystems), so a crash leaves either the old or
 * the new checkpoint, never a torn one.
 */
export class FileCheckpointStore implements CheckpointStore {
  constructor(readonly file: string) {}

  async load(): Promise<Checkpoint | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw error;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new InvalidCheckpointError(`invalid follow checkpoint ${this.file}: not JSON`, { cause: error });
    }
    return parseCheckpoint(value);
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    await writeFileAtomically(this.file, `${JSON.stringify(checkpoint)}\n`);
  }
}

/** A checkpoint kept in memory (tests; a follower that need not survive a restart). */
export class MemoryCheckpointStore implements CheckpointStore {
  saves = 0;
  constructor(public checkpoint?: Checkpoint) {}

  load(): Promise<Checkpoint | undefined> {
    return Promise.resolve(this.checkpoint === undefined ? undefined : structuredClone(this.checkpoint));
  }

  save(checkpoint: Checkpoint): Promise<void> {
    this.saves++;
    // Round-trip through JSON and the schema, like a real store: what cannot be stored fails here.
    this.checkpoint = parseCheckpoint(JSON.parse(JSON.stringify(checkpoint)));
    return Promise.resolve();
  }
}
