/** New traffic for the operator to learn: Hubble export lines made from the example's own flows. */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Json } from '../e2e/operator-process.js';
import { ROOT } from '../e2e/operator-process.js';

let example: Json[] | undefined;
async function exampleFlows(): Promise<Json[]> {
  example ??= (await readFile(join(ROOT, 'examples/shop/flows.hubble.jsonl'), 'utf8')).split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Json);
  return example;
}

/**
 * `connections` new TCP connections from the pod `client` to the pod `server` on `port`, seen now,
 * as the Hubble exporter writes them: the endpoints (IPs, labels, workloads) are the example's,
 * so they resolve to the same workloads.
 */
export async function newConnections(client: string, server: string, port: number, connections: number): Promise<string> {
  const flows = await exampleFlows();
  const from = flows.find((f) => f.flow?.source?.pod_name === client && f.flow.is_reply === false);
  const to = flows.find((f) => f.flow?.destination?.pod_name === server && f.flow.is_reply === false && f.flow.trace_observation_point === 'TO_ENDPOINT');
  if (!from || !to) throw new Error(`the example has no flow from ${client} or none to ${server}`);
  const lines: string[] = [];
  for (let i = 0; i < connections; i++) {
    const line = structuredClone(to);
    const time = new Date().toISOString();
    Object.assign(line.flow, {
      time,
      uuid: randomUUID(),
      source: from.flow.source,
      IP: { ...to.flow.IP, source: from.flow.IP.source },
      l4: { TCP: { source_port: 40_000 + i, destination_port: port, flags: { SYN: true } } },
      Summary: 'TCP Flags: SYN',
    });
    line.time = time;
    lines.push(JSON.stringify(line));
  }
  return `${lines.join('\n')}\n`;
}
