/**
 * Turns the traffic table into concrete connections: instants, client and backend pods, source
 * ports, Service translation and the DNS lookups that precede every named call.
 */
import { servingPods } from './cluster.js';
import type { Conn, DnsAnswer, Peer } from './conn.js';
import { targetPortOf } from './k8s-core.js';
import { APISERVER, CLUSTER_DOMAIN, type ClusterModel, type PodModel, type ServiceModel } from './model.js';
import { Rng, rngFor } from './rand.js';
import { DNS_TCP_APPS, TRAFFIC, WARMUP_NS, type TrafficRow } from './traffic.js';
import { HOUR, MIN, MS, SEC, US } from './time.js';

const EXTERNAL_TTL: Record<string, number> = { 'api.frankfurter.example.': 60, 'api.stripe.example.': 30, 'logs.example.net.': 300 };
const LB = { ip: '192.0.2.10', port: 80 };

export class Simulation {
  readonly conns: Conn[] = [];
  private readonly rng = rngFor('traffic');
  private readonly ports = new Set<string>();
  private readonly dnsCache = new Map<string, number>();
  private readonly lookups = new Map<string, number>();

  constructor(private readonly cluster: ClusterModel) {}

  private service(app: string): ServiceModel {
    const svc = this.cluster.services.find((s) => s.app?.name === app);
    if (!svc) throw new Error(`no Service for ${app}`);
    return svc;
  }

  private port(ip: string, proto: string, lo = 32768, hi = 60999): number {
    for (;;) {
      const p = this.rng.int(lo, hi);
      const key = `${ip}:${p}:${proto}`;
      if (!this.ports.has(key)) { this.ports.add(key); return p; }
    }
  }

  private net(a: Peer, b: Peer): number {
    if (a.kind === 'world' || b.kind === 'world') return this.rng.int(6 * MS, 38 * MS);
    const na = a.kind === 'pod' ? a.pod.node : a.kind === 'host' ? a.node : undefined;
    const nb = b.kind === 'pod' ? b.pod.node : b.kind === 'host' ? b.node : undefined;
    return na && nb && na === nb ? this.rng.int(14 * US, 45 * US) : this.rng.int(110 * US, 380 * US);
  }

  private add(c: Omit<Conn, 'seq' | 'netNs' | 'serverNs' | 'synOffsets'> & Partial<Pick<Conn, 'netNs' | 'serverNs' | 'synOffsets'>>): Conn {
    const conn: Conn = {
      netNs: c.netNs ?? this.net(c.client, c.server),
      serverNs: c.serverNs ?? this.rng.int(18 * US, 140 * US),
      synOffsets: c.synOffsets ?? [0],
      ...c,
      seq: this.conns.length,
    };
    this.conns.push(conn);
    return conn;
  }

  /** Answers for one query name at `t` (undefined: NXDOMAIN). */
  private answer(query: string, t: number): { ips: string[]; ttl: number } | undefined {
    if (EXTERNAL_TTL[query] !== undefined) {
      const row = TRAFFIC.find((r) => 'worldIp' in r.to && `${r.to.name}.` === query);
      return row && 'worldIp' in row.to ? { ips: [row.to.worldIp], ttl: EXTERNAL_TTL[query] } : undefined;
    }
    const svc = this.cluster.services.find((s) => query === `${s.name}.${s.namespace}.svc.${CLUSTER_DOMAIN}.`);
    if (!svc) return undefined;
    if (svc.clusterIP !== 'None') return { ips: [svc.clusterIP], ttl: 30 };
    return { ips: servingPods(this.cluster, svc.app?.name ?? '', t).map((p) => p.ip), ttl: 30 };
  }

