// Issue 13, section 1: no credential reaches past the credential that made it. Each finding of
// the issue as a test: scoped tokens minting full API keys, tokens in groups their owner is not
// in, self-refresh that extends a token's life or runs from a secret in its grace period, owners
// loosening what an admin set, and tokens of disabled owners shown as active.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, TEST_PASSWORD, type TestContext } from '../helpers/app.js';
import { multipart } from '../helpers/system.js';

let t: TestContext;
let admin: Record<string, string>;
const DAY = 86_400_000;

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
});
afterAll(async () => {
  await t?.close();
});

async function setTokenSettings(patch: Record<string, unknown>) {
  const cur = await t.app.inject({ url: '/api/v1/config/api_tokens/', headers: admin });
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/config/api_tokens/',
    headers: admin,
    payload: { ...(cur.json() as Record<string, unknown>), ...patch },
  });
  expect(res.statusCode).toBe(200);
}

async function token(headers: Record<string, string>, body: Record<string, unknown>) {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/tokens/', headers, payload: body });
  if (res.statusCode === 201) t.secrets.add(res.json().token);
  return res;
}

const auth = (secret: string) => ({ authorization: `Token ${secret}` });

describe('API keys and tokens stay within the caller', () => {
  it("refuses an admin token scoped to tokens:read,tokens:write a full-permission API key (the issue's escalation)", async () => {
    await setTokenSettings({ user_defined_tokens: true });
    const scoped = await token(admin, { name: 'tokens-only', scopes: ['tokens:read', 'tokens:write'] });
    expect(scoped.statusCode).toBe(201);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/authentication/users/1/api-key/',
      headers: auth(scoped.json().token),
      payload: {},
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().detail).toMatch(/users:write/);
    // And the escalation it enabled: nothing was issued, so no promotion either.
    const keys = await t.db.selectFrom('api_tokens').select('id').where('kind', '=', 'api_key').execute();
    expect(keys).toEqual([]);
  });

  it("refuses an operator's tokens:write token an API key (all of the operator's permissions)", async () => {
    await setTokenSettings({ user_defined_tokens: true });
    const op = await t.createUser('operator');
    const session = await t.login(op.username, TEST_PASSWORD);
    const scoped = await token(session, { name: 'w', scopes: ['tokens:read', 'tokens:write'] });
    expect(scoped.statusCode).toBe(201);
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/authentication/users/${op.id}/api-key/`,
      headers: auth(scoped.json().token),
      payload: {},
    });
    expect(res.statusCode).toBe(403);
    // The operator's own session (all of the operator's permissions) may.
    const ok = await t.app.inject({
      method: 'POST',
      url: `/api/v1/authentication/users/${op.id}/api-key/`,
      headers: session,
      payload: {},
    });
    expect(ok.statusCode).toBe(201);
    t.secrets.add(ok.json().token);
  });

  it('refuses a scoped token a token that outlives it', async () => {
    await setTokenSettings({ user_defined_tokens: true });
    const short = await token(admin, {
      name: 'short-lived',
      scopes: ['tokens:read', 'tokens:write', 'files:read'],
      expires_at: new Date(t.clock.now().getTime() + DAY).toISOString(),
    });
    expect(short.statusCode).toBe(201);
    const longer = await token(auth(short.json().token), {
      name: 'longer',
      scopes: ['files:read'],
      expires_at: new Date(t.clock.now().getTime() + 10 * DAY).toISOString(),
    });
    expect(longer.statusCode).toBe(400);
    expect(longer.json().errors[0].field).toBe('body.expires_at');
    // Without an expiry, the new token gets the caller's.
    const bounded = await token(auth(short.json().token), { name: 'bounded', scopes: ['files:read'] });
    expect(bounded.statusCode).toBe(201);
    expect(bounded.json().expires_at).toBe(short.json().expires_at);
  });

  it('refuses a re-enable of a token broader than the caller', async () => {
    await setTokenSettings({ user_defined_tokens: true });
    const op = await t.createUser('operator');
    const session = await t.login(op.username, TEST_PASSWORD);
    const broad = await token(session, { name: 'broad', scopes: ['appliances:write', 'tokens:write'] });
    const narrow = await token(session, { name: 'narrow', scopes: ['tokens:write', 'tokens:read'] });
    const off = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/tokens/${broad.json().id}/`,
      headers: session,
      payload: { enabled: false },
    });
    expect(off.statusCode).toBe(200);
    const on = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/tokens/${broad.json().id}/`,
      headers: auth(narrow.json().token),
      payload: { enabled: true },
    });
    expect(on.statusCode).toBe(403);
    expect(on.json().detail).toMatch(/appliances:write/);
    // Restricting is always allowed: the narrow token may disable the broad one again.
    const off2 = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/tokens/${broad.json().id}/`,
      headers: auth(narrow.json().token),
      payload: { enabled: false, rate_limit_per_minute: 10 },
    });
    expect(off2.statusCode).toBe(200);
  });
});

