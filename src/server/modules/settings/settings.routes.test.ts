// Settings sections: storage, validation, secrets that stay secret, and each setting's effect:
// a message reaches a real SMTP server, audit records reach a real syslog listener, retention
// deletes, an uploaded certificate is installed.
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { sql } from 'kysely';
import ldap from 'ldapjs';
import { generate } from 'selfsigned';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { uploadFile } from '../../../../test/helpers/system.js';
import { SECTIONS } from './sections.js';

let t: TestContext;
let admin: Record<string, string>;
beforeAll(async () => {
  t = await createTestContext({ jobIntervals: { retention: 100 } });
  admin = await t.adminHeaders();
});
afterAll(async () => {
  await t?.close();
});

const get = (url: string, headers = admin) => t.app.inject({ method: 'GET', url, headers });
const post = (url: string, payload: unknown, headers = admin) =>
  t.app.inject({ method: 'POST', url, headers, payload: payload as object });

describe('every section', () => {
  it.each(SECTIONS.map((s) => [s.path, s]))(
    'GET %s gives the current value; POST stores it',
    async (_p, s) => {
      const before = await get(s.path);
      expect(before.statusCode).toBe(200);
      for (const k of Object.keys(s.defaults)) expect(before.json()).toHaveProperty(k);
      for (const k of s.secrets) {
        expect(before.json()).not.toHaveProperty(k);
        expect(before.json()[`${k}_set`]).toBe(false);
      }
      const bad = await post(s.path, { no_such_field: 1 });
      expect(bad.statusCode).toBe(400);
    },
  );

  it('documents what GET answers: every stored field, `<secret>_set`, never a secret', async () => {
    const doc = (await get('/api/v1/openapi.json')).json() as {
      paths: Record<
        string,
        Record<
          string,
          {
            responses: Record<
              string,
              {
                content: Record<
                  string,
                  {
                    schema: {
                      properties: Record<string, unknown>;
                      required?: string[];
                      additionalProperties?: boolean;
                    };
                  }
                >;
              }
            >;
          }
        >
      >;
    };
    for (const s of SECTIONS) {
      const schema = doc.paths[s.path]?.get?.responses['200']?.content['application/json']?.schema;
      expect(schema?.additionalProperties, s.path).toBe(false);
      const got = (await get(s.path)).json() as Record<string, unknown>;
      // The serializer drops what the schema does not name: every stored field must be named.
      for (const k of Object.keys(s.defaults)) expect(Object.keys(schema?.properties ?? {})).toContain(k);
      expect(Object.keys(schema?.properties ?? {})).toEqual(expect.arrayContaining(Object.keys(got)));
      for (const k of s.secrets) {
        expect(schema?.properties).not.toHaveProperty(k);
        expect(schema?.required).toContain(`${k}_set`);
      }
    }
  });

  it('viewers read system settings; only admins change them', async () => {
    const viewer = await t.headersFor('viewer');
    const operator = await t.headersFor('operator');
    expect((await get('/api/v1/config/ntp/', viewer)).statusCode).toBe(200);
    expect((await post('/api/v1/config/ntp/', { enable: false }, viewer)).statusCode).toBe(403);
    expect((await post('/api/v1/config/ntp/', { enable: false }, operator)).statusCode).toBe(403);
    expect((await get('/api/v1/config/ntp/', {})).statusCode).toBe(401);
  });

  it.each([
    ['/api/v1/config/ntp/', { enable: true, servers: '' }, 'body.servers'],
    ['/api/v1/config/ntp/', { servers: 'ok.example.com\nbad host!' }, 'body.servers'],
    ['/api/v1/system/config/sshd/', { client_alive_interval: '5; rm -rf /' }, 'body.client_alive_interval'],
    ['/api/v1/system/config/sshd/', { permit_root_login: 'maybe' }, 'body.permit_root_login'],
    ['/api/v1/config/snmp/', { trap_disk_threshold: 101 }, 'body.trap_disk_threshold'],
    ['/api/v1/config/snmp/', { trap_sink_enable: true, trap_sink: '' }, 'body.trap_sink'],
    ['/api/v1/config/directory/', { ldap_url: 'http://ldap.example.com' }, 'body.ldap_url'],
    ['/api/v1/config/ticloud/', { url: 'ftp://x.example.com' }, 'body.url'],
    ['/api/v1/config/smtp/', { port: 70000 }, 'body.port'],
    ['/api/v1/config/smtp/', { default_from_email: 'not an email' }, 'body.default_from_email'],
    [
      '/api/v1/config/systemalerting/',
      { syslog_transport_protocol: 'SCTP' },
      'body.syslog_transport_protocol',
    ],
    ['/api/v1/config/network/', { allowed_hosts: 'good.example.com\nbad_host name' }, 'body.allowed_hosts'],
    ['/api/v1/config/network/', { base_url: 'ftp://x.example.com' }, 'body.base_url'],
    [
      '/api/v1/config/central_logging/',
      { central_logging__retention_period: 0 },
      'body.central_logging__retention_period',
    ],
  ])('POST %s %j is a 400 naming %s', async (url, body, field) => {
    const res = await post(url, body);
    expect(res.statusCode).toBe(400);
    expect(JSON.stringify(res.json().errors ?? [])).toContain(field.replace('body.', ''));
  });

  it('a POST changes only the fields it names, and is audited', async () => {
    await post('/api/v1/config/snmp/', { enable: true, community: 'monitoring' });
    const res = await post('/api/v1/config/snmp/', { trap_disk_threshold: 85 });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ enable: true, community: 'monitoring', trap_disk_threshold: 85 });
    const audit = await t.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'settings.snmp.updated')
      .execute();
    expect(audit.length).toBe(2);
  });
});

