// With deploy/ applied, the operator's ServiceAccount can do everything in OPERATOR_PERMISSIONS
// (asked with `kubectl auth can-i --as=...` for every verb on every resource) and nothing outside it.
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, OPERATOR_USERNAME, expandPermissions, type Grant } from '../../src/controllers/rbac.js';
import { apiStatus, kubectl, serviceAccountIdentity } from '../harness/index.js';
import { applyDeploy, removeAdmissionPolicy } from './deploy-helpers.js';

beforeAll(async () => {
  await applyDeploy();
}, 120_000);

afterAll(removeAdmissionPolicy);

/** Cluster-scoped resources among those the operator uses (no namespace in the question). */
const CLUSTER_SCOPED = new Set(['nodes', 'namespaces', 'tokenreviews']);

interface Question {
  readonly verb: string;
  /** `resource[.group]` as kubectl takes it. */
  readonly resource: string;
  readonly subresource?: string;
  /** One object (a grant limited by resourceNames). */
  readonly name?: string;
  /** undefined: cluster-scoped resource; '*': every namespace (-A); else one namespace. */
  readonly namespace?: string;
}

function question(verb: string, apiGroup: string, resourcePath: string, namespace: string | undefined, name?: string): Question {
  const [resource = '', subresource] = resourcePath.split('/');
  return {
    verb,
    resource: apiGroup === '' ? resource : `${resource}.${apiGroup}`,
    ...(subresource ? { subresource } : {}),
    ...(name ? { name } : {}),
    ...(CLUSTER_SCOPED.has(resource) ? {} : { namespace }),
  };
}

const describeQuestion = (q: Question) =>
  `${q.verb} ${q.resource}${q.name ? `/${q.name}` : ''}${q.subresource ? `/${q.subresource}` : ''}${q.namespace === '*' ? ' -A' : q.namespace ? ` -n ${q.namespace}` : ''}`;

async function canI(q: Question): Promise<string> {
  const args = ['auth', 'can-i', q.verb, q.name ? `${q.resource}/${q.name}` : q.resource, `--as=${OPERATOR_USERNAME}`];
  if (q.subresource) args.push(`--subresource=${q.subresource}`);
  if (q.namespace === '*') args.push('-A');
  else if (q.namespace) args.push('-n', q.namespace);
  const r = await kubectl(args);
  const answer = r.stdout.trim();
  if (answer !== 'yes' && answer !== 'no') throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return answer;
}

/** Ask every question, a few at a time; returns the ones whose answer was not `expected`. */
async function wrongAnswers(questions: readonly Question[], expected: 'yes' | 'no'): Promise<string[]> {
  const wrong: string[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < questions.length) {
      const q = questions[next++];
      if (q && await canI(q) !== expected) wrong.push(describeQuestion(q));
    }
  }));
  return wrong.sort();
}

const scopeOf = (g: Grant) => (g.scope === 'cluster' ? '*' : g.scope);

describe('the operator ServiceAccount after kubectl apply -k deploy/', () => {
  it('can do every verb on every resource in OPERATOR_PERMISSIONS, where it is granted', async () => {
    const grants = expandPermissions();
    const questions = grants.map((g) => question(g.verb, g.apiGroup, g.resource, scopeOf(g), g.resourceName));
    expect(questions.length).toBeGreaterThan(60);
    expect(await wrongAnswers(questions, 'yes')).toEqual([]);
  });

  it('holds its hivewall-system grants (Lease, ConfigMaps) only there', async () => {
    const local = expandPermissions().filter((g) => g.scope === OPERATOR_NAMESPACE);
    expect(local.length).toBeGreaterThan(0);
    const elsewhere = local.flatMap((g) => [question(g.verb, g.apiGroup, g.resource, 'default', g.resourceName), question(g.verb, g.apiGroup, g.resource, '*', g.resourceName)]);
    expect(await wrongAnswers(elsewhere, 'no')).toEqual([]);
  });

  it('cannot do things outside it', async () => {
    const outside: Question[] = [
      { verb: 'update', resource: 'policyproposals.hivewall.dev', namespace: 'default' },
      { verb: 'patch', resource: 'policyproposals.hivewall.dev', namespace: '*' },
      { verb: 'delete', resource: 'segmentations.hivewall.dev', namespace: '*' },
      { verb: 'create', resource: 'segmentations.hivewall.dev', namespace: 'default' },
      { verb: 'update', resource: 'policyproposals.hivewall.dev', subresource: 'finalizers', namespace: 'default' },
      { verb: 'create', resource: 'secrets', namespace: 'default' },
      { verb: 'get', resource: 'secrets', namespace: OPERATOR_NAMESPACE },
      { verb: 'get', resource: 'secrets', name: 'some-other-secret', namespace: OPERATOR_NAMESPACE },
      { verb: 'update', resource: 'secrets', name: 'some-other-secret', namespace: OPERATOR_NAMESPACE },
      { verb: 'delete', resource: 'secrets', name: 'hivewall-receiver-tls', namespace: OPERATOR_NAMESPACE },
      { verb: 'list', resource: 'secrets', namespace: '*' },
      { verb: 'delete', resource: 'namespaces' },
      { verb: 'create', resource: 'namespaces' },
      { verb: 'update', resource: 'nodes' },
      { verb: 'create', resource: 'pods', namespace: 'default' },
      { verb: 'delete', resource: 'pods', namespace: '*' },
      { verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'default' },
      { verb: 'update', resource: 'deployments.apps', namespace: 'default' },
      { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: OPERATOR_NAMESPACE },
      { verb: 'create', resource: 'rolebindings.rbac.authorization.k8s.io', namespace: 'default' },
      { verb: 'escalate', resource: 'clusterroles.rbac.authorization.k8s.io' },
      { verb: 'bind', resource: 'clusterroles.rbac.authorization.k8s.io' },
      { verb: 'impersonate', resource: 'users' },
      { verb: 'delete', resource: 'events', namespace: 'default' },
      { verb: 'delete', resource: 'leases.coordination.k8s.io', namespace: OPERATOR_NAMESPACE },
      { verb: 'create', resource: 'validatingadmissionpolicies.admissionregistration.k8s.io' },
      { verb: 'delete', resource: 'validatingadmissionpolicybindings.admissionregistration.k8s.io' },
      { verb: 'update', resource: 'customresourcedefinitions.apiextensions.k8s.io' },
      { verb: '*', resource: '*', namespace: '*' },
    ];
    expect(await wrongAnswers(outside, 'no')).toEqual([]);
  });

  it('gets the same answers with its own token (not impersonated)', async () => {
    const operator = await serviceAccountIdentity(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT);
    const core = operator.kubeConfig.makeApiClient(CoreV1Api);
    await core.listPodForAllNamespaces();
    await core.listNamespace();
    let status = 0;
    try {
      await core.listNamespacedSecret({ namespace: OPERATOR_NAMESPACE });
    } catch (err) {
      status = apiStatus(err);
    }
    expect(status).toBe(403);
  });
});
