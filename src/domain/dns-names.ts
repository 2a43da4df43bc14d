/**
 * DNS names of external addresses, kept per client workload: a name belongs to the workload whose
 * own pods resolved it (a DNS answer sent to that workload, or Hubble `destination_names` on its
 * own connection). A policy names an external peer by DNS (Cilium `toFQDNs`) only with names its
 * own workload resolved, so one namespace's DNS answers (or a CDN address shared with strangers)
 * can never widen another workload's egress: whoever controls a name another tenant resolved could
 * otherwise point it anywhere.
 *
 * Bounded, because the names arrive from the workloads themselves (a pod can resolve as many
 * random names as it likes, and every bare pod is a client of its own) and the operator keeps one
 * table for its whole life:
 * - an address the client has a learned edge to is *pinned* ({@link DnsNames.pin}): its names are
 *   what that edge's `toFQDNs` rule is made of, and they stay while the edge does (edges are
 *   bounded by the operator's edge limits);
 * - every other address is *recent*: resolved, not (yet) connected to. A client keeps at most
 *   {@link DnsNameLimits.recentNamesPerClient} names for those, and all clients together at most
 *   {@link DnsNameLimits.recentNames}; past either, the addresses resolved longest ago go
 *   (approximately, for a client's own bound: an address resolved again gets a second chance). A
 *   name is needed only until the connection it was resolved for is learned (then the address is
 *   pinned), so only addresses resolved and never used are lost;
 * - an address keeps at most {@link DnsNameLimits.namesPerAddress} names (a shared CDN address can
 *   answer for thousands); later ones are refused.
 * Dropping a name never widens a policy: a peer with fewer names is named by fewer FQDNs, or by its
 * address alone.
 */

/** What policy generation needs: the names `client` resolved for `ip`. */
export interface DnsNameLookup {
  /** Names `client` (a peer key) resolved to `ip`, sorted. */
  namesFor(client: string, ip: string): readonly string[];
}

/** No names at all (external peers by address only). */
export const NO_DNS_NAMES: DnsNameLookup = { namesFor: () => [] };

export interface DnsNameLimits {
  /** Names of addresses a client resolved but has no learned edge to, kept per client (default 4,096). */
  readonly recentNamesPerClient?: number;
  /** The same over all clients together (default 262,144: some 25 MB). */
  readonly recentNames?: number;
  /** Names kept per client and address (default 64). */
  readonly namesPerAddress?: number;
}

/** Why a name was not kept: its address was evicted from the recent ones, or the address had its fill of names. */
export type DnsNameDrop = 'evicted' | 'over-limit';

export const DEFAULT_RECENT_NAMES_PER_CLIENT = 4_096;
export const DEFAULT_RECENT_NAMES = 262_144;
export const DEFAULT_NAMES_PER_ADDRESS = 64;

/** The names of one address for one client. */
interface AddressNames {
  readonly client: string;
  readonly ip: string;
  readonly names: Set<string>;
  /** Resolved again since it was added or last passed over for eviction (recent addresses only). */
  again: boolean;
}

/** One client's names by address. */
interface ClientNames {
  /** Addresses with a learned edge from this client. */
  readonly pinned: Map<string, AddressNames>;
  /** The others, oldest first ({@link DnsNames.evictOwn} gives an address resolved again a second chance). */
  readonly recent: Map<string, AddressNames>;
  /** Names in {@link recent}. */
  recentNames: number;
}

export class DnsNames implements DnsNameLookup {
  private readonly byClient = new Map<string, ClientNames>();
  /** Every client's recent addresses, oldest first, by `<client> <ip>`: the order of the overall bound. */
  private readonly recentAll = new Map<string, AddressNames>();
  private recentTotal = 0;
  private readonly perClientLimit: number;
  private readonly totalLimit: number;
  private readonly namesLimit: number;
  private readonly onDropped: ((reason: DnsNameDrop, names: number) => void) | undefined;
  /** Names not kept, by reason, since this table was made. */
  readonly dropped: Record<DnsNameDrop, number> = { evicted: 0, 'over-limit': 0 };

  /** @param onDropped told about every name the limits did not keep (the operator's metric). */
  constructor(limits: DnsNameLimits = {}, onDropped?: (reason: DnsNameDrop, names: number) => void) {
    this.perClientLimit = Math.max(1, limits.recentNamesPerClient ?? DEFAULT_RECENT_NAMES_PER_CLIENT);
    this.totalLimit = Math.max(1, limits.recentNames ?? DEFAULT_RECENT_NAMES);
    this.namesLimit = Math.max(1, limits.namesPerAddress ?? DEFAULT_NAMES_PER_ADDRESS);
    this.onDropped = onDropped;
  }

