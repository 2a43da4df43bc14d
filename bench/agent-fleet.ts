/**
 * What the Hubble node-agent path costs, measured on whole processes:
 *
 *   agent_cpu_per_1k_flows   the `hivewall agent --source hubble` process (the real CLI, bin/) following
 *                            test/hubble-server on a unix socket, shipping to an acknowledging
 *                            controller: its CPU seconds per flow × 1,000 = cores per 1,000 flows/s.
 *   operator_cpu_100_agents  the operator's edge receiver (bench/receiver-process.ts: the real
 *                            EdgeReceiver merging into a Learner) while 100 agents each ship, every
 *                            10 s (the default ship interval), the deltas of 10 s of 1,500 flows/s:
 *                            CPU seconds per round of 100 batches ÷ 10 s = cores.
 *
 * The agents' batches are made by the agent's own code (EdgeAggregator fed with realistic Hubble
 * flows through the Hubble agent's node rule), 15,000 flows each.
 */
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EdgeAggregator } from '../src/agent/aggregator.js';
import { leftToServerNode } from '../src/agent/hubble-agent.js';
import { IdentityResolver } from '../src/domain/identity.js';
import { emptyInventory } from '../src/domain/inventory.js';
import { parseHubbleLine } from '../src/ingest/hubble/parse.js';
import { issueCa, issueLeaf } from '../src/operator/receiver-tls.js';
import { buildHubbleServer, startHubbleServer } from '../src/ingest/hubble-grpc/test-support.js';
import { writeHubbleBenchFile } from './hubble-ingest.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Edge-batch bodies as agents send them: 10 s of 1,500 flows/s of one node each (`nodes` distinct ones). */
async function agentBatches(nodes: number, flowsPerBatch = 15_000): Promise<{ edges: unknown[] }[]> {
  const dir = mkdtempSync(join(tmpdir(), 'hivewall-fleet-'));
  try {
    const out: { edges: unknown[] }[] = [];
    for (let n = 0; n < nodes; n++) {
      const file = join(dir, `node-${n}.jsonl`);
      await writeHubbleBenchFile(file, flowsPerBatch, 100 + n);
      const aggregator = new EdgeAggregator({ identity: new IdentityResolver(emptyInventory) });
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line === '') continue;
        const result = parseHubbleLine(line);
        if (result.kind === 'flow' && (result.flow.isReply || leftToServerNode(result.flow))) continue;
        aggregator.ingest(result);
      }
      aggregator.learner.settlePending();
      aggregator.drain();
      out.push({ edges: [...(aggregator.nextBatch()?.edges ?? [])] });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function post(agent: http.Agent, port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/edges', method: 'POST', agent, headers: { 'Content-Type': 'application/json', Authorization: 'Bearer bench' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface OperatorCpuBench {
  readonly cores: number;
  readonly edgesPerBatch: number;
  readonly rounds: number;
}

export async function runOperatorCpuBench(agents = 100, rounds = 5, shipIntervalS = 10): Promise<OperatorCpuBench> {
  const batches = await agentBatches(10);
  const child = fork(join(ROOT, 'dist/bench/receiver-process.js'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const ask = <T>(message: string): Promise<T> => {
    const answer = new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T)));
    child.send(message);
    return answer;
  };
  const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', (m) => resolve(m as { port: number })));
  try {
    const pools = Array.from({ length: agents }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    const send = async (round: number) => {
      await Promise.all(pools.map(async (pool, a) => {
        const body = JSON.stringify({ node: `node-${a}`, instance: `bench-${a}`, seq: round, edges: batches[a % batches.length]!.edges });
        const status = await post(pool, port, body);
        if (status !== 200) throw new Error(`receiver answered ${status}`);
      }));
    };
    await send(1); // warm-up: connections, JIT
    const cpu0 = (await ask<{ cpu: number }>('cpu')).cpu;
    for (let r = 2; r < rounds + 2; r++) await send(r);
    const cpu1 = (await ask<{ cpu: number }>('cpu')).cpu;
    for (const pool of pools) pool.destroy();
    const edgesPerBatch = batches.reduce((n, b) => n + b.edges.length, 0) / batches.length;
    return { cores: (cpu1 - cpu0) / rounds / shipIntervalS, edgesPerBatch, rounds };
  } finally {
    child.send('exit');
    await once(child, 'exit');
  }
}

/** User + system CPU seconds of a process so far (/proc/<pid>/stat, clock ticks of 1/100 s). */
function processCpu(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export interface AgentCpuBench {
  readonly flows: number;
  readonly cpuSeconds: number;
  readonly coresPer1kFlowsPerSecond: number;
}

export async function runAgentCpuBench(lines = 200_000): Promise<AgentCpuBench | { skipped: string }> {
  const build = await buildHubbleServer();
  if (build.binary === undefined) return { skipped: build.reason ?? 'no hubble-server' };
  const dir = mkdtempSync(join(tmpdir(), 'hivewall-agent-cpu-'));
  // The agent refuses a plain http:// controller (its token travels in every request): a CA of the
  // bench's own and a serving certificate for localhost, as the operator's receiver has.
  const now = new Date();
  const ca = await issueCa({ now, validityMs: 3_600_000 });
  const leaf = await issueLeaf({ ca, dnsNames: ['localhost'], now, validityMs: 3_600_000 });
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca.cert);
  const controller = https.createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { seq } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { seq: number };
      res.end(JSON.stringify({ ack: seq, applied: 0 }));
    });
  });
  controller.listen(0, '127.0.0.1');
  await once(controller, 'listening');
  const port = (controller.address() as { port: number }).port;
  const scenario = join(dir, 'flows.jsonl');
  await writeHubbleBenchFile(scenario, lines);
  const socket = join(dir, 'run', 'hubble.sock');
  mkdirSync(join(dir, 'run'));
  // A resume point at the epoch: the agent asks for everything in the ring.
  writeFileSync(join(dir, 'resume.json'), JSON.stringify({ since: '1970-01-01T00:00:00Z', seen: [] }));
  writeFileSync(join(dir, 'token'), 'bench');
  const agent = spawn(process.execPath, [
    join(ROOT, 'bin/hivewall.js'), 'agent', '--source', 'hubble', '--hubble-address', `unix://${socket}`, '--resume-file', join(dir, 'resume.json'),
    '--node-name', 'bench-node', '--controller-url', `https://localhost:${port}`, '--controller-ca-file', caFile, '--token-file', join(dir, 'token'),
    '--health-port', '0', '--bind-address', '127.0.0.1', '--log-level', 'info',
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const health = new Promise<number>((resolve) => {
    let text = '';
    agent.stdout!.on('data', (c: Buffer) => {
      text += c.toString();
      const m = /"healthPort":(\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
  });
  let server: Awaited<ReturnType<typeof startHubbleServer>> | undefined;
  try {
    // The agent runs without its socket first (retrying): its start-up is not counted.
    const metricsPort = await Promise.race([health, sleep(30_000).then(() => { throw new Error('the agent did not start its health server'); })]);
    await sleep(1_500);
    const flowsSoFar = async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return [...text.matchAll(/^hivewall_agent_hubble_messages_total\{result="[^"]+"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    server = await startHubbleServer(build.binary, { scenario, preload: true, listen: `unix://${socket}` });
    // Counted from the first sample past `warm` flows (JIT and connection set-up done) to the end.
    const warm = 20_000;
    let from: { flows: number; cpu: number } | undefined;
    let last = -1;
    let flows = 0;
    for (let stable = 0; stable < 3;) {
      await sleep(250);
      flows = await flowsSoFar();
      if (from === undefined && flows >= warm) from = { flows, cpu: processCpu(agent.pid!) };
      stable = flows === last && flows > 0 ? stable + 1 : 0;
      last = flows;
    }
    // Stable for 0.75 s: that idle time is counted too (a following agent idles like that).
    if (from === undefined || flows - from.flows < warm) throw new Error(`too few flows to measure: ${flows}`);
    const cpuSeconds = processCpu(agent.pid!) - from.cpu;
    flows -= from.flows;
    return { flows, cpuSeconds, coresPer1kFlowsPerSecond: (cpuSeconds / flows) * 1000 };
  } finally {
    agent.kill('SIGTERM');
    await once(agent, 'exit');
    await server?.stop();
    controller.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
