/**
 * One connection pool per API server for every request of a KubeConfig.
 *
 * `@kubernetes/client-node` 2.0 builds a new undici `Agent` for every API request
 * (`KubeConfig.applySecurityAuthentication` calls its `createDispatcher` each time; only the
 * `https.Agent` that watches use is cached). Each request therefore opens its own TLS connection,
 * paying a handshake, and the connection then idles open until the server drops it: an operator
 * writing a few objects a second holds thousands of sockets, and its Lease renewals wait behind
 * handshakes. {@link shareConnections} keeps one dispatcher per server and credentials and hands
 * it to every request, so requests reuse kept-alive connections.
 */
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';

interface Closable {
  close?(): Promise<void>;
}

/** Marks a KubeConfig whose requests already share connections. */
const SHARED = Symbol('hivewall.sharedConnections');

type CreateDispatcher = (cluster: { server?: string; proxyUrl?: string } | null, agentOptions: Record<string, unknown>) => unknown;

/** The TLS material and endpoint a dispatcher is built from: a new one only when these change (rotated certificates). */
function dispatcherKey(cluster: { server?: string; proxyUrl?: string } | null, agentOptions: Record<string, unknown>): { endpoint: string; credentials: string } {
  const hash = createHash('sha256');
  for (const field of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'servername', 'rejectUnauthorized']) {
    const value = agentOptions[field];
    hash.update(`${field}=`);
    if (value === undefined || value === null) hash.update('-');
    else if (Buffer.isBuffer(value) || typeof value === 'string') hash.update(value);
    else hash.update(JSON.stringify(value));
    hash.update('\0');
  }
  return { endpoint: JSON.stringify([cluster?.server ?? '', cluster?.proxyUrl ?? '']), credentials: hash.digest('base64url') };
}

/**
 * Makes every API request of `kubeConfig` share one dispatcher (connection pool) per API server.
 * When the credentials change (a rotated client certificate), the old pool is closed once its
 * requests finish and a new one is built. Returns the same KubeConfig.
 */
export function shareConnections(kubeConfig: KubeConfig): KubeConfig {
  const target = kubeConfig as unknown as { createDispatcher: CreateDispatcher; [SHARED]?: true };
  if (target[SHARED]) return kubeConfig;
  target[SHARED] = true;
  const build = target.createDispatcher.bind(kubeConfig);
  const pools = new Map<string, { credentials: string; dispatcher: unknown }>();
  target.createDispatcher = (cluster, agentOptions) => {
    const { endpoint, credentials } = dispatcherKey(cluster, agentOptions);
    const pooled = pools.get(endpoint);
    if (pooled?.credentials === credentials) return pooled.dispatcher;
    const dispatcher = build(cluster, agentOptions);
    if (pooled !== undefined) void (pooled.dispatcher as Closable | undefined)?.close?.().catch(() => undefined);
    pools.set(endpoint, { credentials, dispatcher });
    return dispatcher;
  };
  return kubeConfig;
}
