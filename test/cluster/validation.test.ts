// The real API server validates policies: built-in NetworkPolicy validation and
// the real Cilium CiliumNetworkPolicy CRD schema, through kubectlApplyDryRun.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { adminKubeconfigPath, ciliumCrd, kubectl, kubectlApplyDryRun, testNamespace } from '../harness/index.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const valid = (f: string) => path.join(fixtures, 'valid', f);
const invalid = (f: string) => path.join(fixtures, 'invalid', f);

describe('NetworkPolicy validation (built-in)', () => {
  it('accepts a valid NetworkPolicy', async () => {
    const ns = await testNamespace('np');
    const r = await kubectlApplyDryRun(adminKubeconfigPath(), valid('networkpolicy.yaml'), { namespace: ns.name });
    expect(r.stderr).toBe('');
    expect(r.ok).toBe(true);
    expect(r.stdout).toContain('networkpolicy.networking.k8s.io/cart-allow-frontend created (server dry run)');
  });

  it('rejects port 70000', async () => {
    const ns = await testNamespace('np');
    const r = await kubectlApplyDryRun(adminKubeconfigPath(), invalid('networkpolicy-port-70000.yaml'), { namespace: ns.name });
    expect(r.ok).toBe(false);
    expect(r.stderr).toMatch(/is invalid/);
    expect(r.stderr).toMatch(/spec\.ingress\[0\]\.ports\[0\]\.port.*must be between 1 and 65535/);
  });

  it('does not persist anything', async () => {
    const ns = await testNamespace('np');
    await kubectlApplyDryRun(adminKubeconfigPath(), valid('networkpolicy.yaml'), { namespace: ns.name });
    const r = await kubectl(['get', 'networkpolicies', '-n', ns.name, '-o', 'name']);
    expect(r.stdout.trim()).toBe('');
  });
});

describe('CiliumNetworkPolicy validation (real Cilium CRD schema)', () => {
  const crd = ciliumCrd();

  it('accepts a valid CiliumNetworkPolicy', async (ctx) => {
    ctx.skip(!crd.installed, crd.reason);
    const ns = await testNamespace('cnp');
    const r = await kubectlApplyDryRun(adminKubeconfigPath(), valid('ciliumnetworkpolicy.yaml'), { namespace: ns.name });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('ciliumnetworkpolicy.cilium.io/cart-allow-frontend created (server dry run)');
    expect(r.ok).toBe(true);
  });

  it('rejects protocol BOGUS', async (ctx) => {
    ctx.skip(!crd.installed, crd.reason);
    const ns = await testNamespace('cnp');
    const r = await kubectlApplyDryRun(adminKubeconfigPath(), invalid('ciliumnetworkpolicy-bogus-protocol.yaml'), { namespace: ns.name });
    expect(r.ok).toBe(false);
    expect(r.stderr).toMatch(/protocol: Unsupported value: "BOGUS"/);
  });

  it('rejects an endpointSelector that is not an object', async (ctx) => {
    ctx.skip(!crd.installed, crd.reason);
    const ns = await testNamespace('cnp');
    const r = await kubectlApplyDryRun(adminKubeconfigPath(), invalid('ciliumnetworkpolicy-selector-type.yaml'), { namespace: ns.name });
    expect(r.ok).toBe(false);
    expect(r.stderr).toMatch(/spec\.endpointSelector: Invalid value: "string": spec\.endpointSelector in body must be of type object/);
  });

  it('validates a whole folder at once', async (ctx) => {
    ctx.skip(!crd.installed, crd.reason);
    const ns = await testNamespace('cnp');
    const good = await kubectlApplyDryRun(adminKubeconfigPath(), path.join(fixtures, 'valid'), { namespace: ns.name });
    expect(good.ok).toBe(true);
    expect(good.stdout.trim().split('\n')).toHaveLength(2);
    const bad = await kubectlApplyDryRun(adminKubeconfigPath(), path.join(fixtures, 'invalid'), { namespace: ns.name });
    expect(bad.ok).toBe(false);
    // Every invalid object is reported, not just the first.
    expect(bad.stderr).toMatch(/cart-bad-port/);
    expect(bad.stderr).toMatch(/cart-bogus-protocol/);
    expect(bad.stderr).toMatch(/cart-selector-string/);
  });
});
