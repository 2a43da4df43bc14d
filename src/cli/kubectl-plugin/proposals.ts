/**
 * `kubectl hivewall proposals`: the table of PolicyProposals, read through the quick connection
 * (quick-connection.ts) when the kubeconfig is plain, else through the Kubernetes client
 * (commands.ts). Imports nothing of the client: this is all the command loads on the quick path.
 */
import { toCliError } from './api-errors.js';
import type { PluginIo } from './commands.js';
import type { ConnectionFlags } from './connection.js';
import { GROUP, PLURAL, VERSION } from './names.js';
import { getJson, quickConnect } from './quick-connection.js';
import { escapeControl } from '../terminal.js';

/** Where proposals are read from: what messages name, and the list call. */
export interface ProposalSource {
  readonly server: string;
  readonly contextName: string;
  /** The namespace listed without -A. */
  readonly namespace: string;
  /** The PolicyProposal list object of a namespace, or of all (`undefined`). */
  list(namespace: string | undefined): Promise<unknown>;
}

/** The proposals table, for one namespace or all of them; `wide` adds each one's content digest and uid. */
export async function printProposalTable(source: ProposalSource, allNamespaces: boolean, io: PluginIo, now: () => Date, wide = false): Promise<void> {
  const namespace = allNamespaces ? undefined : source.namespace;
  // The table's code (the schema that checks each proposal's digest) loads while the request is out.
  const listed = source.list(namespace);
  listed.catch(() => undefined);
  const { proposalsTable, proposalWarnings, summarizeProposal } = await import('./format.js');
  let items: unknown;
  try {
    items = ((await listed) as { items?: unknown } | null)?.items;
  } catch (err) {
    throw toCliError(err, source, {
      action: namespace ? `list policyproposals in ${namespace}` : 'list policyproposals in all namespaces',
      forbidden: (f) => namespace
        ? `you are not allowed to list proposals in ${namespace}: ask for the hivewall-reviewer or hivewall-viewer ClusterRole (the API server said: ${f.message})`
        : `you are not allowed to list proposals in all namespaces: use -n <namespace>, or ask for a cluster-wide binding of hivewall-viewer (the API server said: ${f.message})`,
      notFound: () => `the PolicyProposal API (${PLURAL}.${GROUP}/${VERSION}) is not installed on ${source.server}: install hivewall with kubectl apply -k deploy/`,
    });
  }
  const proposals = Array.isArray(items) ? items.map(summarizeProposal) : [];
  if (proposals.length === 0) {
    io.stderr.write(namespace ? `No PolicyProposals found in namespace ${namespace}.\n` : 'No PolicyProposals found.\n');
    return;
  }
  io.stdout.write(escapeControl(proposalsTable(proposals, now(), wide) + proposalWarnings(proposals)));
}

/** The table through the quick connection; false (nothing done) when the kubeconfig is not plain. */
export async function printProposalsQuick(flags: ConnectionFlags, allNamespaces: boolean, io: PluginIo, now: () => Date, env: NodeJS.ProcessEnv, wide = false): Promise<boolean> {
  const conn = quickConnect(flags, env);
  if (!conn) return false;
  const base = `/apis/${GROUP}/${VERSION}`;
  const list = (namespace: string | undefined) =>
    getJson(conn, namespace === undefined ? `${base}/${PLURAL}` : `${base}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}`);
  await printProposalTable({ ...conn, list }, allNamespaces, io, now, wide);
  return true;
}
