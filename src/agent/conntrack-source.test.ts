import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Flow, ParseResult } from '../domain/flow.js';
import { FakeClock, flushPromises } from '../runtime/fake-clock.js';
import { captureLogger } from '../runtime/testing.js';
import { spawnRunner } from './command.js';
import { ConntrackSource, type ConntrackOrigin, type ConntrackSourceOptions } from './conntrack-source.js';
import { FakeRunner } from './testing.js';

const testdata = new URL('../ingest/conntrack/testdata/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, testdata), 'utf8').split('\n').filter((l) => l.length > 0);
/** Real lines captured from the kernel by capture.sh (Service DNAT 10.96.0.10:80 → 10.244.1.7:8080). */
const EVENTS = fixture('events.basic.timestamp-extended.txt');
const DUMP = fixture('list.basic.extended.txt');
const NO_JITTER = { baseMs: 1_000, capMs: 8_000 };

const sources: ConntrackSource[] = [];
afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
});

function setup(extra: Partial<ConntrackSourceOptions> = {}) {
  const clock = new FakeClock();
  const fake = new FakeRunner();
  const log = captureLogger();
  const seen: { result: ParseResult; origin: ConntrackOrigin }[] = [];
  const source = new ConntrackSource({
    sink: (result, origin) => seen.push({ result, origin }),
    logger: log.logger,
    runner: fake.runner,
    clock,
    restartBackoff: NO_JITTER,
    dumpIntervalMs: 60_000,
    ...extra,
  });
  sources.push(source);
  const flows = () => seen.filter((s) => s.result.kind === 'flow').map((s) => ({ origin: s.origin, flow: (s.result as { flow: Flow }).flow }));
  return { clock, fake, log, seen, source, flows };
}

/** Lets the fake children's stream data reach the source. */
async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await flushPromises();
}

