/** `npm run build` step: writes the report's browser bundle to `dist/report/`. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ASSET_DIR, packageRoot, SCRIPT_FILE, STYLE_FILE } from './assets.js';
import { buildReportAssets } from './build-assets.js';

const root = packageRoot();
const assets = await buildReportAssets(root);
const dir = join(root, ASSET_DIR);
await mkdir(dir, { recursive: true });
await writeFile(join(dir, SCRIPT_FILE), `${assets.script}\n`);
await writeFile(join(dir, STYLE_FILE), `${assets.style}\n`);
process.stdout.write(`report bundle: ${join(ASSET_DIR, SCRIPT_FILE)} (${Math.round(assets.script.length / 1024)} KiB), ${join(ASSET_DIR, STYLE_FILE)}\n`);
