// The identity repository on a real database: PGlite here, PostgreSQL when the route-test tier
// runs again with STEWARD_TEST_DATABASE_URL (`npm run test:pg`). One database for the file; each
// test makes its own users, so they do not see each other's rows.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import type { Role } from '../../db/schema.js';
import { createTransactor, type DbHandle } from '../../db/transactor.js';
import { createIdentityRepo, type IdentityRepo } from './identity.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let repo: IdentityRepo;
beforeAll(async () => {
  database = await createTestDatabase();
  repo = createIdentityRepo(database.db);
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

const tag = () => randomBytes(3).toString('hex');
const T0 = new Date('2026-03-01T10:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);

function user(
  username: string,
  o: { role?: Role; is_active?: boolean; api_only?: boolean; group_id?: number | null; email?: string } = {},
) {
  return repo.insertUser(database.db, { username, password_hash: null, role: o.role ?? 'viewer', ...o });
}

let tokenCounter = 0;
function token(
  ownerId: number,
  o: { name?: string; kind?: 'api_token' | 'api_key'; description?: string } = {},
) {
  tokenCounter += 1;
  const digest = `digest-${tag()}-${tokenCounter}`;
  return repo.insertToken(database.db, {
    kind: o.kind ?? 'api_token',
    name: o.name ?? `token ${tokenCounter}`,
    description: o.description ?? '',
    owner_id: ownerId,
    group_id: null,
    created_by: ownerId,
    scopes: JSON.stringify(['fleet:read']),
    expires_at: null,
    prefix: 'stw_',
    last4: 'abcd',
    digest,
  });
}

function session(userId: number, o: { expires?: Date; lastSeen?: Date } = {}) {
  return repo.insertSession(database.db, {
    user_id: userId,
    digest: `session-${tag()}`,
    prefix: 'sess',
    created_at: T0,
    last_seen_at: o.lastSeen ?? T0,
    expires_at: o.expires ?? at(3600),
    ip: '192.0.2.1',
    user_agent: null,
  });
}

describe('identity repository: users and groups', () => {
  it('finds live users by id and by name whatever the case; a deleted user is gone but still counted in the total', async () => {
    const name = `Alice_${tag()}`;
    const u = await user(name);
    expect((await repo.findUserById(u.id))?.username).toBe(name);
    expect((await repo.findUserByUsername(name.toUpperCase()))?.id).toBe(u.id);
    const total = await repo.countUsersTotal();
    await repo.updateUser(database.db, u.id, { deleted_at: T0 });
    expect(await repo.findUserById(u.id)).toBeUndefined();
    expect(await repo.findUserByUsername(name)).toBeUndefined();
    expect(await repo.countUsersTotal()).toBe(total);
  });

  it('lists and counts with filters, the given order and id as the tie-breaker', async () => {
    const t = tag();
    const g = await repo.insertGroup(database.db, { name: `group ${t}` });
    const a = await user(`list_${t}_a`, { role: 'operator', email: `zed_${t}@example.com`, group_id: g.id });
    const b = await user(`list_${t}_b`, { role: 'viewer', is_active: false });
    const c = await user(`list_${t}_c`, { role: 'operator', api_only: true });
    const search = { search: `list_${t}` };
    const ids = async (
      f: Parameters<IdentityRepo['listUsers']>[0],
      order: Parameters<IdentityRepo['listUsers']>[1] = [],
    ) => (await repo.listUsers(f, order, 10, 0)).map((r) => r.id);
    expect(await ids(search)).toEqual([a.id, b.id, c.id]);
    expect(await ids(search, [{ field: 'username', direction: 'desc' }])).toEqual([c.id, b.id, a.id]);
    expect(await ids({ ...search, role: 'operator' })).toEqual([a.id, c.id]);
    expect(await ids({ ...search, is_active: false })).toEqual([b.id]);
    expect(await ids({ ...search, api_only: true })).toEqual([c.id]);
    expect(await ids({ ...search, group_id: g.id })).toEqual([a.id]);
    // The search covers the e-mail too, and `_` is a literal, not a wildcard.
    expect(await ids({ search: `zed_${t}` })).toEqual([a.id]);
    expect(await ids({ search: `list${t}` })).toEqual([]);
    expect(await repo.countUsers({ ...search, role: 'operator' })).toBe(2);
    expect((await repo.listUsers(search, [], 1, 1)).map((r) => r.id)).toEqual([b.id]);
  });

  it('counts active admins only, and an empty patch reads the row instead of failing', async () => {
    const before = await repo.countActiveAdmins(database.db);
    const admin = await user(`admin_${tag()}`, { role: 'admin' });
    await user(`admin_${tag()}`, { role: 'admin', is_active: false });
    expect(await repo.countActiveAdmins(database.db)).toBe(before + 1);
    expect((await repo.updateUser(database.db, admin.id, {}))?.id).toBe(admin.id);
    expect(await repo.updateUser(database.db, 999_999, {})).toBeUndefined();
    expect((await repo.updateUser(database.db, admin.id, { first_name: 'Ada' }))?.first_name).toBe('Ada');
  });

  it('creates, finds, lists by name and deletes groups', async () => {
    const t = tag();
    const z = await repo.insertGroup(database.db, { name: `zz ${t}`, description: 'last' });
    const a = await repo.insertGroup(database.db, { name: `aa ${t}` });
    expect((await repo.findGroupById(z.id))?.description).toBe('last');
    const names = (await repo.listGroups()).map((g) => g.name);
    expect(names.indexOf(`aa ${t}`)).toBeLessThan(names.indexOf(`zz ${t}`));
    expect(Number((await repo.deleteGroup(database.db, a.id)).numDeletedRows)).toBe(1);
    expect(await repo.findGroupById(a.id)).toBeUndefined();
  });

  it('takes the admin-creation lock for the transaction only', async () => {
    const advisoryLocks = async (d: DbHandle) =>
      Number(
        (
          await sql<{
            n: number;
          }>`select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()`.execute(
            d as typeof database.db,
          )
        ).rows[0]?.n,
      );
    const tx = createTransactor(database.db);
    const held = await tx.transaction(async (trx) => {
      await repo.lockAdminCreation(trx);
      return advisoryLocks(trx);
    });
    expect(held).toBe(1);
    expect(await database.db.transaction().execute((trx) => advisoryLocks(trx))).toBe(0);
  });
});

describe('identity repository: sessions', () => {
  it('finds by digest and id, lists the live ones newest first, and ends them by user, id or all but one', async () => {
    const u = await user(`sess_${tag()}`);
    const other = await user(`sess_${tag()}`);
    const s1 = await session(u.id);
    const s2 = await session(u.id);
    const s3 = await session(u.id);
    const expired = await session(u.id, { expires: at(-1) });
    const o1 = await session(other.id);
    expect((await repo.findSessionByDigest(s1.digest))?.id).toBe(s1.id);
    expect((await repo.findSessionById(s2.id))?.digest).toBe(s2.digest);
    expect((await repo.listLiveSessions(u.id, T0)).map((s) => s.id)).toEqual([s3.id, s2.id, s1.id]);
    expect((await repo.listLiveSessions(undefined, T0)).map((s) => s.id)).toEqual(
      expect.arrayContaining([o1.id, s1.id]),
    );
    expect((await repo.listLiveSessions(undefined, T0)).map((s) => s.id)).not.toContain(expired.id);

    const one = await repo.endSessions(database.db, { id: s1.id }, 'logout', at(1));
    expect(one).toEqual([{ id: s1.id, digest: s1.digest }]);
    const rest = await repo.endSessions(
      database.db,
      { userId: u.id, exceptId: s3.id },
      'password changed',
      at(2),
    );
    // The expired session was never ended, so it is ended now; s1 stays as it was.
    expect(rest.map((s) => s.id).sort()).toEqual([s2.id, expired.id].sort());
    expect(await repo.findSessionById(s1.id)).toMatchObject({ end_reason: 'logout', ended_at: at(1) });
    expect((await repo.listLiveSessions(u.id, T0)).map((s) => s.id)).toEqual([s3.id]);
    expect((await repo.listLiveSessions(other.id, T0)).map((s) => s.id)).toEqual([o1.id]);
  });

  it('touches only a session that has not ended', async () => {
    const u = await user(`touch_${tag()}`);
    const live = await session(u.id);
    const ended = await session(u.id);
    await repo.endSessions(database.db, { id: ended.id }, 'ended', at(1));
    await repo.touchSession(live.id, at(60));
    await repo.touchSession(ended.id, at(60));
    expect((await repo.findSessionById(live.id))?.last_seen_at).toEqual(at(60));
    expect((await repo.findSessionById(ended.id))?.last_seen_at).toEqual(T0);
  });
});

describe('identity repository: tokens', () => {
  it('finds a token by its current or its previous digest', async () => {
    const u = await user(`tok_${tag()}`);
    const t = await token(u.id);
    await repo.updateToken(database.db, t.id, {
      digest: `new-digest-${t.digest}`,
      previous_digest: t.digest,
    });
    expect((await repo.findTokenByDigest(t.digest))?.id).toBe(t.id);
    expect((await repo.findTokenByDigest(`new-digest-${t.digest}`))?.id).toBe(t.id);
    expect(await repo.findTokenByDigest('no-such-digest')).toBeUndefined();
    expect(await repo.updateToken(database.db, 999_999, { name: 'x' })).toBeUndefined();
  });

  it('lists and counts by owner, kind and search, hiding revoked ones unless asked', async () => {
    const u = await user(`toks_${tag()}`);
    const a = await token(u.id, { name: 'deploy', description: 'CI' });
    const b = await token(u.id, { name: 'backup 100%', kind: 'api_key' });
    const c = await token(u.id, { name: 'reports' });
    await repo.updateToken(database.db, c.id, { revoked_at: T0 });
    const ids = async (
      f: Parameters<IdentityRepo['listTokens']>[0],
      order: Parameters<IdentityRepo['listTokens']>[1] = [],
    ) => (await repo.listTokens(f, order, 10, 0)).map((t) => t.id);
    expect(await ids({ ownerId: u.id })).toEqual([a.id, b.id]);
    expect(await ids({ ownerId: u.id, includeRevoked: true })).toEqual([a.id, b.id, c.id]);
    expect(
      await ids({ ownerId: u.id, includeRevoked: true }, [{ field: 'name', direction: 'desc' }]),
    ).toEqual([c.id, a.id, b.id]);
    expect(await ids({ ownerId: u.id, kind: 'api_key' })).toEqual([b.id]);
    expect(await ids({ ownerId: u.id, search: 'ci' })).toEqual([a.id]);
    expect(await ids({ ownerId: u.id, search: '100%' })).toEqual([b.id]);
    expect(await ids({ ownerId: u.id, search: '1%0' })).toEqual([]);
    expect(await repo.countTokens({ ownerId: u.id })).toBe(2);
    expect(await repo.countTokens({ ownerId: u.id, includeRevoked: true })).toBe(3);
  });

  it('revokes the live tokens of an owner (or only the API keys) and answers their digests', async () => {
    const u = await user(`rev_${tag()}`);
    const t = await token(u.id);
    const k = await token(u.id, { kind: 'api_key' });
    const keys = await repo.revokeTokensOf(database.db, u.id, 'replaced by a new API key', at(1), 'api_key');
    expect(keys).toEqual([{ id: k.id, digest: k.digest, previous_digest: null }]);
    expect(await repo.findTokenById(k.id)).toMatchObject({
      revoked_at: at(1),
      revoked_reason: 'replaced by a new API key',
    });
    const all = await repo.revokeTokensOf(database.db, u.id, 'owner deleted', at(2));
    // The key revoked before keeps its first reason.
    expect(all.map((r) => r.id)).toEqual([t.id]);
    expect((await repo.findTokenById(k.id))?.revoked_reason).toBe('replaced by a new API key');
    expect((await repo.tokenIdsOf(database.db, u.id)).map((r) => r.id).sort()).toEqual([t.id, k.id].sort());
  });

  it('adds up last-use facts and merges per-hour scope counts with what is stored', async () => {
    const u = await user(`use_${tag()}`);
    const t = await token(u.id);
    await repo.recordTokenUse([{ id: t.id, at: at(5), ip: '198.51.100.7', count: 3 }]);
    await repo.recordTokenUse([{ id: t.id, at: at(9), ip: '198.51.100.8', count: 2 }]);
    expect(await repo.findTokenById(t.id)).toMatchObject({
      use_count: 5,
      last_used_at: at(9),
      last_used_ip: '198.51.100.8',
    });

    const hour = Math.floor(T0.getTime() / 3_600_000) * 3_600_000;
    await repo.recordScopeUse([]);
    await repo.recordScopeUse([
      { tokenId: t.id, permission: 'fleet:read', hour, count: 2, lastAt: at(30).getTime() },
      { tokenId: t.id, permission: 'audit:read', hour, count: 1, lastAt: at(10).getTime() },
    ]);
    // A later flush with an earlier last use keeps the later one.
    await repo.recordScopeUse([
      { tokenId: t.id, permission: 'fleet:read', hour, count: 4, lastAt: at(20).getTime() },
    ]);
    const usage = await repo.scopeUsage(t.id, T0);
    const byPermission = Object.fromEntries(usage.map((r) => [r.permission, r]));
    expect(Number(byPermission['fleet:read']?.count)).toBe(6);
    expect(new Date(byPermission['fleet:read']?.last_at as Date)).toEqual(at(30));
    expect(Number(byPermission['audit:read']?.count)).toBe(1);
    // Only uses at or after `since` count.
    expect((await repo.scopeUsage(t.id, at(15))).map((r) => r.permission)).toEqual(['fleet:read']);
  });

  it('keeps the request log newest first, counts it, and deletes it (with scope counts) by age', async () => {
    const u = await user(`log_${tag()}`);
    const t = await token(u.id);
    const row = (s: number) => ({
      token_id: t.id,
      at: at(s),
      method: 'GET',
      path: `/api/v1/r${s}/`,
      status: 200,
      ip: '127.0.0.1',
      request_id: String(s),
    });
    await repo.insertActivity([]);
    await repo.insertActivity([row(1), row(2), row(3)]);
    expect((await repo.listActivity(t.id, 2, 0)).map((r) => r.path)).toEqual(['/api/v1/r3/', '/api/v1/r2/']);
    expect((await repo.listActivity(t.id, 2, 2)).map((r) => r.path)).toEqual(['/api/v1/r1/']);
    expect(await repo.countActivity(t.id)).toBe(3);
    const hour = Math.floor(T0.getTime() / 3_600_000) * 3_600_000;
    await repo.recordScopeUse([
      { tokenId: t.id, permission: 'fleet:read', hour, count: 1, lastAt: at(1).getTime() },
    ]);
    const deleted = await repo.deleteRequestLogBefore(at(3));
    expect(deleted).toBeGreaterThanOrEqual(2);
    expect(await repo.countActivity(t.id)).toBe(1);
    expect(await repo.scopeUsage(t.id, T0)).toEqual([]);
  });
});

describe('identity repository: login attempts', () => {
  it('records attempts under the lowercased name, lists recent ones oldest first, and clears only failures', async () => {
    const name = `Bob_${tag()}`;
    await repo.insertAttempt(database.db, name, '192.0.2.1', false, at(1));
    await repo.insertAttempt(database.db, name.toUpperCase(), '192.0.2.2', false, at(2));
    await repo.insertAttempt(database.db, name, '192.0.2.1', true, at(3));
    await repo.insertAttempt(database.db, name, '192.0.2.1', false, at(-100));
    const recent = await repo.recentAttempts(name, at(0));
    expect(recent).toEqual([
      { at: at(1), ip: '192.0.2.1', success: false },
      { at: at(2), ip: '192.0.2.2', success: false },
      { at: at(3), ip: '192.0.2.1', success: true },
    ]);
    expect(await repo.clearFailedAttempts(database.db, name.toUpperCase())).toBe(3);
    expect(await repo.recentAttempts(name, at(-1000))).toEqual([
      { at: at(3), ip: '192.0.2.1', success: true },
    ]);
  });
});
