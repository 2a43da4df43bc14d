/**
 * Runs a reference oracle binary (built by test/oracle/build.sh) as one long-lived process and feeds
 * it cases as JSON lines: thousands of cases cost one process start. Answers come back in order.
 */
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { OracleCase, OracleResult } from './oracle-case.js';

export type OracleName = 'cilium-oracle' | 'netpol-oracle';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Builds (or finds in the cache) both oracle binaries; returns their paths. The first build on a
 * machine compiles Cilium's policy engine (several minutes on 2 cores); later calls print cached paths.
 */
export async function buildOracles(): Promise<Record<OracleName, string>> {
  const { stdout } = await promisify(execFile)('bash', [path.join(here, 'build.sh')], { maxBuffer: 1 << 20, timeout: 40 * 60_000 });
  const paths: Partial<Record<OracleName, string>> = {};
  for (const line of stdout.split('\n')) {
    const [name, value] = line.split('=', 2);
    if ((name === 'cilium-oracle' || name === 'netpol-oracle') && value) paths[name] = value;
  }
  if (paths['cilium-oracle'] === undefined || paths['netpol-oracle'] === undefined) throw new Error(`oracle build printed no paths: ${stdout}`);
  return paths as Record<OracleName, string>;
}

/** Judges every case with one oracle process; rejects if the process fails or answers short. */
export async function runOracle(binary: string, cases: readonly OracleCase[]): Promise<OracleResult[]> {
  const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  const results: OracleResult[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    if (stderr.length < 10_000) stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    results.push(JSON.parse(line) as OracleResult);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  for (const c of cases) {
    if (!child.stdin.write(`${JSON.stringify(c)}\n`)) await new Promise((resolve) => child.stdin.once('drain', resolve));
  }
  child.stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`${path.basename(binary)} exited with ${code}: ${stderr}`);
  if (results.length !== cases.length) throw new Error(`${path.basename(binary)} answered ${results.length} of ${cases.length} cases: ${stderr}`);
  return results;
}
