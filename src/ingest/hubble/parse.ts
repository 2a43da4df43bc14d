/**
 * The full Hubble line parser: `JSON.parse` + zod `safeParse` (schema.ts) + build.ts. It is the
 * reference the fast scanner (scan.ts) must agree with, and the scanner's fallback. Pure.
 *
 * A line is one JSON value as written by `hubble observe -o json|jsonpb` or the Cilium flow
 * exporter: an `observer.GetFlowsResponse` / `observer.ExportEvent` envelope
 * (`{"flow":{...},"node_name":"...","time":"..."}`, or `lost_events`, `node_status`, `agent_event`,
 * `debug_event` in place of `flow`), or a bare `flow.Flow` object (an object with no envelope member).
 *
 * Skip reasons: blank line (JSON whitespace only) → `empty`; more than `maxLineBytes` UTF-8 bytes →
 * `too-long` (not parsed); not JSON → `malformed`; JSON of the wrong shape, type or enum value →
 * `schema-mismatch`; a flow without L4 protocol → `unsupported-protocol`.
 */
import { Buffer } from 'node:buffer';
import type { ZodError } from 'zod';
import type { ParseResult } from '../../domain/flow.js';
import { agentEventResult, flowResult, lostEventsResult, nodeStatusResult, skip } from './build.js';
import { DEFAULT_MAX_LINE_BYTES, tooLong, type HubbleParseOptions } from './line-limit.js';
import { Envelope, Flow } from './schema.js';

/** Describes the first issue of a zod error as `path: message`. */
function describe(error: ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'schema mismatch';
  const path = issue.path.map(String).join('.');
  return path === '' ? issue.message : `${path}: ${issue.message}`;
}

/** True when `text` holds only JSON whitespace (space, tab, CR, LF). */
export function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return true;
}

/** Interprets a parsed JSON value as a Hubble line. */
export function hubbleValueResult(value: unknown): ParseResult {
  const envelope = Envelope.safeParse(value);
  if (!envelope.success) return skip('schema-mismatch', describe(envelope.error));
  const env = envelope.data;
  if (env.flow != null) return flowResult(env.flow, env.node_name, env.time);
  if (env.lost_events != null) return lostEventsResult(env.lost_events);
  if (env.node_status != null) return nodeStatusResult(env.node_status, env.node_name);
  if (env.agent_event != null) return agentEventResult(env.agent_event);
  if (env.debug_event != null) return { kind: 'debug-event' };
  // No envelope member: a bare `flow.Flow` (its own `time` and `node_name`).
  const bare = Flow.safeParse(value);
  if (!bare.success) return skip('schema-mismatch', describe(bare.error));
  return flowResult(bare.data);
}

/**
 * Parses one line (without its newline) with `JSON.parse` and the zod schema. Bytes are decoded as
 * UTF-8 (invalid sequences become U+FFFD, as `Buffer.toString` does).
 */
export function parseHubbleLine(line: string | Uint8Array, options?: HubbleParseOptions): ParseResult {
  const limit = options?.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  let text: string;
  if (typeof line === 'string') {
    // A UTF-16 code unit is 1 to 3 UTF-8 bytes: count bytes only when the line may be too long.
    if (line.length * 3 > limit) {
      const bytes = Buffer.byteLength(line, 'utf8');
      if (bytes > limit) return tooLong(bytes, limit);
    }
    text = line;
  } else {
    if (line.length > limit) return tooLong(line.length, limit);
    text = Buffer.from(line.buffer, line.byteOffset, line.byteLength).toString('utf8');
  }
  if (isBlank(text)) return skip('empty');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return skip('malformed', error instanceof Error ? error.message : 'not JSON');
  }
  return hubbleValueResult(value);
}
