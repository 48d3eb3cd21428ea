// Directory logins through POST /api/v1/auth/token/ against a real LDAP server on loopback
// (ldapjs): search-then-bind with a service account, local users created and updated from the
// entry and the group mapping, passwords never stored, local accounts never taken over.

import { sql } from 'kysely';
import ldap from 'ldapjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { roleFromGroups, userFilter } from './directory-login.js';

const BASE = 'ou=people,dc=example,dc=com';
const SERVICE_DN = 'cn=steward,dc=example,dc=com';
const SERVICE_PW = 'Ldap-Service-Pw-1';
const ADMINS = 'cn=steward-admins,ou=groups,dc=example,dc=com';
const OPERATORS = 'cn=steward-operators,ou=groups,dc=example,dc=com';

interface Person {
  password: string;
  attrs: Record<string, string | string[]>;
}
const people: Record<string, Person> = {
  alice: {
    password: 'Alice-Ldap-Pw-1',
    attrs: { mail: 'alice@example.com', givenName: 'Alice', sn: 'Liddell', memberOf: [ADMINS] },
  },
  bob: { password: 'Bob-Ldap-Pw-1', attrs: { mail: 'bob@example.com', memberOf: [OPERATORS] } },
  carol: { password: 'Carol-Ldap-Pw-1', attrs: { mail: 'carol@example.com', memberOf: [] } },
  // Same name as the built-in local admin: must never log in as it.
  admin: { password: 'Directory-Admin-Pw-1', attrs: { memberOf: [ADMINS] } },
};
const dnOf = (uid: string) => `uid=${uid},${BASE}`;
const norm = (dn: unknown) =>
  String(dn)
    .replace(/\s*,\s*/g, ',')
    .toLowerCase();

// Just what the test uses of ldapjs's server (its published types lag behind version 3).
type Next = (err?: unknown) => void;
interface Req {
  dn: unknown;
  credentials: string;
  filter: { matches(o: object): boolean; toString(): string };
  connection: { ldap: { bindDN: unknown } };
}
interface Res {
  end(): void;
  send(entry: object): void;
}
type Handler = (req: Req, res: Res, next: Next) => void;
interface LdapServer {
  bind(dn: string, h: Handler): void;
  search(dn: string, h: Handler): void;
  listen(port: number, host: string, cb: () => void): void;
  address(): { port: number };
  close(): void;
}

let server: LdapServer;
let ldapUrl = '';
const searches: string[] = [];
let t: TestContext;
let admin: Record<string, string>;

