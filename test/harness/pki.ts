// Certificates for the test control plane, made with the openssl CLI (Node's
// crypto can parse X.509 but not issue it). EC P-256 keys: fast to generate.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface CertPair {
  readonly cert: string; // path to PEM certificate
  readonly key: string; // path to PEM private key
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args, { maxBuffer: 4 * 1024 * 1024 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error('openssl is not installed (run scripts/ci-deps.sh or apt-get install -y openssl)', { cause: err });
    }
    throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

/** Escape a value for an openssl -subj string ("/CN=a/O=b"). */
function subjPart(value: string): string {
  return value.replace(/[\\/+,=]/g, (c) => `\\${c}`);
}

export function subject(commonName: string, organizations: readonly string[] = []): string {
  return `/CN=${subjPart(commonName)}` + organizations.map((o) => `/O=${subjPart(o)}`).join('');
}

export async function generateKey(keyPath: string): Promise<void> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]);
}

/** A self-signed CA certificate and key in `dir` as `<name>.crt` / `<name>.key`. */
export async function createCA(dir: string, name: string, commonName: string): Promise<CertPair> {
  await mkdir(dir, { recursive: true });
  const pair = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  await generateKey(pair.key);
  await openssl([
    'req', '-x509', '-new', '-key', pair.key, '-sha256', '-days', '3650', '-subj', subject(commonName),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    '-out', pair.cert,
  ]);
  return pair;
}

export interface IssueOptions {
  readonly ca: CertPair;
  readonly dir: string;
  readonly name: string; // file base name
  readonly commonName: string;
  readonly organizations?: readonly string[];
  readonly usage: 'client' | 'server';
  readonly sans?: readonly string[]; // e.g. ['IP:127.0.0.1', 'DNS:localhost'] (server certs)
  readonly days?: number;
}

/** A key and a certificate signed by `ca`, as `<dir>/<name>.crt` / `.key`. */
export async function issueCert(opts: IssueOptions): Promise<CertPair> {
  await mkdir(opts.dir, { recursive: true });
  const pair = { cert: path.join(opts.dir, `${opts.name}.crt`), key: path.join(opts.dir, `${opts.name}.key`) };
  const csr = path.join(opts.dir, `${opts.name}.csr`);
  const ext = path.join(opts.dir, `${opts.name}.ext`);
  await generateKey(pair.key);
  await openssl(['req', '-new', '-key', pair.key, '-subj', subject(opts.commonName, opts.organizations ?? []), '-out', csr]);
  const lines = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${opts.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
  ];
  if (opts.sans && opts.sans.length > 0) lines.push(`subjectAltName=${opts.sans.join(',')}`);
  await writeFile(ext, lines.join('\n') + '\n');
  await openssl([
    'x509', '-req', '-in', csr, '-CA', opts.ca.cert, '-CAkey', opts.ca.key,
    '-set_serial', `0x${randomBytes(12).toString('hex')}`,
    '-days', String(opts.days ?? 365), '-sha256', '-extfile', ext, '-out', pair.cert,
  ]);
  await rm(csr, { force: true });
  await rm(ext, { force: true });
  return pair;
}

/** Key pair for signing/verifying service-account tokens (ES256). */
export async function createServiceAccountKeys(dir: string): Promise<{ privateKey: string; publicKey: string }> {
  await mkdir(dir, { recursive: true });
  const privateKey = path.join(dir, 'sa.key');
  const publicKey = path.join(dir, 'sa.pub');
  await generateKey(privateKey);
  await openssl(['pkey', '-in', privateKey, '-pubout', '-out', publicKey]);
  return { privateKey, publicKey };
}

export async function readBase64(file: string): Promise<string> {
  return (await readFile(file)).toString('base64');
}
