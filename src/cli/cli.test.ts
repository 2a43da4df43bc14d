import { mkdir, mkdtemp, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { captureRun } from '../testing/cli-run.js';
import { main } from './main.js';

/** Runs the CLI in-process with captured output. */
const run = (args: string[], stdin = '') => captureRun((io) => main(args, io), stdin);

const hubbleLine = (src: { ip: string; pod: string; ns: string; app: string }, dst: { ip: string; pod: string; ns: string; app: string }, port: number, sport: number, extra = '') =>
  JSON.stringify({
    flow: {
      time: '2026-11-02T10:00:01.000000001Z',
      verdict: 'FORWARDED',
      IP: { source: src.ip, destination: dst.ip, ipVersion: 'IPv4' },
      l4: { TCP: { source_port: sport, destination_port: port, flags: { SYN: true } } },
      source: { namespace: src.ns, pod_name: src.pod, labels: [`k8s:app=${src.app}`, `k8s:io.kubernetes.pod.namespace=${src.ns}`], workloads: [{ name: src.app, kind: 'Deployment' }] },
      destination: { namespace: dst.ns, pod_name: dst.pod, labels: [`k8s:app=${dst.app}`, `k8s:io.kubernetes.pod.namespace=${dst.ns}`], workloads: [{ name: dst.app, kind: 'Deployment' }] },
      Type: 'L3_L4',
      node_name: 'node-a',
      traffic_direction: 'EGRESS',
      is_reply: false,
      trace_observation_point: 'TO_STACK',
    },
    node_name: 'node-a',
    time: '2026-11-02T10:00:01.000000001Z',
  }) + extra;

const web = { ip: '10.244.0.5', pod: 'web-6c9f7d8b5d-x2k4p', ns: 'demo', app: 'web' };
const api = { ip: '10.244.1.7', pod: 'api-5f6b7c8d9e-abcde', ns: 'demo', app: 'api' };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hivewall-cli-'));
  await writeFile(join(dir, 'good.jsonl'), `${hubbleLine(web, api, 8080, 40000)}\n${hubbleLine(web, api, 8080, 40001)}\n`);
  await writeFile(join(dir, 'empty.jsonl'), '');
  await writeFile(join(dir, 'garbage.txt'), 'this is not a flow\nneither is this\n');
  await writeFile(join(dir, 'mixed.jsonl'), [
    hubbleLine(web, api, 8080, 40000),
    '{"flow": {"verdict": "FORWARDED", "IP": ',
    'not json at all',
    '{"flow": {"verdict": 42}}',
    `${hubbleLine(web, api, 8080, 40002)}\r`,
    `bad\u0000line`,
    '',
  ].join('\n'));
  await writeFile(join(dir, 'good.jsonl.gz'), gzipSync(`${hubbleLine(web, api, 8080, 40000)}\n`));
});