describe('groups', () => {
  it('refuses a token in a group its owner is not in, and an upload into it', async () => {
    await setTokenSettings({ user_defined_tokens: true });
    const g = await t.app.inject({
      method: 'POST',
      url: '/api/v1/authentication/groups/',
      headers: admin,
      payload: { name: `g-${Date.now()}` },
    });
    expect(g.statusCode).toBe(201);
    const gid = g.json().id as number;
    const op = await t.createUser('operator');
    const session = await t.login(op.username, TEST_PASSWORD);
    const res = await token(session, { name: 'in-group', scopes: ['files:read'], group_id: gid });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].field).toBe('body.group_id');
    // An admin cannot put another user's token in a group that user is not in either.
    const byAdmin = await token(admin, {
      name: 'in-group',
      owner_id: op.id,
      scopes: ['files:read'],
      group_id: gid,
    });
    expect(byAdmin.statusCode).toBe(400);

    const mp = multipart([
      { name: 'group_id', value: String(gid) },
      { name: 'visibility', value: 'group' },
      { name: 'file', value: Buffer.from('hello'), filename: 'x.txt' },
    ]);
    const up = await t.app.inject({
      method: 'POST',
      url: '/api/v1/files/',
      headers: { ...session, ...mp.headers },
      payload: mp.payload,
    });
    expect(up.statusCode).toBe(403);
    expect(up.json().detail).toMatch(/group/);

    // Once the operator is in the group, both work.
    const moved = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/authentication/users/${op.id}/`,
      headers: admin,
      payload: { group_id: gid },
    });
    expect(moved.statusCode).toBe(200);
    const ok = await token(session, { name: 'in-group', scopes: ['files:read'], group_id: gid });
    expect(ok.statusCode).toBe(201);
  });
});

describe('tokens made before the fix', () => {
  it("act in no group when their group is not their owner's (a token cannot read another group's files)", async () => {
    const g = await t.app.inject({
      method: 'POST',
      url: '/api/v1/authentication/groups/',
      headers: admin,
      payload: { name: `legacy-${Date.now()}` },
    });
    const gid = g.json().id as number;
    const mp = multipart([
      { name: 'group_id', value: String(gid) },
      { name: 'visibility', value: 'group' },
      { name: 'file', value: Buffer.from('group secret'), filename: 'group-only.txt' },
    ]);
    const up = await t.app.inject({
      method: 'POST',
      url: '/api/v1/files/',
      headers: { ...admin, ...mp.headers },
      payload: mp.payload,
    });
    expect(up.statusCode).toBe(201);
    const op = await t.createUser('operator');
    const tk = await token(admin, { name: 'legacy', owner_id: op.id, scopes: ['files:read'] });
    // As the old code allowed: the token's group set to a group its owner is not in.
    await t.db.updateTable('api_tokens').set({ group_id: gid }).where('id', '=', tk.json().id).execute();
    const list = await t.app.inject({
      url: '/api/v1/files/?search=group-only',
      headers: auth(tk.json().token),
    });
    expect(list.statusCode).toBe(200);
    expect(list.json().count).toBe(0);
  });
});

describe('refresh', () => {
  it('refuses expires_at:null and a later expiry on self-refresh of an expiring token', async () => {
    const tk = await token(admin, {
      name: `expiring-${Date.now()}`,
      scopes: ['files:read'],
      expires_at: new Date(t.clock.now().getTime() + DAY).toISOString(),
    });
    const h = auth(tk.json().token);
    const forever = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/self/refresh/',
      headers: h,
      payload: { expires_at: null },
    });
    expect(forever.statusCode).toBe(400);
    expect(forever.json().errors[0].field).toBe('body.expires_at');
    const later = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/self/refresh/',
      headers: h,
      payload: { expires_at: new Date(t.clock.now().getTime() + 5 * DAY).toISOString() },
    });
    expect(later.statusCode).toBe(400);
    const same = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/self/refresh/',
      headers: h,
      payload: {},
    });
    expect(same.statusCode).toBe(200);
    t.secrets.add(same.json().token);
    expect(same.json().expires_at).toBe(tk.json().expires_at);
  });

  it('refuses a self-refresh from a secret in its grace period', async () => {
    const tk = await token(admin, {
      name: `graceful-${Date.now()}`,
      scopes: ['files:read', 'tokens:read', 'tokens:write'],
    });
    const old = auth(tk.json().token);
    const r1 = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/self/refresh/',
      headers: old,
      payload: { grace_period_seconds: 3600 },
    });
    expect(r1.statusCode).toBe(200);
    t.secrets.add(r1.json().token);
    // The old secret still works for ordinary requests during the grace period...
    const read = await t.app.inject({ url: '/api/v1/files/', headers: old });
    expect(read.statusCode).toBe(200);
    // ...but it cannot rotate the token away from its legitimate holder.
    const r2 = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/self/refresh/',
      headers: old,
      payload: { grace_period_seconds: 0 },
    });
    expect(r2.statusCode).toBe(403);
    // Nor can it mint a token of its own to keep a foothold after the grace period.
    const mint = await token(old, { name: 'foothold', scopes: ['files:read'] });
    expect(mint.statusCode).toBe(403);
    expect(mint.json().detail).toMatch(/grace period/);
    const fresh = await t.app.inject({ url: '/api/v1/files/', headers: auth(r1.json().token) });
    expect(fresh.statusCode).toBe(200);
  });

  it('caps a refresh at the lifetime cap', async () => {
    const tk = await token(admin, {
      name: `forever-${Date.now()}`,
      scopes: ['files:read'],
      expires_at: null,
    });
    expect(tk.json().expires_at).toBeNull();
    await setTokenSettings({ max_lifetime_days: 30, default_lifetime_days: 30 });
    try {
      const r = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tokens/self/refresh/',
        headers: auth(tk.json().token),
        payload: {},
      });
      expect(r.statusCode).toBe(200);
      t.secrets.add(r.json().token);
      expect(new Date(r.json().expires_at).getTime()).toBeLessThanOrEqual(t.clock.now().getTime() + 30 * DAY);
    } finally {
      await setTokenSettings({ max_lifetime_days: null, default_lifetime_days: 90 });
    }
  });
});

describe('admin restrictions stick', () => {
  it("lets only an admin loosen what an admin set on someone else's token, and shows who set it", async () => {
    await setTokenSettings({ user_defined_tokens: true });
    const op = await t.createUser('operator');
    const session = await t.login(op.username, TEST_PASSWORD);
    const tk = await token(session, {
      name: 'restricted',
      scopes: ['files:read', 'files:write'],
      expires_at: new Date(t.clock.now().getTime() + 20 * DAY).toISOString(),
    });
    const id = tk.json().id as number;
    const adminExpiry = new Date(t.clock.now().getTime() + 2 * DAY).toISOString();
    const set = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/tokens/${id}/`,
      headers: admin,
      payload: {
        enabled: false,
        scopes: ['files:read'],
        expires_at: adminExpiry,
        allowed_ips: ['192.0.2.0/24'],
        rate_limit_per_minute: 10,
      },
    });
    expect(set.statusCode).toBe(200);
    const r = set.json().restrictions;
    for (const f of ['enabled', 'scopes', 'expires_at', 'allowed_ips', 'rate_limit_per_minute']) {
      expect(r[f], f).toMatchObject({ set_by: 1, set_by_username: 'admin' });
    }
    const tries: Record<string, unknown>[] = [
      { enabled: true },
      { scopes: ['files:read', 'files:write'] },
      { expires_at: null },
      { expires_at: new Date(t.clock.now().getTime() + 10 * DAY).toISOString() },
      { allowed_ips: [] },
      { allowed_ips: ['0.0.0.0/0'] },
      { rate_limit_per_minute: 1000 },
      { rate_limit_per_minute: null },
    ];
    for (const payload of tries) {
      const res = await t.app.inject({
        method: 'PATCH',
        url: `/api/v1/tokens/${id}/`,
        headers: session,
        payload,
      });
      expect(res.statusCode, JSON.stringify(payload)).toBe(403);
      expect(res.json().detail, JSON.stringify(payload)).toMatch(
        new RegExp(Object.keys(payload)[0] as string),
      );
    }
    // Tightening further is the owner's right.
    const tighter = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/tokens/${id}/`,
      headers: session,
      payload: { rate_limit_per_minute: 5, allowed_ips: ['192.0.2.7'] },
    });
    expect(tighter.statusCode).toBe(200);
    // The admin loosens.
    const loosen = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/tokens/${id}/`,
      headers: admin,
      payload: { enabled: true },
    });
    expect(loosen.statusCode).toBe(200);
    expect(loosen.json().enabled).toBe(true);
  });
});

