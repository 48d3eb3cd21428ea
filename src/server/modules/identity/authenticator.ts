// Turns a credential into a Principal on every request. This is the hot path: a known token or
// session is answered from memory, with no database round trip. Every service that changes a
// token, session or user invalidates the cache in the same process before it answers, so a
// revoked, disabled or expired credential is refused on the very next request. Entries also
// age out after CACHE_TTL_MS, which bounds staleness for changes made by another process.
// Last-use facts and per-token activity are written behind, in batches.
//
// One file past ~400 lines on purpose: the caches, the write-behind buffers and the checks share
// one closure, so a cached request is answered by plain function calls on local state; cutting
// them apart would put module boundaries (and their indirection) on the benchmarked path.

import type { Permission } from '../../../contract/permissions.js';
import { ROLE_PERMISSIONS } from '../../../contract/permissions.js';
import { digestSecret, parseSecret, type SecretKind } from '../../../contract/token-codec.js';
import type { Authenticator, Credential, RequestInfo } from '../../http/auth.js';
import { AppError } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import { type Logger, silentLogger } from '../../shared/logger.js';
import type { Principal } from '../../shared/principal.js';
import type {
  IdentityRepo,
  NewTokenActivity,
  ScopeUse,
  SessionRow,
  TokenRow,
  UserRow,
} from './identity.repo.js';
import { ipAllowed } from './ip-allow.js';

/** How long a cached credential is trusted without asking the database again (see docs/operations.md). */
export const CACHE_TTL_MS = 10_000;
const SESSION_TOUCH_MS = 30_000;
/**
 * Activity rows kept per token per flush (one second). A script hammering the API would
 * otherwise write one row per request; beyond this the requests are still counted in
 * use_count, but not listed one by one.
 */
export const ACTIVITY_ROWS_PER_TOKEN_PER_FLUSH = 50;
const HOUR_MS = 3_600_000;

export interface AuthSettings {
  allowTokensInUrl: boolean;
  defaultRateLimitPerMinute: number | null;
  sessionRateLimitPerMinute: number;
}

export interface AuthenticatorDeps {
  repo: IdentityRepo;
  clock: Clock;
  sessionIdleSeconds: number;
  authSettings: () => AuthSettings;
  /** Tells the other replicas what to forget (PostgreSQL NOTIFY); local invalidation is immediate. */
  broadcast?: (what: Invalidation) => void;
  /** Hears of writes behind that failed (a session's idle clock); the identity module passes the server's. */
  log?: Logger;
}

export interface Invalidation {
  tokens?: string[];
  sessions?: string[];
  users?: number[];
  /** Forget everything (after a restore replaced every row). */
  all?: boolean;
}

interface Cached<T> {
  row: T;
  loadedAt: number;
}

interface CachedToken extends Cached<TokenRow> {
  /** The principal last made from this row, and what it was made from. */
  principal?: { value: Principal; user: UserRow; source: Credential['source']; settings: AuthSettings };
}

const invalid = (message: string) => new AppError({ code: 'invalid_token', message });

export function effectivePermissions(
  role: UserRow['role'],
  scopes: readonly string[] | null,
): Set<Permission> {
  const granted = ROLE_PERMISSIONS[role];
  if (scopes === null || scopes.includes('*')) return new Set(granted);
  return new Set(scopes.filter((s): s is Permission => granted.has(s as Permission)));
}

/**
 * A token's status. `suspended`: the token itself is fine but its owner is disabled, so it is
 * refused (pass `ownerActive` where the owner is known).
 */
export function tokenStatus(
  t: TokenRow,
  now: Date,
  ownerActive = true,
): 'active' | 'disabled' | 'expired' | 'revoked' | 'suspended' {
  if (t.revoked_at) return 'revoked';
  if (t.expires_at && t.expires_at <= now) return 'expired';
  if (!t.enabled) return 'disabled';
  if (!ownerActive) return 'suspended';
  return 'active';
}

