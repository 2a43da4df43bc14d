/**
 * The browser side of the report, built by `npm run build` (esbuild, `src/report/build-assets.ts`)
 * into `dist/report/bundle.js` and `dist/report/bundle.css` and read from there at run time; a
 * single-executable binary (scripts/build-binaries.ts) carries them as its assets of those names.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sea from 'node:sea';
import { fileURLToPath } from 'node:url';

export interface ReportAssets {
  readonly script: string;
  readonly style: string;
}

export const ASSET_DIR = join('dist', 'report');
export const SCRIPT_FILE = 'bundle.js';
export const STYLE_FILE = 'bundle.css';

export class ReportAssetsMissingError extends Error {
  constructor(path: string) {
    super(`the report's browser bundle ${path} is missing: run \`npm run build\``);
    this.name = 'ReportAssetsMissingError';
  }
}

let cached: ReportAssets | undefined;

/** Reads (once) the built bundle from `<package root>/dist/report/` (or the binary's assets). */
export function loadReportAssets(): ReportAssets {
  if (cached) return cached;
  if (sea.isSea()) return (cached = { script: sea.getAsset(SCRIPT_FILE, 'utf8'), style: sea.getAsset(STYLE_FILE, 'utf8') });
  const dir = join(packageRoot(), ASSET_DIR);
  const script = join(dir, SCRIPT_FILE);
  const style = join(dir, STYLE_FILE);
  for (const path of [script, style]) if (!existsSync(path)) throw new ReportAssetsMissingError(path);
  cached = { script: readFileSync(script, 'utf8'), style: readFileSync(style, 'utf8') };
  return cached;
}

/** The folder of hivewall's package.json, found from this module (works from `src/` and `dist/src/`). */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'hivewall') return dir;
      } catch {
        // not ours; keep looking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`hivewall's package.json not found above ${from}`);
    dir = parent;
  }
}
