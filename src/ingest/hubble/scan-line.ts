/**
 * One Hubble line the fast way: the byte scanner (./scan.ts), and the full parser (./parse.ts) for
 * whatever the scanner leaves to it. Results are deep-equal to the full parser's alone.
 */
import { Buffer } from 'node:buffer';
import type { ParseResult } from '../../domain/flow.js';
import { DEFAULT_MAX_LINE_BYTES, type HubbleParseOptions } from './line-limit.js';
import { parseHubbleLine } from './parse.js';
import { scanLineBytes } from './scan.js';

/** Whether the scanner decided the line itself (`fast`) or handed it to the full parser. */
export type ScanOutcome = { readonly result: ParseResult; readonly fast: boolean };

/**
 * The fast path over a line's bytes `buf[start, end)` (no newline); see ./scan.ts for its
 * contract. The bytes are only read during the call.
 */
export function scanHubbleBytes(buf: Buffer, start: number, end: number, options?: HubbleParseOptions): ParseResult {
  return scanLineBytes(buf, start, end, options?.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES) ?? parseHubbleLine(buf.subarray(start, end), options);
}

/** {@link scanHubbleBytes}, also telling whether the fast path decided (tests, metrics). */
export function scanHubbleBytesOutcome(buf: Buffer, start: number, end: number, options?: HubbleParseOptions): ScanOutcome {
  const result = scanLineBytes(buf, start, end, options?.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  return result !== undefined ? { result, fast: true } : { result: parseHubbleLine(buf.subarray(start, end), options), fast: false };
}

/**
 * The fast path for one line (string or bytes, without its newline): the same result as
 * {@link parseHubbleLine}, faster. A string with lone surrogates (not encodable as UTF-8 losslessly)
 * goes to the full parser.
 */
export function scanHubbleLine(line: string | Uint8Array, options?: HubbleParseOptions): ParseResult {
  if (typeof line === 'string') {
    if (!line.isWellFormed()) return parseHubbleLine(line, options);
    const bytes = Buffer.from(line, 'utf8');
    return scanHubbleBytes(bytes, 0, bytes.length, options);
  }
  const buf = Buffer.isBuffer(line) ? line : Buffer.from(line.buffer, line.byteOffset, line.byteLength);
  return scanHubbleBytes(buf, 0, buf.length, options);
}
