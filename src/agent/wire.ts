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
 * are never learned, only counted as denials of enforced policies.
 *
 * `instance` is random per agent process; with `node` and the authenticated user it names the
 * sequence `seq` counts in, so a restarted agent starting again at 1 is not mistaken for a retry.
 * Peers are the Learner's peer keys (`wl:<ns>/<Kind>/<name>`, `en:<entity>[:<ip>]`).
 */
import { z } from 'zod';
import type { Protocol } from '../domain/flow.js';
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

export const edgeDeltaSchema = z.object({
  client: peerKeySchema,
  server: peerKeySchema,
  port: z.number().int().min(0).max(65535),
  protocol: z.enum(['TCP', 'UDP', 'SCTP', 'ICMPv4', 'ICMPv6']) satisfies z.ZodType<Protocol>,
  count: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  firstSeen: timeSchema,
  lastSeen: timeSchema,
}).refine((e) => e.firstSeen <= e.lastSeen, 'firstSeen after lastSeen');

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
