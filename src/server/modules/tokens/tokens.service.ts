// API tokens: named, scoped, expiring, rotatable credentials for scripts. The secret is shown
// once (at creation and at refresh) and stored only as a SHA-256 digest. Rotation keeps the
// previous secret alive for a chosen grace period, so a script can switch without downtime.
// The rules that need no database are in token-rules.ts, who sees which token in
// token-access.ts, and the refresh in token-refresh.ts.

import { ROLE_PERMISSIONS } from '../../../contract/permissions.js';
import { issueSecret } from '../../../contract/token-codec.js';
import type { Transactor } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { AppError, badField, conflict, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { Principal } from '../../shared/principal.js';
import type { AuditService } from '../audit/audit.service.js';
import type { AuthenticatorService } from '../identity/authenticator.js';
import type { IdentityRepo, TokenFilter } from '../identity/identity.repo.js';
import type { SettingsStore } from '../settings/settings.repo.js';
import {
  assertCurrentSecret,
  assertRestrictionsHold,
  assertWithinCaller,
  lifetimeBound,
  looserThan,
  RESTRICTABLE,
  type RestrictableField,
} from './credential-policy.js';
import { createTokenAccess } from './token-access.js';
import { tokenOut } from './token-output.js';
import { createTokenRefresh } from './token-refresh.js';
import { restrictable, restrictionsAfter } from './token-restrictions.js';
import {
  ALL_SCOPES,
  assertUrlTokensAllowed,
  checkTokenSettings,
  resolveExpiry,
  TOKEN_SETTINGS_KEY,
  type TokenInput,
  type TokenSettings,
  validateIps,
  validateScopes,
} from './token-rules.js';

export { tokenOut } from './token-output.js';
export {
  ALL_SCOPES,
  DEFAULT_TOKEN_SETTINGS,
  TOKEN_SETTINGS_KEY,
  type TokenInput,
  type TokenSettings,
} from './token-rules.js';

export interface TokensServiceDeps {
  tx: Transactor;
  repo: IdentityRepo;
  audit: AuditService;
  clock: Clock;
  auth: AuthenticatorService;
  settings: SettingsStore;
  tokenSettings: () => TokenSettings;
}

export function createTokensService(deps: TokensServiceDeps) {
  const { repo, audit, clock, auth } = deps;
  const access = createTokenAccess(deps);
  const { isAdmin, assertMayManage, visible, namesFor, out, adminNames } = access;

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
      actor: Actor,
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
      assertUrlTokensAllowed(input.allow_in_url, settings);
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
      const { row, revoked } = await deps.tx.transaction(async (trx) => {
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
        await audit.record(trx, actor, {
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
      actor: Actor,
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
        assertUrlTokensAllowed(input.allow_in_url, settings);
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
      const row = await deps.tx.transaction(async (trx) => {
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
        await audit.record(trx, actor, {
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

    async revoke(actor: Actor, p: Principal, id: number) {
      assertMayManage(p);
      const t = await visible(p, id);
      if (t.revoked_at) return;
      const now = clock.now();
      await deps.tx.transaction(async (trx) => {
        await repo.updateToken(trx, id, {
          revoked_at: now,
          revoked_reason: `revoked by ${p.username}`,
          updated_at: now,
        });
        await audit.record(trx, actor, {
          action: 'token.revoked',
          targetType: 'token',
          targetId: id,
          status: 204,
          summary: `revoked token "${t.name}"`,
        });
      });
      auth.invalidateToken(t.digest, t.previous_digest);
    },

    refresh: createTokenRefresh({ ...deps, access }),

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

    async saveSettings(actor: Actor, next: TokenSettings) {
      checkTokenSettings(next);
      await deps.tx.transaction(async (trx) => {
        await deps.settings.set(trx, TOKEN_SETTINGS_KEY, next, actor.principal?.userId ?? null);
        await audit.record(trx, actor, {
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
