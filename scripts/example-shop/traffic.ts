/**
 * THE TRAFFIC TABLE — the single source of truth for the example's traffic and for
 * expected/connections.json. Rates are new connections per hour (exactly that many in the
 * 10:00–11:00 window, plus a proportional number in a 5-minute warm-up before it, whose tails
 * are what conntrack still reports after 10:00).
 */
import { MIN, SEC } from './time.js';

/** Who opens the connection. */
export type Source =
  | { app: string }
  /** A client on the internet reaching frontend through the LoadBalancer. */
  | { world: string }
  /** kubelet on the pod's node (httpGet probe). */
  | { host: true };

/** What the client dials. */
export type Target =
  /** A Service of `app`, by DNS name `dial` (default: the Service name); container port `port` (by name). */
  | { app: string; port: string; dial?: string; direct?: false }
  /** Each pod of `app` by its pod IP (Prometheus pod discovery, kubelet probes). */
  | { app: string; port: string; direct: true }
  /** An internet address, by DNS name. */
  | { worldIp: string; name: string; port: number }
  /** The kube-apiserver through the `default/kubernetes` Service. */
  | { apiserver: true; dial: string };

export interface TrafficRow {
  from: Source;
  to: Target;
  /** Connections per hour (spread over the client pods / the target pods). */
  perHour?: number;
  /** Instead of a rate: one connection per (client or target) pod every `everyNs`. */
  everyNs?: number;
  /** Instead of a rate: fixed instants (ns after 10:00). */
  at?: number[];
  /** A denied attempt (Hubble DROPPED, conntrack UNREPLIED); the rest succeed. */
  denied?: true;
  /** Lifetime of a connection: mean (ns) of an exponential draw. */
  meanDurationNs: number;
}

const shopCall = (from: string, to: string, perHour: number, meanS = 40): TrafficRow =>
  ({ from: { app: from }, to: { app: to, port: 'http' }, perHour, meanDurationNs: meanS * SEC });

export const TRAFFIC: readonly TrafficRow[] = [
  shopCall('frontend', 'cart', 66),
  shopCall('frontend', 'catalog', 90),
  shopCall('frontend', 'checkout', 24),
  shopCall('frontend', 'recommendations', 45),
  shopCall('frontend', 'search', 36),
  shopCall('frontend', 'currency', 45),
  { from: { app: 'cart' }, to: { app: 'cart-redis', port: 'redis' }, perHour: 20, meanDurationNs: 300 * SEC },
  { from: { app: 'catalog' }, to: { app: 'catalog-db', port: 'postgres' }, perHour: 24, meanDurationNs: 240 * SEC },
  shopCall('checkout', 'cart', 24),
  { from: { app: 'checkout' }, to: { app: 'payments-api', port: 'https', dial: 'payments-api.payments' }, perHour: 24, meanDurationNs: 30 * SEC },
  shopCall('checkout', 'shipping', 20),
  shopCall('checkout', 'email', 20),
  shopCall('checkout', 'currency', 20),
  shopCall('recommendations', 'catalog', 40),
  shopCall('search', 'catalog', 30),
  { from: { app: 'currency' }, to: { worldIp: '198.51.100.77', name: 'api.frankfurter.example', port: 443 }, perHour: 6, meanDurationNs: 60 * SEC },
  { from: { app: 'payments-api' }, to: { worldIp: '203.0.113.50', name: 'api.stripe.example', port: 443 }, perHour: 24, meanDurationNs: 25 * SEC },
  { from: { app: 'prometheus' }, to: { app: 'frontend', port: 'metrics', direct: true }, everyNs: 10 * MIN, meanDurationNs: 500 * SEC },
  { from: { app: 'prometheus' }, to: { app: 'cart', port: 'metrics', direct: true }, everyNs: 10 * MIN, meanDurationNs: 500 * SEC },
  { from: { app: 'prometheus' }, to: { app: 'payments-api', port: 'metrics', direct: true }, everyNs: 10 * MIN, meanDurationNs: 500 * SEC },
  { from: { app: 'fluent-bit' }, to: { worldIp: '192.0.2.50', name: 'logs.example.net', port: 443 }, everyNs: 15 * MIN, meanDurationNs: 600 * SEC },
  { from: { app: 'config-watcher' }, to: { apiserver: true, dial: 'kubernetes.default.svc' }, everyNs: 10 * MIN, meanDurationNs: 480 * SEC },
  { from: { app: 'nightly-report' }, to: { app: 'catalog-db', port: 'postgres' }, at: [5 * MIN + 3 * SEC + 118_000_000], meanDurationNs: 30 * SEC },
  { from: { app: 'nightly-report' }, to: { app: 'email', port: 'http' }, at: [5 * MIN + 36 * SEC + 402_000_000], meanDurationNs: 2 * SEC },
  // Internet clients of the shop, through the LoadBalancer 192.0.2.10:80 (externalTrafficPolicy: Local).
  ...([
    ['203.0.113.12', 36], ['203.0.113.23', 28], ['203.0.113.41', 20], ['203.0.113.87', 14], ['203.0.113.140', 10],
    ['198.51.100.9', 16], ['198.51.100.33', 12], ['198.51.100.104', 8], ['198.51.100.178', 4], ['198.51.100.201', 2],
  ] as const).map(([ip, perHour]): TrafficRow => ({ from: { world: ip }, to: { app: 'frontend', port: 'http' }, perHour, meanDurationNs: 12 * SEC })),
  // kubelet httpGet probes: every app pod, every 5 minutes, from its node's InternalIP.
  ...['frontend', 'cart', 'catalog', 'checkout', 'recommendations', 'search', 'currency', 'email', 'shipping', 'config-watcher', 'payments-api']
    .map((app): TrafficRow => ({ from: { host: true }, to: { app, port: app === 'payments-api' ? 'https' : 'http', direct: true }, everyNs: 5 * MIN, meanDurationNs: 3_000_000 })),
  // Denied: search tries the catalog database directly (3 attempts), a scanner probes a cart pod.
  { from: { app: 'search' }, to: { app: 'catalog-db', port: 'postgres' }, at: [12 * MIN + 7 * SEC + 311_000_000, 37 * MIN + 44 * SEC + 20_000_000, 52 * MIN + 19 * SEC + 777_000_000], denied: true, meanDurationNs: 0 },
  { from: { world: '203.0.113.66' }, to: { app: 'cart', port: 'http', direct: true }, at: [23 * MIN + 51 * SEC + 640_000_000], denied: true, meanDurationNs: 0 },
];

/** Apps whose resolver sometimes falls back to DNS over TCP (every 25th lookup). */
export const DNS_TCP_APPS = new Set(['frontend', 'checkout']);

/** Warm-up before 10:00: traffic that is already flowing when the capture starts. */
export const WARMUP_NS = 5 * MIN;