describe('ConntrackSource', () => {
  it('runs `conntrack -E -o timestamp,extended` and a first `conntrack -L -o extended`, with the prefix', async () => {
    const { fake, source, clock } = setup({ prefix: ['ip', 'netns', 'exec', 'ns1'] });
    source.start();
    await clock.advance(0);
    expect(fake.children.map((c) => c.argv.join(' '))).toEqual([
      'ip netns exec ns1 conntrack -E -o timestamp,extended',
      'ip netns exec ns1 conntrack -L -o extended',
    ]);
  });

  it('turns real event and dump lines into flows: the server is the REPLY source (after DNAT)', async () => {
    const { fake, source, clock, flows } = setup();
    source.start();
    await clock.advance(0);
    const [events] = fake.started('-E');
    const [dump] = fake.started('-L');
    events!.write(...EVENTS.slice(0, 3));
    dump!.write(...DUMP);
    dump!.writeStderr('conntrack v1.4.7 (conntrack-tools): 16 flow entries have been shown.');
    dump!.finish();
    await settle();
    const serviceFlows = (origin: ConntrackOrigin) => flows().filter((f) => f.origin === origin && f.flow.source.port === 54115);
    const describe = (f: { flow: Flow }) => `${f.flow.source.ip} -> ${f.flow.destination.ip}:${f.flow.destination.port} confirmed=${f.flow.confirmed}`;
    // NEW [UNREPLIED] → not confirmed; UPDATEs and the dump line → confirmed. All to the backend pod.
    expect(serviceFlows('events').map(describe)).toEqual([
      '10.244.0.5 -> 10.244.1.7:8080 confirmed=false',
      '10.244.0.5 -> 10.244.1.7:8080 confirmed=true',
      '10.244.0.5 -> 10.244.1.7:8080 confirmed=true',
    ]);
    expect(serviceFlows('dump').map(describe)).toEqual(['10.244.0.5 -> 10.244.1.7:8080 confirmed=true']);
    expect(serviceFlows('events')[0]!.flow.time).toBe(1795752849772); // the event's own timestamp
    expect(serviceFlows('dump')[0]!.flow.time).toBe(clock.now()); // a dump line: the time of the dump
    expect(source.stats.dumps).toEqual({ ok: 1, failed: 0 });
    expect(source.stats.stderrLines).toBe(0); // the summary is not an error
    expect(source.stats.lines).toEqual({ events: 3, dump: DUMP.length });
    expect(source.status()).toEqual({ ok: true });
  });

  it('counts garbage lines as skips and keeps reading', async () => {
    const { fake, source, clock, flows } = setup();
    source.start();
    await clock.advance(0);
    const [events] = fake.started('-E');
    events!.write('garbage', '', '[NEW] ipv4 2 tcp 6 120 SYN_SENT src=1.2.3.4', 'x'.repeat(10_000), '\u0000\u0001binary', EVENTS[2]!);
    events!.writeRaw('[1795752849.772123]\t [UPDATE] ipv4     2 tcp      6 432000 ESTABLISHED src=10.244.0.5 dst=10.96.0.10 sport=1 dport=80 src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=1 [ASSURED]\r\n');
    await settle();
    expect(source.stats.skipped).toMatchObject({ empty: 1, 'too-long': 1 });
    expect(source.stats.skipped.malformed).toBe(3);
    expect(flows().filter((f) => f.origin === 'events')).toHaveLength(2);
    expect(source.status().ok).toBe(true);
  });

  it('restarts the events process with backoff when it dies, counting and logging each exit', async () => {
    const { fake, source, clock, log } = setup();
    source.start();
    await clock.advance(0);
    fake.started('-E')[0]!.writeStderr('conntrack v1.4.7 (conntrack-tools): Operation failed: Connection reset');
    fake.started('-E')[0]!.finish({ code: 1, signal: null });
    await settle();
    expect(source.status()).toMatchObject({ ok: false, kind: 'exited' });
    expect(source.status().reason).toContain('exit code 1: conntrack v1.4.7 (conntrack-tools): Operation failed: Connection reset');
    await clock.advance(999);
    expect(fake.started('-E')).toHaveLength(1);
    await clock.advance(1);
    expect(fake.started('-E')).toHaveLength(2); // restarted after 1 s
    expect(source.status()).toEqual({ ok: true });
    fake.started('-E')[1]!.finish({ code: null, signal: 'SIGKILL' });
    await settle();
    await clock.advance(1_999);
    expect(fake.started('-E')).toHaveLength(2);
    await clock.advance(1);
    expect(fake.started('-E')).toHaveLength(3); // then after 2 s
    expect(source.stats.eventExits).toEqual({ exited: 2 });
    expect(source.stats.eventStarts).toBe(3);
    expect(source.stats.stderrLines).toBe(1);
    expect(log.find('conntrack events exited').map((l) => l['detail'])).toEqual([
      'exit code 1: conntrack v1.4.7 (conntrack-tools): Operation failed: Connection reset',
      'killed by SIGKILL',
    ]);
    expect(log.find('conntrack stderr')).toHaveLength(1);
  });

  it('reports conntrack -E\'s ENOBUFS warning as lost events (the kernel dropped some), not just a stderr line', async () => {
    const { fake, source, clock, seen, log } = setup();
    source.start();
    await clock.advance(0);
    fake.started('-E')[0]!.writeStderr(
      'WARNING: We have hit ENOBUFS! We are losing events.',
      'This message means that the current netlink socket buffer size is too small.',
      'Please, check --buffer-size in conntrack(8) manpage.',
    );
    await settle();
    expect(seen.filter((s) => s.result.kind === 'lost-events')).toEqual([{ result: { kind: 'lost-events', source: 'conntrack-enobufs', count: 1 }, origin: 'events' }]);
    expect(source.stats).toMatchObject({ lostEventNotices: 1, stderrLines: 3, lines: { events: 0, dump: 0 } });
    expect(log.find('conntrack lost events (ENOBUFS): the netlink socket buffer overflowed')).toHaveLength(1);
    expect(source.status()).toEqual({ ok: true }); // conntrack goes on reading
  });

  it('resets the backoff after the events process ran long enough', async () => {
    const { fake, source, clock } = setup({ stableAfterMs: 10_000 });
    source.start();
    await clock.advance(0);
    for (let i = 0; i < 3; i++) {
      fake.started('-E').at(-1)!.finish({ code: 1, signal: null });
      await settle();
      await clock.advance(8_000);
    }
    expect(fake.started('-E')).toHaveLength(4);
    await clock.advance(20_000); // runs stably
    fake.started('-E').at(-1)!.finish({ code: 1, signal: null });
    await settle();
    await clock.advance(1_000);
    expect(fake.started('-E')).toHaveLength(5);
  });

  it('reports a missing conntrack binary clearly, stays up and keeps trying', async () => {
    const { fake, source, clock, log } = setup();
    fake.onSpawn = (child) => child.finish({ code: null, signal: null, error: { code: 'ENOENT', message: 'spawn conntrack ENOENT' } });
    source.start();
    await clock.advance(0);
    await settle();
    expect(source.status()).toEqual({ ok: false, kind: 'missing-binary', reason: 'missing-binary: spawn conntrack ENOENT' });
    await clock.advance(1_000);
    await settle();
    await clock.advance(2_000);
    await settle();
    expect(source.stats.errors['missing-binary']).toBeGreaterThanOrEqual(3); // events exits and the failed dump
    expect(source.stats.dumps.failed).toBe(1);
    expect(log.find('conntrack events cannot run')[0]).toMatchObject({ kind: 'missing-binary', level: 50 });
    // The binary appears (installed, volume mounted): the next restart works.
    fake.onSpawn = () => {};
    await clock.advance(8_000);
    expect(source.status()).toEqual({ ok: false, kind: 'missing-binary', reason: 'missing-binary: spawn conntrack ENOENT' }); // the last dump failed
    await clock.advance(60_000);
    fake.started('-L').at(-1)!.finish();
    await settle();
    expect(source.status()).toEqual({ ok: true });
  });

  it('classifies `ip netns exec` without conntrack as a missing binary', async () => {
    const { fake, source, clock } = setup({ prefix: ['ip', 'netns', 'exec', 'x'] });
    fake.onSpawn = (child) => {
      child.writeStderr('exec of "conntrack" failed: No such file or directory');
      child.finish({ code: 255, signal: null });
    };
    source.start();
    await clock.advance(0);
    await settle();
    expect(source.status().kind).toBe('missing-binary');
  });

  it('reports a permission error (no CAP_NET_ADMIN) clearly', async () => {
    const { fake, source, clock } = setup();
    fake.onSpawn = (child) => {
      child.writeStderr('conntrack v1.4.7 (conntrack-tools): Operation failed: Operation not permitted');
      child.finish({ code: 1, signal: null });
    };
    source.start();
    await clock.advance(0);
    await settle();
    expect(source.status()).toMatchObject({ ok: false, kind: 'permission' });
    expect(source.status().reason).toContain('Operation not permitted');
    expect(source.stats.errors.permission).toBe(2);
  });

  it('dumps every dumpIntervalMs; a failed dump is reported until one succeeds', async () => {
    const { fake, source, clock } = setup({ dumpIntervalMs: 10_000 });
    source.start();
    await clock.advance(0);
    fake.started('-L')[0]!.finish();
    await settle();
    await clock.advance(10_000);
    expect(fake.started('-L')).toHaveLength(2);
    fake.started('-L')[1]!.writeStderr('conntrack v1.4.7 (conntrack-tools): Operation failed: No buffer space available');
    fake.started('-L')[1]!.finish({ code: 1, signal: null });
    await settle();
    expect(source.status()).toMatchObject({ ok: false, kind: 'dump-failed' });
    await clock.advance(10_000);
    fake.started('-L')[2]!.finish();
    await settle();
    expect(source.status()).toEqual({ ok: true });
    expect(source.stats.dumps).toEqual({ ok: 2, failed: 1 });
  });

  it('kills a dump that hangs', async () => {
    const { fake, source, clock } = setup({ dumpTimeoutMs: 5_000 });
    source.start();
    await clock.advance(0);
    const dump = fake.started('-L')[0]!;
    await clock.advance(5_000);
    await settle();
    expect(dump.killed).toBe(true);
    expect(source.status()).toMatchObject({ ok: false, kind: 'dump-timeout' });
  });

  it('a sink that throws is logged, and reading goes on', async () => {
    let calls = 0;
    const { fake, source, clock, log } = setup({ sink: () => { calls++; throw new Error('bug'); } });
    source.start();
    await clock.advance(0);
    fake.started('-E')[0]!.write(...EVENTS.slice(0, 4));
    await settle();
    expect(calls).toBe(4);
    expect(log.find('conntrack sink failed')).toHaveLength(4);
  });

  it('stop() kills the events process and a running dump and does not restart them', async () => {
    const { fake, source, clock } = setup();
    source.start();
    await clock.advance(0);
    await source.stop();
    expect(fake.children.every((c) => c.killed)).toBe(true);
    await clock.advance(120_000);
    expect(fake.children).toHaveLength(2);
    expect(source.stats.eventExits).toEqual({});
    expect(source.status()).toEqual({ ok: false, reason: 'not started' });
  });
});

