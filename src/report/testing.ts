/** Test inputs for the report: a small namespace built through the real domain pipeline. */
import { WorkloadCatalog } from '../domain/catalog.js';
import { EdgeStore } from '../domain/edge-store.js';
import type { Flavor, GeneratedNamespace } from '../domain/generate.js';
import { buildGraph, graphEdges } from '../domain/graph.js';
import { IdentityResolver } from '../domain/identity.js';
import { emptyInventory } from '../domain/inventory.js';
import { buildPolicyModel } from '../domain/policy-model.js';
import { toCiliumPolicies } from '../domain/translate/cilium.js';
import { toNetworkPolicies } from '../domain/translate/networkpolicy.js';
import { DnsNames } from '../domain/dns-names.js';
import type { ReportAssets } from './assets.js';
import type { ReportInput } from './input.js';
import { entityKey, workloadKey } from '../domain/peer.js';

export const T0 = Date.UTC(2026, 10, 2, 10, 0, 0);

/** Assets that stand in for the browser bundle where a test only looks at the HTML around it. */
export const STUB_ASSETS: ReportAssets = { script: 'window.stub=1;', style: 'body{margin:0}' };

export interface DemoOptions {
  /** Name of the database workload (to try hostile names). */
  readonly dbName?: string;
  /** DNS name of the external API (DNS answers are attacker-controlled input). */
  readonly dnsName?: string;
  readonly flavor?: Flavor;
  /** Namespaces to generate policies for; default `demo`. */
  readonly namespaces?: readonly string[];
  /** Records more learned edges before the graph is built. */
  readonly extraEdges?: (store: EdgeStore) => void;
}

/**
 * `demo`: web (Deployment) ← world; web → api 8080/TCP; api → db 5432/TCP; web, api → coredns
 * 53/UDP (kube-system, never in scope); api → an external API 443/TCP.
 */
export function demoInput(options: DemoOptions = {}): ReportInput {
  const db = workloadKey('demo', 'StatefulSet', options.dbName ?? 'db');
  const web = workloadKey('demo', 'Deployment', 'web');
  const api = workloadKey('demo', 'Deployment', 'api');
  const dns = workloadKey('kube-system', 'Deployment', 'coredns');
  const external = entityKey('world', '203.0.113.50');
  const store = new EdgeStore();
  store.record(entityKey('world', '198.51.100.9'), web, 8080, 'TCP', T0 + 5_000, 7, T0 + 600_000);
  store.record(web, api, 8080, 'TCP', T0, 120, T0 + 3_540_000);
  store.record(api, db, 5432, 'TCP', T0 + 1_000, 33, T0 + 3_000_000);
  store.record(web, dns, 53, 'UDP', T0, 250, T0 + 3_590_000);
  store.record(api, dns, 53, 'UDP', T0, 90, T0 + 3_500_000);
  store.record(api, external, 443, 'TCP', T0 + 60_000, 12, T0 + 1_800_000);
  options.extraEdges?.(store);
  const dnsNames = new DnsNames();
  dnsNames.add(api, '203.0.113.50', options.dnsName ?? 'api.payments.example');
  const graph = buildGraph(store, dnsNames);
  const observedPods = new Map<string, Map<string, readonly string[]>>([
    [web, new Map([['web-1', ['app=web']]])],
    [api, new Map([['api-1', ['app=api']]])],
    [db, new Map([['db-0', ['app=db']]])],
    [dns, new Map([['coredns-1', ['k8s-app=kube-dns']]])],
  ]);
  const catalog = WorkloadCatalog.build(new IdentityResolver(emptyInventory), observedPods);
  const flavor = options.flavor ?? 'networkpolicy';
  const models = buildPolicyModel({ edges: graphEdges(graph), catalog, namespaces: options.namespaces ?? ['demo'], dnsNames, apiserverIps: [] });
  const generated: GeneratedNamespace[] = models.map((model) => ({
    namespace: model.namespace,
    model,
    objects: (flavor === 'cilium' ? toCiliumPolicies(model) : toNetworkPolicies(model, { nodeIps: [] })).objects,
  }));
  return {
    graph,
    generated,
    flavor,
    title: 'demo report',
    source: 'flows.jsonl',
    stats: { flows: 1000, connections: 512, lostEvents: 3, firstFlowAt: T0, lastFlowAt: T0 + 3_590_000 },
  };
}

/** The JSON document embedded in a rendered report. */
export function embeddedData(html: string): unknown {
  const match = /<script type="application\/json" id="hivewall-data">([\s\S]*?)<\/script>/.exec(html);
  if (!match) throw new Error('no embedded report data');
  return JSON.parse(match[1]!);
}
