// The HTTP conventions every module gets: errors, limits, content types, pagination, headers,
// the OpenAPI document.
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

describe('errors are problem documents, never 500s for client mistakes', () => {
  it('bad JSON is a 400 that says so', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/authentication/users/add/',
      headers: { ...(await t.adminHeaders()), 'content-type': 'application/json' },
      payload: '{"username": ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({
      status: 400,
      code: 'bad_request',
      detail: expect.stringContaining('JSON'),
    });
    expect(res.json().request_id).toBe(res.headers['x-request-id']);
  });

  it('an unknown field is a 400 naming it', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/authentication/users/add/',
      headers: await t.adminHeaders(),
      payload: { username: 'bob', password: 'Correct Horse Battery Staple', colour: 'blue' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([{ field: 'body.colour', message: 'unknown field "colour"' }]);
  });

  it('a nullable or enumerated field with a bad value is a 400 naming the types or the values', async () => {
    const headers = await t.adminHeaders();
    const rate = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/',
      headers,
      payload: { name: 'bad-rate', rate_limit_per_minute: 'abc' },
    });
    expect(rate.statusCode).toBe(400);
    expect(rate.json().errors).toEqual([
      { field: 'body.rate_limit_per_minute', message: 'must be a whole number or null' },
    ]);
    const role = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/authentication/users/1/',
      headers,
      payload: { role: 'root' },
    });
    expect(role.statusCode).toBe(400);
    expect(role.json().errors).toEqual([
      { field: 'body.role', message: 'must be one of "admin", "operator", "viewer"' },
    ]);
  });

  it('an oversized body is a 413', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/authentication/users/add/',
      headers: { ...(await t.adminHeaders()), 'content-type': 'application/json' },
      payload: JSON.stringify({ username: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('payload_too_large');
  });

  it('a wrong content type is a 415', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/',
      headers: { ...(await t.adminHeaders()), 'content-type': 'text/csv' },
      payload: 'a,b',
    });
    expect(res.statusCode).toBe(415);
    expect(res.json().code).toBe('unsupported_media_type');
  });

  it('only the routes that take uploads parse multipart forms; elsewhere a form is a 415', async () => {
    const boundary = 'StewardBoundary';
    const form = (fields: Record<string, string>) => ({
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: `${Object.entries(fields)
        .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
        .join('')}--${boundary}--\r\n`,
    });
    const admin = await t.adminHeaders();
    // A route beside the login form (a session of its own: were the form taken, it would end
    // it) and a settings route of the system module, whose upload routes take forms.
    const session = await t.login('admin', t.adminPassword);
    for (const [url, headers] of [
      ['/api/v1/auth/logout/', session],
      ['/api/v1/config/smtp/', admin],
    ] as const) {
      const f = form({ host: 'mail.example.com' });
      const res = await t.app.inject({ method: 'POST', url, ...f, headers: { ...headers, ...f.headers } });
      expect(res.statusCode, url).toBe(415);
      expect(res.json().code).toBe('unsupported_media_type');
    }
    // The routes that take forms still do (the seed's login form, the licence upload's form).
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token/',
      ...form({ username: 'nobody-here', password: 'not the password at all' }),
    });
    expect(login.statusCode).toBe(401);
    const f = form({ unrelated: 'x' });
    const licence = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/license/upload/',
      ...f,
      headers: { ...admin, ...f.headers },
    });
    expect(licence.statusCode).toBe(400);
    expect(licence.json().code).not.toBe('unsupported_media_type');
  });

  it('a page size over 100 is a 400 naming the parameter', async () => {
    const res = await t.app.inject({
      url: '/api/v1/authentication/users/?page_size=101',
      headers: await t.adminHeaders(),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].field).toBe('query.page_size');
    const lim = await t.app.inject({
      url: '/api/v1/authentication/users/?limit=101',
      headers: await t.adminHeaders(),
    });
    expect(lim.statusCode).toBe(400);
  });

  it('a wrong method is a 405 with Allow', async () => {
    const res = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/tokens/',
      headers: await t.adminHeaders(),
    });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toContain('GET');
    expect(res.headers.allow).toContain('POST');
  });

  it('an unknown path is a 404 problem', async () => {
    const res = await t.app.inject({ url: '/api/v1/nothing-here/' });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('not_found');
  });

  it('401 carries WWW-Authenticate', async () => {
    const res = await t.app.inject({ url: '/api/v1/authentication/users/' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toContain('Bearer');
  });

  it('two different credentials in one request are a 400', async () => {
    const a = await t.adminHeaders();
    const res = await t.app.inject({
      url: '/api/v1/auth/whoami/',
      headers: { ...a, 'x-auth-token': 'stws0000000000000000000000000000000000000' },
    });
    expect(res.statusCode).toBe(400);
  });
});

