/**
 * endpoint-cache.ts: the hash sees equal bytes as equal wherever they sit, the endpoint made for a
 * flow is build.ts `endpointOf`'s (same fields, same order), unknown fields are skipped, and broken
 * bytes throw WireError every time (never cached).
 */
import { describe, expect, it } from 'vitest';
import type { EndpointHint } from '../../domain/flow.js';
import { endpointOf } from '../hubble/build.js';
import { EndpointCache, KnownEndpoint, endpointHash } from './endpoint-cache.js';
import { WireError, WireReader } from './wire.js';

const varint = (n: number): number[] => {
  const out: number[] = [];
  for (; n > 0x7f; n >>>= 7) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
};
const str = (n: number, text: string): Buffer => {
  const bytes = Buffer.from(text);
  return Buffer.from([...varint((n << 3) | 2), ...varint(bytes.length), ...bytes]);
};
/** A `flow.Endpoint` as a length-delimited field (what the cache reads). */
const endpointField = (body: Buffer): Buffer => Buffer.concat([Buffer.from([0x42, ...varint(body.length)]), body]);
const pod = (name: string, extra: Buffer[] = []): Buffer =>
  Buffer.concat([Buffer.from([0x08, 0x07, 0x10, ...varint(4711)]), str(3, 'shop'), str(4, `k8s:app=${name}`), str(4, 'k8s:io.kubernetes.pod.namespace=shop'), str(5, `${name}-1`), ...extra, str(6, '')]);

function readAt(cache: EndpointCache, bytes: Buffer, start = 0): KnownEndpoint {
  const r = new WireReader(bytes, start, bytes.length);
  r.tag();
  return cache.read(r);
}

describe('endpointHash', () => {
  it('gives equal bytes the same hash wherever they are, for every length', () => {
    for (let length = 0; length < 200; length++) {
      const bytes = Buffer.from(Array.from({ length }, (_, i) => (i * 37 + length) & 0xff));
      const elsewhere = Buffer.concat([Buffer.from([1, 2, 3]), bytes, Buffer.from([9])]);
      expect(endpointHash(elsewhere, 3, 3 + length)).toBe(endpointHash(bytes, 0, length));
      expect(endpointHash(bytes, 0, length)).toBeLessThan(2 ** 30);
    }
  });
});

describe('KnownEndpoint.at', () => {
  it.each<[string, EndpointHint]>([
    ['a pod with every field', { namespace: 'shop', podName: 'web-1', labels: ['app=web'], workload: { kind: 'Deployment', name: 'web' }, identity: 4711 }],
    ['a pod without a workload', { namespace: 'shop', podName: 'web-1', labels: ['app=web'], identity: 4711 }],
    ['a reserved identity', { reserved: 'world', identity: 2 }],
    ['a pod with a reserved identity too', { namespace: 'shop', podName: 'web-1', labels: ['app=web'], workload: { kind: 'Deployment', name: 'web' }, reserved: 'host', identity: 1 }],
    ['nothing known', {}],
  ])('%s: build.ts endpointOf, field for field and in its order', (_name, hint) => {
    const made = new KnownEndpoint(hint, undefined).at('10.0.0.1', 8080);
    const want = endpointOf('10.0.0.1', 8080, hint);
    expect(made).toStrictEqual(want);
    expect(Object.keys(made)).toEqual(Object.keys(want));
  });
});

describe('EndpointCache', () => {
  it('decodes an endpoint once and returns the same entry for the same bytes anywhere', () => {
    const cache = new EndpointCache();
    const field = endpointField(pod('web'));
    const first = readAt(cache, field);
    expect(first.hint).toEqual({ namespace: 'shop', podName: 'web-1', labels: ['app=web'], identity: 4711 });
    expect(first.invalid).toBeUndefined();
    expect(readAt(cache, Buffer.concat([Buffer.from([0xff, 0xff]), field]), 2)).toBe(first);
    expect(readAt(cache, endpointField(pod('api')))).not.toBe(first);
  });

  it('skips unknown fields of every wire type', () => {
    const unknown = [Buffer.from([0x78, 0x05]), Buffer.from([0x81, 0x01, 1, 2, 3, 4, 5, 6, 7, 8]), Buffer.from([0x8d, 0x01, 1, 2, 3, 4]), str(17, 'cluster')];
    const hint = readAt(new EndpointCache(), endpointField(pod('web', unknown))).hint;
    expect(hint).toEqual(readAt(new EndpointCache(), endpointField(pod('web'))).hint);
  });

  it('gives the names check of build.ts invalidEndpointName', () => {
    const known = readAt(new EndpointCache(), endpointField(Buffer.concat([str(3, 'Shop'), str(5, 'web-1')])));
    expect(known.invalid).toMatch(/Shop/);
  });

  it.each([
    ['a truncated label', Buffer.concat([pod('web').subarray(0, 12), Buffer.from([0x22, 0x30, 0x61])])],
    ['a group wire type', Buffer.concat([pod('web'), Buffer.from([0x0b])])],
    ['a label with the wrong wire type', Buffer.concat([pod('web'), Buffer.from([0x20, 0x01])])],
    ['a truncated workload', Buffer.concat([pod('web'), Buffer.from([0x32, 0x04, 0x0a, 0x05, 0x61])])],
  ])('throws WireError for %s, every time (never cached)', (_name, body) => {
    const cache = new EndpointCache();
    for (let i = 0; i < 2; i++) expect(() => readAt(cache, endpointField(body))).toThrow(WireError);
  });
});
