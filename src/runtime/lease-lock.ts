/**
 * The lock under leader election: one `coordination.k8s.io/v1` Lease, read and written with
 * optimistic concurrency (a write carries the resourceVersion it read; the API server answers
 * 409 Conflict if anyone wrote in between — that is how two candidates can never both win).
 */
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { classifyApiError, isNotFound } from './errors.js';

/** client-go's LeaderElectionRecord, with times as epoch milliseconds. */
export interface LeaderElectionRecord {
  /** Who holds the lease; '' when it was released. */
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime?: number | undefined;
  readonly renewTime?: number | undefined;
  readonly leaseTransitions: number;
}

export interface LockedRecord {
  readonly record: LeaderElectionRecord;
  readonly resourceVersion: string;
}

export interface LeaseLock {
  /** `Lease kube-system/hivewall` (for logs). */
  describe(): string;
  /** The current record, or undefined when the Lease does not exist. */
  get(): Promise<LockedRecord | undefined>;
  /** Create the Lease; rejects with a 409 if it already exists. */
  create(record: LeaderElectionRecord): Promise<LockedRecord>;
  /** Replace the record if the Lease is still at `resourceVersion`; rejects with a 409 otherwise. */
  update(record: LeaderElectionRecord, resourceVersion: string): Promise<LockedRecord>;
}

/** Epoch ms from whatever client-node returns for a MicroTime (a string at runtime, typed Date). */
function toMs(t: unknown): number | undefined {
  if (t instanceof Date) return t.getTime();
  if (typeof t === 'string' && t) {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/**
 * MicroTime for the API server: it parses with Go's RFC3339Micro layout and rejects the
 * millisecond form a plain `Date` serialises to ("parsing time … as 2006-01-02T15:04:05.000000Z07:00").
 */
function microTime(ms: number | undefined): V1MicroTime | undefined {
  return ms === undefined ? undefined : new V1MicroTime(ms);
}

function recordOf(lease: V1Lease): LockedRecord {
  const spec = lease.spec ?? {};
  return {
    resourceVersion: lease.metadata?.resourceVersion ?? '',
    record: {
      holderIdentity: spec.holderIdentity ?? '',
      leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
      acquireTime: toMs(spec.acquireTime),
      renewTime: toMs(spec.renewTime),
      leaseTransitions: spec.leaseTransitions ?? 0,
    },
  };
}

function specOf(r: LeaderElectionRecord): V1Lease['spec'] {
  return {
    holderIdentity: r.holderIdentity,
    leaseDurationSeconds: r.leaseDurationSeconds,
    acquireTime: microTime(r.acquireTime),
    renewTime: microTime(r.renewTime),
    leaseTransitions: r.leaseTransitions,
  };
}

/** A {@link LeaseLock} on the Lease `namespace/name`, through client-node's CoordinationV1Api. */
export function kubeLeaseLock(kubeConfig: KubeConfig, namespace: string, name: string): LeaseLock {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  const object = { kind: 'Lease', namespace, name };
  /** The last Lease read or written: `update` replaces the whole object, keeping labels etc. */
  let last: V1Lease | undefined;
  return {
    describe: () => `Lease ${namespace}/${name}`,
    async get() {
      try {
        last = await api.readNamespacedLease({ namespace, name });
        return recordOf(last);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw classifyApiError(err, 'get', object);
      }
    },
    async create(record) {
      try {
        last = await api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: specOf(record) } });
        return recordOf(last);
      } catch (err) {
        throw classifyApiError(err, 'create', object);
      }
    },
    async update(record, resourceVersion) {
      const base: V1Lease = last ?? { metadata: { name, namespace } };
      try {
        last = await api.replaceNamespacedLease({
          namespace, name,
          body: { ...base, metadata: { ...base.metadata, name, namespace, resourceVersion }, spec: { ...base.spec, ...specOf(record) } },
        });
        return recordOf(last);
      } catch (err) {
        throw classifyApiError(err, 'update', object);
      }
    },
  };
}
