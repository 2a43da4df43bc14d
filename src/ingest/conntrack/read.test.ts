import { statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ParseResult } from '../../domain/flow.js';
import { parseConntrackLine } from './parse.js';
import { readConntrack, readConntrackEntries } from './read.js';
import { fixturePath, fixtureText } from './test-support.js';
import type { ConntrackParseResult } from './types.js';

const T = 1_800_000_000_000;

function chunked(text: string | Buffer, size: number): Readable {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks);
}

async function collectEntries(input: Readable | string, opts = {}): Promise<{ results: ConntrackParseResult[]; lines: number[] }> {
  const results: ConntrackParseResult[] = [];
  const lines: number[] = [];
  await readConntrackEntries(input, (r, n) => {
    results.push(r);
    lines.push(n);
  }, opts);
  return { results, lines };
}

describe('readConntrack from a file', () => {
  it('reads a real /proc capture, stamping flows with the file mtime', async () => {
    const path = fixturePath('proc.basic.txt');
    const flows: ParseResult[] = [];
    const summary = await readConntrack(path, (r) => {
      flows.push(r);
    });
    expect(summary).toEqual({
      lines: 16,
      parsed: 13,
      skipped: { empty: 0, malformed: 0, 'schema-mismatch': 0, 'too-long': 0, 'unsupported-protocol': 3, 'invalid-name': 0 },
    });
    const mtime = Math.floor(statSync(path).mtimeMs);
    for (const r of flows) if (r.kind === 'flow') expect(r.flow.time).toBe(mtime);
  });

  it('keeps event timestamps and numbers lines from 1', async () => {
    const { results, lines } = await collectEntries(fixturePath('events.expiry.timestamp-extended.txt'), { time: T });
    expect(lines).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
    expect(results.at(-1)).toMatchObject({ kind: 'skip', reason: 'empty', detail: 'conntrack-tools summary line' });
    expect(results[0]).toMatchObject({ kind: 'entry', entry: { timestamp: 1_795_752_862_749.475, event: 'NEW' } });
  });

  it('rejects a missing file', async () => {
    await expect(readConntrack(fixturePath('no-such-file.txt'), () => undefined)).rejects.toThrow(/ENOENT/);
  });
});

