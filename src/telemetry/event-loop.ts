/**
 * Event-loop lag: how long timers and I/O callbacks waited because something held the one
 * JavaScript thread. A leader whose loop stalls past the Lease's renew deadline loses its lease
 * (docs/architecture.md, "Style rules": long loops yield), so the operator measures it.
 *
 * Measured with Node's `perf_hooks.monitorEventLoopDelay`: a libuv timer every `resolutionMs`
 * records, in an HDR histogram, the time since its previous tick (so a tick on time records about
 * `resolutionMs`, which is subtracted). Two histograms run side by side: one is never reset and
 * gives the longest delay since start (what `maxDelayMs()` and the max gauge report), one is read
 * and reset every `sampleMs` for the per-window observations. A reset forgets the previous tick,
 * so a stall that straddles it could go unrecorded in that window; the window's value is therefore
 * the larger of its own maximum and any new all-time maximum, and no stall longer than every
 * earlier one is ever missed. The sampling timer is unref'd: it never keeps the process alive.
 */
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';

/** Hooks for Prometheus (telemetry/metrics.ts `eventLoopMetrics()`); both optional. */
export interface EventLoopMetrics {
  /** The longest delay of one sampling window, in seconds. */
  delay?(seconds: number): void;
  /** The longest delay since the monitor started, in seconds (after every window). */
  maxDelay?(seconds: number): void;
}

export interface EventLoopMonitorOptions {
  readonly metrics?: EventLoopMetrics | undefined;
  /** Sampling window (default 1 s). */
  readonly sampleMs?: number | undefined;
  /** Resolution of the delay timer (default 10 ms; Node's minimum is 1). */
  readonly resolutionMs?: number | undefined;
}

export interface EventLoopMonitor {
  /** The longest delay seen so far (closing the current window first), in milliseconds. */
  maxDelayMs(): number;
  /** Stops the timer and the histogram; reports the last window. Idempotent. */
  stop(): void;
}

/** Starts measuring; call `stop()` on shutdown. */
export function startEventLoopMonitor(opts: EventLoopMonitorOptions = {}): EventLoopMonitor {
  const resolutionMs = Math.max(1, Math.round(opts.resolutionMs ?? 10));
  const sinceStart: ELDHistogram = monitorEventLoopDelay({ resolution: resolutionMs });
  const window: ELDHistogram = monitorEventLoopDelay({ resolution: resolutionMs });
  sinceStart.enable();
  window.enable();
  /** Longest delay of a histogram, minus the timer's own period; 0 before any tick. */
  const delayMs = (h: ELDHistogram) => (h.count === 0 ? 0 : Math.max(0, h.max / 1e6 - resolutionMs));
  let maxMs = 0;
  let stopped = false;

  /** Close the window: report its longest delay, fold it into the maximum, reset. */
  const sample = () => {
    const allTimeMs = delayMs(sinceStart);
    const windowMs = Math.max(delayMs(window), allTimeMs > maxMs ? allTimeMs : 0);
    window.reset();
    maxMs = Math.max(maxMs, allTimeMs, windowMs);
    opts.metrics?.delay?.(windowMs / 1000);
    opts.metrics?.maxDelay?.(maxMs / 1000);
  };
  const timer = setInterval(sample, Math.max(10, opts.sampleMs ?? 1000));
  timer.unref();

  return {
    maxDelayMs() {
      if (!stopped) maxMs = Math.max(maxMs, delayMs(sinceStart));
      return maxMs;
    },
    stop() {
      if (stopped) return;
      sample();
      stopped = true;
      clearInterval(timer);
      window.disable();
      sinceStart.disable();
    },
  };
}
