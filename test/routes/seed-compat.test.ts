// What the seeds' commands need from the HTTP layer (issue 14): JSON sent under another content
// type (curl -d, the InsightCloudSec script's text/plain) for token-authenticated requests and the
// login, never for the session cookie; the login's `session_id`; the seed's paths without /v1.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';

let t: TestContext;
let admin: Record<string, string>;
beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
});
afterAll(async () => {
  await t?.close();
});

const tokenNames = async () =>
  (await t.db.selectFrom('api_tokens').select('name').execute()).map((r) => r.name);

async function cookieSession() {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/token/',
    payload: { username: 'admin', password: t.adminPassword },
  });
  const token = res.json().token as string;
  t.secrets.add(token);
  return { cookie: `steward_session=${token}` };
}

describe('JSON under another content type', () => {
  it('curl -d (application/x-www-form-urlencoded) with a token: the JSON document is read as JSON', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/',
      headers: { ...admin, 'content-type': 'application/x-www-form-urlencoded' },
      payload: '{"name":"from-curl-d","scopes":["users:read"]}',
    });
    expect(res.statusCode, res.body).toBe(201);
    t.secrets.add(res.json().token);
    expect(res.json().scopes).toEqual(['users:read']);
  });

  it('text/plain with an Api-Key, x-auth-token or Bearer credential: read as JSON', async () => {
    const session = (admin.authorization as string).replace(/^Token /, '');
    const apiToken = ((await t.headersFor('admin')).authorization as string).replace(/^Token /, '');
    for (const [i, headers] of [
      { 'x-auth-token': session },
      { authorization: `Bearer ${session}` },
      { 'api-key': apiToken },
    ].entries()) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tokens/',
        headers: { ...headers, 'content-type': 'text/plain' },
        payload: JSON.stringify({ name: `text-plain-${i}` }),
      });
      expect(res.statusCode, res.body).toBe(201);
      t.secrets.add(res.json().token);
    }
  });

  it('a real urlencoded form is still a form; text/plain that is not JSON is a 415', async () => {
    const form = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/',
      headers: { ...admin, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'name=form-encoded',
    });
    expect(form.statusCode, form.body).toBe(201);
    t.secrets.add(form.json().token);
    const text = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/',
      headers: { ...admin, 'content-type': 'text/plain' },
      payload: 'name=plain',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().detail).toContain('application/json');
  });

  it('bad JSON and prototype poisoning under another type are 400s, as under application/json', async () => {
    for (const payload of ['{"name":', '{"name":"p","__proto__":{"admin":true}}']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tokens/',
        headers: { ...admin, 'content-type': 'text/plain' },
        payload,
      });
      expect(res.statusCode, payload).toBe(400);
    }
    expect(await tokenNames()).not.toContain('p');
  });

  it('a cross-site form post with the session cookie is refused, whatever it holds', async () => {
    const cookie = await cookieSession();
    // What an attacker's page can send without a preflight: the three form encodings, the
    // victim's cookie attached by the browser, no custom header.
    for (const [type, payload] of [
      ['text/plain', '{"name":"csrf-text","scopes":["users:write"]}'],
      ['application/x-www-form-urlencoded', '{"name":"csrf-form"}'],
      ['application/x-www-form-urlencoded', 'name=csrf-form2'],
    ] as const) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tokens/',
        headers: { ...cookie, 'content-type': type, origin: 'https://attacker.example' },
        payload,
      });
      expect(res.statusCode, `${type} ${payload}`).toBe(403);
    }
    expect((await tokenNames()).filter((n) => n.startsWith('csrf'))).toEqual([]);
  });

  it('the console session (cookie and CSRF header) keeps the strict rule: text/plain stays a 415', async () => {
    const cookie = { ...(await cookieSession()), 'x-requested-with': 'steward-console' };
    const text = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/',
      headers: { ...cookie, 'content-type': 'text/plain' },
      payload: '{"name":"console-text"}',
    });
    expect(text.statusCode).toBe(415);
    // A urlencoded body is a form for the console, as before: the JSON text is no field name.
    const form = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/',
      headers: { ...cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: '{"name":"console-form"}',
    });
    expect(form.statusCode).toBe(400);
    expect(await tokenNames()).not.toContain('console-text');
    expect(await tokenNames()).not.toContain('console-form');
  });
});