export function createAuthenticator(deps: AuthenticatorDeps) {
  const { repo, clock } = deps;
  const log = deps.log ?? silentLogger;
  const tokens = new Map<string, CachedToken>();
  const sessions = new Map<string, Cached<SessionRow> & { lastSeen: number; touchedAt: number }>();
  const users = new Map<number, Cached<UserRow>>();
  const uses = new Map<number, { id: number; at: Date; ip: string; count: number }>();
  let activity: NewTokenActivity[] = [];
  let activityCounts = new Map<number, number>();
  // Requests per token, permission and hour, for GET /api/v1/tokens/{id}/usage/: one map
  // update per request, written with the activity.
  let scopeUses = new Map<string, ScopeUse>();
  // The flush in flight (never rejected; the caller of that flush hears its error), and the one
  // waiting behind it, which every later caller shares: a stalled database holds at most two.
  let flushing: Promise<void> = Promise.resolve();
  let waiting: Promise<void> | undefined;

  async function writeBuffered() {
    const batch = [...uses.values()];
    uses.clear();
    const rows = activity;
    activity = [];
    activityCounts = new Map();
    const scoped = [...scopeUses.values()];
    scopeUses = new Map();
    if (batch.length) await repo.recordTokenUse(batch);
    if (rows.length) await repo.insertActivity(rows);
    if (scoped.length) await repo.recordScopeUse(scoped);
  }

  const fresh = (c: { loadedAt: number } | undefined, nowMs = clock.now().getTime()) =>
    c !== undefined && nowMs - c.loadedAt < CACHE_TTL_MS;

  /** A user from the cache, without a promise, or from the database. */
  function loadUser(id: number): UserRow | undefined | Promise<UserRow | undefined> {
    const c = users.get(id);
    if (fresh(c)) return c?.row;
    return fetchUser(id);
  }

  async function fetchUser(id: number): Promise<UserRow | undefined> {
    const row = await repo.findUserById(id);
    if (row) users.set(id, { row, loadedAt: clock.now().getTime() });
    else users.delete(id);
    return row;
  }

  function checkUser(user: UserRow | undefined): UserRow {
    if (!user) throw invalid('the owner of this credential no longer exists');
    if (!user.is_active) throw invalid('the owner of this credential is disabled');
    return user;
  }

  async function authenticateSession(cred: Credential, digest: string): Promise<Principal> {
    const now = clock.now();
    let c = sessions.get(digest);
    if (!fresh(c)) {
      const row = await repo.findSessionByDigest(digest);
      if (!row) throw invalid('session is unknown or has ended; log in again');
      const lastSeen = Math.max(row.last_seen_at.getTime(), c?.lastSeen ?? 0);
      c = { row, loadedAt: now.getTime(), lastSeen, touchedAt: c?.touchedAt ?? row.last_seen_at.getTime() };
      sessions.set(digest, c);
    }
    const s = (c as NonNullable<typeof c>).row;
    if (s.ended_at) throw invalid('session has ended; log in again');
    if (s.expires_at <= now) throw invalid('session has reached its maximum lifetime; log in again');
    const entry = c as NonNullable<typeof c>;
    if (now.getTime() - entry.lastSeen > deps.sessionIdleSeconds * 1000) {
      throw invalid('session has expired after inactivity; log in again');
    }
    const user = checkUser(await loadUser(s.user_id));
    entry.lastSeen = now.getTime();
    if (now.getTime() - entry.touchedAt > SESSION_TOUCH_MS) {
      entry.touchedAt = now.getTime();
      // Persist the idle clock now and then, not on every request.
      void repo
        .touchSession(s.id, now)
        .catch((err: unknown) =>
          log.warn(
            { err, sessionId: s.id },
            "could not store a session's last use; its idle clock is behind",
          ),
        );
    }
    return {
      userId: user.id,
      username: user.username,
      role: user.role,
      permissions: effectivePermissions(user.role, null),
      method: 'session',
      credentialSource: cred.source,
      sessionId: s.id,
      groupId: user.group_id,
      passwordLoginAt: s.created_at,
      rateLimitPerMinute: deps.authSettings().sessionRateLimitPerMinute,
    };
  }

  /**
   * The hot path: a token found in the cache with its owner answers synchronously, with the
   * principal made when the token was loaded; only a cache miss (or a `requires_login` token,
   * which asks for its owner's live sessions) waits for the database.
   */
  function authenticateToken(
    cred: Credential,
    digest: string,
    info: RequestInfo,
  ): Principal | Promise<Principal> {
    const now = clock.now();
    const c = tokens.get(digest);
    if (c !== undefined && fresh(c, now.getTime())) return checkToken(cred, digest, c, info, now);
    return repo.findTokenByDigest(digest).then((row) => {
      if (!row) throw invalid('token is not known (never issued, or deleted)');
      const entry: CachedToken = { row, loadedAt: now.getTime() };
      tokens.set(digest, entry);
      return checkToken(cred, digest, entry, info, now);
    });
  }

  function checkToken(
    cred: Credential,
    digest: string,
    c: CachedToken,
    info: RequestInfo,
    now: Date,
  ): Principal | Promise<Principal> {
    const t = c.row;
    if (t.previous_digest === digest && !(t.previous_expires_at && t.previous_expires_at > now)) {
      throw invalid('token was replaced by a refresh and its grace period is over');
    }
    const status = tokenStatus(t, now);
    if (status === 'revoked') throw invalid('token has been revoked');
    if (status === 'expired') throw invalid('token has expired');
    if (status === 'disabled') throw invalid('token is disabled');
    if (cred.source === 'query') {
      if (!t.allow_in_url)
        throw invalid('this token may not be sent in the URL; use the Authorization header');
      if (!deps.authSettings().allowTokensInUrl)
        throw invalid('tokens in the URL are turned off on this manager');
    }
    if (!ipAllowed(info.ip, t.allowed_ips)) throw invalid(`token is not allowed from ${info.ip}`);
    const replaced = t.previous_digest === digest;
    const u = users.get(t.owner_id);
    if (u !== undefined && fresh(u, now.getTime())) return finishToken(cred, c, u.row, info, now, replaced);
    return fetchUser(t.owner_id).then((user) => finishToken(cred, c, user, info, now, replaced));
  }

  function finishToken(
    cred: Credential,
    c: CachedToken,
    user: UserRow | undefined,
    info: RequestInfo,
    now: Date,
    replaced: boolean,
  ): Principal | Promise<Principal> {
    if (!user) throw invalid('the owner of this token no longer exists');
    if (!user.is_active) throw invalid('token is suspended because its owner is disabled');
    if (!c.row.requires_login) return tokenUsed(cred, c, user, info, now, replaced);
    return repo.listLiveSessions(user.id, now).then((live) => {
      const idleCutoff = now.getTime() - deps.sessionIdleSeconds * 1000;
      if (!live.some((s) => Math.max(s.last_seen_at.getTime(), sessionLastSeen(s.digest)) > idleCutoff)) {
        throw invalid('token requires its owner to be logged in, and the owner has no live session');
      }
      return tokenUsed(cred, c, user, info, now, replaced);
    });
  }

  /** Counts the use (written behind) and answers the token's principal. */
  function tokenUsed(
    cred: Credential,
    c: CachedToken,
    user: UserRow,
    info: RequestInfo,
    now: Date,
    replaced: boolean,
  ): Principal {
    const t = c.row;
    const use = uses.get(t.id);
    if (use === undefined) uses.set(t.id, { id: t.id, at: now, ip: info.ip, count: 1 });
    else {
      use.at = now;
      use.ip = info.ip;
      use.count++;
    }
    // The principal depends on the token row, its owner's row, where the credential came from
    // and the settings: while all four are the same objects, the one made before still holds.
    const settings = deps.authSettings();
    const made = c.principal;
    if (made && made.user === user && made.source === cred.source && made.settings === settings) {
      return made.value;
    }
    const value: Principal = {
      userId: user.id,
      username: user.username,
      role: user.role,
      permissions: effectivePermissions(user.role, t.scopes),
      method: t.kind === 'api_key' ? 'api_key' : 'api_token',
      credentialSource: cred.source,
      tokenId: t.id,
      // A token acts only in its owner's group: one set for a group the owner has since left
      // acts in none.
      groupId: t.group_id !== null && t.group_id !== user.group_id ? null : user.group_id,
      defaultTags: t.default_tags,
      defaultProfile: t.default_profile,
      rateLimitPerMinute: t.rate_limit_per_minute ?? settings.defaultRateLimitPerMinute,
      expiresAt: t.expires_at,
      replacedSecret: replaced,
    };
    c.principal = { value, user, source: cred.source, settings };
    return value;
  }

  function sessionLastSeen(digest: string): number {
    return sessions.get(digest)?.lastSeen ?? 0;
  }

  const authenticator: Authenticator = {
    authenticate(cred, info) {
      const digest = digestSecret(cred.value);
      // A secret found in the cache was checked when it was loaded (its digest is that of a
      // well-formed token): only an unknown one is parsed, which refuses typos without a lookup.
      const cachedToken = tokens.get(digest);
      const kind: SecretKind | undefined = cachedToken
        ? cachedToken.row.kind
        : sessions.has(digest)
          ? 'session'
          : undefined;
      return authenticateKind(cred, digest, kind ?? parsedKind(cred.value), info);
    },
  };

  function parsedKind(value: string): SecretKind {
    const parsed = parseSecret(value);
    if (!parsed.ok) throw invalid(parsed.reason);
    return parsed.kind;
  }

  function authenticateKind(
    cred: Credential,
    digest: string,
    kind: SecretKind,
    info: RequestInfo,
  ): Principal | Promise<Principal> {
    if (kind === 'session') {
      if (cred.source === 'api_key_header' || cred.source === 'x_token_id' || cred.source === 'query') {
        throw invalid('a session token goes in Authorization or x-auth-token, not in this header');
      }
      return authenticateSession(cred, digest);
    }
    if (kind === 'appliance') throw invalid('appliance tokens are for appliances, not for the manager API');
    if (cred.source === 'x_auth_token' || cred.source === 'cookie') {
      throw invalid('x-auth-token carries session tokens; send API tokens as Authorization: Token <token>');
    }
    return authenticateToken(cred, digest, info);
  }

  function forget(what: Invalidation) {
    if (what.all) {
      tokens.clear();
      sessions.clear();
      users.clear();
      return;
    }
    for (const d of what.tokens ?? []) tokens.delete(d);
    for (const d of what.sessions ?? []) sessions.delete(d);
    for (const id of what.users ?? []) users.delete(id);
  }

  return {
    authenticator,
    /** The user behind a principal, from the same cache authentication just used. */
    userOf: loadUser,
    /** Forget everything cached about a token (by any of its digests), here and on other replicas. */
    invalidateToken(...digests: (string | null | undefined)[]) {
      const list = digests.filter((d): d is string => Boolean(d));
      forget({ tokens: list });
      deps.broadcast?.({ tokens: list });
    },
    invalidateSession(...digests: string[]) {
      forget({ sessions: digests });
      deps.broadcast?.({ sessions: digests });
    },
    invalidateUser(userId: number) {
      forget({ users: [userId] });
      deps.broadcast?.({ users: [userId] });
    },
    /** An invalidation from another replica. */
    applyRemote: forget,
    /** After a lost connection to the bus: anything cached here may be stale. */
    clearAll() {
      forget({ all: true });
    },
    /** Forget everything here and on every other replica. */
    forgetEverywhere() {
      forget({ all: true });
      deps.broadcast?.({ all: true });
    },
    /** The in-memory idle clock of a session (newer than the database's between touches). */
    sessionLastSeen,
    /** A request made with a token; its row is made only while the token is under the cap. */
    recordActivity(tokenId: number, row: () => NewTokenActivity) {
      const n = (activityCounts.get(tokenId) ?? 0) + 1;
      activityCounts.set(tokenId, n);
      if (n > ACTIVITY_ROWS_PER_TOKEN_PER_FLUSH) return;
      activity.push(row());
      if (activity.length > 10_000) activity = activity.slice(-5_000);
    },
    /**
     * A request made with a token under a route that requires `permission`: counted (never
     * capped) per hour for the usage report.
     */
    recordScopeUse(tokenId: number, permission: string, at: Date) {
      const hour = Math.floor(at.getTime() / HOUR_MS) * HOUR_MS;
      const key = `${tokenId} ${permission} ${hour}`;
      const u = scopeUses.get(key);
      if (u === undefined) scopeUses.set(key, { tokenId, permission, hour, count: 1, lastAt: at.getTime() });
      else {
        u.count++;
        if (at.getTime() > u.lastAt) u.lastAt = at.getTime();
      }
    },
    /**
     * Writes buffered last-use facts, activity rows and per-permission counts. Flushes run one
     * after another: a reader that flushes first (the activity and usage routes) also waits for
     * a timer's flush still writing, so it sees every request answered before it.
     */
    flush() {
      if (waiting) return waiting;
      const next = flushing.then(() => {
        waiting = undefined;
        return writeBuffered();
      });
      waiting = next;
      flushing = next.catch(() => {}); // not dropped: `next` carries the failure to this flush's caller
      return next;
    },
  };
}

export type AuthenticatorService = ReturnType<typeof createAuthenticator>;
