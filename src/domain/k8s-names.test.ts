import { describe, expect, it } from 'vitest';
import { invalidLabel, invalidWorkload, isDns1123Label, isDns1123Subdomain, isDnsName, isKind, isLabelKey, isLabelValue } from './k8s-names.js';
import { invalidPeerKey } from './peer.js';

describe('Kubernetes name syntax', () => {
  it.each([
    { name: 'namespace', check: isDns1123Label, ok: ['shop', 'a', 'kube-system', 'a'.repeat(63), '0ab'], bad: ['', '..', '.', 'a/b', 'Shop', '-a', 'a-', 'a.b', 'a'.repeat(64), 'a\u001b[2J'] },
    { name: 'object name', check: isDns1123Subdomain, ok: ['cart', 'cart-7d9c', 'a.b.c', 'a'.repeat(253)], bad: ['', '..', 'a..b', '.a', 'a/b', 'x/../../../escaped', 'A', 'a_b', 'a'.repeat(254)] },
    { name: 'label key', check: isLabelKey, ok: ['app', 'app.kubernetes.io/name', 'A_b.c-D', 'example.com/x', `${'a'.repeat(253)}/${'n'.repeat(63)}`], bad: ['', '/x', 'a/', 'a/b/c', '-a', 'a-', 'bad key', 'k8s:app', 'n'.repeat(64), `${'a'.repeat(254)}/x`, 'Example.com/x'] },
    { name: 'label value', check: isLabelValue, ok: ['', 'cart', 'x.Y_z-1', 'v'.repeat(63)], bad: ['a/b', '-a', 'a-', 'v'.repeat(64), 'a b', 'x\u001b[2J'] },
    { name: 'kind', check: isKind, ok: ['Deployment', 'CronJob', 'Pod'], bad: ['', 'deployment', '../Deployment', 'Deploy ment', 'Déploiement'] },
    { name: 'DNS name', check: isDnsName, ok: ['api.stripe.com', '_sip._tcp.example.com', 'localhost', 'API.Example'], bad: ['', 'a..b', '.a', 'evil\u001b[31m.example', 'a b.example', `${'a'.repeat(64)}.example`, '*.example.com'] },
  ])('$name', ({ check, ok, bad }) => {
    for (const value of ok) expect(check(value), JSON.stringify(value)).toBe(true);
    for (const value of bad) expect(check(value), JSON.stringify(value)).toBe(false);
  });

  it.each([
    ['a valid workload', ['shop', 'Deployment', 'cart'], undefined],
    ['namespace ..', ['..', 'Deployment', 'cart'], /namespace "\.\." is not a DNS-1123 label/],
    ['a kind with a slash', ['shop', '../Deployment', 'cart'], /kind "\.\.\/Deployment" is not a Kubernetes kind/],
    ['a name climbing out', ['shop', 'Deployment', 'x/../../y'], /Deployment name "x\/\.\.\/\.\.\/y" is not a DNS-1123 subdomain/],
  ] as const)('invalidWorkload: %s', (_name, [ns, kind, name], reason) => {
    const got = invalidWorkload(ns, kind, name);
    if (reason === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(reason);
  });

  it.each([
    ['app=cart', undefined],
    ['app', undefined],
    ['app=', undefined],
    ['=x', /label key ""/],
    ['a=b:c', /label value "b:c"/],
  ])('invalidLabel %s', (label, reason) => {
    const got = invalidLabel(label);
    if (reason === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(reason);
  });

  it.each([
    ['wl:shop/Deployment/cart', undefined],
    ['en:world:203.0.113.7', undefined],
    ['en:host', undefined],
    ['wl:../Deployment/cart', /namespace/],
    ['wl:shop/Deployment/a/../../b', /not a DNS-1123 subdomain/],
    ['en:world:not-an-ip', /not an IP address/],
    ['xx:whatever', /invalid peer key/],
  ])('invalidPeerKey %s', (key, reason) => {
    const got = invalidPeerKey(key);
    if (reason === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(reason);
  });
});
