/**
 * The seam between the node agent and the processes it runs (`conntrack -E`, `conntrack -L`):
 * a {@link CommandRunner} starts one command and hands back its output streams and its exit.
 * Production uses {@link spawnRunner} (node:child_process, no shell); unit tests pass a fake that
 * writes lines and exits on cue (see ./testing.ts).
 */
import { spawn } from 'node:child_process';

/** How a child process ended. Exactly one of `code`, `signal` or `error` explains it. */
export interface ChildExit {
  /** Exit status, when the process exited by itself. */
  readonly code: number | null;
  /** The signal that ended it (`SIGTERM`, `SIGKILL`, …). */
  readonly signal: string | null;
  /** The process could not be started at all (`ENOENT`: no such binary, `EACCES`: not executable). */
  readonly error?: { readonly code?: string; readonly message: string };
}

/** A started command. */
export interface ChildHandle {
  readonly stdout: AsyncIterable<Uint8Array | string>;
  readonly stderr: AsyncIterable<Uint8Array | string>;
  /** Settles once, when the process has exited or failed to start. Never rejects. */
  readonly exit: Promise<ChildExit>;
  /** Ask the process to stop (SIGTERM). Harmless after it exited. */
  kill(): void;
  /** The OS process id, when there is one. */
  readonly pid?: number | undefined;
}

/** Starts `argv[0]` with the rest as arguments (no shell, no word splitting). */
export type CommandRunner = (argv: readonly string[]) => ChildHandle;

async function* empty(): AsyncIterable<Uint8Array> {
  // nothing: the process never started
}

/** The real runner: `child_process.spawn` with stdin closed and both output pipes read. */
export const spawnRunner: CommandRunner = (argv) => {
  const [file, ...args] = argv;
  if (file === undefined) {
    return { stdout: empty(), stderr: empty(), exit: Promise.resolve({ code: null, signal: null, error: { message: 'empty command' } }), kill: () => {} };
  }
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = new Promise<ChildExit>((resolve) => {
    let startError: ChildExit['error'];
    child.once('error', (err: NodeJS.ErrnoException) => {
      startError = { ...(err.code ? { code: err.code } : {}), message: err.message };
      // A process that failed to spawn emits 'error' and then 'close'; one that did start and
      // failed later (a kill that could not be delivered) still gets its 'close'.
    });
    child.once('close', (code, signal) => {
      resolve(startError ? { code: null, signal: null, error: startError } : { code, signal });
    });
  });
  return {
    pid: child.pid,
    stdout: child.stdout,
    stderr: child.stderr,
    exit,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
};
