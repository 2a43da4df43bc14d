// `kubectl hivewall approve|reject` while the operator writes the same PolicyProposal (its status
// phase), against a small stand-in for the API server that enforces resourceVersion preconditions
// like the real one: a conflict caused only by the operator's write is retried; a conflict caused
// by someone else's review is reported. The real API server: test/deploy/review.test.ts.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proposalContentDigest } from '../../domain/approval.js';
import { captureRun, standInKubeconfig } from '../../testing/cli-run.js';
import { main } from './main.js';

const NS = 'shop';
const PATH = `/apis/hivewall.dev/v1alpha1/namespaces/${NS}/policyproposals/shop-r2`;

interface Review { decision: string; reviewer?: string; reviewedAt?: string; comment?: string | null; proposalUID?: string; contentDigest?: string }
let resourceVersion = 1;
/** The proposal's uid and content: a delete and re-create under the same name changes both. */
let uid = 'uid-1';
let objects: unknown[] = [];
/** When set, served as spec.contentDigest instead of the content's digest. */
let storedDigest: string | undefined;
const content = () => ({ segmentation: 'shop', revision: 2, flavor: 'NetworkPolicy', digest: 'd', objects, evidence: [], diff: {} });
let review: Review = { decision: 'Pending' };
/** Runs after every GET of the proposal: what "someone else" does meanwhile. */
let afterGet: () => void = () => {};
let patches = 0;
let server: Server;
let kubeconfig: string;

const proposal = () => ({
  apiVersion: 'hivewall.dev/v1alpha1', kind: 'PolicyProposal',
  metadata: { name: 'shop-r2', namespace: NS, uid, resourceVersion: String(resourceVersion), labels: { 'hivewall.dev/segmentation': 'shop' } },
  spec: { review, content: content(), contentDigest: storedDigest ?? proposalContentDigest(content()) },
  status: { phase: 'Pending' },
});

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const reply = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.method === 'POST' && req.url?.startsWith('/apis/authentication.k8s.io/v1/selfsubjectreviews')) {
        return reply(201, { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview', status: { userInfo: { username: 'rita' } } });
      }
      if (req.url?.split('?')[0] !== PATH) return reply(404, { kind: 'Status', code: 404, message: 'not found', reason: 'NotFound' });
      if (req.method === 'GET') {
        const answer = proposal();
        afterGet();
        return reply(200, answer);
      }
      if (req.method === 'PATCH') {
        patches++;
        const patch = JSON.parse(body) as { metadata: { resourceVersion: string }; spec: { review: Review } };
        if (patch.metadata.resourceVersion !== String(resourceVersion)) {
          return reply(409, { kind: 'Status', code: 409, reason: 'Conflict', message: 'Operation cannot be fulfilled on policyproposals.hivewall.dev "shop-r2": the object has been modified; please apply your changes to the latest version and try again' });
        }
        review = patch.spec.review;
        resourceVersion++;
        return reply(200, proposal());
      }
      return reply(405, { kind: 'Status', code: 405 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  kubeconfig = await standInKubeconfig(`http://127.0.0.1:${(server.address() as { port: number }).port}`, NS);
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

const run = (args: string[]) => captureRun((io) => main(args, io, { env: { HOME: '/nonexistent-home', KUBECONFIG: kubeconfig, NO_COLOR: '1' } }));

describe('reviewing while the proposal changes', () => {
  it('retries when only the operator wrote meanwhile (the review is still the one read)', async () => {
    resourceVersion = 7;
    review = { decision: 'Pending' };
    patches = 0;
    let gets = 0;
    afterGet = () => {
      if (gets++ === 0) resourceVersion++; // the operator set the status phase right after the read
    };
    const r = await run(['approve', 'shop-r2', '--comment', 'ok']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('approved by rita');
    expect(patches).toBe(2);
    expect(review).toMatchObject({ decision: 'Approved', reviewer: 'rita', comment: 'ok', proposalUID: 'uid-1', contentDigest: proposalContentDigest(content()) });
  });

  it('does not carry the approval over to a proposal deleted and re-created under the same name (new uid and content)', async () => {
    resourceVersion = 11;
    review = { decision: 'Pending' };
    uid = 'uid-1';
    objects = [];
    patches = 0;
    let gets = 0;
    afterGet = () => {
      if (gets++ === 0) {
        uid = 'uid-2';
        objects = [{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'hivewall-wide' }, spec: { podSelector: {}, ingress: [{}] } }];
        resourceVersion++;
      }
    };
    const r = await run(['approve', 'shop-r2']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/changed while you were reviewing it/);
    expect(patches).toBe(1);
    expect(review).toEqual({ decision: 'Pending' });
    uid = 'uid-1';
    objects = [];
  });

  it('refuses content that does not hash to its spec.contentDigest, without patching', async () => {
    review = { decision: 'Pending' };
    patches = 0;
    afterGet = () => {};
    storedDigest = proposalContentDigest({ ...content(), revision: 3 });
    const r = await run(['approve', 'shop-r2']);
    storedDigest = undefined;
    expect(r.code).toBe(1);
    expect(r.err).toContain('refusing to approve content that is not what was proposed');
    expect(patches).toBe(0);
  });

  it('reports a conflict when someone else reviewed meanwhile, and changes nothing', async () => {
    resourceVersion = 3;
    review = { decision: 'Pending' };
    patches = 0;
    let gets = 0;
    afterGet = () => {
      if (gets++ === 0) {
        review = { decision: 'Rejected', reviewer: 'bob', reviewedAt: '2026-11-27T07:00:00Z', comment: 'no' };
        resourceVersion++;
      }
    };
    const r = await run(['approve', 'shop-r2']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/changed while you were reviewing it \(someone else may have reviewed it\)/);
    expect(patches).toBe(1);
    expect(review).toMatchObject({ decision: 'Rejected', reviewer: 'bob' });
  });
});
