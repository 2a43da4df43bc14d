// The single-executable binaries (`npm run build:binaries`, scripts/build-binaries.ts) on a
// machine without Node.js: PATH holds only the binaries (and kubectl for the plugin). Built once
// and cached under ~/.cache/hivewall/binaries by a hash of their inputs; the first build takes a
// few minutes.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminKubeconfigPath, testNamespace } from '../harness/index.js';
import { createShopProposal, learnShop, repo } from '../plugin/fixtures.js';

const EXAMPLE = path.join(repo, 'examples', 'shop');
const BINARIES = path.join(repo, 'dist', 'binaries');
const scratch = mkdtempSync(path.join(tmpdir(), 'hivewall-binaries-'));
/** The only folder on PATH: the binaries and kubectl, no `node`. */
const pathDir = path.join(scratch, 'bin');

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(command, args, { encoding: 'utf8', env: { PATH: pathDir, HOME: scratch, ...env }, timeout: 540_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tree(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.set(path.relative(dir, full), readFileSync(full, 'utf8'));
    }
  };
  walk(dir);
  return files;
}

const learnArgs = (out: string) => ['learn', '--flows', path.join(EXAMPLE, 'flows.hubble.jsonl'), '--cluster', path.join(EXAMPLE, 'cluster'), '--out', out, '-q'];

beforeAll(() => {
  execFileSync('bash', [path.join(repo, 'scripts', 'build-binaries.sh')], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'], timeout: 30 * 60_000 });
  execFileSync('mkdir', ['-p', pathDir]);
  for (const name of ['hivewall', 'kubectl-hivewall']) symlinkSync(path.join(BINARIES, 'linux-amd64', name), path.join(pathDir, name));
  const kubectl = execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim();
  symlinkSync(kubectl, path.join(pathDir, 'kubectl'));
}, 30 * 60_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the single-executable binaries', () => {
  it('run with no node on PATH', () => {
    expect(run('sh', ['-c', 'command -v node'], {}).code).not.toBe(0);
    const help = run(path.join(pathDir, 'hivewall'), ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('learn');
    const plugin = run(path.join(pathDir, 'kubectl-hivewall'), ['--help']);
    expect(plugin.code).toBe(0);
    expect(plugin.stdout).toContain('proposals');
  });

  it('learn writes byte-identical policies to the npm build, with and without parser threads', () => {
    const npmOut = path.join(scratch, 'npm');
    execFileSync(process.execPath, [path.join(repo, 'bin', 'hivewall.js'), ...learnArgs(npmOut), '--workers', '1']);
    const expected = tree(npmOut);
    expect(expected.size).toBeGreaterThan(5);
    for (const workers of ['1', '2', '4']) {
      const out = path.join(scratch, `binary-${workers}`);
      const r = run(path.join(pathDir, 'hivewall'), [...learnArgs(out), '--workers', workers]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(tree(out)).toEqual(expected);
    }
  }, 600_000);

  it('learn --report writes the report from the binary\'s own assets', () => {
    const report = path.join(scratch, 'report.html');
    const r = run(path.join(pathDir, 'hivewall'), [...learnArgs(path.join(scratch, 'with-report')), '--report', report]);
    expect(r.code).toBe(0);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('<script>');
    expect(html.length).toBeGreaterThan(100_000);
  }, 300_000);

  it('kubectl hivewall proposals lists the proposals of the test control plane', async () => {
    const ns = await testNamespace('binary');
    const shop = await learnShop();
    const name = await createShopProposal(ns.name, 1, shop.objects, shop.evidence);
    const r = run(path.join(pathDir, 'kubectl'), ['hivewall', 'proposals', '-n', ns.name], { KUBECONFIG: adminKubeconfigPath() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(name);
  });

  it('the krew manifest names each archive by its sha256, and each archive holds the plugin binary', () => {
    const manifest = load(readFileSync(path.join(BINARIES, 'krew', 'hivewall.yaml'), 'utf8')) as {
      spec: { platforms: { selector: { matchLabels: { arch: string } }; uri: string; sha256: string; bin: string; files: { from: string }[] }[] };
    };
    expect(manifest.spec.platforms.map((p) => p.selector.matchLabels.arch).sort()).toEqual(['amd64', 'arm64']);
    for (const p of manifest.spec.platforms) {
      const archive = path.join(BINARIES, path.basename(p.uri));
      expect(createHash('sha256').update(readFileSync(archive)).digest('hex')).toBe(p.sha256);
      expect(execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).trim().split('\n')).toEqual([p.bin]);
      expect(p.files.map((f) => f.from)).toEqual([p.bin]);
      const extracted = path.join(scratch, `krew-${p.selector.matchLabels.arch}`);
      execFileSync('mkdir', ['-p', extracted]);
      execFileSync('tar', ['-xzf', archive, '-C', extracted]);
      expect(readFileSync(path.join(extracted, p.bin)).equals(readFileSync(path.join(BINARIES, `linux-${p.selector.matchLabels.arch}`, p.bin)))).toBe(true);
    }
  }, 300_000);

  const qemu = ['/usr/bin/qemu-aarch64-static', '/usr/bin/qemu-aarch64'].find((f) => existsSync(f));
  const arm64Libc = existsSync('/lib/ld-linux-aarch64.so.1');
  it.skipIf(qemu === undefined || !arm64Libc)('the linux-arm64 binary learns what the amd64 one learns, under qemu (skipped without qemu-user-static and libc6:arm64)', () => {
    // A small input: emulation is slow.
    const flows = path.join(repo, 'src', 'ingest', 'hubble', 'testdata', 'observe.jsonl');
    const args = (out: string) => ['learn', '--flows', flows, '--out', out, '-q'];
    const amd64 = run(path.join(pathDir, 'hivewall'), args(path.join(scratch, 'fixture-amd64')));
    expect(amd64.code).toBe(0);
    const arm64 = run(qemu!, [path.join(BINARIES, 'linux-arm64', 'hivewall'), ...args(path.join(scratch, 'fixture-arm64'))]);
    expect(arm64.stderr).toBe('');
    expect(arm64.code).toBe(0);
    expect(tree(path.join(scratch, 'fixture-arm64'))).toEqual(tree(path.join(scratch, 'fixture-amd64')));
  }, 600_000);
});
