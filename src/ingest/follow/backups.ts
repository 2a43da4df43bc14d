/**
 * Names of the rotated backups of a Cilium flow-export file. Pure: no I/O.
 *
 * Cilium's Hubble exporter (`hubble-export-file-path`, `hubble-export-file-max-size-mb`,
 * `hubble-export-file-max-backups`, `hubble-export-file-compress`) writes through
 * natefinch/lumberjack, whose rotation rules are quoted here because this module re-implements
 * the naming side of them:
 *
 * - "Backups use the log file name given to Logger, in the form `name-timestamp.ext` where name is
 *   the filename without the extension, timestamp is the time at which the log was rotated
 *   formatted with the time.Time format of `2006-01-02T15-04-05.000` and the extension is the
 *   original extension." (`backupName`: `ext := filepath.Ext(filename)`, UTC unless `LocalTime`).
 *   `/var/run/cilium/hubble/events.log` → `events-2026-11-02T10-30-00.000.log`.
 * - With `Compress`, the mill gzips each backup to `<backup>.gz` (`compressSuffix = ".gz"`) and
 *   removes the plain file only after the `.gz` is complete, so for a moment both exist.
 * - `oldLogFiles` recognises backups by prefix `name-`, the extension (or extension + `.gz`) and a
 *   timestamp that parses with the layout; it orders them by that timestamp, not by mtime, and
 *   deletes the oldest beyond `MaxBackups`.
 */

/** lumberjack's `backupTimeFormat` (Go layout `2006-01-02T15-04-05.000`) as a pattern. */
const BACKUP_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}$/;

/** lumberjack's `compressSuffix`. */
export const COMPRESS_SUFFIX = '.gz';

/**
 * Go's `filepath.Ext` on a base name: the suffix from the final dot, or `''` when there is none.
 * (Unlike Node's `path.extname`, a leading dot counts: `.events` has extension `.events`.)
 */
export function goExt(base: string): string {
  const dot = base.lastIndexOf('.');
  return dot < 0 ? '' : base.slice(dot);
}

/** One backup file name, parsed. */
export interface BackupName {
  /** The file name as found in the directory (may end in `.gz`). */
  readonly name: string;
  /** The uncompressed backup name: the same backup before and after the mill gzips it. */
  readonly key: string;
  /** The rotation time as written in the name (`2006-01-02T15-04-05.000`). */
  readonly timestamp: string;
  readonly compressed: boolean;
}

/**
 * Parses `fileName` as a lumberjack backup of the live file named `liveBase` (a base name, no
 * directory), or `undefined` when it is not one (lumberjack's `timeFromName`).
 */
export function parseBackupName(liveBase: string, fileName: string): BackupName | undefined {
  const ext = goExt(liveBase);
  const prefix = `${liveBase.slice(0, liveBase.length - ext.length)}-`;
  const compressed = fileName.endsWith(ext + COMPRESS_SUFFIX) && fileName.length > ext.length + COMPRESS_SUFFIX.length;
  const key = compressed ? fileName.slice(0, -COMPRESS_SUFFIX.length) : fileName;
  if (!key.startsWith(prefix) || !key.endsWith(ext)) return undefined;
  const timestamp = key.slice(prefix.length, key.length - ext.length);
  if (!BACKUP_TIMESTAMP.test(timestamp)) return undefined;
  return { name: fileName, key, timestamp, compressed };
}

/** Orders backups oldest first: by the rotation time in the name, then by name. */
export function compareBackups(a: Pick<BackupName, 'timestamp' | 'key'>, b: Pick<BackupName, 'timestamp' | 'key'>): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * The backups of `liveBase` among a directory's `fileNames`, one per backup, oldest first. When a
 * backup exists both plain and gzipped (the mill is compressing it right now), the plain file is
 * chosen: it is complete, while the `.gz` may still be being written.
 */
export function selectBackups(liveBase: string, fileNames: Iterable<string>): BackupName[] {
  const byKey = new Map<string, BackupName>();
  for (const fileName of fileNames) {
    const parsed = parseBackupName(liveBase, fileName);
    if (parsed === undefined) continue;
    const seen = byKey.get(parsed.key);
    if (seen === undefined || (seen.compressed && !parsed.compressed)) byKey.set(parsed.key, parsed);
  }
  return [...byKey.values()].sort(compareBackups);
}

/** Formats `date` with lumberjack's `backupTimeFormat` in UTC (its default, `LocalTime: false`). */
export function formatBackupTimestamp(date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return (
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}-${pad(date.getUTCMinutes())}-${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds(), 3)}`
  );
}

/** The backup name lumberjack gives the live file `liveBase` when rotating it at `date` (UTC). */
export function backupNameFor(liveBase: string, date: Date): string {
  const ext = goExt(liveBase);
  return `${liveBase.slice(0, liveBase.length - ext.length)}-${formatBackupTimestamp(date)}${ext}`;
}
