/** The pure parts of the Hubble gRPC source: backoff, resume de-duplication, filters, timestamps. */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { backoffCeiling, backoffDelay } from './backoff.js';
import { formatTimestamp, parseTimestampNanos, timestampFromNanos, timestampNanos } from './timestamp.js';
import { loadHubbleDefinitions } from './definitions.js';
import { namespaceWhitelist } from './filter.js';
import { FUTURE_TOLERANCE_MS, ResumeTracker } from './resume.js';

describe('backoff', () => {
  it.each([
    { name: 'first attempt', attempt: 0, policy: {}, ceiling: 1000 },
    { name: 'doubles', attempt: 3, policy: {}, ceiling: 8000 },
    { name: 'capped at max', attempt: 10, policy: {}, ceiling: 60_000 },
    { name: 'huge attempt stays capped', attempt: 5000, policy: {}, ceiling: 60_000 },
    { name: 'custom policy', attempt: 2, policy: { initialMs: 50, maxMs: 1000, multiplier: 3 }, ceiling: 450 },
  ])('ceiling: $name', ({ attempt, policy, ceiling }) => {
    expect(backoffCeiling(attempt, policy)).toBe(ceiling);
  });

  it('full jitter: uniform in [0, ceiling) from the injected random source', () => {
    expect(backoffDelay(2, () => 0)).toBe(0);
    expect(backoffDelay(2, () => 0.5)).toBe(2000);
    expect(backoffDelay(2, () => 0.999_999)).toBe(3999);
    expect(backoffDelay(2, () => Number.NaN)).toBe(0);
    fc.assert(
      fc.property(fc.nat(100), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const delay = backoffDelay(attempt, () => r, { initialMs: 10, maxMs: 5000 });
        return delay >= 0 && delay < Math.max(1, backoffCeiling(attempt, { initialMs: 10, maxMs: 5000 }));
      }),
    );
  });
});

describe('ResumeTracker', () => {
  it('drops, on a resumed stream, the flows already seen at the since boundary and anything older', () => {
    const t = new ResumeTracker();
    t.beginStream();
    expect(t.since()).toBeUndefined();
    expect([t.flow(100n, 'a'), t.flow(200n, 'b'), t.flow(200n, 'c')]).toEqual(['new', 'new', 'new']);
    expect(t.since()).toBe(200n);
    expect(t.boundarySize()).toBe(2);

    t.beginStream(); // reconnect: since = 200, inclusive
    expect(t.flow(100n, 'a')).toBe('duplicate'); // a server ignoring since
    expect(t.flow(200n, 'b')).toBe('duplicate');
    expect(t.flow(200n, 'c')).toBe('duplicate');
    expect(t.flow(200n, 'd')).toBe('new'); // same time, not seen before
    expect(t.flow(300n, 'e')).toBe('new');
    expect(t.since()).toBe(300n);

    t.beginStream();
    expect(t.flow(300n, 'e')).toBe('duplicate');
    expect(t.flow(300n, 'f')).toBe('new');
  });

  it('keeps flows without a time, and out-of-order flows on the first stream', () => {
    const t = new ResumeTracker();
    t.beginStream();
    expect(t.flow(undefined, 'x')).toBe('new');
    expect(t.flow(500n, 'a')).toBe('new');
    expect(t.flow(400n, 'b')).toBe('new');
    expect(t.since()).toBe(500n);
  });

  it('starts from an initial since and drops older flows', () => {
    const t = new ResumeTracker(1000n);
    t.beginStream();
    expect(t.since()).toBe(1000n);
    expect(t.flow(999n, 'a')).toBe('duplicate');
    expect(t.flow(1000n, 'b')).toBe('new');
  });

  it('drops lost-event notices repeated by a resumed stream only', () => {
    const t = new ResumeTracker();
    t.beginStream();
    expect(t.lostEvent('l1')).toBe('new');
    t.flow(10n, 'a');
    t.beginStream();
    expect(t.lostEvent('l1')).toBe('duplicate');
    expect(t.lostEvent('l2')).toBe('new');
  });
});

