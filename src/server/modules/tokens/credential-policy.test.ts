// The credential policy's pure parts: the permission, group and lifetime bounds, the replaced
// secret, and "looser than" for admin restrictions, as properties over generated values.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PERMISSIONS, type Permission, ROLE_PERMISSIONS, ROLES } from '../../../contract/permissions.js';
import { AppError } from '../../shared/app-error.js';
import type { Principal } from '../../shared/principal.js';
import { assertWithinCaller, lifetimeBound, looserThan } from './credential-policy.js';

const NOW = new Date('2026-12-04T12:00:00Z');
const DAY = 86_400_000;

function caller(perms: readonly string[], o: Partial<Principal> = {}): Principal {
  return {
    userId: 1,
    username: 'u',
    role: 'admin',
    permissions: new Set(perms as Permission[]),
    method: 'api_token',
    credentialSource: 'authorization_token',
    ...o,
  };
}

const refused = (f: () => void) => {
  try {
    f();
    return false;
  } catch (e) {
    if (e instanceof AppError) return true;
    throw e;
  }
};

describe('assertWithinCaller', () => {
  it('refuses exactly when the result has a permission the caller lacks', () => {
    fc.assert(
      fc.property(
        fc.subarray([...PERMISSIONS]),
        fc.constantFrom(...ROLES),
        fc.subarray([...PERMISSIONS]),
        (callerPerms, ownerRole, scopes) => {
          const granted = [...ROLE_PERMISSIONS[ownerRole]].filter((p) => scopes.includes(p));
          const exceeds = granted.some((p) => !callerPerms.includes(p));
          const r = refused(() =>
            assertWithinCaller(
              caller(callerPerms),
              { ownerId: 2, ownerRole, ownerGroupId: null, scopes, groupId: null, expiresAt: null },
              { now: NOW, maxLifetimeDays: null },
            ),
          );
          expect(r).toBe(exceeds);
        },
      ),
    );
  });

  it("refuses a group other than the owner's", () => {
    const all = [...PERMISSIONS];
    const res = (groupId: number | null, ownerGroupId: number | null) =>
      refused(() =>
        assertWithinCaller(
          caller(all),
          { ownerId: 1, ownerRole: 'viewer', ownerGroupId, scopes: ['files:read'], groupId, expiresAt: null },
          { now: NOW, maxLifetimeDays: null },
        ),
      );
    expect(res(3, null)).toBe(true);
    expect(res(3, 4)).toBe(true);
    expect(res(3, 3)).toBe(false);
    expect(res(null, 3)).toBe(false);
  });

  it("bounds the lifetime by the calling token's expiry and the cap, not by a session's", () => {
    const tokenCaller = caller([...PERMISSIONS], { expiresAt: new Date(NOW.getTime() + 2 * DAY) });
    expect(lifetimeBound(tokenCaller, { now: NOW, maxLifetimeDays: 30 })).toEqual(
      new Date(NOW.getTime() + 2 * DAY),
    );
    expect(lifetimeBound(tokenCaller, { now: NOW, maxLifetimeDays: 1 })).toEqual(
      new Date(NOW.getTime() + DAY),
    );
    const session = caller([...PERMISSIONS], {
      method: 'session',
      expiresAt: new Date(NOW.getTime() + 3600_000),
    });
    expect(lifetimeBound(session, { now: NOW, maxLifetimeDays: null })).toBeNull();
    const result = (expiresAt: Date | null) => ({
      ownerId: 1,
      ownerRole: 'viewer' as const,
      ownerGroupId: null,
      scopes: ['files:read'],
      groupId: null,
      expiresAt,
    });
    const ctx = { now: NOW, maxLifetimeDays: null };
    expect(refused(() => assertWithinCaller(tokenCaller, result(null), ctx))).toBe(true);
    expect(
      refused(() => assertWithinCaller(tokenCaller, result(new Date(NOW.getTime() + 3 * DAY)), ctx)),
    ).toBe(true);
    expect(refused(() => assertWithinCaller(tokenCaller, result(new Date(NOW.getTime() + DAY)), ctx))).toBe(
      false,
    );
    expect(refused(() => assertWithinCaller(session, result(null), ctx))).toBe(false);
  });

  it('refuses a secret in its grace period whatever it asks', () => {
    expect(
      refused(() =>
        assertWithinCaller(
          caller([...PERMISSIONS], { replacedSecret: true }),
          {
            ownerId: 1,
            ownerRole: 'viewer',
            ownerGroupId: null,
            scopes: ['files:read'],
            groupId: null,
            expiresAt: null,
          },
          { now: NOW, maxLifetimeDays: null },
        ),
      ),
    ).toBe(true);
  });
});

describe('looserThan', () => {
  it('no value is looser than itself', () => {
    fc.assert(
      fc.property(fc.subarray([...PERMISSIONS]), (scopes) => {
        expect(looserThan('scopes', scopes, scopes)).toBe(false);
      }),
    );
    for (const v of [true, false]) expect(looserThan('enabled', v, v)).toBe(false);
    fc.assert(
      fc.property(fc.option(fc.integer({ min: 1, max: 1_000_000 })), (n) => {
        expect(looserThan('rate_limit_per_minute', n, n)).toBe(false);
      }),
    );
  });

  it('fewer scopes, a lower limit, an earlier expiry are never looser; more are', () => {
    fc.assert(
      fc.property(fc.subarray([...PERMISSIONS], { minLength: 1 }), fc.nat(), (scopes, k) => {
        const fewer = scopes.slice(0, k % scopes.length);
        expect(looserThan('scopes', fewer, scopes)).toBe(false);
        if (fewer.length < scopes.length) expect(looserThan('scopes', scopes, fewer)).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 }), (a, b) => {
        expect(looserThan('rate_limit_per_minute', a, b)).toBe(a > b);
        expect(looserThan('rate_limit_per_minute', null, b)).toBe(true);
        const da = new Date(NOW.getTime() + a * DAY);
        const db = new Date(NOW.getTime() + b * DAY);
        expect(looserThan('expires_at', da, db.toISOString())).toBe(a > b);
        expect(looserThan('expires_at', null, db.toISOString())).toBe(true);
      }),
    );
  });

  it('an IP list is looser unless every block lies inside one of the bound', () => {
    expect(looserThan('allowed_ips', ['192.0.2.7'], ['192.0.2.0/24'])).toBe(false);
    expect(looserThan('allowed_ips', ['192.0.2.128/25'], ['192.0.2.0/24'])).toBe(false);
    expect(looserThan('allowed_ips', ['192.0.2.0/23'], ['192.0.2.0/24'])).toBe(true);
    expect(looserThan('allowed_ips', ['198.51.100.1'], ['192.0.2.0/24'])).toBe(true);
    expect(looserThan('allowed_ips', [], ['192.0.2.0/24'])).toBe(true);
    expect(looserThan('allowed_ips', ['0.0.0.0/0'], ['192.0.2.0/24'])).toBe(true);
    expect(looserThan('allowed_ips', ['2001:db8::1'], ['2001:db8::/32'])).toBe(false);
    expect(looserThan('allowed_ips', ['2001:db8::1'], ['192.0.2.0/24'])).toBe(true);
    expect(looserThan('allowed_ips', ['198.51.100.1'], [])).toBe(false);
  });
});
