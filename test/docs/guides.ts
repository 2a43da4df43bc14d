/**
 * Running docs/reviewer-guide.md and docs/gitops.md step by step: every command of their `sh`
 * blocks, in the order of the document, with what the test does before it (the state the guide
 * talks about: a proposal exists, new traffic was seen, a pull request was merged) and what it
 * checks after. The steps are in test/docs/walkthrough.test.ts.
 *
 * The step list is the contract: `runGuide` first compares it with the document's commands, so a
 * command added to a guide fails the test until it gets a step (run and checked, or skipped with
 * the reason).
 */
import { execFile } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { getJson, type Json } from '../e2e/operator-process.js';
import type { Shell, ShellResult } from './shell.js';

const execFileAsync = promisify(execFile);

export interface Step {
  /** The command exactly as the guide has it (comments dropped). */
  readonly cmd: string;
  /** Why the test does not run it. */
  readonly skip?: string;
  /** Who runs it: the guide's reader (a reviewer, the default) or a cluster admin. */
  readonly as?: 'reader' | 'admin';
  /** The state the command talks about, as a reader would wait for it. */
  readonly before?: () => Promise<unknown>;
  /** What stderr may say (default: nothing but kubectl's warnings). */
  readonly stderr?: RegExp;
  readonly check?: (r: ShellResult) => void | Promise<void>;
}

export interface GuideRun {
  readonly shell: Shell;
  readonly reader: string;
  readonly admin: string;
  /** Waits for a PolicyProposal (named in a command) to exist. */
  readonly proposalExists: (name: string) => Promise<unknown>;
}

/** The commands of the guide must be the steps' commands, in order; then each step runs. Returns the skipped ones. */
export async function runGuide(document: string, commands: readonly string[], steps: readonly Step[], run: GuideRun): Promise<Step[]> {
  expect(commands, `the commands of ${document}: a new or changed command needs its step in test/docs/walkthrough.test.ts`).toEqual(steps.map((s) => s.cmd));
  const seen = new Set<string>();
  for (const step of steps) {
    if (step.skip) continue;
    for (const [, name] of step.cmd.matchAll(/(?:hivewall \w+|policyproposal) (shop-r\d+)\b/g)) {
      if (!seen.has(name!)) await run.proposalExists(name!);
      seen.add(name!);
    }
    await step.before?.();
    const r = await run.shell.run(step.cmd, step.as === 'admin' ? run.admin : run.reader);
    const what = `${document}: ${step.cmd}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
    // To refresh a guide's output samples: HIVEWALL_DOCS_TRANSCRIPT=<file> gets every command's output.
    if (process.env.HIVEWALL_DOCS_TRANSCRIPT) await appendFile(process.env.HIVEWALL_DOCS_TRANSCRIPT, `$ ${step.cmd}\n${r.stdout}${r.stderr ? `[stderr]\n${r.stderr}` : ''}[exit ${r.code}]\n\n`);
    expect(r.code, what).toBe(0);
    if (step.stderr) expect(r.stderr, what).toMatch(step.stderr);
    else expect(r.stderr.replace(/^Warning: .*\n/gm, ''), what).toBe('');
    await step.check?.(r);
  }
  return steps.filter((s) => s.skip);
}

/** The review recorded in a proposal. */
export async function review(name: string): Promise<Json> {
  return (await getJson(['policyproposal', name, '-n', 'shop'])).spec.review as Json;
}

export const git = async (cwd: string, ...args: string[]): Promise<string> => (await execFileAsync('git', args, { cwd })).stdout;

/** The `--- live/…` / `+++ proposed/…` headers of a unified diff: which policies it touches. */
export function diffedPolicies(diff: string): string[] {
  return [...diff.matchAll(/^[-+]{3} (?:live|proposed)\/\w+\/(\S+)$/gm)].map((m) => m[1]!).filter((n, i, all) => all.indexOf(n) === i);
}
