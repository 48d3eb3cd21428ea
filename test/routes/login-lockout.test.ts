// The login lockout (docs/authentication.md, "Brute force"): failures count per account and
// source, a stranger cannot lock anyone out from another address, the account is locked for
// everyone only past a higher threshold across sources, an admin unlocks, and unknown users
// are answered exactly like known ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LOCKOUT_ACCOUNT_FAILURES,
  LOCKOUT_SOURCE_FAILURES,
} from '../../src/server/modules/identity/lockout.js';
import { createTestContext, TEST_PASSWORD, type TestContext } from '../helpers/app.js';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

const MIN = 60_000;
const WRONG = 'Wrong Password Here!';
let net = 0;

/** A fresh /24 per test, so tests do not share sources. */
function addresses() {
  net += 1;
  return (host: number) => `10.${net}.0.${host}`;
}

const attempt = (username: string, password: string, remoteAddress: string) =>
  t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/token/',
    remoteAddress,
    payload: { username, password },
  });

async function login(username: string, remoteAddress: string) {
  const res = await attempt(username, TEST_PASSWORD, remoteAddress);
  if (res.statusCode === 200) t.secrets.add(res.json().token);
  return res;
}

const strip = (body: Record<string, unknown>) => ({ ...body, request_id: undefined });

describe('failed logins from one source', () => {
  it("lock that source out of the account, not the account's owner elsewhere (the admin's included)", async () => {
    const ip = addresses();
    for (let i = 0; i < LOCKOUT_SOURCE_FAILURES; i++)
      expect((await attempt('admin', WRONG, ip(66))).statusCode).toBe(401);
    const locked = await attempt('admin', TEST_PASSWORD, ip(66));
    expect(locked.statusCode).toBe(423);
    expect(locked.json().detail).toContain('from your address');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
    // The admin, at their own desk, is not locked out by the stranger.
    expect((await login('admin', ip(1))).statusCode).toBe(200);
    // The stranger's further tries are refused unchecked, whatever they send.
    expect((await attempt('admin', WRONG, ip(66))).statusCode).toBe(423);
    t.clock.advance(16 * MIN);
    expect((await login('admin', ip(66))).statusCode).toBe(200);
  });

  it('a success from a source clears that source only', async () => {
    const ip = addresses();
    const u = await t.createUser('viewer');
    for (let i = 0; i < LOCKOUT_SOURCE_FAILURES - 1; i++) await attempt(u.username, WRONG, ip(1));
    expect((await login(u.username, ip(1))).statusCode).toBe(200);
    for (let i = 0; i < LOCKOUT_SOURCE_FAILURES - 1; i++)
      expect((await attempt(u.username, WRONG, ip(1))).statusCode).toBe(401);
    expect((await login(u.username, ip(1))).statusCode).toBe(200);
    t.clock.advance(16 * MIN);
  });

  it('an IPv6 client is one source with its whole /64', async () => {
    const u = await t.createUser('viewer');
    for (let i = 1; i <= LOCKOUT_SOURCE_FAILURES; i++) await attempt(u.username, WRONG, `2001:db8:7:7::${i}`);
    expect((await attempt(u.username, TEST_PASSWORD, '2001:db8:7:7::abcd')).statusCode).toBe(423);
    expect((await login(u.username, '2001:db8:7:8::1')).statusCode).toBe(200);
    t.clock.advance(16 * MIN);
  });
});

describe('failed logins from many sources', () => {
  it(`lock the account for everyone after ${LOCKOUT_ACCOUNT_FAILURES}, for 15 minutes`, async () => {
    const ip = addresses();
    const u = await t.createUser('operator');
    const sources = Math.ceil(LOCKOUT_ACCOUNT_FAILURES / LOCKOUT_SOURCE_FAILURES);
    // Locked sources keep trying; their refused tries are not counted.
    for (let s = 0; s < sources - 1; s++)
      for (let i = 0; i < LOCKOUT_SOURCE_FAILURES + 2; i++) await attempt(u.username, WRONG, ip(10 + s));
    expect((await login(u.username, ip(1))).statusCode).toBe(200);
    for (let i = 0; i < LOCKOUT_SOURCE_FAILURES; i++) await attempt(u.username, WRONG, ip(99));
    const locked = await login(u.username, ip(2));
    expect(locked.statusCode).toBe(423);
    expect(locked.json().detail).toContain('from many addresses');
    const audit = await t.app.inject({
      url: `/api/v1/audit/?action=auth.login_locked&username=${u.username}&limit=1`,
      headers: await t.adminHeaders(),
    });
    expect(audit.json().results[0].details).toMatchObject({ lock_scope: 'account' });
    // An admin lifts it at once (it would end by itself after 15 minutes: see lockout.test.ts).
    const unlock = await t.app.inject({
      method: 'POST',
      url: `/api/v1/authentication/users/${u.id}/unlock/`,
      headers: await t.adminHeaders(),
    });
    expect(unlock.statusCode).toBe(200);
    expect((await login(u.username, ip(2))).statusCode).toBe(200);
  });
});

