// The credential invariant (DESIGN.md, "No credential reaches past its creator"; issue 13 §1).
// Every operation that creates, refreshes, re-enables or widens a credential (API token, per-user
// API key, session, password) describes the credential it would produce and asks
// `assertWithinCaller` before anything is written. The resulting credential's effective
// permissions, group and lifetime never exceed the caller's:
//
// - permissions: the owner's role narrowed by the scopes must be a subset of the caller's
//   effective permissions (role narrowed by the caller's token scopes);
// - group: a credential acts only in the group its owner belongs to;
// - lifetime: never past the lifetime cap, and never past the calling token's own expiry (a
//   password session is the user in person, so its bound is the cap alone);
// - a secret in its rotation grace period makes no credential at all: rotation must lock a
//   leaker out, so the replaced secret cannot mint, refresh or widen anything.
//
// "Admin restrictions stick" lives here too: what an admin set on someone else's token, only an
// admin loosens (`looserThan` tells whether a value is looser than a bound).

import type { Role, TokenRestrictions } from '../../db/schema.js';
import { AppError, badField } from '../../shared/app-error.js';
import type { Principal } from '../../shared/principal.js';
import { effectivePermissions } from '../identity/authenticator.js';
import { ipAllowed, parseCidr } from '../identity/ip-allow.js';

/**
 * What a route does to credentials, declared in its config so that the generated test
 * (test/routes/credential-invariant-matrix.test.ts) covers every such route:
 * - `issue`: answers a new secret (token create, API key, refresh, login);
 * - `change`: changes what an existing credential may do (token PATCH, narrow, password);
 * - `end`: only takes away (revoke, end a session, log out);
 * - `policy`: settings that bound every credential (token lifetimes).
 */
export type CredentialEffect = 'issue' | 'change' | 'end' | 'policy';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route creates, changes or ends a credential (see credential-policy.ts). */
    credential?: CredentialEffect;
  }
}

const DAY_MS = 86_400_000;

/** The credential an operation would produce. */
export interface ResultingCredential {
  ownerId: number;
  ownerRole: Role;
  /** The owner's group (users belong to at most one). */
  ownerGroupId: number | null;
  /** Token scopes; `null` or `['*']`: everything the owner's role allows (sessions, API keys). */
  scopes: readonly string[] | null;
  groupId: number | null;
  expiresAt: Date | null;
}

export interface PolicyContext {
  now: Date;
  /** The lifetime cap of the token settings (null: none). Sessions pass their own maximum. */
  maxLifetimeDays: number | null;
  /** Passwords have no expiry of their own (their sessions do): skip the lifetime rule. */
  lifetime?: false;
  /** Request fields to name in errors. */
  fields?: { scopes?: string; groupId?: string; expiresAt?: string };
}

/** The latest expiry the caller may give a credential it makes (null: no bound). */
export function lifetimeBound(caller: Principal, ctx: PolicyContext): Date | null {
  const cap =
    ctx.maxLifetimeDays === null ? null : new Date(ctx.now.getTime() + ctx.maxLifetimeDays * DAY_MS);
  const own = caller.method === 'session' ? null : (caller.expiresAt ?? null);
  if (cap === null) return own;
  if (own === null) return cap;
  return own < cap ? own : cap;
}

/** Refuses a replaced secret (in its grace period) any credential operation. */
export function assertCurrentSecret(caller: Principal) {
  if (caller.replacedSecret) {
    throw new AppError({
      code: 'forbidden',
      message:
        'this secret was replaced by a refresh and is only in its grace period: it cannot create, refresh or change credentials; use the current secret',
    });
  }
}

