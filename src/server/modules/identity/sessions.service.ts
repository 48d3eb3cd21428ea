// Password logins and the sessions they open. Brute force is bounded per account and source,
// then per account (lockout.ts, documented in docs/authentication.md), and per IP (the rate
// limiter on public routes). Unknown users and wrong passwords get the same answer after the
// same work (a hash is always verified, and unknown names are counted and locked alike), so the
// answer does not tell which it was.

import { issueSecret } from '../../../contract/token-codec.js';
import type { Transactor, Tx } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { AppError, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { Principal } from '../../shared/principal.js';
import type { AuditService } from '../audit/audit.service.js';
import type { AuthenticatorService } from './authenticator.js';
import type { IdentityRepo, SessionRow, UserRow } from './identity.repo.js';
import { LOCKOUT_LOOKBACK_MS, lockState, loginSource } from './lockout.js';
import { dummyPasswordHash, verifyPassword } from './passwords.js';

export {
  LOCKOUT_ACCOUNT_FAILURES,
  LOCKOUT_DURATION_MS,
  LOCKOUT_SOURCE_FAILURES,
  LOCKOUT_WINDOW_MS,
  lockedUntil,
} from './lockout.js';

/**
 * Directory logins (the system module's LDAP search-then-bind). `undefined`: directory logins are
 * off. The password is only handed to the directory, never stored.
 */
export interface DirectoryAuthenticator {
  authenticate(
    username: string,
    password: string,
  ): Promise<
    | {
        ok: true;
        user: {
          dn: string;
          email: string;
          first_name: string;
          last_name: string;
          role: 'admin' | 'operator' | 'viewer';
          directory_type: number;
        };
      }
    | { ok: false; reason: string }
    | undefined
  >;
}

export interface SessionsServiceDeps {
  directory?: DirectoryAuthenticator;
  tx: Transactor;
  repo: IdentityRepo;
  audit: AuditService;
  clock: Clock;
  auth: AuthenticatorService;
  sessionIdleSeconds: number;
  sessionMaxSeconds: number;
}

const BAD_CREDENTIALS = 'username or password is incorrect';

/** The address a login comes from: logins come over HTTP, whose actors always have one. */
function sourceAddress(actor: Actor): string {
  if (actor.ip === null) throw new Error(`a login needs the address it comes from (actor: ${actor.kind})`);
  return actor.ip;
}

export function sessionOut(s: SessionRow, current: number | undefined, lastSeen: number) {
  return {
    id: s.id,
    user_id: s.user_id,
    created_at: s.created_at.toISOString(),
    last_seen_at: new Date(Math.max(s.last_seen_at.getTime(), lastSeen)).toISOString(),
    expires_at: s.expires_at.toISOString(),
    ip: s.ip,
    user_agent: s.user_agent,
    current: s.id === current,
  };
}

export function createSessionsService(deps: SessionsServiceDeps) {
  const { repo, audit, clock, auth } = deps;

  /**
   * Users that are not local (unknown here, or created by an earlier directory login) are checked
   * against the directory when it is on; a local user with the same name always wins.
   */
  async function directoryLogin(username: string, password: string, user: UserRow | undefined) {
    if (!deps.directory || (user && user.directory_type === 0)) return undefined;
    return deps.directory.authenticate(username, password);
  }

  /** Creates or updates the local record of a directory user (no password), audited. */
  async function syncDirectoryUser(
    trx: Tx,
    actor: Actor,
    username: string,
    d: NonNullable<Extract<Awaited<ReturnType<typeof directoryLogin>>, { ok: true }>>['user'],
    existing: UserRow | undefined,
  ): Promise<UserRow> {
    const fields = {
      email: d.email,
      first_name: d.first_name,
      last_name: d.last_name,
      role: d.role,
      directory_name: d.dn,
      directory_type: d.directory_type,
    };
    const as = { username: username.slice(0, 150), authMethod: 'ldap' };
    if (!existing) {
      const row = await repo.insertUser(trx, { username: username.trim(), password_hash: null, ...fields });
      await audit.record(
        trx,
        actor,
        {
          action: 'user.created',
          status: 200,
          targetType: 'user',
          targetId: row.id,
          summary: `created ${row.username} (${row.role}) on first directory login`,
          details: { directory_name: d.dn, role: d.role },
        },
        { ...as, userId: row.id },
      );
      return row;
    }
    const changed = (Object.keys(fields) as (keyof typeof fields)[]).filter((k) => existing[k] !== fields[k]);
    if (changed.length === 0) return existing;
    const row = (await repo.updateUser(trx, existing.id, fields)) ?? existing;
    await audit.record(
      trx,
      actor,
      {
        action: 'user.updated',
        status: 200,
        targetType: 'user',
        targetId: row.id,
        summary: `updated ${row.username} from the directory (${changed.join(', ')})`,
        details: { fields: changed, role: row.role },
      },
      { ...as, userId: row.id },
    );
    return row;
  }

  async function refuse(
    actor: Actor,
    username: string,
    action: string,
    reason: string,
    extra: Record<string, unknown> = {},
    status = action === 'auth.login_locked' ? 423 : 401,
  ) {
    await deps.tx.transaction(async (trx) => {
      if (action === 'auth.login_failed')
        await repo.insertAttempt(trx, username, sourceAddress(actor), false, clock.now());
      await audit.record(
        trx,
        actor,
        {
          action,
          outcome: 'denied',
          status,
          summary: reason,
          details: { reason, ...extra },
        },
        { username: username.slice(0, 150) },
      );
    });
  }

  return {
    async login(actor: Actor, username: string, password: string) {
      const now = clock.now();
      const ip = sourceAddress(actor);
      const source = loginSource(ip);
      const attempts = await repo.recentAttempts(username, new Date(now.getTime() - LOCKOUT_LOOKBACK_MS));
      const lock = lockState(attempts, source, now);
      if (lock.locked) {
        const retry = Math.ceil((lock.until - now.getTime()) / 1000);
        const where = lock.scope === 'source' ? 'from your address' : 'from many addresses';
        await refuse(
          actor,
          username,
          'auth.login_locked',
          `login refused: account locked after failed logins ${where}`,
          { lock_scope: lock.scope, source },
        );
        throw new AppError({
          code: 'locked',
          message: `too many failed logins for this account ${where}; logins are refused for ${Math.ceil(retry / 60)} more minute(s)`,
          headers: { 'retry-after': String(retry) },
        });
      }
      const user = await repo.findUserByUsername(username);
      const dir = await directoryLogin(username, password, user);
      if (dir && !dir.ok) {
        await refuse(actor, username, 'auth.login_failed', `${BAD_CREDENTIALS} (directory: ${dir.reason})`);
        throw new AppError({ code: 'unauthenticated', message: BAD_CREDENTIALS });
      }
      if (!dir) {
        // Always verify against some hash, so unknown users cost the same time as known ones.
        const ok = await verifyPassword(user?.password_hash ?? (await dummyPasswordHash()), password);
        if (!user?.password_hash || !ok) {
          await refuse(actor, username, 'auth.login_failed', BAD_CREDENTIALS);
          throw new AppError({ code: 'unauthenticated', message: BAD_CREDENTIALS });
        }
      }
      if (user && !user.is_active) {
        await refuse(actor, username, 'auth.login_refused', 'account is disabled');
        throw new AppError({
          code: 'unauthenticated',
          message: 'this account is disabled; ask an administrator',
        });
      }
      if (user?.api_only) {
        await refuse(actor, username, 'auth.login_refused', 'API-only user tried to log in', {}, 403);
        throw new AppError({
          code: 'forbidden',
          message: 'this is an API-only account: it cannot log in with a password; use an API token',
        });
      }
      const secret = issueSecret('session');
      const expires = new Date(now.getTime() + deps.sessionMaxSeconds * 1000);
      const { s: session, u } = await deps.tx.transaction(async (trx) => {
        const u = dir?.ok ? await syncDirectoryUser(trx, actor, username, dir.user, user) : user;
        if (!u) throw new Error('no user after a successful login');
        await repo.insertAttempt(trx, username, ip, true, now);
        await repo.updateUser(trx, u.id, { last_login: now });
        const s = await repo.insertSession(trx, {
          user_id: u.id,
          digest: secret.digest,
          prefix: secret.prefix,
          created_at: now,
          last_seen_at: now,
          expires_at: expires,
          ip,
          // The actor's user agent is cut at 300 characters already; an empty one is none.
          user_agent: actor.userAgent || null,
        });
        await audit.record(
          trx,
          actor,
          {
            action: 'auth.login',
            status: 200,
            targetType: 'session',
            targetId: s.id,
            summary: `logged in from ${ip}`,
          },
          { userId: u.id, username: u.username, authMethod: dir?.ok ? 'ldap' : 'password' },
        );
        return { s, u };
      });
      auth.invalidateUser(u.id);
      return {
        token: secret.token,
        session_id: secret.token,
        expires_at: session.expires_at.toISOString(),
        idle_timeout_seconds: deps.sessionIdleSeconds,
        user_id: u.id,
      };
    },

    /**
     * An admin's unlock: forgets the account's failed logins, so neither the per-source nor the
     * account-wide lock holds any more (the audit log keeps the failures). Audited.
     */
    async unlock(actor: Actor, userId: number): Promise<{ detail: string; cleared_failures: number }> {
      const user = await repo.findUserById(userId);
      if (!user) throw notFound(`user ${userId}`);
      const cleared = await deps.tx.transaction(async (trx) => {
        const n = await repo.clearFailedAttempts(trx, user.username);
        await audit.record(trx, actor, {
          action: 'user.unlocked',
          targetType: 'user',
          targetId: user.id,
          status: 200,
          summary: `unlocked the logins of "${user.username}" (${n} failed login(s) forgotten)`,
          details: { cleared_failures: n },
        });
        return n;
      });
      return { detail: `logins of "${user.username}" unlocked`, cleared_failures: cleared };
    },

    async logout(actor: Actor, principal: Principal) {
      if (principal.sessionId === undefined) {
        throw new AppError({
          code: 'bad_request',
          message:
            'logout ends a login session; this request used an API token (revoke it under /api/v1/tokens/ instead)',
        });
      }
      await this.end(actor, principal, principal.sessionId, 'logout');
    },

    list(principal: Principal, userId: number | undefined) {
      const all = principal.permissions.has('users:write');
      const target = all ? userId : principal.userId;
      return repo
        .listLiveSessions(target, clock.now())
        .then((rows) => rows.map((s) => sessionOut(s, principal.sessionId, auth.sessionLastSeen(s.digest))));
    },

    /** Ends one session: your own, or anyone's with users:write. */
    async end(actor: Actor, principal: Principal, id: number, reason = 'ended') {
      const s = await repo.findSessionById(id);
      const mayEndOthers = principal.permissions.has('users:write');
      if (!s || s.ended_at || (s.user_id !== principal.userId && !mayEndOthers))
        throw notFound(`session ${id}`);
      await deps.tx.transaction(async (trx) => {
        await repo.endSessions(trx, { id }, reason, clock.now());
        await audit.record(trx, actor, {
          action: reason === 'logout' ? 'auth.logout' : 'session.ended',
          targetType: 'session',
          targetId: id,
          status: reason === 'logout' ? 200 : 204,
          summary: reason === 'logout' ? 'logged out' : `ended session ${id} of user ${s.user_id}`,
        });
      });
      auth.invalidateSession(s.digest);
    },
  };
}

export type SessionsService = ReturnType<typeof createSessionsService>;
