/**
 * The API reads of `status`, `diff`, `explain` and `export`, as plain JSON through the generic
 * custom-objects API (client-node's typed models would rename NetworkPolicy's `from` to `_from`),
 * each turned into a one-line CliError that says what went wrong and what to do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, CustomObjectsApi } from '@kubernetes/client-node';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../domain/translate/naming.js';
import { KINDS } from '../../k8s/kinds.js';
import type { KubernetesObject } from '../../domain/translate/networkpolicy.js';
import { InputError } from '../errors.js';
import { apiFailure, toCliError, type ApiFailure } from './api-errors.js';
import type { Connection } from './connection.js';
import { GROUP, PLURAL, VERSION, summarizeProposal, type ProposalSummary } from './format.js';

export const SEGMENTATIONS = 'segmentations';

/** Who may read hivewall's objects. */
export const VIEWER_ROLE_HINT = 'ask for the hivewall-viewer (read-only) or hivewall-reviewer ClusterRole';

/** Read leniently: one odd object never breaks a listing. */
export const str = (v: unknown): string => (typeof v === 'string' ? v : '');
export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
export const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * A read, retried like kubectl's client does when the API server answers 429 Too Many Requests
 * (API priority and fairness, or "storage is (re)initializing" right after a CRD changed): wait
 * the Retry-After seconds (at most 2) and try again, up to 5 times.
 */
export async function retrying<T>(read: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof ApiException) || err.code !== 429 || attempt >= attempts) throw err;
      const header = Object.entries(err.headers ?? {}).find(([k]) => k.toLowerCase() === 'retry-after')?.[1];
      const seconds = Number(header);
      await sleep(Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 2) * 1000 : 500);
    }
  }
}

const apiMissing = (conn: Connection, plural: string, kind: string) =>
  `the ${kind} API (${plural}.${GROUP}/${VERSION}) is not installed on ${conn.server}: install hivewall with kubectl apply -k deploy/`;

function forbiddenToRead(what: string, namespace: string | undefined) {
  return (f: ApiFailure) => namespace
    ? `you are not allowed to read ${what} in ${namespace}: ${VIEWER_ROLE_HINT} (the API server said: ${f.message})`
    : `you are not allowed to list ${what} in all namespaces: use -n <namespace>, or ask for a cluster-wide binding of hivewall-viewer (the API server said: ${f.message})`;
}

async function listHivewall(conn: Connection, plural: string, kind: string, namespace: string | undefined): Promise<unknown[]> {
  const api = conn.kubeConfig.makeApiClient(CustomObjectsApi);
  try {
    const list: unknown = await retrying(() => namespace === undefined
      ? api.listClusterCustomObject({ group: GROUP, version: VERSION, plural })
      : api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural }));
    return arr(rec(list)['items']);
  } catch (err) {
    throw toCliError(err, conn, {
      action: namespace ? `list ${plural} in ${namespace}` : `list ${plural} in all namespaces`,
      forbidden: forbiddenToRead(plural, namespace),
      notFound: () => apiMissing(conn, plural, kind),
    });
  }
}

/** Segmentations of one namespace, or of all (`namespace` undefined), as plain JSON. */
export function listSegmentations(conn: Connection, namespace: string | undefined): Promise<unknown[]> {
  return listHivewall(conn, SEGMENTATIONS, 'Segmentation', namespace);
}

/** PolicyProposals of one namespace, or of all, as plain JSON. */
export function listProposalObjects(conn: Connection, namespace: string | undefined): Promise<unknown[]> {
  return listHivewall(conn, PLURAL, 'PolicyProposal', namespace);
}

/** "no such proposal": what exists in the namespace instead. */
export async function proposalNotFound(conn: Connection, namespace: string, name: string): Promise<string> {
  let others: ProposalSummary[];
  try {
    others = (await listProposalObjects(conn, namespace)).map(summarizeProposal);
  } catch {
    return `policyproposal "${name}" not found in namespace ${namespace}`;
  }
  if (others.length === 0) {
    return `policyproposal "${name}" not found: there are no PolicyProposals in namespace ${namespace} (kubectl hivewall proposals -A lists every namespace)`;
  }
  const listed = others.map((p) => `${p.name} (${p.decision}${p.segmentation ? `, ${p.segmentation} r${p.revision ?? '?'}` : ''})`).join(', ');
  return `policyproposal "${name}" not found in namespace ${namespace}; proposals there: ${listed}`;
}

