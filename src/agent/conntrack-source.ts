/**
 * The node agent's flow source: the kernel's connection tracking table, read through
 * conntrack-tools, in two ways at once:
 *
 * - **events**: `conntrack -E -o timestamp,extended` runs for the life of the agent and reports
 *   every NEW / UPDATE / DESTROY as it happens (with the time the event was received);
 * - **dumps**: `conntrack -L -o extended` runs at start and every `dumpIntervalMs`, so that
 *   connections opened before the agent started (a long-lived database connection) are learned,
 *   and so are events the kernel dropped when the netlink socket overflowed (ENOBUFS).
 *
 * Every line goes through the shared parser (`parseConntrackLine` → `conntrackEntryToFlow`): the
 * ORIGINAL tuple's source is the client; the REPLY tuple's source is the server that really
 * answered, i.e. the backend pod after a Service DNAT. The same connection appears many times
 * (each event, each dump); the consumer (the Learner) deduplicates by 5-tuple.
 *
 * Failure handling (docs/architecture.md §6 rule 2: counted, logged, never a crash):
 * - the events process exiting is restarted with capped exponential backoff (reset after it ran
 *   `stableAfterMs`); each exit is counted by reason;
 * - a missing `conntrack` binary (spawn ENOENT, or `ip netns exec`'s "No such file") and a
 *   permission error (netlink needs CAP_NET_ADMIN: "Operation not permitted") are classified,
 *   counted and reported by {@link ConntrackSource.status} for the health server; the source keeps
 *   retrying in the background, so fixing the cause needs no restart;
 * - stderr lines are counted and logged (the first few of each process run, then only counted);
 *   conntrack's own summary line ("N flow entries have been shown.") is not an error;
 * - a dump that hangs is killed after `dumpTimeoutMs`.
 *
 * The command can be prefixed (`ip netns exec <ns>` in the kernel test, `nsenter …` elsewhere)
 * and the process runner injected (a fake in unit tests).
 */
import type { Logger } from 'pino';
import type { ParseResult, SkipReason } from '../domain/flow.js';
import { readConntrack } from '../ingest/conntrack/read.js';
import { Backoff, type BackoffPolicy } from '../runtime/backoff.js';
import { sleep, systemClock, type Clock, type TimerHandle } from '../runtime/clock.js';
import { spawnRunner, type ChildExit, type ChildHandle, type CommandRunner } from './command.js';

/** Where a line came from. */
export type ConntrackOrigin = 'events' | 'dump';

/** Why the conntrack source is not healthy. */
export type ConntrackErrorKind =
  /** The `conntrack` binary is not installed (or not on PATH). */
  | 'missing-binary'
  /** The kernel refused the netlink socket: the container lacks CAP_NET_ADMIN (or is not root). */
  | 'permission'
  /** The events process exited (a crash, a kill, a conntrack error). */
  | 'exited'
  /** A dump exited non-zero or could not be read. */
  | 'dump-failed'
  /** A dump ran longer than `dumpTimeoutMs` and was killed. */
  | 'dump-timeout';

export interface ConntrackSourceOptions {
  /** Receives every parsed line (flows and skips), in order per process. Must not throw. */
  readonly sink: (result: ParseResult, origin: ConntrackOrigin) => void;
  readonly logger: Logger;
  readonly runner?: CommandRunner;
  /** Prepended to every command, e.g. `['ip', 'netns', 'exec', 'test-ns']`. Default none. */
  readonly prefix?: readonly string[];
  /** The conntrack binary. Default `conntrack` (looked up on PATH). */
  readonly binary?: string;
  readonly clock?: Clock;
  /** Time between full-table dumps. Default 60 s. 0 disables periodic dumps (the first one still runs). */
  readonly dumpIntervalMs?: number;
  /** A dump still running after this long is killed. Default 30 s. */
  readonly dumpTimeoutMs?: number;
  /** Backoff between restarts of the events process. Default 1 s doubling to 60 s, 20 % jitter. */
  readonly restartBackoff?: BackoffPolicy;
  /** An events process that ran this long resets the backoff. Default 30 s. */
  readonly stableAfterMs?: number;
  /** stderr lines logged per process run (the rest are only counted). Default 20. */
  readonly maxLoggedStderrLines?: number;
  /** Lines longer than this are skipped as `too-long`. Default 8192 (the parser's). */
  readonly maxLineLength?: number;
}

