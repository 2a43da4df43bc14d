/** `hivewall learn --report <file>`: the CLI writes the report next to the policies. */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureRun } from '../testing/cli-run.js';
import { main } from '../cli/main.js';
import { ASSET_DIR, packageRoot, SCRIPT_FILE } from './assets.js';
import type { ReportData } from './data.js';
import { embeddedData } from './testing.js';

const root = packageRoot();
const built = existsSync(join(root, ASSET_DIR, SCRIPT_FILE));
const title = built
  ? 'hivewall learn --report'
  : `hivewall learn --report — SKIPPED: ${join(ASSET_DIR, SCRIPT_FILE)} is not built (run npm run build)`;

const run = (args: string[]) => captureRun((io) => main(args, io));

describe.skipIf(!built)(title, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hivewall-report-cli-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes a self-contained HTML report of the example and the policies, byte-identical on a re-run', async () => {
    const flows = join(root, 'examples/shop/flows.hubble.jsonl');
    const cluster = join(root, 'examples/shop/cluster');
    const report = join(dir, 'nested', 'report.html');
    const first = await run(['learn', '--flows', flows, '--cluster', cluster, '--out', join(dir, 'out'), '--report', report, '-q']);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect((await readdir(join(dir, 'out'))).sort()).toEqual(['logging', 'monitoring', 'payments', 'shop']);
    const html = await readFile(report, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    const data = embeddedData(html) as ReportData;
    expect(data.summary).toMatchObject({ workloads: 17, entities: 16, edges: 60, policies: 20, byStatus: { proposed: 58, 'would-deny': 2, enforced: 0, unmanaged: 0 }, lostEvents: 24 });
    expect(data.policyKind).toBe('NetworkPolicy');

    await run(['learn', '--flows', flows, '--cluster', cluster, '--out', join(dir, 'out'), '--report', report, '-q']);
    expect(await readFile(report, 'utf8')).toBe(html);
  });

  it('says which policy kind the report describes with --flavor cilium', async () => {
    const report = join(dir, 'cilium.html');
    const r = await run(['learn', '--flows', join(root, 'examples/shop/flows.hubble.jsonl'), '--cluster', join(root, 'examples/shop/cluster'), '--out', join(dir, 'out-cilium'), '--flavor', 'cilium', '--report', report, '-q']);
    expect(r.code).toBe(0);
    const data = embeddedData(await readFile(report, 'utf8')) as ReportData;
    expect(data.policyKind).toBe('CiliumNetworkPolicy');
    const stripe = data.edges.find((e) => data.nodes.find((n) => n.id === e.target)?.names.includes('api.stripe.example'))!;
    expect(stripe.proposed.map((r) => r.description)).toEqual(['to FQDN api.stripe.example on 443/TCP']);
  });
});
