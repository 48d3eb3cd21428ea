// Identity and API tokens: the seeds' own curl flows, the token lifecycle, lockout, sessions,
// and a scan of every log line and audit row for issued secrets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, TEST_PASSWORD, type TestContext } from '../helpers/app.js';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

const MIN = 60_000;

function form(fields: Record<string, string>) {
  const boundary = '----steward-test-boundary';
  const body = Object.entries(fields)
    .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
    .join('');
  return {
    payload: `${body}--${boundary}--\r\n`,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

async function makeToken(body: Record<string, unknown>, headers?: Record<string, string>) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/tokens/',
    headers: headers ?? (await t.adminHeaders()),
    payload: body,
  });
  if (res.statusCode === 201) t.secrets.add(res.json().token);
  return res;
}

describe('the seed 003 flow: log in with a form, then use the token', () => {
  it('logs in with multipart form, urlencoded form and JSON', async () => {
    const f = form({ username: 'admin', password: TEST_PASSWORD });
    const m = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token/', ...f });
    expect(m.statusCode).toBe(200);
    const token = m.json().token as string;
    t.secrets.add(token);
    expect(token).toMatch(/^[A-Za-z0-9]{30,60}$/);
    expect(m.json().expires_at).toMatch(/Z$/);
    const u = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token/',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `username=admin&password=${encodeURIComponent(TEST_PASSWORD)}`,
    });
    expect(u.statusCode).toBe(200);
    t.secrets.add(u.json().token);
    for (const headers of [
      { authorization: `Token ${token}` },
      { authorization: `Bearer ${token}` },
      { 'x-auth-token': token },
      { cookie: `steward_session=${token}` },
    ]) {
      const res = await t.app.inject({ url: '/api/v1/authentication/users/', headers });
      expect(res.statusCode, JSON.stringify(headers).slice(0, 20)).toBe(200);
      expect(res.json().results[0]).toMatchObject({
        id: 1,
        username: 'admin',
        is_superuser: true,
        is_active: true,
      });
    }
  });

  it('adds a user, changes their password and deletes them (seed paths)', async () => {
    const h = await t.adminHeaders();
    const add = await t.app.inject({
      method: 'POST',
      url: '/api/v1/authentication/users/add/',
      headers: h,
      payload: {
        username: 'seeduser',
        email: 'user@example.com',
        first_name: 'S',
        last_name: 'U',
        password: 'Correct Horse Battery Staple',
      },
    });
    expect(add.statusCode).toBe(201);
    const id = add.json().id;
    expect(add.json()).toMatchObject({ username: 'seeduser', role: 'viewer', api_only: false });
    expect(add.json()).not.toHaveProperty('password');
    const pw = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/authentication/users/${id}/password/`,
      headers: h,
      payload: { password: 'Another Long Passphrase 42' },
    });
    expect(pw.statusCode).toBe(200);
    expect((await t.login('seeduser', 'Another Long Passphrase 42')).authorization).toMatch(/^Token /);
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/authentication/users/${id}/delete/`,
      headers: h,
    });
    expect(del.statusCode).toBe(204);
    expect((await t.app.inject({ url: `/api/v1/authentication/users/${id}/`, headers: h })).statusCode).toBe(
      404,
    );
  });

  it('refuses weak, short and common passwords with the reason', async () => {
    const h = await t.adminHeaders();
    const cases: [string, string][] = [
      ['short', 'at least 12'],
      ['password1234', 'commonly used'],
      ['aaaaaaaaaaaaaaaa', 'repeated'],
    ];
    for (const [password, reason] of cases) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/authentication/users/add/',
        headers: h,
        payload: { username: 'weak', password },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().errors[0]).toMatchObject({
        field: 'body.password',
        message: expect.stringContaining(reason),
      });
    }
    const long = 'x'.repeat(100) + 'Y'.repeat(100);
    const ok = await t.app.inject({
      method: 'POST',
      url: '/api/v1/authentication/users/add/',
      headers: h,
      payload: { username: 'longpw', password: long },
    });
    expect(ok.statusCode).toBe(201);
    // No truncation: the password minus its last character is wrong.
    const bad = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token/',
      payload: { username: 'longpw', password: long.slice(0, -1) },
    });
    expect(bad.statusCode).toBe(401);
  });
});

