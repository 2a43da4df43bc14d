/**
 * The serving certificate of the operator's edge receiver (`EdgeReceiverServer`, ./receiver.ts),
 * issued by the operator itself.
 *
 * **What.** The node agents push edge batches to `https://<svc>.<ns>.svc:8443/v1/edges` with their
 * ServiceAccount bearer tokens, so the receiver must serve TLS and the agents must be able to
 * verify it. {@link ensureReceiverTls} returns the certificate and key to serve (PEM) and makes sure
 * the agents' trust anchor is published.
 *
 * **Why self-issued.** hivewall must not require cert-manager, and the cluster CA
 * (`certificates.k8s.io` signers) does not issue serving certificates for Services. The only parties
 * that have to trust this certificate are hivewall's own agents, so the operator runs a tiny private
 * CA for exactly this one name: ECDSA P-256, a self-signed CA (basicConstraints CA:true critical,
 * keyUsage keyCertSign + cRLSign, 10 years by default) and a leaf signed by it (keyUsage
 * digitalSignature, extendedKeyUsage serverAuth, 1 year by default) for the Service's DNS names
 * `<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc` and `<svc>.<ns>.svc.cluster.local`.
 *
 * **Objects** (all in the operator's namespace):
 * - Secret `hivewall-receiver-tls`, type `kubernetes.io/tls`, keys `tls.crt`, `tls.key` (the leaf),
 *   `ca.crt`, `ca.key` (the CA), keys as PKCS#8 PEM, labelled `app.kubernetes.io/managed-by: hivewall`.
 *   It is the single source of truth, shared by every operator replica.
 * - ConfigMap `hivewall-receiver-ca`, key `ca.crt` only (never a key): the agent DaemonSet mounts it
 *   and points `HIVEWALL_CONTROLLER_CA_FILE` at it.
 *
 * **How it converges** (safe with several replicas starting at once):
 * 1. Read the Secret. Missing → issue a CA and a leaf and CREATE it; the first replica to create
 *    wins, a create that fails with 409 AlreadyExists re-reads and uses (or repairs) what is stored.
 * 2. Present → validate it (all four keys parse, each key matches its certificate, the CA is a
 *    self-signed CA, the leaf is signed by it, the SANs cover the Service, both are P-256, neither
 *    expires within `renewBeforeMs`). Valid → used as is, nothing is written.
 * 3. Otherwise replace it with an UPDATE carrying the resourceVersion that was read (optimistic
 *    concurrency): a 409 Conflict means another replica wrote first, so re-read and re-validate
 *    instead of overwriting. A valid Secret written by someone else is therefore never replaced.
 * 4. Publish the Secret's `ca.crt` in the ConfigMap (create, or update only if it differs).
 *
 * **Rotation.** A leaf that is unusable or expires within `renewBeforeMs` (30 days by default) is
 * re-issued with the *stored* CA, so agents keep trusting the receiver without any change on their
 * side. Only when the CA itself is unusable or expires within `renewBeforeMs` are a new CA and leaf
 * issued; then the ConfigMap changes too, and agents pick the new CA up when they re-read the
 * mounted file (on restart). The caller serves the returned pair and should call
 * {@link ensureReceiverTls} again before `notAfter - renewBeforeMs` (for example daily) and reload
 * the server's certificate when it changed.
 *
 * **RBAC** (a Role in the operator's namespace): `secrets` get, create, update and `configmaps`
 * get, create, update. Nothing cluster-wide, no list or watch. get and update may be narrowed with
 * `resourceNames` to the two objects; create cannot be (the integration test runs with exactly that).
 */
