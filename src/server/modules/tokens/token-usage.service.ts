// Unused permissions (issue 13 §7): which of a token's scopes its requests used over a window,
// and narrowing a token to those. The counts come from the request log: every request made with
// a token is mapped to the permission its route requires (the route table's `permission`) and
// counted per hour in token_scope_usage, so the report is complete even for a busy token whose
// activity list is capped. Narrowing goes through the token update, so it follows the credential
// invariant and the admin restrictions like any other change, and is audited as token.narrowed.

import { ROLE_PERMISSIONS } from '../../../contract/permissions.js';
import type { Actor } from '../../shared/actor.js';
import { badField, conflict, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { Principal } from '../../shared/principal.js';
import type { AuthenticatorService } from '../identity/authenticator.js';
import type { IdentityRepo } from '../identity/identity.repo.js';
import { ALL_SCOPES, type TokensService } from './tokens.service.js';

const HOUR_MS = 3_600_000;
export const DEFAULT_USAGE_WINDOW = '30d';

/** `24h`, `7d`, `90d`: at most 3650 days. */
export function parseWindow(spec: string, field: string): { spec: string; ms: number } {
  const m = /^(\d{1,5})([hd])$/.exec(spec);
  const n = m ? Number(m[1]) : 0;
  const ms = m ? n * (m[2] === 'h' ? HOUR_MS : 24 * HOUR_MS) : 0;
  if (!m || n < 1 || ms > 3650 * 24 * HOUR_MS) {
    throw badField(field, 'must be a number of hours or days, such as 24h, 7d or 90d (at most 3650d)');
  }
  return { spec, ms };
}

export interface TokenUsageDeps {
  repo: IdentityRepo;
  clock: Clock;
  auth: AuthenticatorService;
  tokens: TokensService;
}

export function createTokenUsageService(deps: TokenUsageDeps) {
  const { repo, clock, auth, tokens } = deps;

  async function report(p: Principal, id: number, window: string) {
    const w = parseWindow(window, 'query.window');
    const token = await tokens.get(p, id);
    // What is still in memory counts too.
    await auth.flush();
    const now = clock.now();
    const since = new Date(now.getTime() - w.ms);
    const owner = await repo.findUserById(token.owner_id);
    if (!owner) throw notFound(`token ${id}`);
    const scopes = token.scopes.includes(ALL_SCOPES) ? [...ROLE_PERMISSIONS[owner.role]] : token.scopes;
    const rows = await repo.scopeUsage(id, since);
    const byPermission = new Map(rows.map((r) => [r.permission, r]));
    const created = new Date(token.created_at);
    const results = [...scopes].sort().map((permission) => {
      const r = byPermission.get(permission);
      return {
        permission,
        count: r ? Number(r.count) : 0,
        last_used_at: r?.last_at ? new Date(r.last_at).toISOString() : null,
      };
    });
    return {
      token_id: id,
      window,
      since: since.toISOString(),
      // The token's requests are known from its creation on: a window reaching further back
      // is no evidence that a scope is unused.
      observed_since: (created > since ? created : since).toISOString(),
      scopes: results,
      unused: results.filter((r) => r.count === 0).map((r) => r.permission),
    };
  }

  return {
    report,

    /** Reduces the token's scopes to those used in the window (plus `keep`). */
    async narrow(actor: Actor, p: Principal, id: number, window: string, keep: string[] = []) {
      const usage = await report(p, id, window);
      const token = await tokens.get(p, id);
      if (token.kind === 'api_key') {
        throw conflict(
          "an API key carries all of its owner's permissions and cannot be narrowed; create a scoped token with the permissions in `unused` left out, then revoke the key",
        );
      }
      if (token.revoked_at) throw conflict('a revoked token cannot be changed');
      const notHeld = keep.filter((s) => !token.scopes.includes(s));
      if (notHeld.length) {
        throw badField(
          'body.keep',
          `narrowing never adds scopes; the token does not have: ${notHeld.join(', ')}`,
        );
      }
      const used = new Set([...usage.scopes.filter((s) => s.count > 0).map((s) => s.permission), ...keep]);
      const kept = token.scopes.filter((s) => used.has(s));
      const removed = token.scopes.filter((s) => !used.has(s));
      if (kept.length === 0) {
        throw conflict(
          `the token used none of its scopes in the last ${window} (observed since ${usage.observed_since}); narrowing would leave it with no permission at all. ` +
            `Revoke it (DELETE /api/v1/tokens/${id}/) if it is no longer needed, or narrow over a longer window or with \`keep\``,
        );
      }
      if (removed.length === 0) return { token, kept, removed, window };
      const changed = await tokens.update(
        actor,
        p,
        id,
        { scopes: kept },
        {
          action: 'token.narrowed',
          summary: `narrowed token "${token.name}" to the scopes used in the last ${window}; removed ${removed.join(', ')}`,
          details: { window, removed, kept },
        },
      );
      return { token: changed, kept, removed, window };
    },
  };
}

export type TokenUsageService = ReturnType<typeof createTokenUsageService>;
