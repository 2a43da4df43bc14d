import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ReportData } from './data.js';
import { buildReportAssets } from './build-assets.js';
import { layoutGraph, CELL } from './layout.js';
import { buildReportData } from './model.js';
import { escapeHtml, jsonForHtml, renderReport, renderReportData } from './render.js';
import { demoInput, embeddedData, STUB_ASSETS, T0 } from './testing.js';
import { key } from '../testing/builders.js';

const render = (input = demoInput()) => renderReport(input, { assets: STUB_ASSETS });
const data = (html: string) => embeddedData(html) as ReportData;
const nodeByTitle = (d: ReportData, title: string) => d.nodes.find((n) => n.title === title)!;
const edgeBetween = (d: ReportData, from: string, to: string) => d.edges.find((e) => e.source === nodeByTitle(d, from).id && e.target === nodeByTitle(d, to).id)!;

describe('renderReport', () => {
  it('is deterministic: the same input gives the same bytes', () => {
    const a = render();
    expect(render()).toBe(a);
    // Built again from scratch (new graph, new model objects): still the same bytes.
    expect(render(demoInput())).toBe(a);
  });

  it('is one self-contained HTML file: inline script and style, nothing loaded from anywhere', () => {
    const html = render();
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html).toContain(`<style>${STUB_ASSETS.style}</style>`);
    expect(html).toContain(`<script>${STUB_ASSETS.script}</script>`);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\//);
    const hash = createHash('sha256').update(STUB_ASSETS.script).digest('base64');
    expect(html).toContain(`script-src &#39;sha256-${hash}&#39;`);
    expect(html).toContain('default-src &#39;none&#39;');
  });

  it('embeds the graph, its evidence and the rules that allow each edge', () => {
    const input = demoInput();
    const d = data(render(input));
    expect(d.version).toBe(1);
    expect(d.nodes).toHaveLength(input.graph.order);
    expect(d.edges).toHaveLength(input.graph.size);
    expect(d.summary).toMatchObject({ workloads: 4, entities: 2, edges: 6, policies: 4, flows: 1000, connections: 512, lostEvents: 3 });
    expect(d.window).toEqual({ first: '2026-11-02T10:00:00.000Z', last: '2026-11-02T10:59:50.000Z' });
    expect(d.namespaces.map((n) => [n.name, n.inScope, n.workloads])).toEqual([['demo', true, 3], ['kube-system', false, 1]]);

    const webToApi = edgeBetween(d, 'demo/Deployment/web', 'demo/Deployment/api');
    expect(webToApi).toMatchObject({ port: 8080, protocol: 'TCP', count: 120, status: 'proposed', firstSeen: '2026-11-02T10:00:00.000Z', lastSeen: '2026-11-02T10:59:00.000Z', gaps: [] });
    expect(webToApi.enforced).toBeUndefined();
    expect(webToApi.proposed).toEqual([
      { namespace: 'demo', policy: 'hivewall-api', direction: 'ingress', rule: 1, description: 'from pods {app=web} on 8080/TCP' },
      { namespace: 'demo', policy: 'hivewall-web', direction: 'egress', rule: 1, description: 'to pods {app=api} on 8080/TCP' },
    ]);
    const dns = edgeBetween(d, 'demo/Deployment/web', 'kube-system/Deployment/coredns');
    expect(dns.proposed).toEqual([{ namespace: 'demo', policy: 'hivewall-web', direction: 'egress', rule: 2, description: 'to pods {k8s-app=kube-dns} in namespace kube-system on 53/TCP, 53/UDP', allowance: 'dns' }]);
    const fromWorld = edgeBetween(d, 'world 198.51.100.9', 'demo/Deployment/web');
    expect(fromWorld.proposed[0]?.description).toBe('from ipBlock 198.51.100.9/32 on 8080/TCP');
    const external = nodeByTitle(d, 'world 203.0.113.50 (api.payments.example)');
    expect(external).toMatchObject({ type: 'entity', entity: 'world', ip: '203.0.113.50', label: 'api.payments.example', names: ['api.payments.example'] });
    expect(nodeByTitle(d, 'demo/Deployment/web').policy).toEqual({ namespace: 'demo', name: 'hivewall-web', matchLabels: { app: 'web' } });
    expect(nodeByTitle(d, 'kube-system/Deployment/coredns').policy).toBeUndefined();
  });

  it('describes rules in CiliumNetworkPolicy terms for the cilium flavor', () => {
    const d = data(render(demoInput({ flavor: 'cilium' })));
    expect(d.policyKind).toBe('CiliumNetworkPolicy');
    const external = edgeBetween(d, 'demo/Deployment/api', 'world 203.0.113.50 (api.payments.example)');
    expect(external.proposed[0]?.description).toBe('to FQDN api.payments.example on 443/TCP');
  });

  it('tells the edge statuses apart: would-deny, enforced, proposed, out of scope', () => {
    const base = demoInput({ namespaces: ['demo'] });
    const web = 'wl:demo/Deployment/web';
    const api = 'wl:demo/Deployment/api';
    const d = buildReportData({
      ...base,
      enforced: [{ client: web, server: api, port: 8080, protocol: 'TCP', rules: [{ namespace: 'demo', policy: 'live-api', direction: 'ingress', rule: 1 }] }],
      wouldDeny: [
        { client: 'en:world:192.0.2.66', server: api, port: 8080, protocol: 'TCP', count: 4, reason: 'POLICY_DENIED', firstSeen: T0, lastSeen: T0 + 1000 },
        { client: 'en:world:192.0.2.66', server: api, port: 8080, protocol: 'TCP', count: 1, reason: 'UNREPLIED' },
      ],
    });
    const status = (from: string, to: string) => edgeBetween(d, from, to).status;
    expect(status('demo/Deployment/web', 'demo/Deployment/api')).toBe('enforced');
    expect(edgeBetween(d, 'demo/Deployment/web', 'demo/Deployment/api').enforced).toEqual([{ namespace: 'demo', policy: 'live-api', direction: 'ingress', rule: 1, description: 'ingress rule 1' }]);
    expect(status('demo/Deployment/api', 'demo/StatefulSet/db')).toBe('proposed');
    // A denied pair the graph never learned becomes an edge (and its client a node), with its evidence.
    const denied = edgeBetween(d, 'world 192.0.2.66', 'demo/Deployment/api');
    expect(denied).toMatchObject({ status: 'would-deny', count: 0, wouldDeny: { count: 5, reasons: ['POLICY_DENIED', 'UNREPLIED'], firstSeen: '2026-11-02T10:00:00.000Z', lastSeen: '2026-11-02T10:00:01.000Z' } });
    expect(denied.gaps).toEqual(['no ingress rule of demo/Deployment/api allows it']);
    expect(d.summary.byStatus).toEqual({ proposed: 5, enforced: 1, 'would-deny': 1, unmanaged: 0 });

    // Nothing in scope: no policy governs any edge.
    const none = buildReportData(demoInput({ namespaces: ['other'] }));
    expect(new Set(none.edges.map((e) => e.status))).toEqual(new Set(['unmanaged']));
  });

  it('marks an in-scope edge no rule allows (a rule left out) as would-deny, with the reason', () => {
    // ICMP cannot be a policy port: the model drops the rule, so the policies would deny the edge.
    const d = buildReportData(demoInput({ extraEdges: (store) => store.record(key('wl:demo/Deployment/web'), key('wl:demo/Deployment/api'), 0, 'ICMPv4', T0, 2) }));
    const icmp = d.edges.find((e) => e.protocol === 'ICMPv4')!;
    expect(icmp.status).toBe('would-deny');
    expect(icmp.gaps).toEqual([
      'egress rule of demo/Deployment/web left out (ICMP cannot be expressed as a policy port)',
      'ingress rule of demo/Deployment/api left out (ICMP cannot be expressed as a policy port)',
    ]);
  });

  it('escapes </script> and markup in names: the data cannot leave its element', () => {
    const evilName = '</script><script>alert(1)</script>';
    const evilDns = '<img src=x onerror=alert(document.domain)>.example';
    const input = demoInput({ dbName: evilName, dnsName: evilDns });
    const html = renderReport({ ...input, title: '<b onmouseover=alert(1)>title</b>', source: '</title><script>alert(2)</script>' }, { assets: STUB_ASSETS });
    // Exactly two script elements close: the data and the bundle.
    expect(html.match(/<\/script/gi)).toHaveLength(2);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<b onmouseover');
    expect(html).toContain('<title>&lt;b onmouseover=alert(1)&gt;title&lt;/b&gt;</title>');
    // …and the page still gets the exact names back.
    const d = data(html);
    expect(d.nodes.map((n) => n.title)).toContain(`demo/StatefulSet/${evilName}`);
    expect(d.nodes.find((n) => n.entity === 'world' && n.names.length > 0)?.label).toBe(evilDns.toLowerCase());
    expect(d.source).toBe('</title><script>alert(2)</script>');
  });

  it('renders an empty graph', () => {
    const input = demoInput();
    const empty = input.graph.emptyCopy();
    empty.clear();
    const d = data(renderReport({ graph: empty, generated: [], flavor: 'networkpolicy' }, { assets: STUB_ASSETS }));
    expect(d).toMatchObject({ title: 'hivewall traffic report', nodes: [], edges: [], namespaces: [], summary: { workloads: 0, entities: 0, edges: 0, policies: 0, skipped: [] } });
    expect(d.window).toBeUndefined();
  });

  it('jsonForHtml escapes every character that could end the element or start a comment', () => {
    const text = jsonForHtml({ s: '</script><!-- & \u2028\u2029 -->' });
    expect(text).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(text)).toEqual({ s: '</script><!-- & \u2028\u2029 -->' });
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('refuses assets that cannot be inlined safely', () => {
    const d = buildReportData(demoInput());
    expect(() => renderReportData(d, { script: 'var s = "</script>";', style: '' })).toThrow(/cannot be inlined/);
    expect(() => renderReportData(d, { script: '', style: 'a{}</style>' })).toThrow(/cannot be inlined/);
  });
});

