// Authentication edges (issue 13, sections 3 and 4): tokens in the URL under any spelling of the
// key never reach the log, two credentials in one request are a 400 (also over a real socket,
// where Node itself folds or drops duplicate headers), and what API-only users are answered.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, TEST_PASSWORD, type TestContext } from '../helpers/app.js';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

async function makeToken(body: Record<string, unknown>) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/tokens/',
    headers: await t.adminHeaders(),
    payload: body,
  });
  expect(res.statusCode, res.body).toBe(201);
  const token = res.json().token as string;
  t.secrets.add(token);
  return token;
}

async function allowTokensInUrl(on: boolean) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/config/api_tokens/',
    headers: await t.adminHeaders(),
    payload: {
      user_defined_tokens: false,
      max_lifetime_days: null,
      default_lifetime_days: 90,
      default_rate_limit_per_minute: 600,
      allow_tokens_in_url: on,
    },
  });
  expect(res.statusCode, res.body).toBe(200);
}

describe('a token in the URL never reaches the log, whatever the spelling of its key', () => {
  it('masks the token after decoding the key (%74oken, tok%65n), and in refused forms', async () => {
    await allowTokensInUrl(true);
    const token = await makeToken({ name: 'url-spellings', scopes: ['users:read'], allow_in_url: true });
    // The spellings Fastify decodes to `token`: they authenticate, so they must be masked.
    for (const key of ['token', '%74oken', 'tok%65n', '%74%6F%6B%65%6E']) {
      const before = t.logs.length;
      const res = await t.app.inject({ url: `/api/v1/auth/whoami/?${key}=${token}` });
      expect(res.statusCode, key).toBe(200);
      const written = t.logs.slice(before).join('');
      expect(written, key).toContain('[REDACTED]');
      expect(written.includes(token), `${key} leaked the token into the log`).toBe(false);
    }
    // Forms that do not authenticate are still never logged in clear.
    for (const query of [
      `token[]=${token}`,
      `token[0]=${token}`,
      `a=1;token=${token}`,
      `a=1&%74oken[]=${token}`,
      `TOKEN=${token}`,
      `api_key=${token}`,
      `password=${token}`,
      `x=${encodeURIComponent(token)}`,
      `${token}=1`,
      `${token}`,
      `search=${token}`,
      `x=${token.slice(0, 10)}%${token.charCodeAt(10).toString(16)}${token.slice(11)}`,
    ]) {
      const before = t.logs.length;
      await t.app.inject({ url: `/api/v1/auth/whoami/?${query}` });
      await t.app.inject({ url: `/api/v1/authentication/users/?${query}`, headers: await t.adminHeaders() });
      const written = t.logs.slice(before).join('');
      expect(written.length, query).toBeGreaterThan(0);
      expect(written.includes(token), `${query} leaked the token into the log`).toBe(false);
    }
    // A token in a path segment (a mistake, answered 404) is masked by its shape.
    const before = t.logs.length;
    await t.app.inject({ url: `/api/v1/auth/whoami;token=${token}/` });
    await t.app.inject({ url: `/api/v1/${token}/` });
    expect(t.logs.slice(before).join('').includes(token)).toBe(false);
    await allowTokensInUrl(false);
  });

  it('keeps the rest of the URL readable', async () => {
    const before = t.logs.length;
    await t.app.inject({
      url: '/api/v1/authentication/users/?search=ab%20c&page=2',
      headers: await t.adminHeaders(),
    });
    const written = t.logs.slice(before).join('');
    expect(written).toContain('/api/v1/authentication/users/?search=ab%20c&page=2');
  });
});

/** Sends a raw HTTP/1.1 request to the listening app and answers the status line's code. */
function rawStatus(port: number, lines: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (chunk) => {
      data += String(chunk);
    });
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    socket.on('error', reject);
    socket.write(`${[...lines, 'Host: 127.0.0.1', 'Connection: close'].join('\r\n')}\r\n\r\n`);
  });
}