import { X509Certificate, createPrivateKey, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import type { CoreV1Api, V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import type * as X509 from '@peculiar/x509';
import type { Logger } from 'pino';
import { statusOf, type Kube } from '../k8s/kube.js';

// ---------------------------------------------------------------- options and results

const DAY_MS = 24 * 60 * 60 * 1000;

export const RECEIVER_TLS_DEFAULTS = {
  secretName: 'hivewall-receiver-tls',
  caConfigMapName: 'hivewall-receiver-ca',
  serviceName: 'hivewall-operator',
  caValidityMs: 3650 * DAY_MS,
  leafValidityMs: 365 * DAY_MS,
  renewBeforeMs: 30 * DAY_MS,
} as const;

/** `notBefore` is back-dated this much so agents with a slightly slow clock accept a fresh certificate. */
const BACKDATE_MS = 5 * 60 * 1000;
/** How often one call re-reads after losing a race before giving up. */
const MAX_ATTEMPTS = 6;
const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'hivewall' } as const;
const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';

export interface ReceiverTlsOptions {
  /** The operator's namespace: the Secret, the ConfigMap and the Service live here. */
  readonly namespace: string;
  /** Default `hivewall-receiver-tls`. */
  readonly secretName?: string;
  /** Default `hivewall-receiver-ca`. */
  readonly caConfigMapName?: string;
  /** The Service the agents connect to; default `hivewall-operator`. */
  readonly serviceName?: string;
  /** Default: the system clock. */
  readonly now?: () => Date;
  /** Lifetime of a newly issued CA; default 3,650 days. */
  readonly caValidityMs?: number;
  /** Lifetime of a newly issued leaf (never beyond its CA's); default 365 days. */
  readonly leafValidityMs?: number;
  /** A certificate expiring within this is replaced; default 30 days. */
  readonly renewBeforeMs?: number;
  readonly logger?: Logger;
}

/** What the receiver serves (PEM) and what the agents trust. */
export interface ReceiverTls {
  /** The leaf certificate. */
  readonly cert: string;
  /** The leaf's private key, PKCS#8. */
  readonly key: string;
  /** The CA certificate (also in the ConfigMap). */
  readonly ca: string;
  /** The leaf's expiry. */
  readonly notAfter: Date;
}

/** A failure to read or write the TLS objects, naming the object and the permission it needs. */
export class ReceiverTlsError extends Error {
  override readonly name = 'ReceiverTlsError';
  constructor(message: string, readonly status: number | undefined, options?: { cause?: unknown }) {
    super(message, options);
  }
}

// ---------------------------------------------------------------- @peculiar/x509, loaded lazily

let x509Module: Promise<typeof X509> | undefined;
/**
 * @peculiar/x509, loaded lazily: it registers its algorithms with tsyringe, which refuses to load
 * without the `Reflect` metadata API, so `reflect-metadata` is imported first.
 */
export function loadX509(): Promise<typeof X509> {
  x509Module ??= import('reflect-metadata').then(() => import('@peculiar/x509'));
  return x509Module;
}

/** Node's WebCrypto, passed explicitly to every @peculiar/x509 call (no global provider state). */
const subtleCrypto: webcrypto.Crypto = webcrypto;

// ---------------------------------------------------------------- issuing (pure apart from randomness)

export interface KeyPairPem {
  /** Certificate, PEM. */
  readonly cert: string;
  /** Private key, PKCS#8 PEM. */
  readonly key: string;
}

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** The DNS names the receiver's certificate must carry for Service `service` in `namespace`. */
export function receiverDnsNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

/** A positive 128-bit serial number, hex. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

const pemOf = (cert: X509.X509Certificate): string => `${cert.toString('pem').replace(/\r\n/g, '\n').trim()}\n`;
const keyPem = (key: webcrypto.CryptoKey): string => KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await subtleCrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

export interface IssueCaOptions {
  readonly now: Date;
  readonly validityMs: number;
  /** Default `hivewall-receiver-ca@<unix seconds>`: a new CA is recognisable as new. */
  readonly commonName?: string;
}

/** A self-signed ECDSA P-256 CA: basicConstraints CA:true (critical), keyUsage keyCertSign + cRLSign. */
export async function issueCa(opts: IssueCaOptions): Promise<KeyPairPem> {
  const x = await loadX509();
  const keys = await generateKeys();
  const cn = opts.commonName ?? `hivewall-receiver-ca@${Math.floor(opts.now.getTime() / 1000)}`;
  const cert = await x.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [cn] }, { O: ['hivewall'] }],
    notBefore: new Date(opts.now.getTime() - BACKDATE_MS),
    notAfter: new Date(opts.now.getTime() + opts.validityMs),
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x.BasicConstraintsExtension(true, undefined, true),
      new x.KeyUsagesExtension(x.KeyUsageFlags.keyCertSign | x.KeyUsageFlags.cRLSign, true),
      await x.SubjectKeyIdentifierExtension.create(keys.publicKey, false, subtleCrypto),
    ],
  }, subtleCrypto);
  return { cert: pemOf(cert), key: keyPem(keys.privateKey) };
}