  /** The resolver's walk (ndots:5 and the pod's search path); returns the time the answer is in. */
  private resolve(pod: PodModel, name: string, t: number, row: TrafficRow): number {
    const key = `${pod.uid}/${name}`;
    if ((this.dnsCache.get(key) ?? -Infinity) > t) return t;
    const dots = name.split('.').length - 1;
    const search = [`${pod.namespace}.svc.${CLUSTER_DOMAIN}`, `svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN];
    const candidates = dots >= 5 ? [`${name}.`] : [...search.map((s) => `${name}.${s}.`), `${name}.`];
    const kubeDns = this.service('coredns');
    const client: Peer = { kind: 'pod', pod };
    let at = t;
    for (const query of candidates) {
      const count = (this.lookups.get(pod.app.name) ?? 0) + 1;
      this.lookups.set(pod.app.name, count);
      const tcp = DNS_TCP_APPS.has(pod.app.name) && count % 25 === 7;
      const coredns = this.rng.pick(servingPods(this.cluster, 'coredns', at));
      const found = this.answer(query, at);
      const dns: DnsAnswer = found ? { query, ips: found.ips, ttl: found.ttl, rcode: 0 } : { query, ips: [], ttl: 4294967295, rcode: 3 };
      const server: Peer = { kind: 'pod', pod: coredns };
      const c = this.add({
        proto: tcp ? 'TCP' : 'UDP', client, server, clientIp: pod.ip, sport: this.port(pod.ip, tcp ? 'TCP' : 'UDP'),
        dialIp: kubeDns.clusterIP, dialPort: 53, serverIp: coredns.ip, dport: 53,
        service: { name: kubeDns.name, namespace: kubeDns.namespace }, t: at, denied: false,
        serverNs: this.rng.int(90 * US, 1_400 * US), durationNs: tcp ? this.rng.int(1 * MS, 4 * MS) : 0, dns, dnsFor: row,
      });
      at += 2 * c.netNs + c.serverNs + (tcp ? c.durationNs : 0) + this.rng.int(40 * US, 260 * US);
      if (found) {
        this.dnsCache.set(key, at + found.ttl * SEC);
        break;
      }
    }
    return at;
  }

  private duration(row: TrafficRow): number {
    if (row.meanDurationNs < 10 * MS) return this.rng.int(MS, 5 * MS);
    return Math.min(Math.max(Math.round(this.rng.exp(row.meanDurationNs)), 4 * MS), 50 * MIN);
  }

  /** One connection of `row` from `client` at `t`; `direct` picks the target pod. */
  private call(row: TrafficRow, client: Peer, t: number, direct?: PodModel): void {
    const to = row.to;
    const clientPod = client.kind === 'pod' ? client.pod : undefined;
    const base = { client, t, denied: row.denied === true, row, durationNs: row.denied ? 0 : this.duration(row) };
    const synOffsets = row.denied ? (client.kind === 'world' ? [0, 1_004 * MS] : [0, 1_019 * MS, 3_054 * MS]) : [0];
    const clientIp = client.kind === 'pod' ? client.pod.ip : client.kind === 'host' ? client.node.ip : client.kind === 'world' ? client.ip : '';
    const ephemeral = () => (client.kind === 'world' ? this.port(clientIp, 'TCP', 49152, 65535) : this.port(clientIp, 'TCP'));
    if ('worldIp' in to) {
      const at = clientPod ? this.resolve(clientPod, to.name, t, row) : t;
      const server: Peer = { kind: 'world', ip: to.worldIp, name: to.name };
      this.add({ ...base, t: at, proto: 'TCP', server, clientIp, sport: ephemeral(), dialIp: to.worldIp, dialPort: to.port, serverIp: to.worldIp, dport: to.port, snatIp: clientPod?.node.ip, synOffsets });
      return;
    }
    if ('apiserver' in to) {
      const at = clientPod ? this.resolve(clientPod, to.dial, t, row) : t;
      const server: Peer = { kind: 'apiserver', ip: APISERVER.ip };
      this.add({ ...base, t: at, proto: 'TCP', server, clientIp, sport: ephemeral(), dialIp: APISERVER.serviceIP, dialPort: APISERVER.servicePort, serverIp: APISERVER.ip, dport: APISERVER.port, service: { name: 'kubernetes', namespace: 'default' }, synOffsets });
      return;
    }
    const svc = to.direct ? undefined : this.service(to.app);
    let at = t;
    if (clientPod && svc) at = this.resolve(clientPod, ('dial' in to ? to.dial : undefined) ?? svc.name, t, row);
    const backends = servingPods(this.cluster, to.app, at);
    // LoadBalancer with externalTrafficPolicy: Local: the LB picks a node, that node a local backend.
    const pod = direct ?? this.rng.pick(backends);
    const server: Peer = { kind: 'pod', pod };
    const containerPort = pod.app.ports.find((p) => p.name === to.port);
    if (!containerPort) throw new Error(`${to.app} has no port ${to.port}`);
    const common = { ...base, t: at, proto: 'TCP' as const, server, clientIp, sport: ephemeral(), serverIp: pod.ip, dport: containerPort.containerPort, synOffsets };
    if (client.kind === 'world' && !to.direct) {
      this.add({ ...common, dialIp: LB.ip, dialPort: LB.port, service: { name: to.app, namespace: pod.namespace } });
    } else if (!svc || svc.clusterIP === 'None') {
      this.add({ ...common, dialIp: pod.ip, dialPort: containerPort.containerPort });
    } else {
      const sp = svc.def.ports.find((p) => targetPortOf(pod, p.targetPort, p.protocol) === containerPort.containerPort);
      if (!sp) throw new Error(`Service ${svc.name} does not expose ${to.port}`);
      this.add({ ...common, dialIp: svc.clusterIP, dialPort: sp.port, service: { name: svc.name, namespace: svc.namespace } });
    }
  }

  private runRow(row: TrafficRow, index: number): void {
    const r = new Rng(0).fork(`row${index}`);
    const from = row.from;
    const clientsAt = (t: number): Peer[] => {
      if ('world' in from) return [{ kind: 'world', ip: from.world }];
      if ('host' in from) return [];
      return servingPods(this.cluster, from.app, t).map((pod): Peer => ({ kind: 'pod', pod }));
    };
    if (row.at) {
      for (const t of row.at) {
        const targets = 'app' in row.to && row.to.direct ? servingPods(this.cluster, row.to.app, t) : [undefined];
        this.call(row, r.pick(clientsAt(t)), t, r.pick(targets));
      }
      return;
    }
    if (row.perHour !== undefined) {
      const times: number[] = [];
      for (let i = 0; i < row.perHour; i++) times.push(r.int(0, HOUR - 1));
      for (let i = 0; i < Math.round((row.perHour * WARMUP_NS) / HOUR); i++) times.push(-r.int(1, WARMUP_NS));
      for (const t of times.sort((a, b) => a - b)) {
        const clients = clientsAt(t);
        if (clients.length > 0) this.call(row, r.pick(clients), t);
      }
      return;
    }
    // Periodic: per target pod (probes, scrapes) or per client pod (fluent-bit, config-watcher).
    const every = row.everyNs as number;
    const perTarget = 'app' in row.to && row.to.direct === true;
    const owners = perTarget && 'app' in row.to
      ? this.cluster.pods.filter((p) => p.app.name === (row.to as { app: string }).app)
      : this.cluster.pods.filter((p) => 'app' in from && p.app.name === from.app);
    for (const owner of owners) {
      const phase = r.int(0, every - 1);
      for (let t = -WARMUP_NS + phase; t < HOUR; t += every + r.int(-150 * MS, 150 * MS)) {
        const live = servingPods(this.cluster, owner.app.name, t).includes(owner);
        if (!live) continue;
        if (!perTarget) { this.call(row, { kind: 'pod', pod: owner }, t); continue; }
        const client: Peer | undefined = 'host' in from ? { kind: 'host', node: owner.node } : r.pick(clientsAt(t));
        if (client) this.call(row, client, t, owner);
      }
    }
  }

  /** The cart → cart-redis connection that is open when the capture starts (09:12:37 – 10:41:05). */
  private longLived(): void {
    const cart = this.cluster.pods.find((p) => p.app.name === 'cart' && p.node.name === 'node-b') as PodModel;
    const redis = this.cluster.pods.find((p) => p.app.name === 'cart-redis') as PodModel;
    const t = -(47 * MIN + 23 * SEC) + 418_551_000;
    this.add({
      proto: 'TCP', client: { kind: 'pod', pod: cart }, server: { kind: 'pod', pod: redis }, clientIp: cart.ip, sport: this.port(cart.ip, 'TCP'),
      dialIp: redis.ip, dialPort: 6379, serverIp: redis.ip, dport: 6379, t, denied: false,
      durationNs: 41 * MIN + 5 * SEC + 47 * MIN + 23 * SEC - 3 * SEC,
    });
  }

  run(): Conn[] {
    this.longLived();
    TRAFFIC.forEach((row, i) => this.runRow(row, i));
    this.conns.sort((a, b) => a.t - b.t || a.seq - b.seq);
    return this.conns;
  }
}

export function simulate(cluster: ClusterModel): Conn[] {
  return new Simulation(cluster).run();
}
