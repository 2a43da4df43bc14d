/**
 * Bundles the report's browser code (`src/report/browser/main.ts` and its CSS, with cytoscape)
 * with esbuild into one IIFE script and one stylesheet, ready to inline. Run by `npm run build`
 * through `build-cli.ts`; tests call it directly so they always see the current source.
 */
import { join } from 'node:path';
import { build } from 'esbuild';
import { packageRoot, type ReportAssets } from './assets.js';

export const BROWSER_ENTRY = join('src', 'report', 'browser', 'main.ts');

export async function buildReportAssets(root: string = packageRoot()): Promise<ReportAssets> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [BROWSER_ENTRY],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    minify: true,
    // Keep third-party licence notices (cytoscape is MIT) at the end of the bundle.
    legalComments: 'eof',
    // Non-ASCII as escapes: the inlined script does not depend on the page's encoding.
    charset: 'ascii',
    outdir: 'report',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const script = result.outputFiles.find((f) => f.path.endsWith('.js'))?.text;
  const style = result.outputFiles.find((f) => f.path.endsWith('.css'))?.text;
  if (script === undefined || style === undefined) throw new Error('esbuild produced no script or no stylesheet for the report');
  return { script: script.replace(/\n+$/, ''), style: style.replace(/\n+$/, '') };
}
