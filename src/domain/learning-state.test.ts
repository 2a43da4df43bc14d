import { describe, expect, it } from 'vitest';
import { IdentityResolver } from './identity.js';
import { emptyInventory } from './inventory.js';
import { Learner } from './learner.js';
import { namespaceView, restoreProfile, toProfileSpec } from './learning-state.js';

const T = Date.UTC(2026, 10, 2, 10);

function bigNamespace(): Learner {
  const learner = new Learner(new IdentityResolver(emptyInventory));
  // 500 workloads, each talking to 10 others on its own port, plus DNS and 2 external peers.
  for (let w = 0; w < 500; w++) {
    const client = `wl:big/Deployment/service-with-a-realistic-name-${w}`;
    for (let k = 1; k <= 10; k++) learner.edges.record(client, `wl:big/Deployment/service-with-a-realistic-name-${(w + k * 37) % 500}`, 8080 + (k % 3), 'TCP', T + w * 1000 + k, 1234, T + 86_400_000);
    learner.edges.record(client, 'wl:kube-system/Deployment/coredns', 53, 'UDP', T, 99_999, T + 86_400_000);
    learner.edges.record(client, `en:world:203.0.113.${w % 250}`, 443, 'TCP', T, 10, T + 1);
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
});
