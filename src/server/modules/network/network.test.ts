// The Host allow-list and TLS reload as the root instance sees them: a real https server on
// loopback serves a new certificate after reloadTls, without a restart.
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import Fastify from 'fastify';
import { generate } from 'selfsigned';
import { describe, expect, it } from 'vitest';
import { registerErrorHandling } from '../../http/errors.js';
import { DEFAULT_APPLIANCE_POLICY } from '../../shared/address-policy.js';
import { installHostCheck } from './network.hooks.js';
import {
  hostOf,
  isHostAllowed,
  type NetworkState,
  normaliseBaseUrl,
  parseAllowedHosts,
  reloadTls,
} from './network.js';

const policies = {
  appliancePolicy: DEFAULT_APPLIANCE_POLICY,
  defaultAppliancePolicy: DEFAULT_APPLIANCE_POLICY,
};

describe('allowed hosts', () => {
  const state: NetworkState = {
    ...policies,
    baseUrl: 'https://c1000.example.com',
    allowedHosts: parseAllowedHosts('worker1.example.com\n*.corp.example\n192.0.2.7\n[2001:db8::1]'),
  };

  it.each([
    ['worker1.example.com', true],
    ['WORKER1.example.com:8443', true],
    ['a.corp.example', true],
    ['corp.example', false],
    ['192.0.2.7', true],
    ['[2001:db8::1]:443', true],
    ['c1000.example.com', true],
    ['localhost:3000', true],
    ['127.0.0.1', true],
    ['[::1]:8443', true],
    ['evil.example.com', false],
    ['worker1.example.com.evil.net', false],
    [undefined, false],
  ])('%s allowed: %s', (host, allowed) => {
    expect(isHostAllowed(state, host)).toBe(allowed);
  });

  it('an empty list allows everything', () => {
    expect(isHostAllowed({ ...policies, baseUrl: undefined, allowedHosts: [] }, 'anything.example')).toBe(
      true,
    );
  });

  it('parses host headers', () => {
    expect(hostOf('[::1]:80')).toBe('::1');
    expect(hostOf('Example.COM:80')).toBe('example.com');
  });

  it('normalises base URLs', () => {
    expect(normaliseBaseUrl('c1000.example.com')).toBe('https://c1000.example.com');
    expect(normaliseBaseUrl('http://10.0.0.1:8080/steward/')).toBe('http://10.0.0.1:8080/steward');
    expect(() => normaliseBaseUrl('https://user:pw@x.example')).toThrow();
  });

  it('the root hook answers 400 to a foreign Host and takes changes at once', async () => {
    const app = Fastify();
    registerErrorHandling(app);
    const live: NetworkState = { ...policies, baseUrl: undefined, allowedHosts: [] };
    installHostCheck(app, live);
    app.get('/x', async () => ({ ok: true }));
    expect((await app.inject({ url: '/x', headers: { host: 'evil.example.com' } })).statusCode).toBe(200);
    live.allowedHosts = ['good.example.com'];
    const refused = await app.inject({ url: '/x', headers: { host: 'evil.example.com' } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().detail).toContain('allowed_hosts');
    expect((await app.inject({ url: '/x', headers: { host: 'good.example.com' } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/x', headers: { host: 'localhost' } })).statusCode).toBe(200);
    await app.close();
  });
});

async function servedCertificate(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const c = s.getPeerX509Certificate();
      s.end();
      resolve(c?.subject ?? '');
    });
    s.on('error', reject);
  });
}

describe('TLS reload', () => {
  it('a running https server serves the new certificate without a restart', async () => {
    const first = await generate([{ name: 'commonName', value: 'first.example.com' }], { keySize: 2048 });
    const second = await generate([{ name: 'commonName', value: 'second.example.com' }], { keySize: 2048 });
    const app = Fastify({ https: { key: first.private, cert: first.cert } });
    app.get('/', async () => 'ok');
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    try {
      expect(await servedCertificate(port)).toContain('first.example.com');
      expect(reloadTls(app, { cert: Buffer.from(second.cert), key: Buffer.from(second.private) })).toBe(true);
      expect(await servedCertificate(port)).toContain('second.example.com');
      expect(new X509Certificate(second.cert).subject).toContain('second');
    } finally {
      await app.close();
    }
  });

  it('is a no-op on plain HTTP', async () => {
    const app = Fastify();
    await app.ready();
    expect(reloadTls(app, { cert: Buffer.from(''), key: Buffer.from('') })).toBe(false);
    await app.close();
  });
});
