/**
 * Documented differences between hivewall's simulator and a CNI engine: verdicts where the engine
 * does something the simulator deliberately does not model. Each entry names the engine's source
 * line; test/oracle/README.md explains each one. Everything else that disagrees is a simulator bug.
 */
import type { Connection, EvaluationResult } from '../../src/domain/simulate/index.js';
import type { DifferentialCase, Flavor } from './generate.js';
import type { OracleVerdict } from './oracle-case.js';

/** The id of the documented difference that explains this disagreement, or undefined. */
export function knownDifference(
  _flavor: Flavor,
  _c: DifferentialCase,
  _connection: Connection,
  _simulated: EvaluationResult,
  _oracle: OracleVerdict,
): string | undefined {
  return undefined;
}
