import { CommanderError, type Command } from 'commander';
import { escapeControl } from './terminal.js';

/**
 * Errors the CLI reports as one clear line and a non-zero exit, never a stack trace.
 * `UsageError` (exit 2) for bad flags; `InputError` (exit 1) for unusable input.
 */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

export class UsageError extends CliError {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super(message, 2);
  }
}

export class InputError extends CliError {
  override readonly name = 'InputError';
  constructor(message: string) {
    super(message, 1);
  }
}

/**
 * Parses and runs a commander program and turns every outcome into an exit code: commander's own
 * errors (it already printed them) → 2, a CliError → its one line and code, anything else →
 * "unexpected" with `unexpectedCode`. Shared by `hivewall` and `kubectl-hivewall`.
 */
export async function runProgram(
  program: Command,
  argv: readonly string[],
  stderr: NodeJS.WritableStream,
  prefix: string,
  unexpectedCode: number,
): Promise<number> {
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof CliError) {
      stderr.write(`${prefix}: ${escapeControl(error.message)}\n`);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    stderr.write(`${prefix}: unexpected error: ${escapeControl(message)}\n`);
    return unexpectedCode;
  }
}
