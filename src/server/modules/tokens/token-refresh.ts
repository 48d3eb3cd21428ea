// Rotating a token's secret. The new secret is shown once; the old one keeps working for a
// chosen grace period (0 to 86,400 s), so a script can switch without downtime. A refresh never
// extends a token (token-rules.ts `refreshedExpiry`), and only the current secret refreshes.

import { issueSecret } from '../../../contract/token-codec.js';
import type { Transactor } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { conflict, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { Principal } from '../../shared/principal.js';
import type { AuditService } from '../audit/audit.service.js';
import type { AuthenticatorService } from '../identity/authenticator.js';
import type { IdentityRepo } from '../identity/identity.repo.js';
import { assertCurrentSecret, assertWithinCaller, lifetimeBound } from './credential-policy.js';
import type { TokenAccess } from './token-access.js';
import { refreshedExpiry, type TokenSettings } from './token-rules.js';

export interface TokenRefreshDeps {
  tx: Transactor;
  repo: IdentityRepo;
  audit: AuditService;
  clock: Clock;
  auth: AuthenticatorService;
  tokenSettings: () => TokenSettings;
  access: TokenAccess;
}

export function createTokenRefresh(deps: TokenRefreshDeps) {
  const { repo, audit, clock, auth, access } = deps;

  /**
   * Issues a new secret. The old one keeps working for `graceSeconds` (0 to 86,400), then dies.
   * `self` is the token refreshing itself, which needs no admin and no user-defined tokens.
   * A refresh never extends the token's life: `expiresAt` may only keep or shorten it, and the
   * result is clamped to the lifetime cap. Only the current secret refreshes.
   */
  return async function refresh(
    actor: Actor,
    p: Principal,
    id: number,
    graceSeconds: number,
    expiresAt: string | null | undefined,
    self = false,
  ) {
    if (!self) access.assertMayManage(p);
    assertCurrentSecret(p);
    const t = self ? await repo.findTokenById(id) : await access.visible(p, id);
    if (!t) throw notFound(`token ${id}`);
    if (t.revoked_at) throw conflict('a revoked token cannot be refreshed; create a new one');
    const now = clock.now();
    const settings = deps.tokenSettings();
    let expires = refreshedExpiry(t, expiresAt, settings, now);
    const bound = lifetimeBound(p, { now, maxLifetimeDays: settings.max_lifetime_days });
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
    const row = await deps.tx.transaction(async (trx) => {
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
      await audit.record(trx, actor, {
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
    return { ...(await access.out(row, now)), token: secret.token };
  };
}
