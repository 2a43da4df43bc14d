import { describe, expect, it } from 'vitest';
import { Gate } from './intake-gate.js';

const settledWithin = async (p: Promise<unknown>, ms = 50) => Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), ms))]);

describe('Gate', () => {
  it('starts open; whenOpen resolves at once while open, and only once it opens again after shut', async () => {
    const gate = new Gate();
    expect(gate.isOpen).toBe(true);
    expect(await settledWithin(gate.whenOpen())).toBe(true);
    gate.shut();
    const waiting = gate.whenOpen();
    expect(await settledWithin(waiting)).toBe(false);
    gate.open();
    expect(await settledWithin(waiting)).toBe(true);
  });

  it('a wait ends when its signal aborts (a source stopping while shut); listeners hear real changes only', async () => {
    const gate = new Gate();
    gate.shut();
    const seen: boolean[] = [];
    gate.onChange((open) => seen.push(open));
    const controller = new AbortController();
    const waiting = gate.whenOpen(controller.signal);
    controller.abort();
    expect(await settledWithin(waiting)).toBe(true);
    expect(await settledWithin(gate.whenOpen(controller.signal))).toBe(true);
    gate.open();
    gate.open();
    gate.shut();
    // Only real changes are told, and only to the listener still subscribed.
    expect(seen).toEqual([true, false]);
  });

  it('onChange returns what unsubscribes', () => {
    const gate = new Gate();
    const seen: boolean[] = [];
    const unsubscribe = gate.onChange((open) => seen.push(open));
    gate.shut();
    unsubscribe();
    gate.open();
    expect(seen).toEqual([false]);
  });
});
