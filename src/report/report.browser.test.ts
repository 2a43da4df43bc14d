/**
 * The report of the bundled example (examples/shop) in a real headless Chromium (Debian's
 * `chromium` package, driven by playwright-core): it loads from file:// with no console error and
 * no request, shows the graph's node and edge counts, shows an edge's evidence when the edge is
 * clicked, filters, and leaves screenshots at docs/images/report.png (the example) and
 * docs/images/report-evidence.png (an edge's evidence).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { learnFromInputs } from '../cli/learn-pipeline.js';
import type { CliIo } from '../cli/main.js';
import { generatePolicies, type GenerateResult } from '../domain/generate.js';
import type { Learner } from '../domain/learner.js';
import { packageRoot } from './assets.js';
import { buildReportAssets } from './build-assets.js';
import type cytoscape from 'cytoscape';
import type { ReportData } from './data.js';
import { renderReport } from './render.js';
import type { ReportAssets } from './assets.js';
import { chooseProposal, clusterReportInput } from './cluster.js';
import { policyProposalSchema } from '../api/policy-proposal.js';
import { segmentationSchema } from '../api/segmentation.js';
import { trafficProfileSchema } from '../api/traffic-profile.js';
import { clusterScenario, withSafetyNet } from '../testing/report-scenario.js';
import { learnReportInput } from './write.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const title = hasChromium
  ? 'report.html in headless Chromium'
  : `report.html in headless Chromium — SKIPPED: ${CHROMIUM} not found (install Debian's package: apt-get install -y chromium)`;

if (!hasChromium) console.warn(`report.browser.test.ts: ${CHROMIUM} not found, the headless-browser tests are skipped (Debian package: chromium)`);

const root = packageRoot();
const FLOWS = 'examples/shop/flows.hubble.jsonl';
const CLUSTER = 'examples/shop/cluster';
const SCREENSHOTS = join(root, 'docs', 'images');

const quietIo = (): CliIo => ({ stdout: new PassThrough(), stderr: new PassThrough(), stdin: Readable.from([]) });
const number = (n: number) => n.toLocaleString('en-US');
const utc = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;

describe.skipIf(!hasChromium)(title, () => {
  let dir: string;
  let context: BrowserContext;
  let page: Page;
  let learner: Learner;
  let result: GenerateResult;
  let assets: ReportAssets;
  const problems: string[] = [];
  const requests: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hivewall-report-'));
    // What `hivewall learn --flows … --cluster … --report …` does, with the bundle built from source.
    const learned = await learnFromInputs({ flows: [join(root, FLOWS)], format: 'auto', cluster: join(root, CLUSTER), quiet: true }, quietIo());
    learner = learned.learner;
    result = generatePolicies(learner, learned.identity, { flavor: 'networkpolicy' });
    assets = await buildReportAssets(root);
    const html = renderReport(learnReportInput(learner, result, 'networkpolicy', [FLOWS]), { assets });
    await writeFile(join(dir, 'report.html'), html);

    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1600, height: 1000 },
      deviceScaleFactor: 1,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console.${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(pathToFileURL(join(dir, 'report.html')).href);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Nodes and edges the report must show: the learned graph plus the denied pairs it never learned. */
  function expected(): { workloads: number; entities: number; edges: number; denied: number } {
    const nodes = new Set(result.graph.nodes());
    const edges = new Set([...result.graph.edgeEntries()].map(({ source, target, attributes: a }) => `${source} ${target} ${a.port}/${a.protocol}`));
    const denied = new Set<string>();
    for (const d of learner.dropped.values()) {
      nodes.add(d.client).add(d.server);
      denied.add(`${d.client} ${d.server} ${d.port}/${d.protocol}`);
    }
    const all = new Set([...edges, ...denied]);
    const workloads = [...nodes].filter((k) => k.startsWith('wl:')).length;
    return { workloads, entities: nodes.size - workloads, edges: all.size, denied: denied.size };
  }

  const text = async (selector: string) => ((await page.locator(selector).first().textContent()) ?? '').trim();

  it('loads from file:// with no console error and no request for anything else', () => {
    expect(problems).toEqual([]);
    expect(requests.filter((url) => !url.startsWith('file:') && !url.startsWith('data:'))).toEqual([]);
  });

  it('shows the graph: header counts and the drawn nodes and edges match the learned graph', async () => {
    const want = expected();
    expect(want).toMatchObject({ workloads: 17, entities: 16, edges: 60, denied: 2 });
    expect(await text('[data-stat="workloads"] .hw-stat-value')).toBe(number(want.workloads));
    expect(await text('[data-stat="entities"] .hw-stat-value')).toBe(number(want.entities));
    expect(await text('[data-stat="edges"] .hw-stat-value')).toBe(number(want.edges));
    expect(await text('[data-stat="would-deny"] .hw-stat-value')).toBe(number(want.denied));
    expect(await text('[data-stat="flows"] .hw-stat-value')).toBe(number(learner.stats.flows));
    expect(await text('[data-stat="lost"] .hw-stat-value')).toBe(number(learner.stats.lostEvents));
    const policies = result.namespaces.reduce((n, ns) => n + ns.objects.length, 0);
    expect(await text('[data-stat="policies"] .hw-stat-value')).toBe(number(policies));
    expect(await text('[data-testid="shown-nodes"]')).toBe(number(want.workloads + want.entities));
    expect(await text('[data-testid="shown-edges"]')).toBe(number(want.edges));
    const drawn = await page.evaluate(() => {
      const cy = (globalThis as unknown as { hivewall: PageHandle }).hivewall.cy;
      return { nodes: cy.nodes('.workload, .entity').length, edges: cy.edges().length, namespaces: cy.nodes('.namespace').length, visible: cy.edges(':visible').length };
    });
    expect(drawn).toEqual({ nodes: want.workloads + want.entities, edges: want.edges, namespaces: 5, visible: want.edges });

    // The whole example, as the README shows it.
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'report.png') });
  });

  it('shows the evidence of an edge when it is clicked', async () => {
    const edge = [...result.graph.edgeEntries()].find((e) => e.source === 'wl:shop/Deployment/frontend' && e.target === 'wl:shop/Deployment/cart' && e.attributes.port === 8080)!;
    expect(edge).toBeDefined();
    // A point on the drawn edge (a quadratic curve, bent by `bend` at its middle) that is clear of
    // every node and every other edge, in page coordinates.
    const point = await page.evaluate(([client, server]) => {
      const h = (globalThis as unknown as { hivewall: PageHandle }).hivewall;
      const byId = new Map(h.data.nodes.map((n) => [n.id, n]));
      const id = (key: string) => h.data.nodes.find((n) => n.key === key)!.id;
      const curve = (e: ReportData['edges'][number], u: number) => {
        const s = byId.get(e.source)!;
        const t = byId.get(e.target)!;
        const len = Math.hypot(t.x - s.x, t.y - s.y) || 1;
        const cx = (s.x + t.x) / 2 - ((t.y - s.y) / len) * e.bend;
        const cy = (s.y + t.y) / 2 + ((t.x - s.x) / len) * e.bend;
        return { x: (1 - u) ** 2 * s.x + 2 * (1 - u) * u * cx + u * u * t.x, y: (1 - u) ** 2 * s.y + 2 * (1 - u) * u * cy + u * u * t.y };
      };
      const target = h.data.edges.find((x) => x.source === id(client) && x.target === id(server) && x.port === 8080)!;
      let best = { u: 0.5, clearance: -1 };
      for (let u = 0.2; u <= 0.8; u += 0.02) {
        const p = curve(target, u);
        let clearance = Infinity;
        for (const n of h.data.nodes) if (n.id !== target.source && n.id !== target.target) clearance = Math.min(clearance, Math.hypot(n.x - p.x, n.y - p.y) - 30);
        for (const other of h.data.edges) {
          if (other.id === target.id) continue;
          for (let k = 0; k <= 40; k++) {
            const q = curve(other, k / 40);
            clearance = Math.min(clearance, Math.hypot(q.x - p.x, q.y - p.y));
          }
        }
        if (clearance > best.clearance) best = { u, clearance };
      }
      const p = curve(target, best.u);
      const zoom = h.cy.zoom();
      const pan = h.cy.pan();
      const box = h.cy.container()!.getBoundingClientRect();
      return { x: box.left + p.x * zoom + pan.x, y: box.top + p.y * zoom + pan.y, id: target.id, clearance: best.clearance * zoom };
    }, [edge.source, edge.target] as const);
    expect(point.clearance).toBeGreaterThan(4);
    await page.mouse.click(point.x, point.y);
    await page.waitForSelector('#panel [data-field="count"]');
    expect(await page.evaluate(() => (globalThis as unknown as { hivewall: PageHandle }).hivewall.cy.$(':selected').map((e) => e.id()))).toEqual([point.id]);
    expect(await text('#panel h2')).toMatch(/frontend\s*→\s*cart/);
    expect(await text('#panel [data-field="port"]')).toBe('8080/TCP');
    expect(await text('#panel [data-field="count"]')).toBe(number(edge.attributes.count));
    expect(await text('#panel [data-field="first-seen"]')).toBe(utc(edge.attributes.firstSeen));
    expect(await text('#panel [data-field="last-seen"]')).toBe(utc(edge.attributes.lastSeen));
    const rules = await page.locator('#panel .hw-rules li').allTextContents();
    expect(rules.join('\n')).toMatch(/shop\/hivewall-cart\s*ingress rule \d+\s*from pods \{app\.kubernetes\.io\/name=frontend\} on 8080\/TCP/);
    expect(rules.join('\n')).toMatch(/shop\/hivewall-frontend\s*egress rule \d+\s*to pods \{[^}]*\} on 8080\/TCP/);

    // The evidence panel of the clicked edge.
    await page.mouse.move(1590, 990);
    await page.waitForTimeout(300); // the hover tooltip fades out
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'report-evidence.png') });
  });

  it('shows would-deny evidence and filters by status and namespace', async () => {
    const want = expected();
    // Only the would-deny edges: hide the proposed ones.
    await page.click('.hw-chip[data-status="proposed"]');
    expect(await text('[data-testid="shown-edges"]')).toBe(number(want.denied));
    await page.click('.hw-chip[data-status="proposed"]');
    expect(await text('[data-testid="shown-edges"]')).toBe(number(want.edges));

    const shopWorkloads = result.graph.nodes().filter((k) => k.startsWith('wl:shop/')).length
      + [...learner.dropped.values()].flatMap((d) => [d.client, d.server]).filter((k, i, all) => k.startsWith('wl:shop/') && !result.graph.hasNode(k) && all.indexOf(k) === i).length;
    await page.click('.hw-chip[data-namespace="shop"]');
    expect(await text('[data-testid="shown-nodes"]')).toBe(number(want.workloads + want.entities - shopWorkloads));
    await page.click('.hw-chip[data-namespace="shop"]');

    // The denied pair from the evidence list opens its evidence.
    const denied = [...learner.dropped.values()].find((d) => d.client === 'wl:shop/Deployment/search')!;
    await page.keyboard.press('Escape');
    await page.click('#panel .hw-row:has-text("search → catalog-db")');
    await page.waitForSelector('#panel [data-field="denied-count"]');
    expect(await text('#panel [data-field="denied-count"]')).toBe(number(denied.count));
    expect(await text('#panel')).toContain(denied.reason);
    expect(await text('#panel')).toContain('no egress rule of shop/Deployment/search allows it');
    expect(problems).toEqual([]);
  });

  it('shows a workload and its edges when its node is clicked', async () => {
    const point = await page.evaluate(() => {
      const h = (globalThis as unknown as { hivewall: PageHandle }).hivewall;
      h.select(null);
      const n = h.data.nodes.find((x) => x.key === 'wl:payments/Deployment/payments-api')!;
      const p = h.cy.getElementById(n.id).renderedPosition();
      const box = h.cy.container()!.getBoundingClientRect();
      return { x: box.left + p.x, y: box.top + p.y };
    });
    await page.mouse.click(point.x, point.y);
    await page.waitForSelector('#panel .hw-rows');
    const incoming = [...result.graph.inEdges('wl:payments/Deployment/payments-api')].length;
    const outgoing = [...result.graph.outEdges('wl:payments/Deployment/payments-api')].length;
    expect(await text('#panel h2')).toContain('payments-api');
    expect(await text('#panel')).toContain(`Ingress · ${incoming}`);
    expect(await text('#panel')).toContain(`Egress · ${outgoing}`);
    expect(await text('#panel')).toContain('payments/hivewall-payments-api');
    await page.keyboard.press('Escape');
    expect(problems).toEqual([]);
  });
});