beforeAll(async () => {
  server = ldap.createServer() as unknown as LdapServer;
  server.bind(SERVICE_DN, (req, res, next) => {
    if (req.credentials !== SERVICE_PW) return next(new ldap.InvalidCredentialsError());
    res.end();
    return next();
  });
  server.bind(BASE, (req, res, next) => {
    const uid = Object.keys(people).find((u) => norm(dnOf(u)) === norm(req.dn));
    // Like real servers, an empty password is an unauthenticated bind, and it "succeeds".
    if (req.credentials === '' || (uid && people[uid]?.password === req.credentials)) {
      res.end();
      return next();
    }
    return next(new ldap.InvalidCredentialsError());
  });
  server.search(BASE, (req, res, next) => {
    const who = norm(req.connection.ldap.bindDN);
    if (who !== norm(SERVICE_DN)) return next(new ldap.InsufficientAccessRightsError());
    searches.push(req.filter.toString());
    for (const [uid, p] of Object.entries(people)) {
      const attributes = { objectClass: 'inetOrgPerson', uid, ...p.attrs };
      if (req.filter.matches(attributes)) res.send({ dn: dnOf(uid), attributes });
    }
    res.end();
    return next();
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  ldapUrl = `ldap://127.0.0.1:${server.address().port}`;
  t = await createTestContext();
  admin = await t.adminHeaders();
});
afterAll(async () => {
  await t?.close();
  server?.close();
});

const login = (username: string, password: string) =>
  t.app.inject({ method: 'POST', url: '/api/v1/auth/token/', payload: { username, password } });
const configure = async (payload: Record<string, unknown>) => {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/config/directory/',
    headers: admin,
    payload,
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};
const whoami = async (token: string) =>
  (
    await t.app.inject({
      method: 'GET',
      url: '/api/v1/auth/whoami/',
      headers: { authorization: `Token ${token}` },
    })
  ).json();
const userRow = (username: string) =>
  t.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();

describe('directory logins', () => {
  it('are refused while the directory is off', async () => {
    expect((await login('alice', people.alice?.password ?? '')).statusCode).toBe(401);
    expect(await userRow('alice')).toBeUndefined();
  });

  it('create the local user from the entry on first login, with the mapped role and no password', async () => {
    const body = await configure({
      ldap_enable: true,
      ldap_url: ldapUrl,
      ldap_bind_dn: SERVICE_DN,
      ldap_bind_password: SERVICE_PW,
      ldap_user_search_base: BASE,
      ldap_user_filter: '(&(objectClass=inetOrgPerson)(uid=%(user)s))',
      ldap_admin_group: ADMINS,
      ldap_operator_group: OPERATORS,
      default_role: 'viewer',
    });
    expect(body).toMatchObject({ ldap_group_attribute: 'memberOf', ldap_admin_group: ADMINS });
    const res = await login('alice', 'Alice-Ldap-Pw-1');
    expect(res.statusCode, res.body).toBe(200);
    const me = await whoami(res.json().token);
    expect(me.user).toMatchObject({
      username: 'alice',
      role: 'admin',
      email: 'alice@example.com',
      first_name: 'Alice',
      last_name: 'Liddell',
      directory_name: dnOf('alice'),
      directory_type: 1,
    });
    expect(me.auth_method).toBe('session');
    const row = await userRow('alice');
    expect(row?.password_hash).toBeNull();
    const audit = await t.db
      .selectFrom('audit_log')
      .select(['action', 'auth_method'])
      .where('username', '=', 'alice')
      .where('action', '<>', 'auth.login_failed') // the try while the directory was off
      .orderBy('id')
      .execute();
    expect(audit).toEqual([
      { action: 'user.created', auth_method: 'ldap' },
      { action: 'auth.login', auth_method: 'ldap' },
    ]);
    // The directory password is nowhere: not in any table, not in the logs.
    const dump = await sql<{ t: string }>`
      select string_agg(x::text, ' ') as t from (
        select u::text as x from users u union all select a::text from audit_log a
        union all select s::text from settings s) q`.execute(t.db);
    expect(dump.rows[0]?.t).not.toContain('Alice-Ldap-Pw-1');
    expect(dump.rows[0]?.t).not.toContain(SERVICE_PW);
    expect(t.logs.join('')).not.toContain('Alice-Ldap-Pw-1');
  });

  it('refuse a wrong or empty password, and an unknown user, with the same answer', async () => {
    for (const [u, p] of [
      ['alice', 'wrong'],
      ['alice', ''],
      ['nobody', 'whatever'],
    ] as const) {
      const res = await login(u, p);
      expect(res.statusCode, `${u}/${p}`).toBe(p === '' ? 400 : 401);
      if (p !== '') expect(res.json().detail).toBe('username or password is incorrect');
    }
  });

  it('refuse an empty password even where the schema would let it through', async () => {
    const { createDirectoryLogin } = await import('./directory-login.js');
    const dir = createDirectoryLogin(async () => ({
      ldap_enable: true,
      ldap_url: ldapUrl,
      ldap_bind_dn: SERVICE_DN,
      ldap_bind_password: SERVICE_PW,
      ldap_user_search_base: BASE,
      default_role: 'viewer',
    }));
    expect(await dir.authenticate('alice', '')).toEqual({ ok: false, reason: 'empty credentials' });
    expect((await dir.authenticate('alice', 'Alice-Ldap-Pw-1'))?.ok).toBe(true);
  });

  it('escape the login name in the search filter', async () => {
    const res = await login('a*', 'Alice-Ldap-Pw-1');
    expect(res.statusCode).toBe(401);
    expect(searches.at(-1)).toContain('a\\2a');
    expect(userFilter('(uid=%(user)s)', 'x)(uid=*')).toBe('(uid=x\\29\\28uid=\\2a)');
  });

  it('update the role from the groups at each login, audited', async () => {
    const first = await login('bob', 'Bob-Ldap-Pw-1');
    expect(first.statusCode).toBe(200);
    expect((await whoami(first.json().token)).user.role).toBe('operator');
    (people.bob as Person).attrs.memberOf = [ADMINS];
    const second = await login('bob', 'Bob-Ldap-Pw-1');
    expect((await whoami(second.json().token)).user.role).toBe('admin');
    const updated = await t.db
      .selectFrom('audit_log')
      .select(['summary'])
      .where('action', '=', 'user.updated')
      .where('target_id', '=', String((await userRow('bob'))?.id))
      .execute();
    expect(updated).toHaveLength(1);
    expect(updated[0]?.summary).toContain('role');
  });

  it('give users in no mapped group the default role, or refuse them when a group is required', async () => {
    const res = await login('carol', 'Carol-Ldap-Pw-1');
    expect((await whoami(res.json().token)).user.role).toBe('viewer');
    await configure({ ldap_require_group: true });
    expect((await login('carol', 'Carol-Ldap-Pw-1')).statusCode).toBe(401);
    await configure({ ldap_require_group: false });
  });

  it('never log in as a local user of the same name', async () => {
    expect((await login('admin', 'Directory-Admin-Pw-1')).statusCode).toBe(401);
    expect((await login('admin', t.adminPassword)).statusCode).toBe(200);
  });

  it('refuse a directory user an admin disabled here', async () => {
    const carol = await userRow('carol');
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/authentication/users/${carol?.id}/`,
      headers: admin,
      payload: { is_active: false },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect((await login('carol', 'Carol-Ldap-Pw-1')).statusCode).toBe(401);
  });

  it('answer 503 when the directory cannot be reached', async () => {
    await configure({ ldap_url: 'ldap://127.0.0.1:1' });
    const res = await login('alice', 'Alice-Ldap-Pw-1');
    expect(res.statusCode).toBe(503);
    await configure({ ldap_url: ldapUrl });
  });
});

describe('roleFromGroups', () => {
  it('takes the highest mapped role, comparing DNs without case or spaces', () => {
    const map = { admin: ADMINS, operator: OPERATORS };
    expect(roleFromGroups([OPERATORS.toUpperCase().replace(/,/g, ', ')], map, 'viewer')).toBe('operator');
    expect(roleFromGroups([OPERATORS, ADMINS], map, 'viewer')).toBe('admin');
    expect(roleFromGroups([], map, undefined)).toBeUndefined();
  });
});
