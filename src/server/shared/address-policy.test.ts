// The appliance network policy: what the default allows, what stays refused however wide the
// list, and how an explicit entry opens a guarded range.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_APPLIANCE_POLICY, parseNetworks, policyFromText } from './address-policy.js';

describe('the default policy', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['10.20.30.40', true],
    ['172.16.0.1', true],
    ['172.31.255.254', true],
    ['192.168.1.10', true],
    ['fd12:3456::1', true],
    ['::ffff:10.0.0.1', true],
    ['172.32.0.1', false],
    ['8.8.8.8', false],
    ['2001:db8::1', false],
    ['169.254.169.254', false],
    ['169.254.1.1', false],
    ['::ffff:169.254.169.254', false],
    ['::ffff:a9fe:a9fe', false],
    ['fe80::1', false],
    ['fe80::1%eth0', false],
    ['fd00:ec2::254', false],
    ['0.0.0.0', false],
    ['::', false],
    ['224.0.0.1', false],
    ['not-an-address', false],
  ])('%s allowed: %s', (ip, allowed) => {
    expect(DEFAULT_APPLIANCE_POLICY.allows(ip)).toBe(allowed);
  });
});

describe('guarded ranges', () => {
  it('stay refused under an allow-everything list', () => {
    const all = policyFromText('0.0.0.0/0, ::/0');
    expect(all.allows('8.8.8.8')).toBe(true);
    expect(all.allows('2001:db8::1')).toBe(true);
    for (const ip of [
      '169.254.169.254',
      '169.254.7.7',
      'fe80::1',
      'fd00:ec2::254',
      '100.100.100.200',
      '0.0.0.0',
    ]) {
      expect(all.allows(ip), ip).toBe(false);
    }
  });

  it('open only for an entry inside them; metadata must be listed itself', () => {
    const linkLocal = policyFromText('169.254.0.0/16\nfe80::/10');
    expect(linkLocal.allows('169.254.7.7')).toBe(true);
    expect(linkLocal.allows('fe80::1')).toBe(true);
    expect(linkLocal.allows('169.254.169.254')).toBe(false);
    expect(policyFromText('169.254.169.254').allows('169.254.169.254')).toBe(true);
  });

  it('an address under 169.254.0.0/16 is refused by any list whose entries are all wider', () => {
    const wide = fc.tuple(
      fc.nat(255),
      fc.nat(255),
      fc.nat(255),
      fc.nat(255),
      fc.integer({ min: 0, max: 15 }),
    );
    fc.assert(
      fc.property(
        fc.array(wide, { minLength: 1, maxLength: 4 }),
        fc.nat(255),
        fc.nat(255),
        (entries, c, d) => {
          const policy = policyFromText(
            entries.map(([a, b, x, y, p]) => `${a}.${b}.${x}.${y}/${p}`).join(','),
          );
          expect(policy.allows(`169.254.${c}.${d}`)).toBe(false);
          expect(policy.allows(`::ffff:169.254.${c}.${d}`)).toBe(false);
        },
      ),
    );
  });
});

describe('parsing', () => {
  it('names each bad entry', () => {
    const { networks, problems } = parseNetworks('10.0.0.0/8, 10.0.0.0/33\nexample.com [::1] fd00::/7');
    expect(networks.map((n) => n.text)).toEqual(['10.0.0.0/8', '::1/128', 'fd00::/7']);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('10.0.0.0/33');
    expect(problems[1]).toContain('example.com');
  });
});

describe('answers kept per policy', () => {
  const text = '10.0.0.0/8, 169.254.0.0/16, ::/0';
  const ip = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('169.254.169.254', '::ffff:a9fe:a9fe', 'x'));

  it('are the answers a new policy gives, however often and in whatever order asked', () => {
    fc.assert(
      fc.property(fc.array(ip, { maxLength: 40 }), (ips) => {
        const kept = policyFromText(text);
        for (const a of [...ips, ...ips]) expect(kept.allows(a)).toBe(policyFromText(text).allows(a));
      }),
    );
  });

  it('stay right past the memo limit (it starts again)', () => {
    const p = policyFromText(text);
    for (let i = 0; i < 70_000; i++) p.allows(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(p.allows('10.1.2.3')).toBe(true);
    expect(p.allows('169.254.169.254')).toBe(false);
    expect(p.allows('8.8.8.8')).toBe(false);
    expect(p.allows('fe80::1')).toBe(false);
  });
});
