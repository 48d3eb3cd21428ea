// The credential invariant, generated from the route table (issue 13 §1; DESIGN.md "No
// credential reaches past its creator"). Every route declares what it does to credentials in
// `config.credential`; every route that issues or changes one has a scenario below, and each
// scenario is run by every role with a session, a full token and narrowly scoped tokens, asking
// for more than the caller has (every permission, no expiry, another group, another owner).
// Whatever succeeds must not exceed the caller: what the resulting credential gained lies within
// the caller's effective permissions, its group is its owner's, and it does not outlive the
// calling token or the lifetime cap. A new credential route without a flag, or with a flag and
// no scenario, fails the first tests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS, ROLE_PERMISSIONS, ROLES, type RoleName } from '../../src/contract/permissions.js';
import { createTestContext, TEST_PASSWORD, type TestContext } from '../helpers/app.js';

let t: TestContext;
let admin: Record<string, string>;
let groupId: number;
const DAY = 86_400_000;
const NEW_PASSWORD = 'Another-Password-For-Steward-1';

interface Caller {
  name: string;
  role: RoleName;
  userId: number;
  headers: Record<string, string>;
  /** The calling token's expiry (null: a session, or a token without one). */
  expiresAt: Date | null;
  tokenId?: number;
}

/** What a credential can do: effective permissions, group, expiry. */
interface Power {
  permissions: Set<string>;
  groupId: number | null;
  ownerGroupId: number | null;
  expiresAt: Date | null;
}

const callers: Caller[] = [];
const auth = (secret: string) => ({ authorization: `Token ${secret}` });

