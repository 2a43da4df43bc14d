/** The generated CRDs installed in the real API server: defaults, validation, CEL immutability, printer columns. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminKubeconfigPath, kubectl, kubectlOk, testNamespace, writeTempManifest } from '../harness/index.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;
const kc = () => ({ kubeconfig: adminKubeconfigPath() });

describe('Segmentation CRD', () => {
  it('accepts the example, fills defaults, and shows printer columns', async () => {
    const ns = await testNamespace('crd');
    const example = await readFile(join(EXAMPLES, 'segmentation-shop.yaml'), 'utf8');
    const file = await writeTempManifest(example.replace('namespace: shop', `namespace: ${ns.name}`));
    await kubectlOk(['apply', '-f', file], kc());
    const seg = JSON.parse(await kubectlOk(['get', 'segmentation', 'shop', '-n', ns.name, '-o', 'json'], kc()));
    expect(seg.spec.learning.minFlowsPerEdge).toBe(1);
    expect(seg.spec.egress).toEqual({ external: 'FQDN' });
    const table = await kubectlOk(['get', 'seg', '-n', ns.name], kc());
    expect(table.split('\n')[0]).toMatch(/^NAME\s+MODE\s+PHASE\s+EDGES\s+PROPOSAL\s+AGE$/);
  });

  it.each([
    ['an unknown mode', 'mode: Yolo', /Unsupported value: "Yolo"/],
    ['a malformed window', 'learning: {window: "a day"}', /spec.learning.window/],
    ['a negative would-deny budget', 'promotion: {allowedWouldDeny: -1}', /spec.promotion.allowedWouldDeny/],
    // Label syntax in the selector (k8s.io/apimachinery IsQualifiedName / IsValidLabelValue).
    ['a matchLabels key with a space', 'workloads: {selector: {matchLabels: {"bad key": x}}}', /spec.workloads.selector.matchLabels: Invalid value: .*every matchLabels key must be a Kubernetes label key/],
    ['a matchLabels key starting with a dash', 'workloads: {selector: {matchLabels: {-app: x}}}', /every matchLabels key must be a Kubernetes label key/],
    ['a matchLabels key with two slashes', 'workloads: {selector: {matchLabels: {"a/b/c": x}}}', /every matchLabels key must be a Kubernetes label key/],
    ['a matchLabels key with a 64-character name', `workloads: {selector: {matchLabels: {${'a'.repeat(64)}: x}}}`, /every matchLabels key must be a Kubernetes label key/],
    ['a matchLabels key with a 254-character prefix', `workloads: {selector: {matchLabels: {${'a'.repeat(254)}/x: v}}}`, /every matchLabels key must be a Kubernetes label key/],
    ['a matchLabels value with a slash', 'workloads: {selector: {matchLabels: {app: "a/b"}}}', /spec.workloads.selector.matchLabels.app: Invalid value: "a\/b": spec.workloads.selector.matchLabels.app in body should match/],
    ['a matchExpressions key with a colon', 'workloads: {selector: {matchExpressions: [{key: "k8s:app", operator: Exists}]}}', /spec.workloads.selector.matchExpressions\[0\].key: Invalid value: "k8s:app": spec.workloads.selector.matchExpressions\[0\].key in body should match/],
    ['a matchExpressions value too long', `workloads: {selector: {matchExpressions: [{key: app, operator: In, values: [${'v'.repeat(64)}]}]}}`, /spec.workloads.selector.matchExpressions\[0\].values\[0\]: Too long/],
  ])('rejects %s', async (_name, specLine, message) => {
    const ns = await testNamespace('crd');
    const file = await writeTempManifest(`apiVersion: hivewall.dev/v1alpha1\nkind: Segmentation\nmetadata: {name: bad, namespace: ${ns.name}}\nspec:\n  ${specLine}\n`);
    const r = await kubectl(['apply', '-f', file], kc());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});

describe('Segmentation selector syntax', () => {
  it('accepts prefixed keys, empty values and every operator', async () => {
    const ns = await testNamespace('crd');
    const file = await writeTempManifest(`apiVersion: hivewall.dev/v1alpha1
kind: Segmentation
metadata: {name: ok, namespace: ${ns.name}}
spec:
  workloads:
    selector:
      matchLabels: {app.kubernetes.io/name: cart, tier: "", ${'a'.repeat(63)}: ${'b'.repeat(63)}, example.com/A_b.c-D: x.Y_z-1}
      matchExpressions:
        - {key: app.kubernetes.io/part-of, operator: In, values: [shop, ""]}
        - {key: canary, operator: DoesNotExist}
`);
    await kubectlOk(['apply', '-f', file], kc());
  });
});

describe('PolicyProposal CRD', () => {
  // The harness admin's certificate is CN=hivewall-admin: it may record itself as reviewer (deploy/'s admission policy checks that).
  it('keeps content immutable while the review can change', async () => {
    const ns = await testNamespace('crd');
    const proposal = (digest: string, decision: string) => `apiVersion: hivewall.dev/v1alpha1
kind: PolicyProposal
metadata: {name: p1, namespace: ${ns.name}}
spec:
  content:
    segmentation: s
    revision: 1
    flavor: NetworkPolicy
    digest: ${digest}
    objects: [{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: x}, spec: {podSelector: {}}}]
    evidence: []
    diff: {}
  review: ${decision === 'Pending' ? '{decision: Pending}' : `{decision: ${decision}, reviewer: hivewall-admin, reviewedAt: "2026-11-27T10:00:00Z"}`}
`;
    await kubectlOk(['apply', '--server-side', '-f', await writeTempManifest(proposal('aaa', 'Pending'))], kc());
    const changed = await kubectl(['apply', '--server-side', '-f', await writeTempManifest(proposal('bbb', 'Pending'))], kc());
    expect(changed.code).not.toBe(0);
    expect(changed.stderr).toMatch(/proposal content is immutable/);
    await kubectlOk(['apply', '--server-side', '-f', await writeTempManifest(proposal('aaa', 'Approved'))], kc());
    const got = JSON.parse(await kubectlOk(['get', 'policyproposal', 'p1', '-n', ns.name, '-o', 'json'], kc()));
    expect(got.spec.review.decision).toBe('Approved');
    expect(got.spec.content.objects[0].spec).toEqual({ podSelector: {} });
  });
});
