/**
 * SIGTERM/SIGINT handling for a graceful shutdown. Kubernetes sends SIGTERM, waits
 * `terminationGracePeriodSeconds` (30 s by default), then SIGKILLs; a person presses Ctrl-C.
 *
 * - The first signal runs `shutdown()` once; when it settles the process exits (0 if it
 *   resolved, 1 if it rejected), unless `exitAfterShutdown` is false.
 * - A second signal exits at once with 128 + the signal number (130 for SIGINT, 143 for SIGTERM),
 *   like a shell would report it.
 * - `forceExitAfterMs` bounds the shutdown: past it the process exits with 1 (set it a little
 *   below the grace period, so the logs say why instead of the container just vanishing).
 */
import type { Logger } from 'pino';

export type ShutdownSignal = 'SIGTERM' | 'SIGINT';

const SIGNAL_NUMBERS: Record<ShutdownSignal, number> = { SIGINT: 2, SIGTERM: 15 };

/** The part of `process` this module uses (tests pass a fake). */
export interface SignalTarget {
  on(event: ShutdownSignal, listener: () => void): unknown;
  off(event: ShutdownSignal, listener: () => void): unknown;
  exit(code: number): void;
}

export interface SignalOptions {
  readonly shutdown: (signal: ShutdownSignal) => Promise<void>;
  readonly logger: Logger;
  readonly signals?: readonly ShutdownSignal[];
  /** Exit when shutdown settles (default true). */
  readonly exitAfterShutdown?: boolean;
  /** Exit with 1 if shutdown takes longer (default: no limit). */
  readonly forceExitAfterMs?: number;
  readonly target?: SignalTarget;
}

export interface SignalHandle {
  /** Remove the listeners (e.g. in tests, or once shutdown is under way elsewhere). */
  dispose(): void;
  /** Settles when a triggered shutdown has finished (never, if no signal came). */
  readonly done: Promise<void>;
}

export function handleShutdownSignals(opts: SignalOptions): SignalHandle {
  const target: SignalTarget = opts.target ?? process;
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  const log = opts.logger;
  let first: ShutdownSignal | undefined;
  let forceTimer: NodeJS.Timeout | undefined;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => { resolveDone = resolve; });

  const exit = (code: number) => {
    if (forceTimer) clearTimeout(forceTimer);
    target.exit(code);
  };

  const listeners = new Map<ShutdownSignal, () => void>();
  for (const signal of signals) {
    const listener = () => {
      if (first !== undefined) {
        log.warn({ signal, first }, 'second signal: exiting now');
        exit(128 + SIGNAL_NUMBERS[signal]);
        return;
      }
      first = signal;
      log.info({ signal }, 'shutting down');
      if (opts.forceExitAfterMs !== undefined) {
        forceTimer = setTimeout(() => {
          log.error({ signal, timeoutMs: opts.forceExitAfterMs }, 'shutdown took too long: exiting');
          exit(1);
        }, opts.forceExitAfterMs);
        forceTimer.unref();
      }
      let code = 0;
      Promise.resolve()
        .then(() => opts.shutdown(signal))
        .then(() => log.info({ signal }, 'shutdown complete'), (err: unknown) => {
          code = 1;
          log.error({ err, signal }, 'shutdown failed');
        })
        .finally(() => {
          resolveDone();
          if (opts.exitAfterShutdown ?? true) exit(code);
          else if (forceTimer) clearTimeout(forceTimer);
        });
    };
    listeners.set(signal, listener);
    target.on(signal, listener);
  }

  return {
    dispose() {
      for (const [signal, listener] of listeners) target.off(signal, listener);
      listeners.clear();
    },
    done,
  };
}