describe('layoutGraph', () => {
  const nodes = [
    { id: 'client' }, { id: 'a', group: 'x' }, { id: 'b', group: 'x' }, { id: 'c', group: 'y' }, { id: 'd', group: 'y' }, { id: 'sink' },
    ...Array.from({ length: 9 }, (_, i) => ({ id: `w${i}`, group: 'x' })),
  ];
  const edges = [
    { source: 'client', target: 'a' }, { source: 'a', target: 'b' }, { source: 'b', target: 'c' }, { source: 'c', target: 'a' },
    { source: 'c', target: 'd' }, { source: 'd', target: 'sink' },
    ...Array.from({ length: 9 }, (_, i) => ({ source: 'a', target: `w${i}` })),
  ];

  it('is deterministic and finite, and keeps nodes apart', () => {
    const p = layoutGraph(nodes, edges);
    expect(layoutGraph(nodes, edges)).toEqual(p);
    expect([...p.keys()].sort()).toEqual(nodes.map((n) => n.id).sort());
    const points = [...p.values()];
    for (const pt of points) expect(Number.isFinite(pt.x) && Number.isFinite(pt.y)).toBe(true);
    for (let i = 0; i < points.length; i++) {
      for (let j = i + 1; j < points.length; j++) {
        const apart = Math.abs(points[i]!.x - points[j]!.x) >= CELL.width - 0.2 || Math.abs(points[i]!.y - points[j]!.y) >= CELL.height - 0.2;
        expect(apart).toBe(true);
      }
    }
  });

  it('runs traffic left to right, clients above and destinations below the namespaces', () => {
    const p = layoutGraph(nodes, edges);
    expect(p.get('client')!.x).toBeLessThan(p.get('a')!.x);
    expect(p.get('a')!.x).toBeLessThan(p.get('b')!.x);
    expect(p.get('d')!.x).toBeLessThan(p.get('sink')!.x);
    const groupYs = ['a', 'b', 'c', 'd'].map((id) => p.get(id)!.y);
    expect(p.get('client')!.y).toBeLessThan(Math.min(...groupYs));
    expect(p.get('sink')!.y).toBeGreaterThan(Math.max(...groupYs));
  });

  it('handles the empty graph, one node and self loops', () => {
    expect(layoutGraph([], []).size).toBe(0);
    expect([...layoutGraph([{ id: 'only' }], [{ source: 'only', target: 'only' }]).values()]).toEqual([{ x: 0, y: 0 }]);
  });
});

describe('the browser bundle', () => {
  it('builds with esbuild into a script and a stylesheet that inline safely', async () => {
    const assets = await buildReportAssets();
    expect(assets.script.length).toBeGreaterThan(100_000);
    expect(assets.script).not.toMatch(/<\/script|<!--/i);
    expect(assets.style).toContain('.hw-header');
    const html = renderReport(demoInput(), { assets });
    expect(html).toContain(assets.script);
  }, 60_000);
});
