/**
 * `TrafficProfile` (hivewall.dev/v1alpha1, namespaced, one per Segmentation, written by the
 * operator): the learned graph of the namespace, so a restart resumes learning with nothing lost.
 * Compact by design: peers are listed once and edges reference them by index, so a namespace with
 * 500 workloads and thousands of edges stays far below the 1.5 MiB object limit.
 */
import { z } from 'zod';
import { API_VERSION, objectMetaSchema } from './meta.js';

export const trafficProfileSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('TrafficProfile'),
  metadata: objectMetaSchema,
  spec: z.object({
    segmentation: z.string(),
    /** Peer keys, e.g. `wl:shop/Deployment/cart`, `en:world:203.0.113.7`. */
    peers: z.array(z.string()).default([]),
    /**
     * `[client, server, port, protocol, count, firstSeen, lastSeen]`: client/server index `peers`,
     * protocol 0 TCP, 1 UDP, 2 SCTP, 3 ICMPv4, 4 ICMPv6; times in Unix milliseconds.
     */
    edges: z.array(z.array(z.number())).default([]),
    /** DNS names a client workload of this namespace resolved for an external address: `<client peer key> <ip> <name> ...` per entry. */
    dnsNames: z.array(z.string()).default([]),
    flows: z.number().int().default(0),
    lostEvents: z.number().int().default(0),
    /**
     * What the counts cover, and how to undo them (docs/operator-guide.md, "What is stored, and when"):
     * - `pass`, `positions`: the store pass that wrote this profile and the flow sources' positions
     *   (the checkpoint's keys and values) its counts are exact at;
     * - `base`: the newest committed pass when it was written (the checkpoint stored that pass's
     *   positions) — the pass a restart rolls this profile back to when its own pass was never
     *   committed, and the positions a lost checkpoint is rebuilt from;
     * - `rollback`: what undoes this profile's counts back to `base`: rows (indexes of `edges`)
     *   first learned since (kept, with no connection counted), and `[row, count, lastSeen]` of
     *   rows whose counts moved since.
     */
    covers: z.object({
      pass: z.number().int().min(0),
      positions: z.record(z.string(), z.string()),
      base: z.object({
        pass: z.number().int().min(0),
        positions: z.record(z.string(), z.string()),
      }).optional(),
      rollback: z.object({
        added: z.array(z.number().int().min(0)).default([]),
        changed: z.array(z.array(z.number())).default([]),
      }).optional(),
    }).optional(),
  }),
});

export type TrafficProfile = z.output<typeof trafficProfileSchema>;
