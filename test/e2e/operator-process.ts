/** Running `hivewall operator` as separate processes in tests, and waiting for cluster state. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { adminKubeconfigPath, kubectlOk } from '../harness/index.js';

export const ROOT = new URL('../../', import.meta.url).pathname;

// kubectl JSON output is untyped; the tests read the fields they assert on.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

export class OperatorProcesses {
  readonly processes = new Map<string, ChildProcess>();
  readonly logs = new Map<string, string[]>();

  /**
   * `flowFile`: the Hubble export file every replica follows; absent: only the sources given to
   * {@link start}. `launch`: starts `hivewall <args>`; default: bin/hivewall.js of the checkout
   * with this Node.js (test/e2e/image.test.ts runs the image's instead).
   */
  constructor(
    private readonly kubeconfig: string,
    private readonly flowFile?: string,
    private readonly launch: (args: readonly string[]) => ChildProcess = (args) =>
      spawn(process.execPath, [join(ROOT, 'bin/hivewall.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
  ) {}

  /**
   * Starts a replica with short periods (lease 4 s, resync 1 s) on a random health port.
   * `extraArgs` adds flow sources or other flags (e.g. `--receiver-port 0`, `--hubble-address …`).
   */
  start(identity: string, extraArgs: readonly string[] = []): ChildProcess {
    const child = this.launch([
      'operator',
      '--kubeconfig', this.kubeconfig,
      ...(this.flowFile !== undefined ? ['--flows-path', this.flowFile] : []),
      '--namespace', 'hivewall-system',
      '--identity', identity,
      '--lease-duration-seconds', '4',
      '--resync-ms', '1000',
      // Profiles follow counts within 10 s (default 30 s): these tests wait for exact counts.
      '--counts-interval-ms', '10000',
      '--inventory-refresh-ms', '2000',
      '--flow-poll-ms', '100',
      '--health-port', '0',
      '--log-level', 'info',
      ...extraArgs,
    ]);
    const out: string[] = [];
    this.logs.set(identity, out);
    child.stdout!.on('data', (c: Buffer) => out.push(c.toString()));
    child.stderr!.on('data', (c: Buffer) => out.push(c.toString()));
    this.processes.set(identity, child);
    return child;
  }

  async stop(identity: string, signal: NodeJS.Signals): Promise<void> {
    const child = this.processes.get(identity);
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    this.processes.delete(identity);
  }

  async stopAll(): Promise<void> {
    for (const id of [...this.processes.keys()]) await this.stop(id, 'SIGKILL');
  }

  logTail(lines = 15): string {
    return [...this.logs.values()].map((l) => l.join('').split('\n').slice(-lines).join('\n')).join('\n---\n');
  }
}

export async function getJson(args: string[]): Promise<Json> {
  return JSON.parse(await kubectlOk(['get', ...args, '-o', 'json'], { kubeconfig: adminKubeconfigPath() })) as Json;
}

/** Polls `fn` until it returns a truthy value; on timeout the error carries the operator logs. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, operators?: OperatorProcesses): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}${operators ? `\noperator logs:\n${operators.logTail()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
