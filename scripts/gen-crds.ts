/** Writes crds/<plural>.hivewall.dev.yaml from the zod schemas in src/api (`npm run gen:crds`). */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { crdFiles } from '../src/api/crd-files.js';

const root = fileURLToPath(new URL('../../', import.meta.url)); // dist/scripts → repo root
for (const [name, text] of crdFiles()) writeFileSync(`${root}crds/${name}`, text);
