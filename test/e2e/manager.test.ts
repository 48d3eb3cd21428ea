// The built manager as a real process: first start on the embedded database over HTTPS,
// durability across kill -9, bad configuration, graceful shutdown, no secrets in logs, and two
// managers migrating one PostgreSQL server at once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createThrowawayDatabase, PG_URL } from '../helpers/database.js';
import { call, runSteward, startManager } from '../helpers/process.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'steward-e2e-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const PASSWORD = 'E2e Admin Passphrase 2026';

async function login(base: string, password = PASSWORD) {
  const res = await call(`${base}/api/v1/auth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  expect(res.status).toBe(200);
  return res.json().token as string;
}

describe('steward serve', () => {
  it('starts on HTTPS with the embedded database, prints where things are, and keeps data across kill -9', async () => {
    const dataDir = tempDir();
    const m1 = await startManager({ STEWARD_DATA_DIR: dataDir });
    try {
      expect(m1.baseUrl.startsWith('https://127.0.0.1:')).toBe(true);
      expect(m1.output()).toContain('/api/docs');
      expect(m1.output()).toContain(`Data:      ${dataDir}`);
      // The first start says what it is doing while the database is made, before the banner.
      const first = m1.output();
      const preparing = first.indexOf(
        `preparing the embedded database in ${join(dataDir, 'pgdata')} (first start; this takes a few seconds)...`,
      );
      const applying = first.search(/applying \d+ database migration\(s\)\.\.\./);
      const ready = first.search(/database ready in \d+\.\d s/);
      expect(preparing).toBeGreaterThanOrEqual(0);
      expect(applying).toBeGreaterThan(preparing);
      expect(ready).toBeGreaterThan(applying);
      expect(first.indexOf('listening on')).toBeGreaterThan(ready);
      const pw = /password: (\S+)/.exec(m1.output())?.[1] as string;
      expect(pw).toMatch(/^[A-Za-z0-9]{24}$/);
      expect((await call(`${m1.baseUrl}/readyz`)).status).toBe(200);
      const session = await login(m1.baseUrl, pw);
      const created = await call(`${m1.baseUrl}/api/v1/tokens/`, {
        method: 'POST',
        headers: { authorization: `Token ${session}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'survives', scopes: ['users:read'] }),
      });
      expect(created.status).toBe(201);
      const token = created.json().token as string;
      // A committed write must survive the hardest stop there is.
      expect(await m1.stop('SIGKILL')).toBeNull();
      const m2 = await startManager({ STEWARD_DATA_DIR: dataDir });
      try {
        expect(m2.output()).not.toContain('password:');
        // A database that is up to date opens without a word.
        expect(m2.output()).not.toMatch(/first start|applying|database ready/);
        const who = await call(`${m2.baseUrl}/api/v1/auth/whoami/`, {
          headers: { authorization: `Token ${token}` },
        });
        expect(who.status).toBe(200);
        expect(who.json().user.username).toBe('admin');
        const logs = m1.output() + m2.output();
        expect(logs).not.toContain(token);
        expect(logs).not.toContain(session);
      } finally {
        expect(await m2.stop('SIGTERM')).toBe(0);
      }
    } finally {
      await m1.stop('SIGKILL');
    }
  });

  it('refuses a bad configuration with one message naming every bad variable', async () => {
    const r = await runSteward(['serve'], {
      STEWARD_PORT: 'eighty',
      STEWARD_TLS: 'sometimes',
      STEWARD_DATABASE_URL: 'mysql://root:topsecret@db/steward',
      STEWARD_DATA_DIR: tempDir(),
    });
    expect(r.code).toBe(2);
    for (const name of ['STEWARD_PORT', 'STEWARD_TLS', 'STEWARD_DATABASE_URL'])
      expect(r.stderr).toContain(name);
    expect(r.stderr).not.toContain('topsecret');
    const flag = await runSteward(['serve', '--port', '70000'], { STEWARD_DATA_DIR: tempDir() });
    expect(flag.stderr).toContain('--port');
  });

  it('finishes requests in flight on SIGTERM and never logs credentials', async () => {
    const m = await startManager({
      STEWARD_DATA_DIR: tempDir(),
      STEWARD_TLS: 'off',
      STEWARD_ADMIN_PASSWORD: PASSWORD,
    });
    const session = await login(m.baseUrl);
    // Argon2 makes a login take a while: send one, then SIGTERM while it is running.
    const inFlight = call(`${m.baseUrl}/api/v1/auth/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `username=admin&password=${encodeURIComponent(PASSWORD)}`,
    });
    await new Promise((r) => setTimeout(r, 5));
    const code = m.stop('SIGTERM');
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await code).toBe(0);
    const logs = m.output();
    expect(logs).toContain('"statusCode":200');
    for (const secret of [PASSWORD, session, res.json().token]) expect(logs).not.toContain(secret);
  });

  it.skipIf(!PG_URL)(
    'two managers starting together migrate one PostgreSQL database exactly once',
    async () => {
      const database = await createThrowawayDatabase('steward_e2e');
      const env = {
        STEWARD_DATABASE_URL: database.url,
        STEWARD_TLS: 'off',
        STEWARD_ADMIN_PASSWORD: PASSWORD,
      };
      const [a, b] = await Promise.all([
        startManager({ ...env, STEWARD_DATA_DIR: tempDir() }),
        startManager({ ...env, STEWARD_DATA_DIR: tempDir() }),
      ]);
      try {
        expect((await call(`${a.baseUrl}/readyz`)).status).toBe(200);
        expect((await call(`${b.baseUrl}/readyz`)).status).toBe(200);
        const token = await login(a.baseUrl);
        expect(
          (await call(`${b.baseUrl}/api/v1/auth/whoami/`, { headers: { 'x-auth-token': token } })).status,
        ).toBe(200);
        const c = new pg.Client({ connectionString: database.url });
        await c.connect();
        const admins = await c.query("select count(*)::int as n from users where username = 'admin'");
        const migrations = await c.query('select name from kysely_migration');
        await c.end();
        expect(admins.rows[0].n).toBe(1);
        expect(new Set(migrations.rows.map((r) => r.name)).size).toBe(migrations.rows.length);
      } finally {
        await a.stop();
        await b.stop();
        await database.drop();
      }
    },
  );
});