describe('two credentials in one request are a 400', () => {
  const whoami = (headers: Record<string, string | string[]>) =>
    t.app.inject({ url: '/api/v1/auth/whoami/', headers });

  it('refuses a credential header sent twice, even when the first one is valid', async () => {
    const admin = (await t.adminHeaders()).authorization as string;
    const viewer = (await t.headersFor('viewer')).authorization as string;
    const token = viewer.replace(/^Token /, '');
    // Node keeps only the first Authorization header in request.headers and folds the others
    // into one comma-separated value; both would have let the first credential win.
    const repeated: Record<string, string[]>[] = [
      { authorization: [admin, viewer] },
      { authorization: [viewer, viewer] },
      { 'api-key': [token, token] },
      { 'x-token-id': [token, `${token}x`] },
      { 'x-auth-token': [admin.replace(/^Token /, ''), 'other'] },
    ];
    for (const headers of repeated) {
      const res = await whoami(headers);
      expect(res.statusCode, JSON.stringify(Object.keys(headers))).toBe(400);
      expect(res.json().detail).toContain('more than one credential');
    }
    // One of each still works, and the same secret in two places counts once (documented).
    expect((await whoami({ authorization: viewer })).statusCode).toBe(200);
    expect((await whoami({ authorization: viewer, 'api-key': token })).statusCode).toBe(200);
    // Another secret of the same shape (the last character changed; a token can end in `x`).
    const altered = `${token.slice(0, -1)}${token.endsWith('x') ? 'y' : 'x'}`;
    expect((await whoami({ authorization: viewer, 'api-key': altered })).statusCode).toBe(400);
  });

  it('refuses two session cookies, whichever comes first, and a token sent twice in the query', async () => {
    const session = (await t.login('admin', TEST_PASSWORD)).authorization?.replace(/^Token /, '') as string;
    const other = (await t.login('admin', TEST_PASSWORD)).authorization?.replace(/^Token /, '') as string;
    expect((await whoami({ cookie: `steward_session=${session}` })).statusCode).toBe(200);
    for (const cookie of [
      `steward_session=${session}; steward_session=${other}`,
      `steward_session=${session}; theme=dark; steward_session=${session}`,
      `steward_session=${other}; steward_session=not-a-session`,
    ]) {
      expect((await whoami({ cookie })).statusCode, cookie).toBe(400);
    }
    // Two Cookie header lines (as HTTP/2 sends them) are read together.
    expect(
      (await whoami({ cookie: [`steward_session=${session}`, `steward_session=${other}`] })).statusCode,
    ).toBe(400);
    const viewer = (await t.headersFor('viewer')).authorization?.replace(/^Token /, '') as string;
    const twice = await t.app.inject({ url: `/api/v1/auth/whoami/?token=${viewer}&token=${viewer}` });
    expect(twice.statusCode).toBe(400);
    // A malformed cookie is a refused credential, not a server error.
    expect((await whoami({ cookie: 'steward_session=%E0%A4%A' })).statusCode).toBe(401);
  });

  it('refuses two Authorization headers over a real socket (Node drops the second one)', async () => {
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (t.app.server.address() as { port: number }).port;
    const admin = (await t.adminHeaders()).authorization as string;
    const viewer = (await t.headersFor('viewer')).authorization as string;
    const get = 'GET /api/v1/auth/whoami/ HTTP/1.1';
    expect(await rawStatus(port, [get, `Authorization: ${admin}`])).toBe(200);
    expect(await rawStatus(port, [get, `Authorization: ${admin}`, `authorization: ${viewer}`])).toBe(400);
    expect(await rawStatus(port, [get, `Authorization: ${viewer}`, `Authorization: ${viewer}`])).toBe(400);
    expect(
      await rawStatus(port, [get, `Cookie: steward_session=${admin.slice(6)}`, 'Cookie: steward_session=x']),
    ).toBe(400);
  });

  it('does not stop anyone from logging in', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token/',
      headers: { authorization: ['Token a', 'Token b'] as unknown as string },
      payload: { username: 'admin', password: TEST_PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    t.secrets.add(res.json().token);
  });
});

describe('the audit log is for admins only', () => {
  it('operators and viewers are refused GET /api/v1/audit/, and cannot scope a token to audit:read', async () => {
    for (const role of ['operator', 'viewer'] as const) {
      const res = await t.app.inject({ url: '/api/v1/audit/', headers: await t.headersFor(role) });
      expect(res.statusCode, role).toBe(403);
      expect(res.json().detail).toContain('audit:read');
    }
    const op = await t.createUser('operator');
    const session = await t.login(op.username, TEST_PASSWORD);
    expect((await t.app.inject({ url: '/api/v1/audit/', headers: session })).statusCode).toBe(403);
    const whoami = await t.app.inject({ url: '/api/v1/auth/whoami/', headers: session });
    expect(whoami.json().permissions).not.toContain('audit:read');
    const scoped = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/',
      headers: await t.adminHeaders(),
      payload: { name: 'audit-reader', owner_id: op.id, scopes: ['audit:read'] },
    });
    expect(scoped.statusCode).toBe(400);
    expect(scoped.json().detail).toContain('audit:read');
    expect((await t.app.inject({ url: '/api/v1/audit/', headers: await t.adminHeaders() })).statusCode).toBe(
      200,
    );
  });
});

describe('login from another site is refused (login CSRF)', () => {
  const login = (
    headers: Record<string, string>,
    body = `{"username":"admin","password":"${TEST_PASSWORD}"}`,
  ) =>
    t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token/',
      // text/plain: what a cross-site HTML form can send without a preflight.
      headers: { host: 'manager.example:8443', 'content-type': 'text/plain', ...headers },
      payload: body,
    });

  it('refuses a cross-site or same-site page, and a foreign or malformed Origin, before checking the password', async () => {
    const refused: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      { 'sec-fetch-site': 'same-site', origin: 'https://other.manager.example' },
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { origin: 'http://manager.example:8443.evil.example' },
    ];
    for (const headers of refused) {
      const res = await login(headers);
      expect(res.statusCode, JSON.stringify(headers)).toBe(403);
      expect(res.json().detail).toContain("login from another site's page is refused");
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    // A wrong password from another site is the same 403: the page learns nothing of the account.
    const wrong = await login({ origin: 'https://evil.example' }, '{"username":"admin","password":"nope"}');
    expect(wrong.statusCode).toBe(403);
  });

  it("lets the console's own page, the browser's address bar and scripts log in", async () => {
    const allowed: Record<string, string>[] = [
      { 'sec-fetch-site': 'same-origin', origin: 'https://manager.example:8443' },
      // Behind a proxy that rewrites Host, the browser's own word that it is same-origin wins.
      { 'sec-fetch-site': 'same-origin', origin: 'https://steward.corp.example' },
      { 'sec-fetch-site': 'none' },
      { origin: 'https://manager.example:8443' },
      {},
    ];
    for (const headers of allowed) {
      const res = await login(headers);
      expect(res.statusCode, `${JSON.stringify(headers)} ${res.body}`).toBe(200);
      t.secrets.add(res.json().token);
      expect(res.headers['set-cookie']).toContain('steward_session=');
    }
  });
});

describe('no issued secret in the logs of this file', () => {
  it('scans every log line', () => {
    const haystack = t.logs.join('\n');
    expect([...t.secrets].filter((s) => haystack.includes(s))).toEqual([]);
  });
});
