import { describe, expect, it } from 'vitest';
import { backupNameFor, formatBackupTimestamp, goExt, parseBackupName, selectBackups } from './backups.js';

describe('goExt (Go filepath.Ext)', () => {
  it.each([
    ['events.log', '.log'],
    ['events.tar.log', '.log'],
    ['events', ''],
    ['.events', '.events'],
    ['events.', '.'],
  ])('%s → %j', (base, ext) => expect(goExt(base)).toBe(ext));
});

describe('backup names (lumberjack backupName / timeFromName)', () => {
  it('formats the rotation time as 2006-01-02T15-04-05.000 in UTC, before the extension', () => {
    const at = new Date(Date.UTC(2026, 10, 2, 10, 30, 0, 7));
    expect(formatBackupTimestamp(at)).toBe('2026-11-02T10-30-00.007');
    expect(backupNameFor('events.log', at)).toBe('events-2026-11-02T10-30-00.007.log');
    expect(backupNameFor('hubble', at)).toBe('hubble-2026-11-02T10-30-00.007');
    expect(backupNameFor('a.b.json', at)).toBe('a.b-2026-11-02T10-30-00.007.json');
  });

  it.each([
    { live: 'events.log', file: 'events-2026-11-02T10-30-00.000.log', want: { key: 'events-2026-11-02T10-30-00.000.log', timestamp: '2026-11-02T10-30-00.000', compressed: false } },
    { live: 'events.log', file: 'events-2026-11-02T10-30-00.000.log.gz', want: { key: 'events-2026-11-02T10-30-00.000.log', timestamp: '2026-11-02T10-30-00.000', compressed: true } },
    { live: 'hubble', file: 'hubble-2026-11-02T10-30-00.000', want: { key: 'hubble-2026-11-02T10-30-00.000', compressed: false } },
    { live: 'hubble', file: 'hubble-2026-11-02T10-30-00.000.gz', want: { key: 'hubble-2026-11-02T10-30-00.000', compressed: true } },
    { live: 'events.log', file: 'events.log', want: undefined },
    { live: 'events.log', file: 'events-old.log', want: undefined },
    { live: 'events.log', file: 'events-2026-11-02T10:30:00.000.log', want: undefined },
    { live: 'events.log', file: 'events-2026-11-02T10-30-00.log', want: undefined },
    { live: 'events.log', file: 'other-2026-11-02T10-30-00.000.log', want: undefined },
    { live: 'events.log', file: 'events-2026-11-02T10-30-00.000.json', want: undefined },
    { live: 'events.log', file: 'events-2026-11-02T10-30-00.000.log.zst', want: undefined },
    { live: 'events.log', file: 'events.log-2026-11-02T10-30-00.000', want: undefined },
  ])('$file as a backup of $live', ({ live, file, want }) => {
    const parsed = parseBackupName(live, file);
    if (want === undefined) expect(parsed).toBeUndefined();
    else expect(parsed).toMatchObject({ name: file, ...want });
  });

  it('selects one file per backup, oldest first, preferring the plain file while the .gz is being written', () => {
    const names = [
      'events-2026-11-02T10-30-02.000.log.gz',
      'events.log',
      'events-2026-11-02T10-30-01.500.log',
      'events-2026-11-02T10-30-01.500.log.gz',
      'events-2026-11-02T09-00-00.000.log.gz',
      'checkpoint.json',
    ];
    expect(selectBackups('events.log', names).map((b) => b.name)).toEqual([
      'events-2026-11-02T09-00-00.000.log.gz',
      'events-2026-11-02T10-30-01.500.log',
      'events-2026-11-02T10-30-02.000.log.gz',
    ]);
  });
});
