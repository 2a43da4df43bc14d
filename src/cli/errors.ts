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
