// A throwaway network namespace for the agent's kernel conntrack test: pods are /32 addresses on
// its loopback device, Services are nftables DNAT rules, traffic comes from small Node scripts run
// inside it with `ip netns exec`. Nothing leaves the namespace. See
// src/ingest/conntrack/testdata/capture.sh for the recipe this follows.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** Why the kernel test cannot run here, or undefined when it can. */
export function kernelTestUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux network namespaces (platform is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (network namespaces, nftables and conntrack netlink need CAP_NET_ADMIN)';
  for (const [cmd, args, what] of [
    ['conntrack', ['--version'], 'conntrack (conntrack-tools)'],
    ['nft', ['--version'], 'nft (nftables)'],
    ['ip', ['netns', 'list'], 'ip netns (iproute2)'],
  ] as const) {
    try {
      execFileSync(cmd, [...args], { stdio: 'ignore', timeout: 10_000 });
    } catch (err) {
      return `needs ${what}: \`${cmd} ${args.join(' ')}\` failed (${(err as Error).message.split('\n')[0]}); install with apt-get install conntrack nftables iproute2`;
    }
  }
  return undefined;
}

function run(file: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, [...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export interface NodeProcess {
  readonly child: ChildProcess;
  /** Resolves with the first stdout line that equals `line` (rejects if the process exits first). */
  waitFor(line: string, timeoutMs?: number): Promise<void>;
  /** Resolves when the process has exited, rejecting unless it exited 0. */
  done(): Promise<void>;
  kill(): void;
  stderr(): string;
}

export class NetNs {
  readonly name = `hw-agent-${randomBytes(3).toString('hex')}`;
  readonly #processes: ChildProcess[] = [];

  /** `ip netns exec <ns>` */
  get prefix(): string[] {
    return ['ip', 'netns', 'exec', this.name];
  }

  /** Creates the namespace with `addresses` on lo, a route to `serviceCidr` via lo, and `nftRuleset` loaded. */
  async create(addresses: readonly string[], serviceCidr: string, nftRuleset: string): Promise<void> {
    await run('ip', ['netns', 'add', this.name]);
    await this.exec('ip', ['link', 'set', 'lo', 'up']);
    for (const address of addresses) await this.exec('ip', ['addr', 'add', `${address}/32`, 'dev', 'lo']);
    // Service addresses are not local: route them to lo so the OUTPUT nat hook can DNAT them.
    await this.exec('ip', ['route', 'add', serviceCidr, 'dev', 'lo']);
    await run('ip', ['netns', 'exec', this.name, 'nft', '-f', '-'], nftRuleset);
  }

  exec(file: string, args: readonly string[]): Promise<string> {
    return run('ip', ['netns', 'exec', this.name, file, ...args]);
  }

  /** Runs `node -e script ...args` inside the namespace. */
  node(script: string, args: readonly string[] = []): NodeProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, process.execPath, '-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#processes.push(child);
    let out = '';
    let err = '';
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    return {
      child,
      waitFor: (line, timeoutMs = 10_000) => new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${line}" within ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
        const check = () => {
          if (out.split('\n').includes(line)) {
            clearTimeout(timer);
            child.stdout!.off('data', check);
            resolve();
          }
        };
        child.stdout!.on('data', check);
        check();
        void exited.then((code) => {
          clearTimeout(timer);
          if (!out.split('\n').includes(line)) reject(new Error(`exited ${code} before "${line}"; stderr: ${err}`));
        });
      }),
      done: async () => {
        const code = await exited;
        if (code !== 0) throw new Error(`node script exited ${code}; stderr: ${err}`);
      },
      kill: () => { if (child.exitCode === null) child.kill('SIGKILL'); },
      stderr: () => err,
    };
  }

  /** Kills every process started here and deletes the namespace. */
  async destroy(): Promise<void> {
    for (const child of this.#processes) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await run('ip', ['netns', 'del', this.name]).catch(() => undefined);
  }
}

/** Echo servers: TCP on each `tcp` address, UDP on each `udp` address. Prints `ready`. */
export const SERVERS_SCRIPT = `
const net = require('net'), dgram = require('dgram');
const [tcp, udp] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2])];
const tcpServer = ([host, port]) => new Promise((resolve) => {
  const s = net.createServer((c) => { c.on('data', (d) => c.write(d)); c.on('error', () => {}); });
  s.listen(port, host, resolve);
});
const udpServer = ([host, port]) => new Promise((resolve) => {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => s.send(m, r.port, r.address));
  s.bind(port, host, resolve);
});
Promise.all([...tcp.map(tcpServer), ...udp.map(udpServer)]).then(() => console.log('ready'));
`;

/** One TCP connection held open (from [address, port] to [host, port]). Prints `connected`. */
export const LONG_LIVED_SCRIPT = `
const net = require('net');
const [from, to] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2])];
const c = net.connect({ host: to[0], port: to[1], localAddress: from[0], localPort: from[1] }, () => c.write('hello'));
c.once('data', () => console.log('connected'));
c.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

/**
 * Traffic steps, one after the other, each from its own [address, port]:
 * ["tcp", from, to] connect, send, await the echo, close; ["refused", from, to] a connect that
 * fails; ["udp", from, to] a datagram and its echo; ["udp-nobody", from, to] a datagram nobody
 * answers. Prints `done`.
 */
export const TRAFFIC_SCRIPT = `
const net = require('net'), dgram = require('dgram');
const steps = JSON.parse(process.argv[1]);
const tcp = (from, to) => new Promise((resolve, reject) => {
  const c = net.connect({ host: to[0], port: to[1], localAddress: from[0], localPort: from[1] }, () => c.write('x'));
  c.once('data', () => c.end());
  c.on('close', resolve);
  c.on('error', reject);
});
const refused = (from, to) => new Promise((resolve, reject) => {
  const c = net.connect({ host: to[0], port: to[1], localAddress: from[0], localPort: from[1] });
  c.on('error', (e) => (e.code === 'ECONNREFUSED' ? resolve() : reject(e)));
  c.on('connect', () => reject(new Error('connected to ' + to.join(':'))));
});
const udp = (from, to, answered) => new Promise((resolve, reject) => {
  const s = dgram.createSocket('udp4');
  s.bind(from[1], from[0], () => {
    s.send('query', to[1], to[0]);
    const timer = setTimeout(() => { s.close(); answered ? reject(new Error('no answer from ' + to.join(':'))) : resolve(); }, answered ? 3000 : 100);
    s.once('message', () => { clearTimeout(timer); s.close(); resolve(); });
  });
});
(async () => {
  for (const [kind, from, to] of steps) {
    if (kind === 'tcp') await tcp(from, to);
    else if (kind === 'refused') await refused(from, to);
    else await udp(from, to, kind === 'udp');
  }
  console.log('done');
})().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
`;
