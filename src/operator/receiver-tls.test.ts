import { X509Certificate, createPrivateKey } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkStoredTls, dnsNamesOf, issueCa, issueLeaf, loadX509, receiverDnsNames, reconcileReceiverTls, ReceiverTlsError,
  type KeyPairPem, type ReceiverTlsStore, type StoredTls,
} from './receiver-tls.js';

const DAY = 24 * 60 * 60 * 1000;
const NS = 'hivewall-system';
const HOST = 'hivewall-operator.hivewall-system.svc';
const NAMES = receiverDnsNames('hivewall-operator', NS);
const NOW = new Date('2026-03-01T12:00:00Z');

let ca: KeyPairPem;
let leaf: KeyPairPem;
beforeAll(async () => {
  ca = await issueCa({ now: NOW, validityMs: 3650 * DAY });
  leaf = await issueLeaf({ ca, dnsNames: NAMES, now: NOW, validityMs: 365 * DAY });
});

const stored = (c: KeyPairPem, l: KeyPairPem): StoredTls => ({ 'ca.crt': c.cert, 'ca.key': c.key, 'tls.crt': l.cert, 'tls.key': l.key });
const check = (s: StoredTls, now = NOW) => checkStoredTls(s, { dnsNames: NAMES, now, renewBeforeMs: 30 * DAY });

describe('issuing', () => {
  it('makes a self-signed ECDSA P-256 CA with critical basicConstraints and keyCertSign + cRLSign', async () => {
    const cert = new X509Certificate(ca.cert);
    const key = createPrivateKey(ca.key);
    expect(cert.ca).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(key)).toBe(true);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(ca.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/); // PKCS#8
    expect(ca.cert).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    expect(cert.validFromDate.getTime()).toBeLessThanOrEqual(NOW.getTime());
    expect(cert.validToDate.getTime()).toBe(NOW.getTime() + 3650 * DAY);

    const x = await loadX509();
    const parsed = new x.X509Certificate(ca.cert);
    const bc = parsed.getExtension(x.BasicConstraintsExtension)!;
    expect(bc.ca).toBe(true);
    expect(bc.critical).toBe(true);
    const ku = parsed.getExtension(x.KeyUsagesExtension)!;
    expect(ku.critical).toBe(true);
    expect(ku.usages).toBe(x.KeyUsageFlags.keyCertSign | x.KeyUsageFlags.cRLSign);
  });

  it('makes a serving certificate for the Service names, signed by the CA, for serverAuth', async () => {
    const cert = new X509Certificate(leaf.cert);
    const caCert = new X509Certificate(ca.cert);
    expect(cert.ca).toBe(false);
    expect(dnsNamesOf(cert)).toEqual([
      'hivewall-operator', 'hivewall-operator.hivewall-system', HOST, 'hivewall-operator.hivewall-system.svc.cluster.local',
    ]);
    expect(cert.subject).toContain(`CN=${HOST}`);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(leaf.key))).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(ca.key))).toBe(false);
    expect(createPrivateKey(leaf.key).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // Node names the extended key usages keyUsage
    expect(cert.validToDate.getTime()).toBe(NOW.getTime() + 365 * DAY);
    expect(cert.checkHost(HOST)).toBe(HOST);

    const x = await loadX509();
    const parsed = new x.X509Certificate(leaf.cert);
    expect(parsed.getExtension(x.KeyUsagesExtension)!.usages).toBe(x.KeyUsageFlags.digitalSignature);
    expect(parsed.getExtension(x.BasicConstraintsExtension)!.ca).toBe(false);
  });

  it('never issues a leaf that outlives its CA', async () => {
    const shortCa = await issueCa({ now: NOW, validityMs: 10 * DAY });
    const l = await issueLeaf({ ca: shortCa, dnsNames: NAMES, now: NOW, validityMs: 365 * DAY });
    expect(new X509Certificate(l.cert).validToDate).toEqual(new X509Certificate(shortCa.cert).validToDate);
  });
});

