/**
 * The connection-level verdict. Kubernetes: "For a connection from a source pod to a destination pod
 * to be allowed, both the egress policy on the source pod and the ingress policy on the destination pod
 * need to allow the connection. If either side does not allow the connection, it will not happen."
 * Cilium: "policy must be configured on both sides (sender and receiver)". Both flavours are evaluated
 * the same way and may be mixed (Cilium enforces NetworkPolicy and CiliumNetworkPolicy together):
 * isolation and allowance are the union over both, and a Cilium deny rule wins over every allow.
 */
import { evaluateCiliumPolicies } from './cilium.js';
import type {
  CiliumNetworkPolicy,
  ClusterModel,
  Connection,
  DirectionVerdict,
  EvaluateOptions,
  EvaluationResult,
  NetworkPolicy,
  Policy,
} from './model.js';
import { evaluateNetworkPolicies } from './networkpolicy.js';
import type { Direction, Endpoint, Side } from './resolve.js';
import type { ClusterLookup } from './lookup.js';
import { ClusterIndex, isNetworkPolicyPod, isOwnNode } from './resolve.js';

export interface Evaluator {
  /** Judges one connection. Throws when a `{kind: 'pod'}` peer is not in the cluster model. */
  evaluate(connection: Connection): EvaluationResult;
  /** Objects passed as policies that are neither NetworkPolicy nor Cilium(Clusterwide)NetworkPolicy. */
  readonly ignoredPolicies: readonly string[];
}

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

function directionWord(direction: Direction): string {
  return direction === 'egress' ? 'egress from' : 'ingress to';
}

