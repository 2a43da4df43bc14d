/**
 * Follows Cilium's Hubble flow-export file (`hubble-export-file-path`) the way `tail -F` follows
 * a log: by name, across rotations, from where it stopped last time. Each complete line goes
 * through the Hubble parser (the byte scanner of ../hubble, lines split by ../lines.ts) and its
 * {@link ParseResult} is handed to the sink, once.
 *
 * What the exporter does, and what this module does about it:
 *
 * - **Appends.** The file is polled (`pollIntervalMs`, works on any filesystem); `fs.watch` on the
 *   directory, when it works, only makes the next poll come sooner. A line is handed over when its
 *   `\n` has arrived; a partial last line waits (never parsed half), as with `tail -F`.
 * - **Rotation by rename** (natefinch/lumberjack, which the exporter writes through: "If a write
 *   would cause the log file to be larger than MaxSize, the file is closed, renamed to include a
 *   timestamp of the current time, and a new log file is created using the original log file
 *   name" — between two writes, so a line written in one write is never split across files).
 *   A poll stats the path *before* draining the open descriptor; when the path then names another
 *   inode, everything the writer put in the old file was written before the rename and has just
 *   been read, so the old file is finished (a last line without `\n` is handed over as it is: a
 *   rotated file never grows) and the new one is read from offset 0.
 *   Nothing is lost or read twice across the rename. While the path is missing (between rename and
 *   create) the old descriptor stays open, like `tail -F`.
 * - **Several rotations between two polls**, and **backups on start**: the backups lumberjack left
 *   (`events-2026-11-02T10-30-00.000.log`, gzipped to `….log.gz` with
 *   `hubble-export-file-compress`; see ./backups.ts) that are not yet read are read oldest first,
 *   exactly once each, then the live file. The file that was just rotated away is recognised among
 *   them (by inode, or by the hash of its first line once gzipped) and not read again.
 * - **Truncation** (size below the read offset, `tail -F`'s "file truncated"): read from 0, counted.
 *   A file truncated and rewritten past the old offset between two polls cannot be told apart from
 *   appends (the same limit as `tail -F`).
 * - **Restart**: the {@link Checkpoint} (file identity, byte offset on a line boundary, backups read)
 *   is saved after batches (every `checkpointEveryLines` lines or `checkpointIntervalMs`) and on
 *   {@link FlowFileFollower.stop}. After a graceful stop every line is delivered exactly once across
 *   restarts and rotations that happened meanwhile; after a crash, lines after the last save are
 *   delivered again (at least once), never skipped — unless lumberjack deleted a file before it was
 *   read (`hubble-export-file-max-backups`), which is counted as `lostFiles`.
 * - **Never a crash**: a missing file is waited for (`missing`), I/O and permission errors are
 *   reported, counted and retried on the next poll, a corrupt gzip backup is reported and skipped
 *   (`corruptBackups`), a line over `maxLineBytes` is a `too-long` skip, a throwing sink is counted.
 * - **Backpressure**: while the `gate` (../intake-gate.ts) is shut, nothing more is read; the poll
 *   waits between chunks and goes on from the same offset once it opens (or ends on stop).
 *
 * Assumes one writer that closes a file before renaming it (lumberjack does); a writer that keeps
 * appending to a renamed file after a new one appeared at the path would lose those appends.
 * Backups are ordered by the timestamp in their name, as lumberjack orders them: a clock that
 * jumps back (or `LocalTime` across a DST change; Cilium uses UTC) could misorder them.
 */
import { Buffer } from 'node:buffer';
import { watch, type FSWatcher } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { ParseResult, SkipReason } from '../../domain/flow.js';
import { DEFAULT_MAX_LINE_BYTES, tooLong, type HubbleParseOptions } from '../hubble/line-limit.js';
import { scanHubbleBytes } from '../hubble/scan-line.js';
import { LineSplitter, type LineSink } from '../lines.js';
import type { IntakeGate } from '../intake-gate.js';
import { COMPRESS_SUFFIX, compareBackups, goExt, parseBackupName, selectBackups, type BackupName } from './backups.js';
import { InvalidCheckpointError, type Checkpoint, type CheckpointPosition, type CheckpointStore, type FileIdentity } from './checkpoint.js';
import { describeError, errorCode, HEAD_MAX_BYTES, isGzipMagic, isMissing, listDirectory, readFileHead, sha256Hex, statOrMissing } from './files.js';

