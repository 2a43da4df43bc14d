/**
 * Time for the shop example. Every instant is an integer number of nanoseconds relative to the
 * fixed base time 2026-11-02T10:00:00Z (negative = before it). The capture window is
 * [BASE, BASE + 1 h).
 */

export const BASE_ISO = '2026-11-02T10:00:00Z';
export const BASE_EPOCH_S = Date.parse(BASE_ISO) / 1000; // 1793613600

export const US = 1_000;
export const MS = 1_000_000;
export const SEC = 1_000_000_000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;

/** End of the capture window (exclusive). */
export const WINDOW_END = HOUR;

function split(ns: number): { sec: number; frac: number } {
  const whole = Math.floor(ns / SEC);
  return { sec: BASE_EPOCH_S + whole, frac: ns - whole * SEC };
}

function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 19);
}

/**
 * A `google.protobuf.Timestamp` as protojson writes it: RFC 3339 in UTC with 0, 3, 6 or 9
 * fractional digits (the fewest that keep the value exact).
 */
export function protoTime(ns: number): string {
  const { sec, frac } = split(ns);
  let fraction = '';
  if (frac !== 0) {
    if (frac % MS === 0) fraction = '.' + String(frac / MS).padStart(3, '0');
    else if (frac % US === 0) fraction = '.' + String(frac / US).padStart(6, '0');
    else fraction = '.' + String(frac).padStart(9, '0');
  }
  return `${isoSeconds(sec)}${fraction}Z`;
}

/** Kubernetes metav1.Time (seconds precision), e.g. "2026-11-02T10:30:05Z". */
export function k8sTime(ns: number): string {
  return `${isoSeconds(split(ns).sec)}Z`;
}

/** Lumberjack backup-name timestamp (UTC), e.g. "2026-11-02T10-30-00.000". */
export function lumberjackStamp(ns: number): string {
  const { sec, frac } = split(ns);
  const ms = String(Math.floor(frac / MS)).padStart(3, '0');
  return `${isoSeconds(sec).replaceAll(':', '-')}.${ms}`;
}

/** `conntrack -o timestamp` prefix: `[seconds.microseconds]`. */
export function conntrackStamp(ns: number): string {
  const { sec, frac } = split(ns);
  return `[${sec}.${String(Math.floor(frac / US)).padStart(6, '0')}]`;
}

/** Seconds since the Unix epoch (for CronJob job names: scheduled time in minutes). */
export function epochSeconds(ns: number): number {
  return split(ns).sec;
}