describe('SMTP', () => {
  let smtp: SMTPServer;
  let port = 0;
  const received: { from: string; to: string[]; data: string; user?: string; pass?: string }[] = [];
  beforeAll(async () => {
    let auth: { user?: string; pass?: string } = {};
    smtp = new SMTPServer({
      secure: false,
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      onAuth(a, _s, cb) {
        auth = { user: a.username, pass: a.password ?? undefined };
        cb(null, { user: a.username });
      },
      onData(stream, session, cb) {
        let data = '';
        stream.on('data', (c: Buffer) => {
          data += c.toString('utf8');
        });
        stream.on('end', () => {
          received.push({
            from: String(session.envelope.mailFrom ? session.envelope.mailFrom.address : ''),
            to: session.envelope.rcptTo.map((r) => r.address),
            data,
            ...auth,
          });
          cb();
        });
      },
    });
    await new Promise<void>((res) => smtp.listen(0, '127.0.0.1', () => res()));
    port = (smtp.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((res) => smtp.close(() => res()));
  });

  it('keeps the password write-only and encrypted at rest', async () => {
    const res = await post('/api/v1/config/smtp/', {
      host: '127.0.0.1',
      port,
      user: 'steward',
      password: 'Smtp-Secret-Password-1',
      password_set: false,
      use_tls: false,
      default_from_email: 'steward@example.com',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ host: '127.0.0.1', port, password_set: true });
    expect(res.body).not.toContain('Smtp-Secret-Password-1');
    const got = await get('/api/v1/config/smtp/');
    expect(got.json().password_set).toBe(true);
    expect(got.body).not.toContain('Smtp-Secret-Password-1');
    const row = await sql<{
      v: string;
    }>`select value::text as v from settings where key = 'system.smtp'`.execute(t.db);
    expect(row.rows[0]?.v).not.toContain('Smtp-Secret-Password-1');
    const audit = await sql<{
      v: string;
    }>`select string_agg(details::text || summary, '') as v from audit_log`.execute(t.db);
    expect(audit.rows[0]?.v ?? '').not.toContain('Smtp-Secret-Password-1');
    expect(t.logs.join('')).not.toContain('Smtp-Secret-Password-1');
  });

  it('delivers a test message to the relay, authenticated with the stored password', async () => {
    const res = await post('/api/v1/config/smtp/test/', { to: 'admin@example.com' });
    expect(res.statusCode).toBe(200);
    expect(res.json().accepted).toEqual(['admin@example.com']);
    const msg = received.at(-1);
    expect(msg).toMatchObject({
      from: 'steward@example.com',
      to: ['admin@example.com'],
      user: 'steward',
      pass: 'Smtp-Secret-Password-1',
    });
    expect(msg?.data).toContain('Subject: Steward test message');
  });

  it('an update without password keeps it; an empty password clears it', async () => {
    expect((await post('/api/v1/config/smtp/', { port })).json().password_set).toBe(true);
    expect((await post('/api/v1/config/smtp/', { password: '' })).json().password_set).toBe(false);
    await post('/api/v1/config/smtp/', { password: 'Smtp-Secret-Password-1' });
  });

  it('reports an unreachable relay as 503, and refuses a bad recipient', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await post('/api/v1/config/smtp/', { port: deadPort });
    const res = await post('/api/v1/config/smtp/test/', { to: 'admin@example.com' });
    expect(res.statusCode).toBe(503);
    expect((await post('/api/v1/config/smtp/test/', { to: 'nope' })).statusCode).toBe(400);
    await post('/api/v1/config/smtp/', { port });
  });
});