export interface ConntrackSourceStats {
  /** Lines read, by origin. */
  readonly lines: Record<ConntrackOrigin, number>;
  /** Lines that became a flow. */
  flows: number;
  /** Lines skipped by the parser, by reason. */
  readonly skipped: Record<SkipReason, number>;
  /** Events processes started. */
  eventStarts: number;
  /** Events process exits by classified reason (stops requested by the agent are not counted). */
  readonly eventExits: Partial<Record<ConntrackErrorKind, number>>;
  /** stderr lines, excluding conntrack's "… have been shown." summary. */
  stderrLines: number;
  /** Times `conntrack -E` said the kernel dropped events (ENOBUFS); each is reported as lost events. */
  lostEventNotices: number;
  readonly dumps: { ok: number; failed: number };
  /** Every error by kind (events exits, dump failures). */
  readonly errors: Partial<Record<ConntrackErrorKind, number>>;
}

export interface ConntrackStatus {
  readonly ok: boolean;
  readonly reason?: string;
  readonly kind?: ConntrackErrorKind;
}

/** conntrack-tools' closing summary on stderr: `conntrack v1.4.7 (conntrack-tools): 12 flow entries have been shown.` */
const SUMMARY = /flow (entries|events) have been shown\.?\s*$/;
const PERMISSION = /operation not permitted|permission denied|EPERM|EACCES/i;
/** `ip netns exec`: `exec of "conntrack" failed: No such file or directory`; shells: `command not found`. */
const MISSING = /no such file or directory|command not found|not found in \$?PATH|ENOENT/i;
/**
 * `conntrack -E` when the netlink socket overflowed: `WARNING: We have hit ENOBUFS! We are losing
 * events.` (conntrack-tools, then it goes on reading). The events in between are gone; how many is
 * not said.
 */
const LOST_EVENTS = /hit ENOBUFS|losing events/i;

const DEFAULT_RESTART_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 60_000, jitter: 0.2 };

function emptySkips(): Record<SkipReason, number> {
  return { empty: 0, malformed: 0, 'schema-mismatch': 0, 'too-long': 0, 'unsupported-protocol': 0, 'invalid-name': 0 };
}

export class ConntrackSource {
  readonly stats: ConntrackSourceStats = {
    lines: { events: 0, dump: 0 },
    flows: 0,
    skipped: emptySkips(),
    eventStarts: 0,
    eventExits: {},
    stderrLines: 0,
    lostEventNotices: 0,
    dumps: { ok: 0, failed: 0 },
    errors: {},
  };

  readonly #opts: ConntrackSourceOptions;
  readonly #log: Logger;
  readonly #runner: CommandRunner;
  readonly #clock: Clock;
  readonly #prefix: readonly string[];
  readonly #binary: string;
  readonly #backoff: Backoff;
  #abort = new AbortController();
  #events: ChildHandle | undefined;
  #eventsRunning = false;
  #eventsLoop: Promise<void> | undefined;
  #dumpTimer: TimerHandle | undefined;
  #dumping: Promise<boolean> | undefined;
  #dumpChild: ChildHandle | undefined;
  #lastEventsError: { kind: ConntrackErrorKind; detail: string } | undefined;
  #lastDumpError: { kind: ConntrackErrorKind; detail: string } | undefined;
  #started = false;

