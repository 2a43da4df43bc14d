/**
 * The differential check: hivewall's simulator (src/domain/simulate) and a reference oracle judge the
 * same random cases; every verdict must agree, except the documented CNI differences of
 * ./known-differences.ts. Used by differential.test.ts (fixed seed budget, inside test:all) and by
 * long-run.ts (`npm run test:oracle -- --cases 100000`).
 */
import { createEvaluator, type Connection, type EvaluateOptions } from '../../src/domain/simulate/index.js';
import { sampleCases, type DifferentialCase, type Flavor } from './generate.js';
import { knownDifference } from './known-differences.js';
import { toOracleCase, type OracleVerdict } from './oracle-case.js';
import { runOracle } from './oracle-process.js';

/** Options the simulator is run with for each flavour: how audit judges that CNI. */
export const SIMULATOR_OPTIONS: Record<Flavor, EvaluateOptions> = {
  networkpolicy: {},
  cilium: { networkPolicyEnforcer: 'cilium' },
};

export interface Disagreement {
  readonly seed: number;
  readonly caseIndex: number;
  readonly connection: Connection;
  readonly simulator: boolean;
  readonly oracle: OracleVerdict;
  readonly reason: string;
  readonly policies: DifferentialCase['policies'];
}

export interface DifferentialReport {
  readonly flavor: Flavor;
  readonly cases: number;
  readonly connections: number;
  /** Verdicts the simulator and the oracle agree on. */
  readonly agreed: number;
  /** Connections the oracle allowed (the rest it denied): both must be common for the check to mean anything. */
  readonly oracleAllowed: number;
  /** Disagreements explained by a documented CNI difference, by id. */
  readonly known: Readonly<Record<string, number>>;
  readonly disagreements: readonly Disagreement[];
  /** Cases the engine refused (a policy it rejects): the generator must not produce these. */
  readonly rejected: readonly { caseIndex: number; error: string }[];
}

/** Judges pre-built cases with the simulator and the oracle and compares every verdict. */
export async function compareCases(
  flavor: Flavor,
  binary: string,
  cases: readonly DifferentialCase[],
  seed = 0,
  offset = 0,
  options: EvaluateOptions = SIMULATOR_OPTIONS[flavor],
): Promise<DifferentialReport> {
  const answers = await runOracle(binary, cases.map((c) => toOracleCase(c.cluster, c.policies, c.connections)));
  const known: Record<string, number> = {};
  const disagreements: Disagreement[] = [];
  const rejected: { caseIndex: number; error: string }[] = [];
  let connections = 0;
  let agreed = 0;
  let oracleAllowed = 0;
  cases.forEach((c, i) => {
    const answer = answers[i]!;
    if ('error' in answer) {
      rejected.push({ caseIndex: offset + i, error: answer.error });
      return;
    }
    const evaluator = createEvaluator(c.cluster, c.policies, options);
    c.connections.forEach((connection, j) => {
      connections++;
      const oracle = answer.verdicts[j]!;
      if (oracle.allowed) oracleAllowed++;
      const simulated = evaluator.evaluate(connection);
      if (simulated.allowed === oracle.allowed) {
        agreed++;
        return;
      }
      const difference = knownDifference(flavor, c, connection, simulated, oracle);
      if (difference !== undefined) {
        known[difference] = (known[difference] ?? 0) + 1;
        return;
      }
      disagreements.push({ seed, caseIndex: offset + i, connection, simulator: simulated.allowed, oracle, reason: simulated.reason, policies: c.policies });
    });
  });
  return { flavor, cases: cases.length, connections, agreed, oracleAllowed, known, disagreements, rejected };
}

/** Generates `count` cases from `seed` in chunks (bounded memory) and compares them all. */
export async function runDifferential(flavor: Flavor, binary: string, seed: number, count: number, chunk = 2_000): Promise<DifferentialReport> {
  const total: { cases: number; connections: number; agreed: number; oracleAllowed: number; known: Record<string, number>; disagreements: Disagreement[]; rejected: { caseIndex: number; error: string }[] } = {
    cases: 0,
    connections: 0,
    agreed: 0,
    oracleAllowed: 0,
    known: {},
    disagreements: [],
    rejected: [],
  };
  for (let offset = 0, part = 0; offset < count; offset += chunk, part++) {
    const n = Math.min(chunk, count - offset);
    // Each chunk has its own seed so a chunk can be replayed alone.
    const report = await compareCases(flavor, binary, sampleCases(flavor, seed + part, n), seed + part, offset);
    total.cases += report.cases;
    total.connections += report.connections;
    total.agreed += report.agreed;
    total.oracleAllowed += report.oracleAllowed;
    for (const [id, k] of Object.entries(report.known)) total.known[id] = (total.known[id] ?? 0) + k;
    total.disagreements.push(...report.disagreements);
    total.rejected.push(...report.rejected);
  }
  return { flavor, ...total };
}

/** One line per report, `name=value`, for logs and the long run. */
export function summary(report: DifferentialReport): string {
  const known = Object.entries(report.known)
    .map(([id, n]) => `known.${id}=${n}`)
    .join(' ');
  return `flavor=${report.flavor} cases=${report.cases} connections=${report.connections} agreed=${report.agreed} oracle_allowed=${report.oracleAllowed} disagreements=${report.disagreements.length} rejected=${report.rejected.length}${known ? ` ${known}` : ''}`;
}
