// The networks the manager may call appliances in (docs/fleet.md, "Appliance network policy").
// An allow-list of IPv4/IPv6 networks; an address outside it is refused. Some ranges are refused
// even when a wider entry covers them (link-local, cloud metadata, unspecified, multicast): only an
// entry inside such a range opens it, so `0.0.0.0/0` never reaches 169.254.169.254, while listing
// `169.254.0.0/16` opens link-local but not the metadata address, which must be listed itself.

import { BlockList, isIP } from 'node:net';

type Family = 'ipv4' | 'ipv6';

export interface Network {
  /** As written in the setting, normalised: `10.0.0.0/8`, `fd00::/8`. */
  text: string;
  address: string;
  prefix: number;
  family: Family;
  list: BlockList;
}

/** Loopback, the RFC 1918 private ranges and IPv6 unique local addresses. */
export const DEFAULT_APPLIANCE_NETWORKS =
  '127.0.0.0/8, ::1/128, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7';

/** Refused unless an entry inside them is listed. */
const GUARDED_TEXT = [
  '169.254.0.0/16', // IPv4 link-local (cloud metadata lives here)
  'fe80::/10', // IPv6 link-local
  '169.254.169.254/32', // AWS, GCP, Azure, OpenStack, Oracle metadata
  '169.254.170.2/32', // AWS ECS task metadata
  'fd00:ec2::254/128', // AWS metadata over IPv6 (inside the ULA default)
  '100.100.100.200/32', // Alibaba Cloud metadata
  '192.0.0.192/32', // Oracle Cloud legacy metadata
  '0.0.0.0/8', // "this network": a connect to 0.0.0.0 reaches the manager's own host
  '::/128', // unspecified
  '224.0.0.0/4', // IPv4 multicast
  'ff00::/8', // IPv6 multicast
  '255.255.255.255/32', // broadcast
  '64:ff9b::/96', // NAT64: an IPv6 address standing for any IPv4 one
];

/** An address in the form Node's BlockList checks: no brackets or zone, IPv4-mapped IPv6 as IPv4. */
export function normaliseAddress(raw: string): { address: string; family: Family } | undefined {
  let a = raw.trim().toLowerCase();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const kind = isIP(a);
  if (kind === 4) return { address: a, family: 'ipv4' };
  if (kind !== 6) return undefined;
  // The WHATWG URL parser writes IPv6 canonically (`::ffff:169.254.169.254` -> `::ffff:a9fe:a9fe`).
  const canonical = new URL(`http://[${a}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped) {
    const hi = Number.parseInt(mapped[1] as string, 16);
    const lo = Number.parseInt(mapped[2] as string, 16);
    return { address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, family: 'ipv4' };
  }
  return { address: canonical, family: 'ipv6' };
}

/** `10.0.0.0/8`, `192.0.2.7` (a /32), `fd00::/8`, `[::1]`; undefined when it is none of these. */
export function parseNetwork(raw: string): Network | undefined {
  const [addr, bits, extra] = raw.trim().split('/');
  if (addr === undefined || extra !== undefined) return undefined;
  const n = normaliseAddress(addr);
  if (!n) return undefined;
  const max = n.family === 'ipv4' ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return undefined;
  const list = new BlockList();
  list.addSubnet(n.address, prefix, n.family);
  return { text: `${n.address}/${prefix}`, address: n.address, prefix, family: n.family, list };
}

/** Entries separated by new lines, commas or spaces; the problems name each bad entry. */
export function parseNetworks(raw: string): { networks: Network[]; problems: string[] } {
  const networks: Network[] = [];
  const problems: string[] = [];
  for (const entry of raw.split(/[\s,]+/)) {
    if (entry === '') continue;
    const n = parseNetwork(entry);
    if (n) networks.push(n);
    else problems.push(`"${entry.slice(0, 60)}" is not an IP address or a network such as 10.0.0.0/8`);
  }
  return { networks, problems };
}

const GUARDED = parseNetworks(GUARDED_TEXT.join(',')).networks;

const contains = (net: Network, a: { address: string; family: Family }) =>
  net.family === a.family && net.list.check(a.address, a.family);

/** Whether `inner` lies entirely inside `outer`. */
const inside = (inner: Network, outer: Network) =>
  inner.family === outer.family &&
  inner.prefix >= outer.prefix &&
  outer.list.check(inner.address, inner.family);

export interface AddressPolicy {
  /** The allow-list, normalised (for messages and the documentation). */
  readonly networks: readonly string[];
  /** Whether the manager may connect to this IP address. A host name is never allowed here. */
  allows(ip: string): boolean;
}

/** Answers kept per policy: past this many distinct addresses the memo starts again. */
const MEMO_LIMIT = 65_536;

export function createAddressPolicy(networks: readonly Network[]): AddressPolicy {
  const decide = (ip: string) => {
    const a = normaliseAddress(ip);
    if (!a) return false;
    const matching = networks.filter((n) => contains(n, a));
    if (matching.length === 0) return false;
    return GUARDED.every((g) => !contains(g, a) || matching.some((n) => inside(n, g)));
  };
  // Every poll checks its appliance's address, and BlockList.check builds a SocketAddress each
  // time: 14% of a polling replica's CPU at 500 polls/s (docs/benchmarks.md). A policy never
  // changes (a new setting makes a new policy), so its answer for an address is kept.
  const memo = new Map<string, boolean>();
  return {
    networks: networks.map((n) => n.text),
    allows(ip) {
      let ok = memo.get(ip);
      if (ok === undefined) {
        ok = decide(ip);
        if (memo.size >= MEMO_LIMIT) memo.clear();
        memo.set(ip, ok);
      }
      return ok;
    },
  };
}

/** The policy of a setting's text; throws on a bad entry (the callers validated it before). */
export function policyFromText(raw: string): AddressPolicy {
  const { networks, problems } = parseNetworks(raw);
  if (problems.length > 0) throw new Error(problems.join('; '));
  return createAddressPolicy(networks);
}

export const DEFAULT_APPLIANCE_POLICY = policyFromText(DEFAULT_APPLIANCE_NETWORKS);
