/**
 * Lets the event loop run I/O and timers (the leader's Lease renewal among them) in the middle
 * of long synchronous work: `await yieldToEventLoop()` between chunks.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