describe('every credential scheme', () => {
  it('accepts an API token as Token, Bearer, Api-Key and x-token-id, but not as x-auth-token', async () => {
    const res = await makeToken({ name: 'schemes', scopes: ['users:read'] });
    expect(res.statusCode).toBe(201);
    const tok = res.json().token as string;
    for (const headers of [
      { authorization: `Token ${tok}` },
      { authorization: `Bearer ${tok}` },
      { 'api-key': tok },
      { 'x-token-id': tok },
    ]) {
      const r = await t.app.inject({ url: '/api/v1/auth/whoami/', headers });
      expect(r.statusCode).toBe(200);
      expect(r.json()).toMatchObject({
        auth_method: 'api_token',
        token_id: res.json().id,
        permissions: ['users:read'],
      });
    }
    const x = await t.app.inject({ url: '/api/v1/auth/whoami/', headers: { 'x-auth-token': tok } });
    expect(x.statusCode).toBe(401);
  });

  it('refuses malformed and unknown tokens with a reason', async () => {
    const mal = await t.app.inject({ url: '/api/v1/auth/whoami/', headers: { authorization: 'Token abc' } });
    expect(mal.statusCode).toBe(401);
    expect(mal.json().detail).toContain('malformed');
    expect(mal.headers['www-authenticate']).toContain('invalid_token');
    const res = await makeToken({ name: 'to-forge', scopes: ['users:read'] });
    const tok = res.json().token as string;
    const typo = `${tok.slice(0, 8)}${tok[8] === 'Q' ? 'R' : 'Q'}${tok.slice(9)}`;
    const r = await t.app.inject({
      url: '/api/v1/auth/whoami/',
      headers: { authorization: `Token ${typo}` },
    });
    expect(r.json().detail).toContain('checksum');
  });
});