export interface IssueLeafOptions {
  /** The signing CA (PEM certificate and PKCS#8 ECDSA P-256 key). */
  readonly ca: KeyPairPem;
  readonly dnsNames: readonly string[];
  readonly now: Date;
  /** Capped at the CA's own expiry. */
  readonly validityMs: number;
  /** Default: the first name ending in `.svc` (`<svc>.<ns>.svc`). */
  readonly commonName?: string;
}

/** An ECDSA P-256 serving certificate for `dnsNames` signed by `ca`: keyUsage digitalSignature, EKU serverAuth. */
export async function issueLeaf(opts: IssueLeafOptions): Promise<KeyPairPem> {
  const x = await loadX509();
  const commonName = opts.commonName ?? opts.dnsNames.find((n) => n.endsWith('.svc')) ?? opts.dnsNames[0] ?? 'hivewall-receiver';
  const caCert = new x.X509Certificate(opts.ca.cert);
  const caKey = await subtleCrypto.subtle.importKey('pkcs8', createPrivateKey(opts.ca.key).export({ type: 'pkcs8', format: 'der' }), EC_P256, false, ['sign']);
  const keys = await generateKeys();
  const notAfter = Math.min(opts.now.getTime() + opts.validityMs, caCert.notAfter.getTime());
  const cert = await x.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [commonName] }, { O: ['hivewall'] }],
    issuer: caCert.subjectName,
    notBefore: new Date(Math.max(opts.now.getTime() - BACKDATE_MS, caCert.notBefore.getTime())),
    notAfter: new Date(notAfter),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x.BasicConstraintsExtension(false, undefined, true),
      new x.KeyUsagesExtension(x.KeyUsageFlags.digitalSignature, true),
      new x.ExtendedKeyUsageExtension([x.ExtendedKeyUsage.serverAuth], false),
      new x.SubjectAlternativeNameExtension(opts.dnsNames.map((value) => ({ type: 'dns' as const, value })), false),
      await x.SubjectKeyIdentifierExtension.create(keys.publicKey, false, subtleCrypto),
      await x.AuthorityKeyIdentifierExtension.create(caCert, false, subtleCrypto),
    ],
  }, subtleCrypto);
  return { cert: pemOf(cert), key: keyPem(keys.privateKey) };
}

// ---------------------------------------------------------------- validating (pure, node:crypto)

/** The four PEM entries of the Secret, decoded. */
export interface StoredTls {
  readonly 'tls.crt'?: string;
  readonly 'tls.key'?: string;
  readonly 'ca.crt'?: string;
  readonly 'ca.key'?: string;
}

export type TlsVerdict =
  | { readonly status: 'valid'; readonly ca: KeyPairPem; readonly leaf: KeyPairPem; readonly notAfter: Date }
  /** The CA is good; only the leaf must be re-issued (with it). */
  | { readonly status: 'renew-leaf'; readonly ca: KeyPairPem; readonly reason: string }
  /** The CA itself is unusable or expiring: a new CA and leaf. */
  | { readonly status: 'renew-all'; readonly reason: string };

export interface CheckOptions {
  readonly dnsNames: readonly string[];
  readonly now: Date;
  readonly renewBeforeMs: number;
}

class Unusable extends Error {}

function parseCert(pem: string | undefined, what: string): X509Certificate {
  if (!pem || !pem.includes('-----BEGIN CERTIFICATE-----')) throw new Unusable(`${what} is missing or not a PEM certificate`);
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new Unusable(`${what} does not parse: ${(error as Error).message}`);
  }
}

