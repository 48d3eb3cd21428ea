// What API tokens may be, checked without the database: the token settings and their defaults,
// and the checks of what a create, a change or a refresh asks for (scopes, source addresses,
// expiry). The tokens service applies them; each failure names the field at fault (400) or says
// why the token cannot change (409).

import type { Permission } from '../../../contract/permissions.js';
import { isPermission, ROLE_PERMISSIONS } from '../../../contract/permissions.js';
import { badField, conflict } from '../../shared/app-error.js';
import type { Principal } from '../../shared/principal.js';
import type { TokenRow } from '../identity/identity.repo.js';
import { parseCidr } from '../identity/ip-allow.js';

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
export const DAY_MS = 86_400_000;

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

export function validateScopes(
  scopes: string[],
  ownerRole: keyof typeof ROLE_PERMISSIONS,
  creator: Principal,
): string[] {
  const unique = [...new Set(scopes)];
  const unknown = unique.filter((s) => !isPermission(s));
  if (unknown.length) throw badField('body.scopes', `unknown permission(s): ${unknown.join(', ')}`);
  const beyondRole = unique.filter((s) => !ROLE_PERMISSIONS[ownerRole].has(s as Permission));
  if (beyondRole.length) {
    throw badField('body.scopes', `the owner's role (${ownerRole}) does not have: ${beyondRole.join(', ')}`);
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

export function validateIps(ips: string[]): string[] {
  const bad = ips.filter((e) => !parseCidr(e));
  if (bad.length) throw badField('body.allowed_ips', `not an IP address or CIDR block: ${bad.join(', ')}`);
  return ips.map((e) => e.trim());
}

/** Tokens in the URL only where the settings allow them. */
export function assertUrlTokensAllowed(asked: boolean | undefined, settings: TokenSettings) {
  if (asked && !settings.allow_tokens_in_url) {
    throw badField(
      'body.allow_in_url',
      'tokens in the URL are turned off (config/api_tokens allow_tokens_in_url)',
    );
  }
}

/**
 * The expiry a create or change asks for. Without one, the default lifetime, but never past
 * what the caller may give (`bound`: the caller's own expiry or the cap).
 */
export function resolveExpiry(
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

/**
 * The expiry of a token after a refresh, before the caller's own bound: a refresh never extends
 * a token (`expiresAt` may only keep or shorten it), and the result is clamped to the cap.
 */
export function refreshedExpiry(
  t: TokenRow,
  expiresAt: string | null | undefined,
  settings: TokenSettings,
  now: Date,
): Date | null {
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
  const cap =
    settings.max_lifetime_days === null
      ? null
      : new Date(now.getTime() + settings.max_lifetime_days * DAY_MS);
  if (cap !== null && (expires === null || expires > cap)) expires = cap;
  return expires;
}

/** Settings that contradict themselves are refused before they are stored. */
export function checkTokenSettings(next: TokenSettings) {
  if (
    next.max_lifetime_days !== null &&
    next.default_lifetime_days !== null &&
    next.default_lifetime_days > next.max_lifetime_days
  ) {
    throw badField('body.default_lifetime_days', 'must not exceed max_lifetime_days');
  }
  if (next.max_lifetime_days !== null && next.default_lifetime_days === null) {
    throw badField('body.default_lifetime_days', 'must be set when max_lifetime_days caps token lifetimes');
  }
}
