import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { flushPromises } from './fake-clock.js';
import { handleShutdownSignals, type ShutdownSignal, type SignalTarget } from './signals.js';
import { captureLogger } from './testing.js';

class FakeProcess extends EventEmitter implements SignalTarget {
  readonly exits: number[] = [];
  exit(code: number): void { this.exits.push(code); }
  send(signal: ShutdownSignal): void { this.emit(signal); }
  override on(event: ShutdownSignal, listener: () => void): this { return super.on(event, listener); }
  override off(event: ShutdownSignal, listener: () => void): this { return super.off(event, listener); }
}

function deferred() {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

describe('handleShutdownSignals', () => {
  it('runs shutdown once on the first signal, then exits 0', async () => {
    const proc = new FakeProcess();
    const gate = deferred();
    const calls: string[] = [];
    const h = handleShutdownSignals({ target: proc, logger: captureLogger().logger, shutdown: (s) => { calls.push(s); return gate.promise; } });
    proc.send('SIGTERM');
    await flushPromises();
    expect(calls).toEqual(['SIGTERM']);
    expect(proc.exits).toEqual([]);
    gate.resolve();
    await h.done;
    await flushPromises();
    expect(proc.exits).toEqual([0]);
    h.dispose();
  });

  it.each([
    { second: 'SIGINT' as const, code: 130 },
    { second: 'SIGTERM' as const, code: 143 },
  ])('a second signal ($second) exits at once with $code', async ({ second, code }) => {
    const proc = new FakeProcess();
    let calls = 0;
    const h = handleShutdownSignals({ target: proc, logger: captureLogger().logger, shutdown: () => { calls++; return new Promise(() => {}); } });
    proc.send('SIGTERM');
    proc.send(second);
    await flushPromises();
    expect(calls).toBe(1);
    expect(proc.exits).toEqual([code]);
    h.dispose();
  });

  it('exits 1 and logs when shutdown rejects', async () => {
    const proc = new FakeProcess();
    const log = captureLogger();
    const h = handleShutdownSignals({ target: proc, logger: log.logger, shutdown: async () => { throw new Error('drain failed'); } });
    proc.send('SIGINT');
    await h.done;
    await flushPromises();
    expect(proc.exits).toEqual([1]);
    expect(log.find('shutdown failed')[0]).toMatchObject({ signal: 'SIGINT', err: { message: 'drain failed' } });
    h.dispose();
  });

  it('exits 1 when shutdown takes longer than forceExitAfterMs', async () => {
    const proc = new FakeProcess();
    const h = handleShutdownSignals({ target: proc, logger: captureLogger().logger, forceExitAfterMs: 20, shutdown: () => new Promise(() => {}) });
    proc.send('SIGTERM');
    await new Promise((r) => setTimeout(r, 60));
    expect(proc.exits).toEqual([1]);
    h.dispose();
  });

  it('with exitAfterShutdown false it only runs shutdown', async () => {
    const proc = new FakeProcess();
    const h = handleShutdownSignals({ target: proc, logger: captureLogger().logger, exitAfterShutdown: false, shutdown: async () => {} });
    proc.send('SIGTERM');
    await h.done;
    await flushPromises();
    expect(proc.exits).toEqual([]);
    h.dispose();
  });

  it('dispose removes the listeners', () => {
    const proc = new FakeProcess();
    const h = handleShutdownSignals({ target: proc, logger: captureLogger().logger, shutdown: async () => {} });
    expect(proc.listenerCount('SIGTERM')).toBe(1);
    h.dispose();
    expect(proc.listenerCount('SIGTERM') + proc.listenerCount('SIGINT')).toBe(0);
  });
});