describe('hivewall learn', () => {
  it('writes one file per object and a kustomization, and summarizes', async () => {
    const out = join(dir, 'out-good');
    const r = await run(['learn', '--flows', join(dir, 'good.jsonl'), '--out', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect((await readdir(join(out, 'demo'))).sort()).toEqual(['hivewall-api.yaml', 'hivewall-default-deny.yaml', 'hivewall-web.yaml', 'kustomization.yaml']);
    expect(await readFile(join(out, 'demo', 'kustomization.yaml'), 'utf8')).toBe(
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - hivewall-api.yaml\n  - hivewall-default-deny.yaml\n  - hivewall-web.yaml\n',
    );
    expect(r.out).toMatch(/flows\s+2 flows, 2 connections learned/);
    expect(r.out).toMatch(/policies\s+3 NetworkPolicy objects/);
  });

  it('skips and counts bad lines, and the good lines give the same policies', async () => {
    const good = join(dir, 'out-a');
    const mixed = join(dir, 'out-b');
    await run(['learn', '--flows', join(dir, 'good.jsonl'), '--out', good, '-q']);
    const r = await run(['learn', '--flows', join(dir, 'mixed.jsonl'), '--out', mixed]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/malformed JSON or text 3/);
    expect(r.out).toMatch(/schema mismatch 1/);
    for (const f of await readdir(join(good, 'demo'))) {
      expect(await readFile(join(mixed, 'demo', f), 'utf8')).toBe(await readFile(join(good, 'demo', f), 'utf8'));
    }
  });

  it('reads gzip input and stdin', async () => {
    const gz = await run(['learn', '--flows', join(dir, 'good.jsonl.gz'), '--out', join(dir, 'out-gz')]);
    expect(gz.code).toBe(0);
    const stdin = await run(['learn', '--flows', '-', '--out', join(dir, 'out-stdin')], `${hubbleLine(web, api, 8080, 1)}\n`);
    expect(stdin.code).toBe(0);
    expect(await readdir(join(dir, 'out-stdin', 'demo'))).toContain('hivewall-web.yaml');
  });

  it('is byte-identical across runs and rewrites nothing when nothing changed', async () => {
    const out = join(dir, 'out-twice');
    await run(['learn', '--flows', join(dir, 'good.jsonl'), '--out', out]);
    const first = await readFile(join(out, 'demo', 'hivewall-web.yaml'), 'utf8');
    const again = await run(['learn', '--flows', join(dir, 'good.jsonl'), '--out', out]);
    expect(again.out).toMatch(/0 file\(s\) changed/);
    expect(await readFile(join(out, 'demo', 'hivewall-web.yaml'), 'utf8')).toBe(first);
  });

  it('refuses a namespace folder symlinked out of --out, and changes nothing outside (write-policies.ts)', async () => {
    const base = await mkdtemp(join(tmpdir(), 'hivewall-cli-symlink-'));
    await mkdir(join(base, 'outside'));
    await mkdir(join(base, 'out'));
    await writeFile(join(base, 'outside', 'hivewall-web.yaml'), 'precious: 1\n');
    await writeFile(join(base, 'outside', 'stale.yaml'), 'metadata:\n  labels:\n    app.kubernetes.io/managed-by: hivewall\n');
    await symlink('../outside', join(base, 'out', 'demo'));
    const r = await run(['learn', '--flows', join(dir, 'good.jsonl'), '--out', join(base, 'out')]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`hivewall: ${join(base, 'out', 'demo')} is a symlink: refusing to write through it (it may lead outside the output directory); nothing was written\n`);
    expect((await readdir(join(base, 'outside'))).sort()).toEqual(['hivewall-web.yaml', 'stale.yaml']);
    expect(await readFile(join(base, 'outside', 'hivewall-web.yaml'), 'utf8')).toBe('precious: 1\n');
  });

  const failures: { name: string; args: () => string[]; code: number; message: RegExp }[] = [
    { name: 'missing file', args: () => ['learn', '--flows', join(dir, 'nope.jsonl'), '--out', join(dir, 'x')], code: 1, message: /^hivewall: flows .*nope\.jsonl: no such file\n$/ },
    { name: 'empty file', args: () => ['learn', '--flows', join(dir, 'empty.jsonl'), '--out', join(dir, 'x')], code: 1, message: /^hivewall: no input: .* is empty\n$/ },
    { name: 'nothing parseable', args: () => ['learn', '--flows', join(dir, 'garbage.txt'), '--out', join(dir, 'x')], code: 1, message: /^hivewall: nothing parseable in .*garbage\.txt: 2 line\(s\)/ },
    { name: 'unknown flag', args: () => ['learn', '--flows', 'a', '--out', 'b', '--bogus'], code: 2, message: /^error: unknown option '--bogus'\n$/ },
    { name: 'missing --out', args: () => ['learn', '--flows', join(dir, 'good.jsonl')], code: 2, message: /required option '--out <dir>' not specified/ },
    { name: 'bad flavor', args: () => ['learn', '--flows', 'a', '--out', 'b', '--flavor', 'calico'], code: 2, message: /argument 'calico' is invalid/ },
    { name: 'zero workers', args: () => ['learn', '--flows', join(dir, 'good.jsonl'), '--out', join(dir, 'x'), '--workers', '0'], code: 2, message: /^hivewall: --workers "0" is not a whole number from 1 to 64\n$/ },
    { name: 'fractional workers', args: () => ['graph', '--flows', join(dir, 'good.jsonl'), '--workers', '1.5'], code: 2, message: /--workers "1.5" is not a whole number/ },
    { name: 'a window time without an offset (it would be read in the local time zone)', args: () => ['learn', '--flows', join(dir, 'good.jsonl'), '--out', join(dir, 'x'), '--since', '2026-11-02T10:30:00'], code: 2, message: /^hivewall: --since "2026-11-02T10:30:00" is not an RFC 3339 time/ },
    { name: 'a window time that is not RFC 3339', args: () => ['learn', '--flows', join(dir, 'good.jsonl'), '--out', join(dir, 'x'), '--until', 'Nov 2 2026'], code: 2, message: /^hivewall: --until "Nov 2 2026" is not an RFC 3339 time/ },
    { name: 'directory as flows', args: () => ['learn', '--flows', dir, '--out', join(dir, 'x')], code: 1, message: /is a directory/ },
    { name: 'missing cluster snapshot', args: () => ['learn', '--flows', join(dir, 'good.jsonl'), '--cluster', join(dir, 'none.yaml'), '--out', join(dir, 'x')], code: 1, message: /cluster snapshot .*none\.yaml: no such file or directory/ },
  ];
  it('takes --since/--until with a Z or a numeric offset', async () => {
    const r = await run(['learn', '--flows', join(dir, 'good.jsonl'), '--out', join(dir, 'window'), '--since', '2000-01-01T00:00:00Z', '--until', '2100-01-01T01:00:00.5+01:00']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
  });

  for (const f of failures) {
    it(`fails with one clear line: ${f.name}`, async () => {
      const r = await run(f.args());
      expect(r.code).toBe(f.code);
      expect(r.err).toMatch(f.message);
      expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    });
  }
});

describe('hivewall graph', () => {
  it.each(['text', 'json', 'dot'])('prints the graph as %s', async (output) => {
    const r = await run(['graph', '--flows', join(dir, 'good.jsonl'), '-o', output, '-q']);
    expect(r.code).toBe(0);
    if (output === 'json') expect(JSON.parse(r.out).edges).toHaveLength(1);
    if (output === 'dot') expect(r.out).toContain('"wl:demo/Deployment/web" -> "wl:demo/Deployment/api" [label="8080/TCP (2)"]');
    if (output === 'text') expect(r.out).toContain('demo/Deployment/web -> demo/Deployment/api 8080/TCP  flows=2');
  });
});
