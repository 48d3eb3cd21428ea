// API tokens: named, scoped, expiring, rotatable credentials for scripts. The secret is shown
// once (at creation and at refresh) and stored only as a SHA-256 digest. Rotation keeps the
// previous secret alive for a chosen grace period, so a script can switch without downtime.

import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Permission } from '../../../contract/permissions.js';
import { isPermission, ROLE_PERMISSIONS } from '../../../contract/permissions.js';
import { issueSecret } from '../../../contract/token-codec.js';
import type { Database, TokenRestrictions } from '../../db/schema.js';
import { actorOf } from '../../http/actor.js';
import { AppError, badField, conflict, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { Principal } from '../../shared/principal.js';
import type { AuditService } from '../audit/audit.service.js';
import type { SettingsStore } from '../settings/settings.store.js';
import type { AuthenticatorService } from './authenticator.js';
import {
  assertCurrentSecret,
  assertRestrictionsHold,
  assertWithinCaller,
  lifetimeBound,
  looserThan,
  RESTRICTABLE,
  type RestrictableField,
} from './credential-policy.js';
import type { IdentityRepo, TokenFilter, TokenRow, UserRow } from './identity.repo.js';
import { parseCidr } from './ip-allow.js';
import { tokenOut, type UserNames } from './token-output.js';
import { restrictable, restrictionsAfter } from './token-restrictions.js';

export { tokenOut } from './token-output.js';

export const TOKEN_SETTINGS_KEY = 'api_tokens';

export interface TokenSettings {
  user_defined_tokens: boolean;
  max_lifetime_days: number | null;
  default_lifetime_days: number | null;
  default_rate_limit_per_minute: number | null;
  allow_tokens_in_url: boolean;
}

export const DEFAULT_TOKEN_SETTINGS: TokenSettings = {
  user_defined_tokens: false,
  max_lifetime_days: null,
  default_lifetime_days: 90,
  default_rate_limit_per_minute: 600,
  allow_tokens_in_url: false,
};

/** Scopes `["*"]` mean "everything the owner's role allows" (API keys). */
export const ALL_SCOPES = '*';
const DAY_MS = 86_400_000;

export interface TokenInput {
  name?: string;
  description?: string;
  owner_id?: number;
  group_id?: number | null;
  scopes?: string[];
  enabled?: boolean;
  expires_at?: string | null;
  requires_login?: boolean;
  allow_in_url?: boolean;
  allowed_ips?: string[];
  rate_limit_per_minute?: number | null;
  default_tags?: string[];
  default_profile?: string | null;
}

export interface TokensServiceDeps {
  db: Kysely<Database>;
  repo: IdentityRepo;
  audit: AuditService;
  clock: Clock;
  auth: AuthenticatorService;
  settings: SettingsStore;
  tokenSettings: () => TokenSettings;
}

export function createTokensService(deps: TokensServiceDeps) {
  const { db, repo, audit, clock, auth } = deps;
  const isAdmin = (p: Principal) => p.permissions.has('users:write');

  function assertMayManage(p: Principal) {
    if (!isAdmin(p) && !deps.tokenSettings().user_defined_tokens) {
      throw new AppError({
        code: 'forbidden',
        message: 'user-defined tokens are turned off on this manager: only admins create and change tokens',
      });
    }
  }

  /** A token the principal may see: its own, or any for admins. Others' are "not found". */
  async function visible(p: Principal, id: number): Promise<TokenRow> {
    const t = await repo.findTokenById(id);
    if (!t || (t.owner_id !== p.userId && !isAdmin(p))) throw notFound(`token ${id}`);
    return t;
  }

  function validateScopes(
    scopes: string[],
    ownerRole: keyof typeof ROLE_PERMISSIONS,
    creator: Principal,
  ): string[] {
    const unique = [...new Set(scopes)];
    const unknown = unique.filter((s) => !isPermission(s));
    if (unknown.length) throw badField('body.scopes', `unknown permission(s): ${unknown.join(', ')}`);
    const beyondRole = unique.filter((s) => !ROLE_PERMISSIONS[ownerRole].has(s as Permission));
    if (beyondRole.length) {
      throw badField(
        'body.scopes',
        `the owner's role (${ownerRole}) does not have: ${beyondRole.join(', ')}`,
      );
    }
    const beyondCreator = unique.filter((s) => !creator.permissions.has(s as Permission));
    if (beyondCreator.length) {
      throw badField(
        'body.scopes',
        `you cannot grant permissions you do not have: ${beyondCreator.join(', ')}`,
      );
    }
    if (unique.length === 0) throw badField('body.scopes', 'must name at least one permission');
    return unique;
  }

  function validateIps(ips: string[]): string[] {
    const bad = ips.filter((e) => !parseCidr(e));
    if (bad.length) throw badField('body.allowed_ips', `not an IP address or CIDR block: ${bad.join(', ')}`);
    return ips.map((e) => e.trim());
  }

  /**
   * The expiry a create or change asks for. Without one, the default lifetime, but never past
   * what the caller may give (`bound`: the caller's own expiry or the cap).
   */
  function resolveExpiry(
    given: string | null | undefined,
    settings: TokenSettings,
    now: Date,
    bound: Date | null = null,
  ): Date | null {
    const cap =
      settings.max_lifetime_days === null ? null : now.getTime() + settings.max_lifetime_days * DAY_MS;
    let at: Date | null;
    if (given === undefined) {
      at =
        settings.default_lifetime_days === null
          ? null
          : new Date(now.getTime() + settings.default_lifetime_days * DAY_MS);
      if (bound !== null && (at === null || at > bound)) at = bound;
    } else if (given === null) {
      at = null;
    } else {
      at = new Date(given);
      if (at.getTime() <= now.getTime()) throw badField('body.expires_at', 'must be in the future');
    }
    if (cap !== null) {
      if (at === null)
        throw badField(
          'body.expires_at',
          `is required: tokens may live at most ${settings.max_lifetime_days} days`,
        );
      if (at.getTime() > cap)
        throw badField(
          'body.expires_at',
          `is beyond the maximum lifetime of ${settings.max_lifetime_days} days`,
        );
    }
    return at;
  }

  /** Owners and restricting admins of some tokens, looked up once each. */
  async function namesFor(rows: TokenRow[]): Promise<UserNames> {
    const ids = new Set<number>();
    for (const r of rows) {
      ids.add(r.owner_id);
      for (const e of Object.values(r.restrictions ?? {})) if (e) ids.add(e.set_by);
    }
    const found = new Map<number, UserRow>();
    for (const id of ids) {
      const u = await repo.findUserById(id);
      if (u) found.set(id, u);
    }
    return (id) => found.get(id);
  }

  async function out(row: TokenRow, now: Date) {
    return tokenOut(row, now, await namesFor([row]));
  }

  async function adminNames(r: TokenRestrictions) {
    const names = new Map<number, string>();
    for (const e of Object.values(r)) {
      if (e && !names.has(e.set_by))
        names.set(e.set_by, (await repo.findUserById(e.set_by))?.username ?? `#${e.set_by}`);
    }
    return (id: number) => names.get(id) ?? `#${id}`;
  }

  return {
    async list(
      p: Principal,
      f: TokenFilter & { owner_id?: number },
      order: Parameters<IdentityRepo['listTokens']>[1],
      limit: number,
      offset: number,
    ) {
      const filter: TokenFilter = { ...f, ownerId: isAdmin(p) ? f.owner_id : p.userId };
      const [rows, count] = await Promise.all([
        repo.listTokens(filter, order, limit, offset),
        repo.countTokens(filter),
      ]);
      const now = clock.now();
      const names = await namesFor(rows);
      return { count, results: rows.map((r) => tokenOut(r, now, names)) };
    },

    async get(p: Principal, id: number) {
      const t = await visible(p, id);
      return out(t, clock.now());
    },

    async create(
      request: FastifyRequest,
      p: Principal,
      input: TokenInput & { name: string },
      kind: 'api_token' | 'api_key' = 'api_token',
    ) {
      assertMayManage(p);
      assertCurrentSecret(p);
      const ownerId = input.owner_id ?? p.userId;
      if (ownerId !== p.userId && !isAdmin(p)) {
        throw new AppError({ code: 'forbidden', message: 'only admins create tokens for other users' });
      }
      const owner = await repo.findUserById(ownerId);
      if (!owner) throw badField('body.owner_id', `no user with id ${ownerId}`);
      const settings = deps.tokenSettings();
      const now = clock.now();
      const scopes =
        kind === 'api_key'
          ? [ALL_SCOPES]
          : validateScopes(
              input.scopes ??
                [...ROLE_PERMISSIONS[owner.role]].filter((s) => s.endsWith(':read') && p.permissions.has(s)),
              owner.role,
              p,
            );
      if (input.allow_in_url && !settings.allow_tokens_in_url) {
        throw badField(
          'body.allow_in_url',
          'tokens in the URL are turned off (config/api_tokens allow_tokens_in_url)',
        );
      }
      if (
        input.group_id !== undefined &&
        input.group_id !== null &&
        !(await repo.findGroupById(input.group_id))
      ) {
        throw badField('body.group_id', `no group with id ${input.group_id}`);
      }
      const policy = { now, maxLifetimeDays: settings.max_lifetime_days };
      const expires = resolveExpiry(input.expires_at, settings, now, lifetimeBound(p, policy));
      const groupId = input.group_id === undefined ? owner.group_id : input.group_id;
      // The one rule for every credential: nothing beyond the caller's permissions, the owner's
      // group, or the caller's remaining lifetime.
      assertWithinCaller(
        p,
        {
          ownerId,
          ownerRole: owner.role,
          ownerGroupId: owner.group_id,
          scopes,
          groupId,
          expiresAt: expires,
        },
        policy,
      );
      const allowedIps = validateIps(input.allowed_ips ?? []);
      const enabled = input.enabled ?? true;
      const rateLimit = input.rate_limit_per_minute ?? null;
      const restrictions = restrictionsAfter(
        {},
        p,
        isAdmin(p),
        ownerId,
        [...RESTRICTABLE],
        { enabled, scopes, expires_at: expires, allowed_ips: allowedIps, rate_limit_per_minute: rateLimit },
        now,
      );
      const secret = issueSecret(kind);
      if (kind === 'api_token') {
        // The unique index catches a race between this check and the insert (409 as well).
        const existing = await repo.listTokens({ ownerId, search: input.name.trim() }, [], 100, 0);
        if (existing.some((t) => t.name.toLowerCase() === input.name.trim().toLowerCase())) {
          throw conflict(`${owner.username} already has a token named "${input.name.trim()}"`);
        }
      }
      const { row, revoked } = await db.transaction().execute(async (trx) => {
        const revoked =
          kind === 'api_key'
            ? await repo.revokeTokensOf(trx, ownerId, 'replaced by a new API key', now, 'api_key')
            : [];
        const row = await repo.insertToken(trx, {
          kind,
          name: input.name.trim(),
          description: input.description ?? '',
          owner_id: ownerId,
          group_id: groupId,
          created_by: p.userId,
          scopes: JSON.stringify(scopes),
          enabled,
          expires_at: expires,
          requires_login: input.requires_login ?? false,
          allow_in_url: input.allow_in_url ?? false,
          allowed_ips: JSON.stringify(allowedIps),
          rate_limit_per_minute: rateLimit,
          default_tags: JSON.stringify(input.default_tags ?? []),
          default_profile: input.default_profile ?? null,
          prefix: secret.prefix,
          last4: secret.last4,
          digest: secret.digest,
          created_at: now,
          updated_at: now,
          restrictions: JSON.stringify(restrictions),
        });
        await audit.record(trx, actorOf(request), {
          action: kind === 'api_key' ? 'api_key.generated' : 'token.created',
          targetType: 'token',
          targetId: row.id,
          status: 201,
          summary:
            `${kind === 'api_key' ? 'generated API key' : `created token "${row.name}"`} for ${owner.username}` +
            (revoked.length ? `; deactivated previous API key ${revoked.map((r) => r.id).join(', ')}` : ''),
          details: { scopes, expires_at: expires?.toISOString() ?? null, group_id: groupId },
        });
        return { row, revoked };
      });
      for (const r of revoked) auth.invalidateToken(r.digest, r.previous_digest);
      return { ...(await out(row, now)), token: secret.token };
    },

    async update(
      request: FastifyRequest,
      p: Principal,
      id: number,
      input: TokenInput,
      /** Audit the change as this action (narrow), with these details. */
      as?: { action: string; summary: string; details: Record<string, unknown> },
    ) {
      assertMayManage(p);
      const t = await visible(p, id);
      if (t.revoked_at) throw conflict('a revoked token cannot be changed');
      const owner = await repo.findUserById(t.owner_id);
      if (!owner) throw notFound(`token ${id}`);
      const settings = deps.tokenSettings();
      const now = clock.now();
      const patch: Record<string, unknown> = { updated_at: now };
      const after = { ...t };
      if (input.name !== undefined) patch.name = input.name.trim();
      if (input.description !== undefined) patch.description = input.description;
      if (input.enabled !== undefined) after.enabled = input.enabled;
      if (input.scopes !== undefined) {
        if (t.kind === 'api_key') throw badField('body.scopes', "an API key carries its owner's permissions");
        after.scopes = validateScopes(input.scopes, owner.role, p);
      }
      if (input.expires_at !== undefined) after.expires_at = resolveExpiry(input.expires_at, settings, now);
      if (input.requires_login !== undefined) after.requires_login = input.requires_login;
      if (input.allow_in_url !== undefined) {
        if (input.allow_in_url && !settings.allow_tokens_in_url) {
          throw badField(
            'body.allow_in_url',
            'tokens in the URL are turned off (config/api_tokens allow_tokens_in_url)',
          );
        }
        after.allow_in_url = input.allow_in_url;
      }
      if (input.allowed_ips !== undefined) after.allowed_ips = validateIps(input.allowed_ips);
      if (input.rate_limit_per_minute !== undefined)
        after.rate_limit_per_minute = input.rate_limit_per_minute;
      if (input.default_tags !== undefined) patch.default_tags = JSON.stringify(input.default_tags);
      if (input.default_profile !== undefined) patch.default_profile = input.default_profile;
      if (input.group_id !== undefined) {
        if (input.group_id !== null && !(await repo.findGroupById(input.group_id))) {
          throw badField('body.group_id', `no group with id ${input.group_id}`);
        }
        after.group_id = input.group_id;
      }
      if (input.owner_id !== undefined && input.owner_id !== t.owner_id) {
        throw badField('body.owner_id', 'a token cannot change owner; create a new one');
      }
      const given = RESTRICTABLE.filter((f) => input[f] !== undefined);
      const before = restrictable(t);
      const next = restrictable(after);
      // What an admin set, only an admin loosens.
      if (!isAdmin(p)) {
        const asked: Partial<Record<RestrictableField, unknown>> = {};
        for (const f of given) asked[f] = next[f];
        const restrictions = t.restrictions ?? {};
        assertRestrictionsHold(restrictions, asked, await adminNames(restrictions));
      }
      // Restricting is always allowed (a narrow token may disable a broad, leaked one); anything
      // that widens the token must stay within the caller.
      const widens =
        given.some((f) => looserThan(f, next[f], before[f])) ||
        (after.group_id !== null && after.group_id !== t.group_id) ||
        (t.requires_login && !after.requires_login) ||
        (!t.allow_in_url && after.allow_in_url);
      if (widens) {
        assertWithinCaller(
          p,
          {
            ownerId: owner.id,
            ownerRole: owner.role,
            ownerGroupId: owner.group_id,
            scopes: after.scopes,
            groupId: after.group_id,
            expiresAt: after.expires_at,
          },
          { now, maxLifetimeDays: settings.max_lifetime_days },
        );
      }
      if (input.enabled !== undefined) patch.enabled = after.enabled;
      if (input.scopes !== undefined) patch.scopes = JSON.stringify(after.scopes);
      if (input.expires_at !== undefined) patch.expires_at = after.expires_at;
      if (input.requires_login !== undefined) patch.requires_login = after.requires_login;
      if (input.allow_in_url !== undefined) patch.allow_in_url = after.allow_in_url;
      if (input.allowed_ips !== undefined) patch.allowed_ips = JSON.stringify(after.allowed_ips);
      if (input.rate_limit_per_minute !== undefined)
        patch.rate_limit_per_minute = after.rate_limit_per_minute;
      if (input.group_id !== undefined) patch.group_id = after.group_id;
      const restrictions = restrictionsAfter(
        t.restrictions ?? {},
        p,
        isAdmin(p),
        t.owner_id,
        given,
        next,
        now,
      );
      if (JSON.stringify(restrictions) !== JSON.stringify(t.restrictions ?? {}))
        patch.restrictions = JSON.stringify(restrictions);
      const row = await db.transaction().execute(async (trx) => {
        const row = await repo.updateToken(trx, id, patch);
        if (!row) throw notFound(`token ${id}`);
        const action =
          as?.action ??
          (input.enabled === false && t.enabled
            ? 'token.disabled'
            : input.enabled === true && !t.enabled
              ? 'token.enabled'
              : 'token.updated');
        const fields = Object.keys(patch).filter((k) => k !== 'updated_at');
        await audit.record(trx, actorOf(request), {
          action,
          targetType: 'token',
          targetId: id,
          status: 200,
          summary:
            as?.summary ??
            `${action.split('.')[1]} token "${row.name}" of ${owner.username}: ${fields.join(', ')}`,
          details: { fields, ...(as?.details ?? {}) },
        });
        return row;
      });
      auth.invalidateToken(t.digest, t.previous_digest);
      return out(row, now);
    },

    async revoke(request: FastifyRequest, p: Principal, id: number) {
      assertMayManage(p);
      const t = await visible(p, id);
      if (t.revoked_at) return;
      const now = clock.now();
      await db.transaction().execute(async (trx) => {
        await repo.updateToken(trx, id, {
          revoked_at: now,
          revoked_reason: `revoked by ${p.username}`,
          updated_at: now,
        });
        await audit.record(trx, actorOf(request), {
          action: 'token.revoked',
          targetType: 'token',
          targetId: id,
          status: 204,
          summary: `revoked token "${t.name}"`,
        });
      });
      auth.invalidateToken(t.digest, t.previous_digest);
    },

    /**
     * Issues a new secret. The old one keeps working for `graceSeconds` (0 to 86,400), then dies.
     * `self` is the token refreshing itself, which needs no admin and no user-defined tokens.
     * A refresh never extends the token's life: `expiresAt` may only keep or shorten it, and the
     * result is clamped to the lifetime cap. Only the current secret refreshes.
     */
    async refresh(
      request: FastifyRequest,
      p: Principal,
      id: number,
      graceSeconds: number,
      expiresAt: string | null | undefined,
      self = false,
    ) {
      if (!self) assertMayManage(p);
      assertCurrentSecret(p);
      const t = self ? await repo.findTokenById(id) : await visible(p, id);
      if (!t) throw notFound(`token ${id}`);
      if (t.revoked_at) throw conflict('a revoked token cannot be refreshed; create a new one');
      const now = clock.now();
      const settings = deps.tokenSettings();
      if (t.expires_at && t.expires_at <= now) {
        throw conflict(
          'the token has expired: a refresh never extends a token; give it a new expires_at with PATCH first, or create a new token',
        );
      }
      let expires = t.expires_at;
      if (expiresAt === null && t.expires_at !== null) {
        throw badField(
          'body.expires_at',
          `cannot be null: the token expires at ${t.expires_at.toISOString()} and a refresh never extends it`,
        );
      }
      if (typeof expiresAt === 'string') {
        const at = new Date(expiresAt);
        if (at <= now) throw badField('body.expires_at', 'must be in the future');
        if (t.expires_at && at > t.expires_at) {
          throw badField(
            'body.expires_at',
            `must not be later than ${t.expires_at.toISOString()}: a refresh never extends a token`,
          );
        }
        expires = at;
      }
      const bound = lifetimeBound(p, { now, maxLifetimeDays: settings.max_lifetime_days });
      const cap =
        settings.max_lifetime_days === null
          ? null
          : new Date(now.getTime() + settings.max_lifetime_days * DAY_MS);
      if (cap !== null && (expires === null || expires > cap)) expires = cap;
      const owner = await repo.findUserById(t.owner_id);
      if (!owner) throw notFound(`token ${id}`);
      if (!self) {
        // A new secret for the whole token: the caller must cover all of it.
        if (bound !== null && (expires === null || expires > bound)) expires = bound;
        assertWithinCaller(
          p,
          {
            ownerId: owner.id,
            ownerRole: owner.role,
            ownerGroupId: owner.group_id,
            scopes: t.scopes,
            groupId: t.group_id,
            expiresAt: expires,
          },
          { now, maxLifetimeDays: settings.max_lifetime_days },
        );
      }
      const secret = issueSecret(t.kind === 'api_key' ? 'api_key' : 'api_token');
      const row = await db.transaction().execute(async (trx) => {
        const row = await repo.updateToken(trx, id, {
          digest: secret.digest,
          prefix: secret.prefix,
          last4: secret.last4,
          previous_digest: graceSeconds > 0 ? t.digest : null,
          previous_expires_at: graceSeconds > 0 ? new Date(now.getTime() + graceSeconds * 1000) : null,
          expires_at: expires,
          refreshed_at: now,
          updated_at: now,
        });
        if (!row) throw notFound(`token ${id}`);
        await audit.record(trx, actorOf(request), {
          action: 'token.refreshed',
          targetType: 'token',
          targetId: id,
          status: 200,
          summary: `${self ? 'token refreshed itself' : `refreshed token "${t.name}"`}; previous secret valid for ${graceSeconds} s`,
          details: { grace_seconds: graceSeconds, self, expires_at: expires?.toISOString() ?? null },
        });
        return row;
      });
      auth.invalidateToken(t.digest, t.previous_digest);
      return { ...(await out(row, now)), token: secret.token };
    },

    async activity(p: Principal, id: number, limit: number, offset: number) {
      await visible(p, id);
      await auth.flush();
      const [rows, count] = await Promise.all([repo.listActivity(id, limit, offset), repo.countActivity(id)]);
      return {
        count,
        results: rows.map((r) => ({
          id: r.id,
          at: new Date(r.at).toISOString(),
          method: r.method,
          path: r.path,
          status: r.status,
          ip: r.ip,
          request_id: r.request_id,
        })),
      };
    },

    async saveSettings(request: FastifyRequest, next: TokenSettings) {
      if (
        next.max_lifetime_days !== null &&
        next.default_lifetime_days !== null &&
        next.default_lifetime_days > next.max_lifetime_days
      ) {
        throw badField('body.default_lifetime_days', 'must not exceed max_lifetime_days');
      }
      if (next.max_lifetime_days !== null && next.default_lifetime_days === null) {
        throw badField(
          'body.default_lifetime_days',
          'must be set when max_lifetime_days caps token lifetimes',
        );
      }
      await db.transaction().execute(async (trx) => {
        await deps.settings.set(trx, TOKEN_SETTINGS_KEY, next, request.principal?.userId ?? null);
        await audit.record(trx, actorOf(request), {
          action: 'settings.api_tokens.updated',
          targetType: 'settings',
          targetId: TOKEN_SETTINGS_KEY,
          status: 200,
          summary: 'changed API token settings',
          details: { ...next },
        });
      });
      deps.settings.notifyChanged(TOKEN_SETTINGS_KEY, next);
      return next;
    },
  };
}

export type TokensService = ReturnType<typeof createTokensService>;