describe('readConntrackEntries from a stream', () => {
  const text = fixtureText('events.acct.timestamp-extended.txt') + fixtureText('list.acct.ktimestamp-id-labels.txt');
  const expected = text
    .split('\n')
    .slice(0, -1)
    .map((l) => parseConntrackLine(l, { now: T }));

  it.each([1, 7, 64, 4096, 1 << 20])('gives the same results whatever the chunk size (%d bytes)', async (size) => {
    const { results } = await collectEntries(chunked(text, size), { time: T });
    expect(results).toEqual(expected);
  });

  it('accepts string chunks', async () => {
    const { results } = await collectEntries(Readable.from(text.match(/[\s\S]{1,100}/g) ?? []), { time: T });
    expect(results).toEqual(expected);
  });

  it('handles CRLF, blank lines and a last line without newline', async () => {
    const lines = text.split('\n').slice(0, 3);
    const { results } = await collectEntries(chunked(`${lines[0]}\r\n\r\n\n${lines[1]}\r\n${lines[2]}`, 10), { time: T });
    expect(results.map((r) => (r.kind === 'skip' ? r.reason : r.entry.event))).toEqual(['NEW', 'empty', 'empty', 'UPDATE', 'UPDATE']);
  });

  it('ignores a UTF-8 byte order mark (a file saved by an editor)', async () => {
    const good = text.split('\n')[0] as string;
    const { results } = await collectEntries(Readable.from([Buffer.from([0xef, 0xbb]), Buffer.from([0xbf, ...Buffer.from(`${good}\n`)])]), { time: T });
    expect(results).toEqual([parseConntrackLine(good, { now: T })]);
  });

  it('skips an over-long line without buffering it and carries on', async () => {
    const good = text.split('\n')[0] as string;
    const input = `${good}\n${'x'.repeat(200_000)}\n${good}\n`;
    const { results, lines } = await collectEntries(chunked(input, 1000), { time: T });
    expect(results.map((r) => r.kind)).toEqual(['entry', 'skip', 'entry']);
    expect(results[1]).toEqual({ kind: 'skip', reason: 'too-long', detail: '200000 bytes, limit 8192' });
    expect(lines).toEqual([1, 2, 3]);
  });

  it('a too-long last line without newline is reported too', async () => {
    const { results } = await collectEntries(chunked('y'.repeat(10_000), 333), { time: T, maxLineLength: 5000 });
    expect(results).toEqual([{ kind: 'skip', reason: 'too-long', detail: '10000 bytes, limit 5000' }]);
  });

  it('a multi-byte UTF-8 character split across chunks (in an ignored field) is harmless', async () => {
    const line = `${text.split('\n')[0] as string} secctx=système_u\n`;
    const bytes = Buffer.from(line, 'utf8');
    const at = bytes.indexOf(Buffer.from('è')) + 1; // split inside the two-byte è
    const { results } = await collectEntries(Readable.from([bytes.subarray(0, at), bytes.subarray(at)]), { time: T });
    expect(results).toEqual([parseConntrackLine(line.trimEnd(), { now: T })]);
  });

  it('garbage, NUL bytes and binary never stop the stream', async () => {
    const good = text.split('\n')[0] as string;
    const junk = Buffer.concat([Buffer.from(`${good}\n`), Buffer.from([0, 1, 2, 255, 254, 10]), Buffer.from(`garbage\n${good}\n`)]);
    const { results } = await collectEntries(chunked(junk, 5), { time: T });
    expect(results.map((r) => (r.kind === 'skip' ? r.reason : 'entry'))).toEqual(['entry', 'malformed', 'malformed', 'entry']);
  });

  it('waits for an async sink before the next line (back-pressure, order kept)', async () => {
    const seen: number[] = [];
    let inFlight = 0;
    await readConntrackEntries(chunked(text, 512), async (_r, n) => {
      inFlight++;
      expect(inFlight).toBe(1);
      await new Promise((resolve) => setImmediate(resolve));
      seen.push(n);
      inFlight--;
    }, { time: T });
    expect(seen).toEqual(expected.map((_, i) => i + 1));
  });

  it('stops when the signal is aborted', async () => {
    const controller = new AbortController();
    let count = 0;
    const summary = await readConntrackEntries(chunked(text, 256), () => {
      if (++count === 3) controller.abort();
    }, { time: T, signal: controller.signal });
    expect(summary.lines).toBeLessThan(expected.length);
    expect(summary.lines).toBe(count);
  });

  it('without a time option, dump lines get the clock at read time', async () => {
    const before = Date.now();
    const { results } = await collectEntries(chunked(fixtureText('list.basic.plain.txt'), 4096));
    const after = Date.now();
    for (const r of results) {
      if (r.kind !== 'entry') continue;
      expect(r.entry.timestamp).toBeGreaterThanOrEqual(before);
      expect(r.entry.timestamp).toBeLessThanOrEqual(after);
    }
  });
});

describe('readConntrack flows', () => {
  it('maps entries to flows and passes skips through', async () => {
    const results: ParseResult[] = [];
    const summary = await readConntrack(chunked(fixtureText('list.basic.extended.txt'), 100), (r) => {
      results.push(r);
    }, { time: T });
    expect(summary.parsed).toBe(13);
    expect(results.filter((r) => r.kind === 'flow')).toHaveLength(13);
    expect(results.filter((r) => r.kind === 'skip')).toHaveLength(3);
    expect(results).toContainEqual({
      kind: 'flow',
      flow: {
        time: T,
        source: { ip: '10.244.0.5', port: 54115 },
        destination: { ip: '10.244.1.7', port: 8080 },
        protocol: 'TCP',
        verdict: 'FORWARDED',
        isReply: false,
        confirmed: true,
        connectionState: 'ESTABLISHED',
      },
    });
  });
});
