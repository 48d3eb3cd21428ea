// Syslog over TLS (RFC 5425 framing) to a real TLS listener on loopback.
import { createServer } from 'node:tls';
import { generate } from 'selfsigned';
import { describe, expect, it } from 'vitest';
import { createSyslogClient } from './syslog.js';

describe('syslog over TLS', () => {
  it('delivers octet-counted RFC 5424 messages and checks the collector certificate', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    } as Parameters<typeof generate>[1]);
    let data = '';
    const server = createServer({ key: pems.private, cert: pems.cert }, (s) =>
      s.on('data', (c: Buffer) => (data += c.toString())),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const errors: Error[] = [];
    const client = createSyslogClient((e) => errors.push(e));
    try {
      // An untrusted certificate is refused (and reported, not thrown).
      expect(
        await client.send(
          { severity: 6, msgId: 'test', message: 'x' },
          { host: '127.0.0.1', port, transport: 'TLS' },
        ),
      ).toBe(false);
      expect(errors.length).toBe(1);
      client.close();
      client.configure({ host: '127.0.0.1', port, transport: 'TLS', tls: { ca: pems.cert } });
      expect(await client.send({ severity: 6, msgId: 'backup.created', message: 'hello over tls' })).toBe(
        true,
      );
      expect(await client.send({ severity: 6, msgId: 'second', message: 'again' })).toBe(true);
      await expect.poll(() => data.includes('again'), { timeout: 5000 }).toBe(true);
      const first = /^(\d+) /.exec(data);
      const len = Number(first?.[1]);
      const rest = Buffer.from(data.slice((first?.[0] ?? '').length));
      expect(rest.subarray(0, len).toString()).toContain('backup.created');
      expect(rest.subarray(len).toString()).toMatch(/^\d+ <\d+>1 /);
    } finally {
      client.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