describe('ResumeTracker and clocks running ahead', () => {
  const MS = 1_000_000n;
  const NOW = Date.parse('2024-05-02T09:14:03Z');
  const at = (ms: number) => BigInt(ms) * MS;

  it('a flow more than FUTURE_TOLERANCE_MS ahead of the clock is delivered but does not move the resume point', () => {
    let now = NOW;
    const t = new ResumeTracker(undefined, { now: () => now });
    t.beginStream();
    expect(t.flow(at(NOW - 10), 'a1')).toBe('new'); // node a, correct clock
    expect(t.flow(at(NOW + 3_600_000), 'b1')).toBe('new'); // node b, one hour ahead
    expect(t.since()).toBe(at(NOW - 10));
    expect(t.since()! <= at(NOW + FUTURE_TOLERANCE_MS)).toBe(true);
    expect(t.flow(at(NOW + FUTURE_TOLERANCE_MS - 1), 'c1')).toBe('new'); // within the tolerance: moves it
    expect(t.since()).toBe(at(NOW + FUTURE_TOLERANCE_MS - 1));
    expect(t.resumePoint()).toEqual({ since: at(NOW + FUTURE_TOLERANCE_MS - 1), seen: ['c1'], lostEvents: [] });

    // The stream breaks; the next one asks from since(), so the ahead flow comes again.
    now += 100_000;
    t.beginStream();
    expect(t.flow(at(NOW + FUTURE_TOLERANCE_MS - 1), 'c1')).toBe('duplicate'); // the resume instant's rule holds
    expect(t.flow(at(NOW + 70_000), 'a2')).toBe('new'); // node a's new flows are not lost
    expect(t.flow(at(NOW + 3_600_000), 'b1')).toBe('duplicate'); // the ahead flow, sent again
    expect(t.flow(at(NOW + 3_600_001), 'b2')).toBe('new');
    expect(t.flow(at(NOW + 90_000), 'a3')).toBe('new');
    expect(t.since()).toBe(at(NOW + 90_000));

    // The clock caught up with node b: its flows move the resume point again, and what was
    // delivered while it was ahead is still dropped when a resumed stream sends it again.
    now = NOW + 3_600_000;
    t.beginStream();
    expect(t.flow(at(NOW + 3_600_000), 'b1')).toBe('duplicate');
    expect(t.flow(at(NOW + 3_600_002), 'b3')).toBe('new');
    expect(t.since()).toBe(at(NOW + 3_600_002));
  });

  it('reads the clock again when flow times pass the limit it last computed', () => {
    let now = NOW;
    const clock = vi.fn(() => now);
    const t = new ResumeTracker(undefined, { now: clock });
    t.beginStream();
    for (let i = 0; i < 100; i++) t.flow(at(NOW + i), `f${i}`);
    expect(clock).toHaveBeenCalledTimes(1);
    expect(t.flow(at(NOW + 2 * FUTURE_TOLERANCE_MS), 'early')).toBe('new');
    expect(t.since()).toBe(at(NOW + 99));
    now += 2 * FUTURE_TOLERANCE_MS; // time caught up: the same instant is no longer ahead
    expect(t.flow(at(NOW + 2 * FUTURE_TOLERANCE_MS), 'later')).toBe('new');
    expect(t.since()).toBe(at(NOW + 2 * FUTURE_TOLERANCE_MS));
  });
});