  /** Records that `client` resolved `name` to `ip`. */
  add(client: string, ip: string, name: string): void {
    let entry = this.byClient.get(client);
    if (!entry) this.byClient.set(client, (entry = { pinned: new Map(), recent: new Map(), recentNames: 0 }));
    const pinned = entry.pinned.get(ip);
    if (pinned !== undefined) {
      this.addName(pinned, name);
      return;
    }
    let address = entry.recent.get(ip);
    if (address !== undefined) address.again = true;
    else {
      address = { client, ip, names: new Set(), again: false };
      entry.recent.set(ip, address);
      this.recentAll.set(`${client} ${ip}`, address);
    }
    if (!this.addName(address, name)) return;
    entry.recentNames++;
    this.recentTotal++;
    while (entry.recentNames > this.perClientLimit) this.evictOwn(entry);
    while (this.recentTotal > this.totalLimit) this.evictOldest();
  }

  /**
   * `client` has a learned edge to `ip`: its names for `ip` stay (they make that edge's FQDN rule),
   * and names it resolves to `ip` later (an answer that arrives after the connection) are kept
   * with them. Only for a client with names ({@link has}): nobody else needs the bookkeeping.
   */
  pin(client: string, ip: string): void {
    const entry = this.byClient.get(client);
    if (!entry || entry.pinned.has(ip)) return;
    const address = entry.recent.get(ip);
    if (address === undefined) {
      entry.pinned.set(ip, { client, ip, names: new Set(), again: false });
      return;
    }
    this.forgetRecent(entry, address);
    entry.pinned.set(ip, address);
  }

  /** Whether `client` has names kept (and so may have addresses to {@link pin}). */
  has(client: string): boolean {
    return this.byClient.has(client);
  }

  namesFor(client: string, ip: string): string[] {
    const entry = this.byClient.get(client);
    const address = entry?.pinned.get(ip) ?? entry?.recent.get(ip);
    return address ? [...address.names].sort() : [];
  }

  /** Every name any client resolved to `ip`, sorted: for showing a node of the graph, never for a policy. */
  namesForIp(ip: string): string[] {
    const out = new Set<string>();
    for (const entry of this.byClient.values()) {
      for (const name of (entry.pinned.get(ip) ?? entry.recent.get(ip))?.names ?? []) out.add(name);
    }
    return [...out].sort();
  }

  /** Number of clients with names kept. */
  get clients(): number {
    return this.byClient.size;
  }

  /** Addresses kept, over all clients (pinned and recent). */
  get addresses(): number {
    let n = 0;
    for (const entry of this.byClient.values()) n += entry.pinned.size + entry.recent.size;
    return n;
  }

  /** Adds `name` unless the address has its fill; true when it was added. */
  private addName(address: AddressNames, name: string): boolean {
    if (address.names.has(name)) return false;
    if (address.names.size >= this.namesLimit) {
      this.drop('over-limit', 1);
      return false;
    }
    address.names.add(name);
    return true;
  }

  /**
   * Evicts the client's recent address resolved longest ago. One resolved again since it was added
   * or last passed over gets a second chance (it moves to the end, its mark cleared): the order is
   * kept only here, so a repeated answer costs one flag, not a move.
   */
  private evictOwn(entry: ClientNames): void {
    for (const [ip, address] of entry.recent) {
      if (address.again) {
        address.again = false;
        entry.recent.delete(ip);
        entry.recent.set(ip, address);
        continue;
      }
      this.evict(entry, address);
      return;
    }
  }

  /** Evicts the recent address added longest ago, whichever client it belongs to. */
  private evictOldest(): void {
    const oldest = this.recentAll.values().next();
    if (oldest.done) return;
    this.evict(this.byClient.get(oldest.value.client)!, oldest.value);
  }

  private evict(entry: ClientNames, address: AddressNames): void {
    this.forgetRecent(entry, address);
    this.drop('evicted', address.names.size);
    if (entry.recent.size === 0 && entry.pinned.size === 0) this.byClient.delete(address.client);
  }

  /** Takes `address` out of the recent ones (evicted, or pinned). */
  private forgetRecent(entry: ClientNames, address: AddressNames): void {
    entry.recent.delete(address.ip);
    this.recentAll.delete(`${address.client} ${address.ip}`);
    entry.recentNames -= address.names.size;
    this.recentTotal -= address.names.size;
  }

  private drop(reason: DnsNameDrop, names: number): void {
    this.dropped[reason] += names;
    this.onDropped?.(reason, names);
  }
}