function parseKey(pem: string | undefined, what: string): KeyObject {
  if (!pem || !pem.includes('PRIVATE KEY-----')) throw new Unusable(`${what} is missing or not a PEM private key`);
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new Unusable(`${what} does not parse: ${(error as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Unusable(`${what} is not an ECDSA P-256 key (${key.asymmetricKeyType ?? 'unknown'} ${key.asymmetricKeyDetails?.namedCurve ?? ''})`.trim());
  }
  return key;
}

function checkTimes(cert: X509Certificate, what: string, opts: CheckOptions): void {
  const now = opts.now.getTime();
  // A certificate issued by a replica whose clock runs a little ahead is still fine.
  if (cert.validFromDate.getTime() > now + BACKDATE_MS) throw new Unusable(`${what} is not valid before ${cert.validFromDate.toISOString()}`);
  if (cert.validToDate.getTime() - opts.renewBeforeMs <= now) throw new Unusable(`${what} expires ${cert.validToDate.toISOString()}, within the renewal window`);
}

/** The DNS names of a certificate's subjectAltName. */
export function dnsNamesOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
}

/**
 * Whether the stored material can be served: which part, if any, must be re-issued and why.
 * Never throws for bad input; garbage is a reason.
 */
export function checkStoredTls(stored: StoredTls, opts: CheckOptions): TlsVerdict {
  let ca: KeyPairPem;
  let caCert: X509Certificate;
  try {
    caCert = parseCert(stored['ca.crt'], 'ca.crt');
    const caKey = parseKey(stored['ca.key'], 'ca.key');
    if (!caCert.ca) throw new Unusable('ca.crt is not a CA certificate');
    if (!caCert.checkPrivateKey(caKey)) throw new Unusable('ca.key does not match ca.crt');
    if (!caCert.checkIssued(caCert) || !caCert.verify(caCert.publicKey)) throw new Unusable('ca.crt is not self-signed');
    checkTimes(caCert, 'ca.crt', opts);
    ca = { cert: stored['ca.crt']!, key: stored['ca.key']! };
  } catch (error) {
    if (error instanceof Unusable) return { status: 'renew-all', reason: error.message };
    throw error;
  }
  try {
    const leaf = parseCert(stored['tls.crt'], 'tls.crt');
    const leafKey = parseKey(stored['tls.key'], 'tls.key');
    if (leaf.ca) throw new Unusable('tls.crt is a CA certificate');
    if (!leaf.checkPrivateKey(leafKey)) throw new Unusable('tls.key does not match tls.crt');
    if (!leaf.checkIssued(caCert) || !leaf.verify(caCert.publicKey)) throw new Unusable('tls.crt is not signed by ca.crt');
    const names = new Set(dnsNamesOf(leaf));
    const missing = opts.dnsNames.filter((n) => !names.has(n));
    if (missing.length > 0) throw new Unusable(`tls.crt does not cover ${missing.join(', ')}`);
    if (leaf.keyUsage !== undefined && !leaf.keyUsage.includes(SERVER_AUTH_OID)) throw new Unusable('tls.crt is not for serverAuth');
    checkTimes(leaf, 'tls.crt', opts);
    return { status: 'valid', ca, leaf: { cert: stored['tls.crt']!, key: stored['tls.key']! }, notAfter: leaf.validToDate };
  } catch (error) {
    if (error instanceof Unusable) return { status: 'renew-leaf', ca, reason: error.message };
    throw error;
  }
}

// ---------------------------------------------------------------- the store

/**
 * The six calls {@link reconcileReceiverTls} makes. Errors must carry the HTTP status as `code`
 * (as @kubernetes/client-node's ApiException does): 404 on read is "absent", 409 on create is
 * AlreadyExists, 409 on replace is a resourceVersion conflict.
 */
export interface ReceiverTlsStore {
  readSecret(namespace: string, name: string): Promise<V1Secret>;
  createSecret(namespace: string, body: V1Secret): Promise<V1Secret>;
  replaceSecret(namespace: string, name: string, body: V1Secret): Promise<V1Secret>;
  readConfigMap(namespace: string, name: string): Promise<V1ConfigMap>;
  createConfigMap(namespace: string, body: V1ConfigMap): Promise<V1ConfigMap>;
  replaceConfigMap(namespace: string, name: string, body: V1ConfigMap): Promise<V1ConfigMap>;
}

/** The store over the operator's `Kube` client (its typed CoreV1Api); writes are counted in `kube.writes`. */
export function kubeReceiverTlsStore(kube: Kube): ReceiverTlsStore {
  const core: CoreV1Api = kube.core;
  const write = <T>(fn: () => Promise<T>): Promise<T> => {
    kube.writes++;
    return fn();
  };
  return {
    readSecret: (namespace, name) => core.readNamespacedSecret({ namespace, name }),
    createSecret: (namespace, body) => write(() => core.createNamespacedSecret({ namespace, body })),
    replaceSecret: (namespace, name, body) => write(() => core.replaceNamespacedSecret({ namespace, name, body })),
    readConfigMap: (namespace, name) => core.readNamespacedConfigMap({ namespace, name }),
    createConfigMap: (namespace, body) => write(() => core.createNamespacedConfigMap({ namespace, body })),
    replaceConfigMap: (namespace, name, body) => write(() => core.replaceNamespacedConfigMap({ namespace, name, body })),
  };
}

function apiMessage(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      const message = (JSON.parse(body) as { message?: unknown }).message;
      if (typeof message === 'string') return message;
    } catch {
      return body.slice(0, 300);
    }
  }
  if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') return (body as { message: string }).message;
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}

const SECRET_RBAC = 'get, create and update on secrets';
const CONFIGMAP_RBAC = 'get, create and update on configmaps';

function failure(operation: string, object: string, namespace: string, rbac: string, error: unknown): ReceiverTlsError {
  const status = statusOf(error);
  const hint = status === 401 || status === 403
    ? ` — the operator's ServiceAccount needs ${rbac} in namespace ${namespace} (a Role bound to it there)`
    : '';
  return new ReceiverTlsError(`receiver TLS: cannot ${operation} ${object}: ${status ?? 'no response'} ${apiMessage(error)}${hint}`, status, { cause: error });
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

function decodeSecret(secret: V1Secret): StoredTls {
  const data = secret.data ?? {};
  return { 'tls.crt': unb64(data['tls.crt']), 'tls.key': unb64(data['tls.key']), 'ca.crt': unb64(data['ca.crt']), 'ca.key': unb64(data['ca.key']) };
}

function secretBody(namespace: string, name: string, ca: KeyPairPem, leaf: KeyPairPem, previous?: V1Secret): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: {
      ...(previous?.metadata ?? {}),
      name,
      namespace,
      labels: { ...(previous?.metadata?.labels ?? {}), ...MANAGED_BY },
      // Drop server-managed fields that a replace would reject or ignore, keep resourceVersion.
      managedFields: undefined,
    },
    data: { 'tls.crt': b64(leaf.cert), 'tls.key': b64(leaf.key), 'ca.crt': b64(ca.cert), 'ca.key': b64(ca.key) },
  };
}

