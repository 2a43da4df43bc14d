/**
 * `renderReport`: one self-contained HTML file (no network, works from `file://`) with the
 * browser bundle, its CSS and the report data inlined.
 *
 * Safety: the data travels as JSON in `<script type="application/json">` with `<`, `>`, `&`,
 * U+2028 and U+2029 escaped, so no label can close the element; the page builds its DOM with
 * `textContent` only; and a Content-Security-Policy lets only the inlined bundle (by its SHA-256)
 * run, and nothing load from anywhere.
 */
import { createHash } from 'node:crypto';
import type { ReportData } from './data.js';
import type { ReportInput } from './input.js';
import { buildReportData } from './model.js';
import { loadReportAssets, type ReportAssets } from './assets.js';

export interface RenderOptions {
  /** The browser bundle and CSS; default: the build's `dist/report/` files. */
  readonly assets?: ReportAssets;
}

export function renderReport(input: ReportInput, options: RenderOptions = {}): string {
  return renderReportData(buildReportData(input), options.assets ?? loadReportAssets());
}

export function renderReportData(data: ReportData, assets: ReportAssets): string {
  assertInlineSafe(assets.script, 'script');
  assertInlineSafe(assets.style, 'style');
  const scriptHash = createHash('sha256').update(assets.script, 'utf8').digest('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'sha256-${scriptHash}'`,
    "style-src 'unsafe-inline'",
    'img-src data: blob:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">`,
    '<meta name="generator" content="hivewall">',
    `<title>${escapeHtml(data.title)}</title>`,
    `<style>${assets.style}</style>`,
    '</head>',
    '<body>',
    '<noscript><p class="noscript">This report draws its graph with JavaScript; enable it to see the graph.</p></noscript>',
    '<div id="app"></div>',
    `<script type="application/json" id="hivewall-data">${jsonForHtml(data)}</script>`,
    `<script>${assets.script}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** JSON that is inert inside an HTML `<script>` element: nothing in it can end the element or start a comment. */
export function jsonForHtml(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** An inlined script or style must not contain its own end tag (or, for scripts, open an HTML comment). */
function assertInlineSafe(text: string, element: 'script' | 'style'): void {
  const bad = element === 'script' ? /<\/script|<!--/i : /<\/style/i;
  if (bad.test(text)) throw new Error(`report ${element} asset contains ${bad.source.replace('\\', '')}: it cannot be inlined safely`);
}
