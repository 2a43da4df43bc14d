/**
 * A read-only connection to the API server without `@kubernetes/client-node`, for the commands
 * whose start-up matters most (bench: plugin_overhead_ms): loading the client costs more than
 * everything else the plugin does before its first request.
 *
 * It applies only to the kubeconfigs whose meaning is plain: a server, its CA (file or data),
 * insecure-skip-tls-verify and tls-server-name, and a user with a bearer token and/or a client
 * certificate and key (files or data), every entry well-formed, found the way connection.ts finds
 * it (`--kubeconfig`, `KUBECONFIG` merged with the first file winning, `~/.kube/config`). Anything
 * else (exec and auth-provider plugins, token files, basic auth, impersonation, proxies, in-cluster
 * credentials, a missing file or context, an invalid entry) gives `undefined`, and the caller takes
 * the client's path, which also says what is wrong. Where it applies, it sends what the client
 * sends: the same TLS options and `Authorization: Bearer <token>`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { homedir } from 'node:os';
import path from 'node:path';
import { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';
import { load } from 'js-yaml';
import type { ConnectionFlags } from './connection.js';

/** What requests need of a simple kubeconfig, and what messages name. */
export interface QuickConnection {
  readonly server: string;
  readonly contextName: string;
  readonly namespace: string;
  readonly source: string;
  readonly tls: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer; readonly rejectUnauthorized?: false; readonly servername?: string };
  readonly token?: string;
}

type Entry = Record<string, unknown>;

