/**
 * The Kubernetes API permissions the hivewall operator needs — the one machine-readable list.
 *
 * `deploy/base/operator-rbac.yaml` must grant exactly these (nothing missing, nothing more);
 * `rbac.test.ts` parses `deploy/` and fails with the rules to paste when they drift apart.
 * When a controller needs another verb or resource, add it here first, say why, then update
 * `deploy/base/operator-rbac.yaml` until the test passes (docs/architecture.md §6 rule 6).
 *
 * Deliberately absent:
 * - `update`/`patch` of `policyproposals`: the operator creates proposals and writes their status,
 *   but must never be able to edit `spec.review` (its own approval). The ValidatingAdmissionPolicy
 *   `hivewall-review-identity` in `deploy/` is the second line of defence.
 * - secrets beyond the edge receiver's own serving certificate (one named Secret in the operator's
 *   namespace, see src/operator/receiver-tls.ts), pods/exec, RBAC objects, impersonation,
 *   wildcards: nothing hivewall does needs them.
 */

/** The namespace the operator runs in (`deploy/base/namespace.yaml`). */
export const OPERATOR_NAMESPACE = 'hivewall-system';
/** The operator's ServiceAccount (`deploy/base/operator-rbac.yaml`). */
export const OPERATOR_SERVICE_ACCOUNT = 'hivewall-operator';
/** The username the API server sees for the operator. */
export const OPERATOR_USERNAME = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`;

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export interface OperatorPermission {
  /** API groups ('' is the core group). */
  readonly apiGroups: readonly string[];
  /** Resources, with `/subresource` where one is meant (e.g. `segmentations/status`). */
  readonly resources: readonly string[];
  readonly verbs: readonly Verb[];
  /**
   * Granted only in this namespace (a Role + RoleBinding there). Absent: cluster-wide
   * (ClusterRole + ClusterRoleBinding), for the operator works in every segmented namespace.
   */
  readonly namespaced?: typeof OPERATOR_NAMESPACE;
  /** Only these objects (RBAC `resourceNames`); `create` cannot be limited this way (the name is not known yet). */
  readonly resourceNames?: readonly string[];
  /** Why the operator needs it. */
  readonly why: string;
}

const READ: readonly Verb[] = ['get', 'list', 'watch'];
const READ_WRITE: readonly Verb[] = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

export const OPERATOR_PERMISSIONS: readonly OperatorPermission[] = [
  {
    apiGroups: [''],
    resources: ['pods', 'services', 'nodes', 'namespaces'],
    verbs: READ,
    why: 'identity: map flow addresses to pods, services and nodes; namespace labels for namespaceSelectors',
  },
  {
    apiGroups: ['discovery.k8s.io'],
    resources: ['endpointslices'],
    verbs: READ,
    why: 'identity: service backends (a Service port to the pod\'s target port)',
  },
  {
    apiGroups: ['apps'],
    resources: ['replicasets', 'deployments', 'statefulsets', 'daemonsets'],
    verbs: READ,
    why: 'identity: the top owner of a pod (Pod → ReplicaSet → Deployment) and its stable labels',
  },
  {
    apiGroups: ['batch'],
    resources: ['jobs', 'cronjobs'],
    verbs: READ,
    why: 'identity: the top owner of a pod (Job → CronJob)',
  },
  {
    apiGroups: ['hivewall.dev'],
    resources: ['segmentations'],
    verbs: ['get', 'list', 'watch', 'patch'],
    why: 'the contract per namespace; patch only to add and remove the finalizer (a merge patch with the resourceVersion as precondition)',
  },
  {
    apiGroups: ['hivewall.dev'],
    resources: ['segmentations/status'],
    verbs: ['patch'],
    why: 'report phase, conditions, learning progress and audit findings',
  },
  {
    apiGroups: ['hivewall.dev'],
    resources: ['policyproposals'],
    verbs: ['get', 'list', 'watch', 'create', 'delete'],
    why: 'write proposals (content is immutable; a superseded one is marked in its status); delete superseded revisions nobody reviewed beyond spec.revisionHistoryLimit (the admission policy hivewall-proposal-pruning refuses any other delete by the operator); never edit a review',
  },
  {
    apiGroups: ['hivewall.dev'],
    resources: ['policyproposals/status'],
    verbs: ['patch'],
    why: 'report a proposal\'s phase (Superseded, Auditing, Enforced)',
  },
  {
    apiGroups: ['hivewall.dev'],
    resources: ['trafficprofiles'],
    verbs: ['get', 'list', 'watch', 'create', 'patch'],
    why: 'persist the learned graph per namespace so a restart loses nothing',
  },
  {
    apiGroups: ['networking.k8s.io'],
    resources: ['networkpolicies'],
    verbs: READ_WRITE,
    why: 'enforce approved policies (NetworkPolicy flavor), revert drift, remove them on Learn or delete',
  },
  {
    apiGroups: ['cilium.io'],
    resources: ['ciliumnetworkpolicies'],
    verbs: READ_WRITE,
    why: 'enforce approved policies (CiliumNetworkPolicy flavor), revert drift, remove them on Learn or delete',
  },
  {
    apiGroups: [''],
    resources: ['events'],
    verbs: ['create'],
    why: 'Events on Segmentations and proposals (src/k8s/events.ts)',
  },
  {
    apiGroups: [''],
    resources: ['events'],
    verbs: ['patch'],
    why: 'bump the count of an Event that repeats instead of creating another (src/k8s/events.ts, as client-go does)',
  },
  {
    apiGroups: ['authentication.k8s.io'],
    resources: ['tokenreviews'],
    verbs: ['create'],
    why: 'authenticate the conntrack node agents that push flows (their ServiceAccount tokens)',
  },
  {
    apiGroups: ['coordination.k8s.io'],
    resources: ['leases'],
    verbs: ['get', 'create', 'update'],
    namespaced: OPERATOR_NAMESPACE,
    why: 'leader election between the replicas',
  },
  {
    apiGroups: [''],
    resources: ['configmaps'],
    verbs: ['get', 'create', 'update', 'patch'],
    namespaced: OPERATOR_NAMESPACE,
    why: 'the operator\'s own configuration and bookkeeping in its namespace',
  },
  {
    apiGroups: [''],
    resources: ['secrets'],
    verbs: ['create'],
    namespaced: OPERATOR_NAMESPACE,
    why: 'issue the edge receiver\'s serving certificate the first time (Secret hivewall-receiver-tls)',
  },
  {
    apiGroups: [''],
    resources: ['secrets'],
    verbs: ['get', 'update'],
    namespaced: OPERATOR_NAMESPACE,
    resourceNames: ['hivewall-receiver-tls'],
    why: 'read and renew the edge receiver\'s serving certificate, and no other Secret',
  },
];

/** One grant: a single verb on a single resource of one API group, cluster-wide or in one namespace. */
export interface Grant {
  readonly scope: string; // 'cluster' or the namespace
  readonly apiGroup: string;
  readonly resource: string;
  readonly verb: string;
  /** Set when the grant is limited to one object. */
  readonly resourceName?: string;
}

export const grantKey = (g: Grant): string => `${g.scope} ${g.apiGroup === '' ? 'core' : g.apiGroup} ${g.resource}${g.resourceName ? `/${g.resourceName}` : ''} ${g.verb}`;

/** Every (scope, group, resource, verb) that `permissions` grant. */
export function expandPermissions(permissions: readonly OperatorPermission[] = OPERATOR_PERMISSIONS): Grant[] {
  const out: Grant[] = [];
  for (const p of permissions) {
    for (const apiGroup of p.apiGroups) {
      for (const resource of p.resources) {
        for (const verb of p.verbs) {
          for (const resourceName of p.resourceNames ?? [undefined]) {
            out.push({ scope: p.namespaced ?? 'cluster', apiGroup, resource, verb, ...(resourceName ? { resourceName } : {}) });
          }
        }
      }
    }
  }
  return out;
}

/** The RBAC rules for one scope ('cluster' or a namespace), as they appear in deploy/. */
export function policyRules(scope: string, permissions: readonly OperatorPermission[] = OPERATOR_PERMISSIONS): { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }[] {
  return permissions
    .filter((p) => (p.namespaced ?? 'cluster') === scope)
    .map((p) => ({ apiGroups: [...p.apiGroups], resources: [...p.resources], ...(p.resourceNames ? { resourceNames: [...p.resourceNames] } : {}), verbs: [...p.verbs] }));
}