describe('token lifecycle', () => {
  it('shows the secret once; lists show only the prefix and last four', async () => {
    const res = await makeToken({ name: 'once', scopes: ['users:read'] });
    const { id, token } = res.json();
    const list = await t.app.inject({ url: '/api/v1/tokens/', headers: await t.adminHeaders() });
    expect(list.body).not.toContain(token);
    const item = list.json().results.find((x: { id: number }) => x.id === id);
    expect(item.token_hint).toBe(`stwt…${token.slice(-4)}`);
    expect(item).not.toHaveProperty('token');
    const one = await t.app.inject({ url: `/api/v1/tokens/${id}/`, headers: await t.adminHeaders() });
    expect(one.body).not.toContain(token);
  });

  it('a disabled, revoked or expired token is refused on the very next request, and says which', async () => {
    const h = await t.adminHeaders();
    const res = await makeToken({
      name: 'life',
      scopes: ['users:read'],
      expires_at: new Date(t.clock.now().getTime() + 10 * MIN).toISOString(),
    });
    const { id, token } = res.json();
    const use = () =>
      t.app.inject({ url: '/api/v1/auth/whoami/', headers: { authorization: `Token ${token}` } });
    expect((await use()).statusCode).toBe(200);
    await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/tokens/${id}/`,
      headers: h,
      payload: { enabled: false },
    });
    expect((await use()).json().detail).toBe('token is disabled');
    await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/tokens/${id}/`,
      headers: h,
      payload: { enabled: true },
    });
    expect((await use()).statusCode).toBe(200);
    t.clock.advance(11 * MIN);
    expect((await use()).json().detail).toBe('token has expired');
    t.clock.advance(-11 * MIN);
    expect(
      (await t.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}/`, headers: h })).statusCode,
    ).toBe(204);
    expect((await use()).json().detail).toBe('token has been revoked');
  });

  it('refresh keeps the old secret for the grace period, then refuses it', async () => {
    const h = await t.adminHeaders();
    const res = await makeToken({ name: 'rotate', scopes: ['users:read'] });
    const { id, token: old } = res.json();
    const r = await t.app.inject({
      method: 'POST',
      url: `/api/v1/tokens/${id}/refresh/`,
      headers: h,
      payload: { grace_period_seconds: 300 },
    });
    expect(r.statusCode).toBe(200);
    const fresh = r.json().token as string;
    t.secrets.add(fresh);
    expect(fresh).not.toBe(old);
    expect(r.json().id).toBe(id);
    const use = (tok: string) =>
      t.app.inject({ url: '/api/v1/auth/whoami/', headers: { authorization: `Token ${tok}` } });
    expect((await use(old)).statusCode).toBe(200);
    expect((await use(fresh)).statusCode).toBe(200);
    t.clock.advance(301_000);
    expect((await use(old)).json().detail).toContain('grace period is over');
    expect((await use(fresh)).statusCode).toBe(200);
  });

  it('a token refreshes itself without an admin', async () => {
    const viewerHeaders = await t.headersFor('viewer');
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/self/refresh/',
      headers: viewerHeaders,
      payload: { grace_period_seconds: 0 },
    });
    expect(r.statusCode).toBe(200);
    t.secrets.add(r.json().token);
    expect((await t.app.inject({ url: '/api/v1/auth/whoami/', headers: viewerHeaders })).statusCode).toBe(
      401,
    );
    expect(
      (
        await t.app.inject({
          url: '/api/v1/auth/whoami/',
          headers: { authorization: `Token ${r.json().token}` },
        })
      ).statusCode,
    ).toBe(200);
  });

  it('scopes narrow the role and cannot exceed it', async () => {
    const viewer = await t.createUser('viewer');
    const bad = await makeToken({ name: 'too-much', owner_id: viewer.id, scopes: ['users:write'] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].message).toContain('does not have');
    const ro = await makeToken({ name: 'ro', scopes: ['users:read'] });
    const del = await t.app.inject({
      method: 'DELETE',
      url: '/api/v1/authentication/users/1/',
      headers: { authorization: `Token ${ro.json().token}` },
    });
    expect(del.statusCode).toBe(403);
    expect(del.json()).toMatchObject({ code: 'insufficient_scope', required_permission: 'users:write' });
  });

  it('records last use and activity, reads included', async () => {
    const res = await makeToken({ name: 'tracked', scopes: ['users:read'] });
    const { id, token } = res.json();
    for (let i = 0; i < 3; i++)
      await t.app.inject({
        url: '/api/v1/authentication/users/',
        headers: { 'x-token-id': token, 'x-forwarded-for': '1.2.3.4' },
      });
    const act = await t.app.inject({
      url: `/api/v1/tokens/${id}/activity/`,
      headers: await t.adminHeaders(),
    });
    expect(act.json().count).toBe(3);
    expect(act.json().results[0]).toMatchObject({
      method: 'GET',
      path: '/api/v1/authentication/users/',
      status: 200,
    });
    const one = (
      await t.app.inject({ url: `/api/v1/tokens/${id}/`, headers: await t.adminHeaders() })
    ).json();
    expect(one.use_count).toBe(3);
    expect(one.last_used_ip).toBe('127.0.0.1');
    expect(one.last_used_at).not.toBeNull();
  });

  it('honours allowed_ips and the per-token rate limit with RateLimit headers', async () => {
    const blocked = await makeToken({ name: 'ip', scopes: ['users:read'], allowed_ips: ['10.9.8.0/24'] });
    const r = await t.app.inject({
      url: '/api/v1/auth/whoami/',
      headers: { authorization: `Token ${blocked.json().token}` },
    });
    expect(r.json().detail).toContain('not allowed from');
    const badIp = await makeToken({ name: 'ip2', scopes: ['users:read'], allowed_ips: ['10.0.0.300/8'] });
    expect(badIp.statusCode).toBe(400);
    const limited = await makeToken({ name: 'limited', scopes: ['users:read'], rate_limit_per_minute: 2 });
    const h = { authorization: `Token ${limited.json().token}` };
    const a = await t.app.inject({ url: '/api/v1/auth/whoami/', headers: h });
    expect(a.headers['ratelimit-policy']).toBe('"token";q=2;w=60');
    await t.app.inject({ url: '/api/v1/auth/whoami/', headers: h });
    const c = await t.app.inject({ url: '/api/v1/auth/whoami/', headers: h });
    expect(c.statusCode).toBe(429);
    expect(Number(c.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('requires_login tokens work only while the owner has a live session', async () => {
    const user = await t.createUser('operator');
    const res = await makeToken({
      name: 'needs-login',
      owner_id: user.id,
      scopes: ['appliances:read'],
      requires_login: true,
    });
    const h = { authorization: `Token ${res.json().token}` };
    expect((await t.app.inject({ url: '/api/v1/auth/whoami/', headers: h })).json().detail).toContain(
      'requires its owner',
    );
    const session = await t.login(user.username, TEST_PASSWORD);
    expect((await t.app.inject({ url: '/api/v1/auth/whoami/', headers: h })).statusCode).toBe(200);
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout/', headers: session });
    expect((await t.app.inject({ url: '/api/v1/auth/whoami/', headers: h })).statusCode).toBe(401);
  });

  it('?token= works only for tokens that allow it, when the manager allows it, and never reaches logs', async () => {
    const h = await t.adminHeaders();
    const refused = await makeToken({ name: 'url1', scopes: ['users:read'], allow_in_url: true });
    expect(refused.statusCode).toBe(400);
    const s = await t.app.inject({
      method: 'POST',
      url: '/api/v1/config/api_tokens/',
      headers: h,
      payload: {
        user_defined_tokens: false,
        max_lifetime_days: null,
        default_lifetime_days: 90,
        default_rate_limit_per_minute: 600,
        allow_tokens_in_url: true,
      },
    });
    expect(s.statusCode).toBe(200);
    const ok = await makeToken({ name: 'url2', scopes: ['users:read'], allow_in_url: true });
    const plain = await makeToken({ name: 'url3', scopes: ['users:read'] });
    const r = await t.app.inject({ url: `/api/v1/auth/whoami/?token=${ok.json().token}` });
    expect(r.statusCode).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    const r2 = await t.app.inject({ url: `/api/v1/auth/whoami/?token=${plain.json().token}` });
    expect(r2.statusCode).toBe(401);
    expect(t.logs.join('').includes(ok.json().token)).toBe(false);
  });

  it('user-defined tokens are off by default and on when the admin says so', async () => {
    const op = await t.createUser('operator');
    const session = await t.login(op.username, TEST_PASSWORD);
    const off = await makeToken({ name: 'mine', scopes: ['appliances:read'] }, session);
    expect(off.statusCode).toBe(403);
    expect(off.json().detail).toContain('user-defined tokens are turned off');
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/config/api_tokens/',
      headers: await t.adminHeaders(),
      payload: {
        user_defined_tokens: true,
        max_lifetime_days: 30,
        default_lifetime_days: 7,
        default_rate_limit_per_minute: 600,
        allow_tokens_in_url: true,
      },
    });
    const on = await makeToken({ name: 'mine', scopes: ['appliances:read'] }, session);
    expect(on.statusCode).toBe(201);
    const tooLong = await makeToken(
      { name: 'long', expires_at: new Date(t.clock.now().getTime() + 40 * 86400_000).toISOString() },
      session,
    );
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json().errors[0].field).toBe('body.expires_at');
    const others = await t.app.inject({ url: '/api/v1/tokens/', headers: session });
    expect(others.json().results.every((x: { owner_id: number }) => x.owner_id === op.id)).toBe(true);
    const adminTokenId = (await makeToken({ name: 'admins-own', scopes: ['users:read'] })).json().id;
    expect(
      (await t.app.inject({ url: `/api/v1/tokens/${adminTokenId}/`, headers: session })).statusCode,
    ).toBe(404);
  });
});

describe('users and their credentials', () => {
  it('disabling a user ends sessions and suspends tokens; enabling brings tokens back; deleting revokes them', async () => {
    const h = await t.adminHeaders();
    const u = await t.createUser('operator');
    const session = await t.login(u.username, TEST_PASSWORD);
    const tok = (await makeToken({ name: 'svc', owner_id: u.id, scopes: ['appliances:read'] })).json().token;
    const use = (hd: Record<string, string>) => t.app.inject({ url: '/api/v1/auth/whoami/', headers: hd });
    await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/authentication/users/${u.id}/`,
      headers: h,
      payload: { is_active: false },
    });
    expect((await use(session)).statusCode).toBe(401);
    expect((await use({ authorization: `Token ${tok}` })).json().detail).toContain('suspended');
    await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/authentication/users/${u.id}/`,
      headers: h,
      payload: { is_active: true },
    });
    expect((await use({ authorization: `Token ${tok}` })).statusCode).toBe(200);
    expect((await use(session)).statusCode).toBe(401);
    await t.app.inject({ method: 'DELETE', url: `/api/v1/authentication/users/${u.id}/`, headers: h });
    expect((await use({ authorization: `Token ${tok}` })).statusCode).toBe(401);
  });

  it('API-only users cannot log in but use tokens; the API key replaces the previous one', async () => {
    const u = await t.createUser('viewer', { api_only: true });
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token/',
      payload: { username: u.username, password: TEST_PASSWORD },
    });
    expect(login.statusCode).toBe(401);
    const k1 = await t.app.inject({
      method: 'POST',
      url: `/api/v1/authentication/users/${u.id}/api-key/`,
      headers: await t.adminHeaders(),
    });
    expect(k1.statusCode).toBe(201);
    t.secrets.add(k1.json().token);
    expect(k1.json().token.startsWith('stwk')).toBe(true);
    const use = (k: string) => t.app.inject({ url: '/api/v1/auth/whoami/', headers: { 'api-key': k } });
    expect((await use(k1.json().token)).json().auth_method).toBe('api_key');
    const k2 = await t.app.inject({
      method: 'POST',
      url: `/api/v1/authentication/users/${u.id}/api-key/`,
      headers: await t.adminHeaders(),
    });
    t.secrets.add(k2.json().token);
    expect((await use(k1.json().token)).statusCode).toBe(401);
    expect((await use(k2.json().token)).statusCode).toBe(200);
  });

  it('changing your own password: needs the current one after 15 minutes, never with a token, ends other sessions', async () => {
    const u = await t.createUser('operator');
    const s1 = await t.login(u.username, TEST_PASSWORD);
    const s2 = await t.login(u.username, TEST_PASSWORD);
    const tokenHeaders = {
      authorization: `Token ${(await makeToken({ name: 'pw', owner_id: u.id, scopes: ['appliances:read'] })).json().token}`,
    };
    const byToken = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/authentication/users/${u.id}/password/`,
      headers: tokenHeaders,
      payload: { password: 'A Brand New Passphrase 1' },
    });
    expect(byToken.statusCode).toBe(403);
    t.clock.advance(16 * MIN);
    const noCurrent = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/authentication/users/${u.id}/password/`,
      headers: s1,
      payload: { password: 'A Brand New Passphrase 1' },
    });
    expect(noCurrent.statusCode).toBe(400);
    expect(noCurrent.json().errors[0].field).toBe('body.current_password');
    const ok = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/authentication/users/${u.id}/password/`,
      headers: s1,
      payload: { password: 'A Brand New Passphrase 1', current_password: TEST_PASSWORD },
    });
    expect(ok.statusCode).toBe(200);
    expect((await t.app.inject({ url: '/api/v1/auth/whoami/', headers: s1 })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/api/v1/auth/whoami/', headers: s2 })).statusCode).toBe(401);
    t.clock.advance(-16 * MIN);
  });
});