/** The subset of a pino logger the follower uses (constant messages, data in fields). */
export interface FollowLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface FlowFileFollowerOptions {
  /** The live export file (`hubble-export-file-path`), e.g. `/var/run/cilium/hubble/events.log`. */
  readonly path: string;
  readonly checkpoint: CheckpointStore;
  /** Receives every line's result, in file order. Synchronous; a throw is counted, not fatal. */
  readonly sink: (result: ParseResult) => void;
  /** Poll period (default 500 ms). */
  readonly pollIntervalMs?: number;
  readonly logger?: FollowLogger;
  /** Longest line parsed; longer ones are `too-long` skips, read past without being held. Default 1 MiB. */
  readonly maxLineBytes?: number;
  /** Save the checkpoint after this many lines (default 1000)… */
  readonly checkpointEveryLines?: number;
  /** …or when this long has passed since the last save and something changed (default 1000 ms). */
  readonly checkpointIntervalMs?: number;
  /** Use `fs.watch` on the directory as a hint to poll sooner (default true). */
  readonly watch?: boolean;
  /** Read size in bytes (default 1 MiB). */
  readonly chunkBytes?: number;
  /** While shut, nothing more is read (the consumer holds too much); reading resumes where it stopped. */
  readonly gate?: IntakeGate;
}

/** Counts for metrics; a snapshot. */
export interface FollowerStats {
  /** Lines handed to the sink (flows, events and skips). */
  readonly lines: number;
  readonly flows: number;
  readonly events: number;
  readonly skipped: Readonly<Record<SkipReason, number>>;
  /** Bytes read (decompressed for gzip backups). */
  readonly bytes: number;
  /** Live files finished because another file took their path. */
  readonly rotations: number;
  readonly truncations: number;
  /** Rotated backups read (from their start, or from a checkpoint inside them). */
  readonly backupsRead: number;
  /** gzip backups that failed to inflate (reported and skipped). */
  readonly corruptBackups: number;
  /** Files deleted before they were read to their end. */
  readonly lostFiles: number;
  /** Polls that found no file at the path. */
  readonly missing: number;
  /** I/O, permission and checkpoint errors (each one reported). */
  readonly errors: number;
  /** Sink calls that threw. */
  readonly sinkErrors: number;
  readonly checkpointSaves: number;
  /** Whether the follower is waiting for the file to appear. */
  readonly waiting: boolean;
  readonly lastError?: string;
  /** What is being read: the live path, or a backup's file name. */
  readonly file?: string;
  /** Offset of the next unread line in {@link FollowerStats.file}. */
  readonly offset: number;
}

const LF = 0x0a;
const DEFAULT_POLL_MS = 500;
const DEFAULT_CHUNK_BYTES = 1024 * 1024;
const DEFAULT_CHECKPOINT_LINES = 1000;
const DEFAULT_CHECKPOINT_MS = 1000;
/** How soon a `fs.watch` event triggers a poll (coalesces the burst of events a write makes). */
const HINT_DELAY_MS = 10;
/** Files finished in one poll before yielding to the next (bounds a poll under rotation storms). */
const MAX_HOPS_PER_POLL = 64;

const silent: FollowLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Splits one file's bytes into lines and tracks offsets: `position` (bytes fed so far) and
 * `committed` (just after the last `\n`: every line before it has been handed over). Lines go to
 * the sink synchronously inside {@link LineFeeder.push}.
 */
class LineFeeder {
  position: number;
  committed: number;
  /** End of the first line (after its `\n`), when reading started at 0 and it has arrived. */
  firstLineEnd: number | undefined;
  private readonly splitter: LineSplitter;

  constructor(
    readonly start: number,
    lines: LineSink,
    maxLineBytes: number,
  ) {
    this.position = start;
    this.committed = start;
    this.splitter = new LineSplitter(lines, { maxLineBytes, stripBom: start === 0 });
  }

  push(chunk: Buffer): void {
    const base = this.position;
    this.splitter.push(chunk);
    this.position += chunk.length;
    const last = chunk.lastIndexOf(LF);
    if (last < 0) return;
    this.committed = base + last + 1;
    if (this.firstLineEnd === undefined && this.start === 0) this.firstLineEnd = base + chunk.indexOf(LF) + 1;
  }

  /** The input is complete: a last line without `\n` is handed over too. */
  end(): void {
    this.splitter.end();
    this.committed = this.position;
  }
}

interface Head {
  readonly length: number;
  readonly sha256: string;
}

/** The live file, open. */
interface LiveFile {
  readonly handle: FileHandle;
  readonly dev: bigint;
  readonly ino: bigint;
  feeder: LineFeeder;
  head: Head | undefined;
  /** Another file took the path and this one was read to its end ({@link FlowFileFollower.finishRotated}). */
  rotated: boolean;
}

type OpenFile = Extract<Opened, { kind: 'open' }>;

type Opened =
  | { readonly kind: 'open'; readonly handle: FileHandle; readonly dev: bigint; readonly ino: bigint; readonly size: bigint }
  | { readonly kind: 'missing' }
  | { readonly kind: 'error' };