/** The tracker's rules written plainly (times as BigInt, one Set): what ResumeTracker must do. */
class ModelTracker {
  private newest: bigint | undefined;
  private at = new Set<string>();
  private resume: { since: bigint; seen: Set<string> } | undefined;
  constructor(since?: bigint) {
    this.newest = since;
  }
  beginStream(): void {
    this.resume = this.newest === undefined ? undefined : { since: this.newest, seen: new Set(this.at) };
  }
  flow(ns: bigint, key: string): 'new' | 'duplicate' {
    const r = this.resume;
    if (r !== undefined && (ns < r.since || (ns === r.since && r.seen.has(key)))) return 'duplicate';
    if (this.newest === undefined || ns > this.newest) {
      this.newest = ns;
      this.at = new Set([key]);
    } else if (ns === this.newest) this.at.add(key);
    return 'new';
  }
  point(): { since: bigint; seen: string[] } | undefined {
    return this.newest === undefined ? undefined : { since: this.newest, seen: [...this.at] };
  }
}

describe('ResumeTracker.flowAt', () => {
  const NS = 1_000_000_000n;
  it('decides as flow() does for the same times given as seconds and nanos, and as the plain rules say', () => {
    const time = fc.bigInt({ min: 1_714_641_243n * NS - 3n, max: 1_714_641_243n * NS + 3n }); // few values, often equal
    const steps = fc.array(fc.oneof(fc.record({ time, key: fc.constantFrom('a', 'b', 'c') }), fc.constant('reconnect' as const)), { maxLength: 40 });
    fc.assert(
      fc.property(fc.option(time, { nil: undefined }), steps, (initial, list) => {
        const byNs = new ResumeTracker(initial);
        const byParts = new ResumeTracker(initial);
        const model = new ModelTracker(initial);
        for (const step of ['reconnect' as const, ...list]) {
          if (step === 'reconnect') {
            byNs.beginStream();
            byParts.beginStream();
            model.beginStream();
            continue;
          }
          const seconds = step.time / NS;
          const want = model.flow(step.time, step.key);
          expect(byParts.flowAt(Number(seconds), Number(step.time - seconds * NS), step.key)).toBe(want);
          expect(byNs.flow(step.time, step.key)).toBe(want);
          const point = model.point();
          expect(byParts.resumePoint()).toEqual(point === undefined ? undefined : { ...point, lostEvents: [] });
          expect(byNs.resumePoint()).toEqual(byParts.resumePoint());
          expect(byParts.boundarySize()).toBe(point?.seen.length ?? 0);
        }
      }),
    );
  });

  it('keeps times before the epoch (negative seconds, nanos counted forward) in order', () => {
    const t = new ResumeTracker(-1n); // 1969-12-31T23:59:59.999999999Z
    t.beginStream();
    expect(t.flowAt(-1, 999_999_998, 'a')).toBe('duplicate');
    expect(t.flowAt(0, 0, 'b')).toBe('new');
    expect(t.since()).toBe(0n);
  });
});

describe('ResumeTracker across processes', () => {
  it('a tracker built from a persisted resume point drops exactly what the previous process delivered at the boundary', () => {
    const first = new ResumeTracker();
    first.beginStream();
    expect(first.flow(100n, 'a')).toBe('new');
    expect(first.flow(200n, 'b')).toBe('new');
    expect(first.flow(200n, 'c')).toBe('new');
    expect(first.lostEvent('lost-1')).toBe('new');
    const point = first.resumePoint()!;
    expect(point).toEqual({ since: 200n, seen: ['b', 'c'], lostEvents: ['lost-1'] });
    // A new process: the server replays from `since` inclusive.
    const next = new ResumeTracker(point.since, { seen: point.seen, lostEvents: point.lostEvents });
    next.beginStream();
    expect(next.since()).toBe(200n);
    expect([next.flow(200n, 'b'), next.flow(200n, 'c'), next.lostEvent('lost-1'), next.flow(200n, 'd'), next.flow(300n, 'e')]).toEqual(['duplicate', 'duplicate', 'duplicate', 'new', 'new']);
  });

  it('parses RFC 3339 times to the nanosecond, as formatTimestamp writes them', () => {
    for (const ns of [0n, 1n, 1_767_225_600_045_509_788n, 1_767_225_600_045_000_000n, 1_767_225_600_000_000_000n]) {
      expect(parseTimestampNanos(formatTimestamp(timestampFromNanos(ns)))).toBe(ns);
    }
    expect(parseTimestampNanos('2026-01-01T00:00:00.5Z')).toBe(1_767_225_600_500_000_000n);
    for (const bad of ['2026-01-01 00:00:00Z', '2026-01-01T00:00:00.1234567890Z', 'yesterday']) expect(parseTimestampNanos(bad)).toBeUndefined();
  });
});

