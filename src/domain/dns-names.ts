/**
 * DNS names of external addresses, kept per client workload: a name belongs to the workload whose
 * own pods resolved it (a DNS answer sent to that workload, or Hubble `destination_names` on its
 * own connection). A policy names an external peer by DNS (Cilium `toFQDNs`) only with names its
 * own workload resolved, so one namespace's DNS answers (or a CDN address shared with strangers)
 * can never widen another workload's egress: whoever controls a name another tenant resolved could
 * otherwise point it anywhere.
 */

/** What policy generation needs: the names `client` resolved for `ip`. */
export interface DnsNameLookup {
  /** Names `client` (a peer key) resolved to `ip`, sorted. */
  namesFor(client: string, ip: string): readonly string[];
}

/** No names at all (external peers by address only). */
export const NO_DNS_NAMES: DnsNameLookup = { namesFor: () => [] };

export class DnsNames implements DnsNameLookup {
  private readonly byClient = new Map<string, Map<string, Set<string>>>();

  /** Records that `client` resolved `name` to `ip`. */
  add(client: string, ip: string, name: string): void {
    let ips = this.byClient.get(client);
    if (!ips) this.byClient.set(client, (ips = new Map()));
    let names = ips.get(ip);
    if (!names) ips.set(ip, (names = new Set()));
    names.add(name);
  }

  namesFor(client: string, ip: string): string[] {
    const names = this.byClient.get(client)?.get(ip);
    return names ? [...names].sort() : [];
  }

  /** Every name any client resolved to `ip`, sorted: for showing a node of the graph, never for a policy. */
  namesForIp(ip: string): string[] {
    const out = new Set<string>();
    for (const ips of this.byClient.values()) for (const name of ips.get(ip) ?? []) out.add(name);
    return [...out].sort();
  }

  /** Number of clients with at least one name. */
  get clients(): number {
    return this.byClient.size;
  }
}