type ReadOutcome = 'done' | 'stopped' | 'corrupt';

interface Counters {
  lines: number;
  flows: number;
  events: number;
  skipped: Record<SkipReason, number>;
  bytes: number;
  rotations: number;
  truncations: number;
  backupsRead: number;
  corruptBackups: number;
  lostFiles: number;
  missing: number;
  errors: number;
  sinkErrors: number;
  checkpointSaves: number;
  lastError?: string;
}

function isZlibError(error: unknown): boolean {
  return errorCode(error)?.startsWith('Z_') ?? false;
}

/**
 * Reads exactly `length` bytes at 0, or `undefined` when the file is shorter. Lengths over
 * {@link HEAD_MAX_BYTES} (no head or magic is longer) are refused as `undefined`: nothing is allocated.
 */
async function readExact(handle: FileHandle, length: number): Promise<Buffer | undefined> {
  if (length > HEAD_MAX_BYTES) return undefined;
  const buf = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buf, filled, length - filled, filled);
    if (bytesRead === 0) return undefined;
    filled += bytesRead;
  }
  return buf;
}

export class FlowFileFollower {
  /** The followed path, absolute. */
  readonly path: string;
  private readonly dir: string;
  private readonly base: string;
  private readonly store: CheckpointStore;
  private readonly sink: (result: ParseResult) => void;
  private readonly logger: FollowLogger;
  private readonly pollIntervalMs: number;
  private readonly maxLineBytes: number;
  private readonly parseOptions: HubbleParseOptions;
  private readonly everyLines: number;
  private readonly intervalMs: number;
  private readonly useWatch: boolean;
  private readonly buffer: Buffer;
  private readonly lineSink: LineSink;

  private readonly counters: Counters = {
    lines: 0,
    flows: 0,
    events: 0,
    skipped: { empty: 0, malformed: 0, 'schema-mismatch': 0, 'too-long': 0, 'unsupported-protocol': 0, 'invalid-name': 0 },
    bytes: 0,
    rotations: 0,
    truncations: 0,
    backupsRead: 0,
    corruptBackups: 0,
    lostFiles: 0,
    missing: 0,
    errors: 0,
    sinkErrors: 0,
    checkpointSaves: 0,
  };

  /** Checkpoint loaded (saving is allowed: never overwrite a checkpoint that was not read). */
  private loaded = false;
  /** The loaded checkpoint's position has been acted on. */
  private initialized = false;
  /** The loaded position, until it has been resolved to an open file or read to its end. */
  private resting: CheckpointPosition | undefined;
  /** Uncompressed names of backups read (or given up on). */
  private readonly read = new Set<string>();
  /** The newest of them: backups not newer than this are never read again. */
  private watermark: BackupName | undefined;
  private live: LiveFile | undefined;
  /** A backup being read. */
  private reading: { readonly key: string; readonly feeder: LineFeeder } | undefined;
  private waiting = false;

  private lastSaved: string | undefined;
  private lastSaveAt = 0;
  private linesAtSave = 0;
  private lastErrorSignature: string | undefined;
  private sinkFailing = false;

  private queue: Promise<void> = Promise.resolve();
  private started = false;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private hinted = false;
  private hintScheduled = false;
  private watcher: FSWatcher | undefined;
  private readonly gate: IntakeGate | undefined;
  /** Aborted by {@link stop}: a read waiting at the gate gives up. */
  private readonly stopSignal = new AbortController();

  constructor(options: FlowFileFollowerOptions) {
    this.gate = options.gate;
    this.path = resolve(options.path);
    this.dir = dirname(this.path);
    this.base = basename(this.path);
    this.store = options.checkpoint;
    this.sink = options.sink;
    this.logger = options.logger ?? silent;
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_MS;
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.parseOptions = { maxLineBytes: this.maxLineBytes };
    this.everyLines = options.checkpointEveryLines ?? DEFAULT_CHECKPOINT_LINES;
    this.intervalMs = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_MS;
    this.useWatch = options.watch ?? true;
    this.buffer = Buffer.allocUnsafe(Math.max(options.chunkBytes ?? DEFAULT_CHUNK_BYTES, 1024));
    this.lineSink = {
      line: (buf, start, end) => {
        let result: ParseResult;
        try {
          result = scanHubbleBytes(buf, start, end, this.parseOptions);
        } catch (error) {
          result = { kind: 'skip', reason: 'malformed', detail: describeError(error) };
        }
        this.deliver(result);
      },
      overlong: (bytes) => this.deliver(tooLong(bytes, this.maxLineBytes)),
    };
  }

