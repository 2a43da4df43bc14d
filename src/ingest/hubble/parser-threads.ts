/**
 * Parser threads for ./parallel.ts: started on demand, or earlier, before the command line has
 * loaded (src/cli/parser-prestart.ts), so that a thread's own start (about 90 ms of Node's
 * internals on the other core) overlaps the command line's instead of the parse. A thread started
 * early waits, idle and not keeping the process alive, until a read takes it and sends it a job
 * (./parse-job.ts). Shared by the command line and its `learn` section (the `shared` modules of
 * scripts/build-bundles.ts's BUNDLES), so both see the same waiting threads.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PARSE_THREAD } from './parse-job.js';

/** The parser thread's own bundle, defined by scripts/build-bundles.ts; absent when run from tsc output. */
declare const __HIVEWALL_PARSE_WORKER__: string | undefined;

const WORKER_SCRIPT = new URL('./parse-worker.js', import.meta.url);

/** Smaller files parse faster than threads start (src/ingest/flow-input.ts reads them on one thread). */
export const PARALLEL_MIN_BYTES = 1024 * 1024;

/**
 * Whether parser threads can start: in the bundle (and binaries) and from tsc's JavaScript, not
 * from the TypeScript sources (tests load the commands in-process; they parse on their own thread).
 */
export function parallelAvailable(): boolean {
  return typeof __HIVEWALL_PARSE_WORKER__ === 'string' || existsSync(fileURLToPath(WORKER_SCRIPT));
}

export interface ParserThread {
  readonly worker: Worker;
  /** Set by the thread's `error` / `exit` events. */
  failure?: Error;
}

/** Threads started early that no read has taken yet, oldest first. */
const waiting: ParserThread[] = [];

function startParserThread(): ParserThread {
  const options = { workerData: PARSE_THREAD };
  const worker = typeof __HIVEWALL_PARSE_WORKER__ === 'string'
    ? new Worker(__HIVEWALL_PARSE_WORKER__, { ...options, eval: true })
    : new Worker(WORKER_SCRIPT, options);
  const thread: ParserThread = { worker };
  worker.on('error', (error) => (thread.failure ??= error));
  worker.on('exit', (code) => (thread.failure ??= new Error(`a parser thread stopped (exit code ${code})`)));
  return thread;
}

/** Starts `count` threads for later reads; until one is taken it does not keep the process alive. */
export function prestartParserThreads(count: number): void {
  if (!parallelAvailable()) return;
  for (let i = 0; i < count; i++) {
    const thread = startParserThread();
    thread.worker.unref();
    waiting.push(thread);
  }
}

/** How many threads started early are waiting (tests). */
export function waitingParserThreads(): number {
  return waiting.length;
}

/** `count` threads ready for a job: those started early first (any that died meanwhile dropped), then new ones. */
export function takeParserThreads(count: number): ParserThread[] {
  const taken: ParserThread[] = [];
  while (taken.length < count) {
    const thread = waiting.shift() ?? startParserThread();
    if (thread.failure !== undefined) continue;
    thread.worker.ref();
    taken.push(thread);
  }
  return taken;
}
