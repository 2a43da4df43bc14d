/**
 * Running programs from the hivewall image's file system, the way a kubelet would run the
 * Deployment's container, without a container engine (`podman run` needs cgroups this machine's
 * crun refuses): the image is built by scripts/image/build.sh, unpacked by buildah into a working
 * container, and each program runs in its own mount namespace (`unshare --mount`) with
 *
 * - the image's root file system mounted read-only (`readOnlyRootFilesystem: true`),
 * - fresh /proc, a tmpfs /tmp (the Deployment's emptyDir), a /dev with only null, zero, full,
 *   random, urandom and tty, and host folders bound read-only under /run/hivewall-test/<name>,
 * - the image's own user (`chroot --userspec`: 65532, no capabilities), environment, working
 *   directory and entrypoint, read from the image's configuration,
 * - the host's network namespace (the test API server listens on loopback).
 *
 * The spawned process execs down to the program itself, so a signal sent to it reaches the
 * program (SIGTERM releases the operator's lease as in a pod). Needs root and buildah; otherwise
 * {@link buildImage} says why the image tests skip.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);

/** The image's OCI configuration, as far as running it goes. */
export interface ImageConfig {
  readonly User: string;
  readonly Entrypoint: readonly string[];
  readonly Cmd?: readonly string[];
  readonly Env: readonly string[];
  readonly WorkingDir: string;
}

export interface BuiltImage {
  readonly ref: string;
  readonly sbomPath: string;
}

/** Where a host folder appears inside the image's file system (read-only). */
export const bindTarget = (name: string) => `/run/hivewall-test/${name}`;

/** Why the image cannot be built or run here, or undefined when it can. */
async function unavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'running from the image needs root (mount namespaces, chroot)';
  try {
    await run('buildah', ['--version']);
  } catch {
    return 'buildah is not installed (scripts/ci-deps.sh installs it: apt-get install buildah mmdebstrap)';
  }
  try {
    await run('unshare', ['--mount', '--propagation', 'private', 'true']);
  } catch (error) {
    return `cannot create a mount namespace: ${(error as Error).message}`;
  }
  return undefined;
}

/**
 * Builds the image (`npm run image`: a cache hit when nothing changed) and returns it, or the
 * reason it cannot run here. A failing build throws: it is a test failure, not a skip.
 */
export async function buildImage(): Promise<{ readonly image?: BuiltImage; readonly skip?: string }> {
  const skip = await unavailable();
  if (skip !== undefined) return { skip };
  const { stdout } = await run('bash', [join(ROOT, 'scripts/image/build.sh')], { cwd: ROOT, maxBuffer: 64 << 20 }).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`scripts/image/build.sh failed:\n${(error.stderr ?? error.message).split('\n').slice(-40).join('\n')}`);
  });
  const field = (name: string) => [...stdout.matchAll(/^(\w+)=(.*)$/gm)].find((m) => m[1] === name)?.[2];
  const ref = field('image');
  const sbomPath = field('sbom');
  if (!ref || !sbomPath) throw new Error(`scripts/image/build.sh printed no image= / sbom= line:\n${stdout}`);
  return { image: { ref, sbomPath } };
}

const buildah = async (args: readonly string[]) =>
  (await run('bash', [join(ROOT, 'scripts/image/buildah.sh'), ...args], { maxBuffer: 16 << 20 })).stdout.trim();

/** POSIX shell single-quoting. */
const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

export interface SpawnFromImageOptions {
  /** Instead of the image's entrypoint (as a pod's `command`). */
  readonly command?: readonly string[];
  /** Name → host folder, seen read-only at {@link bindTarget}(name). */
  readonly binds?: Readonly<Record<string, string>>;
  /** Name → host folder the program may write (it runs as the image's user: chown the folder). */
  readonly writableBinds?: Readonly<Record<string, string>>;
  readonly stdio?: SpawnOptions['stdio'];
}

/** A working container of the image, mounted; {@link ImageRoot.spawn} runs programs from it. */
export class ImageRoot {
  readonly container: string;
  /** The image's root file system on the host (buildah's mount of it; never written). */
  readonly rootfs: string;
  readonly config: ImageConfig;

  private constructor(container: string, rootfs: string, config: ImageConfig) {
    this.container = container;
    this.rootfs = rootfs;
    this.config = config;
  }

  static async open(ref: string): Promise<ImageRoot> {
    const config = (JSON.parse(await buildah(['inspect', '--type', 'image', ref])) as { OCIv1: { config: ImageConfig } }).OCIv1.config;
    const container = await buildah(['from', '--pull=false', '--name', `hivewall-test-${randomBytes(4).toString('hex')}`, ref]);
    const rootfs = await buildah(['mount', container]);
    return new ImageRoot(container, rootfs, config);
  }

  async close(): Promise<void> {
    await buildah(['rm', this.container]);
  }

  /** Starts the image's entrypoint with `args` (as a pod's `args` replace CMD), or `opts.command` with them. */
  spawn(args: readonly string[], opts: SpawnFromImageOptions = {}): ChildProcess {
    const argv = [...(opts.command ?? this.config.Entrypoint), ...args];
    const user = this.config.User;
    if (!/^\d+(:\d+)?$/.test(user)) throw new Error(`image user ${JSON.stringify(user)} is not numeric (runAsNonRoot cannot verify it)`);
    const r = q(this.rootfs);
    const bind = (name: string, host: string, mode: 'ro' | 'rw') => {
      if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`bind name ${JSON.stringify(name)}: lower-case letters, digits and -`);
      const target = q(`${this.rootfs}${bindTarget(name)}`);
      return `mkdir -p ${target} && mount --bind ${q(host)} ${target} && mount -o remount,bind,${mode},nosuid,nodev ${target}`;
    };
    const binds = [
      ...Object.entries(opts.binds ?? {}).map(([name, host]) => bind(name, host, 'ro')),
      ...Object.entries(opts.writableBinds ?? {}).map(([name, host]) => bind(name, host, 'rw')),
    ];
    const script = [
      'set -e',
      `mount --bind ${r} ${r}`,
      `mount -o remount,bind,ro,nosuid,nodev ${r}`,
      `mount -t proc -o nosuid,nodev,noexec proc ${r}/proc`,
      `mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs ${r}/tmp`,
      `mount -t tmpfs -o nosuid,noexec,mode=755 tmpfs ${r}/dev`,
      `for d in null zero full random urandom tty; do touch ${r}/dev/$d; mount --bind /dev/$d ${r}/dev/$d; done`,
      `mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs ${r}/run`,
      ...binds,
      // The image's environment only (a kubelet adds HOME=/ for a user without a passwd entry).
      `exec chroot --userspec=${q(user.includes(':') ? user : `${user}:${user}`)} ${r} /usr/bin/env -i -C ${q(this.config.WorkingDir || '/')} HOME=/ ${this.config.Env.map(q).join(' ')} ${argv.map(q).join(' ')}`,
    ].join('\n');
    return spawn('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script], { stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'] });
  }

  /** Runs to completion; resolves with the exit code and output. */
  async exec(args: readonly string[], opts: SpawnFromImageOptions = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = this.spawn(args, opts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
  }
}
