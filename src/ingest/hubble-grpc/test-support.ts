/**
 * Test support for the Hubble gRPC source: builds (cached) and runs test/hubble-server, the Go
 * Hubble Observer server made from Cilium's own API packages. Used by the *.test.ts files here;
 * no vitest import, so it type-checks and lints like the code it tests.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The checkout: three levels up from src/ingest/hubble-grpc/, four from dist/src/ingest/hubble-grpc/ (bench). */
const up3 = fileURLToPath(new URL('../../../', import.meta.url));
export const repoRoot = existsSync(path.join(up3, 'test', 'hubble-server', 'build.sh')) ? up3 : fileURLToPath(new URL('../../../../', import.meta.url));
export const buildScript = path.join(repoRoot, 'test', 'hubble-server', 'build.sh');
export const testdataDir = fileURLToPath(new URL('./testdata/', import.meta.url));

export interface HubbleServerBuild {
  /** Path of the built binary, when the build worked. */
  readonly binary?: string;
  /** Cilium's `api/v1` directory in the Go module cache (its .proto files). */
  readonly ciliumApi?: string;
  /** Why there is no binary (tests skip with this reason). */
  readonly reason?: string;
}

let building: Promise<HubbleServerBuild> | undefined;

/**
 * Runs test/hubble-server/build.sh once per process (a cached binary makes this fast; a cold build
 * compiles grpc-go and Cilium's API packages, well under a minute on 2 cores). Never rejects.
 */
export function buildHubbleServer(): Promise<HubbleServerBuild> {
  building ??= new Promise((resolve) => {
    execFile('bash', [buildScript, '--cilium-api'], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const values = new Map<string, string>();
      for (const line of stdout.split('\n')) {
        const eq = line.indexOf('=');
        if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1));
      }
      const binary = values.get('hubble-server');
      const ciliumApi = values.get('cilium-api');
      if (binary === undefined) {
        const tail = `${stderr}`.trim().split('\n').slice(-3).join(' | ');
        resolve({ reason: `test/hubble-server/build.sh failed: ${error?.message ?? 'no binary printed'}${tail ? ` (${tail})` : ''}` });
        return;
      }
      resolve({ binary, ...(ciliumApi === undefined ? {} : { ciliumApi }) });
    });
  });
  return building;
}

/** One JSON line the server printed on stdout. */
export interface ServerEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

export interface RunningHubbleServer {
  /** `127.0.0.1:<port>`, or the `unix:` address it was told to listen on. */
  readonly address: string;
  readonly events: ServerEvent[];
  /** The GetFlows requests as the server decoded them (protojson, proto field names), in call order. */
  requests(): Record<string, unknown>[];
  /** Resolves when an event matching `predicate` has been printed. */
  waitFor(predicate: (event: ServerEvent) => boolean, timeoutMs?: number): Promise<ServerEvent>;
  /** Lets a feed held by {@link HubbleServerOptions.holdAfter} go on (SIGUSR1). */
  resume(): void;
  stop(): Promise<void>;
}

export interface HubbleServerOptions {
  readonly scenario: string;
  readonly preload?: boolean;
  readonly disconnectAfter?: readonly number[];
  readonly intervalMs?: number;
  /** Listen address (default `127.0.0.1:0`, a random port), e.g. one from {@link unusedPort}, or `unix:///path/hubble.sock`. */
  readonly listen?: string;
  /** Feed only the first N scenario lines until {@link RunningHubbleServer.resume} (prints `held`, `resumed`, `fed`). */
  readonly holdAfter?: number;
  readonly tls?: { readonly cert: string; readonly key: string; readonly clientCa?: string };
}

/** Starts the server (by default on 127.0.0.1 with a random port) and waits for it to listen. */
export async function startHubbleServer(binary: string, options: HubbleServerOptions): Promise<RunningHubbleServer> {
  const args = ['-listen', options.listen ?? '127.0.0.1:0', '-scenario', options.scenario];
  if (options.preload === true) args.push('-preload');
  if (options.holdAfter !== undefined) args.push('-hold-after', String(options.holdAfter));
  if (options.disconnectAfter !== undefined) args.push('-disconnect-after', options.disconnectAfter.join(','));
  if (options.intervalMs !== undefined) args.push('-interval', `${options.intervalMs}ms`);
  if (options.tls !== undefined) {
    args.push('-tls-cert', options.tls.cert, '-tls-key', options.tls.key);
    if (options.tls.clientCa !== undefined) args.push('-tls-client-ca', options.tls.clientCa);
  }
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: ServerEvent[] = [];
  const listeners = new Set<() => void>();
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.stdout === null) throw new Error('hubble-server has no stdout');
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as ServerEvent);
    } catch {
      events.push({ event: 'unparsed', line });
    }
    for (const listener of [...listeners]) listener();
  });

  const waitFor = (predicate: (event: ServerEvent) => boolean, timeoutMs = 5000): Promise<ServerEvent> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = events.find(predicate);
        if (found === undefined) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`hubble-server: no matching event within ${timeoutMs} ms; events: ${JSON.stringify(events)}; stderr: ${stderr}`));
      }, timeoutMs);
      const onExit = () => {
        if (check()) return;
        cleanup();
        reject(new Error(`hubble-server exited: ${stderr}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(listener);
        child.off('exit', onExit);
      };
      const listener = () => void check();
      if (check()) return;
      listeners.add(listener);
      child.once('exit', onExit);
    });

  // Parsing a large scenario (a benchmark's 200,000 lines) takes a while before the server listens.
  const listening = await waitFor((e) => e.event === 'listening', 120_000);
  const listen = options.listen ?? '';
  return {
    address: listen.startsWith('unix:') ? listen : String(listening['address']),
    events,
    requests: () => events.filter((e) => e.event === 'request').map((e) => e['request'] as Record<string, unknown>),
    waitFor,
    resume: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGUSR1');
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface TestCerts {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly serverName: string;
  cleanup(): Promise<void>;
}

/** A throw-away CA, server certificate (DNS name `relay.hubble.test` only) and client certificate. */
export async function generateCerts(binary: string): Promise<TestCerts> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hivewall-hubble-tls-'));
  const serverName = 'relay.hubble.test';
  await new Promise<void>((resolve, reject) => {
    execFile(binary, ['gencerts', '-dir', dir, '-server-name', serverName], (error) => (error ? reject(error) : resolve()));
  });
  const file = (name: string) => path.join(dir, name);
  return {
    dir,
    ca: file('ca.pem'),
    serverCert: file('server.pem'),
    serverKey: file('server-key.pem'),
    clientCert: file('client.pem'),
    clientKey: file('client-key.pem'),
    serverName,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A 127.0.0.1 port nobody listens on right now (bound, then closed). */
export function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `condition` every 10 ms until it holds, or rejects after `timeoutMs`. */
export async function eventually(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
