import { Buffer } from 'node:buffer';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { writeHubbleBenchFile } from '../../../bench/hubble-ingest.js';
import type { ParseResult } from '../../domain/flow.js';
import { parseHubbleLine } from './parse.js';
import { hubbleResults, readHubble, type HubbleReadOptions, type HubbleReadStats, type HubbleSource } from './reader.js';

const fixture = readFileSync(new URL('./testdata/observe.jsonl', import.meta.url));
const fixtureLines = fixture.toString('utf8').split('\n').filter((l) => l !== '');
const expectedResults = fixtureLines.map((l) => parseHubbleLine(l));

const dir = mkdtempSync(join(tmpdir(), 'hivewall-hubble-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function file(content: Buffer | string): string {
  const path = join(dir, `f${files++}.jsonl`);
  writeFileSync(path, content);
  return path;
}

async function collect(source: HubbleSource, options?: HubbleReadOptions): Promise<{ results: ParseResult[]; lines: number[]; stats: HubbleReadStats }> {
  const results: ParseResult[] = [];
  const lines: number[] = [];
  const stats = await readHubble(source, (r, n) => {
    results.push(r);
    lines.push(n);
  }, options);
  return { results, lines, stats };
}

describe('readHubble', () => {
  it('reads a flow log file: every line, in order, with line numbers and counts', async () => {
    const { results, lines, stats } = await collect(file(fixture));
    expect(results).toEqual(expectedResults);
    expect(lines).toEqual(fixtureLines.map((_, i) => i + 1));
    expect(stats).toMatchObject({ lines: 21, bytes: fixture.length, gzip: false, flows: 13, events: 4 });
    expect(stats.skipped).toEqual({ empty: 0, malformed: 0, 'schema-mismatch': 3, 'too-long': 0, 'unsupported-protocol': 1, 'invalid-name': 0 });
  });

  it('gives the same results with the full parser (fastPath: false) and with tiny chunks', async () => {
    const path = file(fixture);
    expect((await collect(path, { fastPath: false })).results).toEqual(expectedResults);
    expect((await collect(path, { chunkBytes: 7 })).results).toEqual(expectedResults);
  });

  it('gives the same results and byte count for every chunk size around the file size and its divisors (reads run ahead)', async () => {
    const path = file(fixture);
    const size = fixture.length;
    const divisors = Array.from({ length: 40 }, (_, i) => i + 1).filter((d) => size % d === 0).map((d) => size / d);
    for (const chunkBytes of [...new Set([...divisors, size - 1, size + 1, Math.ceil(size / 3), Math.floor(size / 4) + 1, 97])]) {
      const { results, stats } = await collect(path, { chunkBytes });
      expect(results, `chunkBytes ${chunkBytes}`).toEqual(expectedResults);
      expect(stats.bytes).toBe(size);
    }
  });

  it('reads a file that grows while it is read without a gap (a short read restarts the reads placed after it)', async () => {
    // Lines appended while the first chunk is parsed are read or not, depending on whether the
    // reads already in flight saw them, but never from past where the file ended: a read placed
    // after a short one is dropped, so what is read is always a prefix of the grown file.
    const head = Buffer.from(`{}\n${fixtureLines[0]}\n`);
    const tail = Buffer.from(fixtureLines.slice(1).map((l) => `${l}\n`).join(''));
    for (const chunkBytes of [head.length - 2, head.length - 1, head.length, head.length + 1, 4096]) {
      const path = file(head);
      const results: ParseResult[] = [];
      let appended = false;
      const stats = await readHubble(path, (r) => {
        results.push(r);
        if (!appended) {
          appended = true;
          appendFileSync(path, tail);
        }
      }, { chunkBytes });
      const read = results.slice(1);
      expect(read.length, `chunkBytes ${chunkBytes}`).toBeGreaterThanOrEqual(1);
      expect(read, `chunkBytes ${chunkBytes}`).toEqual(expectedResults.slice(0, read.length));
      expect(stats.skipped.malformed).toBe(0);
    }
  });

  it('handles CRLF line ends', async () => {
    const crlf = Buffer.from(fixtureLines.map((l) => `${l}\r\n`).join(''));
    expect((await collect(file(crlf))).results).toEqual(expectedResults);
  });

  it('reads an empty file as no lines', async () => {
    const { results, stats } = await collect(file(''));
    expect(results).toEqual([]);
    expect(stats.lines).toBe(0);
  });

  it('reads a final line without a newline, and reports blank lines as empty', async () => {
    const text = `${fixtureLines[0]}\n\n${fixtureLines[1]}`;
    const { results } = await collect(file(text));
    expect(results).toEqual([expectedResults[0], { kind: 'skip', reason: 'empty' }, expectedResults[1]]);
  });

  it('skips a line with NUL bytes as malformed (a log file preallocated with zeros after a crash)', async () => {
    const text = Buffer.concat([Buffer.from(`${fixtureLines[0]}\n`), Buffer.alloc(4096), Buffer.from(`\n${fixtureLines[1]}\n`)]);
    const { results } = await collect(file(text));
    expect(results).toHaveLength(3);
    expect(results[1]).toMatchObject({ kind: 'skip', reason: 'malformed' });
    expect(results[2]).toEqual(expectedResults[1]);
  });

  it('skips a 10 MB line as too-long and keeps going', async () => {
    const huge = `{"flow":{"Summary":"${'x'.repeat(10 * 1024 * 1024)}"}}`;
    const text = `${fixtureLines[0]}\n${huge}\n${fixtureLines[1]}\n`;
    const { results, stats } = await collect(file(text), { chunkBytes: 64 * 1024 });
    expect(results).toEqual([
      expectedResults[0],
      { kind: 'skip', reason: 'too-long', detail: `line of ${huge.length} bytes exceeds the 1048576-byte limit` },
      expectedResults[1],
    ]);
    expect(stats.skipped['too-long']).toBe(1);
  });

  it('honours maxLineBytes', async () => {
    const { results } = await collect(file(fixture), { maxLineBytes: 1000 });
    expect(results.filter((r) => r.kind === 'skip' && r.reason === 'too-long').length).toBe(fixtureLines.filter((l) => Buffer.byteLength(l) > 1000).length);
  });

  it('drops a UTF-8 byte order mark at the start of the file', async () => {
    const { results } = await collect(file(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fixture])));
    expect(results).toEqual(expectedResults);
  });

  it('detects gzip by its magic bytes (a rotated exporter backup), including multi-member files', async () => {
    const half = Math.floor(fixture.length / 2);
    const cut = fixture.indexOf(0x0a, half) + 1;
    const members = Buffer.concat([gzipSync(fixture.subarray(0, cut)), gzipSync(fixture.subarray(cut))]);
    for (const content of [gzipSync(fixture), members]) {
      const { results, stats } = await collect(file(content));
      expect(results).toEqual(expectedResults);
      expect(stats).toMatchObject({ gzip: true, bytes: fixture.length });
    }
  });

  it('rejects a truncated gzip file after the lines it could inflate', async () => {
    const gz = gzipSync(Buffer.concat(Array.from({ length: 50 }, () => fixture)));
    const seen: ParseResult[] = [];
    await expect(readHubble(file(gz.subarray(0, gz.length - 100)), (r) => seen.push(r))).rejects.toThrow(/unexpected end of file/i);
    expect(seen.length).toBeGreaterThan(0);
  });

  it('reads a byte stream (stdin-like) in 1-byte chunks, plain and gzip', async () => {
    const oneByte = (buf: Buffer) => Readable.from([...buf].map((b) => Buffer.from([b])));
    expect((await collect(oneByte(fixture))).results).toEqual(expectedResults);
    const gz = await collect(oneByte(gzipSync(fixture)));
    expect(gz.results).toEqual(expectedResults);
    expect(gz.stats.gzip).toBe(true);
  });

  it('reads plain Uint8Array chunks', async () => {
    async function* chunks() {
      yield new Uint8Array(fixture.subarray(0, 100));
      yield new Uint8Array(fixture.subarray(100));
    }
    expect((await collect(chunks())).results).toEqual(expectedResults);
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(readHubble(file(fixture), () => undefined, { signal: controller.signal })).rejects.toThrow('stop');
  });

  it('rejects with the error a sink throws, and stops there', async () => {
    let calls = 0;
    const sink = () => {
      if (++calls === 2) throw new Error('sink failed');
    };
    await expect(readHubble(file(fixture), sink)).rejects.toThrow('sink failed');
    expect(calls).toBe(2);
  });

  it('rejects a missing file', async () => {
    await expect(readHubble(join(dir, 'missing.jsonl'), () => undefined)).rejects.toThrow(/ENOENT/);
  });
});