describe('ConntrackSource with real processes (spawnRunner)', () => {
  it('a binary that does not exist is missing-binary', async () => {
    const source = new ConntrackSource({ sink: () => {}, logger: captureLogger().logger, runner: spawnRunner, binary: '/nonexistent/conntrack', restartBackoff: { baseMs: 60_000, capMs: 60_000 } });
    sources.push(source);
    source.start();
    await expect.poll(() => source.status().kind).toBe('missing-binary');
    expect(source.status().reason).toContain('ENOENT');
  });

  it('reads stdout and classifies stderr of a real process', async () => {
    // `sh -c <script> sh conntrack -E …`: the script plays conntrack (the arguments land in $@).
    const script = 'if [ "$2" = "-L" ]; then printf "%s\\n" "$LINE"; echo "conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown." >&2; exit 0; fi; echo "conntrack v1.4.7 (conntrack-tools): Operation failed: Operation not permitted" >&2; exit 1';
    process.env['LINE'] = DUMP[1];
    const seen: ParseResult[] = [];
    const source = new ConntrackSource({ sink: (r) => seen.push(r), logger: captureLogger().logger, runner: spawnRunner, prefix: ['sh', '-c', script, 'sh'], restartBackoff: { baseMs: 60_000, capMs: 60_000 } });
    sources.push(source);
    source.start();
    await expect.poll(() => source.stats.dumps.ok).toBe(1);
    await expect.poll(() => source.status().kind).toBe('permission');
    expect(seen.filter((r) => r.kind === 'flow')).toHaveLength(1);
    expect(source.stats.stderrLines).toBe(1);
    delete process.env['LINE'];
  });
});