async function inject(method: string, url: string, headers: Record<string, string>, payload?: unknown) {
  return t.app.inject({
    method: method as 'GET',
    url,
    headers,
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
}

/** A token made by the built-in admin, for fixtures. */
async function fixtureToken(ownerId: number, body: Record<string, unknown>) {
  const res = await inject('POST', '/api/v1/tokens/', admin, {
    name: `fx-${Math.random()}`,
    owner_id: ownerId,
    ...body,
  });
  expect(res.statusCode, res.body).toBe(201);
  t.secrets.add(res.json().token);
  return res.json() as { id: number; token: string };
}

async function userRow(id: number) {
  return t.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** The power of a token, from the database (none when it cannot be used). */
async function tokenPower(id: number): Promise<Power> {
  const row = await t.db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const owner = await userRow(row.owner_id);
  const usable =
    row.enabled && !row.revoked_at && owner.is_active && !(row.expires_at && row.expires_at <= t.clock.now());
  const role = ROLE_PERMISSIONS[owner.role] as ReadonlySet<string>;
  const perms = !usable
    ? new Set<string>()
    : new Set(row.scopes.includes('*') ? [...role] : row.scopes.filter((s) => role.has(s)));
  return {
    permissions: perms,
    groupId: row.group_id,
    ownerGroupId: owner.group_id,
    expiresAt: row.expires_at,
  };
}

/** The power of whoever logs in as the user (a session). */
async function userPower(id: number): Promise<Power> {
  const u = await userRow(id);
  return {
    permissions: u.is_active ? new Set(ROLE_PERMISSIONS[u.role]) : new Set(),
    groupId: u.group_id,
    ownerGroupId: u.group_id,
    expiresAt: null,
  };
}

const NONE: Power = { permissions: new Set(), groupId: null, ownerGroupId: null, expiresAt: null };

/** One attempt: a request, and how to read the credential's power before and after. */
interface Attempt {
  label: string;
  method: string;
  url: string;
  payload?: unknown;
  /** The power the caller could already reach through this credential (NONE for a new one). */
  before: Power;
  after: () => Promise<Power>;
}

type Scenario = (c: Caller) => Promise<Attempt[]>;

async function anotherUser(role: RoleName) {
  return t.createUser(role);
}

const everyPermission = [...PERMISSIONS];

/** One scenario per route that issues or changes a credential, keyed "METHOD url". */
const SCENARIOS: Record<string, Scenario> = {
  'POST /api/v1/tokens/': async (c) => {
    const other = await anotherUser('admin');
    const name = () => `m-${Math.random()}`;
    const last = async (ownerId: number) => {
      const row = await t.db
        .selectFrom('api_tokens')
        .select('id')
        .where('owner_id', '=', ownerId)
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow();
      return tokenPower(row.id);
    };
    return [
      ...[
        { scopes: [...ROLE_PERMISSIONS[c.role]], expires_at: null },
        { scopes: [...ROLE_PERMISSIONS[c.role]] },
        { scopes: everyPermission },
        { scopes: [...ROLE_PERMISSIONS[c.role]], group_id: groupId },
        { scopes: ['files:read'], expires_at: new Date(t.clock.now().getTime() + 400 * DAY).toISOString() },
      ].map((b) => ({
        label: `own ${JSON.stringify(b).slice(0, 60)}`,
        method: 'POST',
        url: '/api/v1/tokens/',
        payload: { name: name(), ...b },
        before: NONE,
        after: () => last(c.userId),
      })),
      {
        label: "another admin's full token",
        method: 'POST',
        url: '/api/v1/tokens/',
        payload: { name: name(), owner_id: other.id, scopes: [...ROLE_PERMISSIONS.admin], expires_at: null },
        before: NONE,
        after: () => last(other.id),
      },
    ];
  },

  'POST /api/v1/authentication/users/:id/api-key/': async (c) => {
    const other = await anotherUser('admin');
    const key = async (ownerId: number) => {
      const row = await t.db
        .selectFrom('api_tokens')
        .select('id')
        .where('owner_id', '=', ownerId)
        .where('kind', '=', 'api_key')
        .where('revoked_at', 'is', null)
        .executeTakeFirstOrThrow();
      return tokenPower(row.id);
    };
    return [
      { id: c.userId, label: 'own API key' },
      { id: other.id, label: "another admin's API key" },
    ].flatMap((x) =>
      [{ expires_at: null }, {}].map((payload) => ({
        label: `${x.label} ${JSON.stringify(payload)}`,
        method: 'POST',
        url: `/api/v1/authentication/users/${x.id}/api-key/`,
        payload,
        before: NONE,
        after: () => key(x.id),
      })),
    );
  },

  'POST /api/v1/tokens/:id/refresh/': async (c) => {
    const mine = await fixtureToken(c.userId, { scopes: [...ROLE_PERMISSIONS[c.role]] });
    const other = await anotherUser('admin');
    const theirs = await fixtureToken(other.id, { scopes: [...ROLE_PERMISSIONS.admin] });
    return [mine, theirs].flatMap((tk) =>
      [{ expires_at: null }, {}].map((payload) => ({
        label: `refresh ${tk === mine ? 'own broad' : "another admin's"} token ${JSON.stringify(payload)}`,
        method: 'POST',
        url: `/api/v1/tokens/${tk.id}/refresh/`,
        payload,
        // A refresh answers a new secret: the caller gains the whole token.
        before: NONE,
        after: () => tokenPower(tk.id),
      })),
    );
  },

  'POST /api/v1/tokens/self/refresh/': async (c) => {
    if (c.tokenId === undefined) return [];
    const before = await tokenPower(c.tokenId);
    return [
      { expires_at: null },
      { expires_at: new Date(t.clock.now().getTime() + 400 * DAY).toISOString() },
      {},
    ].map((payload) => ({
      label: `self-refresh ${JSON.stringify(payload).slice(0, 40)}`,
      method: 'POST',
      url: '/api/v1/tokens/self/refresh/',
      payload,
      before: { ...before, permissions: new Set() },
      after: () => tokenPower(c.tokenId as number),
    }));
  },

  'PATCH /api/v1/tokens/:id/': async (c) => {
    const mk = async () => {
      // The owner's own broad, disabled, short-lived token (made by the owner where possible,
      // so no admin restriction stands in the way and the invariant alone decides).
      const res = await inject('POST', '/api/v1/tokens/', c.headers, {
        name: `p-${Math.random()}`,
        scopes: ['tokens:read'].filter((s) => ROLE_PERMISSIONS[c.role].has(s as never)),
        enabled: false,
        expires_at: new Date(t.clock.now().getTime() + 3600_000).toISOString(),
      });
      if (res.statusCode === 201) {
        t.secrets.add(res.json().token);
        return res.json().id as number;
      }
      return (await fixtureToken(c.userId, { scopes: ['tokens:read'], enabled: false })).id;
    };
    const out: Attempt[] = [];
    for (const payload of [
      { enabled: true, scopes: [...ROLE_PERMISSIONS[c.role]], expires_at: null },
      { enabled: true, scopes: [...ROLE_PERMISSIONS[c.role]] },
      { enabled: true, group_id: groupId },
      { enabled: true, expires_at: new Date(t.clock.now().getTime() + 400 * DAY).toISOString() },
    ]) {
      const id = await mk();
      out.push({
        label: `widen own token ${JSON.stringify(payload).slice(0, 60)}`,
        method: 'PATCH',
        url: `/api/v1/tokens/${id}/`,
        payload,
        before: await tokenPower(id),
        after: () => tokenPower(id),
      });
    }
    return out;
  },

  'POST /api/v1/tokens/:id/narrow/': async (c) => {
    const tk = await fixtureToken(c.userId, { scopes: [...ROLE_PERMISSIONS[c.role]] });
    await inject('GET', '/api/v1/appliances/', auth(tk.token));
    return [
      {
        label: 'narrow own broad token',
        method: 'POST',
        url: `/api/v1/tokens/${tk.id}/narrow/`,
        payload: { window: '1d' },
        before: await tokenPower(tk.id),
        after: () => tokenPower(tk.id),
      },
    ];
  },

  'PUT /api/v1/authentication/users/:id/password/': async () => {
    const out: Attempt[] = [];
    for (const role of ROLES) {
      const u = await anotherUser(role);
      out.push({
        label: `set the password of a ${role}`,
        method: 'PUT',
        url: `/api/v1/authentication/users/${u.id}/password/`,
        payload: { password: NEW_PASSWORD },
        // Whoever set the password logs in as that user.
        before: NONE,
        after: () => userPower(u.id),
      });
    }
    return out;
  },

  'POST /api/v1/authentication/users/add/': async () =>
    ROLES.map((role) => {
      const username = `new-${role}-${Math.random().toString(36).slice(2, 8)}`;
      return {
        label: `add a ${role} with a password`,
        method: 'POST',
        url: '/api/v1/authentication/users/add/',
        payload: { username, role, password: NEW_PASSWORD },
        before: NONE,
        after: async () => {
          const u = await t.db
            .selectFrom('users')
            .select('id')
            .where('username', '=', username)
            .executeTakeFirstOrThrow();
          return userPower(u.id);
        },
      };
    }),

  'PATCH /api/v1/authentication/users/:id/': async () => {
    const out: Attempt[] = [];
    const v = await anotherUser('viewer');
    out.push({
      label: 'promote a viewer to admin',
      method: 'PATCH',
      url: `/api/v1/authentication/users/${v.id}/`,
      payload: { role: 'admin' },
      before: await userPower(v.id),
      after: () => userPower(v.id),
    });
    const d = await anotherUser('admin');
    await inject('PATCH', `/api/v1/authentication/users/${d.id}/`, admin, { is_active: false });
    out.push({
      label: 'enable a disabled admin again',
      method: 'PATCH',
      url: `/api/v1/authentication/users/${d.id}/`,
      payload: { is_active: true },
      before: await userPower(d.id),
      after: () => userPower(d.id),
    });
    return out;
  },
};

/** Logging in: the session has exactly the user's role, and its maximum lifetime. */
const LOGIN = 'POST /api/v1/auth/token/';

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
  const settings = await inject('GET', '/api/v1/config/api_tokens/', admin);
  await inject('POST', '/api/v1/config/api_tokens/', admin, {
    ...(settings.json() as Record<string, unknown>),
    user_defined_tokens: true,
    max_lifetime_days: 365,
    default_lifetime_days: 90,
  });
  const g = await inject('POST', '/api/v1/authentication/groups/', admin, { name: 'elsewhere' });
  groupId = g.json().id;
  for (const role of ROLES) {
    const u = await t.createUser(role);
    callers.push({
      name: `${role} session`,
      role,
      userId: u.id,
      headers: await t.login(u.username, TEST_PASSWORD),
      expiresAt: null,
    });
    const full = await fixtureToken(u.id, {
      scopes: [...ROLE_PERMISSIONS[role]],
      expires_at: new Date(t.clock.now().getTime() + 2 * DAY).toISOString(),
    });
    callers.push({
      name: `${role} full token`,
      role,
      userId: u.id,
      headers: auth(full.token),
      expiresAt: new Date(t.clock.now().getTime() + 2 * DAY),
      tokenId: full.id,
    });
    const narrowScopes = ['tokens:read', 'tokens:write', 'users:write', 'users:read'].filter((s) =>
      ROLE_PERMISSIONS[role].has(s as never),
    );
    const narrow = await fixtureToken(u.id, {
      scopes: narrowScopes,
      expires_at: new Date(t.clock.now().getTime() + DAY).toISOString(),
    });
    callers.push({
      name: `${role} token scoped ${narrowScopes.join(',')}`,
      role,
      userId: u.id,
      headers: auth(narrow.token),
      expiresAt: new Date(t.clock.now().getTime() + DAY),
      tokenId: narrow.id,
    });
  }
});
afterAll(async () => {
  await t?.close();
});

const credentialRoutes = () =>
  t.app.routeTable.routes.filter((r) => r.url.startsWith('/api/') && r.method !== 'HEAD' && r.credential);

describe('credential invariant matrix', () => {
  it('every route that touches a credential declares it', () => {
    const unflagged = t.app.routeTable.routes.filter(
      (r) =>
        r.url.startsWith('/api/') &&
        ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method) &&
        /token|api-key|session|password|logout|login/.test(r.url) &&
        !r.credential,
    );
    expect(unflagged.map((r) => `${r.method} ${r.url}`)).toEqual([]);
  });

  it('every route that issues or changes a credential has a scenario', () => {
    const needed = credentialRoutes()
      .filter((r) => r.credential === 'issue' || r.credential === 'change')
      .map((r) => `${r.method} ${r.url}`);
    expect(needed.length).toBeGreaterThanOrEqual(8);
    const covered = new Set([...Object.keys(SCENARIOS), LOGIN]);
    expect(needed.filter((k) => !covered.has(k))).toEqual([]);
    // And no scenario for a route that is gone.
    expect(Object.keys(SCENARIOS).filter((k) => !needed.includes(k))).toEqual([]);
  });

  it('no operation, by any caller, yields a credential beyond the caller', async () => {
    const failures: string[] = [];
    const successes = new Map<string, number>();
    for (const key of Object.keys(SCENARIOS)) {
      for (const c of callers) {
        const callerPower = new Set(
          ((await inject('GET', '/api/v1/auth/whoami/', c.headers)).json().permissions as string[]) ?? [],
        );
        const attempts = await (SCENARIOS[key] as Scenario)(c);
        for (const a of attempts) {
          const res = await inject(a.method, a.url, c.headers, a.payload);
          if (res.statusCode >= 500) failures.push(`${c.name}: ${a.label}: ${res.statusCode}`);
          if (res.statusCode >= 300) continue;
          if (typeof res.json()?.token === 'string') t.secrets.add(res.json().token);
          successes.set(key, (successes.get(key) ?? 0) + 1);
          const after = await a.after();
          const gained = [...after.permissions].filter((p) => !a.before.permissions.has(p));
          const beyond = gained.filter((p) => !callerPower.has(p));
          if (beyond.length) failures.push(`${c.name}: ${a.label}: gained ${beyond.join(', ')}`);
          if (after.groupId !== null && after.groupId !== after.ownerGroupId)
            failures.push(`${c.name}: ${a.label}: group ${after.groupId} is not the owner's`);
          const extended =
            a.before.expiresAt === null || after.expiresAt === null || after.expiresAt > a.before.expiresAt;
          if (key.includes('tokens') || key.includes('api-key')) {
            const cap = t.clock.now().getTime() + 365 * DAY;
            if (after.expiresAt === null || after.expiresAt.getTime() > cap)
              failures.push(`${c.name}: ${a.label}: expiry ${after.expiresAt?.toISOString()} past the cap`);
            if (
              extended &&
              c.expiresAt !== null &&
              (after.expiresAt === null || after.expiresAt > c.expiresAt)
            )
              failures.push(
                `${c.name}: ${a.label}: outlives the calling token (${after.expiresAt?.toISOString()})`,
              );
          }
        }
      }
    }
    expect(failures).toEqual([]);
    // Not vacuous: every scenario succeeded for some caller.
    expect(Object.keys(SCENARIOS).filter((k) => !successes.get(k))).toEqual([]);
  });

  it('a login session has exactly the user’s role and the session lifetime', async () => {
    for (const role of ROLES) {
      const u = await t.createUser(role);
      const res = await inject(
        'POST',
        '/api/v1/auth/token/',
        {},
        { username: u.username, password: TEST_PASSWORD },
      );
      expect(res.statusCode).toBe(200);
      t.secrets.add(res.json().token);
      const who = await inject('GET', '/api/v1/auth/whoami/', auth(res.json().token));
      expect(new Set(who.json().permissions)).toEqual(new Set(ROLE_PERMISSIONS[role]));
      expect(new Date(res.json().expires_at).getTime()).toBeLessThanOrEqual(
        t.clock.now().getTime() + 43200_000,
      );
    }
  });
});
