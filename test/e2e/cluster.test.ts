// Several real manager processes on one PostgreSQL database: revocation reaches every replica
// within a second, rate limits are shared, one replica leads and another takes over when it
// dies, and a lost or frozen database gives 503s, not hangs, and recovery without a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_URL } from '../helpers/database.js';
import { call, type RunningManager, startManager } from '../helpers/process.js';
import { type DbProxy, startDbProxy } from '../helpers/tcp-proxy.js';

const PASSWORD = 'Cluster Admin Passphrase 2026';
const dbName = `steward_cluster_${Date.now().toString(36)}`;
let dbUrl: string;
const dirs: string[] = [];
const managers: RunningManager[] = [];

async function start(url = dbUrl) {
  const dir = mkdtempSync(join(tmpdir(), 'steward-cluster-'));
  dirs.push(dir);
  const m = await startManager({
    STEWARD_DATA_DIR: dir,
    STEWARD_DATABASE_URL: url,
    STEWARD_TLS: 'off',
    STEWARD_ADMIN_PASSWORD: PASSWORD,
  });
  managers.push(m);
  return m;
}

async function login(m: RunningManager) {
  const r = await call(`${m.baseUrl}/api/v1/auth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  });
  expect(r.status).toBe(200);
  return { authorization: `Token ${r.json().token}` };
}

const json = { 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
  stepMs = 50,
): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return { value: v, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}

describe.skipIf(!PG_URL)('several managers on one PostgreSQL', () => {
  let a: RunningManager;
  let b: RunningManager;
  let adminA: Record<string, string>;

  beforeAll(async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`CREATE DATABASE ${dbName}`);
    await c.end();
    const u = new URL(PG_URL as string);
    u.pathname = `/${dbName}`;
    dbUrl = u.toString();
    [a, b] = await Promise.all([start(), start()]);
    adminA = await login(a);
  });

  afterAll(async () => {
    for (const m of managers) await m.stop('SIGKILL');
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await c.end();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('a token revoked or disabled on one replica is refused by the other within a second', async () => {
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await call(`${a.baseUrl}/api/v1/tokens/`, {
        method: 'POST',
        headers: { ...adminA, ...json },
        body: JSON.stringify({ name: `prop-${i}`, scopes: ['users:read'] }),
      });
      const { id, token } = created.json();
      const onB = () =>
        call(`${b.baseUrl}/api/v1/auth/whoami/`, { headers: { authorization: `Token ${token}` } });
      expect((await onB()).status).toBe(200); // now cached on B
      const t0 = Date.now();
      if (i % 2) await call(`${a.baseUrl}/api/v1/tokens/${id}/`, { method: 'DELETE', headers: adminA });
      else
        await call(`${a.baseUrl}/api/v1/tokens/${id}/`, {
          method: 'PATCH',
          headers: { ...adminA, ...json },
          body: JSON.stringify({ enabled: false }),
        });
      await waitFor('refused on B', async () => ((await onB()).status === 401 ? true : undefined), 1000, 10);
      samples.push(Date.now() - t0);
    }
    expect(Math.max(...samples)).toBeLessThan(1000);
  });

  it('ending a session on one replica ends it on the other', async () => {
    const s = await login(b);
    expect((await call(`${a.baseUrl}/api/v1/auth/whoami/`, { headers: s })).status).toBe(200);
    await call(`${b.baseUrl}/api/v1/auth/logout/`, { method: 'POST', headers: s });
    await waitFor(
      'session refused on A',
      async () =>
        (await call(`${a.baseUrl}/api/v1/auth/whoami/`, { headers: s })).status === 401 ? true : undefined,
      1000,
      10,
    );
  });

  it("shares a token's rate limit between replicas", async () => {
    const created = await call(`${a.baseUrl}/api/v1/tokens/`, {
      method: 'POST',
      headers: { ...adminA, ...json },
      body: JSON.stringify({ name: 'shared-limit', scopes: ['users:read'], rate_limit_per_minute: 20 }),
    });
    const h = { authorization: `Token ${created.json().token}` };
    // Budgets are per clock minute: start early in a minute so the run (about 3 s) fits in one.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await sleep(60_000 - intoMinute + 250);
    let ok = 0;
    let limited = 0;
    for (let i = 0; i < 40; i++) {
      const m = i % 2 ? a : b;
      const r = await call(`${m.baseUrl}/api/v1/auth/whoami/`, { headers: h });
      if (r.status === 200) ok++;
      if (r.status === 429) limited++;
      await sleep(60); // slower than the sync interval, so each replica sees the other's count
    }
    // One replica alone would admit 20 of its 20 requests; together they admit 20, plus at most
    // what the other replica admitted during one sync interval (250 ms: about 2 here).
    expect(ok).toBeGreaterThanOrEqual(20);
    expect(ok).toBeLessThanOrEqual(24);
    expect(limited).toBe(40 - ok);
  });

  it('one replica leads the jobs; when it is killed another takes over within 30 s', async () => {
    const list = async () => (await call(`${a.baseUrl}/api/v1/cluster/`, { headers: adminA })).json();
    const { value: first } = await waitFor(
      'one leader',
      async () => {
        const v = await list();
        const alive = v.replicas.filter((r: { alive: boolean }) => r.alive);
        return alive.length >= 2 && alive.filter((r: { leader: boolean }) => r.leader).length === 1
          ? v
          : undefined;
      },
      20_000,
      250,
    );
    expect(first.mode).toBe('shared_database');
    const leader = first.replicas.find((r: { leader: boolean; alive: boolean }) => r.leader && r.alive);
    const victim = leader.self ? a : b;
    const survivor = victim === a ? b : a;
    const survivorHeaders = await login(survivor);
    await victim.stop('SIGKILL');
    const { ms } = await waitFor(
      'takeover',
      async () => {
        const v = (await call(`${survivor.baseUrl}/api/v1/cluster/`, { headers: survivorHeaders })).json();
        return v.replicas.some((r: { self: boolean; leader: boolean }) => r.self && r.leader)
          ? true
          : undefined;
      },
      30_000,
      250,
    );
    expect(ms).toBeLessThan(30_000);
  });

  it('answers 503 quickly while the database is gone or frozen, and recovers by itself', async () => {
    const proxy: DbProxy = await startDbProxy();
    try {
      const u = new URL(dbUrl);
      u.host = `127.0.0.1:${proxy.port}`;
      const c = await start(u.toString());
      const h = await login(c);
      const users = () => call(`${c.baseUrl}/api/v1/authentication/users/`, { headers: h });
      expect((await users()).status).toBe(200);

      await proxy.stop();
      let t0 = Date.now();
      const down = await users();
      expect(down.status).toBe(503);
      expect(Date.now() - t0).toBeLessThan(2500);
      expect((await call(`${c.baseUrl}/readyz`)).status).toBe(503);

      await proxy.start();
      const { ms } = await waitFor(
        'recovery',
        async () => ((await users()).status === 200 ? true : undefined),
        10_000,
        200,
      );
      expect(ms).toBeLessThan(10_000);

      proxy.freeze();
      t0 = Date.now();
      const frozen = await users();
      expect(frozen.status).toBe(503);
      expect(Date.now() - t0).toBeLessThan(7000);
      proxy.thaw();
      await waitFor(
        'recovery after freeze',
        async () => ((await users()).status === 200 ? true : undefined),
        10_000,
        200,
      );
    } finally {
      await proxy.close();
    }
  });
});
