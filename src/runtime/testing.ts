/**
 * Test support for code built on the runtime: a pino logger whose lines can be inspected.
 * (The manual clock is in ./fake-clock.ts.)
 */
import { pino, type Logger } from 'pino';

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface CapturedLogger {
  readonly logger: Logger;
  readonly lines: LogLine[];
  /** Lines with this message. */
  find(msg: string): LogLine[];
}

/** A JSON pino logger (level `debug` unless given) that keeps its lines in memory. */
export function captureLogger(level = 'debug'): CapturedLogger {
  const lines: LogLine[] = [];
  const logger = pino({ level }, { write: (s: string) => { lines.push(JSON.parse(s) as LogLine); } });
  return { logger, lines, find: (msg) => lines.filter((l) => l.msg === msg) };
}