/** {@link ensureReceiverTls} over any {@link ReceiverTlsStore} (the unit tests use an in-memory one). */
export async function reconcileReceiverTls(store: ReceiverTlsStore, opts: ReceiverTlsOptions): Promise<ReceiverTls> {
  const namespace = opts.namespace;
  const secretName = opts.secretName ?? RECEIVER_TLS_DEFAULTS.secretName;
  const configMapName = opts.caConfigMapName ?? RECEIVER_TLS_DEFAULTS.caConfigMapName;
  const dnsNames = receiverDnsNames(opts.serviceName ?? RECEIVER_TLS_DEFAULTS.serviceName, namespace);
  const caValidityMs = opts.caValidityMs ?? RECEIVER_TLS_DEFAULTS.caValidityMs;
  const leafValidityMs = opts.leafValidityMs ?? RECEIVER_TLS_DEFAULTS.leafValidityMs;
  const renewBeforeMs = opts.renewBeforeMs ?? RECEIVER_TLS_DEFAULTS.renewBeforeMs;
  if (!(leafValidityMs > renewBeforeMs) || !(caValidityMs > renewBeforeMs)) {
    throw new RangeError(`receiver TLS: validity (CA ${caValidityMs} ms, leaf ${leafValidityMs} ms) must exceed renewBeforeMs (${renewBeforeMs} ms), or every call would re-issue`);
  }
  const clock = opts.now ?? (() => new Date());
  const log = opts.logger;
  const secretLabel = `Secret ${namespace}/${secretName}`;

  let result: ReceiverTls | undefined;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS && !result; attempt++) {
    const now = clock();
    let current: V1Secret | undefined;
    try {
      current = await store.readSecret(namespace, secretName);
    } catch (error) {
      if (statusOf(error) !== 404) throw failure('read', secretLabel, namespace, SECRET_RBAC, error);
    }

    if (!current) {
      const ca = await issueCa({ now, validityMs: caValidityMs });
      const leaf = await issueLeaf({ ca, dnsNames, now, validityMs: leafValidityMs });
      try {
        await store.createSecret(namespace, secretBody(namespace, secretName, ca, leaf));
        log?.info({ secret: secretLabel, dnsNames }, 'receiver TLS: issued a CA and a serving certificate');
        result = { cert: leaf.cert, key: leaf.key, ca: ca.cert, notAfter: new X509Certificate(leaf.cert).validToDate };
      } catch (error) {
        if (statusOf(error) !== 409) throw failure('create', secretLabel, namespace, SECRET_RBAC, error);
        log?.debug({ secret: secretLabel }, 'receiver TLS: another replica created the Secret first; using it');
      }
      continue;
    }

    const verdict = checkStoredTls(decodeSecret(current), { dnsNames, now, renewBeforeMs });
    if (verdict.status === 'valid') {
      result = { cert: verdict.leaf.cert, key: verdict.leaf.key, ca: verdict.ca.cert, notAfter: verdict.notAfter };
      continue;
    }
    const ca = verdict.status === 'renew-leaf' ? verdict.ca : await issueCa({ now, validityMs: caValidityMs });
    const leaf = await issueLeaf({ ca, dnsNames, now, validityMs: leafValidityMs });
    try {
      await store.replaceSecret(namespace, secretName, secretBody(namespace, secretName, ca, leaf, current));
      log?.info({ secret: secretLabel, reason: verdict.reason, newCa: verdict.status === 'renew-all' },
        verdict.status === 'renew-all' ? 'receiver TLS: issued a new CA and serving certificate' : 'receiver TLS: renewed the serving certificate with the stored CA');
      result = { cert: leaf.cert, key: leaf.key, ca: ca.cert, notAfter: new X509Certificate(leaf.cert).validToDate };
    } catch (error) {
      const status = statusOf(error);
      if (status === 409) {
        log?.debug({ secret: secretLabel }, 'receiver TLS: the Secret changed while renewing; re-reading');
        continue;
      }
      if (status === 422) {
        throw new ReceiverTlsError(`receiver TLS: cannot update ${secretLabel} (type ${current.type ?? 'Opaque'}): ${apiMessage(error)} — delete it so the operator recreates it as kubernetes.io/tls`, status, { cause: error });
      }
      throw failure('update', secretLabel, namespace, SECRET_RBAC, error);
    }
  }
  if (!result) throw new ReceiverTlsError(`receiver TLS: ${secretLabel} kept changing under ${MAX_ATTEMPTS} attempts to read and write it; giving up for now`, 409);

  await publishCa(store, namespace, configMapName, result.ca, log);
  return result;
}