describe('status', () => {
  it('reports "suspended" for a token whose owner is disabled', async () => {
    const u = await t.createUser('viewer');
    const tk = await token(admin, { name: 'v', owner_id: u.id, scopes: ['files:read'] });
    const off = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/authentication/users/${u.id}/`,
      headers: admin,
      payload: { is_active: false },
    });
    expect(off.statusCode).toBe(200);
    const got = await t.app.inject({ url: `/api/v1/tokens/${tk.json().id}/`, headers: admin });
    expect(got.json().status).toBe('suspended');
    const list = await t.app.inject({ url: `/api/v1/tokens/?owner_id=${u.id}`, headers: admin });
    expect(list.json().results[0].status).toBe('suspended');
    const use = await t.app.inject({ url: '/api/v1/files/', headers: auth(tk.json().token) });
    expect(use.statusCode).toBe(401);
  });
});

describe('users: a role or a password is a credential too', () => {
  it('refuses an admin token scoped to users:read,users:write a promotion to admin or an admin’s password', async () => {
    const scoped = await token(admin, {
      name: `users-only-${Date.now()}`,
      scopes: ['users:read', 'users:write'],
    });
    const h = auth(scoped.json().token);
    const v = await t.createUser('viewer');
    const promote = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/authentication/users/${v.id}/`,
      headers: h,
      payload: { role: 'admin' },
    });
    expect(promote.statusCode).toBe(403);
    const other = await t.createUser('admin');
    const pw = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/authentication/users/${other.id}/password/`,
      headers: h,
      payload: { password: 'Yet-Another-Password-For-Steward-2' },
    });
    expect(pw.statusCode).toBe(403);
    // Nothing half-applied: the viewer is still a viewer and the admin's password unchanged.
    const row = await t.db
      .selectFrom('users')
      .select('role')
      .where('id', '=', v.id)
      .executeTakeFirstOrThrow();
    expect(row.role).toBe('viewer');
    await t.login(other.username, TEST_PASSWORD);
    // Renaming needs no grant.
    const rename = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/authentication/users/${v.id}/`,
      headers: h,
      payload: { first_name: 'Vera' },
    });
    expect(rename.statusCode).toBe(200);
  });
});
