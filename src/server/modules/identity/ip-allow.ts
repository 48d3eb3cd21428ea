// `allowed_ips` of a token: a list of IPv4/IPv6 addresses and CIDR blocks. Uses node:net's
// BlockList, which understands both families and IPv4-mapped IPv6 addresses.
import { BlockList, isIP } from 'node:net';

export function parseCidr(
  entry: string,
): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address, prefixText] = entry.trim().split('/');
  if (!address) return undefined;
  const v = isIP(address);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (
    !Number.isInteger(prefix) ||
    prefix < 0 ||
    prefix > max ||
    (prefixText !== undefined && !/^\d+$/.test(prefixText))
  ) {
    return undefined;
  }
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

const cache = new Map<string, BlockList>();

export function ipAllowed(ip: string, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  const key = allowed.join(',');
  let list = cache.get(key);
  if (!list) {
    list = new BlockList();
    for (const e of allowed) {
      const c = parseCidr(e);
      if (c) list.addSubnet(c.address, c.prefix, c.family);
    }
    if (cache.size > 1000) cache.clear();
    cache.set(key, list);
  }
  const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1] && list.check(mapped[1], 'ipv4')) return true;
  return list.check(ip, family);
}
