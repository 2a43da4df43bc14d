import { describe, expect, it } from 'vitest';
import { IdentityResolver } from './identity.js';
import { emptyInventory } from './inventory.js';
import { Learner } from './learner.js';
import { namespaceView, restoreProfile, toProfileSpec } from './learning-state.js';
import { key } from '../testing/builders.js';

const T = Date.UTC(2026, 10, 2, 10);

function bigNamespace(): Learner {
  const learner = new Learner(new IdentityResolver(emptyInventory));
  // 500 workloads, each talking to 10 others on its own port, plus DNS and 2 external peers.
  for (let w = 0; w < 500; w++) {
    const client = key(`wl:big/Deployment/service-with-a-realistic-name-${w}`);
    for (let k = 1; k <= 10; k++) learner.edges.record(client, key(`wl:big/Deployment/service-with-a-realistic-name-${(w + k * 37) % 500}`), 8080 + (k % 3), 'TCP', T + w * 1000 + k, 1234, T + 86_400_000);
    learner.edges.record(client, key('wl:kube-system/Deployment/coredns'), 53, 'UDP', T, 99_999, T + 86_400_000);
    learner.edges.record(client, key(`en:world:203.0.113.${w % 250}`), 443, 'TCP', T, 10, T + 1);
  }
  for (let w = 0; w < 500; w++) learner.dnsNames.add(`wl:big/Deployment/service-with-a-realistic-name-${w}`, `203.0.113.${w % 250}`, `api-${w % 250}.partner.example`);
  return learner;
}

describe('TrafficProfile encoding', () => {
  it('keeps a 500-workload namespace far below the 1.5 MiB object limit', () => {
    const learner = bigNamespace();
    const view = namespaceView(learner, 'big');
    const spec = toProfileSpec('big', view, learner.dnsNames, 0);
    const bytes = Buffer.byteLength(JSON.stringify({ apiVersion: 'hivewall.dev/v1alpha1', kind: 'TrafficProfile', metadata: { name: 'big', namespace: 'big' }, spec }));
    expect(view.edges).toHaveLength(6000);
    expect(bytes).toBeLessThan(1.5 * 1024 * 1024 / 3);
  });

  it('round-trips exactly, and restoring twice counts nothing twice', () => {
    const learner = bigNamespace();
    const spec = toProfileSpec('big', namespaceView(learner, 'big'), learner.dnsNames, 0);
    const restored = new Learner(new IdentityResolver(emptyInventory));
    restoreProfile(restored, spec);
    restoreProfile(restored, spec);
    const key = (l: Learner) => [...l.edges.edges()].map((e) => JSON.stringify(e)).sort();
    expect(key(restored)).toEqual(key(learner));
    expect(restored.dnsNames.namesFor('wl:big/Deployment/service-with-a-realistic-name-7', '203.0.113.7')).toEqual(['api-7.partner.example']);
    expect(restored.dnsNames.namesFor('wl:big/Deployment/service-with-a-realistic-name-8', '203.0.113.7')).toEqual([]);
  });

  it('restored edges keep their DNS names however many other names the workload resolves next', () => {
    const learner = bigNamespace();
    const spec = toProfileSpec('big', namespaceView(learner, 'big'), learner.dnsNames, 0);
    const restored = new Learner(new IdentityResolver(emptyInventory), { dnsLimits: { recentNamesPerClient: 4 } });
    restoreProfile(restored, spec, 'big');
    const client = 'wl:big/Deployment/service-with-a-realistic-name-7';
    for (let i = 0; i < 100; i++) restored.dnsNames.add(client, `198.51.100.${i}`, `n${i}.example`);
    expect(restored.dnsNames.namesFor(client, '203.0.113.7')).toEqual(['api-7.partner.example']);
    expect(restored.dnsNames.dropped.evicted).toBe(96);
  });

  it('restores DNS names only per client, valid, and of the profile\'s own namespace', () => {
    const spec = {
      segmentation: 'shop', peers: [], edges: [], flows: 0, lostEvents: 0,
      dnsNames: [
        'wl:shop/Deployment/cart 203.0.113.7 api.partner.example',
        'wl:payments/Deployment/pay 203.0.113.7 attacker.example',
        '203.0.113.7 old-format.example',
        'wl:shop/Deployment/cart 203.0.113.7 evil\u001b[31m.example',
        'wl:../Deployment/x 203.0.113.7 x.example',
      ],
    };
    const restored = new Learner(new IdentityResolver(emptyInventory));
    restoreProfile(restored, spec, 'shop');
    expect(restored.dnsNames.namesFor('wl:shop/Deployment/cart', '203.0.113.7')).toEqual(['api.partner.example']);
    expect(restored.dnsNames.clients).toBe(1);
  });

  it('restores only edges with a workload of the profile\'s own namespace, between valid peer keys', () => {
    const spec = {
      segmentation: 'shop', dnsNames: [], flows: 0, lostEvents: 0,
      peers: ['wl:shop/Deployment/cart', 'wl:payments/Deployment/pay', 'wl:payments/Deployment/db', 'en:world:203.0.113.7', 'wl:shop/Deployment/x y', 'en:world:not-an-ip'],
      edges: [
        [0, 1, 8080, 0, 5, 1000, 2000], // shop → payments: kept (shop is a side)
        [3, 0, 443, 0, 2, 1000, 2000], // world → shop: kept
        [1, 2, 5432, 0, 9, 1000, 2000], // payments → payments in shop's profile: refused
        [3, 2, 5432, 0, 9, 1000, 2000], // world → payments in shop's profile: refused
        [4, 1, 80, 0, 1, 1000, 2000], // invalid workload name: refused
        [0, 5, 443, 0, 1, 1000, 2000], // entity without a valid address: refused
      ],
    };
    const restored = new Learner(new IdentityResolver(emptyInventory));
    expect(restoreProfile(restored, spec, 'shop')).toBe(2);
    expect([...restored.edges.edges()].map((e) => `${e.client} ${e.server} ${e.port}`).sort()).toEqual([
      'en:world:203.0.113.7 wl:shop/Deployment/cart 443',
      'wl:shop/Deployment/cart wl:payments/Deployment/pay 8080',
    ]);
  });
});
