/**
 * Shared by `learn` and `graph`: load the snapshot, read every flow input into a Learner,
 * and report progress on a terminal (pipes stay quiet).
 */
import { availableParallelism } from 'node:os';
import type { LoadedSnapshot } from '../ingest/cluster-snapshot.js';
import { readFlowInput, FlowInputError, type FlowFormat, type InputStats } from '../ingest/flow-input.js';
import { emptyInventory } from '../domain/inventory.js';
import { IdentityResolver } from '../domain/identity.js';
import { Learner } from '../domain/learner.js';
import { InputError, UsageError } from './errors.js';
import type { CliIo } from './main.js';

export interface FlowInputOptions {
  readonly flows: readonly string[];
  readonly format: FlowFormat;
  readonly cluster?: string;
  readonly since?: string;
  readonly until?: string;
  readonly podCidr?: readonly string[];
  readonly serviceCidr?: readonly string[];
  readonly quiet?: boolean;
  /** Parser threads for large plain Hubble files (`--workers`, as text from the command line). */
  readonly workers?: string;
}

export interface Learned {
  readonly learner: Learner;
  readonly identity: IdentityResolver;
  readonly snapshot?: LoadedSnapshot;
  readonly inputs: readonly InputStats[];
  readonly seconds: number;
}

export async function learnFromInputs(options: FlowInputOptions, io: CliIo): Promise<Learned> {
  const started = performance.now();
  const snapshot = options.cluster ? await loadSnapshot(options.cluster) : undefined;
  const identity = new IdentityResolver(snapshot?.inventory ?? emptyInventory, {
    podCidrs: options.podCidr ?? [],
    serviceCidrs: options.serviceCidr ?? [],
  });
  const learner = new Learner(identity, {
    ...(options.since ? { since: parseTime('--since', options.since) } : {}),
    ...(options.until ? { until: parseTime('--until', options.until) } : {}),
  });
  const progress = new Progress(io, options.quiet === true);
  const workers = parseWorkers(options.workers);
  const inputs: InputStats[] = [];
  if (options.flows.filter((f) => f === '-').length > 1) throw new UsageError('--flows - (stdin) can be given only once');
  for (const path of options.flows) {
    try {
      inputs.push(await readFlowInput(path === '-' ? { stdin: io.stdin } : { path }, options.format, (result) => learner.ingest(result), (lines) => progress.update(path, lines), { workers }));
    } catch (error) {
      if (error instanceof FlowInputError) throw new InputError(error.message);
      throw error;
    }
  }
  learner.finish();
  progress.done();
  const parsedSomething = learner.stats.flows > 0 || learner.stats.skipped['non-flow'] > 0;
  if (!parsedSomething) {
    const lines = inputs.reduce((n, i) => n + i.lines, 0);
    throw new InputError(lines === 0
      ? `no input: ${options.flows.join(', ')} ${options.flows.length === 1 ? 'is' : 'are'} empty`
      : `nothing parseable in ${options.flows.join(', ')}: ${lines} line(s), none a ${options.format === 'auto' ? 'Hubble or conntrack' : options.format} flow`);
  }
  return { learner, identity, ...(snapshot ? { snapshot } : {}), inputs, seconds: (performance.now() - started) / 1000 };
}

/** The snapshot reader (and its schemas) loads only when `--cluster` is given. */
async function loadSnapshot(path: string): Promise<LoadedSnapshot> {
  const { loadClusterSnapshot, SnapshotError } = await import('../ingest/cluster-snapshot.js');
  try {
    return await loadClusterSnapshot(path);
  } catch (error) {
    if (error instanceof SnapshotError) throw new InputError(error.message);
    throw error;
  }
}

/** `--workers`: 1 to 64 parser threads; default one per CPU core. */
function parseWorkers(text: string | undefined): number {
  if (text === undefined) return availableParallelism();
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`--workers ${JSON.stringify(text)} is not a whole number from 1 to 64`);
  return n;
}

/**
 * RFC 3339 date-time (§5.6): a full date, `T` (or `t`/space), a time and a required offset (`Z` or
 * `±hh:mm`). Without the offset `Date.parse` reads local time, and the window would move with the
 * machine's time zone.
 */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function parseTime(flag: string, text: string): number {
  const t = RFC3339.test(text) ? Date.parse(text.replace(' ', 'T')) : Number.NaN;
  if (Number.isNaN(t)) throw new UsageError(`${flag} ${JSON.stringify(text)} is not an RFC 3339 time (e.g. 2026-11-02T10:00:00Z)`);
  return t;
}

/** Progress on a terminal only, at most every 250 ms; nothing at all on a pipe. */
class Progress {
  private last = 0;
  private shown = false;
  constructor(private readonly io: CliIo, private readonly quiet: boolean) {}

  update(path: string, lines: number): void {
    if (this.quiet || !this.io.stderr.isTTY) return;
    const now = performance.now();
    if (now - this.last < 250) return;
    this.last = now;
    this.shown = true;
    this.io.stderr.write(`\r\x1b[Kreading ${path}: ${lines.toLocaleString('en-US')} lines`);
  }

  done(): void {
    if (this.shown) this.io.stderr.write('\r\x1b[K');
  }
}
