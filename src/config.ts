/**
 * The operator's configuration: flags and environment parsed once, with zod, into a frozen
 * Config that main passes down. No module reads process.env at import time.
 */
import { z } from 'zod';

export const configSchema = z.object({
  /** Kubeconfig file; absent → in-cluster service account. */
  kubeconfig: z.string().optional(),
  /** The operator's own namespace (Lease, checkpoint ConfigMap). */
  namespace: z.string().min(1).default('hivewall-system'),
  /** Hubble flow export file to follow (rotations and gzip backups included). */
  flowsPath: z.string().min(1),
  /** This replica's identity in leader election (the pod name). */
  identity: z.string().min(1),
  leaseName: z.string().default('hivewall-operator'),
  leaseDurationSeconds: z.number().int().min(2).default(15),
  /** How often every Segmentation is reconciled even without events (ms). */
  resyncMs: z.number().int().min(100).default(10_000),
  /** How often the cluster inventory is re-listed (ms). */
  inventoryRefreshMs: z.number().int().min(100).default(15_000),
  /** Poll period of the flow file (ms). */
  flowPollMs: z.number().int().min(10).default(500),
  healthPort: z.number().int().min(0).max(65535).default(8081),
  bindAddress: z.string().default('0.0.0.0'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
});

export type Config = Readonly<z.output<typeof configSchema>>;

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