describe('POST /api/v1/authentication/users/{id}/unlock/', () => {
  it('an admin unlocks a locked source; audited; operators and viewers cannot', async () => {
    const ip = addresses();
    const u = await t.createUser('viewer');
    for (let i = 0; i < LOCKOUT_SOURCE_FAILURES; i++) await attempt(u.username, WRONG, ip(1));
    expect((await attempt(u.username, TEST_PASSWORD, ip(1))).statusCode).toBe(423);
    for (const role of ['operator', 'viewer'] as const) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/api/v1/authentication/users/${u.id}/unlock/`,
        headers: await t.headersFor(role),
      });
      expect(res.statusCode, role).toBe(403);
    }
    expect((await attempt(u.username, TEST_PASSWORD, ip(1))).statusCode).toBe(423);
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/authentication/users/${u.id}/unlock/`,
      headers: await t.adminHeaders(),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ cleared_failures: LOCKOUT_SOURCE_FAILURES });
    expect((await login(u.username, ip(1))).statusCode).toBe(200);
    const audit = await t.app.inject({
      url: `/api/v1/audit/?action=user.unlocked&target_id=${u.id}`,
      headers: await t.adminHeaders(),
    });
    expect(audit.json().results[0]).toMatchObject({
      action: 'user.unlocked',
      outcome: 'success',
      user_id: 1,
    });
    const missing = await t.app.inject({
      method: 'POST',
      url: '/api/v1/authentication/users/999999/unlock/',
      headers: await t.adminHeaders(),
    });
    expect(missing.statusCode).toBe(404);
  });
});

describe('no user enumeration', () => {
  it('an unknown user is counted, locked and answered exactly like a known one', async () => {
    const ip = addresses();
    const known = await t.createUser('viewer');
    const unknown = `nobody-${known.username}`;
    for (let i = 0; i <= LOCKOUT_SOURCE_FAILURES + 1; i++) {
      const a = await attempt(known.username, WRONG, ip(1));
      const b = await attempt(unknown, WRONG, ip(1));
      expect(b.statusCode, `attempt ${i + 1}`).toBe(a.statusCode);
      expect(strip(b.json())).toEqual(strip(a.json()));
      expect(b.headers['retry-after']).toBe(a.headers['retry-after']);
    }
    t.clock.advance(16 * MIN);
  });

  it('an unknown user costs about the same time as a wrong password', async () => {
    const ip = addresses();
    const known = await t.createUser('viewer');
    const time = async (username: string, host: number) => {
      const start = performance.now();
      expect((await attempt(username, WRONG, ip(host))).statusCode).toBe(401);
      return performance.now() - start;
    };
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < 5; i++) {
      a.push(await time(known.username, 10 + i));
      b.push(await time(`nobody-${known.username}`, 20 + i));
    }
    // Both verify an Argon2id hash; the ratio bound is loose for shared, busy machines.
    expect(median(b) / median(a)).toBeGreaterThan(0.33);
    expect(median(b) / median(a)).toBeLessThan(3);
  });
});

describe('API-only users', () => {
  it('get the same 401 as anyone for a wrong (or no) password, and 403 only after the correct one', async () => {
    const ip = addresses();
    const noPassword = await t.createUser('viewer', { api_only: true });
    const unknown = await attempt(`nobody-${noPassword.username}`, TEST_PASSWORD, ip(1));
    const a = await attempt(noPassword.username, TEST_PASSWORD, ip(1));
    expect(a.statusCode).toBe(401);
    expect(strip(a.json())).toEqual(strip(unknown.json()));
    // A user who had a password before becoming API-only.
    const former = await t.createUser('viewer');
    const patch = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/authentication/users/${former.id}/`,
      headers: await t.adminHeaders(),
      payload: { api_only: true },
    });
    expect(patch.statusCode).toBe(200);
    const wrong = await attempt(former.username, WRONG, ip(2));
    expect(wrong.statusCode).toBe(401);
    expect(strip(wrong.json())).toEqual(
      strip((await attempt(`nobody-${former.username}`, WRONG, ip(2))).json()),
    );
    const right = await attempt(former.username, TEST_PASSWORD, ip(3));
    expect(right.statusCode).toBe(403);
    expect(right.json().detail).toContain('API-only');
    const audit = await t.app.inject({
      url: `/api/v1/audit/?action=auth.login_refused&username=${former.username}&limit=1`,
      headers: await t.adminHeaders(),
    });
    expect(audit.json().results[0]).toMatchObject({ status: 403, outcome: 'denied' });
  });
});

describe('no issued secret in the logs of this file', () => {
  it('scans every log line', () => {
    const haystack = t.logs.join('\n');
    expect([...t.secrets].filter((s) => haystack.includes(s))).toEqual([]);
  });
});