describe('system alerting (syslog)', () => {
  it('forwards every audit record to a UDP listener as RFC 5424', async () => {
    const sock = createSocket('udp4');
    const got: string[] = [];
    sock.on('message', (m) => got.push(m.toString('utf8')));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    try {
      const res = await post('/api/v1/config/systemalerting/', {
        syslog_enable: true,
        syslog_host: '127.0.0.1',
        syslog_port: port,
        syslog_transport_protocol: 'UDP',
        syslog_enable_audit_logs: true,
      });
      expect(res.statusCode).toBe(200);
      await post('/api/v1/config/sync/', { yararulesets_enable: true });
      await expect
        .poll(() => got.some((m) => m.includes('settings.sync.updated')), { timeout: 5000 })
        .toBe(true);
      const line = got.find((m) => m.includes('settings.sync.updated')) as string;
      expect(line).toMatch(
        /^<\d+>1 \d{4}-\d{2}-\d{2}T[\d:.]+Z \S+ steward \d+ settings\.sync\.updated \[steward@32473 /,
      );
      expect(line).toContain('user="admin"');
    } finally {
      await post('/api/v1/config/systemalerting/', { syslog_enable: false });
      sock.close();
    }
  });

  it('forwards over TCP with octet-counting framing', async () => {
    let data = '';
    const server: Server = createServer((s) => s.on('data', (c) => (data += c.toString('utf8'))));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      await post('/api/v1/config/systemalerting/', {
        syslog_enable: true,
        syslog_host: '127.0.0.1',
        syslog_port: port,
        syslog_transport_protocol: 'TCP',
        syslog_enable_audit_logs: true,
      });
      await post('/api/v1/config/sync/', { yararulesets_enable: false });
      await expect.poll(() => data.includes('settings.sync.updated'), { timeout: 5000 }).toBe(true);
      const m = /^(\d+) /.exec(data);
      expect(m).not.toBeNull();
      expect(Buffer.byteLength(data.slice((m?.[0] ?? '').length)) >= Number(m?.[1])).toBe(true);
    } finally {
      await post('/api/v1/config/systemalerting/', { syslog_enable: false });
      await new Promise<void>((r) => {
        server.close(() => r());
        server.unref();
      });
    }
  });

  it('needs a host when enabled', async () => {
    const res = await post('/api/v1/config/systemalerting/', { syslog_enable: true, syslog_host: '' });
    expect(res.statusCode).toBe(400);
  });
});

