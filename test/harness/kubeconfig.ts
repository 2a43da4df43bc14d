// Self-contained kubeconfig files (credentials embedded as base64 data).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dump } from 'js-yaml';

export interface KubeconfigSpec {
  readonly server: string;
  /** PEM file verifying the server; omitted means "use the system trust store". */
  readonly caFile?: string;
  /** Embedded CA data (base64), instead of caFile. */
  readonly caData?: string;
  readonly user: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly token?: string;
  readonly namespace?: string;
}

const b64 = async (file: string) => (await readFile(file)).toString('base64');

export async function kubeconfigYaml(spec: KubeconfigSpec): Promise<string> {
  const cluster: Record<string, string> = { server: spec.server };
  if (spec.caFile) cluster['certificate-authority-data'] = await b64(spec.caFile);
  else if (spec.caData) cluster['certificate-authority-data'] = spec.caData;
  const user: Record<string, string> = {};
  if (spec.certFile) user['client-certificate-data'] = await b64(spec.certFile);
  if (spec.keyFile) user['client-key-data'] = await b64(spec.keyFile);
  if (spec.token) user['token'] = spec.token;
  const context: Record<string, string> = { cluster: 'hivewall-envtest', user: spec.user };
  if (spec.namespace) context['namespace'] = spec.namespace;
  return dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'hivewall-envtest', cluster }],
    users: [{ name: spec.user, user }],
    contexts: [{ name: 'hivewall-envtest', context }],
    'current-context': 'hivewall-envtest',
    preferences: {},
  });
}

export async function writeKubeconfig(file: string, spec: KubeconfigSpec): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, await kubeconfigYaml(spec), { mode: 0o600 });
  return file;
}
