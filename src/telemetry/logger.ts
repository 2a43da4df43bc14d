/**
 * The pino logger factory (docs/architecture.md §6 rule 7): JSON lines, level from config, constant
 * messages with data in fields, and one child logger per reconcile bound to the object's
 * namespace and name and a fresh reconcile id, so every line of one reconcile can be found
 * with a single filter.
 */
import { randomUUID } from 'node:crypto';
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LevelWithSilent[];
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  /** From config (default `info`). */
  readonly level?: LogLevel;
  /** Bound to every line, e.g. `{ component: 'manager' }`. */
  readonly base?: Record<string, unknown>;
  /** Where lines go (default stdout). Tests pass a stream. */
  readonly destination?: DestinationStream;
}

/**
 * Never let credentials reach a log line: bearer tokens and headers that a client-node error
 * or request object may carry.
 */
const REDACT = [
  'token', '*.token', 'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  'headers.Authorization', '*.headers.Authorization', 'password', '*.password',
];

/** The process logger: JSON, ISO timestamps, `level` as a name, errors serialised under `err`. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const options = {
    level: opts.level ?? 'info',
    base: { ...(opts.base ?? {}) },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: REDACT, censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.errWithCause },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A fresh id for one reconcile (a UUID, as controller-runtime's reconcileID). */
export function newReconcileId(): string {
  return randomUUID();
}

export interface ReconcileLogFields {
  readonly controller: string;
  readonly namespace?: string | undefined;
  readonly name: string;
  readonly reconcileId: string;
}

/** The child logger for one reconcile: `controller`, `namespace`, `name`, `reconcileId` on every line. */
export function reconcileLogger(parent: Logger, fields: ReconcileLogFields): Logger {
  return parent.child({
    controller: fields.controller,
    ...(fields.namespace ? { namespace: fields.namespace } : {}),
    name: fields.name,
    reconcileId: fields.reconcileId,
  });
}
