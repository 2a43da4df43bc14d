/** Hubble flow lines for the attack tests: a pod endpoint, a world endpoint, a flow, a DNS answer. */

export interface Pod {
  readonly ip: string;
  readonly ns: string;
  readonly pod: string;
  readonly app: string;
  /** Hubble `workloads[0]`; the Deployment named `app` when left out. */
  readonly workload?: { readonly kind: string; readonly name: string };
}

export interface World {
  readonly ip: string;
}

type Endpoint = Pod | World;

const isPod = (e: Endpoint): e is Pod => 'ns' in e;

function endpoint(e: Endpoint): Record<string, unknown> {
  if (!isPod(e)) return { labels: ['reserved:world'], identity: 2 };
  return {
    namespace: e.ns,
    pod_name: e.pod,
    labels: [`k8s:app=${e.app}`, `k8s:io.kubernetes.pod.namespace=${e.ns}`],
    workloads: [e.workload ?? { name: e.app, kind: 'Deployment' }],
  };
}

let second = 0;
const nextTime = () => new Date(Date.parse('2026-11-02T10:00:00Z') + 1000 * ++second).toISOString();

/** A forwarded TCP connection `src → dst:port` seen at the destination endpoint (proof of delivery). */
export function connection(src: Pod, dst: Endpoint, port: number, extra: Record<string, unknown> = {}): string {
  const time = nextTime();
  return JSON.stringify({
    flow: {
      time,
      verdict: 'FORWARDED',
      IP: { source: src.ip, destination: dst.ip, ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 40000 + second, destination_port: port, flags: { SYN: true } } },
      source: endpoint(src),
      destination: endpoint(dst),
      Type: 'L3_L4',
      node_name: 'node-a',
      traffic_direction: 'EGRESS',
      is_reply: false,
      ...extra,
    },
    node_name: 'node-a',
    time,
  });
}

/** A DNS answer from `server` to `client` (Hubble's L7 DNS RESPONSE record, a reply). */
export function dnsAnswer(server: Pod, client: Pod, query: string, ips: readonly string[]): string {
  const time = nextTime();
  return JSON.stringify({
    flow: {
      time,
      verdict: 'FORWARDED',
      IP: { source: server.ip, destination: client.ip, ipVersion: 'IPv4' },
      l4: { UDP: { source_port: 53, destination_port: 30000 + second } },
      source: endpoint(server),
      destination: endpoint(client),
      Type: 'L7',
      node_name: 'node-a',
      l7: { type: 'RESPONSE', dns: { query: `${query}.`, ips, ttl: 30, qtypes: ['A'], rrtypes: ['A'] } },
      traffic_direction: 'EGRESS',
      is_reply: true,
    },
    node_name: 'node-a',
    time,
  });
}
