import { describe, expect, it } from 'vitest';
import { entityAddressOf, entityKey, peerFromKey, workloadKey } from './peer.js';

describe('entityAddressOf', () => {
  it('is the address peerFromKey reads from an entity key, and nothing for other keys', () => {
    for (const key of [entityKey('world', '203.0.113.7'), entityKey('world', '2001:db8::7'), entityKey('kube-apiserver', '172.18.0.2'), entityKey('remote-node', '172.18.0.3')]) {
      const peer = peerFromKey(key);
      expect(entityAddressOf(key)).toBe(peer.type === 'entity' ? peer.ip : 'not an entity');
    }
    expect(entityAddressOf(entityKey('host'))).toBeUndefined();
    expect(entityAddressOf(workloadKey('shop', 'Deployment', 'en:world:1.2.3.4'))).toBeUndefined();
  });
});
