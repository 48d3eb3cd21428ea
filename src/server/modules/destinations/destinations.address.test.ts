// Normalisation of destination entries, with property tests over generated addresses.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkValue, type FieldDef, fieldDef } from '../../../contract/fleet-fields.js';
import { normalizeDestination } from './destinations.address.js';

const agentField = (kind: 'ip' | 'cidr') =>
  fieldDef(kind === 'ip' ? 'destinations__allowed_ips' : 'destinations__allowed_cidrs') as FieldDef;

describe('normalizeDestination', () => {
  it('spells each address and network one way', () => {
    expect(normalizeDestination(' 10.0.0.1 ')).toEqual({ value: '10.0.0.1', kind: 'ip' });
    expect(normalizeDestination('10.0.0.1/32')).toEqual({ value: '10.0.0.1', kind: 'ip' });
    expect(normalizeDestination('192.168.0.0/16')).toEqual({ value: '192.168.0.0/16', kind: 'cidr' });
    expect(normalizeDestination('0.0.0.0/0')).toEqual({ value: '0.0.0.0/0', kind: 'cidr' });
    expect(normalizeDestination('2001:DB8:0:0:0:0:0:1')).toEqual({ value: '2001:db8::1', kind: 'ip' });
    expect(normalizeDestination('2001:db8::1/128')).toEqual({ value: '2001:db8::1', kind: 'ip' });
    expect(normalizeDestination('2001:0DB8::/32')).toEqual({ value: '2001:db8::/32', kind: 'cidr' });
    expect(normalizeDestination('::ffff:1.2.3.4')).toEqual({ value: '::ffff:102:304', kind: 'ip' });
  });

  it('refuses what is not an address or network, naming the problem', () => {
    for (const bad of [
      '',
      'example.com',
      '10.0.0.256',
      '010.0.0.1',
      '10.0.0.0/33',
      '10.0.0.0/8/8',
      'fe80::1%eth0',
      '::/129',
      '10.0.0.0/-1',
    ])
      expect(normalizeDestination(bad)).toHaveProperty('error');
    expect(normalizeDestination('10.1.2.3/8')).toEqual({
      error: 'has host bits set; the network is 10.0.0.0/8',
    });
    expect(normalizeDestination('2001:db8::1/64')).toEqual({
      error: 'has host bits set; the network is 2001:db8::/64',
    });
  });

  it('is idempotent and yields what the agent accepts, for any IPv4 or IPv6 network', () => {
    const v4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 }));
    const v6 = fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 }));
    fc.assert(
      fc.property(fc.oneof(v4, v6), ([addr, bits]) => {
        const plain = normalizeDestination(addr);
        if ('error' in plain) return false;
        expect(checkValue(agentField(plain.kind), [plain.value])).toBeUndefined();
        expect(normalizeDestination(plain.value)).toEqual(plain);
        const net = normalizeDestination(`${addr}/${bits}`);
        if ('error' in net) {
          // The suggested network itself is accepted.
          const suggested = net.error.split('the network is ')[1] ?? '';
          expect(normalizeDestination(suggested)).not.toHaveProperty('error');
        } else {
          expect(normalizeDestination(net.value)).toEqual(net);
          expect(checkValue(agentField(net.kind), [net.value])).toBeUndefined();
        }
        return true;
      }),
      { numRuns: 500 },
    );
  });
});
