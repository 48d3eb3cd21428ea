// Admin restrictions on tokens (issue 13 §1, "admin restrictions stick"): which fields an admin
// restricted on someone else's token, with the admin's value as the bound for everyone else.
// The check that holds non-admins to the bound is assertRestrictionsHold in credential-policy.ts.

import type { TokenRestrictions } from '../../db/schema.js';
import type { Principal } from '../../shared/principal.js';
import type { TokenRow } from '../identity/identity.repo.js';
import type { RestrictableField } from './credential-policy.js';

const ALL_SCOPES = '*';

/** The stored value of a restrictable field after a change. */
export function restrictable(row: Pick<TokenRow, RestrictableField>): Record<RestrictableField, unknown> {
  return {
    enabled: row.enabled,
    scopes: row.scopes,
    expires_at: row.expires_at,
    allowed_ips: row.allowed_ips,
    rate_limit_per_minute: row.rate_limit_per_minute,
  };
}

/** Whether a value of a field restricts anything (an admin's restriction is kept only then). */
export function restricts(field: RestrictableField, value: unknown): boolean {
  switch (field) {
    case 'enabled':
      return value === false;
    case 'scopes':
      return !(value as string[]).includes(ALL_SCOPES);
    case 'expires_at':
    case 'rate_limit_per_minute':
      return value !== null && value !== undefined;
    case 'allowed_ips':
      return (value as string[]).length > 0;
  }
}

/**
 * The restrictions after an admin set `fields` on someone else's token: the admin's value
 * becomes the bound, or the restriction goes when the admin lifts it.
 */
export function restrictionsAfter(
  current: TokenRestrictions,
  p: Principal,
  byAdmin: boolean,
  ownerId: number,
  fields: RestrictableField[],
  values: Record<RestrictableField, unknown>,
  now: Date,
): TokenRestrictions {
  if (!byAdmin || ownerId === p.userId) return current;
  const next: TokenRestrictions = { ...current };
  for (const f of fields) {
    const v = values[f];
    if (restricts(f, v))
      next[f] = {
        set_by: p.userId,
        set_at: now.toISOString(),
        value: v instanceof Date ? v.toISOString() : v,
      };
    else delete next[f];
  }
  return next;
}
