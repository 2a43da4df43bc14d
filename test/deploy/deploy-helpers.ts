// Shared by the test/deploy tests: install deploy/ the way users do, run the kubectl plugin, make
// PolicyProposals.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdmissionregistrationV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { proposalContentDigest } from '../../src/domain/approval.js';
import { adminKubeConfig, apiErrorMessage, apiStatus, kubectl, type KubectlResult } from '../harness/index.js';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const deployDir = path.join(repo, 'deploy');
export const pluginBin = path.join(repo, 'bin', 'kubectl-hivewall.js');
export const POLICY = 'hivewall-review-identity';
/** The admission policies deploy/admission-policy.yaml installs. */
export const ADMISSION_POLICIES = [POLICY, 'hivewall-segmentation-guard', 'hivewall-proposal-pruning'];

export interface ProcResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(file: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { cwd: opts.cwd ?? repo, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`, { cause: err }));
        return;
      }
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

/** Build the kubectl plugin into dist/ (only it and what it imports: fast, independent of the rest of src/). */
export async function buildPlugin(): Promise<void> {
  const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = await run(process.execPath, [tsc, '-p', path.join('test', 'deploy', 'tsconfig.plugin.json')], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`building the kubectl plugin failed:\n${r.stdout}${r.stderr}`);
}

/** `kubectl-hivewall <args>` as a separate process (the built bin/ script), with KUBECONFIG of an identity. */
export function plugin(args: readonly string[], kubeconfig: string): Promise<ProcResult> {
  return run(process.execPath, [pluginBin, ...args], { env: { ...process.env, KUBECONFIG: kubeconfig } });
}

/** `kubectl apply -k deploy/` as cluster admin. */
export async function applyDeploy(): Promise<KubectlResult> {
  const r = await kubectl(['apply', '-k', deployDir]);
  if (r.code !== 0) throw new Error(`kubectl apply -k deploy/ exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
}

/**
 * Remove the admission policies again when a test file is done. They are cluster-wide and check every
 * PolicyProposal and Segmentation write, so left installed they would also judge unrelated test files that write
 * proposals as cluster admin without signing the review. (Everything else of deploy/ only grants.)
 */
export async function removeAdmissionPolicy(): Promise<void> {
  const admission = adminKubeConfig().makeApiClient(AdmissionregistrationV1Api);
  for (const name of ADMISSION_POLICIES) {
    for (const remove of [() => admission.deleteValidatingAdmissionPolicyBinding({ name }), () => admission.deleteValidatingAdmissionPolicy({ name })]) {
      try {
        await remove();
      } catch (err) {
        if (apiStatus(err) !== 404) throw err;
      }
    }
  }
}

export const GROUP = 'hivewall.dev';
export const VERSION = 'v1alpha1';
export const PLURAL = 'policyproposals';

export interface ProposalReview {
  decision?: string;
  reviewer?: string;
  comment?: string;
  reviewedAt?: string;
  proposalUID?: string;
  contentDigest?: string;
}

export function proposalBody(name: string, review?: ProposalReview): Record<string, unknown> {
  const content = {
    segmentation: 'shop',
    revision: 1,
    flavor: 'NetworkPolicy',
    digest: 'sha256:0f1e2d3c',
    objects: [{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'hivewall-web' }, spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'] } }],
    evidence: [],
    diff: { added: ['NetworkPolicy/hivewall-web'] },
  };
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'PolicyProposal',
    metadata: { name },
    // As the operator writes it: the digest a review pins (src/domain/approval.ts).
    spec: { content, contentDigest: proposalContentDigest(content), ...(review ? { review } : {}) },
  };
}

/** What a review must pin (src/domain/approval.ts): the proposal's uid and spec.contentDigest. */
export async function reviewPins(namespace: string, name: string): Promise<{ proposalUID: string; contentDigest: string }> {
  const api = adminKubeConfig().makeApiClient(CustomObjectsApi);
  const obj = await api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name }) as { metadata: { uid: string }; spec: { contentDigest: string } };
  return { proposalUID: obj.metadata.uid, contentDigest: obj.spec.contentDigest };
}

/** Create a PolicyProposal (as admin unless another CustomObjectsApi is given). */
export async function createProposal(namespace: string, name: string, review?: ProposalReview, api = adminKubeConfig().makeApiClient(CustomObjectsApi)): Promise<void> {
  await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, body: proposalBody(name, review) });
}

export async function readReview(namespace: string, name: string): Promise<ProposalReview> {
  const api = adminKubeConfig().makeApiClient(CustomObjectsApi);
  const obj = await api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name }) as { spec?: { review?: ProposalReview } };
  return obj.spec?.review ?? {};
}

/** The API server loads a new admission policy asynchronously: wait until it denies a pre-approved proposal. */
export async function waitForPolicy(timeoutMs = 30_000): Promise<void> {
  const api = adminKubeConfig().makeApiClient(CustomObjectsApi);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await api.createNamespacedCustomObject({
        group: GROUP, version: VERSION, namespace: 'default', plural: PLURAL, dryRun: 'All',
        body: proposalBody('probe', { decision: 'Approved', reviewer: 'nobody', reviewedAt: '2025-01-01T00:00:00Z' }),
      });
    } catch (err) {
      if ((apiStatus(err) === 403 || apiStatus(err) === 422) && apiErrorMessage(err).includes(POLICY)) return;
      throw err;
    }
    if (Date.now() > deadline) throw new Error(`ValidatingAdmissionPolicy ${POLICY} not enforced after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
