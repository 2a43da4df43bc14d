/**
 * Generates the bundled realistic example `examples/shop/` — deterministically (seeded PRNG,
 * fixed base time 2026-11-02T10:00:00Z): running it twice gives byte-identical files.
 *
 *   ./node_modules/.bin/tsc -p tsconfig.build.json
 *   ./node_modules/.bin/node dist/scripts/example-shop/main.js [outDir]     (default examples/shop)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildCluster } from './cluster.js';
import { ctEntries, nodeEvents, tableDump } from './conntrack.js';
import { expectedConnections, expectedDenied } from './expected.js';
import { hubbleStream } from './hubble-stream.js';
import { simulate } from './simulate.js';
import { rngFor } from './rand.js';
import { snapshotYaml } from './snapshot.js';
import { HOUR, MIN, lumberjackStamp } from './time.js';

/** The exporter rotated its file at 10:30:00 (lumberjack: backup named by rotation time, gzip-compressed). */
const ROTATION_NS = 30 * MIN;

/** gzip with a fixed header (mtime 0, OS byte 3 = Unix) so the bytes do not depend on the platform. */
function gzip(text: string): Uint8Array {
  const out = gzipSync(Buffer.from(text, 'utf8'), { level: 9 });
  out[9] = 3;
  return out;
}

async function write(outDir: string, rel: string, data: string | Uint8Array): Promise<void> {
  const path = join(outDir, rel);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data);
}

export async function generateShopExample(outDir: string): Promise<void> {
  const cluster = buildCluster();
  await write(outDir, 'cluster/snapshot-start.yaml', snapshotYaml(cluster, 0));
  await write(outDir, 'cluster/snapshot-end.yaml', snapshotYaml(cluster, HOUR));
  const conns = simulate(cluster);
  const hubble = hubbleStream(conns, ROTATION_NS);
  const joined = (lines: string[]) => lines.map((l) => `${l}\n`).join('');
  await write(outDir, 'flows.hubble.jsonl', joined(hubble.lines));
  await write(outDir, 'hubble-export/hubble.log', joined(hubble.lines.slice(hubble.rotateAt)));
  await write(outDir, `hubble-export/hubble-${lumberjackStamp(ROTATION_NS)}.log.gz`, gzip(joined(hubble.lines.slice(0, hubble.rotateAt))));

  const ctRng = rngFor('conntrack');
  const entries = conns.flatMap((c) => ctEntries(ctRng, c, cluster.nodes));
  for (const node of cluster.nodes) await write(outDir, `conntrack/${node.name}.events`, joined(nodeEvents(entries, node.name)));
  await write(outDir, 'conntrack/node-b.dump', joined(tableDump(rngFor('conntrack-dump'), entries, 'node-b', 0)));

  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  await write(outDir, 'expected/connections.json', json(expectedConnections(conns)));
  await write(outDir, 'expected/denied.json', json(expectedDenied(conns)));
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const outDir = process.argv[2] ?? 'examples/shop';
  await generateShopExample(outDir);
  console.log(`wrote ${outDir}`);
}