describe.skipIf(!hasChromium)(`${title}: the cluster report's safety net`, () => {
  it('shows what the enforced policies denied, the rollback and the coverage gaps, and opens them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hivewall-report-safety-'));
    const s = clusterScenario('shop');
    const segmentation = segmentationSchema.parse(s.segmentation);
    const proposals = s.proposals.map((p) => policyProposalSchema.parse(p));
    const ns = withSafetyNet({ segmentation, profile: trafficProfileSchema.parse(s.profile), proposals, proposal: chooseProposal(proposals, 'shop')!, live: { from: 'api', policies: s.live } }, s.keys);
    await writeFile(join(dir, 'cluster.html'), renderReport(clusterReportInput([ns]).input, { assets: await buildReportAssets(root) }));
    const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1600, height: 1000 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && problems.push(`console.${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      await page.goto(pathToFileURL(join(dir, 'cluster.html')).href);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
      const text = async (selector: string) => (await page.textContent(selector))?.trim() ?? '';

      expect(await text('[data-testid="enforced-denied"]')).toContain('Denied while enforced · 2');
      expect(await text('[data-testid="rollbacks"]')).toContain('shop: hivewall-default-deny, hivewall-web of shop-r1 removed');
      expect(await text('[data-testid="coverage"]')).toContain('Coverage gaps · 2');
      expect(await text('[data-testid="coverage"]')).toContain('shop/CronJob/weekly-report: runs every 7d, longer than the 1h learning window');
      expect(await text('[data-stat="coverage"] .hw-stat-value')).toBe('2');

      // The most denied edge opens its evidence: how often, rolled back, proposed for review.
      await page.click('[data-testid="enforced-denied"] .hw-row >> nth=0');
      await page.waitForSelector('#panel [data-field="enforced-denied-count"]');
      expect(await text('#panel [data-field="enforced-denied-count"]')).toBe('25');
      expect(await text('#panel [data-field="rolled-back"]')).toBe('yes: the denying policy was removed');
      expect(await text('#panel [data-field="denied-proposed"]')).toBe('proposed for review (never allowed without approval)');
      expect(await text('#panel .hw-edge-title')).toContain('web');
      expect(await text('#panel .hw-edge-title')).toContain('cache');

      // A coverage gap on the graph opens its workload.
      await page.keyboard.press('Escape');
      await page.click('[data-testid="coverage"] button:has-text("shop/Deployment/worker")');
      await page.waitForSelector('#panel .hw-rows');
      expect(await text('#panel h2')).toContain('worker');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

/** The page's automation handle, `window.hivewall` (see browser/main.ts). */
interface PageHandle {
  readonly data: ReportData;
  readonly cy: cytoscape.Core;
  select(id: string | null): void;
}
