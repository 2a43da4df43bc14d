// Helpers for integration tests that talk to the real API server started by
// ./global-setup.ts (vitest project `integration`).
//
//   import { testNamespace, userIdentity, serviceAccountIdentity, kubectl } from '../harness/index.js';
//
//   it('...', async () => {
//     const ns = await testNamespace();                   // deleted when the test ends
//     const operator = await userIdentity('hivewall-operator', ['hivewall:operators']);
//     const sa = await serviceAccountIdentity(ns.name, 'reader');
//     await bindRole({ namespace: ns.name, subject: sa, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }] });
//     const core = sa.kubeConfig.makeApiClient(CoreV1Api);  // @kubernetes/client-node, acting as the SA
//     const r = await kubectl(['get', 'configmaps', '-n', ns.name], { kubeconfig: sa.kubeconfigPath });
//   });
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  ApiException, AuthorizationV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api,
  type V1PolicyRule, type RbacV1Subject,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, inject, onTestFinished } from 'vitest';
import type { ClusterInfo } from './cluster.js';
import { writeKubeconfig, type KubeconfigSpec } from './kubeconfig.js';
import { issueCert } from './pki.js';
import './context.js';
import { shareConnections } from '../../src/k8s/connections.js';

export type { ClusterInfo } from './cluster.js';

/** The cluster of this vitest run. */
export function cluster(): ClusterInfo {
  const info = inject('hivewallCluster');
  if (!info) throw new Error('no test cluster: run this file in the vitest `integration` project (its globalSetup starts one)');
  return info;
}

/** Admin kubeconfig file (system:masters). */
export function adminKubeconfigPath(): string {
  return cluster().kubeconfig;
}

/** A KubeConfig from `file` whose requests share kept-alive connections, as the operator's do. */
export function loadKubeConfig(file: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return shareConnections(kc);
}

let adminKc: KubeConfig | undefined;
/** Admin `KubeConfig` for @kubernetes/client-node. */
export function adminKubeConfig(): KubeConfig {
  adminKc ??= loadKubeConfig(adminKubeconfigPath());
  return adminKc;
}

export function randomSuffix(bytes = 3): string {
  return randomBytes(bytes).toString('hex');
}

/** Status code of a client-node error (0 if it is not an API error). */
export function apiStatus(err: unknown): number {
  return err instanceof ApiException ? err.code : 0;
}

/** The API server's message for a client-node error (its Status.message), else the error text. */
export function apiErrorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    let body: unknown = err.body;
    if (typeof body === 'string') {
      try { body = JSON.parse(body); } catch { return body as string; }
    }
    const message = (body as { message?: unknown } | undefined)?.message;
    return typeof message === 'string' ? message : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------- namespaces

export interface TestNamespace {
  readonly name: string;
  delete(): Promise<void>;
}

/**
 * Delete a namespace. There is no kube-controller-manager (so no namespace
 * controller): after the DELETE we also clear its finalizers so it goes away
 * instead of staying Terminating. Objects in it stay in etcd, orphaned, which is
 * fine for a throwaway test cluster.
 */
export async function deleteNamespace(name: string): Promise<void> {
  const core = adminKubeConfig().makeApiClient(CoreV1Api);
  try {
    await core.deleteNamespace({ name });
  } catch (err) {
    if (apiStatus(err) === 404) return;
    throw err;
  }
  try {
    const ns = await core.readNamespace({ name });
    if (ns.spec?.finalizers?.length) {
      await core.replaceNamespaceFinalize({ name, body: { ...ns, spec: { ...ns.spec, finalizers: [] } } });
    }
  } catch (err) {
    if (apiStatus(err) !== 404 && apiStatus(err) !== 409) throw err;
  }
}

/**
 * Create a uniquely named namespace now (with its `default` ServiceAccount, so
 * Pods can be created; they stay Pending: there is no scheduler or kubelet);
 * call `.delete()` when done.
 */
export async function createNamespace(prefix = 'test'): Promise<TestNamespace> {
  const name = `${prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 50)}-${randomSuffix()}`;
  const core = adminKubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels: { 'hivewall.dev/test': 'true' } } } });
  // What kube-controller-manager would add (there is none): the `default`
  // ServiceAccount, without which the ServiceAccount admission plugin refuses Pods.
  await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } });
  return { name, delete: () => deleteNamespace(name) };
}

/** A namespace for the current test, deleted when the test finishes. Call inside a test. */
export async function testNamespace(prefix = 'test'): Promise<TestNamespace> {
  const ns = await createNamespace(prefix);
  onTestFinished(() => ns.delete());
  return ns;
}

/**
 * A fresh namespace for each test of the enclosing describe block:
 *   const ns = useNamespace('rbac'); it('...', () => { ns.name ... })
 */
