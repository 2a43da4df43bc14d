/**
 * Starts the parser threads a `learn` or `graph` run will want before the rest of the command
 * line loads (../ingest/hubble/parser-threads.ts): ./bin.ts calls this first. The arguments are
 * only looked at, not validated (commander does that later), so this is a guess on the safe side:
 * threads are started only for what `--workers` (default one per core) and a plain file of at
 * least PARALLEL_MIN_BYTES in `--flows` ask for, and a thread no read takes never delays the exit.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { PARALLEL_MIN_BYTES, prestartParserThreads } from '../ingest/hubble/parser-threads.js';

/** The commands with `--flows` and `--workers` (./main.ts flowInputOptions). */
const FLOW_COMMANDS = new Set(['learn', 'graph']);

/** How many parser threads the arguments will ask for: `--workers` minus the calling thread, or 0. */
export function parserThreadsWanted(argv: readonly string[], cores: number = availableParallelism()): number {
  if (!FLOW_COMMANDS.has(argv[0] ?? '')) return 0;
  let threads = cores;
  let largeFile = false;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h' || arg === '--') return 0;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    if (flag !== '--workers' && flag !== '--flows') continue;
    const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) return 0;
    if (flag === '--workers') {
      threads = Number(value);
      if (!Number.isInteger(threads) || threads < 1 || threads > 64) return 0;
    } else if (value !== '-' && fileSize(value) >= PARALLEL_MIN_BYTES) largeFile = true;
  }
  return largeFile ? threads - 1 : 0;
}

function fileSize(path: string): number {
  try {
    const stats = statSync(path);
    return stats.isFile() ? stats.size : 0;
  } catch {
    return 0;
  }
}

/** Starts the threads {@link parserThreadsWanted} guesses, to wait for the read. */
export function prestartParsers(argv: readonly string[]): void {
  const wanted = parserThreadsWanted(argv);
  if (wanted > 0) prestartParserThreads(wanted);
}