describe('namespaceWhitelist', () => {
  it.each([
    { name: 'no namespaces: no whitelist', namespaces: [], want: [] },
    { name: 'one', namespaces: ['shop'], want: [{ source_pod: ['shop/'] }, { destination_pod: ['shop/'] }] },
    {
      name: 'sorted and unique',
      namespaces: ['shop', 'payments', 'shop'],
      want: [{ source_pod: ['payments/', 'shop/'] }, { destination_pod: ['payments/', 'shop/'] }],
    },
  ])('$name', ({ namespaces, want }) => {
    expect(namespaceWhitelist(namespaces)).toEqual(want);
  });

  it.each([
    { name: 'no replies, every namespace', namespaces: [], want: [{ reply: [false] }] },
    { name: 'no replies, one namespace', namespaces: ['shop'], want: [{ source_pod: ['shop/'], reply: [false] }, { destination_pod: ['shop/'], reply: [false] }] },
  ])('$name', ({ namespaces, want }) => {
    expect(namespaceWhitelist(namespaces, { replies: false })).toEqual(want);
  });

  it.each(['', 'Shop', 'a/b', 'x'.repeat(64), '-a', 'a_b'])('rejects the invalid namespace name %j', (ns) => {
    expect(() => namespaceWhitelist([ns])).toThrow(/invalid namespace/);
  });
});

describe('timestamps and the request encoding', () => {
  it.each([
    { name: 'whole seconds', ts: { seconds: '1714641243' }, text: '2024-05-02T09:14:03Z' },
    { name: 'milliseconds', ts: { seconds: '1714641243', nanos: 512_000_000 }, text: '2024-05-02T09:14:03.512Z' },
    { name: 'microseconds', ts: { seconds: '1714641243', nanos: 512_874_000 }, text: '2024-05-02T09:14:03.512874Z' },
    { name: 'nanoseconds', ts: { seconds: '1714641243', nanos: 512_874_321 }, text: '2024-05-02T09:14:03.512874321Z' },
    { name: 'before the epoch', ts: { seconds: -1, nanos: 1 }, text: '1969-12-31T23:59:59.000000001Z' },
    { name: 'the zero Timestamp', ts: {}, text: '1970-01-01T00:00:00Z' },
    { name: 'year 0 is invalid', ts: { seconds: '-62135596801' }, text: 'invalid google.protobuf.Timestamp' },
    { name: 'nanos out of range', ts: { seconds: 1, nanos: 1_000_000_000 }, text: 'invalid google.protobuf.Timestamp' },
  ])('Timestamp: $name', ({ ts, text }) => {
    expect(formatTimestamp(ts)).toBe(text);
  });

  it('round-trips nanoseconds through Timestamp objects', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -62_135_596_800_000_000_000n, max: 253_402_300_799_999_999_999n }), (ns) => timestampNanos(timestampFromNanos(ns)) === ns),
    );
  });

  it('decodes what it encodes: a GetFlowsRequest with a whitelist and since', () => {
    const { getFlows } = loadHubbleDefinitions();
    const request = { follow: true, whitelist: [{ source_pod: ['shop/'] }, { destination_pod: ['shop/'] }], since: timestampFromNanos(1_714_641_243_100_000_001n) };
    const bytes = getFlows.requestSerialize(request);
    expect(getFlows.requestDeserialize(bytes)).toEqual({ ...request, since: { seconds: '1714641243', nanos: 100_000_001 } });
  });
});
