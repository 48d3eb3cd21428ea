// SQL for users, groups, sessions, API tokens and login attempts. Returns rows or undefined;
// never throws HTTP errors. Every write takes the caller's handle (a service's `Tx`); reads take
// one optionally and otherwise use the repository's base handle (the pool).

import type { Insertable, Selectable, Updateable } from 'kysely';
import { sql } from 'kysely';
import { queryable } from '../../db/queryable.js';
import type {
  ApiTokensTable,
  SessionsTable,
  TokenActivityTable,
  UserGroupsTable,
  UsersTable,
} from '../../db/schema.js';
import type { DbHandle } from '../../db/transactor.js';
import { likePattern, type OrderTerm } from '../../http/pagination.js';

/** Uses of one permission by one token within one hour, as the authenticator counts them. */
export interface ScopeUse {
  tokenId: number;
  permission: string;
  /** Start of the hour, in ms. */
  hour: number;
  count: number;
  lastAt: number;
}

export type UserRow = Selectable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type TokenRow = Selectable<ApiTokensTable>;
export type GroupRow = Selectable<UserGroupsTable>;
/** A row of a token's request log, as the authenticator buffers it. */
export type NewTokenActivity = Insertable<TokenActivityTable>;

export interface UserFilter {
  search?: string;
  role?: string;
  is_active?: boolean;
  api_only?: boolean;
  group_id?: number;
}

export interface TokenFilter {
  ownerId?: number;
  kind?: string;
  search?: string;
  /** Include revoked tokens (hidden by default). */
  includeRevoked?: boolean;
}

