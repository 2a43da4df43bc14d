/**
 * The agent → controller wire format: `POST /v1/edges` with a JSON body, answered by an ack.
 *
 * ```json
 * {"node":"node-a","instance":"4f1c…","seq":7,"edges":[
 *   {"client":"wl:shop/Deployment/frontend","server":"wl:shop/Deployment/cart","port":8080,
 *    "protocol":"TCP","count":12,"firstSeen":1767225600000,"lastSeen":1767225660000}]}
 * → 200 {"ack":7,"applied":1}        (or {"ack":7,"duplicate":true} for a retry already applied)
 * ```
 *
 * `unanswered` (optional, same shape as `edges`) carries TCP connections that got no reply: they
 * are never learned, only counted as denials of enforced policies. `denied` (optional) carries
 * connections Cilium dropped with `POLICY_DENIED` (a Hubble agent's), each with Hubble's traffic
 * direction and the denying policies' names when Cilium gave them: the same facts hubble-relay's
 * flows give the operator (src/operator/denial-registry.ts reads both).
 *
 * `instance` is random per agent process; with `node` and the authenticated user it names the
 * sequence `seq` counts in, so a restarted agent starting again at 1 is not mistaken for a retry.
 * Peers are the Learner's peer keys (`wl:<ns>/<Kind>/<name>`, `en:<entity>[:<ip>]`).
 */
import { z } from 'zod';
import type { Protocol } from '../domain/flow.js';
import { isDns1123Label, isDns1123Subdomain } from '../domain/k8s-names.js';
import { invalidPeerKey, type PeerKey } from '../domain/peer.js';

/** The path the controller serves. */
export const EDGES_PATH = '/v1/edges';

/** A peer key whose names follow Kubernetes' syntax (a node cannot hand in `..` or `/` as a name). */
const peerKeySchema = z.string().min(4).max(512).superRefine((key, ctx) => {
  const reason = invalidPeerKey(key);
  if (reason !== undefined) ctx.addIssue({ code: 'custom', message: `not a peer key (wl:<ns>/<Kind>/<name> or en:<entity>[:<ip>]): ${reason}` });
}).transform((key) => key as PeerKey);

/** Milliseconds since the epoch, within reason (no NaN, no year 30000). */
const timeSchema = z.number().min(0).max(1e14);

const edgeFields = {
  client: peerKeySchema,
  server: peerKeySchema,
  port: z.number().int().min(0).max(65535),
  protocol: z.enum(['TCP', 'UDP', 'SCTP', 'ICMPv4', 'ICMPv6']) satisfies z.ZodType<Protocol>,
  count: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  firstSeen: timeSchema,
  lastSeen: timeSchema,
};

export const edgeDeltaSchema = z.object(edgeFields).refine((e) => e.firstSeen <= e.lastSeen, 'firstSeen after lastSeen');

/** Most denying policies named per denial; an agent that sees more sends none (src/agent/aggregator.ts). */
export const MAX_DENIED_BY = 8;

/** Most denials in one batch. */
export const MAX_DENIALS = 20_000;

/**
 * Whether `name` is a denying policy as the flow parsers name it (src/ingest/hubble/build.ts
 * `policyNames`): `<namespace>/<name>`, the namespace empty for a cluster-wide policy.
 */
export function isPolicyName(name: string): boolean {
  const slash = name.indexOf('/');
  if (slash < 0) return false;
  const namespace = name.slice(0, slash);
  return (namespace === '' || isDns1123Label(namespace)) && isDns1123Subdomain(name.slice(slash + 1));
}

/**
 * Connections Cilium dropped with `POLICY_DENIED`, per edge, direction and denying policies:
 * `direction` is Hubble's traffic direction of the drop (EGRESS: the client's policy, INGRESS: the
 * server's), `deniedBy` the policies Cilium named.
 */
export const deniedDeltaSchema = z.object({
  ...edgeFields,
  direction: z.enum(['INGRESS', 'EGRESS']).optional(),
  deniedBy: z.array(z.string().max(320).refine(isPolicyName, 'not a policy name (<namespace>/<name>)')).min(1).max(MAX_DENIED_BY).optional(),
}).refine((e) => e.firstSeen <= e.lastSeen, 'firstSeen after lastSeen');

export type DeniedDelta = z.output<typeof deniedDeltaSchema>;

export const edgeBatchSchema = z.object({
  node: z.string().min(1).max(253),
  instance: z.string().min(1).max(64),
  seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  edges: z.array(edgeDeltaSchema),
  /** Connections the agent dropped (buffer full) since its previous batch: counted as lost by the controller. */
  dropped: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /**
   * TCP connections that stayed `SYN_SENT [UNREPLIED]`, per edge (same shape as `edges`): never
   * learned; counted as denied when an enforced policy covers either side.
   */
  unanswered: z.array(edgeDeltaSchema).max(20_000).optional(),
  /** Connections Cilium's policies dropped (a Hubble agent's), see {@link deniedDeltaSchema}: never learned; counted as denials. */
  denied: z.array(deniedDeltaSchema).max(MAX_DENIALS).optional(),
});

export type EdgeBatchBody = z.output<typeof edgeBatchSchema>;

/** The controller's answer to an accepted (or already applied) batch. */
export interface EdgeAck {
  readonly ack: number;
  /** Edges merged by this request (0 for a duplicate). */
  readonly applied: number;
  /** True when this `seq` had been applied before: nothing was counted again. */
  readonly duplicate?: boolean;
  /** Edges of the batch refused for good (neither side on the reporting node): not merged, not to be resent. */
  readonly refused?: number;
}

/** Parses an ack body; undefined when it is not one. */
export function parseAck(text: string): EdgeAck | undefined {
  try {
    const value = JSON.parse(text) as { ack?: unknown; applied?: unknown; duplicate?: unknown };
    if (typeof value.ack !== 'number' || !Number.isSafeInteger(value.ack)) return undefined;
    return { ack: value.ack, applied: typeof value.applied === 'number' ? value.applied : 0, ...(value.duplicate === true ? { duplicate: true } : {}) };
  } catch {
    return undefined;
  }
}
