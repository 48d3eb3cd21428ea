// The authorization matrix, generated from the route table: every operation of every module
// against no credential, a malformed, expired, revoked and disabled token, each role, and a
// read-only token. A new route cannot skip it.
//
// Denials happen before any handler runs, so mutating routes are only called where they must be
// refused; allowed mutations are exercised by each module's own tests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AREAS, ROLE_PERMISSIONS, ROLES, type RoleName } from '../../src/contract/permissions.js';
import { createTestContext, type TestContext } from '../helpers/app.js';

let t: TestContext;
const creds: Record<string, Record<string, string>> = {};

beforeAll(async () => {
  t = await createTestContext();
  const admin = await t.adminHeaders();
  const make = async (body: Record<string, unknown>) => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/tokens/', headers: admin, payload: body });
    expect(res.statusCode).toBe(201);
    return res.json() as { id: number; token: string };
  };
  for (const role of ROLES) creds[role] = await t.headersFor(role);
  const ro = await make({ name: 'read-only', scopes: AREAS.map((a) => `${a}:read`) });
  creds.readOnly = { authorization: `Token ${ro.token}` };
  const revoked = await make({ name: 'revoked', scopes: ['users:read'] });
  await t.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${revoked.id}/`, headers: admin });
  creds.revoked = { authorization: `Token ${revoked.token}` };
  const disabled = await make({ name: 'disabled', scopes: ['users:read'] });
  await t.app.inject({
    method: 'PATCH',
    url: `/api/v1/tokens/${disabled.id}/`,
    headers: admin,
    payload: { enabled: false },
  });
  creds.disabled = { authorization: `Token ${disabled.token}` };
  const expired = await make({
    name: 'expired',
    scopes: ['users:read'],
    expires_at: new Date(t.clock.now().getTime() + 60_000).toISOString(),
  });
  creds.expired = { authorization: `Token ${expired.token}` };
  t.clock.advance(120_000);
  creds.malformed = { authorization: 'Token not-a-real-token' };
});
afterAll(async () => {
  await t?.close();
});

function concrete(url: string) {
  return url.replace(/:([A-Za-z_]+)/g, (_m, name: string) => (/id$/.test(name) ? '999999' : 'no-such-thing'));
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

describe('authorization matrix', () => {
  it('covers every operation', () => {
    const ops = t.app.routeTable.routes.filter((r) => r.url.startsWith('/api/v1') && r.method !== 'HEAD');
    expect(ops.length).toBeGreaterThan(20);
  });

  it('refuses every protected operation without a valid credential, with 401 and WWW-Authenticate', async () => {
    const failures: string[] = [];
    for (const r of t.app.routeTable.routes) {
      if (
        !r.url.startsWith('/api/') ||
        r.method === 'HEAD' ||
        r.permission === 'public' ||
        r.permission === undefined
      )
        continue;
      for (const c of ['none', 'malformed', 'expired', 'revoked', 'disabled']) {
        const res = await t.app.inject({
          method: r.method as 'GET',
          url: concrete(r.url),
          headers: c === 'none' ? {} : creds[c],
          ...(MUTATING.has(r.method) ? { payload: {} } : {}),
        });
        if (res.statusCode !== 401 || !res.headers['www-authenticate'])
          failures.push(`${r.method} ${r.url} with ${c}: ${res.statusCode}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('gives each role exactly its permissions, and read-only tokens no writes', async () => {
    const failures: string[] = [];
    const cases: { name: string; perms: ReadonlySet<string> }[] = [
      ...ROLES.map((role: RoleName) => ({
        name: role,
        perms: ROLE_PERMISSIONS[role] as ReadonlySet<string>,
      })),
      { name: 'readOnly', perms: new Set(AREAS.map((a) => `${a}:read`)) },
    ];
    for (const r of t.app.routeTable.routes) {
      const perm = r.permission;
      if (
        !r.url.startsWith('/api/') ||
        r.method === 'HEAD' ||
        !perm ||
        perm === 'public' ||
        perm === 'authenticated'
      )
        continue;
      for (const c of cases) {
        const allowed = c.perms.has(perm);
        // Allowed mutations would really run; their own tests cover them.
        if (allowed && MUTATING.has(r.method)) continue;
        const res = await t.app.inject({
          method: r.method as 'GET',
          url: concrete(r.url),
          headers: creds[c.name],
          ...(MUTATING.has(r.method) ? { payload: {} } : {}),
        });
        const routeDenied = res.statusCode === 403 && res.json().required_permission === perm;
        if (allowed && (res.statusCode === 401 || routeDenied || res.statusCode >= 500)) {
          failures.push(`${c.name} should reach ${r.method} ${r.url} (${perm}) but got ${res.statusCode}`);
        }
        if (!allowed && !routeDenied)
          failures.push(
            `${c.name} should be refused ${r.method} ${r.url} (${perm}) but got ${res.statusCode}`,
          );
      }
    }
    expect(failures).toEqual([]);
  });

  it('audits every refusal', async () => {
    const rows = await t.db
      .selectFrom('audit_log')
      .select(['action'])
      .where('outcome', '=', 'denied')
      .execute();
    expect(rows.some((r) => r.action === 'auth.refused')).toBe(true);
    expect(rows.some((r) => r.action === 'auth.permission_denied')).toBe(true);
  });
});