export function createIdentityRepo(base: DbHandle) {
  const db = queryable(base);
  const liveUsers = (d: DbHandle) => queryable(d).selectFrom('users').where('deleted_at', 'is', null);

  function userFilter(f: UserFilter) {
    let q = liveUsers(db);
    if (f.search) {
      const p = likePattern(f.search);
      q = q.where((eb) =>
        eb.or([
          eb('username', 'ilike', p),
          eb('email', 'ilike', p),
          eb('first_name', 'ilike', p),
          eb('last_name', 'ilike', p),
        ]),
      );
    }
    if (f.role) q = q.where('role', '=', f.role as UserRow['role']);
    if (f.is_active !== undefined) q = q.where('is_active', '=', f.is_active);
    if (f.api_only !== undefined) q = q.where('api_only', '=', f.api_only);
    if (f.group_id !== undefined) q = q.where('group_id', '=', f.group_id);
    return q;
  }

  return {
    // --- users
    findUserById: (id: number, d: DbHandle = base) =>
      liveUsers(d).selectAll().where('id', '=', id).executeTakeFirst(),
    findUserByUsername: (username: string, d: DbHandle = base) =>
      liveUsers(d).selectAll().where(sql`lower(username)`, '=', username.toLowerCase()).executeTakeFirst(),
    async listUsers(f: UserFilter, order: OrderTerm[], limit: number, offset: number) {
      let q = userFilter(f).selectAll();
      for (const t of order) q = q.orderBy(t.field as keyof UserRow, t.direction);
      return q.orderBy('id', 'asc').limit(limit).offset(offset).execute();
    },
    async countUsers(f: UserFilter) {
      const r = await userFilter(f)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },
    countUsersTotal: async (d: DbHandle = base) => {
      const r = await queryable(d)
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },
    countActiveAdmins: async (d: DbHandle) => {
      const r = await liveUsers(d)
        .where('role', '=', 'admin')
        .where('is_active', '=', true)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },
    insertUser: (d: DbHandle, row: Insertable<UsersTable>) =>
      queryable(d).insertInto('users').values(row).returningAll().executeTakeFirstOrThrow(),
    // An empty patch (a PATCH with no fields) reads the row: `UPDATE ... SET` with nothing to set
    // is a syntax error, which was a 500.
    updateUser: (d: DbHandle, id: number, patch: Updateable<UsersTable>) =>
      Object.keys(patch).length === 0
        ? queryable(d).selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
        : queryable(d).updateTable('users').set(patch).where('id', '=', id).returningAll().executeTakeFirst(),

    /**
     * Held until `trx` ends: managers starting together on one server create the built-in admin
     * one at a time.
     */
    async lockAdminCreation(trx: DbHandle): Promise<void> {
      await sql`select pg_advisory_xact_lock(hashtext('steward.ensure_admin'))`.execute(queryable(trx));
    },

    // --- groups
    listGroups: () => db.selectFrom('user_groups').selectAll().orderBy('name').execute(),
    findGroupById: (id: number, d: DbHandle = base) =>
      queryable(d).selectFrom('user_groups').selectAll().where('id', '=', id).executeTakeFirst(),
    insertGroup: (d: DbHandle, row: Insertable<UserGroupsTable>) =>
      queryable(d).insertInto('user_groups').values(row).returningAll().executeTakeFirstOrThrow(),
    deleteGroup: (d: DbHandle, id: number) =>
      queryable(d).deleteFrom('user_groups').where('id', '=', id).executeTakeFirst(),

    // --- sessions
    findSessionByDigest: (digest: string) =>
      db.selectFrom('sessions').selectAll().where('digest', '=', digest).executeTakeFirst(),
    findSessionById: (id: number) =>
      db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst(),
    insertSession: (d: DbHandle, row: Insertable<SessionsTable>) =>
      queryable(d).insertInto('sessions').values(row).returningAll().executeTakeFirstOrThrow(),
    listLiveSessions: (userId: number | undefined, now: Date) => {
      let q = db
        .selectFrom('sessions')
        .selectAll()
        .where('ended_at', 'is', null)
        .where('expires_at', '>', now);
      if (userId !== undefined) q = q.where('user_id', '=', userId);
      return q.orderBy('id', 'desc').execute();
    },
    endSessions: (
      d: DbHandle,
      where: { userId?: number; id?: number; exceptId?: number },
      reason: string,
      now: Date,
    ) => {
      let q = queryable(d)
        .updateTable('sessions')
        .set({ ended_at: now, end_reason: reason })
        .where('ended_at', 'is', null);
      if (where.userId !== undefined) q = q.where('user_id', '=', where.userId);
      if (where.id !== undefined) q = q.where('id', '=', where.id);
      if (where.exceptId !== undefined) q = q.where('id', '!=', where.exceptId);
      return q.returning(['id', 'digest']).execute();
    },
    touchSession: (id: number, at: Date) =>
      db
        .updateTable('sessions')
        .set({ last_seen_at: at })
        .where('id', '=', id)
        .where('ended_at', 'is', null)
        .execute(),

    // --- tokens
    findTokenById: (id: number, d: DbHandle = base) =>
      queryable(d).selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst(),
    findTokenByDigest: (digest: string) =>
      db
        .selectFrom('api_tokens')
        .selectAll()
        .where((eb) => eb.or([eb('digest', '=', digest), eb('previous_digest', '=', digest)]))
        .executeTakeFirst(),
    async listTokens(f: TokenFilter, order: OrderTerm[], limit: number, offset: number) {
      let q = tokenQuery(f).selectAll();
      for (const t of order) q = q.orderBy(t.field as keyof TokenRow, t.direction);
      return q.orderBy('id', 'asc').limit(limit).offset(offset).execute();
    },
    async countTokens(f: TokenFilter) {
      const r = await tokenQuery(f)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },
    insertToken: (d: DbHandle, row: Insertable<ApiTokensTable>) =>
      queryable(d).insertInto('api_tokens').values(row).returningAll().executeTakeFirstOrThrow(),
    updateToken: (d: DbHandle, id: number, patch: Updateable<ApiTokensTable>) =>
      queryable(d)
        .updateTable('api_tokens')
        .set(patch)
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst(),
    revokeTokensOf: (d: DbHandle, ownerId: number, reason: string, now: Date, kind?: 'api_key') => {
      let q = queryable(d)
        .updateTable('api_tokens')
        .set({ revoked_at: now, revoked_reason: reason, updated_at: now })
        .where('owner_id', '=', ownerId)
        .where('revoked_at', 'is', null);
      if (kind) q = q.where('kind', '=', kind);
      return q.returning(['id', 'digest', 'previous_digest']).execute();
    },
    tokenIdsOf: (d: DbHandle, ownerId: number) =>
      queryable(d)
        .selectFrom('api_tokens')
        .select(['id', 'digest', 'previous_digest'])
        .where('owner_id', '=', ownerId)
        .execute(),
    /** Write-behind of last-use facts, batched by the authenticator. */
    async recordTokenUse(uses: { id: number; at: Date; ip: string; count: number }[]) {
      for (const u of uses) {
        await db
          .updateTable('api_tokens')
          .set((eb) => ({
            last_used_at: u.at,
            last_used_ip: u.ip,
            use_count: eb('use_count', '+', u.count),
          }))
          .where('id', '=', u.id)
          .execute();
      }
    },
    /** Adds per-hour permission counts (token_scope_usage), merging with what is there. */
    async recordScopeUse(rows: ScopeUse[]) {
      if (rows.length === 0) return;
      await db
        .insertInto('token_scope_usage')
        .values(
          rows.map((r) => ({
            token_id: r.tokenId,
            permission: r.permission,
            hour: new Date(r.hour),
            count: r.count,
            last_at: new Date(r.lastAt),
          })),
        )
        .onConflict((oc) =>
          oc.columns(['token_id', 'permission', 'hour']).doUpdateSet((eb) => ({
            count: eb('token_scope_usage.count', '+', eb.ref('excluded.count')),
            last_at: sql<Date>`greatest(token_scope_usage.last_at, excluded.last_at)`,
          })),
        )
        .execute();
    },
    /** Per permission: requests and last use since `since`. */
    scopeUsage: (tokenId: number, since: Date) =>
      db
        .selectFrom('token_scope_usage')
        .select((eb) => [
          'permission',
          eb.fn.sum<number>('count').as('count'),
          eb.fn.max('last_at').as('last_at'),
        ])
        .where('token_id', '=', tokenId)
        .where('hour', '>=', new Date(Math.floor(since.getTime() / 3_600_000) * 3_600_000))
        .where('last_at', '>=', since)
        .groupBy('permission')
        .execute(),
    /** Retention: the request log and the hourly scope counts older than `before`. */
    async deleteRequestLogBefore(before: Date) {
      const rows = await db.deleteFrom('token_activity').where('at', '<', before).executeTakeFirst();
      await db.deleteFrom('token_scope_usage').where('last_at', '<', before).execute();
      return Number(rows.numDeletedRows);
    },
    insertActivity: (rows: NewTokenActivity[]) =>
      rows.length ? db.insertInto('token_activity').values(rows).execute() : Promise.resolve([]),
    listActivity: (tokenId: number, limit: number, offset: number) =>
      db
        .selectFrom('token_activity')
        .selectAll()
        .where('token_id', '=', tokenId)
        .orderBy('id', 'desc')
        .limit(limit)
        .offset(offset)
        .execute(),
    countActivity: async (tokenId: number) => {
      const r = await db
        .selectFrom('token_activity')
        .where('token_id', '=', tokenId)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },

    // --- login attempts
    insertAttempt: (d: DbHandle, username: string, ip: string, success: boolean, at: Date) =>
      queryable(d)
        .insertInto('login_attempts')
        .values({ username: username.toLowerCase(), ip, success, at })
        .execute(),
    /** An account's login attempts since `since`, oldest first (for the lockout rule). */
    recentAttempts(username: string, since: Date) {
      return db
        .selectFrom('login_attempts')
        .select(['at', 'ip', 'success'])
        .where('username', '=', username.toLowerCase())
        .where('at', '>=', since)
        .orderBy('at', 'asc')
        .orderBy('id', 'asc')
        .execute();
    },
    /** Forgets an account's failed logins (an admin's unlock); answers how many. */
    async clearFailedAttempts(d: DbHandle, username: string): Promise<number> {
      const r = await queryable(d)
        .deleteFrom('login_attempts')
        .where('username', '=', username.toLowerCase())
        .where('success', '=', false)
        .executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };

  function tokenQuery(f: TokenFilter) {
    let q = db.selectFrom('api_tokens');
    if (f.ownerId !== undefined) q = q.where('owner_id', '=', f.ownerId);
    if (f.kind) q = q.where('kind', '=', f.kind as TokenRow['kind']);
    if (!f.includeRevoked) q = q.where('revoked_at', 'is', null);
    if (f.search) {
      const p = likePattern(f.search);
      q = q.where((eb) => eb.or([eb('name', 'ilike', p), eb('description', 'ilike', p)]));
    }
    return q;
  }
}

export type IdentityRepo = ReturnType<typeof createIdentityRepo>;
