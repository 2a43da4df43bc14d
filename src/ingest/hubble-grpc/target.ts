/**
 * gRPC target strings (gRPC Name Resolution, the URI forms grpc-go and grpc-js accept) → where to
 * connect and the HTTP/2 `:authority`. Pure.
 *
 * - `unix:///abs/path` and `unix:path` (relative or absolute): a unix socket; authority `localhost`.
 * - `dns:///host:port`, `dns://resolver/host:port`, `dns:host:port` and a bare `host:port`: TCP;
 *   the system resolver is used (a `dns://resolver/` authority is ignored).
 * - `ipv4:addr[:port][,...]`, `ipv6:[addr][:port][,...]`: TCP to the first address.
 * - IPv6 literals are bracketed (`[::1]:4245`); a missing port is 443, gRPC's default.
 */

export type GrpcTarget =
  | { readonly kind: 'unix'; readonly path: string; readonly authority: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly authority: string };

const DEFAULT_PORT = 443;

/** Parses a target; throws an Error naming it when it is not one of the supported forms. */
export function parseGrpcTarget(target: string): GrpcTarget {
  if (target.startsWith('unix:')) {
    const path = target.startsWith('unix://') ? target.slice('unix://'.length) : target.slice('unix:'.length);
    if (target.startsWith('unix://') && !path.startsWith('/')) throw new Error(`invalid gRPC target ${JSON.stringify(target)}: unix:// takes an absolute path`);
    if (path === '') throw new Error(`invalid gRPC target ${JSON.stringify(target)}: no socket path`);
    return { kind: 'unix', path, authority: 'localhost' };
  }
  let rest = target;
  if (rest.startsWith('dns:')) {
    rest = rest.slice('dns:'.length);
    if (rest.startsWith('//')) {
      const slash = rest.indexOf('/', 2);
      if (slash < 0) throw new Error(`invalid gRPC target ${JSON.stringify(target)}: no host after dns://`);
      rest = rest.slice(slash + 1);
    }
  } else if (rest.startsWith('ipv4:') || rest.startsWith('ipv6:')) {
    rest = rest.slice('ipv4:'.length).split(',')[0]!;
  }
  const hostPort = splitHostPort(rest);
  if (hostPort === undefined) throw new Error(`invalid gRPC target ${JSON.stringify(target)}: expected host:port, dns:///host:port or unix:///path`);
  const { host, port } = hostPort;
  return { kind: 'tcp', host, port, authority: `${host.includes(':') ? `[${host}]` : host}:${port}` };
}

function splitHostPort(text: string): { host: string; port: number } | undefined {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    host = text.slice(1, close);
    const after = text.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return undefined;
    portText = after === '' ? undefined : after.slice(1);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0 && text.indexOf(':') !== colon) {
      host = text; // an unbracketed IPv6 literal: no port
    } else {
      host = colon < 0 ? text : text.slice(0, colon);
      portText = colon < 0 ? undefined : text.slice(colon + 1);
    }
  }
  if (host === '' || /[/\s@?#]/.test(host)) return undefined;
  if (portText === undefined) return { host, port: DEFAULT_PORT };
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  return port >= 1 && port <= 65_535 ? { host, port } : undefined;
}