describe('central logging retention', () => {
  // The jobs start once for the file (a second start would leave the first timers running).
  let jobsStarted = false;
  const startJobs = async () => {
    if (!jobsStarted) await t.app.startJobs();
    jobsStarted = true;
  };
  it('the retention job deletes audit records older than the period, and keeps newer ones', async () => {
    const now = t.clock.now().getTime();
    const day = 86_400_000;
    await t.db
      .insertInto('audit_log')
      .values([
        { action: 'test.old', at: new Date(now - 40 * day), summary: '', details: '{}' } as never,
        { action: 'test.recent', at: new Date(now - 10 * day), summary: '', details: '{}' } as never,
      ])
      .execute();
    expect(
      (
        await post('/api/v1/config/central_logging/', {
          central_logging__enable: true,
          central_logging__retention_period: 30,
        })
      ).statusCode,
    ).toBe(200);
    await startJobs();
    const count = async (a: string) =>
      Number(
        (
          await t.db
            .selectFrom('audit_log')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('action', '=', a)
            .executeTakeFirstOrThrow()
        ).n,
      );
    await expect.poll(() => count('test.old'), { timeout: 10_000 }).toBe(0);
    expect(await count('test.recent')).toBe(1);
  });

  it('deletes the per-token request log and scope counts older than the period too', async () => {
    const now = t.clock.now().getTime();
    const day = 86_400_000;
    const admin = await t.adminHeaders();
    const made = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/',
      headers: admin,
      payload: { name: 'retention', scopes: ['appliances:read'] },
    });
    expect(made.statusCode).toBe(201);
    t.secrets.add(made.json().token);
    const tokenId = made.json().id as number;
    const row = (ageDays: number, path: string) => ({
      token_id: tokenId,
      at: new Date(now - ageDays * day),
      method: 'GET',
      path,
      status: 200,
    });
    await t.db
      .insertInto('token_activity')
      .values([row(40, '/old'), row(10, '/recent')])
      .execute();
    const usage = (ageDays: number, permission: string) => ({
      token_id: tokenId,
      permission,
      hour: new Date(now - ageDays * day),
      count: 1,
      last_at: new Date(now - ageDays * day),
    });
    await t.db
      .insertInto('token_scope_usage')
      .values([usage(40, 'appliances:read'), usage(10, 'files:read')])
      .execute();
    const left = async () => ({
      activity: (
        await t.db.selectFrom('token_activity').select('path').where('token_id', '=', tokenId).execute()
      )
        .map((r) => r.path)
        .sort(),
      usage: (
        await t.db
          .selectFrom('token_scope_usage')
          .select('permission')
          .where('token_id', '=', tokenId)
          .execute()
      ).map((r) => r.permission),
    });
    await startJobs();
    await expect.poll(left, { timeout: 10_000 }).toEqual({ activity: ['/recent'], usage: ['files:read'] });
  });
});