  constructor(opts: ConntrackSourceOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'conntrack' });
    this.#runner = opts.runner ?? spawnRunner;
    this.#clock = opts.clock ?? systemClock;
    this.#prefix = opts.prefix ?? [];
    this.#binary = opts.binary ?? 'conntrack';
    this.#backoff = new Backoff(opts.restartBackoff ?? DEFAULT_RESTART_BACKOFF);
  }

  /** The events command line. */
  get eventsCommand(): string[] {
    return [...this.#prefix, this.#binary, '-E', '-o', 'timestamp,extended'];
  }

  /** The dump command line. */
  get dumpCommand(): string[] {
    return [...this.#prefix, this.#binary, '-L', '-o', 'extended'];
  }

  /** The process id of the running events process (for diagnostics and tests). */
  get eventsPid(): number | undefined {
    return this.#eventsRunning ? this.#events?.pid : undefined;
  }

  /** Starts the events process and the first dump; later dumps follow every `dumpIntervalMs`. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#abort = new AbortController();
    this.#eventsLoop = this.#runEvents();
    // Events first, then the dump: a connection opened in between shows up in one or both,
    // and the Learner counts it once.
    this.#scheduleDump(0);
  }

  /** Stops the events process and any dump; resolves when they have exited. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#abort.abort();
    if (this.#dumpTimer !== undefined) this.#clock.clearTimeout(this.#dumpTimer);
    this.#dumpTimer = undefined;
    this.#events?.kill();
    this.#dumpChild?.kill();
    await Promise.all([this.#eventsLoop, this.#dumping]);
  }

  /**
   * Healthy when the events process is running and the last dump (if any) succeeded. Otherwise
   * the reason names the failure, e.g. `missing-binary: spawn conntrack ENOENT`.
   */
  status(): ConntrackStatus {
    if (!this.#started) return { ok: false, reason: 'not started' };
    const failure = this.#eventsRunning ? this.#lastDumpError : (this.#lastEventsError ?? { kind: 'exited' as const, detail: 'events process not running' });
    if (failure) return { ok: false, kind: failure.kind, reason: `${failure.kind}: ${failure.detail}` };
    return { ok: true };
  }

  /** Runs one dump now (also used by the timer). Resolves true when it succeeded. */
  dumpNow(): Promise<boolean> {
    this.#dumping ??= this.#dump().finally(() => {
      this.#dumping = undefined;
    });
    return this.#dumping;
  }

  #scheduleDump(ms: number): void {
    if (!this.#started) return;
    this.#dumpTimer = this.#clock.setTimeout(() => {
      this.#dumpTimer = undefined;
      void this.dumpNow().then(() => {
        const interval = this.#opts.dumpIntervalMs ?? 60_000;
        if (interval > 0) this.#scheduleDump(interval);
      });
    }, ms);
  }

  #deliver(result: ParseResult, origin: ConntrackOrigin): void {
    this.stats.lines[origin]++;
    if (result.kind === 'flow') this.stats.flows++;
    else if (result.kind === 'skip') this.stats.skipped[result.reason]++;
    this.#sink(result, origin);
  }

  #sink(result: ParseResult, origin: ConntrackOrigin): void {
    try {
      this.#opts.sink(result, origin);
    } catch (err) {
      // A sink bug must not stop reading the kernel's table.
      this.#log.error({ err, origin }, 'conntrack sink failed');
    }
  }

  /**
   * The kernel dropped events (ENOBUFS): reported to the sink as lost events (at least one; the
   * count is unknown), which the agent ships as dropped so the controller knows the graph may miss
   * edges (src/agent/aggregator.ts). The next dump picks up the connections still open.
   */
  #lostEvents(log: boolean): void {
    this.stats.lostEventNotices++;
    if (log) this.#log.warn({ origin: 'events' }, 'conntrack lost events (ENOBUFS): the netlink socket buffer overflowed');
    this.#sink({ kind: 'lost-events', source: 'conntrack-enobufs', count: 1 }, 'events');
  }

  #countError(kind: ConntrackErrorKind): void {
    this.stats.errors[kind] = (this.stats.errors[kind] ?? 0) + 1;
  }

  /** Reads stderr; returns the lines that were not conntrack's summary (at most a few kept). */
  async #readStderr(child: ChildHandle, origin: ConntrackOrigin): Promise<string[]> {
    const kept: string[] = [];
    const maxLogged = this.#opts.maxLoggedStderrLines ?? 20;
    let logged = 0;
    let partial = '';
    const onLine = (line: string) => {
      const text = line.trim();
      if (text === '' || SUMMARY.test(text)) return;
      this.stats.stderrLines++;
      if (origin === 'events' && LOST_EVENTS.test(text)) {
        this.#lostEvents(logged++ < maxLogged);
        return;
      }
      if (kept.length < 8) kept.push(text.slice(0, 500));
      if (logged++ < maxLogged) this.#log.warn({ origin, stderr: text.slice(0, 500) }, 'conntrack stderr');
    };
    try {
      for await (const chunk of child.stderr) {
        partial += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
        // Bound a line without newline: a runaway process must not grow this buffer.
        if (partial.length > 64 * 1024) partial = partial.slice(-8192);
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) onLine(line);
      }
    } catch {
      // the pipe broke: the exit status tells the story
    }
    if (partial) onLine(partial);
    return kept;
  }

  /** Classifies why a process ended, from its exit and what it printed on stderr. */
  #classify(exit: ChildExit, stderr: readonly string[], fallback: ConntrackErrorKind): { kind: ConntrackErrorKind; detail: string } {
    const text = stderr.join(' | ');
    if (exit.error) {
      const kind = exit.error.code === 'ENOENT' ? 'missing-binary' : exit.error.code === 'EACCES' || exit.error.code === 'EPERM' ? 'permission' : fallback;
      return { kind, detail: exit.error.message };
    }
    const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
    if (PERMISSION.test(text)) return { kind: 'permission', detail: `${how}: ${text}` };
    if (exit.code === 127 || (exit.code !== 0 && MISSING.test(text))) return { kind: 'missing-binary', detail: `${how}${text ? `: ${text}` : ''}` };
    return { kind: fallback, detail: `${how}${text ? `: ${text}` : ''}` };
  }

  async #runEvents(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const startedAt = this.#clock.now();
      const argv = this.eventsCommand;
      const child = this.#runner(argv);
      this.#events = child;
      this.#eventsRunning = true;
      this.stats.eventStarts++;
      this.#log.info({ command: argv.join(' ') }, 'conntrack events started');
      const stderr = this.#readStderr(child, 'events');
      const reading = readConntrack(child.stdout, (r) => this.#deliver(r, 'events'), {
        ...(this.#opts.maxLineLength !== undefined ? { maxLineLength: this.#opts.maxLineLength } : {}),
      }).catch((err: unknown) => {
        this.#log.warn({ err }, 'reading conntrack events failed');
      });
      const exit = await child.exit;
      this.#eventsRunning = false;
      await reading;
      const lines = await stderr;
      this.#events = undefined;
      if (signal.aborted) break;

      const failure = this.#classify(exit, lines, 'exited');
      this.#lastEventsError = failure;
      this.stats.eventExits[failure.kind] = (this.stats.eventExits[failure.kind] ?? 0) + 1;
      this.#countError(failure.kind);
      const ranMs = this.#clock.now() - startedAt;
      if (ranMs >= (this.#opts.stableAfterMs ?? 30_000)) this.#backoff.reset();
      const delayMs = Math.round(this.#backoff.next());
      const fields = { kind: failure.kind, detail: failure.detail, ranMs, restartInMs: delayMs, restarts: this.stats.eventStarts };
      if (failure.kind === 'missing-binary' || failure.kind === 'permission') this.#log.error(fields, 'conntrack events cannot run');
      else this.#log.warn(fields, 'conntrack events exited');
      await sleep(this.#clock, delayMs, signal);
    }
  }

  async #dump(): Promise<boolean> {
    const argv = this.dumpCommand;
    const child = this.#runner(argv);
    this.#dumpChild = child;
    const time = this.#clock.now();
    let timedOut = false;
    const timer = this.#clock.setTimeout(() => {
      timedOut = true;
      child.kill();
    }, this.#opts.dumpTimeoutMs ?? 30_000);
    const stderr = this.#readStderr(child, 'dump');
    let readError: unknown;
    const summary = await readConntrack(child.stdout, (r) => this.#deliver(r, 'dump'), {
      time,
      ...(this.#opts.maxLineLength !== undefined ? { maxLineLength: this.#opts.maxLineLength } : {}),
    }).catch((err: unknown) => {
      readError = err;
      return undefined;
    });
    const exit = await child.exit;
    this.#dumpChild = undefined;
    this.#clock.clearTimeout(timer);
    const lines = await stderr;
    const ok = !timedOut && readError === undefined && exit.code === 0 && !exit.error;
    if (ok) {
      this.stats.dumps.ok++;
      this.#lastDumpError = undefined;
      this.#log.debug({ lines: summary?.lines ?? 0 }, 'conntrack dump read');
      return true;
    }
    if (!this.#started && exit.signal) return false; // killed by stop(): not a failure
    this.stats.dumps.failed++;
    const failure = timedOut
      ? { kind: 'dump-timeout' as const, detail: `still running after ${this.#opts.dumpTimeoutMs ?? 30_000} ms` }
      : readError !== undefined
        ? { kind: 'dump-failed' as const, detail: readError instanceof Error ? readError.message : String(readError) }
        : this.#classify(exit, lines, 'dump-failed');
    this.#lastDumpError = failure;
    this.#countError(failure.kind);
    this.#log.warn({ kind: failure.kind, detail: failure.detail, command: argv.join(' ') }, 'conntrack dump failed');
    return false;
  }
}