function isCilium(policy: Policy): policy is CiliumNetworkPolicy {
  return policy.kind === 'CiliumNetworkPolicy' || policy.kind === 'CiliumClusterwideNetworkPolicy';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why an object cannot be evaluated as a policy (reported in `ignoredPolicies`), or undefined. */
function unusable(policy: unknown): string | undefined {
  if (!isRecord(policy)) return `not an object: ${String(policy)}`;
  const kind = typeof policy.kind === 'string' ? policy.kind : '?';
  const metadata = isRecord(policy.metadata) ? policy.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : '?';
  const what = `${kind} ${typeof metadata.namespace === 'string' ? `${metadata.namespace}/` : ''}${name}`;
  if (kind !== 'NetworkPolicy' && kind !== 'CiliumNetworkPolicy' && kind !== 'CiliumClusterwideNetworkPolicy') return `${what}: unsupported kind`;
  if (name === '?') return `${what}: metadata.name missing`;
  if (kind === 'NetworkPolicy' && !isRecord(policy.spec)) return `${what}: spec missing`;
  return undefined;
}

/**
 * Builds an evaluator over a cluster and a fixed policy set (indexes are built once, so audit can
 * judge many flows cheaply). Given a model, the evaluator is pure and deterministic; given a
 * {@link ClusterLookup}, it judges against that lookup as it is at each call (audit mode keeps it current).
 */
export function createEvaluator(cluster: ClusterModel | ClusterLookup, policies: readonly Policy[], options: EvaluateOptions = {}): Evaluator {
  const index = new ClusterIndex(cluster, options);
  const networkPolicies: NetworkPolicy[] = [];
  const ciliumPolicies: CiliumNetworkPolicy[] = [];
  const ignoredPolicies: string[] = [];
  for (const policy of policies) {
    const problem = unusable(policy);
    if (problem !== undefined) ignoredPolicies.push(problem);
    else if (policy.kind === 'NetworkPolicy') networkPolicies.push(policy);
    else if (isCilium(policy)) ciliumPolicies.push(policy);
  }

  /**
   * One side. Ingress exemption: "When a pod is isolated for ingress, the only allowed connections
   * into the pod are those from the pod's node and those allowed by the ingress list" (option
   * `hostTrafficAlwaysAllowed`, default true). Egress to the pod's own node is NOT exempt: "When a pod
   * is isolated for egress, the only allowed connections from the pod are those allowed by the egress
   * list".
   */
  function evaluateSide(direction: Direction, subject: Endpoint, peer: Endpoint, connection: Connection, destination: Endpoint): DirectionVerdict {
    const word = directionWord(direction);
    if (subject.pod === undefined) {
      return {
        isolated: false,
        allowed: true,
        isolatedBy: [],
        allowedBy: [],
        deniedBy: [],
        basis: 'not-a-pod',
        reason: `${subject.label} is not a pod: no ${direction} policy applies`,
      };
    }
    const side: Side = {
      direction,
      subject: { ...subject, pod: subject.pod },
      peer,
      destination,
      port: connection.port,
      protocol: connection.protocol,
      index,
    };
    const np = evaluateNetworkPolicies(networkPolicies, side);
    const cilium = evaluateCiliumPolicies(ciliumPolicies, side);
    const isolatedBy = sortedUnique([...np.isolatedBy, ...cilium.isolatedBy]);
    const allowedBy = sortedUnique([...np.allowedBy, ...cilium.allowedBy]);
    const deniedBy = sortedUnique(cilium.deniedBy);
    const notes = sortedUnique(cilium.notes);
    const isolated = isolatedBy.length > 0;
    const base = { subject: subject.label, isolated, isolatedBy, allowedBy, deniedBy };
    const what = `${connection.protocol}/${connection.port} ${direction === 'egress' ? 'to' : 'from'} ${peer.label}`;
    const noteText = notes.length > 0 ? ` (${notes.join('; ')})` : '';

    if (deniedBy.length > 0) {
      return { ...base, allowed: false, basis: 'deny-rule', reason: `${word} ${subject.label}: ${what} denied by deny rule of ${deniedBy.join(', ')}` };
    }
    if (!isolated) {
      const hostNetwork =
        subject.pod.hostNetwork && !isNetworkPolicyPod(subject, index.options)
          ? ' (hostNetwork pod: its traffic is node traffic, which policies do not select)'
          : '';
      return { ...base, allowed: true, basis: 'not-isolated', reason: `${word} ${subject.label}: not isolated for ${direction}${hostNetwork}` };
    }
    if (allowedBy.length > 0) {
      return { ...base, allowed: true, basis: 'rule', reason: `${word} ${subject.label}: ${what} allowed by ${allowedBy.join(', ')}${noteText}` };
    }
    if (direction === 'ingress' && index.options.hostTrafficAlwaysAllowed && isOwnNode(peer, subject.pod, index.options)) {
      return {
        ...base,
        allowed: true,
        basis: 'node-traffic',
        reason: `${word} ${subject.label}: isolated by ${isolatedBy.join(', ')}; ${peer.label} is the pod's own node, whose traffic is always allowed`,
      };
    }
    return {
      ...base,
      allowed: false,
      basis: 'no-matching-rule',
      reason: `${word} ${subject.label}: isolated by ${isolatedBy.join(', ')} and no ${direction} rule allows ${what}`,
    };
  }

  function evaluate(connection: Connection): EvaluationResult {
    const source = index.resolve(connection.source);
    const destination = index.resolve(connection.destination);
    if (source.pod !== undefined && source.pod === destination.pod) {
      const self: DirectionVerdict = {
        subject: source.label,
        isolated: false,
        allowed: true,
        isolatedBy: [],
        allowedBy: [],
        deniedBy: [],
        basis: 'self',
        reason: `${source.label} connecting to itself: "a pod cannot block access to itself" (loopback is out of scope)`,
      };
      return { allowed: true, egress: self, ingress: self, reason: self.reason };
    }
    const egress = evaluateSide('egress', source, destination, connection, destination);
    const ingress = evaluateSide('ingress', destination, source, connection, destination);
    const allowed = egress.allowed && ingress.allowed;
    const flow = `${source.label} → ${destination.label} ${connection.protocol}/${connection.port}`;
    const reason = allowed
      ? `allowed: ${flow}; ${egress.reason}; ${ingress.reason}`
      : `denied: ${flow}; ${[egress, ingress].filter((side) => !side.allowed).map((side) => side.reason).join('; ')}`;
    return { allowed, egress, ingress, reason };
  }

  return { evaluate, ignoredPolicies };
}

/** One-shot convenience over {@link createEvaluator}. */
export function evaluateConnection(
  cluster: ClusterModel,
  policies: readonly Policy[],
  connection: Connection,
  options: EvaluateOptions = {},
): EvaluationResult {
  return createEvaluator(cluster, policies, options).evaluate(connection);
}