describe('the login as the InsightCloudSec script does it', () => {
  it('text/plain JSON logs in; the answer carries session_id, which works as x-auth-token', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token/',
      headers: { 'content-type': 'text/plain', accept: 'application/json' },
      payload: JSON.stringify({ username: 'admin', password: t.adminPassword }),
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    t.secrets.add(body.token);
    expect(body.session_id).toBe(body.token);
    const who = await t.app.inject({
      url: '/api/v1/auth/whoami/',
      headers: { 'x-auth-token': body.session_id, 'content-type': 'application/json;charset=UTF-8' },
    });
    expect(who.statusCode).toBe(200);
    expect(who.json().auth_method).toBe('session');
  });

  it('curl -d JSON (urlencoded) logs in too; a wrong password is still a 401', async () => {
    const ok = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token/',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: JSON.stringify({ username: 'admin', password: t.adminPassword }),
    });
    expect(ok.statusCode, ok.body).toBe(200);
    t.secrets.add(ok.json().token);
    const bad = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token/',
      headers: { 'content-type': 'text/plain' },
      payload: JSON.stringify({ username: 'admin', password: 'not the password at all' }),
    });
    expect(bad.statusCode).toBe(401);
  });

  it('the OpenAPI document describes session_id', async () => {
    const doc = (await t.app.inject({ url: '/api/v1/openapi.json' })).json();
    const schema = doc.paths['/api/v1/auth/token/'].post.responses['200'].content['application/json'].schema;
    const props = schema.properties ?? doc.components.schemas[schema.$ref.split('/').pop()].properties;
    expect(props.session_id.description).toContain('x-auth-token');
  });
});

describe('the seed paths without /v1', () => {
  it('GET /api/configuration/appliances answers as /api/v1/configuration/appliances/', async () => {
    const alias = await t.app.inject({ url: '/api/configuration/appliances', headers: admin });
    expect(alias.statusCode, alias.body).toBe(200);
    const canonical = await t.app.inject({ url: '/api/v1/configuration/appliances/', headers: admin });
    expect(alias.json()).toEqual(canonical.json());
    const query = await t.app.inject({ url: '/api/configuration/appliances/?page_size=5', headers: admin });
    expect(query.statusCode).toBe(200);
    expect(query.headers.pagination_page_size).toBe('5');
  });

  it('authentication, permissions and audit apply to the canonical route', async () => {
    expect((await t.app.inject({ url: '/api/configuration/appliances' })).statusCode).toBe(401);
    const viewer = await t.headersFor('viewer');
    const refused = await t.app.inject({
      method: 'POST',
      url: '/api/config-group/create/',
      headers: viewer,
      payload: { name: 'via-alias' },
    });
    expect(refused.statusCode).toBe(403);
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/config-group/create/',
      headers: admin,
      payload: { name: 'via-alias' },
    });
    expect(created.statusCode, created.body).toBe(201);
    // The refusal's record is written after the response has gone (audit.hooks.ts): wait for it.
    const rows = await vi.waitFor(async () => {
      const found = await t.db
        .selectFrom('audit_log')
        .select(['path', 'summary', 'status'])
        .where('path', 'like', '%config-group/create%')
        .execute();
      expect(found.length).toBeGreaterThanOrEqual(2);
      return found;
    });
    for (const r of rows) expect(r.path).toBe('/api/v1/config-group/create/');
  });

  it('paths that exist without /v1 stay; unknown ones are 404 and wrong methods 405 as usual', async () => {
    const status = await t.app.inject({
      method: 'POST',
      url: '/api/upgrade/status/',
      headers: admin,
      payload: { appliance_name: 'nope' },
    });
    expect(status.json().detail).not.toContain('no route');
    const missing = await t.app.inject({ url: '/api/no-such-thing/', headers: admin });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().detail).toContain('/api/no-such-thing/');
    const wrong = await t.app.inject({
      method: 'DELETE',
      url: '/api/configuration/appliances',
      headers: admin,
    });
    expect(wrong.statusCode).toBe(405);
  });

  it('the OpenAPI document lists each operation once, under /api/v1', async () => {
    const doc = (await t.app.inject({ url: '/api/v1/openapi.json' })).json();
    const paths = Object.keys(doc.paths);
    expect(paths).toContain('/api/v1/configuration/appliances/');
    expect(paths.filter((p) => p.startsWith('/api/') && !p.startsWith('/api/v1/'))).toEqual(
      paths.filter((p) => p.startsWith('/api/upgrade/')),
    );
  });
});
