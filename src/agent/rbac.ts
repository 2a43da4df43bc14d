/**
 * The Kubernetes API permissions the conntrack node agent (`hivewall agent`) needs — the one
 * machine-readable list (docs/architecture.md §6 rule 6). `deploy/base/agent-rbac.yaml` must grant the agent's
 * ServiceAccount exactly these; `rbac.test.ts` parses `deploy/` and fails with the rules to paste
 * when they drift apart.
 *
 * The agent only reads what identity needs to map an address to a workload: pods (IP history,
 * node, owners), services and endpointslices (Service addresses), nodes (host / remote-node
 * addresses, pod CIDRs), and the two owner kinds a pod's top owner is found through
 * (Pod → ReplicaSet → Deployment, Pod → Job → CronJob; the ReplicaSet's and the Job's own
 * ownerReferences name the Deployment and the CronJob, so those objects are not needed).
 *
 * Deliberately absent: `get` (the agent lists and watches, never reads single objects), any write,
 * namespaces, secrets, and `tokenreviews` (the controller reviews the agents' tokens, not the
 * other way round).
 */
import type { OperatorPermission, Verb } from '../controllers/rbac.js';
import { OPERATOR_NAMESPACE } from '../controllers/rbac.js';

/** The namespace the agent DaemonSet runs in (the operator's). */
export const AGENT_NAMESPACE = OPERATOR_NAMESPACE;
/** The agent's ServiceAccount (`deploy/base/agent-rbac.yaml`). */
export const AGENT_SERVICE_ACCOUNT = 'hivewall-agent';
/** The username the API server (and the controller's TokenReview) sees for an agent. */
export const AGENT_USERNAME = `system:serviceaccount:${AGENT_NAMESPACE}:${AGENT_SERVICE_ACCOUNT}`;

const LIST_WATCH: readonly Verb[] = ['list', 'watch'];

/** Same shape as the operator's permissions (cluster-wide unless `namespaced`). */
export type AgentPermission = OperatorPermission;

export const AGENT_PERMISSIONS: readonly AgentPermission[] = [
  {
    apiGroups: [''],
    resources: ['pods', 'services', 'nodes'],
    verbs: LIST_WATCH,
    why: 'identity: pod IPs over time, Service addresses, node addresses and pod CIDRs',
  },
  {
    apiGroups: ['discovery.k8s.io'],
    resources: ['endpointslices'],
    verbs: LIST_WATCH,
    why: 'identity: service backends (kube-apiserver endpoints, Service port to target port)',
  },
  {
    apiGroups: ['apps'],
    resources: ['replicasets'],
    verbs: LIST_WATCH,
    why: 'identity: the top owner of a Deployment pod (Pod → ReplicaSet → Deployment)',
  },
  {
    apiGroups: ['batch'],
    resources: ['jobs'],
    verbs: LIST_WATCH,
    why: 'identity: the top owner of a CronJob pod (Pod → Job → CronJob)',
  },
];

/** The kinds the agent lists for identity, as [apiVersion, kind] — exactly what AGENT_PERMISSIONS allows. */
export const AGENT_IDENTITY_KINDS: readonly (readonly [string, string])[] = [
  ['v1', 'Pod'],
  ['v1', 'Service'],
  ['v1', 'Node'],
  ['discovery.k8s.io/v1', 'EndpointSlice'],
  ['apps/v1', 'ReplicaSet'],
  ['batch/v1', 'Job'],
];
