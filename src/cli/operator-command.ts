/**
 * `hivewall operator`: its flags and `HIVEWALL_*` variables into one validated configuration, then
 * the operator process (src/operator/process.ts).
 */
import { ConfigError, parseConfig, type Config } from '../config.js';
import { runOperatorProcess } from '../operator/process.js';
import { CliError, UsageError } from './errors.js';
import { listOption } from './list-option.js';
import type { CliIo } from './main.js';

export interface OperatorFlags {
  readonly kubeconfig?: string;
  readonly namespace?: string;
  readonly flowsPath?: string;
  readonly hubbleAddress?: string;
  readonly hubbleTls?: boolean;
  readonly hubbleTlsCaFile?: string;
  readonly hubbleTlsCertFile?: string;
  readonly hubbleTlsKeyFile?: string;
  readonly hubbleTlsServerName?: string;
  readonly receiverPort?: string;
  readonly receiverCertFile?: string;
  readonly receiverKeyFile?: string;
  readonly receiverInsecure?: boolean;
  readonly agentServiceAccount?: string;
  readonly receiverAudience?: string;
  readonly maxEdges?: string;
  readonly maxEdgesPerNamespace?: string;
  readonly maxHeldInputs?: string;
  /** `--pod-cidr`, repeatable; each value may list several, comma-separated. */
  readonly podCidr?: readonly string[];
  /** `--service-cidr`, repeatable; each value may list several, comma-separated. */
  readonly serviceCidr?: readonly string[];
  readonly identity?: string;
  readonly leaseDurationSeconds?: string;
  readonly resyncMs?: string;
  readonly countsIntervalMs?: string;
  readonly inventoryRefreshMs?: string;
  readonly inventorySyncTimeoutMs?: string;
  readonly flowPollMs?: string;
  readonly healthPort?: string;
  readonly bindAddress?: string;
  readonly logLevel?: string;
}

const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
/** `true`/`1`/`yes` → true, anything else false (environment booleans). */
const bool = (v: string) => /^(true|1|yes)$/i.test(v.trim());

/** Flags win over environment variables (HIVEWALL_*), which win over defaults. */
export function operatorConfig(flags: OperatorFlags, env: NodeJS.ProcessEnv): Config {
  const pick = <T>(flag: T | undefined, envName: string, convert: (s: string) => T): T | undefined =>
    flag !== undefined ? flag : env[envName] !== undefined && env[envName] !== '' ? convert(env[envName]!) : undefined;
  const raw = Object.fromEntries(Object.entries({
    kubeconfig: pick(flags.kubeconfig, 'KUBECONFIG', String),
    namespace: pick(flags.namespace, 'HIVEWALL_NAMESPACE', String),
    flowsPath: pick(flags.flowsPath, 'HIVEWALL_FLOWS_PATH', String),
    hubbleAddress: pick(flags.hubbleAddress, 'HIVEWALL_HUBBLE_ADDRESS', String),
    hubbleTls: pick(flags.hubbleTls, 'HIVEWALL_HUBBLE_TLS', bool),
    hubbleTlsCaFile: pick(flags.hubbleTlsCaFile, 'HIVEWALL_HUBBLE_TLS_CA_FILE', String),
    hubbleTlsCertFile: pick(flags.hubbleTlsCertFile, 'HIVEWALL_HUBBLE_TLS_CERT_FILE', String),
    hubbleTlsKeyFile: pick(flags.hubbleTlsKeyFile, 'HIVEWALL_HUBBLE_TLS_KEY_FILE', String),
    hubbleTlsServerName: pick(flags.hubbleTlsServerName, 'HIVEWALL_HUBBLE_TLS_SERVER_NAME', String),
    receiverPort: pick(num(flags.receiverPort), 'HIVEWALL_RECEIVER_PORT', Number),
    receiverCertFile: pick(flags.receiverCertFile, 'HIVEWALL_RECEIVER_CERT_FILE', String),
    receiverKeyFile: pick(flags.receiverKeyFile, 'HIVEWALL_RECEIVER_KEY_FILE', String),
    receiverInsecure: pick(flags.receiverInsecure, 'HIVEWALL_RECEIVER_INSECURE', bool),
    agentServiceAccount: pick(flags.agentServiceAccount, 'HIVEWALL_AGENT_SERVICE_ACCOUNT', String),
    receiverAudience: pick(flags.receiverAudience, 'HIVEWALL_RECEIVER_AUDIENCE', String),
    maxEdges: pick(num(flags.maxEdges), 'HIVEWALL_MAX_EDGES', Number),
    maxEdgesPerNamespace: pick(num(flags.maxEdgesPerNamespace), 'HIVEWALL_MAX_EDGES_PER_NAMESPACE', Number),
    maxHeldInputs: pick(num(flags.maxHeldInputs), 'HIVEWALL_MAX_HELD_INPUTS', Number),
    podCidrs: listOption(flags.podCidr, env['HIVEWALL_POD_CIDRS']),
    serviceCidrs: listOption(flags.serviceCidr, env['HIVEWALL_SERVICE_CIDRS']),
    identity: pick(flags.identity, 'HOSTNAME', String),
    leaseDurationSeconds: pick(num(flags.leaseDurationSeconds), 'HIVEWALL_LEASE_DURATION_SECONDS', Number),
    resyncMs: pick(num(flags.resyncMs), 'HIVEWALL_RESYNC_MS', Number),
    countsIntervalMs: pick(num(flags.countsIntervalMs), 'HIVEWALL_COUNTS_INTERVAL_MS', Number),
    inventoryRefreshMs: pick(num(flags.inventoryRefreshMs), 'HIVEWALL_INVENTORY_REFRESH_MS', Number),
    inventorySyncTimeoutMs: pick(num(flags.inventorySyncTimeoutMs), 'HIVEWALL_INVENTORY_SYNC_TIMEOUT_MS', Number),
    flowPollMs: pick(num(flags.flowPollMs), 'HIVEWALL_FLOW_POLL_MS', Number),
    healthPort: pick(num(flags.healthPort), 'HIVEWALL_HEALTH_PORT', Number),
    bindAddress: pick(flags.bindAddress, 'HIVEWALL_BIND_ADDRESS', String),
    logLevel: pick(flags.logLevel, 'HIVEWALL_LOG_LEVEL', String),
  }).filter(([, v]) => v !== undefined));
  try {
    return parseConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`operator configuration: ${error.message}`);
    throw error;
  }
}

export async function runOperator(flags: OperatorFlags, io: CliIo): Promise<void> {
  const config = operatorConfig(flags, process.env);
  const outcome = await runOperatorProcess(config, io.stdout);
  // Like client-go: a replica that lost its lease exits and is restarted, rather than risk two leaders.
  if (outcome === 'leadership-lost') throw new CliError('leadership lost', 1);
}
