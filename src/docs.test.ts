/**
 * The docs that describe the repository keep up with it: the README's layout names every folder
 * (top level and under src/), and every `docs/architecture.md §n` citation in the code names a
 * section that exists.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from './report/assets.js';

const root = packageRoot();
/** Build outputs and caches (.gitignore), not part of the repository. */
const NOT_IN_REPO = new Set(['.git', 'node_modules', 'dist', 'out', 'coverage', '.cache', 'tmp']);

const folders = (dir: string) => readdirSync(join(root, dir), { withFileTypes: true })
  .filter((e) => e.isDirectory() && !NOT_IN_REPO.has(e.name))
  .map((e) => `${dir ? `${dir}/` : ''}${e.name}/`)
  .sort();

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return NOT_IN_REPO.has(e.name) || path.startsWith(join('test', 'envtest')) ? [] : sourceFiles(path);
    return /\.(ts|js|mjs|md)$/.test(e.name) ? [path] : [];
  });
}

describe('README layout', () => {
  it('lists every top-level folder and every folder under src/, one table row each', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const layout = readme.slice(readme.indexOf('### Layout'));
    const listed = new Set([...layout.matchAll(/^\| `([^`]+\/)` \|/gm)].map((m) => m[1]));
    const missing = [...folders(''), ...folders('src')].filter((f) => !listed.has(f));
    expect(missing).toEqual([]);
  });
});

describe('docs/architecture.md citations', () => {
  it('name sections and rules that exist', () => {
    const doc = readFileSync(join(root, 'docs/architecture.md'), 'utf8');
    const sections = new Set([...doc.matchAll(/^## (\d+)\. /gm)].map((m) => m[1]));
    const rules = new Set([...doc.slice(doc.indexOf('## 6. ')).matchAll(/^(\d+)\. \*\*/gm)].map((m) => m[1]));
    const broken: string[] = [];
    let citations = 0;
    for (const file of ['src', 'test', 'docs', 'bench', 'scripts'].flatMap(sourceFiles)) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const m of text.matchAll(/architecture\.md §(\d+)((?:, §\d+)*)(?: rule (\d+))?/g)) {
        citations++;
        const cited = [m[1]!, ...[...(m[2] ?? '').matchAll(/§(\d+)/g)].map((x) => x[1]!)];
        for (const s of cited) if (!sections.has(s)) broken.push(`${relative(root, join(root, file))}: §${s}`);
        if (m[3] !== undefined && !rules.has(m[3])) broken.push(`${file}: §6 rule ${m[3]}`);
      }
    }
    expect(sections.size).toBeGreaterThanOrEqual(7);
    expect(citations).toBeGreaterThan(10);
    expect(broken).toEqual([]);
  });
});