describe('network', () => {
  it('normalises base_url and stores allowed_hosts', async () => {
    const res = await post('/api/v1/config/network/', {
      base_url: 'c1000.example.com/',
      allowed_hosts: 'worker1.example.com\n192.0.2.7',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      base_url: 'https://c1000.example.com',
      allowed_hosts: 'worker1.example.com\n192.0.2.7',
    });
  });

  it('refuses a Host outside allowed_hosts, keeps listed hosts and loopback', async () => {
    // The situation of its own: a list that names worker1 (and not evil) is in force.
    const set = await post('/api/v1/config/network/', {
      base_url: 'c1000.example.com/',
      allowed_hosts: 'worker1.example.com\n192.0.2.7',
    });
    expect(set.statusCode).toBe(200);
    const probe = await t.app.inject({
      method: 'GET',
      url: '/api/v1/config/sync/',
      headers: { ...admin, host: 'evil.example.com' },
    });
    expect(probe.statusCode).toBe(400);
    expect(probe.json().detail).toContain('allowed_hosts');
    expect(
      (
        await t.app.inject({
          method: 'GET',
          url: '/api/v1/config/sync/',
          headers: { ...admin, host: 'worker1.example.com' },
        })
      ).statusCode,
    ).toBe(200);
    expect(
      (
        await t.app.inject({
          method: 'GET',
          url: '/api/v1/config/sync/',
          headers: { ...admin, host: '127.0.0.1:8443' },
        })
      ).statusCode,
    ).toBe(200);
  });

  it('installs an uploaded certificate and key that match; refuses ones that do not', async () => {
    const a = await generate([{ name: 'commonName', value: 'c1000.example.com' }], { keySize: 2048 });
    const b = await generate([{ name: 'commonName', value: 'other.example.com' }], { keySize: 2048 });
    const cert = await uploadFile(t.app, admin, 'valid_cert.pem', Buffer.from(a.cert));
    const key = await uploadFile(t.app, admin, 'valid_cert.key', Buffer.from(a.private));
    const otherKey = await uploadFile(t.app, admin, 'other.key', Buffer.from(b.private));
    const mismatch = await post('/api/v1/config/network/', {
      certificate_path: `${cert.id}.valid_cert.pem`,
      certificate_key_path: `${otherKey.id}.other.key`,
    });
    expect(mismatch.statusCode).toBe(400);
    expect(mismatch.json().detail).toContain('does not match');
    const ok = await post('/api/v1/config/network/', {
      certificate_path: join(t.dataDir, 'uploads', `${cert.id}.valid_cert.pem`),
      certificate_key_path: `${key.id}.valid_cert.key`,
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().certificate_subject).toContain('c1000.example.com');
    expect(readFileSync(join(t.dataDir, 'tls', 'manager.crt'), 'utf8')).toBe(a.cert);
  });

  it.each(['../../../etc/passwd', '/etc/ssl/private/key.pem', 'notanupload.pem'])(
    'refuses certificate_path %s',
    async (p) => {
      const res = await post('/api/v1/config/network/', { certificate_path: p, certificate_key_path: p });
      expect(res.statusCode).toBe(400);
    },
  );

  it('reset_ssl installs a fresh self-signed certificate', async () => {
    const before = readFileSync(join(t.dataDir, 'tls', 'manager.crt'), 'utf8');
    const res = await post('/api/v1/config/network/', { reset_ssl: true });
    expect(res.statusCode).toBe(200);
    expect(res.json().certificate_subject).toContain('c1000.example.com');
    expect(existsSync(join(t.dataDir, 'tls', 'manager.key'))).toBe(true);
    expect(readFileSync(join(t.dataDir, 'tls', 'manager.crt'), 'utf8')).not.toBe(before);
  });
});

describe('directory connection test', () => {
  // A real LDAP server (ldapjs): the service DN binds with the right password, 49 otherwise.
  type Next = (err?: unknown) => void;
  let server: {
    bind(
      dn: string,
      h: (req: { dn: unknown; credentials: string }, res: { end(): void }, next: Next) => void,
    ): void;
    listen(port: number, host: string, cb: () => void): void;
    address(): { port: number };
    close(): void;
  };
  let port = 0;
  const seen: string[] = [];
  beforeAll(async () => {
    server = ldap.createServer() as unknown as typeof server;
    server.bind('dc=example,dc=com', (req, res, next) => {
      seen.push(String(req.dn));
      if (req.credentials !== 'Ldap-Bind-Pw-1') return next(new ldap.InvalidCredentialsError());
      res.end();
      return next();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = server.address().port;
  });
  afterAll(() => {
    server.close();
  });

  it('binds with the stored DN and password', async () => {
    expect((await post('/api/v1/config/directory/test/', {})).statusCode).toBe(409);
    await post('/api/v1/config/directory/', {
      ldap_enable: true,
      ldap_url: `ldap://127.0.0.1:${port}`,
      ldap_bind_dn: 'cn=steward,dc=example,dc=com',
      ldap_bind_password: 'Ldap-Bind-Pw-1',
    });
    const ok = await post('/api/v1/config/directory/test/', {});
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ ok: true, result_code: 0 });
    expect(seen.at(-1)?.replace(/\s/g, '')).toBe('cn=steward,dc=example,dc=com');
    await post('/api/v1/config/directory/', { ldap_bind_password: 'wrong' });
    const refused = await post('/api/v1/config/directory/test/', {});
    expect(refused.json()).toMatchObject({ ok: false, result_code: 49 });
  });

  it('reports an unreachable directory as 503', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const dead = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await post('/api/v1/config/directory/', { ldap_url: `ldap://127.0.0.1:${dead}` });
    expect((await post('/api/v1/config/directory/test/', {})).statusCode).toBe(503);
  });
});