async function publishCa(store: ReceiverTlsStore, namespace: string, name: string, ca: string, log: Logger | undefined): Promise<void> {
  const label = `ConfigMap ${namespace}/${name}`;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    let current: V1ConfigMap | undefined;
    try {
      current = await store.readConfigMap(namespace, name);
    } catch (error) {
      if (statusOf(error) !== 404) throw failure('read', label, namespace, CONFIGMAP_RBAC, error);
    }
    if (!current) {
      try {
        await store.createConfigMap(namespace, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels: { ...MANAGED_BY } }, data: { 'ca.crt': ca } });
        log?.info({ configMap: label }, 'receiver TLS: published the CA certificate');
        return;
      } catch (error) {
        if (statusOf(error) !== 409) throw failure('create', label, namespace, CONFIGMAP_RBAC, error);
        continue;
      }
    }
    const data = current.data ?? {};
    const upToDate = data['ca.crt'] === ca && Object.keys(data).length === 1 && Object.keys(current.binaryData ?? {}).length === 0;
    if (upToDate) return;
    try {
      await store.replaceConfigMap(namespace, name, {
        ...current,
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { ...current.metadata, labels: { ...(current.metadata?.labels ?? {}), ...MANAGED_BY }, managedFields: undefined },
        data: { 'ca.crt': ca },
        binaryData: undefined,
      });
      log?.info({ configMap: label }, 'receiver TLS: updated the published CA certificate');
      return;
    } catch (error) {
      if (statusOf(error) !== 409) throw failure('update', label, namespace, CONFIGMAP_RBAC, error);
    }
  }
  throw new ReceiverTlsError(`receiver TLS: ${label} kept changing under ${MAX_ATTEMPTS} attempts to update it; giving up for now`, 409);
}

/**
 * Makes sure the receiver's CA and serving certificate exist, are valid and published; returns
 * what to serve. Idempotent and safe to call from several replicas at once; writes only when
 * something is missing, invalid or due for renewal. See the module comment.
 */
export function ensureReceiverTls(kube: Kube, opts: ReceiverTlsOptions): Promise<ReceiverTls> {
  return reconcileReceiverTls(kubeReceiverTlsStore(kube), opts);
}
