// The receiver's self-issued serving certificate against the real API server, acting as a
// ServiceAccount with only the narrow Role the module documents (secrets and configmaps: create,
// and get/update on the two names).
import { X509Certificate } from 'node:crypto';
import { CoreV1Api, type V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { Kube } from '../../src/k8s/kube.js';
import { captureLogger } from '../../src/runtime/testing.js';
import { ensureReceiverTls, ReceiverTlsError, type ReceiverTls } from '../../src/operator/receiver-tls.js';
import { adminKubeConfig, bindRole, serviceAccountIdentity, testNamespace } from '../harness/index.js';

const DAY = 24 * 60 * 60 * 1000;
const SECRET = 'hivewall-receiver-tls';
const CONFIGMAP = 'hivewall-receiver-ca';
const admin = () => adminKubeConfig().makeApiClient(CoreV1Api);

/** A namespace and an operator identity in it with exactly the documented permissions. */
async function operatorNamespace(): Promise<{ ns: string; kube: () => Kube }> {
  const { name: ns } = await testNamespace('receiver-tls');
  const sa = await serviceAccountIdentity(ns, 'hivewall-operator');
  await bindRole({
    namespace: ns, subject: sa, rules: [
      { apiGroups: [''], resources: ['secrets', 'configmaps'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: [SECRET], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: [CONFIGMAP], verbs: ['get', 'update'] },
    ],
  });
  return { ns, kube: () => new Kube(sa.kubeConfig) };
}

const readSecret = (ns: string) => admin().readNamespacedSecret({ namespace: ns, name: SECRET });
const readConfigMap = (ns: string) => admin().readNamespacedConfigMap({ namespace: ns, name: CONFIGMAP });
const decode = (s: V1Secret, key: string) => Buffer.from(s.data?.[key] ?? '', 'base64').toString();

/** The stored Secret and ConfigMap agree with what the call returned. */
async function expectStored(ns: string, tls: ReceiverTls): Promise<V1Secret> {
  const secret = await readSecret(ns);
  expect(decode(secret, 'tls.crt')).toBe(tls.cert);
  expect(decode(secret, 'tls.key')).toBe(tls.key);
  expect(decode(secret, 'ca.crt')).toBe(tls.ca);
  expect((await readConfigMap(ns)).data).toEqual({ 'ca.crt': decode(secret, 'ca.crt') });
  const leaf = new X509Certificate(tls.cert);
  expect(leaf.verify(new X509Certificate(tls.ca).publicKey)).toBe(true);
  expect(leaf.checkHost(`hivewall-operator.${ns}.svc`)).toBe(`hivewall-operator.${ns}.svc`);
  expect(leaf.validToDate).toEqual(tls.notAfter);
  return secret;
}

describe('ensureReceiverTls on a real API server', () => {
  it('creates the Secret and the ConfigMap once, then only reads', async () => {
    const { ns, kube } = await operatorNamespace();
    const k = kube();
    const first = await ensureReceiverTls(k, { namespace: ns });
    const secret = await expectStored(ns, first);
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(secret.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('hivewall');
    expect(Object.keys(secret.data ?? {}).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    const configMap = await readConfigMap(ns);
    expect(Object.keys(configMap.data ?? {})).toEqual(['ca.crt']);
    expect(k.writes).toBe(2);

    const second = await ensureReceiverTls(k, { namespace: ns });
    expect(second).toEqual(first);
    expect(k.writes).toBe(2);
    expect((await readSecret(ns)).metadata?.resourceVersion).toBe(secret.metadata?.resourceVersion);
    expect((await readConfigMap(ns)).metadata?.resourceVersion).toBe(configMap.metadata?.resourceVersion);
  });

  it('ends with one certificate when replicas start at once', async () => {
    const { ns, kube } = await operatorNamespace();
    const log = captureLogger();
    const results = await Promise.all([kube(), kube(), kube()].map((k) => ensureReceiverTls(k, { namespace: ns, logger: log.logger })));
    // Exactly one create won; the others lost with AlreadyExists or found the Secret already there.
    expect(log.find('receiver TLS: issued a CA and a serving certificate')).toHaveLength(1);
    expect(log.find('receiver TLS: published the CA certificate')).toHaveLength(1);
    expect(new Set(results.map((r) => r.cert)).size).toBe(1);
    expect(new Set(results.map((r) => r.ca)).size).toBe(1);
    await expectStored(ns, results[0]!);
  });

  it('renews an expiring leaf with the same CA and leaves the ConfigMap alone', async () => {
    const { ns, kube } = await operatorNamespace();
    const old = await ensureReceiverTls(kube(), { namespace: ns, now: () => new Date(Date.now() - 340 * DAY) });
    expect(old.notAfter.getTime()).toBeLessThan(Date.now() + 30 * DAY);
    const configMapVersion = (await readConfigMap(ns)).metadata?.resourceVersion;

    const renewed = await ensureReceiverTls(kube(), { namespace: ns });
    expect(renewed.cert).not.toBe(old.cert);
    expect(renewed.key).not.toBe(old.key);
    expect(renewed.ca).toBe(old.ca);
    expect(renewed.notAfter.getTime()).toBeGreaterThan(Date.now() + 360 * DAY);
    await expectStored(ns, renewed);
    expect((await readConfigMap(ns)).metadata?.resourceVersion).toBe(configMapVersion);
  });

  it('replaces an expiring CA and republishes it', async () => {
    const { ns, kube } = await operatorNamespace();
    const old = await ensureReceiverTls(kube(), { namespace: ns, now: () => new Date(Date.now() - 3640 * DAY) });
    const renewed = await ensureReceiverTls(kube(), { namespace: ns });
    expect(renewed.ca).not.toBe(old.ca);
    expect(new X509Certificate(renewed.ca).validToDate.getTime()).toBeGreaterThan(Date.now() + 3600 * DAY);
    await expectStored(ns, renewed);
  });

  it('repairs a corrupted Secret and a tampered ConfigMap, keeping the CA', async () => {
    const { ns, kube } = await operatorNamespace();
    const good = await ensureReceiverTls(kube(), { namespace: ns });
    const secret = await readSecret(ns);
    await admin().replaceNamespacedSecret({
      namespace: ns, name: SECRET,
      body: { ...secret, data: { ...secret.data, 'tls.crt': Buffer.from('garbage').toString('base64') } },
    });
    const configMap = await readConfigMap(ns);
    await admin().replaceNamespacedConfigMap({ namespace: ns, name: CONFIGMAP, body: { ...configMap, data: { 'ca.crt': 'stale' } } });

    const repaired = await ensureReceiverTls(kube(), { namespace: ns });
    expect(repaired.cert).not.toBe(good.cert);
    expect(repaired.ca).toBe(good.ca);
    await expectStored(ns, repaired);
  });

  it('says which Secret and which permissions when RBAC is missing', async () => {
    const { name: ns } = await testNamespace('receiver-tls-rbac');
    const sa = await serviceAccountIdentity(ns, 'hivewall-operator');
    const error = await ensureReceiverTls(new Kube(sa.kubeConfig), { namespace: ns }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReceiverTlsError);
    expect((error as ReceiverTlsError).status).toBe(403);
    expect((error as Error).message).toContain(`cannot read Secret ${ns}/${SECRET}: 403`);
    expect((error as Error).message).toContain(`needs get, create and update on secrets in namespace ${ns}`);
  });
});
