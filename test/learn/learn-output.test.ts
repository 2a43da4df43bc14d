/**
 * `hivewall learn` output against the real API server: both flavors pass server-side validation
 * (NetworkPolicy by the built-in schema, CiliumNetworkPolicy by the real Cilium CRD schema), through
 * the kustomization it writes, exactly as a user would run `kubectl apply -k`.
 */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { adminKubeconfigPath, ciliumCrd, kubectl, kubectlOk } from '../harness/index.js';

const EXAMPLE = new URL('../../examples/shop/', import.meta.url).pathname;

async function learn(flavor: 'networkpolicy' | 'cilium'): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), `hivewall-learn-${flavor}-`));
  const sink = new PassThrough();
  sink.resume();
  const code = await main(
    ['learn', '--flows', join(EXAMPLE, 'flows.hubble.jsonl'), '--cluster', join(EXAMPLE, 'cluster'), '--flavor', flavor, '--out', out, '-q'],
    { stdout: sink, stderr: sink, stdin: Readable.from([]) },
  );
  expect(code).toBe(0);
  return out;
}

let namespaces: string[];
beforeAll(async () => {
  namespaces = ['logging', 'monitoring', 'payments', 'shop'];
  for (const ns of namespaces) {
    const exists = await kubectl(['get', 'namespace', ns], { kubeconfig: adminKubeconfigPath() });
    if (exists.code !== 0) await kubectlOk(['create', 'namespace', ns], { kubeconfig: adminKubeconfigPath() });
  }
});

describe.each(['networkpolicy', 'cilium'] as const)('%s output', (flavor) => {
  it('passes server-side validation with kubectl apply -k --dry-run=server', async (ctx) => {
    if (flavor === 'cilium' && !ciliumCrd().installed) ctx.skip(ciliumCrd().reason);
    const out = await learn(flavor);
    expect((await readdir(out)).sort()).toEqual(namespaces);
    for (const ns of namespaces) {
      const r = await kubectl(['apply', '-k', join(out, ns), '--dry-run=server'], { kubeconfig: adminKubeconfigPath() });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const kind = flavor === 'cilium' ? 'ciliumnetworkpolicy.cilium.io' : 'networkpolicy.networking.k8s.io';
      expect(r.stdout).toContain(`${kind}/hivewall-default-deny created (server dry run)`);
    }
  });
});
