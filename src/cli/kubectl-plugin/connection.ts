/**
 * Connecting like kubectl does: `--kubeconfig`, else the files in `KUBECONFIG` (merged, the first
 * file wins), else `~/.kube/config`, else the in-cluster ServiceAccount; `--context` picks the
 * context; `-n` beats the context's namespace, which beats `default`.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { AuthenticationV1Api, KubeConfig, type Cluster, type Context, type User } from '@kubernetes/client-node';
import { InputError, UsageError } from '../errors.js';
import { toCliError } from './api-errors.js';
import { shareConnections } from '../../k8s/connections.js';

export interface ConnectionFlags {
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly namespace?: string;
}

export interface Connection {
  readonly kubeConfig: KubeConfig;
  /** The API server URL of the current context. */
  readonly server: string;
  readonly contextName: string;
  /** `-n`, else the context's namespace, else `default`. */
  readonly namespace: string;
  /** Where the configuration came from, for messages. */
  readonly source: string;
}

function readKubeconfigFile(file: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new InputError(`cannot read kubeconfig ${file}: ${reason}`);
  }
  return kc;
}

/** Merge kubeconfig files the way kubectl does: the first file that sets a value wins. */
function mergeKubeconfigs(files: readonly KubeConfig[]): KubeConfig {
  const clusters = new Map<string, Cluster>();
  const users = new Map<string, User>();
  const contexts = new Map<string, Context>();
  let currentContext = '';
  for (const kc of files) {
    for (const c of kc.getClusters()) if (!clusters.has(c.name)) clusters.set(c.name, c);
    for (const u of kc.getUsers()) if (!users.has(u.name)) users.set(u.name, u);
    for (const c of kc.getContexts()) if (!contexts.has(c.name)) contexts.set(c.name, c);
    if (!currentContext && kc.getCurrentContext()) currentContext = kc.getCurrentContext();
  }
  const merged = new KubeConfig();
  merged.loadFromOptions({ clusters: [...clusters.values()], users: [...users.values()], contexts: [...contexts.values()], currentContext });
  return merged;
}

function loadKubeConfig(flags: ConnectionFlags, env: NodeJS.ProcessEnv): { kc: KubeConfig; source: string } {
  if (flags.kubeconfig) return { kc: readKubeconfigFile(flags.kubeconfig), source: flags.kubeconfig };
  const fromEnv = (env['KUBECONFIG'] ?? '').split(path.delimiter).filter((f) => f !== '');
  if (fromEnv.length > 0) {
    const present = fromEnv.filter((f) => existsSync(f));
    if (present.length === 0) throw new InputError(`cannot read kubeconfig: KUBECONFIG names ${fromEnv.join(path.delimiter)}, and none of these files exists`);
    return { kc: mergeKubeconfigs(present.map(readKubeconfigFile)), source: `KUBECONFIG=${fromEnv.join(path.delimiter)}` };
  }
  const home = env['HOME'] ?? homedir();
  const fallback = path.join(home, '.kube', 'config');
  if (existsSync(fallback)) return { kc: readKubeconfigFile(fallback), source: fallback };
  if (env['KUBERNETES_SERVICE_HOST'] && env['KUBERNETES_SERVICE_PORT']) {
    const kc = new KubeConfig();
    kc.loadFromCluster();
    return { kc, source: 'in-cluster ServiceAccount' };
  }
  throw new InputError('no kubeconfig: pass --kubeconfig <file>, set KUBECONFIG, or create ~/.kube/config');
}

/** Load the configuration and resolve context, server and namespace. No network I/O. */
export function connect(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  const { kc, source } = loadKubeConfig(flags, env);
  const available = kc.getContexts().map((c) => c.name);
  if (flags.context !== undefined) {
    if (!available.includes(flags.context)) {
      throw new UsageError(`context "${flags.context}" not found in ${source}${available.length ? ` (contexts: ${available.join(', ')})` : ' (it has no contexts)'}`);
    }
    kc.setCurrentContext(flags.context);
  }
  const contextName = kc.getCurrentContext();
  const context = contextName ? kc.getContextObject(contextName) : null;
  if (!context) {
    throw new UsageError(`${source} has no current context: pass --context${available.length ? ` (contexts: ${available.join(', ')})` : ''}`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) throw new InputError(`context "${contextName}" in ${source} names cluster "${context.cluster}", which is not defined there`);
  return {
    kubeConfig: shareConnections(kc),
    server: cluster.server,
    contextName,
    namespace: flags.namespace ?? context.namespace ?? 'default',
    source,
  };
}

/** The requesting user's name, as the API server sees it (authentication.k8s.io/v1 SelfSubjectReview). */
export async function whoAmI(conn: Connection): Promise<string> {
  let username: string | undefined;
  try {
    const review = await conn.kubeConfig.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    username = review.status?.userInfo?.username;
  } catch (err) {
    throw toCliError(err, conn, {
      action: 'find out who you are (SelfSubjectReview)',
      notFound: () => `the API server at ${conn.server} does not serve authentication.k8s.io/v1 SelfSubjectReview (Kubernetes 1.28 or later is needed)`,
    });
  }
  if (!username) throw new InputError(`the API server at ${conn.server} did not say who you are (empty SelfSubjectReview)`);
  return username;
}