/** The one check every credential-creating or -widening operation goes through. */
export function assertWithinCaller(caller: Principal, result: ResultingCredential, ctx: PolicyContext) {
  assertCurrentSecret(caller);
  const granted = effectivePermissions(result.ownerRole, result.scopes);
  const beyond = [...granted].filter((p) => !caller.permissions.has(p)).sort();
  if (beyond.length) {
    throw new AppError({
      code: 'forbidden',
      message: `the resulting credential would have permissions this request's credential does not have: ${beyond.join(', ')}`,
      details: { exceeds: beyond },
    });
  }
  if (result.groupId !== null && result.groupId !== result.ownerGroupId) {
    throw badField(
      ctx.fields?.groupId ?? 'body.group_id',
      `the owner is not in group ${result.groupId}: a credential acts only in its owner's group`,
    );
  }
  const bound = ctx.lifetime === false ? null : lifetimeBound(caller, ctx);
  if (bound !== null) {
    const why =
      caller.method !== 'session' && caller.expiresAt && caller.expiresAt.getTime() === bound.getTime()
        ? `the credential making this request expires at ${bound.toISOString()}`
        : `tokens may live at most ${ctx.maxLifetimeDays} days`;
    if (result.expiresAt === null)
      throw badField(ctx.fields?.expiresAt ?? 'body.expires_at', `is required: ${why}`);
    if (result.expiresAt > bound)
      throw badField(
        ctx.fields?.expiresAt ?? 'body.expires_at',
        `must not be later than ${bound.toISOString()}: ${why}`,
      );
  }
}

export const RESTRICTABLE = [
  'enabled',
  'scopes',
  'expires_at',
  'allowed_ips',
  'rate_limit_per_minute',
] as const;
export type RestrictableField = (typeof RESTRICTABLE)[number];

/** Every address of block `inner` lies in block `outer`. */
function cidrWithin(inner: string, outer: string): boolean {
  const a = parseCidr(inner);
  const b = parseCidr(outer);
  if (!a || !b || a.family !== b.family || b.prefix > a.prefix) return false;
  return ipAllowed(a.address, [outer]);
}

/**
 * Whether `candidate` is looser than `bound` for a restrictable field. Values are as stored:
 * enabled boolean, scopes string[], expires_at Date | null, allowed_ips string[] (empty: any),
 * rate_limit_per_minute number | null (null: the default, treated as unlimited here).
 */
export function looserThan(field: RestrictableField, candidate: unknown, bound: unknown): boolean {
  switch (field) {
    case 'enabled':
      return bound === false && candidate === true;
    case 'scopes': {
      const b = new Set(bound as string[]);
      if (b.has('*')) return false;
      return (candidate as string[]).some((s) => !b.has(s));
    }
    case 'expires_at': {
      const b = bound === null || bound === undefined ? null : new Date(bound as string | Date);
      if (b === null) return false;
      const c = candidate === null || candidate === undefined ? null : new Date(candidate as string | Date);
      return c === null || c > b;
    }
    case 'allowed_ips': {
      const b = bound as string[];
      if (b.length === 0) return false;
      const c = candidate as string[];
      return c.length === 0 || c.some((e) => !b.some((o) => cidrWithin(e, o)));
    }
    case 'rate_limit_per_minute':
      if (bound === null || bound === undefined) return false;
      return candidate === null || candidate === undefined || (candidate as number) > (bound as number);
  }
}

/**
 * Refuses a non-admin change that loosens a field an admin restricted. The admin's value is the
 * bound: the owner may tighten further, and come back to it, but not go past it.
 */
export function assertRestrictionsHold(
  restrictions: TokenRestrictions,
  next: Partial<Record<RestrictableField, unknown>>,
  adminName: (id: number) => string,
) {
  for (const field of RESTRICTABLE) {
    const r = restrictions[field];
    if (!r || !(field in next)) continue;
    if (looserThan(field, next[field], r.value)) {
      throw new AppError({
        code: 'forbidden',
        message: `${field} was set by the admin ${adminName(r.set_by)} on ${r.set_at}; only an admin may loosen it`,
        details: { field: `body.${field}`, set_by: r.set_by },
      });
    }
  }
}