describe('checkStoredTls', () => {
  it('accepts what it issued', () => {
    const v = check(stored(ca, leaf));
    expect(v.status).toBe('valid');
    if (v.status === 'valid') expect(v.notAfter).toEqual(new Date(NOW.getTime() + 365 * DAY));
  });

  it('re-issues only the leaf when the leaf is bad or expiring and the CA is fine', async () => {
    const other = await issueCa({ now: NOW, validityMs: 3650 * DAY });
    const foreign = await issueLeaf({ ca: other, dnsNames: NAMES, now: NOW, validityMs: 365 * DAY });
    const otherService = await issueLeaf({ ca, dnsNames: receiverDnsNames('something-else', NS), now: NOW, validityMs: 365 * DAY });
    const cases: [StoredTls, RegExp][] = [
      [{ ...stored(ca, leaf), 'tls.crt': undefined }, /tls.crt is missing/],
      [{ ...stored(ca, leaf), 'tls.crt': 'garbage' }, /tls.crt is missing or not a PEM/],
      [{ ...stored(ca, leaf), 'tls.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }, /tls.crt does not parse/],
      [{ ...stored(ca, leaf), 'tls.key': other.key }, /tls.key does not match/],
      [stored(ca, foreign), /not signed by ca.crt/],
      [stored(ca, otherService), /does not cover hivewall-operator, /],
      [{ ...stored(ca, leaf), 'tls.crt': ca.cert, 'tls.key': ca.key }, /is a CA certificate/],
    ];
    for (const [s, reason] of cases) {
      const v = check(s);
      expect(v.status, String(reason)).toBe('renew-leaf');
      if (v.status === 'renew-leaf') {
        expect(v.reason).toMatch(reason);
        expect(v.ca.cert).toBe(ca.cert);
      }
    }
    const expiring = check(stored(ca, leaf), new Date(NOW.getTime() + 340 * DAY));
    expect(expiring).toMatchObject({ status: 'renew-leaf', reason: expect.stringMatching(/tls.crt expires .* within the renewal window/) });
    expect(check(stored(ca, leaf), new Date(NOW.getTime() + 330 * DAY)).status).toBe('valid');
  });

  it('re-issues everything when the CA is bad or expiring', async () => {
    const other = await issueCa({ now: NOW, validityMs: 3650 * DAY });
    expect(check({ ...stored(ca, leaf), 'ca.key': undefined })).toMatchObject({ status: 'renew-all', reason: expect.stringMatching(/ca.key is missing/) });
    expect(check({ ...stored(ca, leaf), 'ca.key': other.key })).toMatchObject({ status: 'renew-all', reason: expect.stringMatching(/ca.key does not match/) });
    expect(check({ ...stored(ca, leaf), 'ca.crt': leaf.cert, 'ca.key': leaf.key })).toMatchObject({ status: 'renew-all', reason: expect.stringMatching(/not a CA/) });
    expect(check(stored(ca, leaf), new Date(NOW.getTime() + 3630 * DAY))).toMatchObject({ status: 'renew-all', reason: expect.stringMatching(/ca.crt expires/) });
    expect(check(stored(ca, leaf), new Date(NOW.getTime() - 2 * DAY))).toMatchObject({ status: 'renew-all', reason: expect.stringMatching(/ca.crt is not valid before/) });
  });
});

describe('a TLS handshake with the issued pair', () => {
  async function request(pair: KeyPairPem, trust: string, servername: string): Promise<string> {
    const server = https.createServer({ cert: pair.cert, key: pair.key }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      return await new Promise<string>((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port, path: '/', ca: trust, servername, agent: false }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => { body += chunk.toString(); });
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.end();
      });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  it('succeeds with the CA and the Service name', async () => {
    await expect(request(leaf, ca.cert, HOST)).resolves.toBe('ok');
    await expect(request(leaf, ca.cert, 'hivewall-operator.hivewall-system.svc.cluster.local')).resolves.toBe('ok');
  });

  it('fails with another CA or another name', async () => {
    const other = await issueCa({ now: new Date(), validityMs: 3650 * DAY });
    await expect(request(leaf, other.cert, HOST)).rejects.toMatchObject({ code: expect.stringMatching(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/) });
    await expect(request(leaf, ca.cert, 'hivewall-operator.other.svc')).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
});

// ---------------------------------------------------------------- the store logic, in memory

class ApiError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    (this as { body?: string }).body = JSON.stringify({ message });
  }
}

/** An API server for two kinds: resourceVersion checks on replace, AlreadyExists on create. */
class MemoryStore implements ReceiverTlsStore {
  readonly objects = new Map<string, V1Secret | V1ConfigMap>();
  writes = 0;
  private rv = 0;
  /** Runs before a write is applied (to let a "replica" sneak in), or throws (to refuse). */
  beforeWrite?: (op: string) => Promise<void> | void;

  private read<T extends V1Secret | V1ConfigMap>(kind: string, ns: string, name: string): T {
    const o = this.objects.get(`${kind}/${ns}/${name}`);
    if (!o) throw new ApiError(404, `${kind} "${name}" not found`);
    return structuredClone(o) as T;
  }
  private async create<T extends V1Secret | V1ConfigMap>(kind: string, ns: string, body: T): Promise<T> {
    await this.beforeWrite?.(`create ${kind}`);
    const key = `${kind}/${ns}/${body.metadata!.name!}`;
    if (this.objects.has(key)) throw new ApiError(409, `${kind} "${body.metadata!.name}" already exists`);
    this.writes++;
    const stored = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
    this.objects.set(key, stored);
    return structuredClone(stored);
  }
  private async replace<T extends V1Secret | V1ConfigMap>(kind: string, ns: string, name: string, body: T): Promise<T> {
    await this.beforeWrite?.(`replace ${kind}`);
    const key = `${kind}/${ns}/${name}`;
    const current = this.objects.get(key);
    if (!current) throw new ApiError(404, `${kind} "${name}" not found`);
    if (body.metadata?.resourceVersion !== current.metadata?.resourceVersion) {
      throw new ApiError(409, `Operation cannot be fulfilled on ${kind} "${name}": the object has been modified`);
    }
    this.writes++;
    const stored = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
    this.objects.set(key, stored);
    return structuredClone(stored);
  }
  readSecret = async (ns: string, name: string) => this.read<V1Secret>('Secret', ns, name);
  createSecret = (ns: string, body: V1Secret) => this.create('Secret', ns, body);
  replaceSecret = (ns: string, name: string, body: V1Secret) => this.replace('Secret', ns, name, body);
  readConfigMap = async (ns: string, name: string) => this.read<V1ConfigMap>('ConfigMap', ns, name);
  createConfigMap = (ns: string, body: V1ConfigMap) => this.create('ConfigMap', ns, body);
  replaceConfigMap = (ns: string, name: string, body: V1ConfigMap) => this.replace('ConfigMap', ns, name, body);

  secret(): V1Secret { return this.read('Secret', NS, 'hivewall-receiver-tls'); }
  configMap(): V1ConfigMap { return this.read('ConfigMap', NS, 'hivewall-receiver-ca'); }
}

const decode = (s: V1Secret, key: string) => Buffer.from(s.data![key]!, 'base64').toString();

describe('reconcileReceiverTls', () => {
  it('creates the Secret and the ConfigMap, then reads without writing', async () => {
    const store = new MemoryStore();
    const first = await reconcileReceiverTls(store, { namespace: NS });
    const secret = store.secret();
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(secret.metadata?.labels).toEqual({ 'app.kubernetes.io/managed-by': 'hivewall' });
    expect(Object.keys(secret.data!).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    expect(decode(secret, 'tls.crt')).toBe(first.cert);
    expect(decode(secret, 'ca.crt')).toBe(first.ca);
    expect(store.configMap().data).toEqual({ 'ca.crt': first.ca });
    expect(store.writes).toBe(2);

    const second = await reconcileReceiverTls(store, { namespace: NS });
    expect(second).toEqual(first);
    expect(store.writes).toBe(2);
  });

  it('ends with one certificate when replicas race', async () => {
    const store = new MemoryStore();
    const results = await Promise.all([1, 2, 3].map(() => reconcileReceiverTls(store, { namespace: NS })));
    expect(new Set(results.map((r) => r.cert)).size).toBe(1);
    expect(results[0]!.cert).toBe(decode(store.secret(), 'tls.crt'));
    expect(store.configMap().data).toEqual({ 'ca.crt': results[0]!.ca });
  });

  it('renews an expiring leaf with the stored CA and does not overwrite a renewal that won', async () => {
    const store = new MemoryStore();
    const old = await reconcileReceiverTls(store, { namespace: NS, now: () => new Date(Date.now() - 340 * DAY) });
    // Another replica renews between our read and our update: ours must conflict and adopt theirs.
    let theirs: string | undefined;
    store.beforeWrite = async (op) => {
      if (op !== 'replace Secret' || theirs) return;
      store.beforeWrite = undefined;
      theirs = (await reconcileReceiverTls(store, { namespace: NS })).cert;
    };
    const renewed = await reconcileReceiverTls(store, { namespace: NS });
    expect(theirs).toBeDefined();
    expect(renewed.cert).toBe(theirs);
    expect(renewed.cert).not.toBe(old.cert);
    expect(renewed.ca).toBe(old.ca);
    expect(renewed.notAfter.getTime()).toBeGreaterThan(Date.now() + 360 * DAY);
    expect(decode(store.secret(), 'tls.crt')).toBe(renewed.cert);
  });

  it('repairs the ConfigMap when it differs', async () => {
    const store = new MemoryStore();
    const tls = await reconcileReceiverTls(store, { namespace: NS });
    const cm = store.configMap();
    store.objects.set(`ConfigMap/${NS}/hivewall-receiver-ca`, { ...cm, data: { 'ca.crt': 'stale', 'ca.key': 'leaked' } });
    await reconcileReceiverTls(store, { namespace: NS });
    expect(store.configMap().data).toEqual({ 'ca.crt': tls.ca });
  });

  it('names the object and the RBAC it needs when the API server refuses', async () => {
    const store = new MemoryStore();
    store.beforeWrite = () => { throw new ApiError(403, 'secrets is forbidden: User "system:serviceaccount:hivewall-system:hivewall-operator" cannot create resource "secrets"'); };
    const error = await reconcileReceiverTls(store, { namespace: NS }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReceiverTlsError);
    expect((error as ReceiverTlsError).status).toBe(403);
    expect((error as Error).message).toMatch(/cannot create Secret hivewall-system\/hivewall-receiver-tls: 403 secrets is forbidden.*needs get, create and update on secrets in namespace hivewall-system/);
  });

  it('refuses options that would re-issue on every call', async () => {
    await expect(reconcileReceiverTls(new MemoryStore(), { namespace: NS, leafValidityMs: DAY, renewBeforeMs: 2 * DAY })).rejects.toThrow(RangeError);
  });
});
