// Destination entries: an IPv4 or IPv6 address, or a network in CIDR notation. Each is stored in
// one canonical spelling (IPv6 compressed and lowercase as RFC 5952 writes it, a /32 or /128 as
// the bare address), so that "2001:DB8::1" and "2001:db8:0:0::1" are the same entry and a
// duplicate is found. A network with host bits set ("10.1.2.3/8") is refused with the network it
// probably means rather than silently widened or narrowed.

import { isIPv4, isIPv6 } from 'node:net';

export type DestinationKind = 'ip' | 'cidr';
export type Normalized = { value: string; kind: DestinationKind } | { error: string };

function v4Bytes(addr: string): number[] {
  return addr.split('.').map((p) => Number(p));
}

/** RFC 5952 text of an IPv6 address, through the WHATWG URL parser (which implements it). */
function canonicalV6(addr: string): string {
  return new URL(`http://[${addr}]`).hostname.slice(1, -1);
}

function v6Bytes(canonical: string): number[] {
  const [head = '', tail] = canonical.split('::');
  const part = (s: string) => (s === '' ? [] : s.split(':'));
  const h = part(head);
  const t = tail === undefined ? [] : part(tail);
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => {
    const n = Number.parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

function v6Text(bytes: number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return canonicalV6(groups.join(':'));
}

function masked(bytes: number[], bits: number): number[] {
  return bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
}

export function normalizeDestination(input: string): Normalized {
  const text = input.trim();
  if (text === '' || text.length > 64)
    return { error: 'must be an IP address or a network in CIDR notation' };
  const [addr = '', prefix, ...rest] = text.split('/');
  if (rest.length > 0) return { error: 'must be an IP address or a network in CIDR notation' };
  const v4 = isIPv4(addr);
  // Zone ids (fe80::1%eth0) name an interface of one host; they mean nothing to an appliance.
  const v6 = !v4 && isIPv6(addr) && !addr.includes('%');
  if (!v4 && !v6) return { error: 'is not an IP address or a network in CIDR notation' };
  const max = v4 ? 32 : 128;
  const address = v4 ? addr : canonicalV6(addr);
  if (prefix === undefined) return { value: address, kind: 'ip' };
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max)
    return { error: `has a prefix length that is not between 0 and ${max}` };
  const bits = Number(prefix);
  if (bits === max) return { value: address, kind: 'ip' };
  const bytes = v4 ? v4Bytes(address) : v6Bytes(address);
  const net = masked(bytes, bits);
  const network = v4 ? net.join('.') : v6Text(net);
  if (network !== address) return { error: `has host bits set; the network is ${network}/${bits}` };
  return { value: `${network}/${bits}`, kind: 'cidr' };
}

/** The kind of a stored (already normalised) entry. */
export const kindOf = (value: string): DestinationKind => (value.includes('/') ? 'cidr' : 'ip');
