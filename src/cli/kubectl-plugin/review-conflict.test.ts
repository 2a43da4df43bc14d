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
/** status.phase: the operator sets Superseded when a newer revision exists. */
let phase = 'Pending';
/** Runs after every GET of the proposal: what "someone else" does meanwhile. */
let afterGet: () => void = () => {};
let patches = 0;
let server: Server;
let kubeconfig: string;

const proposal = () => ({
  apiVersion: 'hivewall.dev/v1alpha1', kind: 'PolicyProposal',
  metadata: { name: 'shop-r2', namespace: NS, uid, resourceVersion: String(resourceVersion), labels: { 'hivewall.dev/segmentation': 'shop' } },
  spec: { review, content: content(), contentDigest: storedDigest ?? proposalContentDigest(content()) },
  status: { phase },
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
      if (req.method === 'GET' && req.url?.split('?')[0] === PATH.slice(0, PATH.lastIndexOf('/'))) {
        return reply(200, { apiVersion: 'hivewall.dev/v1alpha1', kind: 'PolicyProposalList', metadata: {}, items: [proposal()] });
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

const WIDE = [{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'hivewall-wide' }, spec: { podSelector: {}, ingress: [{}] } }];

/** A fresh Pending proposal uid-1 with no objects, nobody else writing. */
function resetProposal(): void {
  resourceVersion = 20;
  review = { decision: 'Pending' };
  uid = 'uid-1';
  objects = [];
  phase = 'Pending';
  patches = 0;
  afterGet = () => {};
}

describe('approve --digest: the content the reviewer was shown', () => {
  it('explain and proposals -o wide print the content digest and uid; approve echoes what it pinned', async () => {
    resetProposal();
    const digest = proposalContentDigest(content())!;
    const explain = await run(['explain', 'shop-r2']);
    expect(explain.code).toBe(0);
    expect(explain.out.split('\n')[1]).toBe(`content ${digest} (uid uid-1): to approve exactly this, kubectl hivewall approve shop-r2 -n shop --digest ${digest}`);
    const wide = await run(['proposals', '-o', 'wide']);
    expect(wide.out).toMatch(new RegExp(`^NAMESPACE +NAME .* AGE +CONTENT +UID\nshop +shop-r2 .* ${digest} +uid-1\n`));
    const approve = await run(['approve', 'shop-r2']);
    expect(approve.out).toBe(`policyproposal.hivewall.dev/shop-r2 approved by rita in namespace shop (segmentation shop, revision 2): content ${digest} (uid uid-1)\n`);
  });

  it('refuses a proposal re-created with other content after explain, sending no patch; approves with the digest now shown', async () => {
    resetProposal();
    const explain = await run(['explain', 'shop-r2']);
    const shown = /^content (sha256:[0-9a-f]{64}) \(uid uid-1\)/m.exec(explain.out)?.[1];
    expect(shown).toBe(proposalContentDigest(content()));
    // The Segmentation is deleted and re-created (LearnedStateLost): a new shop-r2, wider.
    uid = 'uid-2';
    objects = WIDE;
    resourceVersion++;
    const refused = await run(['approve', 'shop-r2', '--digest', shown!]);
    expect(refused.code).toBe(1);
    expect(refused.out).toBe('');
    expect(refused.err).toBe(`error: refusing to approve policyproposal shop/shop-r2: you were shown content ${shown}, it now holds content ${proposalContentDigest(content())} (uid uid-2): `
      + 'it was changed or re-created since you looked: look again (kubectl hivewall explain shop-r2 -n shop) and approve with the digest it prints; nothing was changed\n');
    expect(patches).toBe(0);
    expect(review).toEqual({ decision: 'Pending' });

    const byUid = await run(['reject', 'shop-r2', '--uid', 'uid-1']);
    expect(byUid.code).toBe(1);
    expect(byUid.err).toMatch(/you were shown uid uid-1, it now holds content sha256:\S+ \(uid uid-2\)/);
    expect(patches).toBe(0);

    const current = proposalContentDigest(content())!;
    const approved = await run(['approve', 'shop-r2', '--digest', current, '--uid', 'uid-2']);
    expect(approved).toMatchObject({ code: 0, err: '' });
    expect(approved.out).toContain(`: content ${current} (uid uid-2)\n`);
    expect(review).toMatchObject({ decision: 'Approved', proposalUID: 'uid-2', contentDigest: current });
    uid = 'uid-1';
    objects = [];
  });

  it('--digest must look like a digest (bad usage)', async () => {
    resetProposal();
    const r = await run(['approve', 'shop-r2', '--digest', 'abc']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/expected sha256:<64 hex digits>/);
    expect(patches).toBe(0);
  });
});

describe('the re-read after a conflict gets the same checks', () => {
  it('a proposal superseded between the read and the patch is not approved on the retry', async () => {
    resetProposal();
    let gets = 0;
    afterGet = () => {
      if (gets++ === 0) { // the operator proposed a newer revision right after the read
        phase = 'Superseded';
        resourceVersion++;
      }
    };
    const r = await run(['approve', 'shop-r2']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: policyproposal shop\/shop-r2 is superseded by a newer revision of shop/);
    expect(patches).toBe(1);
    expect(review).toEqual({ decision: 'Pending' });
  });
});