/** One PolicyProposal as plain JSON; a missing one lists what is there. */
export async function getProposalObject(conn: Connection, namespace: string, name: string): Promise<Record<string, unknown>> {
  const api = conn.kubeConfig.makeApiClient(CustomObjectsApi);
  try {
    return rec(await retrying(() => api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name })));
  } catch (err) {
    const f = apiFailure(err);
    if (f?.code === 404 && f.name) throw new InputError(await proposalNotFound(conn, namespace, name));
    throw toCliError(err, conn, {
      action: `read policyproposal ${namespace}/${name}`,
      forbidden: forbiddenToRead('policyproposals', namespace),
      notFound: () => apiMissing(conn, PLURAL, 'PolicyProposal'),
    });
  }
}

/** The policy kinds hivewall writes: group, version, plural, kind. */
export const POLICY_APIS = [KINDS.NetworkPolicy, KINDS.CiliumNetworkPolicy] as const;

export type PolicyKind = (typeof POLICY_APIS)[number]['kind'];

/**
 * Who may read the live policies: hivewall's roles for people include it (deploy/base/user-roles.yaml).
 * A cluster still carrying roles from before that gets them with `kubectl apply -k deploy/`.
 */
export const LIVE_POLICY_ROLE_HINT = 'ask for the hivewall-viewer (read-only) or hivewall-reviewer ClusterRole, which read the live '
  + 'NetworkPolicies and CiliumNetworkPolicies (the roles of an older hivewall do not: kubectl apply -k deploy/ updates them)';

export interface ReadLiveOptions {
  /** Appended to the "not allowed" message: what else the user can do (e.g. `diff --stored`). */
  readonly instead?: string;
  /**
   * The policy kinds the caller cannot do without (default: all of them). Another kind is read
   * too, but when the user may not list it, it is left out (named in `unread`) instead of failing.
   */
  readonly need?: readonly PolicyKind[];
}

export interface LivePolicies {
  readonly policies: KubernetesObject[];
  /** The kinds not needed that the user may not list, as `ciliumnetworkpolicies.cilium.io`: left out of `policies`. */
  readonly unread: readonly string[];
}

/**
 * The live policies hivewall owns (label `app.kubernetes.io/managed-by=hivewall`) in a namespace,
 * or in all of them, as plain JSON with apiVersion and kind set. A policy API that is not served
 * (no Cilium CRD) has no objects. A kind the caller needs (`opts.need`) that the user may not list
 * is an error that says which role reads it; another kind is left out and named in `unread`.
 */
export async function listManagedPolicies(conn: Connection, namespace: string | undefined, opts: ReadLiveOptions = {}): Promise<LivePolicies> {
  const api = conn.kubeConfig.makeApiClient(CustomObjectsApi);
  const labelSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
  const policies: KubernetesObject[] = [];
  const unread: string[] = [];
  for (const { group, version, plural, kind } of POLICY_APIS) {
    const needed = opts.need === undefined || opts.need.includes(kind);
    let list: unknown;
    try {
      list = await retrying(() => namespace === undefined
        ? api.listClusterCustomObject({ group, version, plural, labelSelector })
        : api.listNamespacedCustomObject({ group, version, namespace, plural, labelSelector }));
    } catch (err) {
      const f = apiFailure(err);
      // The resource itself is missing (a 404 without an object name): Cilium is not installed.
      if (f?.code === 404 && !f.name) continue;
      if (f?.code === 403 && !needed) {
        unread.push(`${plural}.${group}`);
        continue;
      }
      const where = namespace ? `in ${namespace}` : 'in all namespaces';
      const grant = namespace ? LIVE_POLICY_ROLE_HINT : 'use -n <namespace>, or ask for a cluster-wide binding of hivewall-viewer (it reads the live policies)';
      throw toCliError(err, conn, {
        action: `list ${plural}.${group} ${where}`,
        forbidden: (fail) => `you are not allowed to list ${plural}.${group} ${where}: ${grant}${opts.instead ? `; ${opts.instead}` : ''} (the API server said: ${fail.message})`,
      });
    }
    for (const item of arr(rec(list)['items'])) {
      const o = rec(item);
      policies.push({ ...o, apiVersion: `${group}/${version}`, kind, metadata: { ...rec(o['metadata']), name: str(rec(o['metadata'])['name']) } } as KubernetesObject);
    }
  }
  return { policies, unread };
}
