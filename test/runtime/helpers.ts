// Helpers for the runtime integration tests.
import { afterAll, beforeAll } from 'vitest';
import type { ListerWatcher, WatchHandle } from '../../src/runtime/list-watch.js';

/** Poll `check` until it returns a truthy value (returned) or throws past `timeoutMs`. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = new Error(`still ${String(v)}`);
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms: ${last instanceof Error ? last.message : String(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Fail the file if anything produces an unhandled promise rejection while it runs: the runtime
 * promises to log and count its errors, never to leak them to the process.
 */
export function forbidUnhandledRejections(): { readonly rejections: unknown[] } {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => { rejections.push(reason); };
  beforeAll(() => { process.on('unhandledRejection', onRejection); });
  afterAll(() => {
    process.off('unhandledRejection', onRejection);
    if (rejections.length > 0) throw new Error(`unhandled rejections: ${rejections.map(String).join('; ')}`);
  });
  return { rejections };
}

/**
 * Wrap a real ListerWatcher with fault injection: `breakWatch(err)` drops the open watch the way
 * a broken connection would (the informer sees `err`, not the abort), `rewriteNextWatchFrom(rv)`
 * makes the next watch start from another resourceVersion (e.g. a long-gone one, for a real 410).
 */
export class FaultyListerWatcher<T> implements ListerWatcher<T> {
  #current: { handle: WatchHandle; onDone: (err?: unknown) => void; broken: boolean } | undefined;
  #rewriteRv: string | undefined;
  readonly watchedFrom: string[] = [];
  lists = 0;

  constructor(private readonly inner: ListerWatcher<T>) {}

  list: ListerWatcher<T>['list'] = (opts) => {
    this.lists++;
    return this.inner.list(opts);
  };

  watch: ListerWatcher<T>['watch'] = async (opts, onEvent, onDone) => {
    const rv = this.#rewriteRv ?? opts.resourceVersion;
    this.#rewriteRv = undefined;
    this.watchedFrom.push(rv);
    const state = { broken: false, onDone, handle: undefined as unknown as WatchHandle };
    const handle = await this.inner.watch({ ...opts, resourceVersion: rv }, onEvent, (err) => {
      if (!state.broken) onDone(err);
    });
    state.handle = handle;
    this.#current = state;
    return handle;
  };

  /** Break the open watch: close the real stream, report `err` to the informer. */
  breakWatch(err: unknown = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })): void {
    const c = this.#current;
    if (!c || c.broken) throw new Error('no open watch to break');
    c.broken = true;
    c.handle.stop();
    c.onDone(err);
  }

  rewriteNextWatchFrom(rv: string): void {
    this.#rewriteRv = rv;
  }
}
