/**
 * Hubble export lines (the `hubble observe -o json` / flow-export format) for tests and
 * benchmarks that drive the operator through its flow file: one delivered TCP connection is a
 * FORWARDED flow observed TO_ENDPOINT at the server, which is proof of delivery on its own.
 */

/** One side of a connection: a Deployment's pod. */
export interface PodEnd {
  readonly namespace: string;
  readonly deployment: string;
  readonly pod: string;
  readonly ip: string;
  readonly labels: Readonly<Record<string, string>>;
}

function endpointJson(end: PodEnd): Record<string, unknown> {
  return {
    namespace: end.namespace,
    labels: [
      ...Object.entries(end.labels).map(([k, v]) => `k8s:${k}=${v}`),
      `k8s:io.kubernetes.pod.namespace=${end.namespace}`,
    ].sort(),
    pod_name: end.pod,
    workloads: [{ name: end.deployment, kind: 'Deployment' }],
  };
}

/** The flow line of one TCP connection from `client` to `server:port` at `timeMs`, with a unique source port. */
export function deliveredTcpLine(client: PodEnd, server: PodEnd, port: number, timeMs: number, sourcePort: number): string {
  const time = new Date(timeMs).toISOString().replace('Z', '000000Z');
  return JSON.stringify({
    flow: {
      time,
      verdict: 'FORWARDED',
      IP: { source: client.ip, destination: server.ip, ipVersion: 'IPv4' },
      l4: { TCP: { source_port: sourcePort, destination_port: port, flags: { SYN: true } } },
      source: endpointJson(client),
      destination: endpointJson(server),
      Type: 'L3_L4',
      node_name: 'node-a',
      event_type: { type: 4 },
      traffic_direction: 'INGRESS',
      trace_observation_point: 'TO_ENDPOINT',
      is_reply: false,
    },
    node_name: 'node-a',
    time,
  });
}