describe('sessions', () => {
  it('expire after inactivity and at their absolute lifetime; users list and end their own', async () => {
    const u = await t.createUser('viewer');
    const s = await t.login(u.username, TEST_PASSWORD);
    const list = await t.app.inject({ url: '/api/v1/auth/sessions/', headers: s });
    expect(list.json()).toHaveLength(1);
    expect(list.json()[0].current).toBe(true);
    t.clock.advance(31 * MIN);
    const idle = await t.app.inject({ url: '/api/v1/auth/whoami/', headers: s });
    expect(idle.json().detail).toContain('inactivity');
    t.clock.advance(-31 * MIN);
    const s2 = await t.login(u.username, TEST_PASSWORD);
    for (let i = 0; i < 26; i++) {
      t.clock.advance(29 * MIN);
      await t.app.inject({ url: '/api/v1/auth/whoami/', headers: s2 });
    }
    expect((await t.app.inject({ url: '/api/v1/auth/whoami/', headers: s2 })).json().detail).toContain(
      'maximum lifetime',
    );
    t.clock.advance(-26 * 29 * MIN);
    const s3 = await t.login(u.username, TEST_PASSWORD);
    const id = (await t.app.inject({ url: '/api/v1/auth/whoami/', headers: s3 })).json().session_id;
    expect(
      (await t.app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${id}/`, headers: s3 })).statusCode,
    ).toBe(204);
    expect((await t.app.inject({ url: '/api/v1/auth/whoami/', headers: s3 })).statusCode).toBe(401);
  });
});

describe('brute force', () => {
  it('locks an account after 5 failures in 15 minutes, the correct password too, without blocking tokens or others', async () => {
    const u = await t.createUser('viewer');
    const tok = (
      await makeToken({ name: 'while-locked', owner_id: u.id, scopes: ['appliances:read'] })
    ).json().token;
    const attempt = (password: string, username = u.username) =>
      t.app.inject({ method: 'POST', url: '/api/v1/auth/token/', payload: { username, password } });
    for (let i = 0; i < 5; i++) expect((await attempt('Wrong Password Here!')).statusCode).toBe(401);
    const locked = await attempt(TEST_PASSWORD);
    expect(locked.statusCode).toBe(423);
    expect(locked.json().detail).toContain('too many failed logins');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
    expect(
      (await t.app.inject({ url: '/api/v1/auth/whoami/', headers: { authorization: `Token ${tok}` } }))
        .statusCode,
    ).toBe(200);
    expect((await attempt(TEST_PASSWORD, 'admin')).statusCode).toBe(200);
    t.clock.advance(16 * MIN);
    expect((await attempt(TEST_PASSWORD)).statusCode).toBe(200);
  });

  it('an unknown user and a wrong password get the same status and body', async () => {
    const a = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token/',
      payload: { username: 'nobody-here', password: 'Wrong Password Here!' },
    });
    const b = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token/',
      payload: { username: 'admin', password: 'Wrong Password Here!' },
    });
    expect(a.statusCode).toBe(b.statusCode);
    const strip = (x: Record<string, unknown>) => ({ ...x, request_id: undefined });
    expect(strip(a.json())).toEqual(strip(b.json()));
  });
});

describe('audit', () => {
  it('records authentication events and mutations, filterable, with cursor pagination', async () => {
    const h = await t.adminHeaders();
    for (let i = 0; i < 3; i++) await t.login('admin', TEST_PASSWORD);
    const res = await t.app.inject({ url: '/api/v1/audit/?action=auth.login&page_size=2', headers: h });
    expect(res.statusCode).toBe(200);
    expect(res.json().results).toHaveLength(2);
    expect(res.json().results[0]).toMatchObject({ action: 'auth.login', outcome: 'success' });
    const next = new URL(res.json().next, 'http://localhost');
    expect(next.searchParams.get('cursor')).toBeTruthy();
    const page2 = await t.app.inject({ url: `${next.pathname}${next.search}`, headers: h });
    expect(page2.json().results[0].id).toBeLessThan(res.json().results[1].id);
    const kinds = new Set(
      (await t.app.inject({ url: '/api/v1/audit/?limit=100', headers: h }))
        .json()
        .results.map((r: { action: string }) => r.action),
    );
    for (const k of [
      'token.created',
      'token.revoked',
      'token.refreshed',
      'token.disabled',
      'user.created',
      'auth.refused',
      'auth.login_failed',
      'auth.login_locked',
    ]) {
      const one = await t.app.inject({ url: `/api/v1/audit/?action=${k}&limit=1`, headers: h });
      expect(one.json().count, k).toBeGreaterThan(0);
    }
    expect(kinds.size).toBeGreaterThan(3);
    const denied = await t.app.inject({
      url: '/api/v1/audit/?action=auth.refused&outcome=denied&limit=5',
      headers: h,
    });
    expect(denied.json().results[0].details).toHaveProperty('reason');
  });

  it('no issued secret appears in any log line or audit row of this suite', async () => {
    const rows = await t.db.selectFrom('audit_log').selectAll().execute();
    const haystack = t.logs.join('\n') + JSON.stringify(rows);
    expect(t.secrets.size).toBeGreaterThan(10);
    const leaked = [...t.secrets].filter((s) => haystack.includes(s));
    expect(leaked).toEqual([]);
    const digests = await t.db.selectFrom('api_tokens').select(['digest']).execute();
    for (const d of digests) expect(d.digest).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('the console session cookie', () => {
  it('is HttpOnly and SameSite=Strict, and writes through it need the CSRF header', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token/',
      payload: { username: 'admin', password: TEST_PASSWORD },
    });
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const token = res.json().token as string;
    t.secrets.add(token);
    const headers = { cookie: `steward_session=${token}` };
    expect((await t.app.inject({ url: '/api/v1/auth/whoami/', headers })).statusCode).toBe(200);
    const body = { name: 'grp-csrf' };
    const refused = await t.app.inject({
      method: 'POST',
      url: '/api/v1/authentication/groups/',
      headers,
      payload: body,
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().detail).toContain('x-requested-with');
    const ok = await t.app.inject({
      method: 'POST',
      url: '/api/v1/authentication/groups/',
      headers: { ...headers, 'x-requested-with': 'steward-console' },
      payload: body,
    });
    expect(ok.statusCode).toBe(201);
  });
});
