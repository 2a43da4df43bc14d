import { readFileSync } from 'node:fs';

/**
 * The Node.js flags of a launcher's `#!/usr/bin/env -S node …` line (bin/hivewall.js:
 * `--max-semi-space-size=8`; deploy/base gives the operator and agents theirs as NODE_OPTIONS).
 * A user runs the file itself, so a bench that starts it through its own node passes them.
 */
export function shebangNodeFlags(path: string): string[] {
  const first = readFileSync(path, 'utf8').split('\n')[0] ?? '';
  return (/^#!.*\bnode\b(.*)$/.exec(first)?.[1] ?? '').trim().split(/\s+/).filter((flag) => flag !== '');
}
