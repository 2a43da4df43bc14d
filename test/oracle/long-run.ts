/**
 * The long differential run, outside test:all:
 *
 *   npm run test:oracle -- --cases 100000 [--seed 1] [--flavor cilium|networkpolicy] [--show 5]
 *
 * Builds the oracles (cached), judges `--cases` random cases per flavour with the simulator and the
 * oracle, prints one `name=value` summary line per flavour and the first `--show` disagreements, and
 * exits 1 if any verdict disagrees outside the documented differences.
 */
import { parseArgs } from 'node:util';
import { runDifferential, summary } from './differential.js';
import type { Flavor } from './generate.js';
import { buildOracles } from './oracle-process.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    flavor: { type: 'string' },
    show: { type: 'string', default: '5' },
  },
});
const cases = Number.parseInt(values.cases, 10);
const seed = Number.parseInt(values.seed, 10);
const show = Number.parseInt(values.show, 10);
if (!Number.isSafeInteger(cases) || cases <= 0 || !Number.isSafeInteger(seed) || !Number.isSafeInteger(show)) {
  process.stderr.write('usage: npm run test:oracle -- --cases N [--seed S] [--flavor cilium|networkpolicy] [--show K]\n');
  process.exit(2);
}
const flavors: Flavor[] = values.flavor === undefined ? ['networkpolicy', 'cilium'] : [values.flavor as Flavor];
if (!flavors.every((f) => f === 'networkpolicy' || f === 'cilium')) {
  process.stderr.write(`unknown --flavor ${values.flavor}\n`);
  process.exit(2);
}

const oracles = await buildOracles();
let failed = false;
for (const flavor of flavors) {
  const started = performance.now();
  const report = await runDifferential(flavor, flavor === 'cilium' ? oracles['cilium-oracle'] : oracles['netpol-oracle'], seed, cases);
  process.stdout.write(`${summary(report)} seconds=${((performance.now() - started) / 1000).toFixed(1)}\n`);
  for (const d of report.disagreements.slice(0, show)) process.stdout.write(`${JSON.stringify(d)}\n`);
  for (const r of report.rejected.slice(0, show)) process.stdout.write(`rejected ${JSON.stringify(r)}\n`);
  if (report.disagreements.length > 0 || report.rejected.length > 0) failed = true;
}
process.exit(failed ? 1 : 0);
