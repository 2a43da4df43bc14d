/**
 * The longest Hubble line parsed, shared by the byte scanner (./scan.ts) and the full parser
 * (./parse.ts). Kept apart from the full parser so that what imports only the scanner (a parser
 * thread: ./parse-worker.ts) does not load the full parser's schema library.
 */
import type { ParseResult } from '../../domain/flow.js';
import { skip } from './build.js';

/** Lines longer than this many bytes are skipped as `too-long` unless configured otherwise. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

export interface HubbleParseOptions {
  /** Longest line, in UTF-8 bytes, that is parsed; longer ones are `too-long`. Default 1 MiB. */
  readonly maxLineBytes?: number;
}

/** The `too-long` skip for a line of `bytes` UTF-8 bytes. */
export function tooLong(bytes: number, limit: number): ParseResult {
  return skip('too-long', `line of ${bytes} bytes exceeds the ${limit}-byte limit`);
}
