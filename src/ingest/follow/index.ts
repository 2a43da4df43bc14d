/**
 * Following Cilium's Hubble flow-export file like `tail -F`: appends, lumberjack rotations (plain
 * and gzipped backups), truncation, restarts from a checkpoint. See ./follower.ts.
 */
export {
  FlowFileFollower,
  type FlowFileFollowerOptions,
  type FollowerStats,
  type FollowLogger,
} from './follower.js';
export {
  FileCheckpointStore,
  InvalidCheckpointError,
  MemoryCheckpointStore,
  parseCheckpoint,
  type Checkpoint,
  type CheckpointPosition,
  type CheckpointStore,
  type FileIdentity,
} from './checkpoint.js';
export {
  backupNameFor,
  compareBackups,
  COMPRESS_SUFFIX,
  formatBackupTimestamp,
  goExt,
  parseBackupName,
  selectBackups,
  type BackupName,
} from './backups.js';