  /** Starts polling (and watching the directory); the first poll runs now. Idempotent. */
  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    this.tick();
  }

  /**
   * Stops polling, waits for the poll in progress (it stops between chunks), saves the checkpoint
   * and closes the file. The follower cannot be restarted; make a new one.
   */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.stopSignal.abort();
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      this.watcher?.close();
      this.watcher = undefined;
      await this.enqueue(async () => {
        await this.save(true);
        const live = this.live;
        this.live = undefined;
        this.reading = undefined;
        await live?.handle.close().catch(() => undefined);
      });
    })();
    return this.stopped;
  }

  /**
   * Reads everything available now: pending backups, the rest of the live file, files rotated in
   * the meantime. Runs after any poll in progress; never rejects. A no-op once stopped.
   */
  drain(): Promise<void> {
    return this.enqueue(() => this.poll());
  }

  /** Same as {@link FlowFileFollower.drain}. */
  catchUp(): Promise<void> {
    return this.drain();
  }

  stats(): FollowerStats {
    const c = this.counters;
    const file = this.reading !== undefined ? this.reading.key : this.live !== undefined ? this.path : undefined;
    const offset = this.reading?.feeder.committed ?? this.live?.feeder.committed ?? 0;
    return { ...c, skipped: { ...c.skipped }, waiting: this.waiting, file, offset };
  }

  // ── scheduling ────────────────────────────────────────────────────────────────────────────

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    this.hintScheduled = false;
    this.ticking = true;
    this.ensureWatcher();
    void this.drain().finally(() => {
      this.ticking = false;
      if (this.stopping) return;
      const delay = this.hinted ? HINT_DELAY_MS : this.pollIntervalMs;
      this.hinted = false;
      this.hintScheduled = delay === HINT_DELAY_MS;
      this.timer = setTimeout(this.tick, delay);
    });
  };

  /** A `fs.watch` event: poll soon. */
  private hint(): void {
    if (this.stopping || !this.started) return;
    if (this.ticking) {
      this.hinted = true;
      return;
    }
    if (this.hintScheduled) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.hintScheduled = true;
    this.timer = setTimeout(this.tick, HINT_DELAY_MS);
  }

  /** Watches the directory (retried every poll while it fails: the directory may not exist yet). */
  private ensureWatcher(): void {
    if (!this.useWatch || this.watcher !== undefined || this.stopping) return;
    const prefix = this.base.slice(0, this.base.length - goExt(this.base).length);
    try {
      const watcher = watch(this.dir, { persistent: false }, (_event, name) => {
        if (name === null || name.startsWith(prefix)) this.hint();
      });
      watcher.on('error', () => {
        watcher.close();
        if (this.watcher === watcher) this.watcher = undefined;
      });
      this.watcher = watcher;
    } catch {
      // No directory yet, or no inotify: polling alone works.
    }
  }

  // ── one poll ──────────────────────────────────────────────────────────────────────────────

  private async poll(): Promise<void> {
    if (this.stopping) return;
    const errorsBefore = this.counters.errors;
    try {
      if (this.initialized || (await this.initialize())) await this.follow();
    } catch (error) {
      this.report('poll', error);
    }
    await this.save(false);
    // A clean poll: the next occurrence of an error is news again.
    if (this.counters.errors === errorsBefore) this.lastErrorSignature = undefined;
  }

  /** Loads the checkpoint and resumes where it points. False: try again next poll. */
  private async initialize(): Promise<boolean> {
    if (!this.loaded) {
      let checkpoint: Checkpoint | undefined;
      try {
        checkpoint = await this.store.load();
      } catch (error) {
        this.report('checkpoint-load', error);
        // Unreadable store: retry. Invalid content: a restart cannot fix it; start afresh.
        if (!(error instanceof InvalidCheckpointError)) return false;
        this.logger.error({ path: this.path, err: error }, 'invalid follow checkpoint ignored, reading from the start');
      }
      if (checkpoint !== undefined && checkpoint.path !== this.path) {
        this.logger.warn({ path: this.path, checkpointPath: checkpoint.path }, 'follow checkpoint is for another path, ignored');
        checkpoint = undefined;
      }
      for (const key of checkpoint?.backupsRead ?? []) this.markRead(key);
      this.resting = checkpoint?.position;
      this.loaded = true;
      if (checkpoint !== undefined) this.logger.info({ path: this.path, position: checkpoint.position, backupsRead: checkpoint.backupsRead.length }, 'follow checkpoint loaded');
    }
    const position = this.resting;
    if (position?.kind === 'backup') {
      const backup = (await this.listBackups()).find((b) => b.key === position.name);
      // From here on the backup being read (or nothing) is the position to save.
      this.resting = undefined;
      if (backup === undefined) {
        this.lost(position.name, position.offset);
        this.markRead(position.name);
      } else if (!(await this.readBackup(backup, position.offset))) return false;
    } else if (position?.kind === 'live') {
      if (!(await this.resumeLive(position.file, position.offset))) return false;
    }
    this.resting = undefined;
    this.initialized = true;
    return true;
  }

  /**
   * Finds the checkpointed live file: still at the path (resume at the offset), or rotated away
   * while we were stopped (read the rest of its backup; the newer backups and the live file follow).
   */
  private async resumeLive(file: FileIdentity, offset: number): Promise<boolean> {
    // Nothing of that file was delivered yet: whether it is still live or a backup now, reading the
    // unread backups and then the live file from 0 is right, and needs no identification (which
    // could be fooled: a deleted file's inode is reused, and an incomplete first line is no head).
    if (offset === 0) {
      this.resting = undefined;
      return true;
    }
    const opened = await this.openLive();
    if (opened.kind === 'error') return false;
    if (opened.kind === 'open') {
      if (await this.closeUnlessAttached(opened, () => this.resumeAt(file, offset, opened))) return true;
    } else if ((await statOrMissing(this.dir)) === undefined) {
      return false; // no directory (not mounted yet?): nothing can be decided
    }
    const backup = await this.findBackup(file, await this.unreadBackups());
    this.resting = undefined;
    if (backup !== undefined) {
      this.logger.info({ path: this.path, backup: backup.name, offset }, 'checkpointed flow file was rotated while stopped, resuming in its backup');
      return this.readBackup(backup, offset);
    }
    if (offset > 0) this.lost(`inode ${file.ino}`, offset);
    return true;
  }

  /** Attaches `opened` as the live file at `offset` when it is the checkpointed `file`; false when it is not. */
  private async resumeAt(file: FileIdentity, offset: number, opened: OpenFile): Promise<boolean> {
    if (!(await this.isSame(file, opened))) return false;
    let start = offset;
    if (opened.size < BigInt(offset)) {
      this.counters.truncations++;
      this.logger.warn({ path: this.path, offset, size: Number(opened.size) }, 'flow file truncated while stopped, reading from the start');
      start = 0;
    }
    const head = start > 0 && file.headLength !== undefined && file.headSha256 !== undefined ? { length: file.headLength, sha256: file.headSha256 } : undefined;
    this.live = this.attach(opened, start, head);
    return true;
  }

  /** Runs `use` on a file just opened and closes the file unless `use` made it the live file (also when `use` throws). */
  private async closeUnlessAttached<T>(opened: OpenFile, use: () => Promise<T>): Promise<T> {
    try {
      return await use();
    } finally {
      if (this.live?.handle !== opened.handle) await opened.handle.close().catch(() => undefined);
    }
  }

  /** Reads the live file to its end, finishing it and moving on when it was rotated away. */
  private async follow(): Promise<void> {
    for (let hop = 0; hop < MAX_HOPS_PER_POLL && !this.stopping; hop++) {
      if (this.live === undefined) {
        await this.advance();
        if (this.live === undefined) return;
      }
      const live = this.live;
      if (live.rotated) {
        // Its backup could not be looked up at the last poll: only that is left to do.
        if (!(await this.finishRotated(live))) return;
        continue;
      }
      // The path first, the descriptor second: a rename seen here happened after the writer's last
      // write to the old file, so draining the descriptor below reads that file to its true end.
      const atPath = await statOrMissing(this.path);
      const { size } = await live.handle.stat({ bigint: true });
      if (size < BigInt(live.feeder.position)) {
        this.counters.truncations++;
        this.logger.warn({ path: this.path, offset: live.feeder.committed, size: Number(size) }, 'flow file truncated, reading from the start');
        live.feeder = this.feeder(0);
        live.head = undefined;
      }
      if (!(await this.readLive(live))) return;
      if (atPath === undefined) return; // renamed, not yet recreated (or deleted): keep the descriptor
      if (atPath.dev === live.dev && atPath.ino === live.ino) return;
      if (!(await this.finishRotated(live))) return;
    }
  }

  /**
   * Reads the backups not read yet (oldest first), then opens the live file from 0. Lists again
   * after opening: a rotation in between leaves a backup older than the file just opened.
   */
  private async advance(): Promise<void> {
    for (let round = 0; round < MAX_HOPS_PER_POLL && !this.stopping; round++) {
      for (const backup of await this.unreadBackups()) {
        if (!(await this.readBackup(backup, 0))) return;
      }
      const opened = await this.openLive();
      if (opened.kind !== 'open') return;
      if (await this.closeUnlessAttached(opened, () => this.attachUnlessLate(opened))) return;
    }
  }

  /** Attaches `opened` as the live file from 0 unless a backup newer than the last listing is not it; false then. */
  private async attachUnlessLate(opened: OpenFile): Promise<boolean> {
    let late = false;
    for (const backup of await this.unreadBackups()) {
      if (!(await this.isSameInode(backup, opened))) late = true;
    }
    if (late) return false;
    this.live = this.attach(opened, 0, undefined);
    this.logger.info({ path: this.path, ino: String(opened.ino) }, 'following flow file');
    return true;
  }

  /**
   * The live file was rotated away and has been read to its end: its last line is handed over
   * (once), its backup looked up and marked read, the file closed. When the lookup fails the file
   * stays live (`rotated`, its offset at its end) and the lookup is retried at the next poll, so
   * the backup is never read again from 0 (false then).
   */
  private async finishRotated(live: LiveFile): Promise<boolean> {
    if (!live.rotated) {
      live.rotated = true;
      live.feeder.end();
      this.counters.rotations++;
    }
    await this.computeHead(live, true);
    let backup: BackupName | undefined;
    try {
      backup = await this.findBackup(this.identityOf(live), await this.unreadBackups());
    } catch (error) {
      this.report('find-rotated', error);
      return false;
    }
    if (backup !== undefined) this.markRead(backup.key);
    this.logger.info({ path: this.path, backup: backup?.name, bytes: live.feeder.position }, backup === undefined ? 'flow file replaced, its old copy is not among the backups' : 'flow file rotated');
    this.live = undefined;
    await live.handle.close().catch(() => undefined);
    return true;
  }

  // ── reading ───────────────────────────────────────────────────────────────────────────────

  private feeder(start: number): LineFeeder {
    return new LineFeeder(start, this.lineSink, this.maxLineBytes);
  }

  private deliver(result: ParseResult): void {
    const c = this.counters;
    c.lines++;
    if (result.kind === 'flow') c.flows++;
    else if (result.kind === 'skip') c.skipped[result.reason]++;
    else c.events++;
    try {
      this.sink(result);
      this.sinkFailing = false;
    } catch (error) {
      c.sinkErrors++;
      // Once per streak at warn: a sink that throws on every line must not flood the log.
      const entry = { path: this.path, err: error, sinkErrors: c.sinkErrors };
      if (this.sinkFailing) this.logger.debug(entry, 'flow sink threw');
      else this.logger.warn(entry, 'flow sink threw');
      this.sinkFailing = true;
    }
  }

  /** Waits while the gate is shut; false once stopping. */
  private async mayRead(): Promise<boolean> {
    if (this.gate !== undefined && !this.gate.isOpen && !this.stopping) await this.gate.whenOpen(this.stopSignal.signal);
    return !this.stopping;
  }

  /** Reads the live file to its current end. False when stopped. */
  private async readLive(live: LiveFile): Promise<boolean> {
    for (;;) {
      if (!(await this.mayRead())) return false;
      const { bytesRead } = await live.handle.read(this.buffer, 0, this.buffer.length, live.feeder.position);
      if (bytesRead === 0) return true;
      this.counters.bytes += bytesRead;
      live.feeder.push(this.buffer.subarray(0, bytesRead));
      if (live.head === undefined) await this.computeHead(live, false);
      await this.save(false);
    }
  }

  /**
   * The head of a live file read from 0: its first line (up to {@link HEAD_MAX_BYTES}) once
   * complete; for a finished file without any `\n`, what there is.
   */
  private async computeHead(live: LiveFile, final: boolean): Promise<void> {
    const feeder = live.feeder;
    if (live.head !== undefined || feeder.start !== 0) return;
    let length: number | undefined;
    if (feeder.firstLineEnd !== undefined) length = Math.min(feeder.firstLineEnd, HEAD_MAX_BYTES);
    else if (feeder.position >= HEAD_MAX_BYTES) length = HEAD_MAX_BYTES;
    else if (final && feeder.position > 0) length = feeder.position;
    if (length === undefined) return;
    const head = await readExact(live.handle, length);
    if (head !== undefined) live.head = { length, sha256: sha256Hex(head) };
  }

  /** The file names a backup may have now: the plain one may have been gzipped since the listing. */
  private namesOf(backup: BackupName): string[] {
    return backup.compressed ? [backup.name] : [backup.name, backup.key + COMPRESS_SUFFIX];
  }

  /**
   * Reads a backup (plain or gzip, by its magic bytes) from `start` to its end and marks it read.
   * A backup that is gone, unreadable or corrupt is reported and marked read too: it will not get
   * better, and waiting for it would hold back the live file. False only when stopped.
   */
  private async readBackup(backup: BackupName, start: number): Promise<boolean> {
    const feeder = this.feeder(start);
    this.reading = { key: backup.key, feeder };
    let handle: FileHandle | undefined;
    let failure: unknown;
    let name = backup.name;
    for (const candidate of this.namesOf(backup)) {
      try {
        handle = await open(join(this.dir, candidate), 'r');
        name = candidate;
        break;
      } catch (error) {
        if (!isMissing(error)) {
          failure = error;
          break;
        }
      }
    }
    if (handle === undefined) {
      if (failure !== undefined) this.report('read-backup', failure, { backup: backup.key });
      else this.lost(backup.key, start);
      return this.finishBackup(backup.key);
    }
    let outcome: ReadOutcome | 'failed';
    try {
      const magic = await readExact(handle, 2).catch(() => undefined);
      outcome = magic !== undefined && isGzipMagic(magic) ? await this.readGzip(handle, feeder, name) : await this.readPlain(handle, feeder);
    } catch (error) {
      this.report('read-backup', error, { backup: name });
      outcome = 'failed';
    } finally {
      await handle.close().catch(() => undefined);
    }
    if (outcome === 'stopped') return false;
    if (outcome === 'done') {
      feeder.end();
      this.counters.backupsRead++;
      this.logger.info({ path: this.path, backup: name, from: start, bytes: feeder.position }, 'flow file backup read');
    }
    return this.finishBackup(backup.key);
  }

  private async finishBackup(key: string): Promise<boolean> {
    this.reading = undefined;
    this.markRead(key);
    await this.save(true);
    return true;
  }

  private async readPlain(handle: FileHandle, feeder: LineFeeder): Promise<ReadOutcome> {
    for (;;) {
      if (!(await this.mayRead())) return 'stopped';
      const { bytesRead } = await handle.read(this.buffer, 0, this.buffer.length, feeder.position);
      if (bytesRead === 0) return 'done';
      this.counters.bytes += bytesRead;
      feeder.push(this.buffer.subarray(0, bytesRead));
      await this.save(false);
    }
  }

  /** Inflates a gzip backup (multi-member files included), skipping `feeder.start` bytes. */
  private async readGzip(handle: FileHandle, feeder: LineFeeder, name: string): Promise<ReadOutcome> {
    let skip = feeder.start;
    const input = handle.createReadStream({ start: 0, autoClose: false, highWaterMark: this.buffer.length });
    const inflater = createGunzip();
    input.on('error', (error) => inflater.destroy(error));
    input.pipe(inflater);
    try {
      for await (const piece of inflater) {
        let chunk = piece as Buffer;
        this.counters.bytes += chunk.length;
        if (skip > 0) {
          if (chunk.length <= skip) {
            skip -= chunk.length;
            continue;
          }
          chunk = chunk.subarray(skip);
          skip = 0;
        }
        feeder.push(chunk);
        await this.save(false);
        // Waiting here stops consuming the inflater, which pauses the file stream behind it.
        if (!(await this.mayRead())) return 'stopped';
      }
      return 'done';
    } catch (error) {
      if (!isZlibError(error)) throw error;
      this.counters.corruptBackups++;
      this.report('corrupt-backup', error, { backup: name, offset: feeder.committed });
      return 'corrupt';
    } finally {
      input.destroy();
      inflater.destroy();
    }
  }

  // ── files ─────────────────────────────────────────────────────────────────────────────────

  private async openLive(): Promise<Opened> {
    let handle: FileHandle;
    try {
      handle = await open(this.path, 'r');
    } catch (error) {
      if (!isMissing(error)) {
        this.report('open', error);
        return { kind: 'error' };
      }
      this.counters.missing++;
      if (!this.waiting) this.logger.info({ path: this.path }, 'waiting for flow file');
      this.waiting = true;
      return { kind: 'missing' };
    }
    try {
      const stats = await handle.stat({ bigint: true });
      if (!stats.isFile()) throw Object.assign(new Error(`not a regular file: ${this.path}`), { code: 'ENOTFILE' });
      if (this.waiting) this.logger.info({ path: this.path }, 'flow file appeared');
      this.waiting = false;
      return { kind: 'open', handle, dev: stats.dev, ino: stats.ino, size: stats.size };
    } catch (error) {
      await handle.close().catch(() => undefined);
      this.report('open', error);
      return { kind: 'error' };
    }
  }

  private attach(opened: OpenFile, start: number, head: Head | undefined): LiveFile {
    return { handle: opened.handle, dev: opened.dev, ino: opened.ino, feeder: this.feeder(start), head, rotated: false };
  }

  private identityOf(live: LiveFile): FileIdentity {
    const identity: FileIdentity = { dev: String(live.dev), ino: String(live.ino) };
    return live.head === undefined ? identity : { ...identity, headLength: live.head.length, headSha256: live.head.sha256 };
  }

  /** Whether the open live file is the checkpointed one: by head when known, else by inode. */
  private async isSame(file: FileIdentity, opened: OpenFile): Promise<boolean> {
    if (file.headLength !== undefined && file.headSha256 !== undefined) {
      const head = await readExact(opened.handle, file.headLength);
      return head !== undefined && sha256Hex(head) === file.headSha256;
    }
    return String(opened.dev) === file.dev && String(opened.ino) === file.ino;
  }

  private async isSameInode(backup: BackupName, opened: OpenFile): Promise<boolean> {
    if (backup.compressed) return false;
    const stats = await statOrMissing(join(this.dir, backup.name)).catch(() => undefined);
    return stats !== undefined && stats.dev === opened.dev && stats.ino === opened.ino;
  }

  private async headMatches(backup: BackupName, file: FileIdentity): Promise<boolean> {
    if (file.headLength === undefined || file.headSha256 === undefined) return false;
    for (const name of this.namesOf(backup)) {
      const head = await readFileHead(join(this.dir, name), file.headLength);
      if (head !== undefined) return sha256Hex(head) === file.headSha256;
    }
    return false;
  }

  /** The backup that `file` became: same inode (plain), or the same head (plain or gzip). */
  private async findBackup(file: FileIdentity, candidates: readonly BackupName[]): Promise<BackupName | undefined> {
    for (const backup of candidates) {
      if (backup.compressed) continue;
      const stats = await statOrMissing(join(this.dir, backup.name)).catch(() => undefined);
      if (stats === undefined || String(stats.dev) !== file.dev || String(stats.ino) !== file.ino) continue;
      if (file.headSha256 === undefined || (await this.headMatches(backup, file))) return backup;
    }
    for (const backup of candidates) {
      if (await this.headMatches(backup, file)) return backup;
    }
    return undefined;
  }

  private async listBackups(): Promise<BackupName[]> {
    const backups = selectBackups(this.base, await listDirectory(this.dir));
    // Forget backups lumberjack has deleted, except the newest read: it marks how far we got.
    const present = new Set(backups.map((b) => b.key));
    for (const key of this.read) {
      if (!present.has(key) && key !== this.watermark?.key) this.read.delete(key);
    }
    return backups;
  }

  /** Backups newer than the newest one read, not read yet, oldest first. */
  private async unreadBackups(): Promise<BackupName[]> {
    const watermark = this.watermark;
    return (await this.listBackups()).filter((b) => !this.read.has(b.key) && (watermark === undefined || compareBackups(b, watermark) > 0));
  }

  private markRead(key: string): void {
    const parsed = parseBackupName(this.base, key);
    if (parsed === undefined || parsed.compressed) return;
    this.read.add(parsed.key);
    if (this.watermark === undefined || compareBackups(parsed, this.watermark) > 0) this.watermark = parsed;
  }

  private lost(what: string, offset: number): void {
    this.counters.lostFiles++;
    this.logger.warn({ path: this.path, file: what, offset }, 'flow file deleted before it was read to its end');
  }

  // ── checkpoint ────────────────────────────────────────────────────────────────────────────

  private position(): CheckpointPosition | undefined {
    if (this.reading !== undefined) return { kind: 'backup', name: this.reading.key, offset: this.reading.feeder.committed };
    if (this.live !== undefined) return { kind: 'live', file: this.identityOf(this.live), offset: this.live.feeder.committed };
    return this.resting;
  }

  /**
   * Saves the checkpoint when it changed and `force`, or `checkpointEveryLines` lines or
   * `checkpointIntervalMs` have passed since the last save. A failed save is reported and retried
   * with the next one.
   */
  private async save(force: boolean): Promise<void> {
    if (!this.loaded) return;
    const position = this.position();
    const backupsRead = [...this.read].sort();
    const signature = JSON.stringify([position, backupsRead]);
    if (signature === this.lastSaved) return;
    const now = Date.now();
    if (!force && this.counters.lines - this.linesAtSave < this.everyLines && now - this.lastSaveAt < this.intervalMs) return;
    const checkpoint: Checkpoint = { version: 1, path: this.path, ...(position === undefined ? {} : { position }), backupsRead, savedAt: new Date(now).toISOString() };
    try {
      await this.store.save(checkpoint);
      this.counters.checkpointSaves++;
      this.lastSaved = signature;
      this.lastSaveAt = now;
      this.linesAtSave = this.counters.lines;
    } catch (error) {
      this.report('checkpoint-save', error);
    }
  }

  /** Counts an error and logs it: at `warn` when it is new, at `debug` while it repeats. */
  private report(op: string, error: unknown, fields: object = {}): void {
    this.counters.errors++;
    const message = describeError(error);
    this.counters.lastError = `${op}: ${message}`;
    const signature = `${op}:${errorCode(error) ?? message}`;
    const repeated = signature === this.lastErrorSignature;
    this.lastErrorSignature = signature;
    const entry = { path: this.path, op, code: errorCode(error), err: error, ...fields };
    if (repeated) this.logger.debug(entry, 'flow file follower error');
    else this.logger.warn(entry, 'flow file follower error');
  }
}
