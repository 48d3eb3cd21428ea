// Issue 13 §6 and §7: the per-token request log sees every request of every module, reads
// included; from it, the usage report per scope and narrowing a token to the scopes it used.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AREAS } from '../../src/contract/permissions.js';
import { createTestContext, TEST_PASSWORD, type TestContext } from '../helpers/app.js';

let t: TestContext;
let admin: Record<string, string>;

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
});
afterAll(async () => {
  await t?.close();
});

async function token(headers: Record<string, string>, body: Record<string, unknown>) {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/tokens/', headers, payload: body });
  expect(res.statusCode, res.body).toBe(201);
  t.secrets.add(res.json().token);
  return res.json() as { id: number; token: string; scopes: string[] };
}

describe('GET /api/v1/tokens/{id}/activity/', () => {
  it('lists a request made with the token on a route of every module', async () => {
    const tk = await token(admin, { name: 'everywhere', scopes: AREAS.map((a) => `${a}:read`) });
    const h = { authorization: `Token ${tk.token}` };
    // One read route without path parameters per area, from the route table.
    const picked = new Map<string, string>();
    for (const r of t.app.routeTable.routes) {
      const area = r.permission?.split(':')[0];
      if (r.method !== 'GET' || !r.permission?.endsWith(':read') || r.url.includes(':') || !area) continue;
      if (!picked.has(area)) picked.set(area, r.url);
    }
    expect([...picked.keys()].sort()).toEqual([...AREAS].sort());
    const called: string[] = [];
    for (const url of picked.values()) {
      const res = await t.app.inject({ url, headers: h });
      expect(res.statusCode, `${url}: ${res.body.slice(0, 200)}`).toBeLessThan(500);
      called.push(url);
    }
    const act = await t.app.inject({
      url: `/api/v1/tokens/${tk.id}/activity/?page_size=100`,
      headers: admin,
    });
    expect(act.statusCode).toBe(200);
    const paths = (act.json().results as { path: string; method: string }[]).map((r) => r.path);
    const missing = called.filter((u) => !paths.includes(u));
    expect(missing).toEqual([]);
    expect(act.json().count).toBe(called.length);
    const row = await t.db
      .selectFrom('api_tokens')
      .select('use_count')
      .where('id', '=', tk.id)
      .executeTakeFirst();
    expect(Number(row?.use_count)).toBe(called.length);
  });

  it('stores a path that carries a secret as the logs show it, masked', async () => {
    const tk = await token(admin, { name: 'path-secret', scopes: ['appliances:read'] });
    const other = await token(admin, { name: 'pasted-into-a-path', scopes: ['appliances:read'] });
    const h = { authorization: `Token ${tk.token}` };
    const res = await t.app.inject({ url: `/api/v1/appliances/;token=${other.token}`, headers: h });
    expect(res.statusCode).toBeLessThan(500);
    const act = await t.app.inject({ url: `/api/v1/tokens/${tk.id}/activity/`, headers: admin });
    expect(act.statusCode).toBe(200);
    const paths = (act.json().results as { path: string }[]).map((r) => r.path);
    expect(paths).toHaveLength(1);
    expect(paths[0]).toMatch(/^\/api\/v1\/appliances\//);
    expect(paths[0]).not.toContain(other.token);
  });
});

describe('usage and narrow', () => {
  it('reports each scope’s count and last use, and narrows to the used ones (audited)', async () => {
    const tk = await token(admin, {
      name: 'too-broad',
      scopes: ['appliances:read', 'files:read', 'files:write', 'audit:read'],
    });
    const h = { authorization: `Token ${tk.token}` };
    for (let i = 0; i < 3; i++) {
      expect((await t.app.inject({ url: '/api/v1/appliances/', headers: h })).statusCode).toBe(200);
    }
    expect((await t.app.inject({ url: '/api/v1/files/', headers: h })).statusCode).toBe(200);
    // Refused for lack of scope: not a use of any scope of the token.
    expect((await t.app.inject({ url: '/api/v1/authentication/users/', headers: h })).statusCode).toBe(403);

    const u = await t.app.inject({ url: `/api/v1/tokens/${tk.id}/usage/?window=7d`, headers: admin });
    expect(u.statusCode).toBe(200);
    const body = u.json();
    const by = Object.fromEntries(
      (body.scopes as { permission: string; count: number; last_used_at: string | null }[]).map((s) => [
        s.permission,
        s,
      ]),
    );
    expect(by['appliances:read']).toMatchObject({ count: 3 });
    expect(by['appliances:read']?.last_used_at).toBe(t.clock.now().toISOString());
    expect(by['files:read']).toMatchObject({ count: 1 });
    expect(by['files:write']).toMatchObject({ count: 0, last_used_at: null });
    expect(body.unused.sort()).toEqual(['audit:read', 'files:write']);

    const bad = await t.app.inject({ url: `/api/v1/tokens/${tk.id}/usage/?window=forever`, headers: admin });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('query.window');

    const n = await t.app.inject({
      method: 'POST',
      url: `/api/v1/tokens/${tk.id}/narrow/`,
      headers: admin,
      payload: { window: '7d' },
    });
    expect(n.statusCode, n.body).toBe(200);
    expect(n.json().removed.sort()).toEqual(['audit:read', 'files:write']);
    expect(n.json().token.scopes.sort()).toEqual(['appliances:read', 'files:read']);
    const audit = await t.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'token.narrowed')
      .where('target_id', '=', String(tk.id))
      .execute();
    expect(audit).toHaveLength(1);
    // The narrowed token is refused what it lost, on the very next request.
    const mp = await t.app.inject({ method: 'DELETE', url: '/api/v1/files/999999/', headers: h });
    expect(mp.statusCode).toBe(403);
  });

  it('refuses to narrow to nothing, with a 409 that says what to do', async () => {
    const tk = await token(admin, { name: 'idle', scopes: ['appliances:read'] });
    const h = { authorization: `Token ${tk.token}` };
    expect((await t.app.inject({ url: '/api/v1/appliances/', headers: h })).statusCode).toBe(200);
    t.clock.advance(3 * 86_400_000);
    // The admin's session has reached its maximum lifetime meanwhile.
    t.forgetAdminSession();
    admin = await t.adminHeaders();
    const n = await t.app.inject({
      method: 'POST',
      url: `/api/v1/tokens/${tk.id}/narrow/`,
      headers: admin,
      payload: { window: '1d' },
    });
    expect(n.statusCode).toBe(409);
    expect(n.json().detail).toMatch(/revoke/i);
    // With a window that covers the use, nothing is removed.
    const wide = await t.app.inject({
      method: 'POST',
      url: `/api/v1/tokens/${tk.id}/narrow/`,
      headers: admin,
      payload: { window: '7d' },
    });
    expect(wide.statusCode).toBe(200);
    expect(wide.json().removed).toEqual([]);
    // keep must name scopes the token has: narrowing never adds.
    const keep = await t.app.inject({
      method: 'POST',
      url: `/api/v1/tokens/${tk.id}/narrow/`,
      headers: admin,
      payload: { window: '1d', keep: ['users:write'] },
    });
    expect(keep.statusCode).toBe(400);
    expect(keep.json().errors[0].field).toBe('body.keep');
  });

  it("keeps the owner from narrowing another user's token (not found) and from reading its usage", async () => {
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/config/api_tokens/',
      headers: admin,
      payload: {
        user_defined_tokens: true,
        max_lifetime_days: null,
        default_lifetime_days: 90,
        default_rate_limit_per_minute: 600,
        allow_tokens_in_url: false,
      },
    });
    const tk = await token(admin, { name: 'admins', scopes: ['appliances:read'] });
    const op = await t.createUser('operator');
    const session = await t.login(op.username, TEST_PASSWORD);
    const u = await t.app.inject({ url: `/api/v1/tokens/${tk.id}/usage/`, headers: session });
    expect(u.statusCode).toBe(404);
    const n = await t.app.inject({
      method: 'POST',
      url: `/api/v1/tokens/${tk.id}/narrow/`,
      headers: session,
      payload: {},
    });
    expect(n.statusCode).toBe(404);
  });
});
