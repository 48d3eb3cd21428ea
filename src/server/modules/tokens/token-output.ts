// How a token is shown: never its secret (prefix and last four only), with its status
// (`suspended` when its owner is disabled) and who restricted what.

import { maskSecret } from '../../../contract/token-codec.js';
import type { TokenRestrictions } from '../../db/schema.js';
import { tokenStatus } from '../identity/authenticator.js';
import type { TokenRow } from '../identity/identity.repo.js';
import { RESTRICTABLE } from './credential-policy.js';

/** Who is who, for the output: a token's owner and the admins who restricted it. */
export type UserNames = (id: number) => { username: string; is_active: boolean } | undefined;

function restrictionsOut(r: TokenRestrictions, names: UserNames) {
  const out: Record<string, { set_by: number; set_by_username: string | null; set_at: string }> = {};
  for (const f of RESTRICTABLE) {
    const e = r[f];
    if (e)
      out[f] = { set_by: e.set_by, set_by_username: names(e.set_by)?.username ?? null, set_at: e.set_at };
  }
  return out;
}

export function tokenOut(t: TokenRow, now: Date, names: UserNames = () => undefined) {
  const owner = names(t.owner_id);
  const ownerUsername = owner?.username;
  return {
    id: t.id,
    kind: t.kind,
    name: t.name,
    description: t.description,
    owner_id: t.owner_id,
    owner_username: ownerUsername ?? null,
    group_id: t.group_id,
    created_by: t.created_by,
    scopes: t.scopes,
    enabled: t.enabled,
    status: tokenStatus(t, now, owner?.is_active ?? true),
    expires_at: t.expires_at?.toISOString() ?? null,
    requires_login: t.requires_login,
    allow_in_url: t.allow_in_url,
    allowed_ips: t.allowed_ips,
    rate_limit_per_minute: t.rate_limit_per_minute,
    default_tags: t.default_tags,
    default_profile: t.default_profile,
    prefix: t.prefix,
    last4: t.last4,
    token_hint: maskSecret(t.prefix, t.last4),
    created_at: t.created_at.toISOString(),
    updated_at: t.updated_at.toISOString(),
    refreshed_at: t.refreshed_at?.toISOString() ?? null,
    previous_token_expires_at:
      t.previous_expires_at && t.previous_expires_at > now ? t.previous_expires_at.toISOString() : null,
    revoked_at: t.revoked_at?.toISOString() ?? null,
    last_used_at: t.last_used_at?.toISOString() ?? null,
    last_used_ip: t.last_used_ip,
    use_count: t.use_count,
    restrictions: restrictionsOut(t.restrictions ?? {}, names),
  };
}