describe('hubbleResults', () => {
  it('yields the same results and returns the counts', async () => {
    const path = file(fixture);
    const results: ParseResult[] = [];
    const iterator = hubbleResults(path, { chunkBytes: 1000 });
    let next = await iterator.next();
    while (!next.done) {
      results.push(next.value);
      next = await iterator.next();
    }
    expect(results).toEqual(expectedResults);
    expect(next.value.flows).toBe(13);
  });

  it('can be left early, a plain file with reads still in flight too', async () => {
    let n = 0;
    for await (const _ of hubbleResults(file(fixture), { chunkBytes: 64 })) if (++n === 3) break;
    expect(n).toBe(3);
  });

  it('can be left early', async () => {
    const gz = file(gzipSync(fixture));
    let n = 0;
    for await (const _ of hubbleResults(gz, { chunkBytes: 100 })) if (++n === 3) break;
    expect(n).toBe(3);
  });
});

describe('the benchmark generator', () => {
  it('writes realistic lines that all parse, identically on both paths', async () => {
    const path = join(dir, 'bench.jsonl');
    await writeHubbleBenchFile(path, 3000, 7);
    const fast = await collect(path);
    const full = await collect(path, { fastPath: false });
    expect(fast.results).toEqual(full.results);
    expect(fast.stats.lines).toBe(3000);
    expect(fast.stats.skipped).toEqual({ empty: 0, malformed: 0, 'schema-mismatch': 0, 'too-long': 0, 'unsupported-protocol': 0, 'invalid-name': 0 });
    const flows = fast.results.flatMap((r) => (r.kind === 'flow' ? [r.flow] : []));
    expect(flows.some((f) => f.isReply)).toBe(true);
    expect(flows.some((f) => f.dnsAnswer !== undefined)).toBe(true);
    expect(flows.some((f) => f.observationPoint === 'TO_ENDPOINT') && flows.some((f) => f.observationPoint === 'TO_OVERLAY')).toBe(true);
    expect(flows.every((f) => f.source.labels === undefined || !f.source.labels.some((l) => l.startsWith('io.cilium.k8s.policy')))).toBe(true);
  });
});
