/**
 * `google.protobuf.Timestamp` for the GetFlows stream's resume position: nanoseconds since the
 * epoch, the request's Timestamp object, and protojson's RFC 3339 text (`Z`-normalized UTC with 0,
 * 3, 6 or 9 fractional digits; outside 0001-01-01..9999-12-31 or with nanos outside [0, 1e9) it is
 * invalid), in which resume points are persisted. Pure.
 */


export interface TimestampObject {
  readonly seconds?: string | number;
  readonly nanos?: number;
}

/** Smallest and largest valid `Timestamp.seconds` (0001-01-01T00:00:00Z, 9999-12-31T23:59:59Z). */
const MIN_SECONDS = -62_135_596_800;
const MAX_SECONDS = 253_402_300_799;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `Timestamp` seconds and nanos, or undefined when the value is not a valid Timestamp. */
export function timestampParts(value: unknown): { seconds: number; nanos: number } | undefined {
  if (!isRecord(value)) return undefined;
  const rawSeconds = value['seconds'] ?? 0;
  const nanos = value['nanos'] ?? 0;
  const seconds = typeof rawSeconds === 'string' ? Number(rawSeconds) : rawSeconds;
  if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds < MIN_SECONDS || seconds > MAX_SECONDS) return undefined;
  if (typeof nanos !== 'number' || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) return undefined;
  return { seconds, nanos };
}

/** Nanoseconds since the epoch of a valid `Timestamp`, else undefined. */
export function timestampNanos(value: unknown): bigint | undefined {
  const parts = timestampParts(value);
  return parts === undefined ? undefined : BigInt(parts.seconds) * 1_000_000_000n + BigInt(parts.nanos);
}

/** A `Timestamp` object from nanoseconds since the epoch (for requests). */
export function timestampFromNanos(ns: bigint): { seconds: string; nanos: number } {
  let seconds = ns / 1_000_000_000n;
  let nanos = ns % 1_000_000_000n;
  if (nanos < 0n) {
    seconds -= 1n;
    nanos += 1_000_000_000n;
  }
  return { seconds: seconds.toString(), nanos: Number(nanos) };
}

/** protojson's text of a `Timestamp`: `2024-05-02T09:14:03.512874321Z` (0, 3, 6 or 9 fraction digits). */
export function formatTimestamp(value: unknown): string {
  const parts = timestampParts(value);
  if (parts === undefined) return 'invalid google.protobuf.Timestamp';
  const base = new Date(parts.seconds * 1000).toISOString().slice(0, 19);
  const { nanos } = parts;
  let fraction = '';
  if (nanos !== 0) {
    const digits = String(nanos).padStart(9, '0');
    if (nanos % 1_000_000 === 0) fraction = `.${digits.slice(0, 3)}`;
    else if (nanos % 1000 === 0) fraction = `.${digits.slice(0, 6)}`;
    else fraction = `.${digits}`;
  }
  return `${base}${fraction}Z`;
}

/** Nanoseconds since the epoch of an RFC 3339 UTC time with up to 9 fraction digits (as {@link formatTimestamp} writes), else undefined. */
export function parseTimestampNanos(text: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}Z`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms / 1000) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}
