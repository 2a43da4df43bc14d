import { afterEach, describe, expect, it } from 'vitest';
import { startEventLoopMonitor, type EventLoopMonitor } from './event-loop.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Holds the thread, as a long synchronous loop would. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* busy */ }
}

let monitor: EventLoopMonitor | undefined;
afterEach(() => monitor?.stop());

describe('startEventLoopMonitor', () => {
  it('reports a stall as the window delay and as the longest delay since start', async () => {
    const delays: number[] = [];
    const maxima: number[] = [];
    monitor = startEventLoopMonitor({ sampleMs: 50, resolutionMs: 5, metrics: { delay: (s) => delays.push(s), maxDelay: (s) => maxima.push(s) } });
    await sleep(30);
    block(150);
    await sleep(120);
    expect(monitor.maxDelayMs()).toBeGreaterThanOrEqual(120);
    expect(Math.max(...delays)).toBeGreaterThanOrEqual(0.12);
    expect(maxima.at(-1)).toBeGreaterThanOrEqual(0.12);
    // the maximum never goes down
    expect(maxima).toEqual([...maxima].sort((a, b) => a - b));
  });

  it('stop reports the last window once and is idempotent; nothing is reported after it', async () => {
    const delays: number[] = [];
    monitor = startEventLoopMonitor({ sampleMs: 10_000, resolutionMs: 5, metrics: { delay: (s) => delays.push(s) } });
    await sleep(20);
    monitor.stop();
    monitor.stop();
    expect(delays.length).toBe(1);
    await sleep(20);
    expect(delays.length).toBe(1);
  });
});