describe('headers and formats', () => {
  it('the trailing slash is optional', async () => {
    const a = await t.app.inject({ url: '/api/v1/auth/whoami', headers: await t.adminHeaders() });
    const b = await t.app.inject({ url: '/api/v1/auth/whoami/', headers: await t.adminHeaders() });
    expect(a.statusCode).toBe(200);
    expect(b.statusCode).toBe(200);
  });

  it('API responses are not cached and carry security headers and a request id', async () => {
    const res = await t.app.inject({
      url: '/api/v1/auth/whoami/',
      headers: { ...(await t.adminHeaders()), 'x-request-id': 'abc-123' },
    });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    // The OWASP REST Security Cheat Sheet set for APIs.
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-request-id']).toBe('abc-123');
    // Error responses carry them too.
    const refused = await t.app.inject({ url: '/api/v1/auth/whoami/' });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['x-content-type-options']).toBe('nosniff');
  });

  it('probes skip the browser security headers; pages get the full set, the docs page its own CSP', async () => {
    const probe = await t.app.inject({ url: '/healthz' });
    expect(probe.headers['x-request-id']).toBeDefined();
    expect(probe.headers['content-security-policy']).toBeUndefined();
    expect(probe.headers['x-frame-options']).toBeUndefined();
    const docs = await t.app.inject({ url: '/api/docs/' });
    expect(docs.statusCode).toBe(200);
    // Pages get helmet's full set.
    expect(docs.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(docs.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(docs.headers['cache-control']).toBeUndefined();
    expect(String(docs.headers['content-security-policy'])).toContain(
      "img-src 'self' data: validator.swagger.io",
    );
  });

  it('compresses with gzip and brotli when asked', async () => {
    for (const enc of ['gzip', 'br']) {
      const res = await t.app.inject({ url: '/api/v1/openapi.json', headers: { 'accept-encoding': enc } });
      expect(res.headers['content-encoding']).toBe(enc);
    }
    const res = await t.app.inject({ url: '/api/v1/openapi.json', headers: { 'accept-encoding': 'gzip' } });
    expect(JSON.parse(gunzipSync(res.rawPayload).toString()).openapi).toBe('3.1.0');
  });

  it('paginates with both styles, links and headers', async () => {
    for (let i = 0; i < 3; i++) await t.createUser('viewer');
    const h = await t.adminHeaders();
    const res = await t.app.inject({
      url: '/api/v1/authentication/users/?page=1&page_size=2',
      headers: { ...h, host: 'manager.example:8443' },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.count).toBeGreaterThanOrEqual(4);
    expect(body.results).toHaveLength(2);
    // No base_url and no allowed_hosts: path-only, never from the Host header (src/server/http/links.routes.test.ts).
    expect(body.next).toBe('/api/v1/authentication/users/?page=2&page_size=2');
    expect(body.previous).toBeNull();
    expect(res.headers.pagination_page_number).toBe('1');
    expect(res.headers.pagination_page_size).toBe('2');
    expect(res.headers['x-total-count']).toBe(String(body.count));
    expect(res.headers.link).toContain('rel="next"');
    const off = await t.app.inject({ url: '/api/v1/authentication/users/?limit=2&offset=2', headers: h });
    expect(off.json().previous).toContain('offset=0');
    expect(off.json().results[0].id).toBe(body.results[1].id + 1);
    const mixed = await t.app.inject({ url: '/api/v1/authentication/users/?limit=2&page=2', headers: h });
    expect(mixed.statusCode).toBe(400);
  });

  it('orders and searches, refusing unknown ordering fields', async () => {
    const h = await t.adminHeaders();
    const res = await t.app.inject({ url: '/api/v1/authentication/users/?ordering=-id', headers: h });
    const ids = res.json().results.map((u: { id: number }) => u.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const bad = await t.app.inject({
      url: '/api/v1/authentication/users/?ordering=password_hash',
      headers: h,
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('query.ordering');
    const s = await t.app.inject({ url: '/api/v1/authentication/users/?search=admi', headers: h });
    expect(s.json().results.map((u: { username: string }) => u.username)).toEqual(['admin']);
  });
});

describe('health, readiness, metrics', () => {
  it('answers /healthz, /readyz and /metrics', async () => {
    expect((await t.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await t.app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready', database: 'ok' });
    const m = await t.app.inject({ url: '/metrics' });
    expect(m.body).toContain('steward_http_requests_total');
    expect(m.body).toContain('steward_http_request_duration_seconds_bucket');
    expect(m.body).toContain('steward_db_pool_connections');
  });
});

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and every operation is documented with its permission, examples and errors', async () => {
    const doc = (await t.app.inject({ url: '/api/v1/openapi.json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    const ops = Object.entries(doc.paths as Record<string, Record<string, Record<string, unknown>>>).flatMap(
      ([p, item]) => Object.entries(item).map(([m, op]) => ({ where: `${m.toUpperCase()} ${p}`, op })),
    );
    expect(ops.length).toBeGreaterThan(20);
    const problems: string[] = [];
    for (const { where, op } of ops) {
      if (!op.summary) problems.push(`${where}: no summary`);
      if (!op.description) problems.push(`${where}: no description`);
      if (!op['x-required-permission']) problems.push(`${where}: no x-required-permission`);
      const responses = Object.keys((op.responses as object) ?? {});
      if (!responses.some((s) => s.startsWith('4'))) problems.push(`${where}: no error responses`);
      if (!JSON.stringify(op).includes('example')) problems.push(`${where}: no examples`);
    }
    expect(problems).toEqual([]);
  });

  it('every route under /api declares a permission, and every body rejects unknown fields', () => {
    const undeclared = t.app.routeTable.routes.filter((r) => r.url.startsWith('/api/v1') && !r.permission);
    expect(undeclared).toEqual([]);
  });

  it('serves YAML and the docs page', async () => {
    const y = await t.app.inject({ url: '/api/v1/openapi.yaml' });
    expect(y.body).toContain('openapi: 3.1.0');
    const page = await t.app.inject({ url: '/api/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('swagger');
  });
});