export function useNamespace(prefix = 'test'): { readonly name: string } {
  let current: TestNamespace | undefined;
  beforeEach(async () => { current = await createNamespace(prefix); });
  afterEach(async () => { await current?.delete(); current = undefined; });
  return {
    get name(): string {
      if (!current) throw new Error('useNamespace(): no namespace outside a test');
      return current.name;
    },
  };
}

// ---------------------------------------------------------------- identities

export interface Identity {
  /** The username the API server sees. */
  readonly username: string;
  readonly groups: readonly string[];
  /** Kubeconfig file acting as this identity (for kubectl, or a process under test). */
  readonly kubeconfigPath: string;
  /** The same, for @kubernetes/client-node. */
  readonly kubeConfig: KubeConfig;
  /** RBAC subject naming this identity. */
  readonly subject: RbacV1Subject;
}

async function clusterServerSpec(): Promise<Pick<KubeconfigSpec, 'server' | 'caFile' | 'caData'>> {
  const c = adminKubeConfig().getCurrentCluster();
  if (!c) throw new Error(`no current cluster in ${adminKubeconfigPath()}`);
  if (c.caData) return { server: c.server, caData: c.caData };
  if (c.caFile) return { server: c.server, caFile: c.caFile };
  return { server: c.server };
}

async function scratch(kind: string, name: string): Promise<string> {
  const dir = path.join(cluster().scratchDir, `${kind}-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${randomSuffix()}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

export const NO_CLIENT_CA =
  'cannot mint client certificates: the cluster\'s client CA is unknown (external cluster: set HIVEWALL_TEST_CLIENT_CA_CERT and HIVEWALL_TEST_CLIENT_CA_KEY)';

/** Whether user certificates can be minted (false on an external cluster without its client CA). */
export function canIssueUserCertificates(): boolean {
  return cluster().clientCA !== undefined;
}

/**
 * A user authenticated by a client certificate signed by the cluster's client
 * CA: CN = `username`, O = each of `groups`. Has no permissions until bound.
 */
export async function userIdentity(username: string, groups: readonly string[] = []): Promise<Identity> {
  const ca = cluster().clientCA;
  if (!ca) {
    throw new Error(NO_CLIENT_CA);
  }
  const dir = await scratch('user', username);
  const pair = await issueCert({ ca, dir, name: 'client', commonName: username, organizations: groups, usage: 'client', days: 2 });
  const kubeconfigPath = await writeKubeconfig(path.join(dir, 'kubeconfig'), {
    ...await clusterServerSpec(), user: username, certFile: pair.cert, keyFile: pair.key,
  });
  return {
    username, groups: [...groups, 'system:authenticated'], kubeconfigPath,
    kubeConfig: loadKubeConfig(kubeconfigPath),
    subject: { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: username },
  };
}

/** RBAC subject for a group (e.g. to bind a role to every identity made with that group). */
export function groupSubject(group: string): RbacV1Subject {
  return { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: group };
}

export interface ServiceAccountOptions {
  readonly expirationSeconds?: number;
  readonly audiences?: readonly string[];
}

/**
 * A ServiceAccount (created if missing) and a bound token for it from the
 * TokenRequest API. Has no permissions until bound.
 */
export async function serviceAccountIdentity(namespace: string, name: string, opts: ServiceAccountOptions = {}): Promise<Identity & { readonly token: string }> {
  const core = adminKubeConfig().makeApiClient(CoreV1Api);
  try {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  } catch (err) {
    if (apiStatus(err) !== 409) throw err;
  }
  const tr = await core.createNamespacedServiceAccountToken({
    name, namespace,
    body: { spec: { expirationSeconds: opts.expirationSeconds ?? 3600, audiences: opts.audiences ? [...opts.audiences] : [] } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  const dir = await scratch('sa', `${namespace}-${name}`);
  const kubeconfigPath = await writeKubeconfig(path.join(dir, 'kubeconfig'), {
    ...await clusterServerSpec(), user: `${namespace}-${name}`, token, namespace,
  });
  return {
    username: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
    kubeconfigPath, kubeConfig: loadKubeConfig(kubeconfigPath), token,
    subject: { kind: 'ServiceAccount', name, namespace },
  };
}

export interface BindRoleOptions {
  /** Namespace for a Role + RoleBinding; omit for a ClusterRole + ClusterRoleBinding. */
  readonly namespace?: string;
  readonly subject: RbacV1Subject | Identity;
  readonly rules: V1PolicyRule[];
  readonly name?: string;
}

/** Grant `rules` to a subject (as admin). Returns the role name. */
export async function bindRole(opts: BindRoleOptions): Promise<string> {
  const rbac = adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
  const name = opts.name ?? `hivewall-test-${randomSuffix()}`;
  const subject = 'subject' in opts.subject ? opts.subject.subject : opts.subject;
  const roleRef = { apiGroup: 'rbac.authorization.k8s.io', kind: opts.namespace ? 'Role' : 'ClusterRole', name };
  if (opts.namespace) {
    const namespace = opts.namespace;
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules: opts.rules } });
    await rbac.createNamespacedRoleBinding({ namespace, body: { metadata: { name }, roleRef, subjects: [subject] } });
  } else {
    await rbac.createClusterRole({ body: { metadata: { name }, rules: opts.rules } });
    await rbac.createClusterRoleBinding({ body: { metadata: { name }, roleRef, subjects: [subject] } });
  }
  await untilGranted(subject, opts.namespace, opts.rules[0]);
  return name;
}

/**
 * Waits until the API server's authorizer grants the first verb of `rule` to `subject`: RBAC
 * reads Roles and bindings from an informer cache, so a request right after the binding was
 * created can still be refused (403) under load.
 */
async function untilGranted(subject: RbacV1Subject, namespace: string | undefined, rule: V1PolicyRule | undefined): Promise<void> {
  const verb = rule?.verbs[0];
  const resource = rule?.resources?.[0];
  if (!rule || !verb || !resource) return;
  const authz = adminKubeConfig().makeApiClient(AuthorizationV1Api);
  const who = subject.kind === 'ServiceAccount'
    ? { user: `system:serviceaccount:${subject.namespace}:${subject.name}` }
    : subject.kind === 'Group' ? { groups: [subject.name] } : { user: subject.name };
  const deadline = Date.now() + 15_000;
  for (;;) {
    const review = await authz.createSubjectAccessReview({
      body: { spec: { ...who, resourceAttributes: { namespace, verb, group: rule.apiGroups?.[0] ?? '', resource, ...(rule.resourceNames?.[0] ? { name: rule.resourceNames[0] } : {}) } } },
    });
    if (review.status?.allowed) return;
    if (Date.now() > deadline) throw new Error(`RBAC: ${verb} ${resource} is still not granted to ${subject.kind} ${subject.name} 15 s after the binding was created`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------- kubectl

export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface KubectlOptions {
  /** Kubeconfig to use (default: the admin one). */
  readonly kubeconfig?: string;
  /** Text for stdin (e.g. with `-f -`). */
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** Run kubectl as a user would; never throws for a non-zero exit (check `.code`). */
export function kubectl(args: readonly string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
  const kubeconfig = opts.kubeconfig ?? adminKubeconfigPath();
  return new Promise((resolve, reject) => {
    const child = execFile('kubectl', ['--kubeconfig', kubeconfig, ...args], {
      timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, KUBECONFIG: kubeconfig },
    }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new Error(`kubectl ${args.join(' ')}: ${err.message}`, { cause: err }));
        return;
      }
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** kubectl, failing the test unless it exits 0. Returns stdout. */
export async function kubectlOk(args: readonly string[], opts: KubectlOptions = {}): Promise<string> {
  const r = await kubectl(args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

export interface DryRunResult extends KubectlResult {
  /** True when the API server accepted every object. */
  readonly ok: boolean;
}

/**
 * `kubectl apply --dry-run=server -f <dirOrFile>` (recursive for a folder):
 * the real API server validates every object (built-in schemas, CRD schemas
 * such as CiliumNetworkPolicy's, admission) without persisting anything.
 */
export async function kubectlApplyDryRun(
  kubeconfig: string, dirOrFile: string, opts: { readonly namespace?: string } = {},
): Promise<DryRunResult> {
  const isDir = (await stat(dirOrFile)).isDirectory();
  const args = ['apply', '--dry-run=server', '-f', dirOrFile];
  if (isDir) args.push('--recursive');
  if (opts.namespace) args.push('--namespace', opts.namespace);
  const r = await kubectl(args, { kubeconfig });
  return { ...r, ok: r.code === 0 };
}

/** Write `content` to a temporary YAML file in the scratch folder and return its path. */
export async function writeTempManifest(content: string, name = 'manifest.yaml'): Promise<string> {
  const dir = await scratch('manifest', name);
  const file = path.join(dir, name);
  await writeFile(file, content);
  return file;
}

// ---------------------------------------------------------------- CRDs

/** Whether the real CiliumNetworkPolicy CRD is installed, and if not, why. */
export function ciliumCrd(): { readonly installed: boolean; readonly reason: string } {
  const c = cluster().cilium;
  return { installed: c.installed, reason: c.installed ? '' : `CiliumNetworkPolicy CRD not installed: ${c.reason ?? 'unknown reason'}` };
}
