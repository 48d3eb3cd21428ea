// List links (`next`, `previous`, `Link`) are built from base_url, or from a Host the admin listed
// in allowed_hosts, and are path-only otherwise: a Host header nobody vouched for never shows up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../test/helpers/app.js';

let t: TestContext;
let admin: Record<string, string>;
const LIST = '/api/v1/authentication/users/?page=1&page_size=1';

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
  for (let i = 0; i < 3; i++) await t.createUser('viewer');
});
afterAll(async () => {
  await t?.close();
});

const setNetwork = async (payload: Record<string, unknown>) => {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/config/network/', headers: admin, payload });
  expect(res.statusCode, res.body).toBe(200);
};

async function links(url: string, host: string) {
  const res = await t.app.inject({ url, headers: { ...admin, host } });
  expect(res.statusCode, res.body).toBe(200);
  return { next: res.json().next as string, link: String(res.headers.link) };
}

describe('list links', () => {
  it('are path-only without base_url and allowed_hosts, whatever the Host header says', async () => {
    const { next, link } = await links(LIST, 'evil.example:666');
    expect(next).toBe('/api/v1/authentication/users/?page=2&page_size=1');
    expect(link).toBe(`<${next}>; rel="next"`);
    const audit = await t.app.inject({
      url: '/api/v1/audit/?page_size=1',
      headers: { ...admin, host: 'evil.example' },
    });
    expect(audit.json().next).toMatch(/^\/api\/v1\/audit\/\?/);
  });

  it('use the request origin only for a Host listed in allowed_hosts', async () => {
    await setNetwork({ allowed_hosts: 'manager.example\n*.corp.example' });
    try {
      expect((await links(LIST, 'manager.example:8443')).next).toBe(
        'http://manager.example:8443/api/v1/authentication/users/?page=2&page_size=1',
      );
      expect((await links(LIST, 'm1.corp.example')).next).toMatch(/^http:\/\/m1\.corp\.example\/api\//);
      // Loopback always passes the Host check, but is not listed: no absolute link from it.
      const local = await links(LIST, 'localhost:666');
      expect(local.next).toMatch(/^\/api\//);
      expect(local.link).not.toContain('localhost');
    } finally {
      await setNetwork({ allowed_hosts: '' });
    }
  });

  it('use base_url when set, whatever the Host header or the request path says', async () => {
    await setNetwork({ base_url: 'https://c1000.example.com/steward' });
    try {
      const { next, link } = await links(LIST, 'evil.example:666');
      expect(next).toBe('https://c1000.example.com/steward/api/v1/authentication/users/?page=2&page_size=1');
      expect(link).not.toContain('evil');
      // A leading `//` (the router ignores duplicate slashes) must not become the link's host.
      const slashes = await links('//api/v1/authentication/users/?page=1&page_size=1', 'evil.example');
      expect(slashes.next).toBe(
        'https://c1000.example.com/steward/api/v1/authentication/users/?page=2&page_size=1',
      );
    } finally {
      await setNetwork({ base_url: '' });
    }
  });
});