const CLUSTER_FIELDS = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name', 'extensions']);
const USER_FIELDS = new Set(['token', 'client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'extensions']);

const isEntry = (v: unknown): v is Entry => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

interface Named {
  readonly name: string;
  readonly body: Entry;
  /** The kubeconfig file's folder: relative certificate paths are taken from it. */
  readonly dir: string;
}

interface ParsedFile {
  readonly clusters: Named[];
  readonly users: Named[];
  readonly contexts: Named[];
  readonly currentContext: string | undefined;
}

/** One file as the client reads it, or undefined when the client would refuse it or read more into it. */
function parseFile(file: string): ParsedFile | undefined {
  let doc: unknown;
  try {
    doc = load(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (!isEntry(doc)) return undefined;
  const dir = path.dirname(file);
  const section = (key: string, field: string): Named[] | undefined => {
    const list = doc[key];
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) return [];
    const out: Named[] = [];
    for (const elt of list) {
      if (!isEntry(elt) || !str(elt['name'])) return undefined;
      const body = elt[field];
      if (body !== undefined && body !== null && !isEntry(body)) return undefined;
      out.push({ name: elt['name'] as string, body: (body ?? {}) as Entry, dir });
    }
    return out;
  };
  const clusters = section('clusters', 'cluster');
  const users = section('users', 'user');
  const contexts = section('contexts', 'context');
  if (!clusters || !users || !contexts) return undefined;
  // The client requires a server per cluster and a cluster per context.
  if (clusters.some((c) => !str(c.body['server'])) || contexts.some((c) => !c.body['cluster'])) return undefined;
  const current = doc['current-context'];
  return { clusters, users, contexts, currentContext: typeof current === 'string' ? current : undefined };
}

function kubeconfigFiles(flags: ConnectionFlags, env: NodeJS.ProcessEnv): { files: string[]; source: string } | undefined {
  if (flags.kubeconfig) return existsSync(flags.kubeconfig) ? { files: [flags.kubeconfig], source: flags.kubeconfig } : undefined;
  const fromEnv = (env['KUBECONFIG'] ?? '').split(path.delimiter).filter((f) => f !== '');
  if (fromEnv.length > 0) {
    const present = fromEnv.filter((f) => existsSync(f));
    return present.length > 0 ? { files: present, source: `KUBECONFIG=${fromEnv.join(path.delimiter)}` } : undefined;
  }
  const fallback = path.join(env['HOME'] ?? homedir(), '.kube', 'config');
  return existsSync(fallback) ? { files: [fallback], source: fallback } : undefined;
}

const firstByName = (lists: readonly Named[][], name: string | undefined): Named | undefined => {
  for (const list of lists) {
    const found = list.find((e) => e.name === name);
    if (found) return found;
  }
  return undefined;
};

const fileOrData = (dir: string, file: unknown, data: unknown): Buffer | undefined => {
  const f = str(file);
  if (f) return readFileSync(path.isAbsolute(f) ? f : path.join(dir, f));
  const d = str(data);
  return d ? Buffer.from(d, 'base64') : undefined;
};

/** The connection for a plain kubeconfig, or undefined: then the client's path applies. */
export function quickConnect(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): QuickConnection | undefined {
  const found = kubeconfigFiles(flags, env);
  if (!found) return undefined;
  const parsed: ParsedFile[] = [];
  for (const file of found.files) {
    const p = parseFile(file);
    if (!p) return undefined;
    parsed.push(p);
  }
  const contextName = flags.context ?? parsed.map((p) => p.currentContext).find((c) => c);
  const context = firstByName(parsed.map((p) => p.contexts), contextName);
  if (!context || contextName === undefined) return undefined;
  const cluster = firstByName(parsed.map((p) => p.clusters), str(context.body['cluster']));
  if (!cluster || Object.keys(cluster.body).some((k) => !CLUSTER_FIELDS.has(k))) return undefined;
  const userName = str(context.body['user']);
  const user = userName === undefined ? undefined : firstByName(parsed.map((p) => p.users), userName);
  // Without a user the client sends no credentials and no TLS options at all: left to it.
  if (!user || Object.keys(user.body).some((k) => !USER_FIELDS.has(k))) return undefined;
  if (user.body['token'] !== undefined && typeof user.body['token'] !== 'string') return undefined;
  const server = (cluster.body['server'] as string).replace(/\/$/, '');
  const insecure = cluster.body['insecure-skip-tls-verify'] === true;
  // The client refuses plain HTTP unless TLS verification is off (and fails on other schemes).
  if (!(server.startsWith('https://') || (server.startsWith('http://') && insecure))) return undefined;
  try {
    const ca = fileOrData(cluster.dir, cluster.body['certificate-authority'], cluster.body['certificate-authority-data']);
    const cert = fileOrData(user.dir, user.body['client-certificate'], user.body['client-certificate-data']);
    const key = fileOrData(user.dir, user.body['client-key'], user.body['client-key-data']);
    const servername = str(cluster.body['tls-server-name']);
    const token = str(user.body['token']);
    return {
      server,
      contextName,
      namespace: flags.namespace ?? str(context.body['namespace']) ?? 'default',
      source: found.source,
      tls: {
        ...(ca ? { ca } : {}),
        ...(cert ? { cert } : {}),
        ...(key ? { key } : {}),
        ...(insecure ? { rejectUnauthorized: false as const } : {}),
        ...(servername ? { servername } : {}),
      },
      ...(token ? { token } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * GET `apiPath` (e.g. `/apis/hivewall.dev/v1alpha1/policyproposals`) as JSON. A response other
 * than 2xx throws the client's ApiException with the body, so api-errors.ts reads it the same way;
 * a connection failure throws the socket's error (its code names it).
 */
export async function getJson(conn: QuickConnection, apiPath: string): Promise<unknown> {
  const url = new URL(conn.server + apiPath);
  // TLS is loaded only for an https server.
  const send = url.protocol === 'http:' ? httpRequest : (await import('node:https')).request;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (conn.token) headers['authorization'] = `Bearer ${conn.token}`;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'GET', headers, ...conn.tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const code = res.statusCode ?? 0;
        if (code < 200 || code > 299) {
          reject(new ApiException(code, `HTTP ${code}`, text, flatHeaders(res.headers)));
          return;
        }
        try {
          resolve(JSON.parse(text));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const flatHeaders = (headers: IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
