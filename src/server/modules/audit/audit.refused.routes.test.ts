// The audit safety net and refused requests: a refused credential (unknown, malformed, expired,
// revoked, a stale session cookie) is `auth.refused` with the reason, on reads too; a request
// that carried no credential at all refused none, so a read of it leaves no record (the console's
// sign-in page asks whoami on every visit) and a mutation its `request.<method>` record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

/** The audit records of one request, by the request id the response carries. */
function recordsOf(requestId: string) {
  return t.db
    .selectFrom('audit_log')
    .select(['action', 'outcome', 'status', 'path', 'details'])
    .where('request_id', '=', requestId)
    .execute();
}

/** Sends a request and returns its status and request id. */
async function send(
  url: string,
  headers: Record<string, string> = {},
  method: 'GET' | 'POST' = 'GET',
): Promise<{ status: number; id: string }> {
  const res = await t.app.inject({ method, url, headers, ...(method === 'POST' ? { payload: {} } : {}) });
  return { status: res.statusCode, id: String(res.headers['x-request-id']) };
}

/** Waits until the request's record is written (the hook writes after the response has gone). */
async function recordOf(requestId: string) {
  await expect.poll(async () => (await recordsOf(requestId)).length).toBe(1);
  return (await recordsOf(requestId))[0];
}

describe('refused requests in the audit log', () => {
  it('records no read that carried no credential, yet records a refused one after it', async () => {
    const anonymous = await send('/api/v1/auth/whoami/');
    const anonymousList = await send('/api/v1/appliances/');
    const emptyCookie = await send('/api/v1/auth/whoami/', { cookie: 'steward_session=' });
    expect([anonymous.status, anonymousList.status, emptyCookie.status]).toEqual([401, 401, 401]);
    // A fence: a refused credential sent after them is recorded; by then theirs would be too.
    const fence = await send('/api/v1/auth/whoami/', { authorization: 'Token not-a-real-token' });
    const fenced = await recordOf(fence.id);
    expect(fenced?.action).toBe('auth.refused');
    await new Promise((r) => setTimeout(r, 100));
    for (const r of [anonymous, anonymousList, emptyCookie]) expect(await recordsOf(r.id)).toEqual([]);
    const refusals = await t.db
      .selectFrom('audit_log')
      .select('request_id')
      .where('action', '=', 'auth.refused')
      .execute();
    expect(refusals.map((r) => r.request_id)).toEqual([fence.id]);
  });

  it('records every refused credential as auth.refused with its reason', async () => {
    const admin = await t.adminHeaders();
    const make = async (body: Record<string, unknown>) => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tokens/',
        headers: admin,
        payload: body,
      });
      expect(res.statusCode).toBe(201);
      return res.json() as { id: number; token: string };
    };
    const revoked = await make({ name: 'revoked-one', scopes: ['appliances:read'] });
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/tokens/${revoked.id}/`,
      headers: admin,
    });
    expect(del.statusCode).toBeLessThan(300);
    const expiring = await make({
      name: 'expiring-one',
      scopes: ['appliances:read'],
      expires_at: new Date(t.clock.now().getTime() + 60_000).toISOString(),
    });
    t.clock.advance(120_000);

    const cases: [string, Record<string, string>][] = [
      ['unknown token', { authorization: 'Token not-a-real-token' }],
      ['malformed header', { authorization: 'Basic YWRtaW46eA==' }],
      ['revoked token', { authorization: `Token ${revoked.token}` }],
      ['expired token', { authorization: `Token ${expiring.token}` }],
      ['stale session cookie', { cookie: 'steward_session=no-such-session' }],
      ['unknown Api-Key', { 'api-key': 'not-a-real-key' }],
    ];
    for (const [what, headers] of cases) {
      const r = await send('/api/v1/appliances/', headers);
      expect(r.status, what).toBe(401);
      const rec = await recordOf(r.id);
      expect(rec?.action, what).toBe('auth.refused');
      expect(rec?.outcome, what).toBe('denied');
      expect(rec?.path, what).toBe('/api/v1/appliances/');
      const reason = (rec?.details as { reason?: unknown } | undefined)?.reason;
      expect(typeof reason, what).toBe('string');
      expect(String(reason).length, what).toBeGreaterThan(0);
    }
  });

  it('records a mutation without a credential as the request, not as a refused credential', async () => {
    const r = await send('/api/v1/tokens/', {}, 'POST');
    expect(r.status).toBe(401);
    const rec = await recordOf(r.id);
    expect(rec).toMatchObject({
      action: 'request.post',
      outcome: 'denied',
      status: 401,
      path: '/api/v1/tokens/',
      details: { reason: 'no credential' },
    });
  });

  it('still records a permission denial on a read', async () => {
    const viewer = await t.headersFor('viewer');
    const r = await send('/api/v1/audit/', viewer);
    expect(r.status).toBe(403);
    const rec = await recordOf(r.id);
    expect(rec?.action).toBe('auth.permission_denied');
  });
});
