/**
 * The operator's configuration: flags and environment parsed once, with zod, into a frozen
 * Config that main passes down. No module reads process.env at import time.
 *
 * Flow sources: any combination of the three, at least one —
 * - `flowsPath`: follow a Hubble flow export file (rotations and gzip backups included);
 * - `hubbleAddress`: stream flows from hubble-relay's Observer API over gRPC (plaintext or TLS);
 * - `receiverPort`: serve the conntrack node agents' edge pushes (HTTPS, TokenReview).
 */
import { z } from 'zod';
import { parseCidr } from './domain/ip.js';

/** An address range `<address>/<prefix>` (IPv4 or IPv6), as src/domain/ip.ts parses it. */
export const cidrSchema = z.string().refine((text) => text.includes('/') && parseCidr(text) !== undefined, {
  error: (issue) => `${JSON.stringify(issue.input)} is not a CIDR (<address>/<prefix>, e.g. 10.244.0.0/16 or fd00:10:244::/56)`,
});

export const configSchema = z.object({
  /** Kubeconfig file; absent → in-cluster service account. */
  kubeconfig: z.string().optional(),
  /** The operator's own namespace (Lease, checkpoint ConfigMap, receiver certificate). */
  namespace: z.string().min(1).default('hivewall-system'),
  /** Hubble flow export file to follow (rotations and gzip backups included). */
  flowsPath: z.string().min(1).optional(),
  /** hubble-relay (or a Cilium agent's Hubble server) gRPC address, e.g. `hubble-relay.kube-system.svc:443`. */
  hubbleAddress: z.string().min(1).optional(),
  /** Use TLS to hubble-relay; implied by any of the TLS files or the server name. */
  hubbleTls: z.boolean().default(false),
  hubbleTlsCaFile: z.string().min(1).optional(),
  hubbleTlsCertFile: z.string().min(1).optional(),
  hubbleTlsKeyFile: z.string().min(1).optional(),
  /** Name the relay's certificate is checked against, e.g. `ui.hubble-relay.cilium.io`. */
  hubbleTlsServerName: z.string().min(1).optional(),
  /** Port of the agents' edge receiver (`POST /v1/edges`); absent: no receiver. */
  receiverPort: z.number().int().min(0).max(65535).optional(),
  /** Serving certificate and key files for the receiver (e.g. from cert-manager); absent: self-issued (Secret). */
  receiverCertFile: z.string().min(1).optional(),
  receiverKeyFile: z.string().min(1).optional(),
  /** Serve the receiver over plain HTTP (tests only: the agents' tokens would travel in clear text). */
  receiverInsecure: z.boolean().default(false),
  /** The audience agents' tokens must be issued for (a projected ServiceAccount token); checked in the TokenReview. */
  receiverAudience: z.string().min(1).default('hivewall-receiver'),
  /**
   * At most this many distinct edges are learned in all (default 500,000, roughly 40–80 MB) and per
   * namespace (default 50,000); new edges beyond either are counted as lost and the Segmentation
   * shows FlowsComplete=False, so no tenant or node can grow the operator's memory without bound.
   */
  maxEdges: z.number().int().min(1).default(500_000),
  maxEdgesPerNamespace: z.number().int().min(1).default(50_000),
  /**
   * Inputs (flows, agents' edge deltas) a store pass may hold back before the flow sources pause
   * until it ends (src/operator/flow-sources.ts). Each is a parsed flow or an edge delta plus its
   * closure, about 530 bytes for a Hubble flow (measured), so about 130 MB at the default (the
   * operator's memory limit in deploy/ is 1 GiB). A pass lasts at most about 90 s
   * (src/operator/store-loop.ts), but a busy cluster's Hubble stream, or every node's agent sending
   * a batch of up to 20,000 edges at once, can outgrow the operator's memory in less.
   */
  maxHeldInputs: z.number().int().min(1).default(250_000),
  /**
   * Pod ranges beyond the Nodes' `spec.podCIDRs` (set them when Nodes carry none: EKS VPC CNI,
   * Cilium cluster-pool, Calico IPAM): an address inside that the inventory does not know is
   * unresolved, not the world, and public ingress excepts them (src/domain/plan.ts).
   */
  podCidrs: z.array(cidrSchema).default([]),
  /** Service ranges: an unknown address inside is unresolved, not the world. */
  serviceCidrs: z.array(cidrSchema).default([]),
  /** ServiceAccount (in `namespace`) the agents push as; only it may push edges. */
  agentServiceAccount: z.string().min(1).default('hivewall-agent'),
  /** The Service agents reach the receiver through (named in the self-issued certificate). */
  serviceName: z.string().min(1).default('hivewall-operator'),
  /** This replica's identity in leader election (the pod name). */
  identity: z.string().min(1),
  leaseName: z.string().default('hivewall-operator'),
  leaseDurationSeconds: z.number().int().min(2).default(15),
  /**
   * How often a Segmentation is reconciled even without a change (ms): a safety net, since every
   * change that matters enqueues it (src/operator/operator.ts).
   */
  resyncMs: z.number().int().min(100).default(300_000),
  /**
   * When only connection counts changed (no new edge, no agent waiting for its acknowledgement),
   * the learned state is stored at most this often (ms): one TrafficProfile write per busy
   * namespace per interval. The input is held, not lost, until it is stored.
   */
  countsIntervalMs: z.number().int().min(100).default(30_000),
  /** How often identity is rebuilt from the watched cluster objects when they changed (ms). */
  inventoryRefreshMs: z.number().int().min(100).default(2_000),
  /** The leader's work starts only once the cluster inventory is listed; it gives up (and retries) after this long (ms). */
  inventorySyncTimeoutMs: z.number().int().min(100).default(60_000),
  /** Poll period of the flow file (ms). */
  flowPollMs: z.number().int().min(10).default(500),
  healthPort: z.number().int().min(0).max(65535).default(8081),
  bindAddress: z.string().default('0.0.0.0'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
}).superRefine((c, ctx) => {
  if (c.flowsPath === undefined && c.hubbleAddress === undefined && c.receiverPort === undefined) {
    ctx.addIssue({ code: 'custom', path: ['flowSources'], message: 'no flow source: set flowsPath (a Hubble export file), hubbleAddress (hubble-relay) or receiverPort (conntrack agents)' });
  }
  if ((c.receiverCertFile === undefined) !== (c.receiverKeyFile === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['receiverCertFile'], message: 'receiverCertFile and receiverKeyFile go together' });
  }
  if (c.hubbleAddress === undefined && (c.hubbleTls || c.hubbleTlsCaFile || c.hubbleTlsCertFile || c.hubbleTlsKeyFile || c.hubbleTlsServerName)) {
    ctx.addIssue({ code: 'custom', path: ['hubbleAddress'], message: 'Hubble TLS settings without hubbleAddress' });
  }
  if ((c.hubbleTlsCertFile === undefined) !== (c.hubbleTlsKeyFile === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['hubbleTlsCertFile'], message: 'hubbleTlsCertFile and hubbleTlsKeyFile go together (mTLS)' });
  }
});

export type Config = Readonly<z.output<typeof configSchema>>;

/** Whether the Hubble gRPC connection uses TLS. */
export function hubbleUsesTls(config: Config): boolean {
  return config.hubbleTls || config.hubbleTlsCaFile !== undefined || config.hubbleTlsCertFile !== undefined || config.hubbleTlsServerName !== undefined;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses raw options (flags merged over environment) into a frozen Config, or throws ConfigError. */
export function parseConfig(raw: Record<string, unknown>): Config {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; '));
  }
  return Object.freeze(parsed.data);
}
