/**
 * hivewall's simulator against the CNIs' own policy engines (test/oracle/README.md): a fixed budget
 * of random clusters, policies and connections per flavour, every verdict compared. The oracles are
 * Go programs built from the engines' modules by test/oracle/build.sh (cached; scripts/ci-deps.sh
 * builds them ahead of the suite). The long run is `npm run test:oracle -- --cases 100000`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { compareCases, runDifferential, summary, type DifferentialReport } from './differential.js';
import { sampleCases, type Flavor } from './generate.js';
import { buildOracles, type OracleName } from './oracle-process.js';

/** Fixed seed and budget: ≥ 2,000 cases per flavour, replayable with the long run's --seed. */
const SEED = 20_261_205;
const CASES = 2_000;

let oracles: Record<OracleName, string>;
beforeAll(async () => {
  oracles = await buildOracles();
}, 40 * 60_000);

const binaryOf = (flavor: Flavor) => (flavor === 'cilium' ? oracles['cilium-oracle'] : oracles['netpol-oracle']);

function explain(report: DifferentialReport): string {
  return report.disagreements
    .slice(0, 3)
    .map((d) => JSON.stringify(d))
    .join('\n');
}

describe.each(['networkpolicy', 'cilium'] as const)('%s: simulator vs the CNI engine', (flavor) => {
  it(`agrees on every verdict of ${CASES} random cases`, async () => {
    const report = await runDifferential(flavor, binaryOf(flavor), SEED, CASES);
    process.stderr.write(`[oracle] ${summary(report)}\n`);
    expect(report.rejected, 'the engine refused generated policies').toEqual([]);
    expect(report.disagreements.length, explain(report)).toBe(0);
    expect(report.cases).toBe(CASES);
    // The cases mean something: many connections, both verdicts common.
    expect(report.connections).toBeGreaterThan(CASES * 6);
    expect(report.oracleAllowed / report.connections).toBeGreaterThan(0.2);
    expect(report.oracleAllowed / report.connections).toBeLessThan(0.8);
  }, 120_000);
});

describe('the comparison can fail', () => {
  it.each([
    // NetworkPolicy ipBlock matching pod IPs is what kube-network-policies does; reading it the other way must show.
    ['networkpolicy', { ipBlockMatchesPodIPs: false }],
    // Cilium CIDR rules never select nodes by default; claiming they do must show.
    ['cilium', { networkPolicyEnforcer: 'cilium', cidrMatchesNodes: true }],
    // Cilium lets the local node reach its pods (allow-localhost); judging host traffic by policy alone must show.
    ['cilium', { networkPolicyEnforcer: 'cilium', hostTrafficAlwaysAllowed: false }],
  ] as const)('%s with a wrong reading %j disagrees with the engine', async (flavor, options) => {
    const report = await compareCases(flavor, binaryOf(flavor), sampleCases(flavor, SEED, 300), SEED, 0, options);
    expect(report.disagreements.length).toBeGreaterThan(0);
  }, 60_000);
});
