/** Running hivewall's command-line entry points in-process in tests, with their output captured. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';

export interface CapturedRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export interface CapturedIo {
  readonly stdout: PassThrough;
  readonly stderr: PassThrough;
  readonly stdin: Readable;
}

/** Calls `invoke` with streams whose text is collected; resolves with its exit code and the text. */
export async function captureRun(invoke: (io: CapturedIo) => Promise<number>, stdin = ''): Promise<CapturedRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  const code = await invoke({ stdout, stderr, stdin: Readable.from(stdin === '' ? [] : [stdin]) });
  return { code, out, err };
}

/**
 * Writes a kubeconfig with one context `one` (cluster `c1` and user `u1` as given, inline YAML
 * flow maps) and `extra` appended; returns its path.
 */
export async function writeTestKubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>, namespace: string, extra = ''): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hivewall-kubeconfig-'));
  const file = path.join(dir, 'kubeconfig');
  await writeFile(file, `apiVersion: v1
kind: Config
clusters:
  - name: c1
    cluster: ${JSON.stringify(cluster)}
users:
  - name: u1
    user: ${JSON.stringify(user)}
contexts:
  - name: one
    context: { cluster: c1, user: u1, namespace: ${namespace} }
current-context: one
${extra}`);
  return file;
}

/** Writes a kubeconfig for a plain-HTTP stand-in API server at `url` (a token user, one context); returns its path. */
export function standInKubeconfig(url: string, namespace: string): Promise<string> {
  return writeTestKubeconfig({ server: url, 'insecure-skip-tls-verify': true }, { token: 'abc' }, namespace);
}
